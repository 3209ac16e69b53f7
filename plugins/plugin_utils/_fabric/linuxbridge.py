# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux-bridge backend: a host with `netfabric_backend: linuxbridge` carries each tenant on a
kernel bridge instead of Open vSwitch (Neutron's LinuxBridge layout, as oVirt, Proxmox or plain
libvirt hosts run it).

Per tenant the host gets a bridge `brq-<tenant>` holding the tenant's VM ports and its transport:
  - VXLAN: one kernel device `vxlan-<vni>` (UDP 4789, the uplink as `dev`, learning on), which
    either floods by unicast head-end replication (an all-zero forwarding entry per peer: the hosts
    carrying the tenant, OVS or Linux bridge alike) or, with the tenant's `multicast_group`, joins
    that group and lets the kernel flood and learn (OVS peers of such a tenant, which do not join
    groups, still get all-zero entries). In l2pop mode the device also gets a static entry per
    remote VM's MAC and a neighbour entry per remote VM's address, and is made with `proxy`, so ARP
    for remote VMs is answered on the host;
  - GRE: a `gretap` device per peer carrying the tenant's key. The bridge ports of a tenant's
    gretaps are `isolated` (split horizon): a frame that came in from one peer never leaves to
    another, so a full mesh floods each frame once and makes no loop;
  - a provider VLAN P: the 802.1Q subinterface `UPLINK.P` in the bridge.

Names, all within the kernel's 15 bytes: `brq-NAME` for tenant names of up to 11 bytes, else `brq-`
and 11 hex digits of the name's SHA-256 (two tenants whose bridges would share a name are refused);
`vxlan-<vni in decimal>`; `gre-` and 10 hex digits of the SHA-256 of key and peer address.

Every link made here carries the owner mark of OWNERS["linuxbridge"] (ip_link's `owner`), so the
role prunes and tears down only marked links; VM ports are the host's, never marked, and only
those the inventory names join a bridge.

All of it is kernel state, gone at a reboot: `linuxbridge.boot` is what the boot unit
(netfabric-boot.py, installed by the pipeline role) makes again before anyone runs Ansible, as the
very `ip`/`bridge` lines ip_link and bridge_fdb would write to create it (one place for that rule).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import OWNERS
from ansible_collections.netfabric.ovs.plugins.module_utils._fdb import fdb_want, plan_fdb, plan_neighbours
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.link import mark, plan_link
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import LINK_ARGUMENT_SPEC
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ifname_problem
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.network_node import node_plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import subinterface_name
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import underlay
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.underlay import uplink

BACKENDS = ("ovs", "linuxbridge")
LINUXBRIDGE = "linuxbridge"
OWNER = OWNERS[LINUXBRIDGE]
BRIDGE_PREFIX = "brq-"
VXLAN_PREFIX = "vxlan-"
GRETAP_PREFIX = "gre-"
VXLAN_PORT = 4789  # IANA's port, which OVS uses too: mixed fabrics need both ends on it
ZERO_MAC = "00:00:00:00:00:00"  # the default destination of flooded frames on a VXLAN device
_NAME_FIT = 15 - len(BRIDGE_PREFIX)


def bridge_name(tenant: str) -> str:
    if len(tenant.encode()) <= _NAME_FIT:
        return f"{BRIDGE_PREFIX}{tenant}"
    return f"{BRIDGE_PREFIX}{hashlib.sha256(tenant.encode()).hexdigest()[:_NAME_FIT]}"


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def gretap_name(key: int, peer_address: str) -> str:
    return f"{GRETAP_PREFIX}{hashlib.sha256(f'{key}:{peer_address}'.encode()).hexdigest()[:10]}"


# ---------------------------------------------------------------- inventory rules


def multicast_group(value: Any, where: str, problems: list[str]) -> str | None:
    """A tenant's `multicast_group`: an IPv4 multicast address, or None after a problem."""
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        problems.append(f"{where}: multicast_group {value!r} is not an IPv4 address")
        return None
    if address.version != 4 or not address.is_multicast:
        problems.append(f"{where}: multicast_group {value!r} is not an IPv4 multicast address (224.0.0.0/4)")
        return None
    return str(address)


def checks(hosts: dict, tenants: dict, network_nodes: tuple[str, ...], problems: list[str]) -> None:
    """What the Linux-bridge backend cannot do, and the multicast groups: each a named problem."""
    by_group = defaultdict(list)
    by_bridge = defaultdict(list)
    for tenant in tenants.values():
        by_bridge[bridge_name(tenant.name)].append(tenant.name)
        if tenant.multicast_group is None:
            continue
        by_group[tenant.multicast_group].append(tenant.name)
        if tenant.overlay != "vxlan" or tenant.provider_vlan is not None:
            problems.append(f"tenant {tenant.name}: multicast_group is for VXLAN tenants only (this one is "
                            f"{'a provider VLAN' if tenant.provider_vlan is not None else tenant.overlay})")
    for group, names in by_group.items():
        if len(names) > 1:
            problems.append(f"tenants {', '.join(names)}: share multicast_group {group}; each tenant needs its own group")
    for bridge, names in by_bridge.items():
        if len(names) > 1:
            problems.append(f"tenants {', '.join(names)}: their Linux bridges would share the name {bridge}; rename one")
    for host in hosts.values():
        if host.backend != LINUXBRIDGE:
            continue
        where = f"host {host.name}"
        if host.name in network_nodes:
            problems.append(f"{where}: netfabric_backend linuxbridge cannot be in group network_nodes: "
                            "routers and DHCP servers join tenants through OVS; make another host the network node")
        if host.datapath_type == "netdev":
            problems.append(f"{where}: netfabric_datapath_type netdev is an Open vSwitch datapath; "
                            "a linuxbridge host forwards in the kernel (leave it at system)")
        carried = sorted({p.tenant for p in host.ports if p.tenant in tenants})
        for port in host.ports:
            if port.name.startswith(BRIDGE_PREFIX):
                problems.append(f"{where} port {port.name}: name clashes with the tenant bridges of a linuxbridge host ({BRIDGE_PREFIX}*)")
        for name in carried:
            tenant = tenants[name]
            if tenant.multicast_group is not None and host.version != 4:
                problems.append(f"{where}: tenant {name}'s multicast_group {tenant.multicast_group} is IPv4 but the underlay is IPv6")
            if tenant.provider_vlan is not None:
                sub = subinterface_name(host.uplink, tenant.provider_vlan)
                if (problem := ifname_problem(sub)) is not None:
                    problems.append(f"{where}: VLAN subinterface {sub!r} for tenant {name}'s provider_vlan: {problem}")
            elif tenant.overlay == "gre" and host.version != 4:
                problems.append(f"{where}: tenant {name} is GRE, and gretap devices carry IPv4 only")


# ---------------------------------------------------------------- the plan


def host_plan(topology, name: str) -> dict[str, Any]:
    """The plan of a linuxbridge host: the keys every plan has, with every OVS part empty (the OVS
    roles do nothing there), and `linuxbridge`, the linuxbridge role's input."""
    fabric = topology.fabric
    host = fabric.hosts[name]
    bridges, links, ports, fdb, tenants = [], [], [], [], []
    for tenant_name in topology.tenants_on[name]:
        tenant = fabric.tenants[tenant_name]
        peers = topology.tenant_peers(name, tenant_name)
        bridge = bridge_name(tenant_name)
        mtu = tenant.mtu
        tenants.append({"name": tenant_name, "tunnel_id": tenant.tunnel_id, "overlay": tenant.overlay, "mtu": mtu, "peers": list(peers),
                        "provider_vlan": tenant.provider_vlan, "multicast_group": tenant.multicast_group, "bridge": bridge})
        bridges.append({"name": bridge, "kind": "bridge", "mtu": mtu, "state": "up"})
        member = {"master": bridge, "mtu": mtu, "state": "up"}
        if tenant.provider_vlan is not None:
            links.append({"name": subinterface_name(host.uplink, tenant.provider_vlan), "kind": "vlan", "link": host.uplink,
                          "vlan_id": tenant.provider_vlan, **member})
        elif tenant.overlay == "gre":
            for peer in peers:
                address = fabric.hosts[peer].address
                links.append({"name": gretap_name(tenant.tunnel_id, address), "kind": "gretap", "local": host.address, "remote": address,
                              "key": tenant.tunnel_id, "isolated": True, **member})
        else:
            links.append(_vxlan(fabric, host, tenant, peers, member, fdb))
        ports += [{"name": port.name, **member} for port in host.ports if port.tenant == tenant_name]
    subinterfaces = [{"name": subinterface_name(host.uplink, vlan), "kind": "vlan", "link": host.uplink, "vlan_id": vlan, "state": "up"}
                     for vlan in host.provider_vlans]
    empty = {"bridge": None, "owner": None, "ports": []}
    return {
        "host": name,
        "backend": LINUXBRIDGE,
        "mode": fabric.mode,
        "datapath_type": host.datapath_type,
        "bridges": [],
        "ports": {"fabric": [], **{key: {**empty, "owner": OWNERS[key]} for key in ("tenants", "vxlan", "gre", "provider_vlans")}},
        "vlan_subinterfaces": [],
        "network_node": node_plan(fabric, name),  # a linuxbridge host is never a network node: all empty
        "underlay": {"address": host.address, "prefix": host.prefix, "uplink": host.uplink, "bridge": None, "mtu": fabric.underlay_mtu,
                     "links": uplink(host.bond or host.uplink, fabric.underlay_mtu, netdev=False)[1],  # a plain NIC or a kernel bond
                     **underlay.kernel_bond(host.bond, netdev=False)},
        "flows": {},
        "flow_cookie": fabric.flow_cookie,
        "tenants": tenants,
        "tunnels": [],
        "verify_ports": [],
        "ovs_db": None,
        "state_dir": host.state_dir or fabric.state_dir,
        "linuxbridge": {
            "owner": OWNER,
            # in the order they are made: bridges, then what joins them
            "links": [*subinterfaces, *bridges, *links],
            "ports": ports,
            "fdb": fdb,
            "boot": boot_plan([*subinterfaces, *bridges, *links], ports, fdb),
        },
    }


def boot_plan(links: list, ports: list, fdb: list) -> dict[str, Any]:
    """What netfabric-boot.py makes again when the kernel has forgotten it: each link missing at boot
    with the lines ip_link writes to create it (in plan order, bridges before what joins them) and
    `needs`, the existing link it sits on; the forwarding and neighbour entries of a device it made,
    as bridge_fdb writes them; VM ports that exist at boot back into their bridge (the ports libvirt
    starts later it puts there itself, `<source bridge='brq-...'>`)."""
    blank = dict.fromkeys(LINK_ARGUMENT_SPEC)
    made = [{"name": link["name"], "alias": mark(OWNER), "needs": [link["link"]] if link.get("link") else [],
             "ip": [" ".join(words) for words in plan_link({**blank, **link, "owner": OWNER}, None)]} for link in links]
    vnis = {link["name"]: link.get("vni") for link in links}
    entries = []
    for item in fdb:
        want = fdb_want({"dev": item["dev"], "entries": item["entries"], "neighbours": item["neighbours"], "state": "exact"})
        device = {"name": item["dev"], "vni": vnis.get(item["dev"]), "port": VXLAN_PORT, "own": None}
        entries.append({"dev": item["dev"], "bridge": [" ".join(words) for words in plan_fdb(want, [], device)],
                        "ip": [" ".join(words) for words in plan_neighbours(want, [])]})
    return {"links": made, "ports": [{key: port[key] for key in ("name", "master", "mtu")} for port in ports], "fdb": entries}


def _vxlan(fabric, host, tenant, peers, member, fdb) -> dict[str, Any]:
    """The tenant's VXLAN device, and its forwarding and neighbour entries appended to `fdb`."""
    l2pop = fabric.mode == "l2pop"
    device = {"name": vxlan_name(tenant.tunnel_id), "kind": "vxlan", "vni": tenant.tunnel_id, "local": host.address,
              "dstport": VXLAN_PORT, "link": host.uplink, "learning": True, "proxy": l2pop, **member}
    flood = peers
    if tenant.multicast_group is not None:
        device["group"] = tenant.multicast_group
        flood = [peer for peer in peers if fabric.hosts[peer].backend != LINUXBRIDGE]  # OVS never joins the group
    entries = [{"mac": ZERO_MAC, "dst": fabric.hosts[peer].address} for peer in flood]
    neighbours = []
    if l2pop:
        remote = [(peer, port) for peer in peers for port in fabric.hosts[peer].ports if port.tenant == tenant.name]
        entries += [{"mac": port.mac, "dst": fabric.hosts[peer].address} for peer, port in remote if port.mac]
        neighbours = [{"ip": port.ip, "mac": port.mac} for _peer, port in remote if port.mac and port.ip]
    fdb.append({"dev": device["name"], "entries": entries, "neighbours": neighbours})
    return device
