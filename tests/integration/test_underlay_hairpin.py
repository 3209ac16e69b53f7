"""An underlay switch that sends each host's own frames back, and a br-phy that learned its own MAC
on the uplink: the fabric still carries tenants between hosts.

The example fabric of test_site (three netdev hypervisors, their uplinks on a Linux bridge in the
switch namespace) with hairpin on for every port of that bridge, as podman's CNI networks have
it: every broadcast a host sends (br-phy's ARP) comes back to it. Without br-phy's guard of the
underlay MAC, NORMAL learns the host's own MAC on the uplink and drops what the other hosts send
it ("learned port is input port"); the molecule scenarios failed that way on podman's networks.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from conftest import PREFIX
from sitelab import Lab
from test_site import assert_isolated_tenants

import netns

COOKIE = "cookie=0x4e46"
RED = ["tap-red-1", "tap-red-2", "tap-red-3"]


@pytest.fixture
def lab(tmp_path):
    made = Lab(f"{PREFIX}hp", "vxlan", tmp_path / "lab")
    yield made
    netns.down(made.prefix)


def switch_ports(lab):
    """The underlay switch's bridge ports (one veth per hypervisor) as `bridge -d link` shows them."""
    out = netns.sh("bridge", "-n", f"{lab.prefix}-sw", "-j", "-d", "link", "show", capture=True)
    return [port for port in json.loads(out or "[]") if port.get("master") == "sw0"]


def hairpin_on(lab):
    for port in switch_ports(lab):
        netns.sh("bridge", "-n", f"{lab.prefix}-sw", "link", "set", "dev", port["ifname"], "hairpin", "on")
    ports = switch_ports(lab)
    assert len(ports) == len(lab.hosts()) and all(port.get("hairpin") for port in ports), ports


def appctl(hv, *args):
    return hv.exec("ovs-appctl", "-t", f"{hv.dir}/ovs-vswitchd.ctl", *args)


def uplink_mac(hv):
    return json.loads(hv.exec("ip", "-j", "link", "show", "uplink"))[0]["address"]


def learned_on_uplink(hv, mac):
    """fdb/show br-phy lines that put `mac` on the uplink's port number."""
    ofport = hv.vsctl("get", "Interface", "uplink", "ofport").strip()
    return [line for line in appctl(hv, "fdb/show", "br-phy").splitlines()[1:] if line.split()[:1] == [ofport] and mac in line]


def underlay_problems(lab):
    """Host by host: resolve every other host's underlay address afresh (ARP broadcasts from br-phy,
    which the switch sends back) and ping it; then, before anyone else talks to this host, ask
    br-phy where it has the host's own MAC. Returns what went wrong."""
    addresses = {name: str(ipaddress.ip_interface(values["netfabric_underlay_ip"]).ip) for name, values in lab.hosts().items()}
    problems = []
    for name in addresses:
        hv = lab.hv(name)
        hv.exec("ip", "neigh", "flush", "dev", "br-phy", check=False)
        for peer, address in addresses.items():
            if peer != name and hv.exec("ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False, capture=False).returncode != 0:
                problems.append(f"{name} -> {peer} ({address}): no reply over the underlay")
        mac = uplink_mac(hv)
        if learned_on_uplink(hv, mac):
            problems.append(f"{name}: br-phy learned its own MAC {mac} on the uplink:\n" + appctl(hv, "fdb/show", "br-phy"))
    return problems


def reflected_drops(hv, mac):
    """Packets the guard dropped: the host's own frames, back from the switch."""
    out = hv.ofctl("-O", "OpenFlow14", "--names", "dump-flows", "br-phy", f"in_port=uplink,dl_src={mac}")
    counts = [int(m.group(1)) for line in out.splitlines() if COOKIE in line for m in [re.search(r"n_packets=(\d+)", line)] if m]
    return sum(counts)


def assert_red_mesh(lab, why):
    """The tenants stay apart, and every red VM reaches every other red VM."""
    assert_isolated_tenants(lab)
    for source in RED:
        for target in RED:
            if source != target:
                assert lab.reaches(source, target), f"{source} -> {target} {why}"


def test_tenants_cross_a_switch_that_reflects_each_hosts_frames(lab):
    hairpin_on(lab)
    first = lab.playbook()
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values()), first

    # The switch does reflect: each host's ARP broadcasts come back. Whether NORMAL then keeps the
    # host's MAC on the uplink is a race (the unguarded fabric lost it in some rounds only); the
    # guard never lets it learn it there, and the hosts reach each other every time.
    for _round in range(5):
        problems = underlay_problems(lab)
        assert not problems, "\n".join(problems)
        assert_red_mesh(lab, "across the reflecting switch")

    # Poison every br-phy by hand: its own MAC as a static entry on the uplink, which learning can
    # never move back. Frames for the host still reach it, so the tenants still cross.
    for name in lab.hosts():
        hv = lab.hv(name)
        mac = uplink_mac(hv)
        appctl(hv, "fdb/add", "br-phy", "uplink", "0", mac)
        assert learned_on_uplink(hv, mac), appctl(hv, "fdb/show", "br-phy")
    assert_red_mesh(lab, "with br-phy's fdb poisoned")

    # What did it: the guard of each host's own MAC, first on br-phy, and it saw the reflections.
    for name in lab.hosts():
        hv = lab.hv(name)
        mac = uplink_mac(hv)
        assert hv.vsctl("get", "Interface", "br-phy", "mac_in_use").strip().strip('"') == mac
        owned = [line for line in hv.ofctl("-O", "OpenFlow14", "--names", "--no-stats", "dump-flows", "br-phy").splitlines() if COOKIE in line]
        assert sorted(line.split(", ", 1)[1].strip() for line in owned) == [
            f"priority=5,in_port=uplink,vlan_tci=0x0000/0x1fff,dl_dst={mac} actions=LOCAL",
            f"priority=6,in_port=uplink,dl_src={mac} actions=drop",
        ], owned
        assert reflected_drops(hv, mac) > 0, f"{name}: no reflected frame was dropped: does the switch reflect?"

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second
