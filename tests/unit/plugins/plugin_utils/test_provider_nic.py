"""netfabric_provider_nic: provider-VLAN tenants through a bridge of their own (br-provider).

The example fabric (hv1, hv2 netdev; hv3 on the kernel datapath, whose uplink is not on br-phy)
with red carried as provider VLAN 300 and blue on VXLAN.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError, validate

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())


def provider_example(**nics):
    """red on provider VLAN 300; `nics` gives hosts their netfabric_provider_nic."""
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    next(t for t in fabric["netfabric_tenants"] if t["name"] == "red")["provider_vlan"] = 300
    for host, nic in nics.items():
        hosts[host]["netfabric_provider_nic"] = nic
    return hosts, fabric


def problems(hosts, fabric):
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric)
    return info.value.problems


def plans(hosts, fabric):
    return plan.fabric_plan(plan.build(hosts, fabric))


def local_vlan(host_plan, tenant):
    return next(t["local_vlan"] for t in host_plan["tenants"] if t["name"] == tenant)


# ---------------------------------------------------------------- validation


def test_a_provider_nic_admits_provider_tenants_on_a_system_host():
    hosts, fabric = provider_example()
    assert [p for p in problems(hosts, fabric) if p.startswith("host hv3: tenant red has provider_vlan 300")]
    hosts, fabric = provider_example(hv3="eth1")
    assert validate(hosts, fabric).hosts["hv3"].provider_nic == "eth1"


def test_without_it_the_error_says_to_set_it():
    hosts, fabric = provider_example()
    (problem,) = problems(hosts, fabric)
    assert "set netfabric_provider_nic on hv3" in problem and "netfabric_datapath_type netdev" in problem


@pytest.mark.parametrize(
    ("nic", "expected"),
    [
        ("eth0", "netfabric_provider_nic 'eth0' is the uplink"),
        ("br-provider", "clashes with a name the fabric gives"),
        ("phy-br-int", "clashes with a name the fabric gives"),
        ("vxlan-0a000001", "clashes with a name the fabric gives"),
        ("a-name-longer-than-15", "netfabric_provider_nic"),
        ("", "netfabric_provider_nic"),
    ],
)
def test_bad_provider_nics_name_host_and_field(nic, expected):
    hosts, fabric = provider_example(hv3=nic)
    found = problems(hosts, fabric)
    assert [p for p in found if p.startswith("host hv3: ") and expected in p], found


def test_a_vm_port_cannot_take_the_provider_nic_name():
    hosts, fabric = provider_example(hv3="eth1")
    hosts["hv3"]["netfabric_ports"][0]["name"] = "eth1"
    found = problems(hosts, fabric)
    assert [p for p in found if p.startswith("host hv3 port eth1: name clashes") and "provider NIC" in p], found


def test_the_provider_nic_is_not_the_external_nic():
    hosts, fabric = provider_example(hv3="eth1")
    hosts["hv3"]["netfabric_external"] = {"nic": "eth1", "subnet": "198.51.100.0/24", "pool": ["198.51.100.10-198.51.100.20"]}
    found = problems(hosts, fabric)
    assert [p for p in found if "host hv3: netfabric_provider_nic 'eth1' is also netfabric_external.nic" in p], found


def test_linuxbridge_hosts_refuse_it():
    hosts, fabric = provider_example(hv3="eth1")
    hosts["hv3"]["netfabric_backend"] = "linuxbridge"
    found = problems(hosts, fabric)
    assert [p for p in found if p.startswith("host hv3: netfabric_provider_nic is for netfabric_backend ovs")], found


# ---------------------------------------------------------------- plan


@pytest.mark.parametrize("host", ["hv1", "hv3"])  # netdev and system datapath alike
def test_provider_tenants_go_through_br_provider(host):
    hosts, fabric = provider_example(hv1="eth1", hv3="eth1")
    host_plan = plans(hosts, fabric)[host]
    red = local_vlan(host_plan, "red")
    provider = next(b for b in host_plan["bridges"] if b["name"] == "br-provider")
    assert provider == {"name": "br-provider", "datapath_type": host_plan["datapath_type"], "fail_mode": "secure",
                        "protocols": ["OpenFlow10", "OpenFlow13", "OpenFlow14"], "owner": "netfabric"}
    sets = {s["bridge"]: s for s in host_plan["ports"]["fabric"]}
    assert sets["br-provider"] == {"bridge": "br-provider", "owner": "netfabric", "ports": [
        {"name": "eth1"}, {"name": "phy-br-provider", "type": "patch", "options": {"peer": "int-br-provider"}}]}
    assert sets["br-int"]["ports"][1] == {"name": "int-br-provider", "type": "patch", "options": {"peer": "phy-br-provider"}, "ofport_request": 65003}
    assert not [p for s in sets.values() for p in s["ports"] if p["name"] in ("int-br-phy", "phy-br-int")]
    # The same rewrite as br-phy's, from its own patch; from the NIC only VLAN 300; everything else dropped.
    assert host_plan["flows"]["br-provider"] == [
        f"table=0,priority=4,in_port=phy-br-provider,dl_vlan={red},actions=set_field:4396->vlan_vid,NORMAL",
        "table=0,priority=2,in_port=phy-br-provider,actions=drop",
        "table=0,priority=4,in_port=eth1,dl_vlan=300,actions=NORMAL",
        "table=0,priority=0,actions=drop",
    ]
    assert host_plan["flows"]["br-phy"] == []
    br_int = host_plan["flows"]["br-int"]
    assert f"table=0,priority=10,in_port=65003,dl_vlan=300,actions=set_field:{0x1000 | red}->vlan_vid,resubmit(,1)" in br_int
    assert f"table=3,priority=1,reg1=65003,dl_vlan={red},actions=output:65003" in br_int
    assert not [f for f in br_int if "65002" in f]
    assert {"eth1", "int-br-provider", "phy-br-provider"} <= set(host_plan["verify_ports"])


def test_the_uplink_stays_where_it_was():
    hosts, fabric = provider_example(hv1="eth1", hv3="eth1")
    result = plans(hosts, fabric)
    hv1 = {s["bridge"]: s for s in result["hv1"]["ports"]["fabric"]}
    assert [p["name"] for p in hv1["br-phy"]["ports"]] == ["uplink"] and result["hv1"]["underlay"]["bridge"] == "br-phy"
    hv3 = {s["bridge"]: s for s in result["hv3"]["ports"]["fabric"]}
    assert hv3["br-phy"]["ports"] == [] and result["hv3"]["underlay"]["bridge"] is None
    assert [s["name"] for s in result["hv3"]["vlan_subinterfaces"]] == ["eth0.100"]  # the host's own VLANs stay on the uplink


def test_hosts_with_and_without_a_provider_nic_share_a_provider_tenant():
    hosts, fabric = provider_example(hv3="eth1")  # hv1, hv2: through br-phy as before
    result = plans(hosts, fabric)
    assert "br-provider" not in result["hv1"]["flows"]
    assert [f for f in result["hv1"]["flows"]["br-phy"] if "in_port=phy-br-int" in f]
    assert "br-provider" in result["hv3"]["flows"]


def test_a_provider_nic_without_provider_tenants_drops_everything():
    hosts, fabric = provider_example(hv3="eth1")
    hosts["hv3"]["netfabric_ports"] = [p for p in hosts["hv3"]["netfabric_ports"] if p["tenant"] != "red"]
    hv3 = plans(hosts, fabric)["hv3"]
    assert hv3["flows"]["br-provider"] == ["table=0,priority=0,actions=drop"]
    sets = {s["bridge"]: s for s in hv3["ports"]["fabric"]}
    assert sets["br-provider"]["ports"] == [{"name": "eth1"}]
    assert not [p for s in sets.values() for p in s["ports"] if p["name"].startswith(("int-br-", "phy-br-"))]


def test_hosts_without_a_provider_nic_plan_no_br_provider():
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    for host_plan in plans(hosts, fabric).values():
        assert "br-provider" not in [b["name"] for b in host_plan["bridges"]]
        assert "br-provider" not in host_plan["flows"]


def test_the_plan_retires_br_provider_on_hosts_without_a_provider_nic():
    hosts, fabric = provider_example(hv3="eth1")
    result = plans(hosts, fabric)
    assert result["hv3"]["retired_bridges"] == []
    assert result["hv1"]["retired_bridges"] == [{"name": "br-provider", "owner": "netfabric"}]


# ---------------------------------------------------------------- bonded


BOND = {"name": "bond1", "members": ["eth1", "eth2"]}


def test_a_bonded_provider_nic_is_parsed_like_a_bonded_uplink():
    hosts, fabric = provider_example(hv3={**BOND, "mode": "balance-slb", "updelay": 200})
    bond = validate(hosts, fabric).hosts["hv3"].provider_nic
    assert (bond.name, bond.members, bond.mode, bond.updelay, bond.lacp) == ("bond1", ("eth1", "eth2"), "balance-slb", 200, "off")


@pytest.mark.parametrize("host", ["hv1", "hv3"])  # an Open vSwitch bond on both datapaths: OVS owns the provider NICs
def test_a_bonded_provider_nic_is_an_ovs_bond_on_br_provider_matched_by_each_member(host):
    hosts, fabric = provider_example(**{"hv3": "eth1", host: {**BOND, "lacp": "active", "mode": "balance-tcp", "lacp_rate": "fast"}})
    host_plan = plans(hosts, fabric)[host]
    sets = {s["bridge"]: s for s in host_plan["ports"]["fabric"]}
    assert sets["br-provider"]["ports"][0] == {"name": "bond1", "interfaces": ["eth1", "eth2"], "bond_mode": "balance-tcp", "lacp": "active",
                                               "bond_updelay": 0, "bond_downdelay": 0, "other_config": {"lacp-time": "fast"}}
    flows = host_plan["flows"]["br-provider"]
    assert [f for f in flows if "in_port=eth" in f] == [f"table=0,priority=4,in_port={nic},dl_vlan=300,actions=NORMAL" for nic in ("eth1", "eth2")]
    assert not [f for f in flows if "in_port=bond1" in f]  # a bond has no OpenFlow port
    assert "kernel_bond" not in host_plan["underlay"] and host_plan["retired_bridges"] == []


@pytest.mark.parametrize(
    ("uplink", "bond", "expected"),
    [
        ("eth0", {"name": "bond1", "members": ["eth1", "eth0"]}, "netfabric_provider_nic.members[1] 'eth0' is the uplink"),
        ({"name": "bond0", "members": ["eth0", "eth3"]}, {"name": "bond1", "members": ["eth3", "eth4"]},
         "netfabric_provider_nic.members[0] 'eth3' is the uplink or one of its members"),
        ({"name": "bond0", "members": ["eth0", "eth3"]}, {"name": "bond0", "members": ["eth1", "eth2"]},
         "netfabric_provider_nic.name 'bond0' is the uplink"),
        ("eth0", {"name": "bond1", "members": ["eth1", "patch-tun"]}, "netfabric_provider_nic.members[1] 'patch-tun' clashes with a name the fabric gives"),
        ("eth0", {"name": "br-provider", "members": ["eth1", "eth2"]}, "netfabric_provider_nic.name 'br-provider' clashes"),
        ("eth0", {"name": "bond1", "members": ["eth1"]}, "netfabric_provider_nic.members lists 1 NIC(s); a bond needs at least 2"),
        ("eth0", {"name": "bond1", "members": ["eth1", "eth1"]}, "netfabric_provider_nic.members lists 'eth1' twice"),
        ("eth0", {"name": "bond1", "members": ["eth1", "eth2"], "mode": "balance-tcp"}, "netfabric_provider_nic.mode balance-tcp needs lacp"),
        ("eth0", ["eth1", "eth2"], "netfabric_provider_nic must be an interface name or a bond"),
    ],
)
def test_bad_bonded_provider_nics_name_host_field_and_allowed_values(uplink, bond, expected):
    hosts, fabric = provider_example(hv3=bond)
    hosts["hv3"]["netfabric_uplink"] = uplink
    found = problems(hosts, fabric)
    assert [p for p in found if p.startswith("host hv3") and expected in p], found


def test_a_bad_bond_mode_names_the_allowed_modes():
    hosts, fabric = provider_example(hv3={**BOND, "mode": "balance-rr"})
    found = problems(hosts, fabric)
    assert [p for p in found if "hv3" in p and "netfabric_provider_nic" in p and "mode" in p and "active-backup" in p], found


def test_a_vm_port_or_the_external_nic_cannot_be_a_member():
    hosts, fabric = provider_example(hv3=BOND)
    hosts["hv3"]["netfabric_ports"][0]["name"] = "eth2"
    hosts["hv3"]["netfabric_external"] = {"nic": "eth1", "subnet": "198.51.100.0/24", "pool": ["198.51.100.10-198.51.100.20"]}
    found = problems(hosts, fabric)
    assert [p for p in found if p.startswith("host hv3 port eth2: name clashes") and "provider NIC" in p], found
    assert [p for p in found if "host hv3: netfabric_provider_nic 'eth1' is also netfabric_external.nic" in p], found


def test_from_bonded_to_plain_or_other_members_the_plan_follows():
    bonded = plans(*provider_example(hv3=BOND))["hv3"]
    plain = plans(*provider_example(hv3="eth1"))["hv3"]
    other = plans(*provider_example(hv3={**BOND, "members": ["eth1", "eth5"]}))["hv3"]

    def provider_port(host_plan):
        return next(s for s in host_plan["ports"]["fabric"] if s["bridge"] == "br-provider")["ports"][0]

    assert provider_port(bonded)["interfaces"] == ["eth1", "eth2"] and provider_port(other)["interfaces"] == ["eth1", "eth5"]
    assert provider_port(plain) == {"name": "eth1"}  # the set is purged to its list: the bond port goes
    assert [f for f in other["flows"]["br-provider"] if "in_port=eth5" in f] and not [f for f in other["flows"]["br-provider"] if "in_port=eth2" in f]
