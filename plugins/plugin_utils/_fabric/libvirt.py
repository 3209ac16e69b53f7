# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hosts whose VMs libvirt plugs into br-int itself (`netfabric_libvirt`), and ports known by MAC.

libvirt adds a domain's port to br-int at every start (the portgroup gives its tag) and deletes it
when the domain stops, so it cannot carry the OpenFlow port number br-int's flows admit: a port
re-added gets whatever number OVS picks, and the fail-closed pipeline keeps it dark. The fabric
therefore keeps such a port in br-int's flows and in the port number allocation like any VM port
(under a stable name derived from its MAC, since libvirt names the tap), but not in the tenants
role's ports (libvirt makes and removes them). Instead the host gets a port map
{mac: {port, dev, ofport, tenant, mtu}} and a libvirt hook (roles/libvirt) that, when a domain has
started, gives each of its interfaces on the fabric's network the planned number, tenant and the
tenant's MTU (as `mtu_request`: libvirt refuses `<mtu>` on a network in bridge mode, and OVS would
reset an MTU set on its port by other means; the guest learns the MTU from DHCP option 26 or its
own `<mtu>`).

    libvirt_ports   the synthetic name of a MAC-known port: lv-<12 hex digits> (15 bytes, a valid
                    interface name that no tap of libvirt's vnetN naming takes)
    host_plan       {"libvirt": {network: libvirt_network arguments, hooks_dir, pidfiles, map_file, map}},
                    {} on hosts without netfabric_libvirt (their plans stay as they were)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import BR_INT, LIBVIRT_PORT_KEY, TENANT_KEY

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import Topology

PORT_PREFIX = "lv-"
# libvirt keeps a portgroup's profileid in a 40-byte buffer with its terminating NUL; a longer tenant
# name gets no profileid (the portgroup's name is the tenant's all the same).
PROFILEID_MAX = 39
NETWORK_NAME_MAX = 64
MAP_FILE = "libvirt-ports.json"  # in the host's state directory, read by the hook


@dataclass(frozen=True)
class Libvirt:
    """A host's netfabric_libvirt, checked."""

    network: str
    uri: str
    hooks_dir: str
    pidfiles: tuple[str, ...]


def port_name(mac: str) -> str:
    """The stable name a MAC-known port has in the plan (allocation, flows): lv-525400aa0001."""
    return PORT_PREFIX + mac.replace(":", "").lower()


def settings(raw: dict | None, where: str, problems: list[str]) -> Libvirt | None:
    """netfabric_libvirt checked against its declared options and value rules; None when not given."""
    if raw is None:
        return None
    from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import spec  # spec loads the role's file

    raw = spec.check(spec.validators().libvirt, raw, f"{where}: netfabric_libvirt", problems)
    if raw is None:
        return None
    here = f"{where}: netfabric_libvirt"
    ok = True
    if (problem := _validate.name_problem(raw["network"], NETWORK_NAME_MAX)) is not None:
        problems.append(f"{here}.network {raw['network']!r} is not 1-{NETWORK_NAME_MAX} {_validate.NAME_RULE}: {problem}")
        ok = False
    uri = raw["uri"]
    if "://" not in uri or any(not " " < ch < "\x7f" for ch in uri):
        problems.append(f"{here}.uri {uri!r} is not a libvirt connection URI (like qemu:///system; printable ASCII, no whitespace)")
        ok = False
    for field, path in [("hooks_dir", raw["hooks_dir"]), *((f"pidfiles[{i}]", p) for i, p in enumerate(raw["pidfiles"]))]:
        if (problem := _validate.path_problem(path, strict=True)) is not None:
            problems.append(f"{here}.{field} {path!r} is not {_validate.STRICT_PATH_RULE}: {problem}")
            ok = False
    return Libvirt(raw["network"], uri, raw["hooks_dir"], tuple(raw["pidfiles"])) if ok else None


def port(raw: dict, here: str, problems: list[str]) -> tuple[str | None, str | None]:
    """A `libvirt: true` port's (plan name, target dev): known by its MAC (required); its `name`, when
    given, is the <target dev=.../> the domain uses. (None, None) after a problem."""
    mac = raw.get("mac")
    if mac is None:
        problems.append(f"{here}: libvirt: true needs mac (libvirt names the tap; the port is known by its MAC)")
        return None, None
    try:
        mac = _validate.mac_address("mac", mac)
    except _validate.ValidationError as exc:
        problems.append(f"{here}: {exc}")
        return None, None
    dev = raw.get("name")
    if dev is not None and (problem := _validate.ifname_problem(dev)) is not None:
        problems.append(f"{here}: name (the domain's <target dev>) {dev!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
        return None, None
    return port_name(mac), dev


def migrations(hosts: dict[str, Any], tenants: dict[str, Any], mode: str, problems: list[str]) -> dict[str, Any]:
    """The hosts with a copy of each libvirt port on every host its `migrate_to` names (`home` set).

    libvirt runs the destination's hook at `started` when a domain migrates in; the hook plugs only
    a MAC its host's port map names, and br-int there admits only planned port numbers, so a host a
    domain may arrive on needs the port in its plan: a number, admission flows, the tenant (its
    tunnels and portgroup) and the map entry. The copy is not a second VM: MAC and address checks,
    DHCP leases and l2pop entries take the port on its home only. In l2pop mode the other hosts'
    forwarding entries for the MAC name the home, so a migrated domain would be unreachable there:
    refused for tunnelled tenants (a provider VLAN's switch learns where the MAC went).
    """
    copies: dict[str, list] = {name: [] for name in hosts}
    for host in hosts.values():
        for port in host.ports:
            here = f"host {host.name} port {port.mac or port.name}: migrate_to"
            tenant = tenants.get(port.tenant)
            if not port.migrate_to or tenant is None:  # an unknown tenant is reported on the port itself
                continue
            if mode == "l2pop" and tenant.provider_vlan is None:
                problems.append(f"{here} needs netfabric_mode learning (l2pop's forwarding entries on other hosts name "
                                f"the port's home {host.name}; tenant {tenant.name} has no provider_vlan)")
                continue
            for target in dict.fromkeys(port.migrate_to):
                if target == host.name:
                    problems.append(f"{here} names the port's own host {target}")
                elif target not in hosts:
                    problems.append(f"{here} names {target!r}, which is no hypervisor of the inventory (allowed: {', '.join(sorted(hosts))})")
                elif hosts[target].libvirt is None:
                    problems.append(f"{here} names host {target}, which has no (valid) netfabric_libvirt to plug the domain there")
                else:
                    copies[target].append(replace(port, migrate_to=(), home=host.name))
    return {name: replace(host, ports=tuple(sorted(host.ports + tuple(copies[name]), key=lambda p: p.name))) if copies[name] else host
            for name, host in hosts.items()}


def checks(hosts: dict[str, Any], problems: list[str]) -> None:
    """libvirt ports need the host's netfabric_libvirt, which needs Open vSwitch (the network is on br-int)."""
    for host in hosts.values():
        lv_ports = [p for p in host.ports if p.libvirt]
        if lv_ports and host.libvirt is None:
            names = ", ".join(p.mac for p in lv_ports)
            problems.append(f"host {host.name}: ports {names} have libvirt: true but the host has no (valid) netfabric_libvirt")
        if host.libvirt is not None and host.backend != "ovs":
            problems.append(f"host {host.name}: netfabric_libvirt needs netfabric_backend ovs (its network plugs domains into br-int)")


def host_plan(topology: Topology, name: str, vlans: dict[str, int], ofports: dict[str, int]) -> dict[str, Any]:
    """The libvirt part of a host's plan: the network (one portgroup per tenant the host carries, at its
    local VLAN) and the hook's port map; {} on a host without netfabric_libvirt."""
    host = topology.fabric.hosts[name]
    if host.libvirt is None:
        return {}
    groups = [
        {"name": tenant, "vlan": vlans[tenant], **({"profileid": tenant} if len(tenant.encode()) <= PROFILEID_MAX else {})}
        for tenant in topology.tenants_on[name]
    ]
    ports = {
        port.mac: {"port": port.name, "dev": port.dev, "ofport": ofports[port.name], "tenant": port.tenant, "local_vlan": vlans[port.tenant],
                   "mtu": topology.fabric.tenants[port.tenant].mtu}
        for port in host.ports
        if port.libvirt
    }
    return {"libvirt": {
        "network": {"name": host.libvirt.network, "bridge": BR_INT, "uri": host.libvirt.uri, "portgroups": groups},
        "hooks_dir": host.libvirt.hooks_dir,
        "pidfiles": list(host.libvirt.pidfiles),
        "map_file": f"{host.state_dir or topology.fabric.state_dir}/{MAP_FILE}",
        "map": {"network": host.libvirt.network, "tenant_key": TENANT_KEY, "port_key": LIBVIRT_PORT_KEY, "ports": ports},
    }}
