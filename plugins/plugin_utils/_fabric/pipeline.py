# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The br-tun OpenFlow pipeline as ovs-ofctl text: the only place that spells flows.

    table 0   classify: from br-int (patch-int) -> 1, from a tunnel -> 3, else drop
    table 1   local VLAN -> the tenant's tunnel id (kept with the frame), then 2; unknown VLAN: drop
    table 2   unicast -> 20, multicast/broadcast -> 21 (l2pop: ARP broadcast -> 22)
    table 3   tunnel id -> local VLAN, then 10; unknown tunnel id: drop
    table 10  learn (tunnel id, source MAC) -> tunnel into table 20, bounded per tenant; deliver to br-int
    table 20  known unicast (learned, or l2pop entries) else -> 21
    table 21  flood the tenant's frames to the tunnels of hosts carrying it, else drop
    table 22  l2pop ARP responder for VMs on other hosts, else -> 21

Learned entries are keyed by tunnel id, not by local VLAN: a local VLAN that a tenant gives up
and another takes later can never send the newcomer's frames down an entry learned for the old
tenant. Owned entries that pop the VLAN tag also match it (OpenFlow 1.3+ pops only a tag the
match guarantees); they are rewritten together with the mapping, in one bundle.

Provider-VLAN tenants bypass br-tun: br-int and br-phy are joined by the patch pair
int-br-phy / phy-br-int, and table 0 of each rewrites the VLAN on the way through, as the
Neutron OVS agent does for VLAN provider networks:

    br-phy    from br-int in a provider tenant's local VLAN -> its provider VLAN, NORMAL;
              anything else from br-int is dropped; the rest keeps OVS's own NORMAL flow
    br-int    from br-phy in a provider VLAN -> the tenant's local VLAN (br_int.py); else drop

A host with its own provider NIC (Neutron's br-vlan / br-provider layout) uses the provider
bridge instead of br-phy, with the patch pair int-br-provider / phy-br-provider and the same
rewrite; that bridge is secure and also admits from the NIC only the VLANs its tenants own.

Actions are spelled as `ovs-ofctl -O OpenFlow13 dump-flows` prints them back (pop_vlan,
push_vlan + set_field for VLANs, set_field for tunnel ids and MACs; `load:` into ARP fields is
printed as written), so the ovs_flows module has nothing to translate; numbers in hex are
`0x3e9` style (lowercase, no padding), as OVS prints them too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import PATCH_INT, PHY_BR_INT

VID_PRESENT = 0x1000  # OpenFlow's OFPVID_PRESENT: the frame has a VLAN header
# The learned flow matches what table 1 set on frames from br-int: the tenant's tunnel id.
LEARN = (
    "learn(table=20,hard_timeout=300,priority=1,limit={limit},NXM_NX_TUN_ID[],"
    "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],output:OXM_OF_IN_PORT[])"
)


@dataclass(frozen=True)
class ProviderLink:
    """A tenant carried on the wire as 802.1Q `provider_vlan`, `local_vlan` on this host's br-int."""

    local_vlan: int
    provider_vlan: int


@dataclass(frozen=True)
class RemoteVm:
    """A VM of the tenant on another host, reached through `tunnel`."""

    mac: str
    ip: str | None
    tunnel: str


@dataclass(frozen=True)
class TenantPath:
    """What br-tun needs to know about one tenant present on this host."""

    tunnel_id: int
    local_vlan: int
    flood: tuple[str, ...]  # tunnel ports to the other hosts carrying the tenant
    remote: tuple[RemoteVm, ...] = ()  # used in l2pop mode only


def _hex(number: int) -> str:
    return f"0x{number:x}"


def set_vlan(vlan: int, *, push: bool = False) -> str:
    """Actions that give a frame VLAN `vlan`, as OVS prints them under OpenFlow 1.3+: set_field
    carries OFPVID_PRESENT (0x1000) with the id; an untagged frame needs push_vlan first."""
    return ("push_vlan:0x8100," if push else "") + f"set_field:{VID_PRESENT | vlan}->vlan_vid"


def _mac_hex(mac: str) -> str:
    return _hex(int(mac.replace(":", ""), 16))


def _ip_hex(ip: str) -> str:
    return _hex(int(ipaddress.ip_address(ip)))


def br_tun_flows(tunnels: list[str], tenants: list[TenantPath], *, l2pop: bool, mac_limit: int) -> list[str]:
    """Every owned flow of br-tun, in a fixed order."""
    flows = [f"table=0,priority=1,in_port={PATCH_INT},actions=resubmit(,1)"]
    flows += [f"table=0,priority=1,in_port={tunnel},actions=resubmit(,3)" for tunnel in tunnels]
    flows.append("table=0,priority=0,actions=drop")
    flows += [f"table=1,priority=1,dl_vlan={t.local_vlan},actions=set_field:{_hex(t.tunnel_id)}->tun_id,resubmit(,2)" for t in tenants]
    flows += [
        "table=1,priority=0,actions=drop",
        "table=2,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,20)",
        "table=2,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,21)",
    ]
    if l2pop:
        flows.append("table=2,priority=2,arp,dl_dst=ff:ff:ff:ff:ff:ff,actions=resubmit(,22)")
    flows += [f"table=3,priority=1,tun_id={_hex(t.tunnel_id)},actions={set_vlan(t.local_vlan, push=True)},resubmit(,10)" for t in tenants]
    flows.append("table=3,priority=0,actions=drop")
    flows += [
        f"table=10,priority=1,tun_id={_hex(t.tunnel_id)},actions={LEARN.format(limit=mac_limit)},output:{PATCH_INT}" for t in tenants
    ]
    flows += ["table=10,priority=0,actions=drop", "table=20,priority=0,actions=resubmit(,21)"]
    if l2pop:
        flows += [
            f"table=20,priority=2,tun_id={_hex(t.tunnel_id)},dl_vlan={t.local_vlan},dl_dst={vm.mac},actions=pop_vlan,output:{vm.tunnel}"
            for t in tenants
            for vm in t.remote
        ]
    flows += [
        f"table=21,priority=1,tun_id={_hex(t.tunnel_id)},dl_vlan={t.local_vlan},actions=pop_vlan," + ",".join(f"output:{tunnel}" for tunnel in t.flood)
        for t in tenants
        if t.flood
    ]
    flows.append("table=21,priority=0,actions=drop")
    if l2pop:
        flows += [_arp_responder(t.tunnel_id, vm) for t in tenants for vm in t.remote if vm.ip is not None]
        flows.append("table=22,priority=0,actions=resubmit(,21)")
    return flows


def _arp_responder(tunnel_id: int, vm: RemoteVm) -> str:
    """Answer an ARP request for a remote VM's address here, turning the request into the reply
    (still tagged with the local VLAN, back into br-int)."""
    return (
        f"table=22,priority=1,arp,tun_id={_hex(tunnel_id)},arp_op=1,arp_tpa={vm.ip},"
        "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        f"set_field:{vm.mac}->eth_src,load:0x2->NXM_OF_ARP_OP[],"
        "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        f"load:{_mac_hex(vm.mac)}->NXM_NX_ARP_SHA[],load:{_ip_hex(vm.ip)}->NXM_OF_ARP_SPA[],IN_PORT"
    )


def provider_flows(links: list[ProviderLink], *, patch: str = PHY_BR_INT, nics: list[str] | None = None) -> list[str]:
    """Owned flows of the bridge that carries provider VLANs to the wire, reached from br-int
    through `patch`: br-phy (patch phy-br-int) or, on a host with its own provider NIC, the
    provider bridge (patch phy-br-provider, `nics` the OpenFlow ports of its provider NIC: the NIC, or
    each member of a bonded one, as a bond has no OpenFlow port of its own). br-int's side of the patch
    pair is in br_int.py. One rule for both: from br-int, a provider tenant's local VLAN becomes
    its provider VLAN; anything else from br-int is dropped.

    br-phy needs no NORMAL flow of ours: a standalone bridge without a controller keeps OVS's
    own `priority=0,actions=NORMAL` (cookie 0) next to other flows and gets it back after a
    restart, so the uplink and the underlay address keep switching untouched. It stays
    standalone on purpose: it carries the host's own underlay address, which must not go dark
    while ovs-vswitchd restarts; tenants cannot leak through it because br-int, the only bridge
    that sends into phy-br-int, fails closed.

    The provider bridge holds no address of the host, so it is `fail_mode: secure` and forwards
    only what these flows admit: from the NIC, only the provider VLANs of tenants this host
    carries; everything else is dropped (and nothing at all while the host carries none).
    """
    flows = []
    if links:
        flows += [f"table=0,priority=4,in_port={patch},dl_vlan={link.local_vlan},actions={set_vlan(link.provider_vlan)},NORMAL" for link in links]
        flows.append(f"table=0,priority=2,in_port={patch},actions=drop")
    if nics is not None:
        flows += [f"table=0,priority=4,in_port={nic},dl_vlan={link.provider_vlan},actions=NORMAL" for nic in nics for link in links]
        flows.append("table=0,priority=0,actions=drop")
    return flows
