"""netfabric.ovs.ip_link against the real kernel, inside a hypervisor namespace.

Kinds this kernel has (veth, bridge, macvlan, vxlan) are driven end to end here; vlan, dummy,
gre and gretap need the User-Mode Linux tier (their argv is unit-tested).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PREFIX, run_module


def links(hv):
    return {entry["ifname"]: entry for entry in json.loads(hv.exec("ip", "-j", "-d", "link", "show"))}


def info(entry):
    return entry.get("linkinfo", {}).get("info_data", {})


def comparable(table):
    """Link table without the counters and timers that move by themselves."""
    return {name: (e.get("linkinfo", {}).get("info_kind"), e["flags"], e["mtu"], e["address"], e.get("master"),
                   json.dumps({k: v for k, v in info(e).items() if "timer" not in k}, sort_keys=True))
            for name, e in table.items()}


@pytest.fixture
def other_ns(hv):
    """A second named namespace (a 'VM') next to the hypervisor, removed afterwards."""
    name = f"{PREFIX}-{hv.name}-vm"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


def test_veth_create_check_change_delete(hv):
    args = {"name": "tap1", "kind": "veth", "peer": "tap1p", "mtu": 1400, "state": "up"}
    before = comparable(links(hv))

    r = run_module(hv, "ip_link", args, check=True, diff=True)
    assert r["changed"] is True and not r.get("failed")
    assert r["commands"] == [["ip", "link", "add", "name", "tap1", "type", "veth", "peer", "name", "tap1p"],
                             ["ip", "link", "set", "dev", "tap1", "mtu", "1400", "up"]]
    assert r["diff"]["before"] == {"name": "tap1", "state": "absent"}
    assert r["diff"]["after"]["mtu"] == 1400
    assert comparable(links(hv)) == before, "check mode changed the host"

    r = run_module(hv, "ip_link", args, diff=True)
    assert r["changed"] is True and not r.get("failed"), r
    table = links(hv)
    assert table["tap1"]["linkinfo"]["info_kind"] == "veth"
    assert table["tap1"]["link"] == "tap1p" and table["tap1p"]["link"] == "tap1"
    assert table["tap1"]["mtu"] == 1400 and "UP" in table["tap1"]["flags"]
    assert r["link"]["address"] == table["tap1"]["address"]
    assert r["diff"]["after"] == r["link"]

    for check in (True, False):
        again = run_module(hv, "ip_link", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again
    assert comparable(links(hv)) == comparable(table)

    r = run_module(hv, "ip_link", {**args, "mtu": 1300, "state": "down"}, diff=True)
    assert r["changed"] is True
    assert r["commands"] == [["ip", "link", "set", "dev", "tap1", "mtu", "1300", "down"]]
    assert (r["diff"]["before"]["mtu"], r["diff"]["after"]["mtu"]) == (1400, 1300)
    table = links(hv)
    assert table["tap1"]["mtu"] == 1300 and "UP" not in table["tap1"]["flags"]
    assert table["tap1"]["address"] == r["diff"]["before"]["address"], "an in-place change must not recreate"

    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", {"name": "tap1", "state": "absent"}, check=True)
    assert r["changed"] is True and r["commands"] == [["ip", "link", "del", "dev", "tap1"]]
    assert comparable(links(hv)) == snapshot

    r = run_module(hv, "ip_link", {"name": "tap1", "state": "absent"})
    assert r["changed"] is True
    assert "tap1" not in links(hv) and "tap1p" not in links(hv)
    r = run_module(hv, "ip_link", {"name": "tap1", "state": "absent"})
    assert r["changed"] is False and r["commands"] == []


def test_veth_peer_in_another_namespace(hv, other_ns):
    args = {"name": "tap-vm", "kind": "veth", "peer": "eth0", "peer_netns": other_ns, "state": "up"}
    r = run_module(hv, "ip_link", args)
    assert r["changed"] is True, r
    assert r["commands"][0] == ["ip", "link", "add", "name", "tap-vm", "type", "veth", "peer", "name", "eth0",
                                "netns", other_ns]
    assert r["link"]["peer"] == "eth0" and r["link"]["peer_netns"] == other_ns
    peer = json.loads(subprocess.run(["ip", "-n", other_ns, "-j", "link", "show", "eth0"], check=True,
                                     capture_output=True, text=True).stdout)[0]
    assert peer["link_index"] == links(hv)["tap-vm"]["ifindex"]

    again = run_module(hv, "ip_link", args)
    assert again["changed"] is False and again["commands"] == [], again

    # Peer name differs: immutable, so delete and recreate (and stay up).
    r = run_module(hv, "ip_link", {**args, "peer": "eth1", "state": "present"})
    assert r["changed"] is True
    assert r["commands"] == [["ip", "link", "del", "dev", "tap-vm"],
                             ["ip", "link", "add", "name", "tap-vm", "type", "veth", "peer", "name", "eth1",
                              "netns", other_ns],
                             ["ip", "link", "set", "dev", "tap-vm", "up"]]
    names = [e["ifname"] for e in json.loads(subprocess.run(["ip", "-n", other_ns, "-j", "link", "show"], check=True,
                                                            capture_output=True, text=True).stdout)]
    assert "eth1" in names and "eth0" not in names
    assert "UP" in links(hv)["tap-vm"]["flags"]

    # The same link managed from outside with `netns` (ip -n): nothing to do.
    r = run_module(hv, "ip_link", {"name": "eth1", "kind": "veth", "peer": "tap-vm", "peer_netns": hv.netns,
                                   "netns": other_ns})
    assert r["changed"] is False and r["commands"] == [], r
    r = run_module(hv, "ip_link", {"name": "eth1", "netns": other_ns, "mtu": 1450})
    assert r["commands"] == [["ip", "-n", other_ns, "link", "set", "dev", "eth1", "mtu", "1450"]]
    assert r["link"]["mtu"] == 1450


def test_bridge_master_and_nomaster(hv):
    r = run_module(hv, "ip_link", {"name": "br0", "kind": "bridge", "state": "up"})
    assert r["changed"] is True and links(hv)["br0"]["linkinfo"]["info_kind"] == "bridge"
    port = {"name": "p0", "kind": "veth", "peer": "p0x", "master": "br0", "state": "up"}
    r = run_module(hv, "ip_link", port)
    assert r["commands"][-1] == ["ip", "link", "set", "dev", "p0", "master", "br0", "up"]
    assert links(hv)["p0"]["master"] == "br0"
    assert run_module(hv, "ip_link", port)["changed"] is False

    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", {"name": "p0", "master": ""}, check=True, diff=True)
    assert r["changed"] is True and r["commands"] == [["ip", "link", "set", "dev", "p0", "nomaster"]]
    assert (r["diff"]["before"]["master"], r["diff"]["after"]["master"]) == ("br0", None)
    assert comparable(links(hv)) == snapshot
    r = run_module(hv, "ip_link", {"name": "p0", "master": ""})
    assert r["changed"] is True and "master" not in links(hv)["p0"]
    assert run_module(hv, "ip_link", {"name": "p0", "master": ""})["changed"] is False

    # Kind changes: the bridge becomes a veth... and the old port is not touched.
    r = run_module(hv, "ip_link", {"name": "br0", "kind": "veth", "peer": "br0x"})
    assert r["commands"][:2] == [["ip", "link", "del", "dev", "br0"],
                                 ["ip", "link", "add", "name", "br0", "type", "veth", "peer", "name", "br0x"]]
    assert links(hv)["br0"]["linkinfo"]["info_kind"] == "veth"


def test_bridge_port_isolated(hv):
    """Split horizon on a bridge port: set in the creating batch, checked, switched, unchanged twice."""
    run_module(hv, "ip_link", {"name": "br0", "kind": "bridge", "state": "up"})
    port = {"name": "p0", "kind": "veth", "peer": "p0x", "master": "br0", "isolated": True, "state": "up"}
    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", port, check=True, diff=True)
    assert r["changed"] is True and r["diff"]["after"]["isolated"] is True and comparable(links(hv)) == snapshot
    r = run_module(hv, "ip_link", port)
    assert r["commands"][-3:] == [["ip", "link", "set", "dev", "p0", "master", "br0"],
                                  ["ip", "link", "set", "dev", "p0", "type", "bridge_slave", "isolated", "on"],
                                  ["ip", "link", "set", "dev", "p0", "up"]]  # isolated before it forwards
    assert links(hv)["p0"]["linkinfo"]["info_slave_data"]["isolated"] is True and r["link"]["isolated"] is True
    assert run_module(hv, "ip_link", port)["changed"] is False

    r = run_module(hv, "ip_link", {"name": "p0", "isolated": False}, check=True, diff=True)
    assert r["changed"] is True and (r["diff"]["before"]["isolated"], r["diff"]["after"]["isolated"]) == (True, False)
    assert links(hv)["p0"]["linkinfo"]["info_slave_data"]["isolated"] is True
    assert run_module(hv, "ip_link", {"name": "p0", "isolated": False})["changed"] is True
    assert links(hv)["p0"]["linkinfo"]["info_slave_data"]["isolated"] is False
    assert run_module(hv, "ip_link", {"name": "p0", "isolated": False})["changed"] is False

    r = run_module(hv, "ip_link", {"name": "p0x", "isolated": True})  # the peer is in no bridge
    assert r.get("failed") and "isolated: link 'p0x' is in no bridge; give master" in r["msg"], r


def test_macvlan_mode_is_immutable(hv):
    hv.exec("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0x")
    args = {"name": "mv0", "kind": "macvlan", "link": "up0", "macvlan_mode": "bridge", "mtu": 1400}
    r = run_module(hv, "ip_link", args)
    assert r["changed"] is True, r
    entry = links(hv)["mv0"]
    assert entry["link"] == "up0" and info(entry)["mode"] == "bridge" and entry["mtu"] == 1400
    assert run_module(hv, "ip_link", args)["changed"] is False

    r = run_module(hv, "ip_link", {**args, "macvlan_mode": "private"}, diff=True)
    assert r["commands"][0] == ["ip", "link", "del", "dev", "mv0"]
    assert (r["diff"]["before"]["macvlan_mode"], r["diff"]["after"]["macvlan_mode"]) == ("bridge", "private")
    assert info(links(hv)["mv0"])["mode"] == "private" and links(hv)["mv0"]["mtu"] == 1400


def test_vxlan_unicast(hv):
    args = {"name": "vx1001", "kind": "vxlan", "vni": 1001, "local": "192.0.2.1", "remote": "192.0.2.2",
            "dstport": 4789, "learning": False, "ttl": 64, "state": "up"}
    r = run_module(hv, "ip_link", args)
    assert r["changed"] is True, r
    data = info(links(hv)["vx1001"])
    assert (data["id"], data["local"], data["remote"], data["port"], data["learning"], data["ttl"]) == \
        (1001, "192.0.2.1", "192.0.2.2", 4789, False, 64)
    again = run_module(hv, "ip_link", args, check=True)
    assert again["changed"] is False and again["commands"] == []
    assert run_module(hv, "ip_link", args)["changed"] is False

    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", {**args, "vni": 1002}, check=True, diff=True)
    assert r["changed"] is True
    assert r["commands"][:2] == [["ip", "link", "del", "dev", "vx1001"],
                                 ["ip", "link", "add", "name", "vx1001", "type", "vxlan", "id", "1002", "local",
                                  "192.0.2.1", "remote", "192.0.2.2", "dstport", "4789", "nolearning", "ttl", "64"]]
    assert (r["diff"]["before"]["vni"], r["diff"]["after"]["vni"]) == (1001, 1002)
    assert comparable(links(hv)) == snapshot

    r = run_module(hv, "ip_link", {**args, "vni": 1002})
    assert info(links(hv)["vx1001"])["id"] == 1002 and "UP" in links(hv)["vx1001"]["flags"]
    # Omitted options are left alone: no recreate for a partial description.
    assert run_module(hv, "ip_link", {"name": "vx1001", "kind": "vxlan", "vni": 1002})["changed"] is False


def test_vxlan_multicast_group_with_dev(hv):
    hv.exec("ip", "link", "add", "under0", "type", "veth", "peer", "name", "under0x")
    hv.exec("ip", "link", "set", "under0", "up")
    args = {"name": "vx42", "kind": "vxlan", "vni": 42, "group": "239.1.1.1", "link": "under0", "dstport": 4789}
    r = run_module(hv, "ip_link", args)
    assert r["commands"] == [["ip", "link", "add", "name", "vx42", "type", "vxlan", "id", "42", "group",
                              "239.1.1.1", "dev", "under0", "dstport", "4789"]], r
    data = info(links(hv)["vx42"])
    assert (data["group"], data["link"], data["id"]) == ("239.1.1.1", "under0", 42)
    assert run_module(hv, "ip_link", args)["changed"] is False

    r = run_module(hv, "ip_link", {**args, "group": "239.1.1.2"})
    assert r["changed"] is True and info(links(hv)["vx42"])["group"] == "239.1.1.2"
    r = run_module(hv, "ip_link", {"name": "vx42", "state": "absent"})
    assert r["changed"] is True and "vx42" not in links(hv)


@pytest.mark.parametrize("args, words", [
    ({"name": "averyveryverylongname", "kind": "bridge"}, ["name", "1-15 characters"]),
    ({"name": "v.1", "kind": "vlan", "link": "lo"}, ["vlan_id"]),
    ({"name": "v.1", "kind": "vlan", "link": "lo", "vlan_id": 4095}, ["vlan_id", "1-4094"]),
    ({"name": "vx", "kind": "vxlan", "vni": 16777216}, ["vni", "0-16777215"]),
    ({"name": "vx", "kind": "vxlan", "vni": 1, "remote": "192.0.2.300"}, ["remote", "IPv4/IPv6"]),
    ({"name": "g", "kind": "gre", "key": -1}, ["key", "0-4294967295"]),
    ({"name": "t", "kind": "veth"}, ["peer"]),
    ({"name": "b", "kind": "bridge", "vni": 3}, ["vni", "vxlan"]),
    ({"name": "m", "kind": "macvlan", "link": "nosuch0"}, ["link", "nosuch0", "does not exist"]),
    ({"name": "nosuch1", "mtu": 1400}, ["nosuch1", "does not exist", "kind"]),
])
def test_bad_input_is_rejected_and_host_untouched(hv, args, words):
    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", args)
    assert r.get("failed") is True, r
    assert all(word in r["msg"] for word in words), r["msg"]
    assert comparable(links(hv)) == snapshot


def test_check_mode_plans_a_missing_link_an_earlier_task_would_make(hv):
    """Without kind the link must exist; in check mode an OVS bridge's port made earlier in the run is assumed."""
    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", {"name": "br-new", "state": "up", "mtu": 1450}, check=True)
    assert r.get("failed") is not True, r
    assert r["changed"] and r["commands"] == [["ip", "link", "set", "dev", "br-new", "mtu", "1450", "up"]], r
    assert any("br-new" in w and "check mode" in w for w in r["warnings"]), r
    assert comparable(links(hv)) == snapshot


def test_kernel_refusal_is_reported_with_the_commands(hv):
    """The veth peer name is taken: the batch fails on its first line and ip's error comes back."""
    hv.exec("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e0x")
    snapshot = comparable(links(hv))
    r = run_module(hv, "ip_link", {"name": "e1", "kind": "veth", "peer": "e0x", "state": "up"})
    assert r.get("failed") is True, r
    assert r["cmd"][-2:] == ["-batch", "-"] and r["rc"] != 0
    assert "exists" in r["stderr"]
    assert r["commands"] == [["ip", "link", "add", "name", "e1", "type", "veth", "peer", "name", "e0x"],
                             ["ip", "link", "set", "dev", "e1", "up"]]
    assert comparable(links(hv)) == snapshot
