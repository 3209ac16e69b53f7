"""The br-int pipeline: admission by declared port number, port security, per-tenant delivery."""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.br_int import (
    INT_BR_PHY_OFPORT,
    PATCH_TUN_OFPORT,
    IntTenant,
    VmPort,
    br_int_flows,
    link_local,
)

RED, BLUE = IntTenant(5, tunnelled=True), IntTenant(7, tunnelled=False, provider_vlan=100)
A = VmPort(10001, 5, "52:54:00:00:00:0a", ("10.0.0.1",))
B = VmPort(10002, 5, "52:54:00:00:00:0b", ("10.0.0.2", "fd00::2"))
C = VmPort(10003, 7, None)  # no MAC in the inventory: no port security possible
D = VmPort(10004, 7, "52:54:00:00:00:0d", ("10.0.0.4",), security=False)


def flows():
    return br_int_flows([RED, BLUE], [A, B, C, D], mac_limit=64)


def table(number):
    return [f for f in flows() if f.startswith(f"table={number},")]


def admitted(port):
    """(priority, match) of the table-0 lines that admit a port's frames into its VLAN."""
    return [f for f in table(0) if f"in_port={port.ofport}," in f and "set_field:" in f and "->vlan_vid" in f]


def test_link_local_is_eui64():
    assert link_local("52:54:00:00:00:99") == "fe80::5054:ff:fe00:99"


def test_everything_unmatched_is_dropped_in_every_table():
    for number in (0, 1, 2, 3):
        assert f"table={number},priority=0,actions=drop" in table(number)
    assert not any("NORMAL" in f or "FLOOD" in f or "ALL" in f for f in flows()), "br-int never switches with NORMAL"


def test_only_untagged_frames_from_declared_ports_are_admitted():
    for port in (A, B, C, D):
        lines = admitted(port)
        assert lines and all("vlan_tci=0x0000/0x1fff" in f and f"push_vlan:0x8100,set_field:{0x1000 | port.local_vlan}->vlan_vid," in f for f in lines)
    uplinks = [f for f in table(0) if f"in_port={PATCH_TUN_OFPORT}," in f or f"in_port={INT_BR_PHY_OFPORT}," in f]
    assert uplinks == [
        "table=0,priority=10,in_port=65001,dl_vlan=5,actions=resubmit(,1)",
        "table=0,priority=10,in_port=65002,dl_vlan=100,actions=set_field:4103->vlan_vid,resubmit(,1)",
    ]


def test_port_security_binds_mac_arp_ip_and_neighbour_advertisements():
    a = admitted(A)
    assert all("dl_src=52:54:00:00:00:0a" in f for f in a)
    assert [re.search(r"arp_spa=([0-9.]+)", f).group(1) for f in a if ",arp," in f] == ["10.0.0.1", "0.0.0.0"]
    assert all("arp_sha=52:54:00:00:00:0a" in f for f in a if ",arp," in f)
    assert [f for f in a if ",ip," in f] == [
        "table=0,priority=10,in_port=10001,vlan_tci=0x0000/0x1fff,dl_src=52:54:00:00:00:0a,ip,nw_src=10.0.0.1,"
        "actions=push_vlan:0x8100,set_field:4101->vlan_vid,resubmit(,1)"
    ]
    targets = sorted(re.search(r"nd_target=([0-9a-f:]+)", f).group(1) for f in admitted(B) if "nd_target" in f)
    assert targets == sorted([link_local(B.mac), "fd00::2"])
    # any other ARP or neighbour advertisement from the port is dropped above the generic admits
    assert "table=0,priority=11,in_port=10001,vlan_tci=0x0000/0x1fff,arp,actions=drop" in table(0)
    assert "table=0,priority=11,in_port=10001,vlan_tci=0x0000/0x1fff,icmp6,icmp_type=136,actions=drop" in table(0)


def test_ports_without_mac_or_with_security_off_are_admitted_whole():
    for port in (C, D):
        whole = f"table=0,priority=10,in_port={port.ofport},vlan_tci=0x0000/0x1fff,actions=push_vlan:0x8100,set_field:4103->vlan_vid,resubmit(,1)"
        assert admitted(port) == [whole]


def test_learning_is_bounded_per_tenant():
    learners = [f for f in table(1) if "learn(" in f]
    assert [re.search(r"dl_vlan=(\d+)", f).group(1) for f in learners] == ["5", "7"]
    assert all("limit=64" in f and "resubmit(,2),resubmit(,3)" in f for f in learners)


def test_delivery_stays_inside_the_tenant():
    deliver = table(3)
    # a learned port is reached only in its own VLAN, untagged
    assert "table=3,priority=1,reg1=10001,dl_vlan=5,actions=pop_vlan,output:10001" in deliver
    assert not any("reg1=10001,dl_vlan=7" in f for f in deliver)
    floods = {re.search(r"dl_vlan=(\d+)", f).group(1): f.split("actions=")[1] for f in deliver if "reg1=0," in f}
    assert floods == {"5": "output:65001,pop_vlan,output:10001,output:10002", "7": "output:65002,pop_vlan,output:10003,output:10004"}


def test_no_tenants_forwards_nothing():
    assert br_int_flows([], [], mac_limit=64) == [
        "table=0,priority=0,actions=drop",
        "table=1,priority=0,actions=drop",
        "table=2,priority=0,actions=drop",
        "table=3,priority=0,actions=drop",
    ]
