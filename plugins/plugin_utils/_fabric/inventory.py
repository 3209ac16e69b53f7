# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the netfabric inventory and normalise it into a small typed model.

Every problem is collected before anything is reported, and each one names its host,
tenant or port, so a single run lists everything to fix and nothing has been touched yet.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import (
    LOCAL_VLANS,
    subinterface_name,
    tunnel_port_name,
)

OVERLAYS = ("vxlan", "gre")
MODES = ("learning", "l2pop")
DATAPATHS = ("system", "netdev")
TUNNEL_ID_MAX = {"vxlan": 16777215, "gre": 4294967295}
# Bytes a tenant frame grows by on the wire, counted like Neutron: inner Ethernet 14 + VXLAN 8
# + UDP 8 + outer IPv4 20 = 50; inner Ethernet 14 + GRE with key 8 + outer IPv4 20 = 42.
# An IPv6 outer header is 40 bytes, so IPv6 underlays add IPV6_EXTRA to both.
ENCAP_OVERHEAD = {"vxlan": 50, "gre": 42}
IPV6_EXTRA = 20
MTU_RANGE = (68, 65535)
VLAN_RANGE = (1, 4094)
COOKIE_RANGE = (1, 2**64 - 1)
# Names and paths are checked by the modules' own rules (module_utils/_validate.py), so whatever
# passes here passes every module too, before any host is touched.
IFNAME_MAX = _validate.IFNAME_MAX
TENANT_NAME_MAX = 64
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
# Names the plan itself gives to ports; a VM port with one of them would collide.
RESERVED_PORTS = frozenset({"br-int", "br-tun", "br-phy", "patch-int", "patch-tun", "int-br-phy", "phy-br-int"})
RESERVED_PREFIXES = ("vxlan-", "gre-")

OWNER = "netfabric"
# 0x4e46 is "NF" in ASCII: the cookie that marks the flows netfabric owns.
DEFAULTS: dict[str, Any] = {
    "netfabric_tenants": [],
    "netfabric_overlay": "vxlan",
    "netfabric_mode": "learning",
    "netfabric_underlay_mtu": 1500,
    "netfabric_tenant_mtu": 1450,
    "netfabric_flow_cookie": 0x4E46,
    "netfabric_state_dir": "/etc/netfabric",
    # MACs br-int and br-tun learn per tenant and host: one VM flooding source MACs fills only its
    # own tenant's share, never what the other tenants need.
    "netfabric_mac_limit": 4096,
}
FABRIC_VARS = tuple(DEFAULTS)
HOST_VARS = (
    "netfabric_underlay_ip",
    "netfabric_uplink",
    "netfabric_datapath_type",
    "netfabric_provider_vlans",
    "netfabric_ports",
    "netfabric_ovs_db",
    "netfabric_state_dir",  # per host too: hosts that share a filesystem (the namespace lab) need their own
)
TENANT_KEYS = ("name", "tunnel_id", "overlay", "subnets", "provider_vlan", "mtu")
PORT_KEYS = ("name", "tenant", "mac", "ip", "port_security", "take_over")
MAC_LIMIT_RANGE = (1, 65535)
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


@dataclass(frozen=True)
class Port:
    name: str
    tenant: str
    mac: str | None
    ip: str | None
    port_security: bool = True  # sends only from its mac and ip (when given)
    take_over: bool = False  # may be moved onto br-int from another bridge


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
    mac_limit: int = DEFAULTS["netfabric_mac_limit"]


def validate(hosts: dict[str, dict], fabric_vars: dict) -> Fabric:
    """Check the whole inventory; return the model or raise FabricError listing every problem.

    `hosts` maps each hypervisor to its netfabric_* host variables; `fabric_vars` holds the
    fabric-wide netfabric_* variables (missing ones take DEFAULTS).
    """
    problems: list[str] = []
    settings = _fabric_settings({**DEFAULTS, **{k: v for k, v in fabric_vars.items() if v is not None}}, problems)
    tenants = _tenants(settings["netfabric_tenants"], settings["netfabric_overlay"], settings["netfabric_tenant_mtu"], problems)
    parsed = {}
    for name in sorted(hosts):
        host = _host(name, hosts[name], problems)
        if host is not None:
            parsed[name] = host
    _cross_checks(parsed, tenants, settings, problems)
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
    )


# ---------------------------------------------------------------- single values


def _int(value: Any, bounds: tuple[int, int]) -> int | None:
    """An int within bounds (decimal or 0x strings too, since INI inventories give strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            return None
    if not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        return None
    return int(value)


def _ifname_problem(value: Any) -> str | None:
    problem = _validate.ifname_problem(value)
    if problem is None:
        return None
    return f"{value!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}"


def _state_dir_problem(value: Any) -> str | None:
    """netfabric_state_dir goes into a systemd unit's ExecStart and root replays the flows kept there."""
    problem = _validate.path_problem(value, strict=True)
    if problem is None:
        return None
    return f"netfabric_state_dir {value!r} is not {_validate.STRICT_PATH_RULE}: {problem}"


def _unknown_keys(raw: dict, allowed: tuple[str, ...]) -> list[str]:
    return sorted(str(k) for k in raw if k not in allowed)


# ---------------------------------------------------------------- fabric-wide


def _fabric_settings(raw: dict, problems: list[str]) -> dict:
    out = dict(raw)
    if raw["netfabric_overlay"] not in OVERLAYS:
        problems.append(f"fabric: netfabric_overlay {raw['netfabric_overlay']!r} is not one of {', '.join(OVERLAYS)}")
        out["netfabric_overlay"] = "vxlan"
    if raw["netfabric_mode"] not in MODES:
        problems.append(f"fabric: netfabric_mode {raw['netfabric_mode']!r} is not one of {', '.join(MODES)}")
        out["netfabric_mode"] = "learning"
    for var in ("netfabric_underlay_mtu", "netfabric_tenant_mtu"):
        out[var] = _int(raw[var], MTU_RANGE)
        if out[var] is None:
            problems.append(f"fabric: {var} {raw[var]!r} is not an MTU ({MTU_RANGE[0]}-{MTU_RANGE[1]})")
    out["netfabric_flow_cookie"] = _int(raw["netfabric_flow_cookie"], COOKIE_RANGE)
    if out["netfabric_flow_cookie"] is None:
        problems.append(
            f"fabric: netfabric_flow_cookie {raw['netfabric_flow_cookie']!r} is out of range (1-0xffffffffffffffff; 0 is the cookie of flows nobody marked)"
        )
    out["netfabric_mac_limit"] = _int(raw["netfabric_mac_limit"], MAC_LIMIT_RANGE)
    if out["netfabric_mac_limit"] is None:
        low, high = MAC_LIMIT_RANGE
        problems.append(f"fabric: netfabric_mac_limit {raw['netfabric_mac_limit']!r} is out of range ({low}-{high} MACs per tenant and host)")
    if (problem := _state_dir_problem(raw["netfabric_state_dir"])) is not None:
        problems.append(f"fabric: {problem}")
    if not isinstance(raw["netfabric_tenants"], list):
        problems.append("fabric: netfabric_tenants must be a list of tenants")
        out["netfabric_tenants"] = []
    return out


def _tenants(raw_list: list, default_overlay: str, default_mtu: int | None, problems: list[str]) -> dict[str, Tenant]:
    tenants: dict[str, Tenant] = {}
    for index, raw in enumerate(raw_list):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw.get("name"):
            problems.append(f"tenant #{index + 1}: needs a dictionary with a non-empty string 'name'")
            continue
        name = raw["name"]
        where = f"tenant {name}"
        if (problem := _validate.name_problem(name, TENANT_NAME_MAX)) is not None:
            problems.append(f"{where}: name {name!r} is not 1-{TENANT_NAME_MAX} {_validate.NAME_RULE}: {problem}")
            continue
        if name in tenants:
            problems.append(f"{where}: defined more than once")
            continue
        ok = True
        for key in _unknown_keys(raw, TENANT_KEYS):
            problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(TENANT_KEYS)})")
        overlay = raw.get("overlay") or default_overlay
        if overlay not in OVERLAYS:
            problems.append(f"{where}: overlay {overlay!r} is not one of {', '.join(OVERLAYS)}")
            ok = False
        tunnel_id = None
        if ok:
            tunnel_id = _int(raw.get("tunnel_id"), (0, TUNNEL_ID_MAX[overlay]))
            if tunnel_id is None:
                what = "VNI" if overlay == "vxlan" else "GRE key"
                problems.append(f"{where}: tunnel_id {raw.get('tunnel_id')!r} is not a valid {what} (allowed 0-{TUNNEL_ID_MAX[overlay]} for {overlay})")
                ok = False
        subnets = []
        raw_subnets = raw.get("subnets") or []
        if not isinstance(raw_subnets, list):
            problems.append(f"{where}: subnets must be a list of networks like 10.0.0.0/24")
            raw_subnets = []
        for subnet in raw_subnets:
            try:
                subnets.append(str(ipaddress.ip_network(str(subnet), strict=True)))
            except ValueError:
                problems.append(f"{where}: subnet {subnet!r} is not a network like 10.0.0.0/24 (host bits must be zero)")
        provider_vlan = raw.get("provider_vlan")
        if provider_vlan is not None:
            provider_vlan = _int(provider_vlan, VLAN_RANGE)
            if provider_vlan is None:
                problems.append(f"{where}: provider_vlan {raw['provider_vlan']!r} is out of range (allowed 1-4094)")
        mtu = default_mtu
        if raw.get("mtu") is not None:
            mtu = _int(raw["mtu"], MTU_RANGE)
            if mtu is None:
                problems.append(f"{where}: mtu {raw['mtu']!r} is not an MTU ({MTU_RANGE[0]}-{MTU_RANGE[1]})")
        if ok:
            tenants[name] = Tenant(name, tunnel_id, overlay, tuple(subnets), provider_vlan, mtu or 0)
    return dict(sorted(tenants.items()))


# ---------------------------------------------------------------- hosts


def _host(name: str, raw: dict, problems: list[str]) -> Host | None:
    where = f"host {name}"
    ok = True
    underlay = raw.get("netfabric_underlay_ip")
    address, prefix, version = "", 0, 4
    if underlay in (None, ""):
        problems.append(f"{where}: netfabric_underlay_ip is missing (the tunnel endpoint, like 172.31.0.1/24)")
        ok = False
    else:
        try:
            if "/" not in str(underlay):
                raise ValueError
            iface = ipaddress.ip_interface(str(underlay))
        except ValueError:
            problems.append(f"{where}: netfabric_underlay_ip {underlay!r} is not an address/prefix like 172.31.0.1/24")
            ok = False
        else:
            ip = iface.ip
            if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
                problems.append(f"{where}: netfabric_underlay_ip {underlay!r} cannot be a tunnel endpoint")
                ok = False
            address, prefix, version = str(ip), iface.network.prefixlen, ip.version

    uplink = raw.get("netfabric_uplink")
    if uplink in (None, ""):
        problems.append(f"{where}: netfabric_uplink is missing (the NIC that carries the underlay)")
        ok = False
    elif (problem := _ifname_problem(uplink)) is not None:
        problems.append(f"{where}: netfabric_uplink {problem}")
        ok = False

    datapath = raw.get("netfabric_datapath_type") or "system"
    if datapath not in DATAPATHS:
        problems.append(f"{where}: netfabric_datapath_type {datapath!r} is not one of {', '.join(DATAPATHS)}")
        ok = False

    vlans: list[int] = []
    raw_vlans = raw.get("netfabric_provider_vlans") or []
    if not isinstance(raw_vlans, list):
        problems.append(f"{where}: netfabric_provider_vlans must be a list of VLAN ids")
        raw_vlans = []
    for value in raw_vlans:
        vlan = _int(value, VLAN_RANGE)
        if vlan is None:
            problems.append(f"{where}: provider VLAN {value!r} is out of range (allowed 1-4094)")
        elif vlan in vlans:
            problems.append(f"{where}: provider VLAN {vlan} is listed twice")
        else:
            vlans.append(vlan)
    if ok and datapath == "system":
        for vlan in vlans:
            if (problem := _ifname_problem(subinterface_name(uplink, vlan))) is not None:
                problems.append(f"{where}: VLAN subinterface for provider VLAN {vlan}: {problem}")

    ovs_db = raw.get("netfabric_ovs_db")
    if ovs_db is not None and not isinstance(ovs_db, str):
        problems.append(f"{where}: netfabric_ovs_db {ovs_db!r} must be a string like unix:/run/openvswitch/db.sock")

    state_dir = raw.get("netfabric_state_dir")
    if state_dir is not None and (problem := _state_dir_problem(state_dir)) is not None:
        problems.append(f"{where}: {problem}")

    ports = _ports(where, raw.get("netfabric_ports") or [], uplink, datapath, vlans, problems)
    if not ok:
        return None
    return Host(name, address, prefix, version, uplink, datapath, tuple(sorted(vlans)), ports, ovs_db or None, state_dir)


def _ports(where: str, raw_list: Any, uplink: Any, datapath: str, vlans: list[int], problems: list[str]) -> tuple[Port, ...]:
    if not isinstance(raw_list, list):
        problems.append(f"{where}: netfabric_ports must be a list of ports")
        return ()
    taken = set(RESERVED_PORTS) | ({uplink} if isinstance(uplink, str) else set())
    if datapath == "netdev":
        taken |= {f"vlan{v}" for v in vlans}
    seen: set[str] = set()
    ports = []
    for index, raw in enumerate(raw_list):
        if not isinstance(raw, dict):
            problems.append(f"{where} port #{index + 1}: needs a dictionary with 'name' and 'tenant'")
            continue
        if raw.get("name") in (None, ""):
            problems.append(f"{where} port #{index + 1}: name is missing (an interface name of 1-{IFNAME_MAX} characters)")
            continue
        name = raw["name"]
        here = f"{where} port {name}"
        for key in _unknown_keys(raw, PORT_KEYS):
            problems.append(f"{here}: unknown key {key!r} (allowed: {', '.join(PORT_KEYS)})")
        if (problem := _ifname_problem(name)) is not None and not (isinstance(name, str) and _SUBINTERFACE.fullmatch(name)):
            problems.append(f"{here}: {problem}")
            continue
        if name in seen:
            problems.append(f"{here}: port name used twice on this host")
            continue
        seen.add(name)
        if name in taken or name.startswith(RESERVED_PREFIXES):
            problems.append(f"{here}: name clashes with a port the fabric creates (uplink, patch, tunnel, vlanNNN, int-br-phy)")
        elif _SUBINTERFACE.fullmatch(name):
            problems.append(f"{here}: name looks like a VLAN subinterface of a host NIC (NAME.VID); VM ports are the VM's taps or veths")
        tenant = raw.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            problems.append(f"{here}: tenant is missing")
            continue
        mac = raw.get("mac")
        if mac is not None:
            mac = str(mac).lower()
            if not _MAC.fullmatch(mac):
                problems.append(f"{here}: mac {raw['mac']!r} is not a MAC address like 52:54:00:12:34:56")
                mac = None
            elif int(mac[:2], 16) & 1:
                problems.append(f"{here}: mac {mac} is a multicast address; a VM needs a unicast MAC")
                mac = None
        ip = raw.get("ip")
        if ip is not None:
            try:
                ip = str(ip)
                ip = str(ipaddress.ip_interface(ip).ip if "/" in ip else ipaddress.ip_address(ip))
            except ValueError:
                problems.append(f"{here}: ip {raw['ip']!r} is not an IP address (a prefix is allowed)")
                ip = None
        flags = {}
        for key, default in (("port_security", True), ("take_over", False)):
            flags[key] = raw.get(key, default)
            if not isinstance(flags[key], bool):
                problems.append(f"{here}: {key} {flags[key]!r} must be true or false")
                flags[key] = default
        ports.append(Port(name, tenant, mac, ip, **flags))
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
    share it and no host may have an interface of its own in it. Only netdev hosts hold the
    uplink on br-phy, where the tenant's local VLAN is rewritten to the provider VLAN.
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
            if host.datapath_type != "netdev":
                problems.append(
                    f"host {host.name}: tenant {name} has provider_vlan {vlan}, but provider VLAN tenants need the uplink on br-phy: "
                    f"set netfabric_datapath_type netdev on {host.name} (its uplink and underlay address move onto br-phy) "
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
