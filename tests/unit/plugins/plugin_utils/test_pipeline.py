"""The br-tun pipeline text: exact lines, hex spelling, and which lines exist in which mode."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.pipeline import (
    ProviderLink,
    RemoteVm,
    TenantPath,
    br_tun_flows,
    provider_flows,
)

TENANTS = [
    TenantPath(
        tunnel_id=1001,
        local_vlan=7,
        flood=("vxlan-ac1f0002", "vxlan-ac1f0003"),
        remote=(
            RemoteVm("52:54:00:01:00:02", "10.0.0.2", "vxlan-ac1f0002"),
            RemoteVm("02:00:00:00:00:03", None, "vxlan-ac1f0003"),
        ),
    ),
    TenantPath(tunnel_id=16777215, local_vlan=4094, flood=()),
]
TUNNELS = ["vxlan-ac1f0002", "vxlan-ac1f0003"]


def learn(tunnel_id: str) -> str:
    return (
        f"table=10,priority=1,tun_id={tunnel_id},actions=learn(table=20,hard_timeout=300,priority=1,limit=64,NXM_NX_TUN_ID[],"
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],output:OXM_OF_IN_PORT[]),output:patch-int"
    )


LEARNING = [
    "table=0,priority=1,in_port=patch-int,actions=resubmit(,1)",
    "table=0,priority=1,in_port=vxlan-ac1f0002,actions=resubmit(,3)",
    "table=0,priority=1,in_port=vxlan-ac1f0003,actions=resubmit(,3)",
    "table=0,priority=0,actions=drop",
    "table=1,priority=1,dl_vlan=7,actions=set_field:0x3e9->tun_id,resubmit(,2)",
    "table=1,priority=1,dl_vlan=4094,actions=set_field:0xffffff->tun_id,resubmit(,2)",
    "table=1,priority=0,actions=drop",
    "table=2,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,20)",
    "table=2,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,21)",
    "table=3,priority=1,tun_id=0x3e9,actions=push_vlan:0x8100,set_field:4103->vlan_vid,resubmit(,10)",
    "table=3,priority=1,tun_id=0xffffff,actions=push_vlan:0x8100,set_field:8190->vlan_vid,resubmit(,10)",
    "table=3,priority=0,actions=drop",
    learn("0x3e9"),
    learn("0xffffff"),
    "table=10,priority=0,actions=drop",
    "table=20,priority=0,actions=resubmit(,21)",
    "table=21,priority=1,tun_id=0x3e9,dl_vlan=7,actions=pop_vlan,output:vxlan-ac1f0002,output:vxlan-ac1f0003",
    "table=21,priority=0,actions=drop",
]


def test_learning_pipeline_exactly():
    assert br_tun_flows(TUNNELS, TENANTS, l2pop=False, mac_limit=64) == LEARNING


def test_learned_entries_are_keyed_by_tunnel_id_not_by_local_vlan():
    """A local VLAN given up by one tenant and taken by another cannot reach entries learned for the first."""
    learners = [f for f in br_tun_flows(TUNNELS, TENANTS, l2pop=False, mac_limit=64) if "learn(" in f]
    assert learners and all("NXM_NX_TUN_ID[]," in f and "VLAN_TCI[0..11]" not in f and "limit=64" in f for f in learners)


def test_l2pop_adds_unicast_entries_and_arp_responder():
    flows = br_tun_flows(TUNNELS, TENANTS, l2pop=True, mac_limit=64)
    added = [f for f in flows if f not in LEARNING]
    assert added == [
        "table=2,priority=2,arp,dl_dst=ff:ff:ff:ff:ff:ff,actions=resubmit(,22)",
        "table=20,priority=2,tun_id=0x3e9,dl_vlan=7,dl_dst=52:54:00:01:00:02,actions=pop_vlan,output:vxlan-ac1f0002",
        "table=20,priority=2,tun_id=0x3e9,dl_vlan=7,dl_dst=02:00:00:00:00:03,actions=pop_vlan,output:vxlan-ac1f0003",
        # only the VM with both MAC and IP gets an ARP answer
        "table=22,priority=1,arp,tun_id=0x3e9,arp_op=1,arp_tpa=10.0.0.2,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "set_field:52:54:00:01:00:02->eth_src,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0x525400010002->NXM_NX_ARP_SHA[],"
        "load:0xa000002->NXM_OF_ARP_SPA[],IN_PORT",
        "table=22,priority=0,actions=resubmit(,21)",
    ]
    # l2pop lines sit after their table's default in the fixed order, the rest keeps its order
    assert [f for f in flows if f in LEARNING] == LEARNING


@pytest.mark.parametrize(("tunnel_id", "spelled"), [(0, "0x0"), (10, "0xa"), (4294967295, "0xffffffff")])
def test_tunnel_ids_in_lowercase_unpadded_hex(tunnel_id, spelled):
    flows = br_tun_flows([], [TenantPath(tunnel_id=tunnel_id, local_vlan=1, flood=("gre-0a000001",))], l2pop=False, mac_limit=64)
    assert f"table=1,priority=1,dl_vlan=1,actions=set_field:{spelled}->tun_id,resubmit(,2)" in flows
    assert f"table=3,priority=1,tun_id={spelled},actions=push_vlan:0x8100,set_field:4097->vlan_vid,resubmit(,10)" in flows
    assert f"table=21,priority=1,tun_id={spelled},dl_vlan=1,actions=pop_vlan,output:gre-0a000001" in flows


def test_no_tenants_no_tunnels_is_a_closed_pipeline():
    flows = br_tun_flows([], [], l2pop=False, mac_limit=64)
    assert flows == [f for f in LEARNING if "vxlan" not in f and "dl_vlan" not in f and "tun_id" not in f]
    assert all("drop" in f or "resubmit" in f for f in flows)


def test_provider_vlan_flows_exactly():
    flows = provider_flows([ProviderLink(local_vlan=7, provider_vlan=100), ProviderLink(local_vlan=4094, provider_vlan=4094)])
    assert flows == [
        "table=0,priority=4,in_port=phy-br-int,dl_vlan=7,actions=set_field:4196->vlan_vid,NORMAL",
        "table=0,priority=4,in_port=phy-br-int,dl_vlan=4094,actions=set_field:8190->vlan_vid,NORMAL",
        "table=0,priority=2,in_port=phy-br-int,actions=drop",
    ]


def test_no_provider_tenants_no_provider_flows():
    assert provider_flows([]) == []
