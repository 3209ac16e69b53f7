"""netfabric.ovs.bridge_fdb against the real kernel: three hosts whose VXLAN devices (VNI 42, with
learning) reach each other only through the forwarding entries the module sets.

    h1 / h2 / h3: eth0 172.30.77.N/24 -- bridge br0 in namespace ful (the underlay)
                  vx (vxlan 42, local 172.30.77.N) in bridge br-t, which holds 10.77.0.N/24
    vm (on h1's br-t): 10.77.0.11/24, a VM for the proxy ARP test

A vxlan device with `proxy` answers every ARP request it is given from its neighbour table and
never sends one over the overlay (the l2pop model), so only the proxy test makes one.
"""

from __future__ import annotations

import json

import netns
import pytest
from conftest import run_module
from routerlab import Namespace, link

ZERO = "00:00:00:00:00:00"
UNDERLAY = "172.30.77.{}"
OVERLAY = "10.77.0.{}"
MAC = "52:54:00:77:00:0{}"  # br-t of host N: the MAC behind OVERLAY N


@pytest.fixture
def fabric():
    underlay = Namespace("ful").start()
    underlay.exec("ip", "link", "add", "br0", "type", "bridge")
    underlay.exec("ip", "link", "set", "br0", "up")
    hosts = []
    for n in (1, 2, 3):
        host = Namespace(f"fh{n}").start()
        link(host, "eth0", f"{UNDERLAY.format(n)}/24", underlay, f"p{n}", None)
        underlay.exec("ip", "link", "set", f"p{n}", "master", "br0")
        host.exec("ip", "link", "add", "br-t", "address", MAC.format(n), "type", "bridge")
        host.exec("ip", "address", "add", f"{OVERLAY.format(n)}/24", "dev", "br-t")
        host.exec("ip", "link", "set", "br-t", "up")
        vxlan(host, n)
        hosts.append(host)
    yield hosts
    for ns in hosts + [underlay]:
        ns.stop()


def vxlan(host, n, *extra):
    """vx: VNI 42 from this host's underlay address, a port of br-t."""
    host.exec("ip", "link", "add", "vx", "type", "vxlan", "id", "42", "local", UNDERLAY.format(n), "dstport", "4789", *extra)
    host.exec("ip", "link", "set", "vx", "master", "br-t")
    host.exec("ip", "link", "set", "vx", "up")


def fdb(host, dev="vx"):
    """The device's own entries as (mac, dst, state); a learned entry's state is ''."""
    raw = json.loads(host.exec("bridge", "-j", "fdb", "show", "dev", dev) or "[]")
    return sorted((e["mac"], e.get("dst"), e.get("state")) for e in raw if "self" in e.get("flags", []))


def flood_to(*peers):
    return [{"mac": ZERO, "dst": UNDERLAY.format(n)} for n in peers]


def test_head_end_replication_check_diff_idempotent_exact(fabric):
    h1, h2, h3 = fabric
    assert not h1.ping(OVERLAY.format(2)), "the overlay works with no entries: the test proves nothing"

    args = {"dev": "vx", "entries": flood_to(2, 3)}
    r = run_module(h1, "bridge_fdb", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["commands"] == [["bridge", "fdb", "append", ZERO, "dev", "vx", "dst", UNDERLAY.format(n), "self", "permanent"]
                             for n in (2, 3)]
    assert r["diff"]["before"] == {"dev": "vx", "entries": []}
    assert [(e["mac"], e["dst"], e["state"]) for e in r["diff"]["after"]["entries"]] == [
        (ZERO, UNDERLAY.format(2), "permanent"), (ZERO, UNDERLAY.format(3), "permanent")]
    assert fdb(h1) == [], "check mode changed the host"

    r = run_module(h1, "bridge_fdb", args, diff=True)
    assert r["changed"] is True, r
    assert fdb(h1) == [(ZERO, UNDERLAY.format(2), "permanent"), (ZERO, UNDERLAY.format(3), "permanent")]
    assert {"mac": ZERO, "dst": UNDERLAY.format(3), "vni": 42, "port": 4789, "via": None, "state": "permanent"} in r["entries"]
    run_module(h2, "bridge_fdb", {"dev": "vx", "entries": flood_to(1, 3)})
    # h3's device managed from h1 with netns
    r = run_module(h1, "bridge_fdb", {"dev": "vx", "entries": flood_to(1, 2), "netns": h3.netns})
    assert r["changed"] is True and r["commands"][0][:3] == ["bridge", "-n", h3.netns], r
    assert h1.ping(OVERLAY.format(2)) and h1.ping(OVERLAY.format(3)) and h2.ping(OVERLAY.format(3))

    for check in (True, False):
        again = run_module(h1, "bridge_fdb", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again

    # h2's MAC was learned from the pings; someone else's static entry; h3 leaves h1's flood list
    learned = [e for e in fdb(h1) if e[0] == MAC.format(2)]
    assert learned == [(MAC.format(2), UNDERLAY.format(2), "")], fdb(h1)
    h1.exec("bridge", "fdb", "add", "52:54:00:99:00:01", "dev", "vx", "dst", "172.30.77.9", "self", "static")
    exact = {"dev": "vx", "entries": flood_to(2), "state": "exact"}
    r = run_module(h1, "bridge_fdb", exact, check=True)
    assert r["commands"] == [["bridge", "fdb", "del", ZERO, "dev", "vx", "dst", UNDERLAY.format(3), "self"]], r
    r = run_module(h1, "bridge_fdb", exact)
    assert r["changed"] is True, r
    left = fdb(h1)
    assert (ZERO, UNDERLAY.format(3), "permanent") not in left and (ZERO, UNDERLAY.format(2), "permanent") in left
    assert (MAC.format(2), UNDERLAY.format(2), "") in left, "exact removed a learned entry"
    assert ("52:54:00:99:00:01", "172.30.77.9", "static") in left, "exact removed a static entry"
    h1.exec("ip", "neigh", "flush", "dev", "br-t")
    assert h1.ping(OVERLAY.format(2)) and not h1.ping(OVERLAY.format(3)), "h1's broadcasts still reach h3"
    assert run_module(h1, "bridge_fdb", exact)["changed"] is False

    r = run_module(h1, "bridge_fdb", {"dev": "vx", "entries": flood_to(2), "state": "absent"})
    assert r["changed"] is True and not any(e[0] == ZERO for e in fdb(h1)), r
    assert run_module(h1, "bridge_fdb", {"dev": "vx", "entries": flood_to(2), "state": "absent"})["changed"] is False


def test_neighbour_entries_answer_arp_locally(fabric):
    """l2pop: h1 knows h3's MAC, VTEP and address in advance; a VM's ARP for h3 is answered by h1's vx
    itself, so it resolves while h3's device is down and no VXLAN packet leaves h1."""
    h1, _h2, h3 = fabric
    vm = Namespace("fvm").start()
    try:
        h1.exec("ip", "link", "del", "vx")
        vxlan(h1, 1, "proxy")
        link(vm, "eth0", f"{OVERLAY.format(11)}/24", h1, "tap1", None)
        h1.exec("ip", "link", "set", "tap1", "master", "br-t")
        run_module(h1, "bridge_fdb", {"dev": "vx", "entries": flood_to(2, 3)})
        h3.exec("ip", "link", "set", "vx", "down")
        assert not vm.ping(OVERLAY.format(3))
        assert MAC.format(3) not in vm.exec("ip", "neigh", "show", OVERLAY.format(3)), "resolved with h3 down"

        args = {"dev": "vx", "entries": [{"mac": MAC.format(3), "dst": UNDERLAY.format(3)}],
                "neighbours": [{"ip": OVERLAY.format(3), "mac": MAC.format(3)}]}
        r = run_module(h1, "bridge_fdb", args, diff=True)
        assert r["changed"] is True, r
        assert r["commands"] == [
            ["bridge", "fdb", "replace", MAC.format(3), "dev", "vx", "dst", UNDERLAY.format(3), "self", "permanent"],
            ["ip", "neigh", "replace", OVERLAY.format(3), "lladdr", MAC.format(3), "dev", "vx", "nud", "permanent"]]
        assert {"ip": OVERLAY.format(3), "mac": MAC.format(3), "state": "PERMANENT"} in r["neighbours"]
        assert run_module(h1, "bridge_fdb", args)["changed"] is False

        vm.exec("ip", "neigh", "flush", "dev", "eth0")
        # ARP inside VXLAN: the inner ethertype sits 28 bytes into the UDP datagram (8 UDP + 8 VXLAN + 12 MACs)
        with netns.tcpdump(h1.netns, "udp port 4789 and udp[28:2] = 0x0806") as sent:
            vm.ping(OVERLAY.format(3))
        assert MAC.format(3) in vm.exec("ip", "neigh", "show", OVERLAY.format(3)), "no local ARP answer"
        assert sent == [], f"an ARP packet crossed the underlay: {sent}"

        # exact with no neighbours listed removes the permanent one, and only it
        r = run_module(h1, "bridge_fdb", {"dev": "vx", "neighbours": [], "state": "exact"})
        assert r["commands"] == [["ip", "neigh", "del", OVERLAY.format(3), "dev", "vx"]], r
        assert "PERMANENT" not in h1.exec("ip", "neigh", "show", "dev", "vx")
    finally:
        vm.stop()


def test_failures_name_the_field_or_roll_back(fabric):
    h1, _h2, _h3 = fabric
    h1.exec("bridge", "fdb", "append", ZERO, "dev", "vx", "dst", UNDERLAY.format(2), "self", "permanent")
    before = fdb(h1)
    bad = run_module(h1, "bridge_fdb", {"dev": "br-t", "entries": flood_to(2)})
    assert bad.get("failed") and "dev: 'br-t' is a bridge link, not a vxlan device" in bad["msg"], bad
    bad = run_module(h1, "bridge_fdb", {"dev": "vx9", "entries": flood_to(2)})
    assert bad.get("failed") and "dev: link 'vx9' does not exist" in bad["msg"], bad
    bad = run_module(h1, "bridge_fdb", {"dev": "vx", "entries": [{"mac": "52:54:00:00:00", "dst": "172.30.77.2"}]})
    assert bad.get("failed") and bad["msg"].startswith("entries[0].mac:"), bad
    # the kernel refuses an IPv6 remote on an IPv4 device: the line before it is undone
    bad = run_module(h1, "bridge_fdb", {"dev": "vx", "state": "exact",
                                        "entries": flood_to(3) + [{"mac": ZERO, "dst": "fd00::3"}]})
    assert bad.get("failed") and "rolled back" in bad["msg"] and "bridge fdb append 00:00:00:00:00:00 dev vx dst fd00::3" in bad["msg"], bad
    assert bad["applied"] == [["bridge", "fdb", "del", ZERO, "dev", "vx", "dst", UNDERLAY.format(2), "self"],
                              ["bridge", "fdb", "append", ZERO, "dev", "vx", "dst", UNDERLAY.format(3), "self", "permanent"]]
    assert fdb(h1) == before
    # a neighbour batch that fails after the fdb batch ran (IPv6 is off on the device): both undone
    h1.exec("sysctl", "-qw", "net.ipv6.conf.vx.disable_ipv6=1")
    bad = run_module(h1, "bridge_fdb", {"dev": "vx", "entries": flood_to(3),
                                        "neighbours": [{"ip": "10.77.0.3", "mac": "52:54:00:77:00:03"},
                                                       {"ip": "fd00::77:3", "mac": "52:54:00:77:00:03"}]})
    assert bad.get("failed") and "IPv6 is disabled on this device" in bad["msg"], bad
    assert "the host is as it was before this task" in bad["msg"], bad
    assert ["bridge", "fdb", "del", ZERO, "dev", "vx", "dst", UNDERLAY.format(3), "self"] in bad["rolled_back"], bad
    assert ["ip", "neigh", "del", "10.77.0.3", "dev", "vx"] in bad["rolled_back"], bad
    assert fdb(h1) == before
    assert "10.77.0.3" not in h1.exec("ip", "neigh", "show", "dev", "vx")
