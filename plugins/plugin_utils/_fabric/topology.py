# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who carries which tenant, which hosts need tunnels to each other, and the host-local VLANs.

Everything here is derived from inventory variables only, never from gathered facts, so one
host's plan is the same whether the play runs on the whole fabric or with --limit.

Local VLANs (host-local, as in Neutron) and br-int port numbers stay where the host has them.
The only input that is not an inventory variable is what the host's own br-int already uses
(`Seen`, read by the netfabric role on that host just before planning, as Neutron keeps the
local VLAN on the port): a tenant that has a VLAN on a host keeps it, a port that has a number
keeps it, whatever is added or removed around them, in any order of changes, with --limit, and
from a controller that has never seen the host. Only newcomers are placed: a tenant at its
preferred slot crc32("<overlay>:<tunnel_id>") % 4094 + 1, or the next free one (linear probing,
4094 wraps to 1), in ascending (overlay, tunnel_id) order; a port at the lowest free number from
VM_OFPORT_FIRST in name order. A newcomer never takes a VLAN or a number that the host still
uses, so nothing changes hands within a run. Each host's plan depends only on its own Seen.
"""

from __future__ import annotations

import hashlib
import ipaddress
import zlib
from functools import lru_cache
from collections import defaultdict
from typing import TYPE_CHECKING
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import LIBVIRT_PORT_KEY, TENANT_KEY, VM_OFPORT_FIRST, VM_OFPORT_LAST

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


@dataclass(frozen=True)
class Seen:
    """What a host's br-int already uses: the local VLAN of each tenant that has ports there, the
    number of each of our ports, and every OpenFlow port number in use or requested (ours and
    anyone else's)."""

    vlans: Mapping[str, int] = field(default_factory=dict)
    ofports: Mapping[str, int] = field(default_factory=dict)
    taken_ofports: frozenset[int] = frozenset()


NOTHING_SEEN = Seen()


def seen_from_info(info: Mapping | None, bridge: str) -> Seen:
    """Seen from what ovs_info returned for a host (its `ports`), reading only `bridge` (br-int).
    Tenant ports are those with our tenant key (written whatever their owner mark: a port the
    fabric adopted keeps its own). A tenant's VLAN is the tag its ports carry, the first port by
    name deciding if they differ."""
    ports = (info or {}).get("ports") or {}
    vlans: dict[str, int] = {}
    ofports: dict[str, int] = {}
    taken: set[int] = set()
    for name, port in sorted(ports.items()):
        if not isinstance(port, Mapping) or port.get("bridge") != bridge:
            continue
        taken.update(n for n in (port.get("ofport"), port.get("ofport_request")) if isinstance(n, int) and n > 0)
        ids = port.get("external_ids") or {}
        if not ids.get(TENANT_KEY):
            continue
        if isinstance(port.get("tag"), int):
            vlans.setdefault(ids[TENANT_KEY], port["tag"])
        if isinstance(port.get("ofport_request"), int):  # a libvirt port by its plan name, not libvirt's vnetN
            ofports[ids.get(LIBVIRT_PORT_KEY) or name] = port["ofport_request"]
    return Seen(vlans, ofports, frozenset(taken))


def allocate_local_vlans(keys: Iterable[tuple[str, int]], keep: Mapping[tuple[str, int], int] | None = None) -> dict[tuple[str, int], int]:
    """Map (overlay, tunnel_id) keys to VLANs 1-4094: what `keep` says, then the preferred slot,
    then linear probing."""
    keys = sorted(set(keys))
    result: dict[tuple[str, int], int] = {}
    taken: set[int] = set()
    for key, vlan in sorted((keep or {}).items()):
        if key in keys and 1 <= vlan <= LOCAL_VLANS and vlan not in taken:
            result[key] = vlan
            taken.add(vlan)
    for key in keys:
        if key in result:
            continue
        if len(taken) >= LOCAL_VLANS:
            raise ValueError("more tenants than local VLANs")
        vlan = preferred_vlan(*key)
        while vlan in taken:
            vlan = vlan % LOCAL_VLANS + 1
        taken.add(vlan)
        result[key] = vlan
    return result


def allocate_ofports(names: Iterable[str], seen: Seen) -> dict[str, int]:
    """Port name -> requested OpenFlow port number: the number it has, else the lowest free one."""
    names = sorted(set(names))
    result: dict[str, int] = {}
    for name in names:
        number = seen.ofports.get(name)
        if number is not None and VM_OFPORT_FIRST <= number <= VM_OFPORT_LAST and number not in result.values():
            result[name] = number
    taken = set(seen.taken_ofports) | set(result.values())
    number = VM_OFPORT_FIRST
    for name in names:
        if name in result:
            continue
        while number in taken:
            number += 1
        if number > VM_OFPORT_LAST:
            raise ValueError("more ports than OpenFlow port numbers")
        result[name] = number
        taken.add(number)
    return result


class Topology:
    """The fabric seen from each host: tenants present, local VLANs, tunnel peers."""

    def __init__(self, fabric: Fabric, seen: Mapping[str, Seen] | None = None):
        self.fabric = fabric
        self.seen = dict(seen or {})
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
        seen = self.seen.get(host, NOTHING_SEEN)
        keep = {keys[name]: vlan for name, vlan in seen.vlans.items() if name in keys}
        slots = allocate_local_vlans(keys.values(), keep)
        return {name: slots[key] for name, key in keys.items()}

    def ofports(self, host: str) -> dict[str, int]:
        """VM port name -> its requested OpenFlow port number on this host's br-int."""
        return allocate_ofports((port.name for port in self.fabric.hosts[host].ports), self.seen.get(host, NOTHING_SEEN))

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
