# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who carries which tenant, which hosts need tunnels to each other, and the host-local VLANs.

Everything here is derived from inventory variables only, never from gathered facts, so one
host's plan is the same whether the play runs on the whole fabric or with --limit.

Local VLANs (host-local, as in Neutron): each tenant present on a host gets one VLAN on that
host's br-int. Its preferred slot is crc32("<overlay>:<tunnel_id>") % 4094 + 1; tenants are
placed in ascending (overlay, tunnel_id) order and a tenant whose slot is taken moves to the
next free one (linear probing, 4094 wraps to 1). Adding a tenant therefore leaves existing
ones where they are, except when the newcomer's slot collides with one of them, and the
numbering never depends on host order, tenant order or anything outside the host.
"""

from __future__ import annotations

import hashlib
import ipaddress
import zlib
from functools import lru_cache
from collections import defaultdict
from typing import TYPE_CHECKING
from collections.abc import Iterable

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import Fabric

LOCAL_VLANS = 4094


@lru_cache(maxsize=65536)
def tunnel_port_name(overlay: str, address: str) -> str:
    """Neutron's naming: overlay + the peer's IPv4 address in hex; IPv6 gets 8 hex of its SHA-1.

    Both stay within the kernel's 15-character limit (vxlan-ac1f0002 is 14).
    """
    ip = ipaddress.ip_address(address)
    suffix = f"{int(ip):08x}" if ip.version == 4 else hashlib.sha1(ip.packed).hexdigest()[:8]
    return f"{overlay}-{suffix}"


def subinterface_name(uplink: str, vlan: int) -> str:
    return f"{uplink}.{vlan}"


def preferred_vlan(overlay: str, tunnel_id: int) -> int:
    return zlib.crc32(f"{overlay}:{tunnel_id}".encode()) % LOCAL_VLANS + 1


def allocate_local_vlans(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Map (overlay, tunnel_id) keys to VLANs 1-4094: preferred slot, then linear probing."""
    taken: set[int] = set()
    result = {}
    for key in sorted(set(keys)):
        if len(taken) >= LOCAL_VLANS:
            raise ValueError("more tenants than local VLANs")
        vlan = preferred_vlan(*key)
        while vlan in taken:
            vlan = vlan % LOCAL_VLANS + 1
        taken.add(vlan)
        result[key] = vlan
    return result


class Topology:
    """The fabric seen from each host: tenants present, local VLANs, tunnel peers."""

    def __init__(self, fabric: Fabric):
        self.fabric = fabric
        carriers = defaultdict(set)
        on_host = {}
        for host in fabric.hosts.values():
            present = {port.tenant for port in host.ports}
            on_host[host.name] = tuple(sorted(present))
            for tenant in present:
                carriers[tenant].add(host.name)
        self.tenants_on: dict[str, tuple[str, ...]] = on_host
        self.hosts_of: dict[str, tuple[str, ...]] = {t: tuple(sorted(h)) for t, h in carriers.items()}
        self.gre_hosts: tuple[str, ...] = tuple(
            name for name, present in on_host.items() if any(self.tunnelled(t) and fabric.tenants[t].overlay == "gre" for t in present)
        )
        self._gre_set = frozenset(self.gre_hosts)

    def local_vlans(self, host: str) -> dict[str, int]:
        """Tenant name -> local VLAN on this host."""
        tenants = self.fabric.tenants
        keys = {name: (tenants[name].overlay, tenants[name].tunnel_id) for name in self.tenants_on[host]}
        slots = allocate_local_vlans(keys.values())
        return {name: slots[key] for name, key in keys.items()}

    def tunnelled(self, tenant: str) -> bool:
        """Carried through tunnels; a tenant with a provider_vlan travels as 802.1Q on the wire instead."""
        return self.fabric.tenants[tenant].provider_vlan is None

    def tenant_peers(self, host: str, tenant: str) -> tuple[str, ...]:
        """Other hosts carrying this tenant: where its floods and unicasts go."""
        return tuple(h for h in self.hosts_of.get(tenant, ()) if h != host)

    def peers(self, host: str) -> list[tuple[str, str]]:
        """(overlay, peer host) pairs this host needs a tunnel to, sorted.

        VXLAN: only hosts sharing a VXLAN tenant. GRE: a full mesh among every host
        carrying any GRE tenant, n(n-1)/2 tunnels. Provider-VLAN tenants make no peers.
        """
        vxlan: set[str] = set()
        for tenant in self.tenants_on[host]:
            if self.tunnelled(tenant) and self.fabric.tenants[tenant].overlay == "vxlan":
                vxlan.update(self.hosts_of[tenant])
        vxlan.discard(host)
        pairs = [("gre", peer) for peer in self.gre_hosts if peer != host] if host in self._gre_set else []
        pairs += [("vxlan", peer) for peer in sorted(vxlan)]
        return pairs

    def tunnel_name(self, overlay: str, peer: str) -> str:
        return tunnel_port_name(overlay, self.fabric.hosts[peer].address)
