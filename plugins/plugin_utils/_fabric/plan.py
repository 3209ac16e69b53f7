# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host plan: plain JSON-able data, shaped so roles pass its slices straight to modules.

bridges             ovs_bridge arguments, one per bridge
ports               role -> ovs_ports arguments {bridge, owner, ports}; each role prunes only its owner
vlan_subinterfaces  ip_link arguments (provider VLANs on system-datapath hosts)
underlay            where the tunnel endpoint address goes (uplink: the uplink's port name; members: a
                    bonded uplink's NICs, whose first MAC br-phy takes), the underlay MTU and the uplink's
                    ip_link arguments (`links`, system-datapath hosts: the uplink MTU)
flows               bridge -> ovs_flows `flows` (always br-tun, br-int, br-phy, and br-provider on a
                    host with a provider NIC; an empty list removes stale owned flows); flow_cookie
                    is its `cookie`. br-int, br-tun and br-provider are `fail_mode: secure`:
                    without these flows they forward nothing.
retired_bridges     {name, owner} of the bridges the fabric makes on some hosts only (br-provider) that this
                    host no longer has: their owned ports and flows are removed, then the bridge if empty;
                    `exists: false` where the host's read found no such bridge (with_bridges_read)
tenants, tunnels    what the host carries and reaches, for reports and tests
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, NamedTuple

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import (
    BR_INT,
    BR_PHY,
    BR_PROVIDER,
    BR_TUN,
    INT_BR_PHY,
    INT_BR_PHY_OFPORT,
    INT_BR_PROVIDER,
    INT_BR_PROVIDER_OFPORT,
    OPENFLOW_VERSIONS,
    OWNER,
    OWNERS,
    PATCH_INT,
    PATCH_TUN,
    PATCH_TUN_OFPORT,
    PEER_KEY,
    PHY_BR_INT,
    PHY_BR_PROVIDER,
    PROVIDER_PORT_PREFIX,
    TENANT_KEY,
)
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import dpdk, libvirt, linuxbridge, nic
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.br_int import IntTenant, VmPort, br_int_flows
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import validate
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.network_node import node_plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.pipeline import (
    ProviderLink,
    RemoteVm,
    TenantPath,
    br_tun_flows,
    provider_flows,
)
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import Seen, Topology, subinterface_name, seen_from_info
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import underlay
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.underlay import uplink

OPENFLOW = list(OPENFLOW_VERSIONS)


def build(hosts: dict[str, dict], fabric_vars: dict, seen: dict[str, Seen] | None = None, network_nodes: tuple[str, ...] = ()) -> Topology:
    """Validate the inventory (raises FabricError) and derive its topology; `seen` is what each
    host's br-int already uses (absent: a host seen for the first time); `network_nodes` are the
    hosts that also run routers and DHCP servers."""
    return Topology(validate(hosts, fabric_vars, network_nodes), seen)


def seen(info: dict | None) -> Seen:
    """What a host's br-int already uses, from the netfabric role's ovs_info read of it."""
    return seen_from_info(info, BR_INT)


def with_bridges_read(host_plan: dict[str, Any], bridges: Mapping | None) -> dict[str, Any]:
    """A copy of `host_plan` whose retired bridges say whether the host's read (ovs_info `bridges`)
    found them. The roles then skip removing one that is not there: three module runs on every
    host without a provider NIC, at every run. Its restore file is still purged (role pipeline).
    No read (None): nothing is known, and every retired bridge is removed as before."""
    if not isinstance(bridges, Mapping) or not host_plan.get("retired_bridges"):
        return host_plan
    return {**host_plan, "retired_bridges": [{**b, "exists": b["name"] in bridges} for b in host_plan["retired_bridges"]]}


def fabric_plan(topology: Topology) -> dict[str, dict]:
    return {name: host_plan(topology, name) for name in topology.fabric.hosts}


def host_plan(topology: Topology, name: str) -> dict[str, Any]:
    fabric = topology.fabric
    host = fabric.hosts[name]
    if host.backend == linuxbridge.LINUXBRIDGE:  # no OVS there: kernel bridges and VXLAN devices instead
        return linuxbridge.host_plan(topology, name)
    netdev = host.datapath_type == "netdev"
    vlans = topology.local_vlans(name)
    ofports = topology.ofports(name)

    tunnels = []
    tunnel_to: dict[tuple[str, str], str] = {}
    for overlay, peer in topology.peers(name):
        port = topology.tunnel_name(overlay, peer)
        tunnel_to[(overlay, peer)] = port
        tunnels.append({"name": port, "peer": peer, "remote_ip": fabric.hosts[peer].address, "overlay": overlay})

    tenants = []
    paths = []
    links = []
    int_tenants = []
    for tenant_name in topology.tenants_on[name]:
        tenant = fabric.tenants[tenant_name]
        peers = topology.tenant_peers(name, tenant_name)
        tenants.append(
            {
                "name": tenant.name,
                "tunnel_id": tenant.tunnel_id,
                "overlay": tenant.overlay,
                "local_vlan": vlans[tenant_name],
                "mtu": tenant.mtu,
                "peers": list(peers),
                "provider_vlan": tenant.provider_vlan,
            }
        )
        int_tenants.append(IntTenant(vlans[tenant_name], topology.tunnelled(tenant_name), tenant.provider_vlan))
        if not topology.tunnelled(tenant_name):
            links.append(ProviderLink(local_vlan=vlans[tenant_name], provider_vlan=tenant.provider_vlan))
            continue
        remote = ()
        if fabric.mode == "l2pop":
            remote = tuple(
                RemoteVm(port.mac, _ipv4(port.ip), tunnel_to[(tenant.overlay, peer)])
                for peer in peers
                for port in fabric.hosts[peer].ports
                if port.tenant == tenant_name and port.mac is not None
            )
        paths.append(
            TenantPath(
                tunnel_id=tenant.tunnel_id,
                local_vlan=vlans[tenant_name],
                flood=tuple(tunnel_to[(tenant.overlay, peer)] for peer in peers),
                remote=remote,
            )
        )

    node = node_plan(fabric, name)
    external = [host.external] if host.external else []
    bridges = [
        {"name": BR_INT, "datapath_type": host.datapath_type, "fail_mode": "secure", "protocols": OPENFLOW, "owner": OWNER},
        {"name": BR_TUN, "datapath_type": host.datapath_type, "fail_mode": "secure", "protocols": OPENFLOW, "owner": OWNER},
        {"name": BR_PHY, "datapath_type": host.datapath_type, "fail_mode": "standalone", "protocols": OPENFLOW, "owner": OWNER,
         **({"mtu_request": fabric.underlay_mtu} if netdev else {})},  # it holds the underlay address there
        *({"name": e.bridge, "datapath_type": host.datapath_type, "fail_mode": "standalone", "protocols": OPENFLOW, "owner": OWNER} for e in external),
    ]
    uplink_ports, uplink_links = uplink(host.bond or host.uplink, fabric.underlay_mtu, netdev=netdev)
    uplink_ports = [{**port, **dpdk.nic_interface(host, port["name"], fabric.underlay_mtu)} for port in uplink_ports]  # dpdk ports on DPDK hosts
    # Provider VLANs leave through br-provider on a host with its own provider NIC, else through br-phy.
    carrier = _provider_carrier(host.provider_nic)
    # br-int <-> that bridge only while the host carries a provider-VLAN tenant (purge removes it after)
    int_phy = [{"name": carrier.int_patch, "type": "patch", "options": {"peer": carrier.patch}, "ofport_request": carrier.ofport}] if links else []
    phy_int = [{"name": carrier.patch, "type": "patch", "options": {"peer": carrier.int_patch}}] if links else []
    if host.provider_nic is not None:  # holds no address of the host: secure, only owned flows forward
        bridges.append({"name": BR_PROVIDER, "datapath_type": host.datapath_type, "fail_mode": "secure", "protocols": OPENFLOW, "owner": OWNER})
    fabric_ports = [
        {
            "bridge": BR_INT,
            "owner": OWNER,
            "ports": [{"name": PATCH_TUN, "type": "patch", "options": {"peer": PATCH_INT}, "ofport_request": PATCH_TUN_OFPORT}, *int_phy],
        },
        {"bridge": BR_TUN, "owner": OWNER, "ports": [{"name": PATCH_INT, "type": "patch", "options": {"peer": PATCH_TUN}}]},
        {"bridge": BR_PHY, "owner": OWNER, "ports": uplink_ports + ([] if host.provider_nic else phy_int)},
        *([{"bridge": BR_PROVIDER, "owner": OWNER, "ports": [nic.ovs_port(host.provider_nic), *phy_int]}] if host.provider_nic else []),
        *({"bridge": e.bridge, "owner": OWNER, "ports": [{"name": e.nic}] if e.nic else []} for e in external),
    ]
    # Pinned to access mode with no trunks, so drift is repaired; the tag is what NORMAL would use.
    # br-int's flows, not the tag, decide what a port reaches (br_int.py).
    tenant_ports = [
        {
            "name": port.name,
            "tag": vlans[port.tenant],
            "vlan_mode": "access",
            "trunks": [],
            "ofport_request": ofports[port.name],
            "mtu_request": fabric.tenants[port.tenant].mtu,  # the tenant's MTU (inventory.py decides it), kept by OVS
            "from_other_bridge": "move" if port.take_over else "fail",
            "external_ids": {TENANT_KEY: port.tenant},
            **dpdk.vhost_port(host, port),
        }
        for port in host.ports
        if not port.libvirt  # libvirt adds and removes those; its hook numbers them (libvirt.py)
    ]
    vm_ports = [
        VmPort(ofports[port.name], vlans[port.tenant], port.mac, tuple(ip for ip in (port.ip,) if ip), port.port_security)
        for port in host.ports
    ]
    tunnel_ports = {
        overlay: [
            {
                "name": t["name"],
                "type": overlay,
                "options": {"remote_ip": t["remote_ip"], "local_ip": host.address, "key": "flow"},
                "external_ids": {PEER_KEY: t["peer"]},
            }
            for t in tunnels
            if t["overlay"] == overlay
        ]
        for overlay in ("vxlan", "gre")
    }
    provider_ports = []
    subinterfaces = []
    if netdev:
        provider_ports = [{"name": f"{PROVIDER_PORT_PREFIX}{vlan}", "type": "internal", "tag": vlan} for vlan in host.provider_vlans]
    else:
        subinterfaces = [
            {"name": subinterface_name(host.uplink, vlan), "kind": "vlan", "link": host.uplink, "vlan_id": vlan, "state": "up"} for vlan in host.provider_vlans
        ]

    return {
        "host": name,
        "mode": fabric.mode,
        "datapath_type": host.datapath_type,
        "bridges": bridges,
        "ports": {
            "fabric": fabric_ports,
            "tenants": {"bridge": BR_INT, "owner": OWNERS["tenants"], "ports": tenant_ports},
            "vxlan": {"bridge": BR_TUN, "owner": OWNERS["vxlan"], "ports": tunnel_ports["vxlan"]},
            "gre": {"bridge": BR_TUN, "owner": OWNERS["gre"], "ports": tunnel_ports["gre"]},
            "provider_vlans": {"bridge": BR_PHY, "owner": OWNERS["provider_vlans"], "ports": provider_ports},
        },
        "vlan_subinterfaces": subinterfaces,
        "network_node": node,
        **libvirt.host_plan(topology, name, vlans, ofports),  # {"libvirt": ...} on hosts with netfabric_libvirt
        **dpdk.host_plan(host),  # {"dpdk": ovs_dpdk arguments} on hosts with netfabric_dpdk
        "underlay": {
            "address": host.address,
            "prefix": host.prefix,
            "uplink": host.uplink,
            "bridge": BR_PHY if netdev else None,
            "mtu": fabric.underlay_mtu,
            "links": uplink_links,  # ip_link arguments: the uplink where OVS does not own it
            **({"members": nic.links(host.bond)} if host.bond else {}),  # a bond's NICs: the MAC of the first, the guard on each
            **underlay.kernel_bond(host.bond, netdev=netdev),  # system datapath: the bond that holds the address
        },
        "flows": {
            BR_TUN: br_tun_flows([t["name"] for t in tunnels], paths, l2pop=fabric.mode == "l2pop", mac_limit=fabric.mac_limit),
            BR_INT: br_int_flows(int_tenants, vm_ports, mac_limit=fabric.mac_limit, provider_ofport=carrier.ofport),
            BR_PHY: [] if host.provider_nic else provider_flows(links),
            **({BR_PROVIDER: provider_flows(links, patch=PHY_BR_PROVIDER, nics=nic.links(host.provider_nic))} if host.provider_nic else {}),
        },
        "flow_cookie": fabric.flow_cookie,
        # Bridges the fabric makes only on some hosts, on a host that no longer needs them: their owned
        # ports and flows go, and the bridge with them unless another tool's port keeps it (roles bridges, pipeline).
        "retired_bridges": [] if host.provider_nic else [{"name": BR_PROVIDER, "owner": OWNER}],
        "tenants": tenants,
        "tunnels": tunnels,
        "verify_ports": sorted(
            port["name"]
            for group in [*fabric_ports, {"ports": tenant_ports}, {"ports": provider_ports}, *({"ports": p} for p in tunnel_ports.values())]
            for port in group["ports"]
        ),
        "ovs_db": host.ovs_db,
        "state_dir": host.state_dir or fabric.state_dir,
    }


class _Carrier(NamedTuple):
    """The bridge that takes provider VLANs to the wire, as br-int reaches it."""

    bridge: str
    int_patch: str  # br-int's end of the patch pair
    patch: str  # the bridge's end
    ofport: int  # int_patch's OpenFlow port number on br-int


def _provider_carrier(provider_nic: nic.Nic | nic.Bond | None) -> _Carrier:
    """br-provider with its own NIC when the host has one (any datapath), else br-phy (netdev hosts' uplink)."""
    if provider_nic is not None:
        return _Carrier(BR_PROVIDER, INT_BR_PROVIDER, PHY_BR_PROVIDER, INT_BR_PROVIDER_OFPORT)
    return _Carrier(BR_PHY, INT_BR_PHY, PHY_BR_INT, INT_BR_PHY_OFPORT)


def _ipv4(ip: str | None) -> str | None:
    """ARP answers IPv4 only; IPv6 neighbour discovery is left to flooding."""
    if ip is None or ipaddress.ip_address(ip).version != 4:
        return None
    return ip
