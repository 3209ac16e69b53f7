"""A provider NIC of its own on netdev hosts (the namespace lab): red on provider VLAN 300.

The example fabric of test_site (three netdev hypervisors whose uplinks meet on a Linux bridge);
hv1 and hv2 get a second link into that switch, prov0, as `netfabric_provider_nic`, hv3 keeps
carrying red through br-phy and its uplink. One wire, one VLAN: all three reach each other,
blue (VXLAN, same addresses) stays apart, red leaves hv1 tagged 300 on prov0 and not on the
uplink; the second run changes nothing and teardown removes br-provider.
"""

from __future__ import annotations

import re

import pytest
from conftest import PREFIX
from sitelab import Lab

import netns

COOKIE = "cookie=0x4e46"
NIC = "prov0"


@pytest.fixture
def lab(tmp_path):
    overrides = {host: {"netfabric_provider_nic": NIC} for host in ("hv1", "hv2")}
    made = Lab(f"{PREFIX}pn", "vxlan", tmp_path / "lab", host_overrides=overrides)
    try:
        for index, host in enumerate(("hv1", "hv2")):  # second links into the lab's underlay switch
            hv, switch = made.hv(host), f"{made.prefix}-sw"
            netns.sh("ip", "link", "add", NIC, "netns", hv.netns, "type", "veth", "peer", "name", f"q{index}-{host}", "netns", switch)
            netns.sh("ip", "-n", switch, "link", "set", f"q{index}-{host}", "master", "sw0", "up")
            netns.sh("ip", "-n", hv.netns, "link", "set", NIC, "up")
        tenants = made.group()["netfabric_tenants"]
        for tenant in tenants:
            if tenant["name"] == "red":
                tenant["provider_vlan"] = 300
        made.edit_group(netfabric_tenants=tenants)
        yield made
    finally:
        netns.down(made.prefix)


def owned_flows(lab, host, bridge):
    out = lab.hv(host).ofctl("-O", "OpenFlow14", "--names", "dump-flows", bridge)
    return [line.strip() for line in out.splitlines() if COOKIE in line]


def test_provider_nic_carries_red_next_to_a_host_without_one(lab):
    first = lab.playbook()
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values()), first

    assert lab.reaches("tap-red-1", "tap-red-2")  # br-provider to br-provider
    assert lab.reaches("tap-red-3", "tap-red-1")  # br-phy's uplink to br-provider: the same VLAN on the wire
    assert lab.reaches("tap-blue-1", "tap-blue-3")
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert not lab.reaches("tap-blue-3", "tap-red-2")

    hv1 = lab.hv("hv1")
    with hv1.tcpdump("", "-e", iface=NIC) as provider, hv1.tcpdump("", "-e") as uplink:
        assert lab.reaches("tap-red-1", "tap-red-2")
    assert [f for f in provider if re.search(r"802\.1Q.*vlan 300.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", f)], provider
    assert not [f for f in uplink if "ICMP echo" in f], uplink

    for host in ("hv1", "hv2"):
        hv = lab.hv(host)
        assert sorted(hv.vsctl("list-ports", "br-provider").split()) == ["phy-br-provider", NIC]
        assert hv.vsctl("list-ports", "br-phy").split() == ["uplink"]
        assert "int-br-provider" in hv.vsctl("list-ports", "br-int").split()
        flows = owned_flows(lab, host, "br-provider")
        assert len(flows) == 4 and [f for f in flows if f"in_port={NIC}" in f and "dl_vlan=300" in f], flows
        # secure: no NORMAL flow of OVS's own, only ours
        dump = hv.ofctl("-O", "OpenFlow14", "dump-flows", "br-provider").splitlines()[1:]
        assert [line for line in dump if COOKIE not in line] == [], dump
    assert "phy-br-int" in lab.hv("hv3").vsctl("list-ports", "br-phy").split()

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second

    lab.playbook("teardown")
    for host in ("hv1", "hv2"):
        assert lab.hv(host).vsctl("list-br").split() == [], host
