"""A bonded uplink (netfabric_uplink as a bond) on netdev hosts: an Open vSwitch bond on br-phy.

The example fabric of test_site with hv1 and hv2 on two NICs each to the underlay switch (hv3 keeps
its single uplink): tenants reach across, a member's switch port goes down (a pulled cable) and
traffic goes on over the other member, bond/show telling the member disabled; then a change of
the bond's mode (hv1) and members (hv2) in the inventory is applied to the existing bonds, and
the next run changes nothing; teardown leaves the hosts as they were (the address back on the
first member).
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from conftest import PREFIX
from sitelab import Lab

import fabric
import netns

HV1_BOND = {"name": "bond0", "members": ["nic0", "nic1"]}  # active-backup, LACP off: the defaults
HV2_BOND = {"name": "bond0", "members": ["nic0", "nic1", "nic2"], "mode": "balance-slb", "updelay": 100}
# The underlay switch (a Linux bridge) speaks no LACP: the modes that work without it.


@pytest.fixture
def lab(tmp_path):
    made = Lab(f"{PREFIX}bd", "vxlan", tmp_path / "lab", host_overrides={"hv1": {"netfabric_uplink": HV1_BOND}, "hv2": {"netfabric_uplink": HV2_BOND}})
    yield made
    netns.down(made.prefix)


def bond_show(lab, host):
    """({member: enabled?}, the active member or None, bond_mode, text) of hv's bond0 (netns.Hypervisor.bond_show)."""
    return lab.hv(host).bond_show("bond0")


def switch_side(lab, host, member):
    """The underlay switch's port of a host's NIC (its veth peer)."""
    index = list(lab.hosts()).index(host)
    number = lab.hosts()[host]["netfabric_uplink"]["members"].index(member)
    return netns.switch_port(index, host, number)


def wait_for(check, what, seconds=60):
    """Poll until check() is true; generous: the lab shares a loaded machine."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.5)


def test_bonded_uplink_survives_a_member_down_and_applies_changes(lab):
    before = lab.snapshot()
    first = lab.playbook()
    assert all(c["failed"] == 0 for c in first.values()), first
    for host, bond in (("hv1", HV1_BOND), ("hv2", HV2_BOND)):
        hv = lab.hv(host)
        iface = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=name,bond_mode,lacp,bond_updelay", "list", "Port", "bond0"))
        assert iface["data"][0][1:] == [bond.get("mode", "active-backup"), "off", bond.get("updelay", 0)], iface
        # the guard of the underlay MAC on every member (a bond has no OpenFlow port of its own)
        phy = hv.ofctl("-O", "OpenFlow14", "--names", "dump-flows", "br-phy")
        for member in bond["members"]:
            assert f"in_port={member},dl_src=" in phy and f"in_port={member},vlan_tci=0x0000/0x1fff" in phy, phy
        # br-phy took the first member's MAC and the address; no member keeps the address
        first_mac = json.loads(hv.exec("ip", "-j", "link", "show", bond["members"][0]))[0]["address"]
        assert json.loads(hv.exec("ip", "-j", "link", "show", "br-phy"))[0]["address"] == first_mac
        addrs = {i["ifname"]: [a["local"] for a in i["addr_info"]] for i in json.loads(hv.exec("ip", "-j", "-4", "addr"))}
        assert "br-phy" in addrs and not any(addrs.get(m) for m in bond["members"]), addrs
        wait_for(lambda h=host, b=bond: all(bond_show(lab, h)[0].get(m) for m in b["members"]), f"{host}: every member enabled")
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-blue-2", "tap-blue-3")
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert all(c["changed"] == 0 for c in lab.playbook().values())

    # A pulled cable: hv1's active member goes down at the switch, during a continuous ping.
    active = bond_show(lab, "hv1")[1]
    assert active in HV1_BOND["members"]
    sw = f"{lab.prefix}-sw"
    vm = fabric.vm_netns(lab.prefix, "tap-red-1")
    pinger = subprocess.Popen(["ip", "netns", "exec", vm, "ping", "-c", "60", "-i", "0.1", "-W", "1", "10.0.0.2"], stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    netns.sh("ip", "-n", sw, "link", "set", switch_side(lab, "hv1", active), "down")
    wait_for(lambda: bond_show(lab, "hv1")[0][active] is False, f"hv1: {active} disabled")
    out = pinger.communicate(timeout=120)[0]
    received = int(re.search(r"(\d+) received", out).group(1))
    assert received >= 50, out  # 60 sent: the failover loses a few at most
    shown = bond_show(lab, "hv1")
    members, now_active, text = shown[0], shown[1], shown[3]
    assert members == {active: False, **{m: True for m in HV1_BOND["members"] if m != active}}, text
    assert now_active != active, text
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-blue-3", "tap-blue-1")
    # hv2 (balance-slb) loses one of three members: its flows move to the others
    netns.sh("ip", "-n", sw, "link", "set", switch_side(lab, "hv2", "nic0"), "down")
    wait_for(lambda: bond_show(lab, "hv2")[0]["nic0"] is False, "hv2: nic0 disabled")
    assert lab.reaches("tap-red-2", "tap-red-1")
    assert lab.reaches("tap-blue-2", "tap-blue-3")
    netns.sh("ip", "-n", sw, "link", "set", switch_side(lab, "hv1", active), "up")
    netns.sh("ip", "-n", sw, "link", "set", switch_side(lab, "hv2", "nic0"), "up")

    # The existing bonds change: hv1's mode, hv2's members (nic1 leaves).
    lab.edit_host("hv1", netfabric_uplink=dict(HV1_BOND, mode="balance-slb", downdelay=200))
    lab.edit_host("hv2", netfabric_uplink=dict(HV2_BOND, members=["nic0", "nic2"]))
    changed = lab.playbook()
    assert changed["hv1"]["changed"] > 0 and changed["hv2"]["changed"] > 0 and changed["hv3"]["changed"] == 0, changed
    mode, text = bond_show(lab, "hv1")[2:]
    assert mode == "balance-slb" and "downdelay: 200 ms" in text, text
    assert sorted(bond_show(lab, "hv2")[0]) == ["nic0", "nic2"]
    assert "nic1" not in lab.hv("hv2").vsctl("list-ports", "br-phy").split()
    phy = lab.hv("hv2").ofctl("-O", "OpenFlow14", "--names", "dump-flows", "br-phy")
    assert "in_port=nic1" not in phy and "in_port=nic2,dl_src=" in phy, phy
    for host in ("hv1", "hv2"):
        wait_for(lambda h=host: bond_show(lab, h)[0] and all(bond_show(lab, h)[0].values()), f"{host}: every member enabled")
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-blue-2", "tap-blue-1")
    assert lab.reaches("tap-red-3", "tap-red-2")
    assert not lab.reaches("tap-red-2", "tap-blue-1")
    again = lab.playbook()
    assert all(c["changed"] == 0 for c in again.values()), again

    lab.playbook("teardown")
    after = lab.snapshot()
    for name in ("hv1", "hv2"):
        assert after[name] == before[name], f"{name} is not as it was"
