"""A provider NIC of its own on netdev hosts (the namespace lab): red on provider VLAN 300.

The example fabric of test_site (three netdev hypervisors whose uplinks meet on a Linux bridge);
hv2 gets a second link into that switch, prov0, as `netfabric_provider_nic`, hv1 two (prov0,
prov1) as a bonded one (an Open vSwitch active-backup bond on br-provider), hv3 keeps carrying
red through br-phy and its uplink. One wire, one VLAN: all three reach each other, blue (VXLAN,
same addresses) stays apart, red leaves hv2 tagged 300 on prov0 and not on the uplink; the
second run changes nothing; red goes on when hv1's active member loses its link; hv1's provider
NIC removed from the inventory, the next run removes its br-provider and red goes through br-phy;
teardown removes the rest.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from conftest import PREFIX
from playrun import owned_flow_files
from sitelab import Lab

import netns

COOKIE = "cookie=0x4e46"
NIC = "prov0"
BOND = {"name": "bprov", "members": [NIC, "prov1"]}  # active-backup, LACP off: the lab's switch speaks none


@pytest.fixture
def lab(tmp_path):
    overrides = {"hv1": {"netfabric_provider_nic": BOND}, "hv2": {"netfabric_provider_nic": NIC}}
    made = Lab(f"{PREFIX}pn", "vxlan", tmp_path / "lab", host_overrides=overrides)
    try:
        for host in ("hv1", "hv2"):  # second (and third) links into the lab's underlay switch
            hv, switch = made.hv(host), f"{made.prefix}-sw"
            for nic in BOND["members"] if host == "hv1" else [NIC]:
                netns.sh("ip", "link", "add", nic, "netns", hv.netns, "type", "veth", "peer", "name", switch_side(host, nic), "netns", switch)
                netns.sh("ip", "-n", switch, "link", "set", switch_side(host, nic), "master", "sw0", "up")
                netns.sh("ip", "-n", hv.netns, "link", "set", nic, "up")
        tenants = made.group()["netfabric_tenants"]
        for tenant in tenants:
            if tenant["name"] == "red":
                tenant["provider_vlan"] = 300
        made.edit_group(netfabric_tenants=tenants)
        yield made
    finally:
        netns.down(made.prefix)


def switch_side(host, nic):
    """The underlay switch's end of a host's provider NIC."""
    return f"q{nic[-1]}-{host}"


def bond_show(lab):
    """({member: enabled?}, the active member or None) of hv1's provider bond."""
    return lab.hv("hv1").bond_show(BOND["name"])[:2]


def wait_for(check, what, seconds=60):
    """Poll until check() is true; generous: the lab shares a loaded machine."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.5)


def owned_flows(lab, host, bridge):
    out = lab.hv(host).ofctl("-O", "OpenFlow14", "--names", "dump-flows", bridge)
    return [line.strip() for line in out.splitlines() if COOKIE in line]


def test_provider_nic_plain_and_bonded_carries_red_next_to_a_host_without_one_and_goes(lab):
    first = lab.playbook()
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values()), first

    assert lab.reaches("tap-red-1", "tap-red-2")  # br-provider to br-provider
    assert lab.reaches("tap-red-3", "tap-red-1")  # br-phy's uplink to br-provider: the same VLAN on the wire
    assert lab.reaches("tap-blue-1", "tap-blue-3")
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert not lab.reaches("tap-blue-3", "tap-red-2")

    hv2 = lab.hv("hv2")
    with hv2.tcpdump("", "-e", iface=NIC) as provider, hv2.tcpdump("", "-e") as uplink:
        assert lab.reaches("tap-red-2", "tap-red-1")
    assert [f for f in provider if re.search(r"802\.1Q.*vlan 300.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo request", f)], provider
    assert not [f for f in uplink if "ICMP echo" in f], uplink

    for host, nics in (("hv1", BOND["members"]), ("hv2", [NIC])):
        hv = lab.hv(host)
        port = BOND["name"] if host == "hv1" else NIC
        assert sorted(hv.vsctl("list-ports", "br-provider").split()) == sorted(["phy-br-provider", port])
        assert hv.vsctl("list-ports", "br-phy").split() == ["uplink"]
        assert "int-br-provider" in hv.vsctl("list-ports", "br-int").split()
        flows = owned_flows(lab, host, "br-provider")
        # the patch's two, the drop, and VLAN 300 from each NIC (a bond's members: it has no OpenFlow port)
        assert len(flows) == 3 + len(nics) and all([f for f in flows if f"in_port={nic}" in f and "dl_vlan=300" in f] for nic in nics), flows
        # secure: no NORMAL flow of OVS's own, only ours
        dump = hv.ofctl("-O", "OpenFlow14", "dump-flows", "br-provider").splitlines()[1:]
        assert [line for line in dump if COOKIE not in line] == [], dump
    assert "phy-br-int" in lab.hv("hv3").vsctl("list-ports", "br-phy").split()
    assert "br-provider" not in lab.hv("hv3").vsctl("list-br").split()

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second

    # A pulled cable: hv1's active provider member goes down at the switch; red goes on over the other.
    wait_for(lambda: all(bond_show(lab)[0].get(m) for m in BOND["members"]), "hv1: every provider member enabled")
    active = bond_show(lab)[1]
    assert active in BOND["members"]
    netns.sh("ip", "-n", f"{lab.prefix}-sw", "link", "set", switch_side("hv1", active), "down")
    wait_for(lambda: bond_show(lab)[0][active] is False, f"hv1: {active} disabled")
    members, now_active = bond_show(lab)
    assert members == {m: m != active for m in BOND["members"]} and now_active not in (None, active), members
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-red-3", "tap-red-1")
    netns.sh("ip", "-n", f"{lab.prefix}-sw", "link", "set", switch_side("hv1", active), "up")

    # hv1's provider NIC leaves the inventory: its br-provider goes (and the restore file of its flows); red goes through br-phy.
    hosts = lab.example / "hosts.yml"
    data = yaml.safe_load(hosts.read_text())
    del data["hypervisors"]["hosts"]["hv1"]["netfabric_provider_nic"]
    hosts.write_text(yaml.safe_dump(data))
    # hv3 never had a br-provider, so its run skips retiring one; a restore file of one is still removed
    stale = lab.hv("hv3").dir / "state" / "flows" / "br-provider.flows"
    stale.write_text("")
    third = lab.playbook()
    assert third["hv1"]["failed"] == 0 and third["hv1"]["changed"] > 0 and third["hv2"]["changed"] == 0, third
    assert third["hv3"]["changed"] == 1 and not stale.exists(), third
    hv1 = lab.hv("hv1")
    assert "br-provider" not in hv1.vsctl("list-br").split()
    assert not {"int-br-provider", *BOND["members"]} & set(hv1.vsctl("list-ports", "br-int").split() + hv1.vsctl("list-ports", "br-phy").split())
    assert "phy-br-int" in hv1.vsctl("list-ports", "br-phy").split()
    assert "br-provider" not in owned_flow_files(lab, "hv1") and "br-provider" in owned_flow_files(lab, "hv2")
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-blue-1", "tap-blue-3")
    assert lab.reaches("tap-blue-2", "tap-blue-1")
    assert not lab.reaches("tap-red-1", "tap-blue-2")

    lab.playbook("teardown")
    for host in ("hv1", "hv2"):
        assert lab.hv(host).vsctl("list-br").split() == [], host
