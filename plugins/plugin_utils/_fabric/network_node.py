# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network node's half of the inventory: tenant subnets with gateways and DHCP, routers,
floating IPs and the external network, checked and turned into ports of the network node.

A router or DHCP server joins its tenant like a VM: a port on the network node's br-int (one end
of a veth pair; the other end is in its namespace) with a MAC and an address. So the topology,
local VLANs, tunnels, br-int's flows and l2pop entries (the ARP responder answers for gateways)
need nothing new: the network node carries a tenant because it holds such ports.

Names and MACs derive from a hash of what they serve, so they never depend on order and fit 15
bytes. External addresses are claimed in the inventory or allocated from the node's pool in
tenant-name order (pin one with `external_ip`).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _constants as C
from ansible_collections.netfabric.ovs.plugins.module_utils import _nft, _validate
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import spec

NETWORK_NODES = "network_nodes"  # the inventory group


@dataclass(frozen=True)
class Subnet:
    cidr: str
    gateway: str | None  # IPv4 subnets always have one (default: the first address)
    dhcp: bool = False
    dhcp_ip: str | None = None
    dhcp_range: tuple[str, str] | None = None
    dns: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (dst, via)


@dataclass(frozen=True)
class FloatingIp:
    port: str
    host: str | None
    external_ip: str


@dataclass(frozen=True)
class External:
    bridge: str
    nic: str | None
    subnet: str
    gateway: str | None
    pool: tuple[tuple[int, int], ...]  # inclusive ranges of addresses, as integers


@dataclass(frozen=True)
class Router:
    tenant: str
    node: str
    external_ip: str
    floating: tuple[tuple[str, str], ...]  # (external_ip, the port's ip)


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def port_name(prefix: str, *parts: str) -> str:
    return f"{prefix}{digest(*parts)[:10]}"


def node_mac(name: str) -> str:
    tail = digest("mac", name)[:6]
    return f"{C.NODE_MAC_PREFIX}:{tail[0:2]}:{tail[2:4]}:{tail[4:6]}"


def router_netns(prefix: str, tenant: str) -> str:
    return f"{prefix}{C.ROUTER_NETNS_PREFIX}{tenant}"


def dhcp_netns(prefix: str, tenant: str, cidr: str) -> str:
    return f"{prefix}{C.DHCP_NETNS_PREFIX}{tenant}-{digest(tenant, cidr)[:6]}"


def serving_node(tenant, nodes: tuple[str, ...]) -> str | None:
    """The network node of a tenant's router and DHCP servers: its own choice, else the first."""
    return tenant.network_node or (nodes[0] if nodes else None)


# ---------------------------------------------------------------- parsing, per tenant and host


def _address(field: str, value: Any, where: str, problems: list[str]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_validate.ip_address(field, value))
    except _validate.ValidationError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _range(field: str, value: Any, network, where: str, problems: list[str]) -> tuple[int, int] | None:
    """FIRST-LAST (or one address) inside `network`, as integers."""
    text = value if isinstance(value, str) else ""
    first, _dash, last = text.partition("-")
    ends = [_address(field, part.strip(), where, problems) for part in (first, last or first)]
    if None in ends:
        return None
    low, high = ends
    if low not in network or high not in network or int(low) > int(high):
        problems.append(f"{where}: {field} {value!r} is not FIRST-LAST with FIRST <= LAST inside {network}")
        return None
    return int(low), int(high)


def subnets(raw_list: list, where: str, problems: list[str]) -> tuple[Subnet, ...]:
    """A tenant's subnets: a string is a network with the defaults, a dict gives its options."""
    out = []
    for raw in raw_list:
        raw = {"cidr": raw} if isinstance(raw, str) else raw
        if not isinstance(raw, dict):
            problems.append(f"{where}: subnet {raw!r} is neither a network like 10.0.0.0/24 nor a dict with cidr")
            continue
        here = f"{where} subnet {raw.get('cidr')}"
        raw = spec.check(spec.validators().subnet, raw, here, problems)
        if raw is None:
            continue
        try:
            network = ipaddress.ip_network(raw["cidr"], strict=True)
        except ValueError:
            problems.append(f"{where}: subnet {raw['cidr']!r} is not a network like 10.0.0.0/24 (host bits must be zero)")
            continue
        hosts = network.hosts() if network.num_addresses > 2 else iter(network)
        gateway = _address("gateway", raw["gateway"], here, problems) if raw["gateway"] is not None else next(hosts, None)
        if gateway is not None and gateway not in network:
            problems.append(f"{here}: gateway {gateway} is outside {network}")
        dhcp_ip = None
        if raw["dhcp"]:
            if network.version != 4:
                problems.append(f"{here}: dhcp serves IPv4 subnets only")
            if raw["dhcp_ip"] is not None:
                dhcp_ip = _address("dhcp_ip", raw["dhcp_ip"], here, problems)
            elif gateway is not None and gateway + 1 in network and gateway + 1 != network.broadcast_address:
                dhcp_ip = gateway + 1
            if dhcp_ip is not None and (dhcp_ip not in network or dhcp_ip == gateway):
                problems.append(f"{here}: dhcp_ip {dhcp_ip} must be an address of {network} other than the gateway")
        dhcp_range = None
        if raw["dhcp_range"] is not None:
            bounds = _range("dhcp_range", raw["dhcp_range"], network, here, problems)
            if bounds is not None:
                dhcp_range = tuple(str(ipaddress.ip_address(b)) for b in bounds)
                for what, address in (("gateway", gateway), ("dhcp_ip", dhcp_ip)):
                    if address is not None and bounds[0] <= int(address) <= bounds[1]:
                        problems.append(f"{here}: dhcp_range {raw['dhcp_range']} holds the {what} {address}")
        dns = tuple(str(a) for a in (_address("dns", d, here, problems) for d in raw["dns"]) if a is not None)
        routes = []
        for route in raw["routes"]:
            dst, via = (route.get("dst"), route.get("via")) if isinstance(route, dict) else (None, None)
            try:
                dst = str(ipaddress.ip_network(dst, strict=True))
                via_ip = ipaddress.ip_address(via)
            except (TypeError, ValueError):
                problems.append(f"{here}: route {route!r} is not {{dst: NETWORK, via: ADDRESS}}")
                continue
            if via_ip not in network:
                problems.append(f"{here}: route to {dst} goes via {via}, outside {network}")
            routes.append((dst, str(via_ip)))
        out.append(
            Subnet(
                str(network),
                str(gateway) if gateway is not None else None,
                raw["dhcp"],
                str(dhcp_ip) if dhcp_ip is not None else None,
                dhcp_range,
                dns,
                tuple(routes),
            )
        )
    return tuple(out)


def floating_ips(raw_list: list, where: str, problems: list[str]) -> tuple[FloatingIp, ...]:
    out = []
    for raw in raw_list:
        here = f"{where} floating IP {raw.get('external_ip') if isinstance(raw, dict) else raw!r}"
        raw = spec.check(spec.validators().floating_ip, raw if isinstance(raw, dict) else {}, here, problems)
        if raw is None:
            continue
        address = _address("external_ip", raw["external_ip"], here, problems)
        if address is not None:
            out.append(FloatingIp(raw["port"], raw["host"], str(address)))
    return tuple(out)


def external(raw: dict | None, where: str, problems: list[str]) -> External | None:
    if raw is None:
        return None
    here = f"{where}: netfabric_external"
    raw = spec.check(spec.validators().external, raw, here, problems)
    if raw is None:
        return None
    for field in ("bridge", "nic"):
        if raw[field] is not None and (problem := _validate.ifname_problem(raw[field])) is not None:
            problems.append(f"{here}: {field} {raw[field]!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
    try:
        network = ipaddress.ip_network(raw["subnet"], strict=True)
    except ValueError:
        problems.append(f"{here}: subnet {raw['subnet']!r} is not a network like 203.0.113.0/24 (host bits must be zero)")
        return None
    if network.version != 4:
        problems.append(f"{here}: subnet {network} is IPv6; routers NAT IPv4 only")
        return None
    gateway = None
    if raw["gateway"] is not None:
        gateway = _address("gateway", raw["gateway"], here, problems)
        if gateway is not None and gateway not in network:
            problems.append(f"{here}: gateway {gateway} is outside {network}")
    pool = tuple(r for r in (_range("pool", item, network, here, problems) for item in raw["pool"]) if r is not None)
    if gateway is not None and any(low <= int(gateway) <= high for low, high in pool):
        problems.append(f"{here}: pool holds the gateway {gateway}")
    return External(raw["bridge"], raw["nic"], str(network), str(gateway) if gateway else None, pool)


# ---------------------------------------------------------------- placing routers and DHCP servers


def place(hosts: dict, tenants: dict, nodes: tuple[str, ...], problems: list[str]) -> tuple[dict[str, list], dict[str, Router]]:
    """Check routers, DHCP and floating IPs across the fabric; return the ports each network node
    gets, as (tenant, name, ip, port_security), and the routers by tenant."""
    for name in nodes:
        if name not in hosts:
            problems.append(f"host {name}: is in group {NETWORK_NODES} but not a hypervisor with valid variables (list it in both groups)")
    for host in hosts.values():
        if host.external is not None and host.name not in nodes:
            problems.append(f"host {host.name}: netfabric_external is set but the host is not in group {NETWORK_NODES}")
    nodes = tuple(n for n in sorted(nodes) if n in hosts)
    for name in nodes:
        if hosts[name].external is None:
            problems.append(f"host {name}: a network node needs netfabric_external (its external subnet and address pool)")

    claimed: dict[str, str] = {}  # external address -> who claims it
    routers: dict[str, Router] = {}
    added: dict[str, list] = defaultdict(list)
    wanted = [t for t in tenants.values() if t.router or t.floating_ips or any(s.dhcp for s in t.subnet_options)]
    pending = []
    for tenant in wanted:
        where = f"tenant {tenant.name}"
        node = serving_node(tenant, nodes)
        if node is None or node not in nodes:
            problems.append(
                f"{where}: needs a network node for its router, DHCP or floating IPs, but "
                + (f"network_node {node!r} is not in group {NETWORK_NODES}" if node else f"group {NETWORK_NODES} is empty")
            )
            continue
        ext = hosts[node].external
        if tenant.floating_ips and not tenant.router:
            problems.append(f"{where}: floating_ips need router: true")
        for subnet in tenant.subnet_options:
            if subnet.dhcp and subnet.dhcp_ip:
                name = port_name(C.DHCP_PORT_PREFIX, tenant.name, subnet.cidr)
                added[node].append((tenant.name, name, subnet.dhcp_ip, True))
        if not tenant.router or ext is None:
            continue
        v4 = [s for s in tenant.subnet_options if ipaddress.ip_network(s.cidr).version == 4]
        if not v4:
            problems.append(f"{where}: router: true needs an IPv4 subnet")
        for subnet in v4:
            added[node].append((tenant.name, port_name(C.ROUTER_PORT_PREFIX, tenant.name, subnet.cidr), subnet.gateway, False))
        for address, what in [(tenant.external_ip, "external_ip"), *((f.external_ip, f"floating IP for port {f.port}") for f in tenant.floating_ips)]:
            if address is None:
                continue
            if not _in_pool(address, ext):
                problems.append(f"{where}: {what} {address} is not in the pool of network node {node}")
            elif address in claimed:
                problems.append(f"{where}: {what} {address} is already claimed by {claimed[address]}")
            else:
                claimed[address] = f"tenant {tenant.name}"
        pending.append((tenant, node, ext))
    for tenant, node, ext in pending:  # routers without an address take the first free one
        address = tenant.external_ip or _first_free(ext, claimed)
        if address is None:
            problems.append(f"tenant {tenant.name}: no free address left in the pool of network node {node} for its router")
            continue
        claimed.setdefault(address, f"tenant {tenant.name}")
        floating = tuple((f.external_ip, ip) for f in tenant.floating_ips if (ip := _port_ip(hosts, tenant, f, problems)) is not None)
        routers[tenant.name] = Router(tenant.name, node, address, floating)

    return dict(added), routers


def _in_pool(address: str, ext: External) -> bool:
    value = int(ipaddress.ip_address(address))
    return any(low <= value <= high for low, high in ext.pool)


def _first_free(ext: External, claimed: dict[str, str]) -> str | None:
    for low, high in ext.pool:
        for value in range(low, high + 1):
            address = str(ipaddress.ip_address(value))
            if address not in claimed:
                return address
    return None


def _port_ip(hosts: dict, tenant, floating: FloatingIp, problems: list[str]) -> str | None:
    where = f"tenant {tenant.name} floating IP {floating.external_ip}"
    found = [
        (host.name, port)
        for host in hosts.values()
        if floating.host in (None, host.name)
        for port in host.ports
        if port.name == floating.port and port.tenant == tenant.name
    ]
    if not found:
        problems.append(f"{where}: no port {floating.port!r} of tenant {tenant.name}" + (f" on host {floating.host}" if floating.host else ""))
        return None
    if len(found) > 1:
        problems.append(f"{where}: port {floating.port!r} is on hosts {', '.join(host for host, _port in found)}; say which with host")
        return None
    port = found[0][1]
    if port.ip is None or ipaddress.ip_address(port.ip).version != 4:
        problems.append(f"{where}: port {floating.port} needs an IPv4 ip to be reached through a floating IP")
        return None
    return port.ip


# ---------------------------------------------------------------- the network node's plan

# Inside a router's namespace only: it forwards, and drops what arrives on a port whose subnet
# cannot have sent it (strict reverse-path filter), so no spoofed source crosses the router.
ROUTER_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}
DHCP_SYSCTLS = {"net.ipv4.ip_forward": "0"}
# On the userspace (netdev) datapath a packet a namespace sends through a veth with TX checksum
# offload on leaves with its UDP/TCP checksum unfinished, and receivers drop it (DHCP offers were);
# so the namespace ends of a netdev host's veths finish their checksums themselves.
NETDEV_FEATURES = {"tx-checksumming": False}


def node_plan(fabric, name: str) -> dict[str, Any]:
    """What a network node runs besides OVS: namespaces, veth pairs into them, router routes and
    NAT, the routers' ports on the external bridge, and DHCP servers (the network_node role's
    input). Empty lists on any other host."""
    host = fabric.hosts[name]
    features = NETDEV_FEATURES if host.datapath_type == "netdev" else {}
    prefix = host.netns_prefix
    state_dir = host.state_dir or fabric.state_dir
    namespaces, links, routes, nat, gateways, dhcp = [], [], [], [], [], []
    for router in (r for r in (fabric.routers or {}).values() if r.node == name):
        tenant = fabric.tenants[router.tenant]
        ext = host.external
        netns = router_netns(prefix, tenant.name)
        qg = port_name(C.GATEWAY_PORT_PREFIX, tenant.name)
        namespaces.append({"name": netns, "sysctls": ROUTER_SYSCTLS})
        plen = ipaddress.ip_network(ext.subnet).prefixlen
        links.append(
            {
                "name": qg,
                "netns": netns,
                "mac": node_mac(qg),
                "addresses": [f"{router.external_ip}/{plen}", *(f"{fip}/32" for fip, _ip in router.floating)],
                "features": features,
            }
        )
        gateways.append({"name": qg})
        for subnet in tenant.subnet_options:
            network = ipaddress.ip_network(subnet.cidr)
            if network.version != 4:
                continue
            qr = port_name(C.ROUTER_PORT_PREFIX, tenant.name, subnet.cidr)
            address = f"{subnet.gateway}/{network.prefixlen}"
            links.append({"name": qr, "netns": netns, "mac": node_mac(qr), "mtu": tenant.mtu, "addresses": [address], "features": features})
        routes.append({"netns": netns, "routes": [{"dst": "default", "via": ext.gateway}] if ext.gateway else []})
        nat.append({"netns": netns, "chains": _nat_chains(qg, router)})
    for tenant in fabric.tenants.values():
        for subnet in tenant.subnet_options:
            if not subnet.dhcp or serving_node(tenant, fabric.network_nodes) != name:
                continue
            network = ipaddress.ip_network(subnet.cidr)
            netns = dhcp_netns(prefix, tenant.name, subnet.cidr)
            qd = port_name(C.DHCP_PORT_PREFIX, tenant.name, subnet.cidr)
            instance = digest(tenant.name, subnet.cidr)[:10]
            namespaces.append({"name": netns, "sysctls": DHCP_SYSCTLS})
            address = f"{subnet.dhcp_ip}/{network.prefixlen}"
            links.append({"name": qd, "netns": netns, "mac": node_mac(qd), "mtu": tenant.mtu, "addresses": [address], "features": features})
            routed = tenant.name in (fabric.routers or {})
            dhcp.append(
                {
                    "name": instance,
                    "netns": netns,
                    "interface": qd,
                    "dir": f"{state_dir}/{C.DHCP_DIR_PREFIX}{instance}",
                    "subnet": subnet.cidr,
                    "hosts": sorted(
                        ({"mac": p.mac, "ip": p.ip} for h in fabric.hosts.values() for p in h.ports
                         if p.tenant == tenant.name and p.kind == "vm" and p.home is None and p.mac and p.ip and ipaddress.ip_address(p.ip) in network),
                        key=lambda e: e["mac"],
                    ),
                    "range": dict(zip(("start", "end"), subnet.dhcp_range)) if subnet.dhcp_range else None,
                    "router": subnet.gateway if routed else None,
                    "dns": list(subnet.dns),
                    "routes": [{"dst": dst, "via": via} for dst, via in subnet.routes],
                    "mtu": tenant.mtu,
                }
            )
    return {
        # what this host's earlier runs may have made, so the role removes what the plan dropped
        "boot": boot_plan(state_dir, namespaces, links, routes, nat),
        "owned": {
            "netns_prefixes": [f"{prefix}{C.ROUTER_NETNS_PREFIX}", f"{prefix}{C.DHCP_NETNS_PREFIX}"],
            "dhcp_dirs": f"{state_dir}/{C.DHCP_DIR_PREFIX}*",
        },
        "namespaces": namespaces,
        "links": links,
        "routes": routes,
        "nat": nat,
        "external": {"bridge": host.external.bridge, "owner": C.OWNERS["routers"], "ports": gateways} if host.external else None,
        "dhcp": dhcp,
    }


def boot_plan(state_dir: str, namespaces: list, links: list, routes: list, nat: list) -> dict[str, Any]:
    """What netfabric-netns.py puts back at boot, when the kernel has forgotten the namespaces with
    everything in them (OVSDB keeps the veths' host ends as ports, and ovs-vswitchd takes each
    one back when its veth appears again): `state` is netns.json, `nft` each router's NAT table as
    the file the script gives `nft -f` (the nft_table module's own transaction, which names only
    that table), as the state_dir module's files (named relative to the state directory, `dir`).
    No namespaces: the role removes the files and the unit."""
    nft_dir = f"{state_dir}/{C.NFT_RESTORE_DIR}"
    tables = {}
    for item in nat:
        want = _nft.table_want({"family": "ip", "name": C.NAT_TABLE, "chains": item["chains"]})
        tables[item["netns"]] = {"file": f"{nft_dir}/{item['netns']}.nft", "text": _nft.transaction(want, True)}
    route_of = {item["netns"]: item["routes"] for item in routes}
    state = [
        {
            "name": ns["name"],
            "sysctls": ns["sysctls"],
            "links": [{k: link[k] for k in ("name", "mac", "mtu", "addresses", "features") if k in link} for link in links if link["netns"] == ns["name"]],
            "routes": route_of.get(ns["name"], []),
            "nft": {"family": "ip", "name": C.NAT_TABLE, "file": tables[ns["name"]]["file"]} if ns["name"] in tables else None,
        }
        for ns in namespaces
    ]
    return {
        "dir": state_dir,
        "file": f"{state_dir}/{C.NETNS_BOOT_STATE}",
        "nft_dir": nft_dir,
        "unit": C.NETNS_BOOT_UNIT,
        "state": {"owner": f"{C.LINK_OWNER_MARK}{C.OWNERS['routers']}", "namespaces": state},
        "nft": [{"name": f"{C.NFT_RESTORE_DIR}/{name}.nft", "content": table["text"], "mode": "0600"} for name, table in sorted(tables.items())],
    }


def _nat_chains(qg: str, router: Router) -> list[dict[str, Any]]:
    """SNAT of everything leaving through the gateway port (a floating IP's port as its floating
    IP), DNAT of floating IPs, and nothing else in from outside: only replies and DNAT-ed packets
    are forwarded from the gateway port."""
    out = f'oifname "{qg}"'
    into = f'iifname "{qg}"'
    return [
        {
            "name": "prerouting",
            "type": "nat",
            "hook": "prerouting",
            "priority": "dstnat",
            "policy": "accept",
            "rules": [f"{into} ip daddr {fip} dnat ip to {ip}" for fip, ip in router.floating],
        },
        {
            "name": "postrouting",
            "type": "nat",
            "hook": "postrouting",
            "priority": "srcnat",
            "policy": "accept",
            "rules": [*(f"{out} ip saddr {ip} snat ip to {fip}" for fip, ip in router.floating), f"{out} snat ip to {router.external_ip}"],
        },
        {
            "name": "forward",
            "type": "filter",
            "hook": "forward",
            "priority": "filter",
            "policy": "accept",
            "rules": [f"{into} ct state established,related accept", f"{into} ct status dnat accept", f"{into} drop"],
        },
    ]
