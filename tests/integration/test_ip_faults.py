"""ip_link and ip_address under faults, against the real kernel: a write that fails half-way is
rolled back, and an `ip` that blocks is killed at the module's timeout.

Each failure is one the kernel really produces (a VNI already in use, a peer name taken, a master
that is no bridge, IPv6 disabled on the device); the host is compared before and after with the
whole `ip -d address show` table (ifindex aside: a link deleted and recreated gets a new one).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PREFIX, run_module


def table(hv):
    """Every link with its details and addresses, minus what moves by itself (ifindex, counters,
    timers, IPv6 link-local addresses the kernel adds moments after a link comes up)."""
    out = {}
    for e in json.loads(hv.exec("ip", "-j", "-d", "address", "show")):
        data = {k: v for k, v in e.get("linkinfo", {}).get("info_data", {}).items() if "timer" not in k}
        out[e["ifname"]] = (e.get("linkinfo", {}).get("info_kind"), sorted(e["flags"]), e["mtu"], e["address"],
                            e.get("master"), e.get("ifalias"), e.get("link"), json.dumps(data, sort_keys=True),
                            [f"{a['local']}/{a['prefixlen']}" for a in e.get("addr_info", []) if not a["local"].startswith("fe80:")])
    return out


def ip(hv, *args):
    hv.exec("ip", *args)


def test_failed_vxlan_recreate_leaves_the_link_exactly_as_it_was(hv):
    """vx-a moves to VNI 200, which vx-b holds: `link del` ran, `link add` fails; vx-a comes back."""
    ip(hv, "link", "add", "br0", "type", "bridge")
    r = run_module(hv, "ip_link", {"name": "vx-a", "kind": "vxlan", "vni": 100, "dstport": 4789, "mtu": 1400,
                                   "address": "02:00:00:00:aa:01", "master": "br0", "state": "up", "owner": "t"})
    assert r["changed"] and not r.get("failed"), r
    ip(hv, "address", "add", "10.9.0.1/24", "dev", "vx-a")
    ip(hv, "address", "add", "2001:db8::1/64", "dev", "vx-a")
    ip(hv, "link", "add", "vx-b", "type", "vxlan", "id", "200", "dstport", "4789")
    before = table(hv)

    r = run_module(hv, "ip_link", {"name": "vx-a", "kind": "vxlan", "vni": 200, "dstport": 4789})
    assert r.get("failed") is True, r
    assert "`ip link add name vx-a type vxlan id 200 dstport 4789` failed" in r["msg"], r["msg"]
    assert "VNI already exists" in r["msg"] and "applied before it: ip link del dev vx-a;" in r["msg"]
    assert "the host is as it was before this task" in r["msg"]
    assert r["applied"] == [["ip", "link", "del", "dev", "vx-a"]]
    assert r["rolled_back"][0][:6] == ["ip", "link", "add", "name", "vx-a", "type"]
    assert table(hv) == before
    assert r["link"]["vni"] == 100 and r["link"]["alias"] == "netfabric:t"
    assert run_module(hv, "ip_link", {"name": "vx-a", "kind": "vxlan", "vni": 100, "owner": "t"})["changed"] is False


def test_failed_veth_recreate_restores_both_ends(hv):
    """The new peer name is taken: both ends of the old pair come back with their MACs and settings."""
    ip(hv, "link", "add", "br0", "type", "bridge")
    ip(hv, "link", "add", "e0", "type", "veth", "peer", "name", "e0x")
    r = run_module(hv, "ip_link", {"name": "tap1", "kind": "veth", "peer": "tap1p", "mtu": 1400, "master": "br0", "state": "up"})
    assert r["changed"] and not r.get("failed"), r
    ip(hv, "link", "set", "dev", "tap1p", "mtu", "1300", "up")
    ip(hv, "address", "add", "10.1.0.2/24", "dev", "tap1p")
    before = table(hv)

    r = run_module(hv, "ip_link", {"name": "tap1", "kind": "veth", "peer": "e0x"})
    assert r.get("failed") is True, r
    assert "applied before it: ip link del dev tap1;" in r["msg"] and "as it was before" in r["msg"], r["msg"]
    assert table(hv) == before


def test_failed_creation_leaves_nothing_behind(hv):
    """`link add` works, `link set ... master` is refused (e0 is no bridge): the new pair is deleted."""
    ip(hv, "link", "add", "e0", "type", "veth", "peer", "name", "e0x")
    before = table(hv)
    r = run_module(hv, "ip_link", {"name": "n1", "kind": "veth", "peer": "n1p", "master": "e0", "state": "up"})
    assert r.get("failed") is True, r
    assert r["applied"] == [["ip", "link", "add", "name", "n1", "type", "veth", "peer", "name", "n1p"]], r
    assert r["rolled_back"] == [["ip", "link", "del", "dev", "n1"]]
    assert "not supported" in r["msg"]
    assert table(hv) == before


def test_failed_address_write_puts_the_addresses_back(hv):
    """exact: 10.0.0.1 is deleted and 10.0.0.2 added, then the IPv6 address is refused (IPv6 off)."""
    ip(hv, "link", "add", "a0", "type", "veth", "peer", "name", "a0x")
    ip(hv, "address", "add", "10.0.0.1/24", "dev", "a0")
    ip(hv, "address", "add", "10.0.0.9/24", "dev", "a0")
    hv.exec("sysctl", "-qw", "net.ipv6.conf.a0.disable_ipv6=1")
    before = table(hv)
    r = run_module(hv, "ip_address", {"dev": "a0", "addresses": ["10.0.0.2/24", "2001:db8::5/64"], "state": "exact"})
    assert r.get("failed") is True, r
    assert "`ip address add 2001:db8::5/64 dev a0` failed" in r["msg"] and "IPv6 is disabled" in r["msg"], r["msg"]
    assert len(r["applied"]) == 3 and r["rolled_back"], r
    assert table(hv) == before
    assert r["addresses"] == ["10.0.0.1/24", "10.0.0.9/24"]


# ---------------------------------------------------------------- never a hang

RELEASE = """
import os, sys, time
path = sys.argv[1]
time.sleep(float(sys.argv[2]))
while os.path.exists(path):
    try:  # a writer lets every reader blocked in open() go on
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        os.unlink(path)
"""


@pytest.fixture
def blocking_netns():
    """A name under /run/netns that is a FIFO: `ip -n NAME` blocks in open(2) until a writer comes.

    A real `ip` process, really blocked in the kernel: the nearest to a namespace whose operations
    hang. A detached helper releases and removes it after two minutes even if this run is killed,
    so no later `ip netns pids` (the lab's cleanup) can block on it.
    """
    name = f"{PREFIX}-blocking"
    path = Path("/run/netns") / name
    path.parent.mkdir(exist_ok=True)
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    keeper = subprocess.Popen([sys.executable, "-c", RELEASE, str(path), "120"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield name
    keeper.kill()
    subprocess.run([sys.executable, "-c", RELEASE, str(path), "0"], check=True, timeout=30)
    assert not path.exists() or not stat.S_ISFIFO(path.stat().st_mode)


@pytest.mark.parametrize("module, args", [
    ("ip_link", {"name": "x0", "mtu": 1400}),
    ("ip_address", {"dev": "x0", "addresses": ["10.0.0.1/24"]}),
])
def test_a_blocked_ip_is_killed_at_the_timeout_and_named(hv, blocking_netns, module, args):
    r = run_module(hv, module, {**args, "netns": blocking_netns, "timeout": 2})
    assert r.get("failed") is True, r
    assert "did not finish within 2 s and was killed" in r["msg"], r["msg"]
    assert f"-n {blocking_netns} -j -d address show" in r["msg"]
    assert r["cmd"][-6:] == ["-n", blocking_netns, "-j", "-d", "address", "show"]
