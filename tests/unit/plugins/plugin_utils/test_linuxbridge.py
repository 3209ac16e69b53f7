"""The linuxbridge backend's inventory rules and plan: examples/linuxbridge and examples/vxlan with
one host switched, one change at a time; every message names its culprit."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import linuxbridge, plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError, validate

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
HOST_VARS = {"netfabric_uplink", "netfabric_datapath_type", "netfabric_backend"}
ZERO = "00:00:00:00:00:00"


def example(name="linuxbridge"):
    hosts = yaml.safe_load((EXAMPLES / name / "hosts.yml").read_text())["hypervisors"]["hosts"]
    group = yaml.safe_load((EXAMPLES / name / "group_vars" / "hypervisors.yml").read_text())
    hosts = {host: {**{k: v for k, v in group.items() if k in HOST_VARS}, **values} for host, values in hosts.items()}
    return copy.deepcopy(hosts), copy.deepcopy({k: v for k, v in group.items() if k not in HOST_VARS})


def mixed():
    """examples/vxlan (OVS, netdev) with hv3 on linuxbridge."""
    hosts, fabric = example("vxlan")
    hosts["hv3"].update(netfabric_backend="linuxbridge", netfabric_datapath_type="system")
    return hosts, fabric


def plans(hosts, fabric, nodes=()):
    return plan.fabric_plan(plan.build(hosts, fabric, network_nodes=nodes))


def tenant(fabric, name):
    return next(t for t in fabric["netfabric_tenants"] if t["name"] == name)


def only_problem(hosts, fabric, nodes=()):
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric, nodes)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def links(host_plan):
    return {link["name"]: link for link in host_plan["linuxbridge"]["links"]}


def test_example_plans_bridges_devices_ports_and_no_ovs():
    hv1 = plans(*example())["hv1"]
    assert hv1["backend"] == "linuxbridge"
    assert hv1["bridges"] == [] and hv1["flows"] == {} and hv1["tunnels"] == [] and hv1["verify_ports"] == []
    assert all(group["ports"] == [] for group in [*hv1["ports"]["fabric"], *(hv1["ports"][k] for k in ("tenants", "vxlan", "gre"))])
    assert hv1["underlay"]["bridge"] is None and hv1["vlan_subinterfaces"] == []
    assert hv1["underlay"]["links"] == [{"name": hv1["underlay"]["uplink"], "mtu": hv1["underlay"]["mtu"]}]  # a plain NIC: ip link
    made = links(hv1)
    assert list(made) == ["brq-blue", "brq-red", "vxlan-1002", "vxlan-1001"]  # bridges first, then what joins them
    assert made["brq-red"] == {"name": "brq-red", "kind": "bridge", "mtu": 1450, "state": "up"}
    assert made["vxlan-1001"] == {"name": "vxlan-1001", "kind": "vxlan", "vni": 1001, "local": "172.31.0.1", "dstport": 4789, "link": "uplink",
                                  "learning": True, "proxy": False, "master": "brq-red", "mtu": 1450, "state": "up"}
    assert made["vxlan-1002"]["group"] == "239.1.1.2" and "group" not in made["vxlan-1001"]
    assert hv1["linuxbridge"]["ports"] == [{"name": "tap-blue-1", "master": "brq-blue", "mtu": 1450, "state": "up"},
                                           {"name": "tap-red-1", "master": "brq-red", "mtu": 1450, "state": "up"}]
    assert hv1["linuxbridge"]["owner"] == "netfabric-linuxbridge"


def test_unicast_floods_to_the_tenants_peers_only_and_multicast_to_the_group():
    hosts, fabric = example()
    hosts["hv3"]["netfabric_ports"] = [p for p in hosts["hv3"]["netfabric_ports"] if p["tenant"] != "red"]
    result = plans(hosts, fabric)
    fdb = {f["dev"]: f for f in result["hv1"]["linuxbridge"]["fdb"]}
    assert fdb["vxlan-1001"]["entries"] == [{"mac": ZERO, "dst": "172.31.0.2"}]  # hv3 no longer carries red
    assert fdb["vxlan-1002"]["entries"] == [] and fdb["vxlan-1002"]["neighbours"] == []  # the kernel floods to the group
    assert "brq-red" not in links(result["hv3"]) and "vxlan-1001" not in links(result["hv3"])


def test_l2pop_adds_remote_macs_neighbours_and_proxy():
    hosts, fabric = example()
    fabric["netfabric_mode"] = "l2pop"
    hv1 = plans(hosts, fabric)["hv1"]
    assert links(hv1)["vxlan-1001"]["proxy"] is True
    red = next(f for f in hv1["linuxbridge"]["fdb"] if f["dev"] == "vxlan-1001")
    assert red["entries"] == [{"mac": ZERO, "dst": "172.31.0.2"}, {"mac": ZERO, "dst": "172.31.0.3"},
                              {"mac": "52:54:00:01:00:02", "dst": "172.31.0.2"}, {"mac": "52:54:00:01:00:03", "dst": "172.31.0.3"}]
    assert red["neighbours"] == [{"ip": "10.0.0.2", "mac": "52:54:00:01:00:02"}, {"ip": "10.0.0.3", "mac": "52:54:00:01:00:03"}]


def test_mixed_fabric_ovs_and_linuxbridge_hosts_are_each_others_vxlan_peers():
    result = plans(*mixed())
    hv1, hv3 = result["hv1"], result["hv3"]
    assert hv1.get("backend", "ovs") == "ovs" and [t["name"] for t in hv1["tunnels"]] == ["vxlan-ac1f0002", "vxlan-ac1f0003"]
    assert hv3["bridges"] == [] and hv3["datapath_type"] == "system"
    red = next(f for f in hv3["linuxbridge"]["fdb"] if f["dev"] == "vxlan-1001")
    assert red["entries"] == [{"mac": ZERO, "dst": "172.31.0.1"}, {"mac": ZERO, "dst": "172.31.0.2"}]
    assert links(hv3)["vxlan-1001"]["dstport"] == 4789 and links(hv3)["vxlan-1001"]["mtu"] == 1400


def test_a_multicast_tenant_still_floods_by_unicast_to_ovs_peers():
    hosts, fabric = mixed()
    tenant(fabric, "blue")["multicast_group"] = "239.1.1.9"
    hv3 = plans(hosts, fabric)["hv3"]
    blue = next(f for f in hv3["linuxbridge"]["fdb"] if f["dev"] == "vxlan-1002")
    assert links(hv3)["vxlan-1002"]["group"] == "239.1.1.9"
    assert blue["entries"] == [{"mac": ZERO, "dst": "172.31.0.1"}, {"mac": ZERO, "dst": "172.31.0.2"}]  # OVS joins no group


def test_gre_tenants_get_an_isolated_gretap_per_peer_with_the_key():
    hosts, fabric = example()
    tenant(fabric, "red").update(overlay="gre", tunnel_id=77)
    hv1 = links(plans(hosts, fabric)["hv1"])
    gretaps = [link for link in hv1.values() if link["kind"] == "gretap"]
    assert sorted(g["remote"] for g in gretaps) == ["172.31.0.2", "172.31.0.3"]
    assert all(g["key"] == 77 and g["local"] == "172.31.0.1" and g["master"] == "brq-red" and g["isolated"] for g in gretaps)
    assert all(g["name"].startswith("gre-") and len(g["name"]) <= 15 for g in gretaps)
    assert len({g["name"] for g in gretaps}) == 2 and "vxlan-77" not in hv1


def test_provider_vlan_tenants_get_the_uplinks_subinterface_in_their_bridge():
    hosts, fabric = example()
    tenant(fabric, "red").update(provider_vlan=100)
    hosts["hv1"]["netfabric_provider_vlans"] = [200]
    hv1 = links(plans(hosts, fabric)["hv1"])
    assert hv1["uplink.100"] == {
        "name": "uplink.100", "kind": "vlan", "link": "uplink", "vlan_id": 100, "master": "brq-red", "mtu": 1450, "state": "up"}
    assert hv1["uplink.200"] == {"name": "uplink.200", "kind": "vlan", "link": "uplink", "vlan_id": 200, "state": "up"}  # the host's own


def test_long_tenant_names_get_a_hashed_bridge_name_within_15_bytes():
    assert linuxbridge.bridge_name("red") == "brq-red"
    assert linuxbridge.bridge_name("a" * 11) == "brq-" + "a" * 11
    long = linuxbridge.bridge_name("engineering-prod")
    assert len(long) == 15 and long.startswith("brq-") and long != linuxbridge.bridge_name("engineering-test")


@pytest.mark.parametrize("change, expected", [
    (lambda h, f, n: n.append("hv1") or h["hv1"].update(netfabric_external={"subnet": "203.0.113.0/24", "pool": ["203.0.113.10"]}),
     "host hv1: netfabric_backend linuxbridge cannot be in group network_nodes"),
    (lambda h, f, n: h["hv2"].update(netfabric_datapath_type="netdev"), "host hv2: netfabric_datapath_type netdev is an Open vSwitch datapath"),
    (lambda h, f, n: h["hv1"].update(netfabric_backend="bridge"), "host hv1: value of netfabric_backend must be one of: ovs, linuxbridge"),
    (lambda h, f, n: tenant(f, "red").update(multicast_group="239.1.1.2"), "tenants blue, red: share multicast_group 239.1.1.2"),
    (lambda h, f, n: tenant(f, "red").update(multicast_group="10.0.0.1"), "tenant red: multicast_group '10.0.0.1' is not an IPv4 multicast"),
    (lambda h, f, n: tenant(f, "red").update(multicast_group="ff05::1"), "tenant red: multicast_group 'ff05::1' is not an IPv4 multicast"),
    (lambda h, f, n: tenant(f, "red").update(multicast_group="no"), "tenant red: multicast_group 'no' is not an IPv4 address"),
    (lambda h, f, n: tenant(f, "blue").update(overlay="gre"), "tenant blue: multicast_group is for VXLAN tenants only"),
    (lambda h, f, n: h["hv1"]["netfabric_ports"].append({"name": "brq-x", "tenant": "red"}), "host hv1 port brq-x: name clashes with the tenant bridges"),
    (lambda h, f, n: f["netfabric_tenants"].append({"name": "engineering-prod-1", "tunnel_id": 5}) or f["netfabric_tenants"].append(
        {"name": linuxbridge.bridge_name("engineering-prod-1")[4:], "tunnel_id": 6}), "their Linux bridges would share the name"),
])
def test_each_rule_is_one_problem_naming_its_culprit(change, expected):
    hosts, fabric = example()
    nodes = []
    change(hosts, fabric, nodes)
    assert expected in only_problem(hosts, fabric, tuple(nodes))


def test_provider_vlans_need_no_netdev_on_linuxbridge_hosts():
    hosts, fabric = example()
    tenant(fabric, "red").update(provider_vlan=100)
    validate(hosts, fabric)  # an OVS host with the system datapath would be refused
    hosts["hv1"]["netfabric_backend"] = "ovs"
    assert "host hv1: tenant red has provider_vlan 100" in only_problem(hosts, fabric)


def test_a_bonded_uplink_is_a_kernel_bond_the_vxlan_devices_leave_through():
    hosts, fabric = example()
    hosts["hv1"]["netfabric_uplink"] = {"name": "bond0", "members": ["eth1", "eth2"], "mode": "balance-tcp", "lacp": "active"}
    hv1 = plans(hosts, fabric)["hv1"]
    assert hv1["underlay"]["links"] == [{"name": "bond0", "kind": "bond", "bond_mode": "802.3ad", "xmit_hash_policy": "layer3+4",
                                         "miimon": 100, "updelay": 0, "downdelay": 0, "members": ["eth1", "eth2"],
                                         "mtu": hv1["underlay"]["mtu"], "owner": "netfabric", "state": "up",
                                         "lacp_active": True, "lacp_rate": "slow"}]
    assert hv1["underlay"]["kernel_bond"] == {"name": "bond0", "members": ["eth1", "eth2"], "owner": "netfabric", "alias": "netfabric:netfabric"}
    vxlans = [link for link in hv1["linuxbridge"]["links"] if link["kind"] == "vxlan"]
    assert vxlans and all(link["link"] == "bond0" for link in vxlans)
