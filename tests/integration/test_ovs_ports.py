"""ovs_port / ovs_ports against real Open vSwitch: tunnels, patches, VLANs, bonds, QoS, moves and purge."""

import json

import pytest
from conftest import run_module


@pytest.fixture
def bridges(hv):
    hv.vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
             "--", "add-br", "br-tun", "--", "set", "Bridge", "br-tun", "datapath_type=netdev")
    return hv


def interface(hv, name):
    out = hv.vsctl("--format=json", "--data=json", "--columns=name,type,options,ofport,error,mtu_request,ingress_policing_rate", "list", "Interface", name)
    table = json.loads(out)
    return dict(zip(table["headings"], table["data"][0]))


def port(hv, name):
    out = hv.vsctl("--format=json", "--data=json", "--columns=name,tag,trunks,vlan_mode,external_ids,bond_mode,lacp", "list", "Port", name)
    table = json.loads(out)
    return dict(zip(table["headings"], table["data"][0]))


def tunnels(count, first=2):
    return [{"name": f"vxlan-ac1f00{i:02x}", "type": "vxlan", "options": {"remote_ip": f"172.31.0.{i}", "local_ip": "172.31.0.1", "key": "flow"}}
            for i in range(first, first + count)]


def test_aggregate_tunnels_apply_once_and_prune(bridges):
    hv = bridges
    wanted = {"bridge": "br-tun", "owner": "vxlan", "purge": True, "ports": tunnels(50)}
    checked = run_module(hv, "ovs_ports", wanted, check=True)
    assert checked["changed"] and len(checked["commands"]) == 1
    assert hv.vsctl("list-ports", "br-tun").split() == [], "check mode must not add ports"

    applied = run_module(hv, "ovs_ports", wanted, diff=True)
    assert applied["changed"] and len(applied["commands"]) == 1, "fifty tunnels, one transaction"
    assert len(hv.vsctl("list-ports", "br-tun").split()) == 50
    iface = interface(hv, "vxlan-ac1f0002")
    assert iface["type"] == "vxlan" and iface["ofport"] > 0 and iface["error"] == ["set", []]
    assert dict(iface["options"][1]) == {"remote_ip": "172.31.0.2", "local_ip": "172.31.0.1", "key": "flow"}

    again = run_module(hv, "ovs_ports", wanted)
    assert again["changed"] is False and again["commands"] == []

    # A foreign port and a port of another owner survive the purge; a departed peer's tunnel goes.
    hv.vsctl("add-port", "br-tun", "foreign", "--", "set", "Interface", "foreign", "type=internal")
    run_module(hv, "ovs_ports", {"bridge": "br-tun", "owner": "gre", "ports": [
        {"name": "gre-ac1f0002", "type": "gre", "options": {"remote_ip": "172.31.0.2", "key": "flow"}}]})
    pruned = run_module(hv, "ovs_ports", dict(wanted, ports=tunnels(49)), diff=True)
    assert pruned["changed"] and list(pruned["diff"]["before"]) == ["vxlan-ac1f0033"] and pruned["diff"]["after"] == {}
    remaining = hv.vsctl("list-ports", "br-tun").split()
    assert "vxlan-ac1f0033" not in remaining and "foreign" in remaining and "gre-ac1f0002" in remaining
    assert len(remaining) == 51


def test_port_change_move_and_delete(bridges):
    hv = bridges
    access = {"bridge": "br-int", "name": "vm1", "type": "internal", "tag": 101, "mtu_request": 1400}
    assert run_module(hv, "ovs_port", access)["changed"]
    assert port(hv, "vm1")["tag"] == 101 and interface(hv, "vm1")["mtu_request"] == 1400
    assert run_module(hv, "ovs_port", access)["changed"] is False

    retagged = run_module(hv, "ovs_port", dict(access, tag=102), diff=True)
    assert retagged["diff"]["before"]["vm1"]["tag"] == 101 and retagged["diff"]["after"]["vm1"]["tag"] == 102
    assert port(hv, "vm1")["tag"] == 102

    trunk = {"bridge": "br-int", "name": "vm1", "type": "internal", "vlan_mode": "trunk", "trunks": [100, 200]}
    run_module(hv, "ovs_port", trunk)
    row = port(hv, "vm1")
    assert row["vlan_mode"] == "trunk" and row["trunks"] == ["set", [100, 200]]
    assert run_module(hv, "ovs_port", trunk)["changed"] is False

    moved = run_module(hv, "ovs_port", dict(trunk, bridge="br-tun"))
    assert moved["changed"] and len(moved["commands"]) == 1
    assert "vm1" in hv.vsctl("list-ports", "br-tun").split()
    assert "vm1" not in hv.vsctl("list-ports", "br-int").split()
    assert hv.vsctl("--columns=name", "find", "Port", "name=vm1").count("vm1") == 1, "moved, not duplicated"

    assert port(hv, "vm1")["external_ids"] == ["map", [["netfabric_moved_from", "br-int"], ["netfabric_owner", "ansible"]]]
    # removing a port the module moved here gives it back to the bridge it came from
    assert run_module(hv, "ovs_port", {"bridge": "br-tun", "name": "vm1", "state": "absent"})["changed"]
    assert "vm1" not in hv.vsctl("list-ports", "br-tun").split()
    assert "vm1" in hv.vsctl("list-ports", "br-int").split()
    assert run_module(hv, "ovs_port", {"bridge": "br-tun", "name": "vm1", "state": "absent"})["changed"] is False
    assert run_module(hv, "ovs_port", {"bridge": "br-int", "name": "vm1", "state": "absent"})["changed"]
    assert "vm1" not in hv.vsctl("list-ports", "br-int").split(), "a port not moved here is deleted"


def test_patch_pair(bridges):
    hv = bridges
    run_module(hv, "ovs_port", {"bridge": "br-int", "name": "patch-tun", "type": "patch", "options": {"peer": "patch-int"}})
    run_module(hv, "ovs_port", {"bridge": "br-tun", "name": "patch-int", "type": "patch", "options": {"peer": "patch-tun"}})
    for name in ("patch-tun", "patch-int"):
        iface = interface(hv, name)
        assert iface["type"] == "patch" and iface["ofport"] > 0


def test_bond_with_lacp(bridges):
    hv = bridges
    for name in ("e1", "e2", "e3"):
        hv.exec("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    bond = {"bridge": "br-int", "name": "bond0", "interfaces": ["e1", "e2"], "bond_mode": "balance-tcp", "lacp": "active"}
    assert run_module(hv, "ovs_port", bond)["changed"]
    row = port(hv, "bond0")
    assert row["bond_mode"] == "balance-tcp" and row["lacp"] == "active"
    assert run_module(hv, "ovs_port", bond)["changed"] is False
    regrown = run_module(hv, "ovs_port", dict(bond, interfaces=["e1", "e2", "e3"]))
    assert regrown["changed"]
    assert "bond0" in hv.vsctl("list-ports", "br-int").split()
    members = hv.vsctl("--columns=interfaces", "list", "Port", "bond0")
    assert members.count("-") >= 12, "three interface uuids"
    assert hv.vsctl("iface-to-br", "e3").strip() == "br-int"


def test_a_nic_becomes_a_bond_member_and_back_in_one_call(bridges):
    """A bonded uplink replacing the single one (netfabric_uplink from a NIC to a bond of it and
    another): the pruned port frees its interface before the bond takes it, in the one transaction;
    and back. Bond mode and delays change in place."""
    hv = bridges
    for name in ("e1", "e2"):
        hv.exec("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    single = {"bridge": "br-int", "owner": "up", "purge": True, "ports": [{"name": "e1"}]}
    bonded = dict(single, ports=[{"name": "bond0", "interfaces": ["e1", "e2"], "bond_mode": "active-backup", "bond_updelay": 100}])
    assert run_module(hv, "ovs_ports", single)["changed"]
    assert run_module(hv, "ovs_ports", bonded)["changed"]
    assert sorted(hv.vsctl("list-ports", "br-int").split()) == ["bond0"]
    assert run_module(hv, "ovs_ports", bonded)["changed"] is False
    tuned = dict(single, ports=[dict(bonded["ports"][0], bond_mode="balance-slb", bond_updelay=0, bond_downdelay=300)])
    assert run_module(hv, "ovs_ports", tuned)["changed"]
    row = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=bond_mode,bond_updelay,bond_downdelay", "list", "Port", "bond0"))
    assert row["data"][0] == ["balance-slb", 0, 300]
    assert run_module(hv, "ovs_ports", tuned)["changed"] is False
    assert run_module(hv, "ovs_ports", single)["changed"]
    assert sorted(hv.vsctl("list-ports", "br-int").split()) == ["e1"]


def test_ingress_policing_and_htb_queues(bridges):
    hv = bridges
    hv.exec("ip", "link", "add", "q1", "type", "veth", "peer", "name", "q1p")
    hv.exec("ip", "link", "set", "q1", "up")
    spec = {"bridge": "br-int", "name": "q1", "ingress_policing_rate": 10000, "ingress_policing_burst": 1000,
            "qos": {"type": "linux-htb", "other_config": {"max-rate": 100000000},
                    "queues": {0: {"min-rate": 10000000}, 1: {"max-rate": 50000000}}}}
    assert run_module(hv, "ovs_port", spec)["changed"]
    assert interface(hv, "q1")["ingress_policing_rate"] == 10000
    qos = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=type,other_config,queues", "list", "QoS"))
    assert len(qos["data"]) == 1 and qos["data"][0][0] == "linux-htb"
    assert len(qos["data"][0][2][1]) == 2, "two queues"
    assert run_module(hv, "ovs_port", spec)["changed"] is False

    changed = dict(spec, qos=dict(spec["qos"], queues={0: {"min-rate": 20000000}}))
    assert run_module(hv, "ovs_port", changed)["changed"]
    assert len(json.loads(hv.vsctl("--format=json", "list", "QoS"))["data"]) == 1, "old QoS row destroyed"
    assert len(json.loads(hv.vsctl("--format=json", "list", "Queue"))["data"]) == 1, "old queues destroyed"
    # The kernel shows what OVS configured: an htb qdisc on the device and an ingress policer.
    tc = hv.exec("tc", "qdisc", "show", "dev", "q1")
    assert "htb" in tc and "ingress" in tc


def test_bad_input_changes_nothing(bridges):
    hv = bridges
    before = hv.vsctl("show")
    cases = [
        ({"bridge": "br-int", "name": "p1", "tag": 4096}, "tag"),
        ({"bridge": "br-int", "name": "p1", "trunks": [1, 5000]}, "trunks[1]"),
        ({"bridge": "br-int", "name": "p1", "type": "vxlan", "options": {"remote_ip": "300.1.1.1"}}, "remote_ip"),
        ({"bridge": "br-int", "name": "p1", "type": "vxlan", "options": {"remote_ip": "10.0.0.1", "key": "16777216"}}, "key"),
        ({"bridge": "br-int", "name": "p1", "type": "gre", "options": {"remote_ip": "10.0.0.1", "key": "4294967296"}}, "key"),
        ({"bridge": "br-int", "name": "p1", "type": "vxlan"}, "remote_ip"),
        ({"bridge": "br-int", "name": "p1", "type": "patch"}, "peer"),
        ({"bridge": "br-int", "name": "bad name"}, "name"),
        ({"bridge": "no-such-br", "name": "p1"}, "bridge"),
    ]
    for args, field in cases:
        result = run_module(hv, "ovs_port", args)
        assert result.get("failed"), args
        assert field in result["msg"], result["msg"]
    aggregate = run_module(hv, "ovs_ports", {"bridge": "br-int", "ports": [{"name": "ok1"}, {"name": "ok2", "tag": -1}]})
    assert aggregate.get("failed") and "ports[1].tag" in aggregate["msg"]
    assert hv.vsctl("show") == before, "a bad list changes nothing, not even its good entries"


def test_missing_bridge_fails_but_check_mode_assumes_an_earlier_task_makes_it(hv):
    """A role's --check on a new host: the bridge task before this one only predicted the bridge."""
    wanted = {"bridge": "br-new", "owner": "vxlan", "ports": tunnels(2)}
    applied = run_module(hv, "ovs_ports", wanted)
    assert applied.get("failed") is True and "bridge: 'br-new' does not exist" in applied["msg"], applied

    checked = run_module(hv, "ovs_ports", wanted, check=True, diff=True)
    assert checked.get("failed") is not True, checked
    assert checked["changed"] and sorted(checked["diff"]["after"]) == ["vxlan-ac1f0002", "vxlan-ac1f0003"]
    assert any("br-new" in w and "check mode" in w for w in checked["warnings"]), checked
    assert "add-br" not in checked["commands"][0], "the reported transaction is this module's own"
    assert hv.vsctl("list-br").split() == [], "check mode made nothing"


def test_purge_gives_a_moved_uplink_back(bridges):
    """Teardown's case: the fabric took the uplink from the operator's bridge; purging it hands it back
    (with the operator's bridge gone, it is deleted instead)."""
    hv = bridges
    hv.vsctl("add-br", "br-ex", "--", "set", "Bridge", "br-ex", "datapath_type=netdev",
             "--", "add-port", "br-ex", "uplink", "--", "set", "Interface", "uplink", "type=internal",
             "--", "add-port", "br-ex", "keep", "--", "set", "Interface", "keep", "type=internal")
    take = {"bridge": "br-int", "owner": "fabric", "purge": True, "ports": [{"name": "uplink", "type": "internal"}]}
    assert run_module(hv, "ovs_ports", take)["changed"]
    assert hv.vsctl("list-ports", "br-ex").split() == ["keep"]
    assert port(hv, "uplink")["external_ids"] == ["map", [["netfabric_moved_from", "br-ex"], ["netfabric_owner", "fabric"]]]
    assert run_module(hv, "ovs_ports", take)["changed"] is False

    released = run_module(hv, "ovs_ports", dict(take, ports=[]), diff=True)
    assert released["changed"] and released["diff"]["after"]["uplink"]["bridge"] == "br-ex", released
    assert hv.vsctl("list-ports", "br-ex").split() == ["keep", "uplink"]
    assert "uplink" not in hv.vsctl("list-ports", "br-int").split()
    assert interface(hv, "uplink")["type"] == "internal" and interface(hv, "uplink")["ofport"] > 0
    assert port(hv, "uplink")["external_ids"] == ["map", []], "given back without our marks"
    assert run_module(hv, "ovs_ports", dict(take, ports=[]))["changed"] is False

    assert run_module(hv, "ovs_ports", take)["changed"]
    hv.vsctl("del-br", "br-ex")
    assert run_module(hv, "ovs_ports", dict(take, ports=[]))["changed"]
    assert hv.vsctl("--columns=name", "find", "Port", "name=uplink").strip() == "", "its bridge is gone: deleted"
