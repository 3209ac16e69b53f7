# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the netfabric inventory and normalise it into a small typed model.

Types, choices, required keys, unknown keys and defaults come from the declared schema
(spec.py: the netfabric role's argument_specs). This file keeps what a spec cannot say:
ranges, addresses, names (the modules' own rules, module_utils/_validate.py, so whatever
passes here passes every module too), and the rules across tenants and hosts. Every problem
is collected before anything is reported, each naming its host, tenant or port, so a single
run lists everything to fix and nothing has been touched yet.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _constants as C
from ansible_collections.netfabric.ovs.plugins.module_utils import _validate
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import dpdk, libvirt, linuxbridge, network_node, nic, spec
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.network_node import External, FloatingIp, Router, Subnet
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import LOCAL_VLANS, subinterface_name, tunnel_port_name

HOST_VARS = spec.HOST_VARS
FABRIC_VARS = spec.validators().fabric_vars
TUNNEL_ID = {"vxlan": ("VNI", _validate.VNI), "gre": ("GRE key", _validate.GRE_KEY)}
# Bytes a tenant frame grows by on the wire, counted like Neutron: inner Ethernet 14 + VXLAN 8
# + UDP 8 + outer IPv4 20 = 50; inner Ethernet 14 + GRE with key 8 + outer IPv4 20 = 42.
# An IPv6 outer header is 40 bytes, so IPv6 underlays add IPV6_EXTRA to both.
ENCAP_OVERHEAD = {"vxlan": 50, "gre": 42}
IPV6_EXTRA = 20
MTU_RANGE = (68, 65535)
MAC_LIMIT_RANGE = (1, 65535)
TENANT_NAME_MAX = 64
# A VM port named like an 802.1Q subinterface (eth0.100) is a host interface, not a VM's.
_SUBINTERFACE = re.compile(r".+\.[0-9]+")


class FabricError(ValueError):
    """The inventory has problems; `problems` lists every one, each naming its culprit."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"netfabric inventory has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Tenant:
    name: str
    tunnel_id: int
    overlay: str
    subnets: tuple[str, ...]
    provider_vlan: int | None
    mtu: int
    subnet_options: tuple[Subnet, ...] = ()  # the subnets with their gateway, DHCP, DNS and routes
    router: bool = False
    external_ip: str | None = None
    floating_ips: tuple[FloatingIp, ...] = ()
    network_node: str | None = None
    multicast_group: str | None = None  # linuxbridge hosts flood and learn through it (linuxbridge.py)


@dataclass(frozen=True)
class Port:
    name: str
    tenant: str
    mac: str | None
    ip: str | None
    port_security: bool = True  # sends only from its mac and ip (when given)
    take_over: bool = False  # may be moved onto br-int from another bridge
    kind: str = "vm"  # or a network node's own: "router" (a gateway) or "dhcp"
    libvirt: bool = False  # libvirt plugs it (known by mac; name is lv-<mac>, libvirt.py)
    dev: str | None = None  # a libvirt port's <target dev>, when the inventory names it
    vhostuser: bool = False  # a DPDK host's vhost-user socket of the VM, not a tap (dpdk.py)
    migrate_to: tuple[str, ...] = ()  # hosts a libvirt port's domain may live-migrate to (libvirt.py)
    home: str | None = None  # on such a host, the copy of the port: the host whose inventory names it


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    prefix: int
    version: int
    uplink: str
    datapath_type: str
    provider_vlans: tuple[int, ...]
    ports: tuple[Port, ...]
    ovs_db: str | None
    state_dir: str | None = None
    external: External | None = None  # a network node's outside network
    netns_prefix: str = ""
    backend: str = "ovs"  # or linuxbridge (linuxbridge.py)
    libvirt: libvirt.Libvirt | None = None  # netfabric_libvirt (libvirt.py)
    provider_nic: nic.Nic | nic.Bond | None = None  # netfabric_provider_nic: provider-VLAN tenants go through br-provider (_provider_nic)
    dpdk: dpdk.Dpdk | None = None  # netfabric_dpdk (dpdk.py)
    bond: nic.Bond | None = None  # when netfabric_uplink is a bond; `uplink` is then its port name (nic.py)


@dataclass(frozen=True)
class Fabric:
    hosts: dict[str, Host]  # sorted by name
    tenants: dict[str, Tenant]  # sorted by name
    overlay: str
    mode: str
    underlay_mtu: int
    tenant_mtu: int
    flow_cookie: int
    state_dir: str
    mac_limit: int = C.MAC_LIMIT
    network_nodes: tuple[str, ...] = ()
    routers: dict[str, Router] | None = None  # by tenant


def validate(hosts: dict[str, dict], fabric_vars: dict, network_nodes: tuple[str, ...] = ()) -> Fabric:
    """Check the whole inventory; return the model or raise FabricError listing every problem.

    `hosts` maps each hypervisor to its netfabric_* host variables; `fabric_vars` holds the
    fabric-wide netfabric_* variables (missing ones take the declared defaults); `network_nodes`
    names the hypervisors that also run routers and DHCP servers.
    """
    problems: list[str] = []
    checks = spec.validators()
    settings = _fabric_settings(spec.check_each(checks.fabric, fabric_vars, "fabric", problems)[0], problems)
    tenants = _tenants(settings["netfabric_tenants"], settings, problems)
    parsed = {}
    for name in sorted(hosts):
        host = _host(name, hosts[name], problems)
        if host is not None:
            parsed[name] = host
    added, routers = network_node.place(parsed, tenants, tuple(network_nodes), problems)
    for node, ports in added.items():
        extra = tuple(Port(name, tenant, network_node.node_mac(name), ip, secure, kind="dhcp" if secure else "router") for tenant, name, ip, secure in ports)
        parsed[node] = replace(parsed[node], ports=tuple(sorted(parsed[node].ports + extra, key=lambda p: p.name)))
    parsed = libvirt.migrations(parsed, tenants, settings["netfabric_mode"], problems)
    _cross_checks(parsed, tenants, settings, problems)
    linuxbridge.checks(parsed, tenants, tuple(network_nodes), problems)
    libvirt.checks(parsed, problems)
    dpdk.checks(parsed, problems)
    if problems:
        raise FabricError(problems)
    return Fabric(
        hosts=parsed,
        tenants=tenants,
        overlay=settings["netfabric_overlay"],
        mode=settings["netfabric_mode"],
        underlay_mtu=settings["netfabric_underlay_mtu"],
        tenant_mtu=settings["netfabric_tenant_mtu"],
        flow_cookie=settings["netfabric_flow_cookie"],
        state_dir=settings["netfabric_state_dir"],
        mac_limit=settings["netfabric_mac_limit"],
        network_nodes=tuple(sorted(n for n in network_nodes if n in parsed)),
        routers=routers,
    )


# ---------------------------------------------------------------- single values


def _in_range(field: str, value: Any, bounds: tuple[int, int], problems: list[str], where: str, why: str = "") -> int | None:
    """`value` when it is an int within bounds (never a bool); else a problem naming the field."""
    try:
        return _validate.int_range(field, value, bounds)
    except _validate.ValidationError as exc:
        problems.append(f"{where}: {exc}{why}")
        return None


def _ifname_problem(value: Any) -> str | None:
    problem = _validate.ifname_problem(value)
    if problem is None:
        return None
    return f"{value!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}"


def _state_dir(value: Any, where: str, problems: list[str]) -> None:
    """netfabric_state_dir goes into a systemd unit's ExecStart and root replays the flows kept there."""
    if value is not None and (problem := _validate.path_problem(value, strict=True)) is not None:
        problems.append(f"{where}: netfabric_state_dir {value!r} is not {_validate.STRICT_PATH_RULE}: {problem}")


# ---------------------------------------------------------------- fabric-wide


def _fabric_settings(raw: dict, problems: list[str]) -> dict:
    out = dict(raw)
    for var in ("netfabric_underlay_mtu", "netfabric_tenant_mtu"):
        out[var] = _in_range(var, raw[var], MTU_RANGE, problems, "fabric")
    out["netfabric_mac_limit"] = _in_range("netfabric_mac_limit", raw["netfabric_mac_limit"], MAC_LIMIT_RANGE, problems, "fabric")
    cookie = raw["netfabric_flow_cookie"]
    if isinstance(cookie, str):  # decimal or 0x, since INI inventories give strings
        with suppress(ValueError):
            cookie = int(cookie.strip(), 0)
    out["netfabric_flow_cookie"] = _in_range("netfabric_flow_cookie", cookie, (1, C.COOKIE_MAX), problems, "fabric", "; 0 is the cookie of flows nobody marked")
    _state_dir(raw["netfabric_state_dir"], "fabric", problems)
    return out


def _tenants(raw_list: list, settings: dict, problems: list[str]) -> dict[str, Tenant]:
    checks = spec.validators()
    tenants: dict[str, Tenant] = {}
    for index, raw in enumerate(raw_list):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"tenant {name}" if isinstance(name, str) and name else f"tenant #{index + 1}"
        raw = spec.check(checks.tenant, raw, where, problems)
        if raw is None:
            continue
        name = raw["name"]
        if (problem := _validate.name_problem(name, TENANT_NAME_MAX)) is not None:
            problems.append(f"{where}: name {name!r} is not 1-{TENANT_NAME_MAX} {_validate.NAME_RULE}: {problem}")
            continue
        if name in tenants:
            problems.append(f"{where}: defined more than once")
            continue
        overlay = raw["overlay"] or settings["netfabric_overlay"]
        what, bounds = TUNNEL_ID[overlay]
        tunnel_id = _in_range(f"tunnel_id (a {what} for {overlay})", raw["tunnel_id"], bounds, problems, where)
        details = network_node.subnets(raw["subnets"], where, problems)
        subnets = [s.cidr for s in details]
        if raw["router"] and raw["provider_vlan"] is not None:
            problems.append(f"{where}: router: true on a provider_vlan tenant; its router is the provider network's own")
        provider_vlan = raw["provider_vlan"]
        if provider_vlan is not None:
            provider_vlan = _in_range("provider_vlan", provider_vlan, _validate.VLAN_ID, problems, where)
        mtu = settings["netfabric_tenant_mtu"]
        if raw["mtu"] is not None:
            mtu = _in_range("mtu", raw["mtu"], MTU_RANGE, problems, where)
        if tunnel_id is not None:
            tenants[name] = Tenant(
                name,
                tunnel_id,
                overlay,
                tuple(subnets),
                provider_vlan,
                mtu or 0,
                details,
                raw["router"],
                str(ipaddress.ip_address(raw["external_ip"])) if _is_address(raw["external_ip"], where, problems) else None,
                network_node.floating_ips(raw["floating_ips"], where, problems),
                raw["network_node"],
                linuxbridge.multicast_group(raw["multicast_group"], where, problems),
            )
    return dict(sorted(tenants.items()))


def _is_address(value: Any, where: str, problems: list[str]) -> bool:
    """False for None; a problem for anything else that is not an address."""
    if value is None:
        return False
    try:
        _validate.ip_address("external_ip", value)
    except _validate.ValidationError as exc:
        problems.append(f"{where}: {exc}")
        return False
    return True


# ---------------------------------------------------------------- hosts


def _host(name: str, raw: dict, problems: list[str]) -> Host | None:
    where = f"host {name}"
    raw, bad = spec.check_each(spec.validators().host, raw, where, problems)
    ok = not bad & {"netfabric_underlay_ip", "netfabric_uplink", "netfabric_datapath_type"}
    underlay = _underlay(raw["netfabric_underlay_ip"], where, problems) if ok else None
    datapath = raw["netfabric_datapath_type"]
    parsed = nic.parse_nic(raw["netfabric_uplink"], "netfabric_uplink", where, problems) if ok else None
    ok = ok and parsed is not None
    bond = parsed if isinstance(parsed, nic.Bond) else None
    uplink = nic.port_name(parsed) if ok else raw["netfabric_uplink"]
    if bond is not None and (datapath != "netdev" or raw["netfabric_backend"] != "ovs"):  # a kernel bond
        problems.extend(nic.kernel_problems(bond, "netfabric_uplink", where))
    vlans: list[int] = []
    for value in raw["netfabric_provider_vlans"]:
        vlan = _in_range("netfabric_provider_vlans", value, _validate.VLAN_ID, problems, where)
        if vlan in vlans:
            problems.append(f"{where}: netfabric_provider_vlans lists VLAN {vlan} twice")
        elif vlan is not None:
            vlans.append(vlan)
    if ok and datapath == "system":
        for vlan in vlans:
            if (problem := _ifname_problem(subinterface_name(uplink, vlan))) is not None:
                problems.append(f"{where}: VLAN subinterface for provider VLAN {vlan}: {problem}")
    _state_dir(raw["netfabric_state_dir"], where, problems)
    netns_prefix = raw["netfabric_netns_prefix"] or ""
    if netns_prefix and (problem := _validate.name_problem(netns_prefix, 64)) is not None:
        problems.append(f"{where}: netfabric_netns_prefix {netns_prefix!r} is not 1-64 {_validate.NAME_RULE}: {problem}")
    ext = network_node.external(raw["netfabric_external"], where, problems)
    lv = libvirt.settings(raw["netfabric_libvirt"], where, problems)
    provider_nic = _provider_nic(raw["netfabric_provider_nic"], uplink, nic.links(parsed) if ok else [], raw["netfabric_backend"], where, problems)
    provider_names = [nic.port_name(provider_nic), *nic.links(provider_nic)] if provider_nic is not None else []
    if ext is not None and ext.nic in provider_names:
        problems.append(f"{where}: netfabric_provider_nic {ext.nic!r} is also netfabric_external.nic; each needs a NIC of its own")
    dp = dpdk.settings(raw["netfabric_dpdk"], where, problems)
    if dp is not None and bond is not None:
        problems.append(f"{where}: netfabric_dpdk with a bonded netfabric_uplink is not supported yet (allowed: a plain uplink NIC)")
    ports = _ports(where, raw["netfabric_ports"], nic.links(parsed) if ok else [], uplink if ok else None, datapath, vlans, problems, provider_names)
    if not ok or underlay is None:
        return None
    ip, prefix = underlay
    return Host(
        name,
        str(ip),
        prefix,
        ip.version,
        uplink,
        datapath,
        tuple(sorted(vlans)),
        ports,
        raw["netfabric_ovs_db"] or None,
        raw["netfabric_state_dir"],
        ext,
        netns_prefix,
        raw["netfabric_backend"],
        libvirt=lv,
        provider_nic=provider_nic,
        dpdk=dp,
        bond=bond,
    )


def _provider_nic(value: Any, uplink: Any, uplink_links: list[str], backend: str, where: str, problems: list[str]) -> nic.Nic | nic.Bond | None:
    """netfabric_provider_nic: a NIC without an address, or a bond of such NICs (nic.parse_nic, the
    uplink's parser and options), that carries the host's provider-VLAN tenants on br-provider; or
    None. The one place that reads the variable. Its name and every member are checked against the
    uplink, the uplink's members and the fabric's own names (a VM port's against all of them in _ports)."""
    if value is None:
        return None
    field = "netfabric_provider_nic"
    parsed = nic.parse_nic(value, field, where, problems)
    if parsed is None:
        return None
    found = len(problems)
    bonded = isinstance(parsed, nic.Bond)
    for label, name in ((f"{field}.name" if bonded else field, nic.port_name(parsed)),
                        *((f"{field}.members[{index}]", member) for index, member in enumerate(parsed.members if bonded else ()))):
        if name == uplink or name in uplink_links:
            problems.append(f"{where}: {label} {name!r} is the uplink{' or one of its members' if uplink_links != [uplink] else ''}; "
                            "the provider NIC is another NIC, with no address (allowed: a NIC that is not netfabric_uplink)")
        elif name in C.FABRIC_PORTS or name.startswith(C.TUNNEL_PREFIXES + C.NODE_PORT_PREFIXES):
            problems.append(f"{where}: {label} {name!r} clashes with a name the fabric gives its own bridges and ports")
    if backend == linuxbridge.LINUXBRIDGE:
        problems.append(f"{where}: {field} is for netfabric_backend ovs; a linuxbridge host carries provider VLANs on UPLINK.P")
    return None if len(problems) > found else parsed


def _underlay(value: str, where: str, problems: list[str]) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    """The tunnel endpoint and its prefix length, or None after a problem."""
    try:
        iface = ipaddress.ip_interface(_validate.ip_address("netfabric_underlay_ip", value, with_prefix=True))
    except _validate.ValidationError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if iface.ip.is_multicast or iface.ip.is_unspecified or iface.ip.is_loopback:
        problems.append(f"{where}: netfabric_underlay_ip: {value!r} cannot be a tunnel endpoint")
        return None
    return iface.ip, iface.network.prefixlen


def _ports(where: str, raw_list: list, links: list[str], uplink: str | None, datapath: str, vlans: list[int], problems: list[str],
           provider_names: list[str] | None = None) -> tuple[Port, ...]:
    checks = spec.validators()
    taken = C.FABRIC_PORTS | {uplink, *links, *(provider_names or [])}
    if datapath == "netdev":
        taken |= {f"{C.PROVIDER_PORT_PREFIX}{v}" for v in vlans}
    seen: set[str] = set()
    ports = []
    for index, raw in enumerate(raw_list):
        name = raw.get("name")
        here = f"{where} port {name}" if isinstance(name, str) and name else f"{where} port #{index + 1}"
        raw = spec.check(checks.port, raw, here, problems)
        if raw is None:
            continue
        dev = None
        if raw["libvirt"]:  # known by its MAC; the name, if any, is the domain's <target dev>
            name, dev = libvirt.port(raw, here, problems)
            if name is None:
                continue
        elif name is None:
            problems.append(f"{here}: name is required (only a libvirt: true port may go without, known by its mac)")
            continue
        if (problem := _ifname_problem(name)) is not None and not _SUBINTERFACE.fullmatch(name):
            problems.append(f"{here}: {problem}")
            continue
        if name in seen:
            problems.append(f"{here}: port name used twice on this host")
            continue
        seen.add(name)
        if name in taken or name.startswith(C.TUNNEL_PREFIXES + C.NODE_PORT_PREFIXES):
            problems.append(f"{here}: name clashes with a port the fabric creates (uplink, provider NIC, patch, tunnel, vlanNNN, int-br-phy, qr-, qg-, qd-)")
        elif _SUBINTERFACE.fullmatch(name):
            problems.append(f"{here}: name looks like a VLAN subinterface of a host NIC (NAME.VID); VM ports are the VM's taps or veths")
        mac = raw["mac"]
        if mac is not None:
            try:
                mac = _validate.mac_address("mac", mac)
            except _validate.ValidationError as exc:
                problems.append(f"{here}: {exc}")
                mac = None
            else:
                if int(mac[:2], 16) & 1:
                    problems.append(f"{here}: mac {mac} is a multicast address; a VM needs a unicast MAC")
                    mac = None
        ip = raw["ip"]
        if ip is not None:
            try:
                ip = str(ipaddress.ip_interface(_validate.ip_address("ip", ip, with_prefix=True)).ip) if "/" in ip else _validate.ip_address("ip", ip)
            except _validate.ValidationError as exc:
                problems.append(f"{here}: {exc}")
                ip = None
        if raw["vhostuser"] and raw["libvirt"]:
            problems.append(f"{here}: vhostuser: true and libvirt: true (libvirt plugs its ports itself; a vhost-user port is the fabric's)")
        if raw["migrate_to"] and not raw["libvirt"]:
            problems.append(f"{here}: migrate_to is for libvirt: true ports (libvirt moves a domain; the fabric's own ports stay where they are)")
        ports.append(Port(name, raw["tenant"], mac, ip, raw["port_security"], raw["take_over"], libvirt=raw["libvirt"], dev=dev,
                          vhostuser=raw["vhostuser"], migrate_to=tuple(raw["migrate_to"])))
    return tuple(sorted(ports, key=lambda p: p.name))


# ---------------------------------------------------------------- across hosts and tenants


def _cross_checks(hosts: dict[str, Host], tenants: dict[str, Tenant], settings: dict, problems: list[str]) -> None:
    by_id = defaultdict(list)
    for tenant in tenants.values():
        by_id[(tenant.overlay, tenant.tunnel_id)].append(tenant.name)
    for (overlay, tunnel_id), names in by_id.items():
        if len(names) > 1:
            problems.append(f"tenants {', '.join(names)}: share {overlay} tunnel_id {tunnel_id}")

    _underlay_checks(hosts, problems)

    networks = {t.name: [ipaddress.ip_network(s) for s in t.subnets] for t in tenants.values()}
    macs: dict[str, str] = {}
    ips: dict[tuple[str, str], str] = {}
    carriers = defaultdict(list)
    for host in hosts.values():
        present = set()
        for port in host.ports:
            here = f"host {host.name} port {port.name}"
            tenant = tenants.get(port.tenant)
            if tenant is None:
                problems.append(f"{here}: unknown tenant {port.tenant!r}")
                continue
            present.add(port.tenant)
            if port.home is not None:  # a migration target's copy: the port's own entry is checked on its home
                continue
            if port.mac is not None:
                if port.mac in macs:
                    problems.append(f"{here}: mac {port.mac} is already used by {macs[port.mac]}")
                else:
                    macs[port.mac] = f"host {host.name} port {port.name}"
            if port.ip is not None:
                key = (port.tenant, port.ip)
                if key in ips:
                    problems.append(f"{here}: ip {port.ip} is already used in tenant {port.tenant} by {ips[key]}")
                else:
                    ips[key] = f"host {host.name} port {port.name}"
                address = ipaddress.ip_address(port.ip)
                if tenant.subnets and not any(address in net for net in networks[tenant.name]):
                    problems.append(f"{here}: ip {port.ip} is outside tenant {tenant.name}'s subnets {', '.join(tenant.subnets)}")
                for subnet in tenant.subnet_options:
                    low, high = subnet.dhcp_range or (None, None)
                    if low is not None and ipaddress.ip_address(low) <= address <= ipaddress.ip_address(high):
                        problems.append(f"{here}: ip {port.ip} is inside the dhcp_range {low}-{high} of subnet {subnet.cidr}")
        if len(present) > LOCAL_VLANS:
            problems.append(f"host {host.name}: carries {len(present)} tenants but only {LOCAL_VLANS} local VLANs exist")
        ids = defaultdict(list)
        for name in sorted(present):
            ids[tenants[name].tunnel_id].append(name)
            carriers[name].append(host)
        for tunnel_id, names in ids.items():
            if len({tenants[n].overlay for n in names}) > 1:
                problems.append(
                    f"host {host.name}: tenants {', '.join(names)} share tunnel_id {tunnel_id} across overlays; "
                    f"br-tun cannot tell their traffic apart on one host"
                )

    _provider_vlan_checks(hosts, tenants, carriers, problems)

    underlay_mtu = settings["netfabric_underlay_mtu"]
    if underlay_mtu is None:
        return
    for name, carrying in carriers.items():
        tenant = tenants[name]
        if tenant.provider_vlan is not None:
            # Plain 802.1Q on the wire: no encapsulation; the tag is not counted, as Neutron does.
            if tenant.mtu and tenant.mtu > underlay_mtu:
                problems.append(f"tenant {name}: mtu {tenant.mtu} (provider VLAN {tenant.provider_vlan}) exceeds netfabric_underlay_mtu {underlay_mtu}")
            continue
        ipv6 = any(h.version == 6 for h in carrying)
        overhead = ENCAP_OVERHEAD[tenant.overlay] + (IPV6_EXTRA if ipv6 else 0)
        if tenant.mtu and tenant.mtu + overhead > underlay_mtu:
            problems.append(
                f"tenant {name}: mtu {tenant.mtu} + {overhead} ({tenant.overlay} over IPv{6 if ipv6 else 4}) exceeds netfabric_underlay_mtu {underlay_mtu}"
            )


def _provider_vlan_checks(hosts: dict[str, Host], tenants: dict[str, Tenant], carriers: dict[str, list[Host]], problems: list[str]) -> None:
    """Tenants carried as 802.1Q VLANs on the physical network (Neutron's VLAN provider networks).

    Their VLAN is one layer-2 segment shared by every host on the wire, so two tenants cannot
    share it and no host may have an interface of its own in it. The tenant's local VLAN is
    rewritten to the provider VLAN on br-provider (hosts with netfabric_provider_nic) or on
    br-phy, which holds the uplink on netdev hosts only.
    """
    by_vlan = defaultdict(list)
    for tenant in tenants.values():
        if tenant.provider_vlan is not None:
            by_vlan[tenant.provider_vlan].append(tenant.name)
    for vlan, names in by_vlan.items():
        if len(names) > 1:
            problems.append(f"tenants {', '.join(names)}: share provider_vlan {vlan}; they would be one network on the wire")
    for host in hosts.values():
        for vlan in host.provider_vlans:
            for name in by_vlan.get(vlan, ()):
                problems.append(
                    f"host {host.name}: netfabric_provider_vlans lists VLAN {vlan}, the provider_vlan of tenant {name}; "
                    "the host would join the tenant's network"
                )
    for name, carrying in carriers.items():
        vlan = tenants[name].provider_vlan
        if vlan is None:
            continue
        for host in carrying:
            # linuxbridge: UPLINK.P in the bridge; a provider NIC: br-provider on any datapath
            if host.datapath_type != "netdev" and host.backend != linuxbridge.LINUXBRIDGE and host.provider_nic is None:
                problems.append(
                    f"host {host.name}: tenant {name} has provider_vlan {vlan}, but provider VLAN tenants need a provider NIC or the uplink on br-phy: "
                    f"set netfabric_provider_nic on {host.name} (a second NIC with no address, on br-provider), "
                    f"or netfabric_datapath_type netdev (its uplink and underlay address move onto br-phy), "
                    f"or carry tenant {name} on other hosts"
                )


def _underlay_checks(hosts: dict[str, Host], problems: list[str]) -> None:
    by_address = defaultdict(list)
    by_version = defaultdict(list)
    for host in hosts.values():
        by_address[host.address].append(host.name)
        by_version[host.version].append(host.name)
    for address, names in by_address.items():
        if len(names) > 1:
            problems.append(f"hosts {', '.join(names)}: share underlay address {address}")
    if len(by_version) > 1:
        problems.append(f"hosts {', '.join(by_version[6])}: IPv6 underlay while hosts {', '.join(by_version[4])} use IPv4; tunnels need one address family")
    # IPv6 tunnel names are hashes; refuse the (unlikely) case of two peers sharing one.
    by_name = defaultdict(list)
    for address, names in by_address.items():
        by_name[tunnel_port_name("gre", address)].extend(names)
    for tunnel, names in by_name.items():
        if len(names) > 1 and len({hosts[n].address for n in names}) > 1:
            problems.append(f"hosts {', '.join(names)}: underlay addresses give the same tunnel port name {tunnel}")
