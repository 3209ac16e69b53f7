# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The br-int OpenFlow pipeline as ovs-ofctl text: the integration bridge fails closed.

br-int is `fail_mode: secure` and switches with these flows only, never with NORMAL, because
NORMAL delivers every VLAN to any port that has no tag (libvirt re-plugging a tap, an operator's
test port): such a port would be a trunk of every tenant. Here a frame is admitted only from a
port the plan declares, tagged with that port's tenant VLAN, and delivered only to declared
ports of the same tenant; anything else is dropped, so a port nobody declared is dark both ways
and a bridge without our flows (after a restart, before the restore) forwards nothing.

    table 0  admission: a declared VM port (by its requested OpenFlow port number) sending
             untagged frames from its inventory MAC and addresses (port security) -> its local
             VLAN; patch-tun in a tunnelled tenant's VLAN; int-br-phy (or int-br-provider) in a
             provider VLAN -> local VLAN; everything else dropped
    table 1  learn (local VLAN, source MAC) -> input port into table 2, bounded per tenant;
             then look the destination up (2) and deliver (3)
    table 2  learned MACs (cookie 0, hard_timeout 300): reg1 = the port the MAC was seen on
    table 3  deliver: reg1 names a port of the frame's own VLAN -> that port (untagged to VMs);
             reg1 = 0 (unknown, broadcast, multicast) -> every port of the VLAN; else drop

Ports are matched by number because a VM's tap exists only while the VM runs and ovs-ofctl
refuses names it cannot resolve: the plan requests each port's number (`ofport_request`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import INT_BR_PHY_OFPORT, PATCH_TUN_OFPORT
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.pipeline import set_vlan

REG = "NXM_NX_REG1[0..15]"
UNTAGGED = "vlan_tci=0x0000/0x1fff"


@dataclass(frozen=True)
class VmPort:
    """A declared port on br-int: its number, its tenant's local VLAN and what it may send as."""

    ofport: int
    local_vlan: int
    mac: str | None = None
    ips: tuple[str, ...] = ()
    security: bool = True


@dataclass(frozen=True)
class IntTenant:
    """A tenant present on this host, as br-int sees it."""

    local_vlan: int
    tunnelled: bool  # its remote half is behind patch-tun (else behind int-br-phy)
    provider_vlan: int | None = None


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address a NIC with this MAC uses by default."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def br_int_flows(tenants: list[IntTenant], ports: list[VmPort], *, mac_limit: int, provider_ofport: int = INT_BR_PHY_OFPORT) -> list[str]:
    """Every owned flow of br-int, in a fixed order. `provider_ofport` is br-int's end of the patch
    to the bridge that carries provider VLANs: int-br-phy, or int-br-provider on a host with its own provider NIC."""
    flows: list[str] = []
    for tenant in tenants:
        vlan = tenant.local_vlan
        if tenant.tunnelled:
            flows.append(f"table=0,priority=10,in_port={PATCH_TUN_OFPORT},dl_vlan={vlan},actions=resubmit(,1)")
        else:
            flows.append(
                f"table=0,priority=10,in_port={provider_ofport},dl_vlan={tenant.provider_vlan},actions={set_vlan(vlan)},resubmit(,1)"
            )
    for port in ports:
        flows += _admission(port)
    flows.append("table=0,priority=0,actions=drop")
    flows += [
        f"table=1,priority=1,dl_vlan={tenant.local_vlan},actions=learn(table=2,hard_timeout=300,priority=1,limit={mac_limit},"
        f"NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->{REG}),resubmit(,2),resubmit(,3)"
        for tenant in tenants
    ]
    flows += ["table=1,priority=0,actions=drop", "table=2,priority=0,actions=drop"]
    flows += [f"table=3,priority=1,reg1={port.ofport},dl_vlan={port.local_vlan},actions=pop_vlan,output:{port.ofport}" for port in ports]
    for tenant in tenants:
        vlan = tenant.local_vlan
        uplink = PATCH_TUN_OFPORT if tenant.tunnelled else provider_ofport
        flows.append(f"table=3,priority=1,reg1={uplink},dl_vlan={vlan},actions=output:{uplink}")
        members = [f"output:{port.ofport}" for port in ports if port.local_vlan == vlan]
        flows.append(f"table=3,priority=1,reg1=0,dl_vlan={vlan},actions=" + ",".join([f"output:{uplink}", "pop_vlan", *members]))
    flows.append("table=3,priority=0,actions=drop")
    return flows


def _admission(port: VmPort) -> list[str]:
    """Table 0 for one VM port: untagged frames only; with port security, only from its own MAC,
    ARP and IPv4 only from its IPv4 address (or none yet: ARP probes, DHCP), IPv6 only from its
    link-local or IPv6 address, neighbour advertisements only for those."""

    def flow(priority: int, match: str, actions: str = f"{set_vlan(port.local_vlan, push=True)},resubmit(,1)") -> str:
        return f"table=0,priority={priority},in_port={port.ofport},{UNTAGGED}{match},actions={actions}"

    if not port.security or port.mac is None:
        return [flow(10, "")]
    mac = port.mac
    v4 = [ip for ip in port.ips if ipaddress.ip_address(ip).version == 4]
    v6 = [link_local(mac)] + [ip for ip in port.ips if ipaddress.ip_address(ip).version == 6]
    own = f",dl_src={mac}"
    if v4:
        flows = [flow(12, f"{own},arp,arp_sha={mac},arp_spa={ip}") for ip in [*v4, "0.0.0.0"]]
    else:
        flows = [flow(12, f"{own},arp,arp_sha={mac}")]
    flows += [flow(12, f"{own},icmp6,icmp_type=136,nd_target={ip}") for ip in v6]
    flows += [flow(11, ",arp", "drop"), flow(11, ",icmp6,icmp_type=136", "drop")]
    if v4:
        flows += [flow(10, f"{own},ip,nw_src={ip}") for ip in v4]
        flows.append(flow(10, f"{own},udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67"))  # DHCP before it has its address
    else:
        flows.append(flow(10, f"{own},ip"))
    flows += [flow(10, f"{own},ipv6,ipv6_src={ip}") for ip in v6]
    # duplicate address detection and its MLD report come from the unspecified address
    flows += [flow(10, f"{own},icmp6,ipv6_src=::,icmp_type={kind}") for kind in (135, 143)]
    return flows
