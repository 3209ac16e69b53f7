"""Golden plans for the example fabric, and the properties every plan must have.

The example: three hypervisors (hv1, hv2 netdev; hv3 system with a VLAN subinterface), tenants
red and blue on the same subnet 10.0.0.0/24, each host with a VM of each tenant.
Regenerate the goldens after a deliberate change with NETFABRIC_REGEN_GOLDEN=1, then review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan, underlay

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
VARIANTS = {
    "vxlan": {},
    "gre": {"netfabric_overlay": "gre"},
    "vxlan_l2pop": {"netfabric_mode": "l2pop"},
}


def example(**fabric_vars):
    return copy.deepcopy(EXAMPLE["hosts"]), {**copy.deepcopy(EXAMPLE["fabric"]), **fabric_vars}


def plans(hosts, fabric):
    return plan.fabric_plan(plan.build(hosts, fabric))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_golden_plan(variant):
    got = plans(*example(**VARIANTS[variant]))
    golden = FIXTURES / f"plan_{variant}.json"
    if os.environ.get("NETFABRIC_REGEN_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(golden.read_text())


def test_plans_are_plain_json():
    got = plans(*example(netfabric_mode="l2pop"))
    assert json.loads(json.dumps(got)) == got


def test_plans_do_not_depend_on_inventory_order():
    hosts, fabric = example(netfabric_mode="l2pop")
    shuffled_hosts = dict(random.Random(7).sample(sorted(hosts.items()), len(hosts)))
    for host in shuffled_hosts.values():
        host["netfabric_ports"].reverse()
    fabric["netfabric_tenants"].reverse()
    assert plans(shuffled_hosts, fabric) == plans(*example(netfabric_mode="l2pop"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_limit_independence(variant):
    """hv2's plan from the inventory alone equals its plan in the whole-fabric run.

    Under --limit hv2 the other hosts' inventory variables are still there but no facts are;
    the planner never sees facts, so feeding it vars only must give the same answer.
    """
    hosts, fabric = example(**VARIANTS[variant])
    whole = plans(hosts, fabric)
    inventory_only = {name: {k: v for k, v in hv.items() if k.startswith("netfabric_")} for name, hv in hosts.items()}
    inventory_only["hv1"]["ansible_facts"] = {"default_ipv4": {"address": "192.0.2.99"}}
    alone = plan.host_plan(plan.build(inventory_only, fabric), "hv2")
    assert alone == whole["hv2"]


def test_learning_mode_has_no_l2pop_lines():
    flows = plans(*example())["hv1"]["flows"]["br-tun"]
    assert not [f for f in flows if f.startswith(("table=22", "table=20,priority=2", "table=1,priority=2"))]


def test_system_host_gets_subinterfaces_and_empty_br_phy():
    hv3 = plans(*example())["hv3"]
    assert hv3["vlan_subinterfaces"] == [{"name": "eth0.100", "kind": "vlan", "link": "eth0", "vlan_id": 100, "state": "up"}]
    assert hv3["ports"]["fabric"][2] == {"bridge": "br-phy", "owner": "netfabric", "ports": []}
    assert hv3["ports"]["provider_vlans"]["ports"] == []
    assert hv3["underlay"] == {"address": "172.31.0.3", "prefix": 24, "uplink": "eth0", "bridge": None, "mtu": 1500,
                               "links": [{"name": "eth0", "mtu": 1500}]}  # a plain NIC: ip link sets its MTU
    assert all("mtu_request" not in b for b in hv3["bridges"])
    assert {b["datapath_type"] for b in hv3["bridges"]} == {"system"}
    assert hv3["ovs_db"] == "unix:/run/openvswitch/db.sock"


def test_netdev_host_puts_uplink_and_provider_vlans_on_br_phy():
    hv1 = plans(*example())["hv1"]
    assert hv1["ports"]["fabric"][2] == {"bridge": "br-phy", "owner": "netfabric", "ports": [{"name": "uplink", "mtu_request": 1500}]}
    assert next(b for b in hv1["bridges"] if b["name"] == "br-phy")["mtu_request"] == 1500
    assert hv1["underlay"]["links"] == []  # OVS owns the uplink: never ip link
    assert hv1["ports"]["provider_vlans"]["bridge"] == "br-phy"
    assert [(p["name"], p.get("type"), p.get("tag")) for p in hv1["ports"]["provider_vlans"]["ports"]] == [
        ("vlan100", "internal", 100),
        ("vlan200", "internal", 200),
    ]
    assert hv1["vlan_subinterfaces"] == []
    assert hv1["underlay"]["bridge"] == "br-phy"


def test_uplink_mtu_is_requested_from_ovs_on_netdev_hosts_and_set_by_ip_link_elsewhere():
    assert underlay.uplink("uplink", 1600, netdev=True) == ([{"name": "uplink", "mtu_request": 1600}], [])
    assert underlay.uplink("eth0", 9000, netdev=False) == ([], [{"name": "eth0", "mtu": 9000}])


def test_underlay_mtu_reaches_the_uplink_and_br_phy():
    got = plans(*example(netfabric_underlay_mtu=1600))
    for name in ("hv1", "hv2"):  # netdev
        assert next(b for b in got[name]["bridges"] if b["name"] == "br-phy")["mtu_request"] == 1600
        assert {"name": "uplink", "mtu_request": 1600} in got[name]["ports"]["fabric"][2]["ports"]
        assert [b["name"] for b in got[name]["bridges"] if "mtu_request" in b] == ["br-phy"]  # br-int and br-tun hold no underlay
    assert got["hv3"]["underlay"]["links"] == [{"name": "eth0", "mtu": 1600}]
    assert all(got[name]["underlay"]["mtu"] == 1600 for name in got)


@pytest.mark.parametrize(("tenant_mtu", "expected"), [(None, {"red": 1450, "blue": 1400}), (1300, {"red": 1300, "blue": 1400})])
def test_every_tenant_port_requests_its_tenants_mtu(tenant_mtu, expected):
    """One rule: the tenant's `mtu`, else netfabric_tenant_mtu (default 1450); the plan's tenants list
    says it and every port the fabric puts on br-int requests it."""
    extra = {} if tenant_mtu is None else {"netfabric_tenant_mtu": tenant_mtu}
    for host_plan in plans(*example(**extra)).values():
        assert {t["name"]: t["mtu"] for t in host_plan["tenants"]} == expected
        ports = host_plan["ports"]["tenants"]["ports"]
        assert ports and all(p["mtu_request"] == expected[p["external_ids"]["netfabric_tenant"]] for p in ports)


def test_each_role_prunes_only_its_own_ports():
    """Every port set has its own owner, so one role's purge never removes another role's ports."""
    for host_plan in plans(*example(netfabric_overlay="gre")).values():
        sets = host_plan["ports"]["fabric"] + [host_plan["ports"][k] for k in ("tenants", "vxlan", "gre", "provider_vlans")]
        owners = {(s["bridge"], s["owner"]) for s in sets}
        assert len(owners) == len(sets)
        assert host_plan["ports"]["gre"]["owner"] != host_plan["ports"]["vxlan"]["owner"]


def test_vm_ports_carry_their_tenant_vlan():
    for host_plan in plans(*example()).values():
        vlan = {t["name"]: t["local_vlan"] for t in host_plan["tenants"]}
        vms = host_plan["ports"]["tenants"]["ports"]
        assert len(vms) == 2
        for vm in vms:
            assert vm["tag"] == vlan[vm["external_ids"]["netfabric_tenant"]]
        assert len(set(vlan.values())) == 2


def test_tunnel_ports_use_flow_keys_and_local_ip():
    hv2 = plans(*example())["hv2"]
    tunnels = hv2["ports"]["vxlan"]["ports"]
    assert [t["name"] for t in tunnels] == ["vxlan-ac1f0001", "vxlan-ac1f0003"]
    assert tunnels[0]["options"] == {"remote_ip": "172.31.0.1", "local_ip": "172.31.0.2", "key": "flow"}
    assert hv2["tunnels"][1] == {"name": "vxlan-ac1f0003", "peer": "hv3", "remote_ip": "172.31.0.3", "overlay": "vxlan"}


def test_fabric_wide_settings_reach_the_plan():
    hv1 = plans(*example(netfabric_flow_cookie="0x99", netfabric_state_dir="/var/lib/nf"))["hv1"]
    assert hv1["flow_cookie"] == 0x99
    assert hv1["state_dir"] == "/var/lib/nf"


def test_tenant_on_one_host_only_gets_no_flood_line():
    hosts, fabric = example()
    fabric["netfabric_tenants"].append({"name": "green", "tunnel_id": 3000})
    hosts["hv1"]["netfabric_ports"].append({"name": "tap-green-1", "tenant": "green"})
    hv1 = plans(hosts, fabric)["hv1"]
    green = next(t for t in hv1["tenants"] if t["name"] == "green")
    assert green["peers"] == []
    flows = hv1["flows"]["br-tun"]
    assert f"table=3,priority=1,tun_id=0xbb8,actions=push_vlan:0x8100,set_field:{0x1000 | green['local_vlan']}->vlan_vid,resubmit(,10)" in flows
    assert not [f for f in flows if f.startswith(f"table=21,priority=1,dl_vlan={green['local_vlan']},")]


def test_host_without_ports_has_bridges_but_no_tunnels():
    hosts, fabric = example()
    hosts["hv4"] = {"netfabric_underlay_ip": "172.31.0.4/24", "netfabric_uplink": "eth0"}
    result = plans(hosts, fabric)
    assert result["hv4"]["tunnels"] == [] and result["hv4"]["tenants"] == []
    assert [b["name"] for b in result["hv4"]["bridges"]] == ["br-int", "br-tun", "br-phy"]
    assert "hv4" not in {t["peer"] for t in result["hv1"]["tunnels"]}


# ---------------------------------------------------------------- provider-VLAN tenants


def provider_example(**fabric_vars):
    """red carried as 802.1Q VLAN 300 on the wire (every host netdev), blue stays on the overlay."""
    hosts, fabric = example(**fabric_vars)
    hosts["hv3"]["netfabric_datapath_type"] = "netdev"
    next(t for t in fabric["netfabric_tenants"] if t["name"] == "red")["provider_vlan"] = 300
    return hosts, fabric


def local_vlan(host_plan, tenant):
    return next(t["local_vlan"] for t in host_plan["tenants"] if t["name"] == tenant)


def test_every_plan_lists_the_three_flow_bridges():
    for variant in (example(), example(netfabric_overlay="gre"), provider_example()):
        for host_plan in plans(*variant).values():
            assert list(host_plan["flows"]) == ["br-tun", "br-int", "br-phy"]


@pytest.mark.parametrize("mode", ["learning", "l2pop"])
def test_provider_vlan_tenant_bypasses_br_tun(mode):
    result = plans(*provider_example(netfabric_mode=mode))
    for host_plan in result.values():
        red, blue = local_vlan(host_plan, "red"), local_vlan(host_plan, "blue")
        br_tun = host_plan["flows"]["br-tun"]
        assert not [f for f in br_tun if "tun_id=0x3e9" in f or "set_field:0x3e9->tun_id" in f or f"dl_vlan={red}," in f], br_tun
        # on br-int, red comes and goes through int-br-phy, blue through patch-tun
        br_int = host_plan["flows"]["br-int"]
        assert f"table=0,priority=10,in_port=65002,dl_vlan=300,actions=set_field:{0x1000 | red}->vlan_vid,resubmit(,1)" in br_int
        assert f"table=0,priority=10,in_port=65001,dl_vlan={blue},actions=resubmit(,1)" in br_int
        # blue is still tunnelled as before
        blue_in = [f for f in br_tun if f.startswith("table=3,priority=1,tun_id=0x3ea,")]
        assert blue_in == [f"table=3,priority=1,tun_id=0x3ea,actions=push_vlan:0x8100,set_field:{0x1000 | blue}->vlan_vid,resubmit(,10)"]
        assert [f for f in br_tun if f.startswith(f"table=21,priority=1,tun_id=0x3ea,dl_vlan={blue},")]
        assert next(t for t in host_plan["tenants"] if t["name"] == "red")["provider_vlan"] == 300
    if mode == "l2pop":
        hv1 = result["hv1"]["flows"]["br-tun"]
        assert not [f for f in hv1 if "52:54:00:01:" in f or "0x52540001" in f], "no l2pop entries for red's VMs"
        assert [f for f in hv1 if "52:54:00:02:00:02" in f], "blue's remote VMs are still populated"


def test_provider_vlan_tenant_gets_the_patch_pair_and_vlan_rewrites():
    for name, host_plan in plans(*provider_example()).items():
        red = local_vlan(host_plan, "red")
        sets = {s["bridge"]: s for s in host_plan["ports"]["fabric"]}
        assert sets["br-int"]["ports"] == [
            {"name": "patch-tun", "type": "patch", "options": {"peer": "patch-int"}, "ofport_request": 65001},
            {"name": "int-br-phy", "type": "patch", "options": {"peer": "phy-br-int"}, "ofport_request": 65002},
        ]
        uplink = {"hv3": "eth0"}.get(name, "uplink")
        assert sets["br-phy"]["ports"] == [{"name": uplink, "mtu_request": 1500}, {"name": "phy-br-int", "type": "patch", "options": {"peer": "int-br-phy"}}]
        assert {s["owner"] for s in sets.values()} == {"netfabric"}
        assert host_plan["flows"]["br-phy"] == [
            f"table=0,priority=4,in_port=phy-br-int,dl_vlan={red},actions=set_field:4396->vlan_vid,NORMAL",
            "table=0,priority=2,in_port=phy-br-int,actions=drop",
        ], name
        br_int = host_plan["flows"]["br-int"]
        assert [f for f in br_int if "in_port=65002," in f] == [
            f"table=0,priority=10,in_port=65002,dl_vlan=300,actions=set_field:{0x1000 | red}->vlan_vid,resubmit(,1)"
        ], name
        assert f"table=3,priority=1,reg1=65002,dl_vlan={red},actions=output:65002" in br_int
        assert {"int-br-phy", "phy-br-int"} <= set(host_plan["verify_ports"])


def test_host_without_provider_tenants_has_no_patch_pair_and_empty_flow_lists():
    hosts, fabric = provider_example()
    hosts["hv2"]["netfabric_ports"] = [p for p in hosts["hv2"]["netfabric_ports"] if p["tenant"] != "red"]
    hv2 = plans(hosts, fabric)["hv2"]
    names = {p["name"] for s in hv2["ports"]["fabric"] for p in s["ports"]}
    assert not names & {"int-br-phy", "phy-br-int"}
    assert hv2["flows"]["br-phy"] == []
    assert not [f for f in hv2["flows"]["br-int"] if "65002" in f]


def test_hosts_sharing_only_provider_tenants_are_not_tunnel_peers():
    hosts, fabric = provider_example()
    hosts["hv3"]["netfabric_ports"] = [p for p in hosts["hv3"]["netfabric_ports"] if p["tenant"] == "red"]
    result = plans(hosts, fabric)
    assert result["hv3"]["tunnels"] == [] and result["hv3"]["ports"]["vxlan"]["ports"] == []
    for name in ("hv1", "hv2"):
        assert [t["peer"] for t in result[name]["tunnels"]] == [p for p in ("hv1", "hv2") if p != name]
    assert [t["peers"] for t in result["hv3"]["tenants"]] == [["hv1", "hv2"]]  # red still reaches them, on the wire


def test_gre_provider_tenant_does_not_join_the_gre_mesh():
    hosts, fabric = provider_example(netfabric_overlay="gre")
    hosts["hv3"]["netfabric_ports"] = [p for p in hosts["hv3"]["netfabric_ports"] if p["tenant"] == "red"]
    result = plans(hosts, fabric)
    assert result["hv3"]["ports"]["gre"]["ports"] == []
    assert [t["peer"] for t in result["hv1"]["tunnels"]] == ["hv2"]
