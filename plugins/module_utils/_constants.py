# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names and numbers the whole collection agrees on, in one place.

In module_utils so modules (on the hypervisor) can import it; the controller-side planner
(plugin_utils/_fabric) imports it too. Standard library only, no logic. The inventory's
defaults are declared in roles/netfabric/meta/argument_specs.yml; a unit test keeps them
equal to the ones here.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

# ---------------------------------------------------------------- bridges and their patch ports
BR_INT = "br-int"  # integration bridge: VM ports, one local VLAN per tenant, fail_mode secure
BR_TUN = "br-tun"  # tunnel bridge: VXLAN/GRE ports and the br-tun pipeline, fail_mode secure
BR_PHY = "br-phy"  # physical bridge: the uplink on netdev hosts, provider VLANs, standalone
PATCH_TUN = "patch-tun"  # br-int's end of the br-int <-> br-tun pair
PATCH_INT = "patch-int"  # br-tun's end
INT_BR_PHY = "int-br-phy"  # br-int's end of the br-int <-> br-phy pair (Neutron's names)
PHY_BR_INT = "phy-br-int"  # br-phy's end
# A host with its own provider NIC (netfabric_provider_nic, no address) carries provider-VLAN
# tenants on this bridge instead of br-phy: the NIC and the patch to br-int, fail_mode secure.
BR_PROVIDER = "br-provider"
INT_BR_PROVIDER = "int-br-provider"  # br-int's end of the br-int <-> br-provider pair
PHY_BR_PROVIDER = "phy-br-provider"  # br-provider's end
BR_EX = "br-ex"  # external bridge of a network node: its NIC to the outside and the routers' gateway ports
FABRIC_PORTS = frozenset({BR_INT, BR_TUN, BR_PHY, BR_EX, PATCH_TUN, PATCH_INT, INT_BR_PHY, PHY_BR_INT, BR_PROVIDER, INT_BR_PROVIDER, PHY_BR_PROVIDER})
TUNNEL_PREFIXES = ("vxlan-", "gre-")  # tunnel ports are <overlay>-<8 hex digits of the peer>
PROVIDER_PORT_PREFIX = "vlan"  # tagged internal ports on br-phy: vlan100
# A network node's routers and DHCP servers live in namespaces, each joined to a bridge by a veth
# pair whose two ends share one name: qr-/qd- on br-int (a tenant port in the tenant's local VLAN),
# qg- on br-ex (Neutron's port names), each followed by 10 hex digits of a hash of what it serves.
# The namespaces are not Neutron's qrouter-/qdhcp-: names with these prefixes are the fabric's, and
# it removes those the inventory no longer has, so a Neutron agent on the same host is never touched.
ROUTER_NETNS_PREFIX = "nfrouter-"  # nfrouter-<tenant>
DHCP_NETNS_PREFIX = "nfdhcp-"  # nfdhcp-<tenant>-<hash of the subnet>
DHCP_DIR_PREFIX = "dhcp-"  # STATE_DIR/dhcp-<hash>: a DHCP server's files
ROUTER_PORT_PREFIX = "qr-"  # a router's port in one tenant subnet (the gateway address)
GATEWAY_PORT_PREFIX = "qg-"  # a router's port on br-ex (its external address and floating IPs)
DHCP_PORT_PREFIX = "qd-"  # a DHCP server's port in one tenant subnet
NODE_PORT_PREFIXES = (ROUTER_PORT_PREFIX, GATEWAY_PORT_PREFIX, DHCP_PORT_PREFIX)
# Their MACs: locally administered, unicast, "NF" after the first byte, then 3 bytes of the hash.
NODE_MAC_PREFIX = "0e:4e:46"
NAT_TABLE = "netfabric"  # the nftables table (family ip) of a router namespace: SNAT, floating IPs, ingress filter
# What netfabric-netns.service puts back at boot on a network node (roles/network_node/files/netfabric-netns.py):
# STATE_DIR/netns.json names the namespaces, their links, addresses, routes and sysctls, and
# STATE_DIR/nft/<namespace>.nft holds each router's NAT table as one atomic `nft -f` transaction.
NETNS_BOOT_STATE = "netns.json"
NFT_RESTORE_DIR = "nft"
NETNS_BOOT_UNIT = "netfabric-netns.service"

# ---------------------------------------------------------------- OpenFlow
# What every bridge speaks; ovs-ofctl talks the newest, which bundles (atomic flow changes) need.
OPENFLOW_VERSIONS = ("OpenFlow10", "OpenFlow13", "OpenFlow14")
OPENFLOW = OPENFLOW_VERSIONS[-1]
FLOW_COOKIE = 0x4E46  # "NF" in ASCII: the cookie that marks the flows the fabric owns
COOKIE_MAX = 2**64 - 1

# OpenFlow port numbers: what a port may request (0xff00 and up are reserved), the fabric's own
# ports on br-int at the top, VM ports from VM_OFPORT_FIRST up, far from the low numbers OVS
# gives ports nobody numbered.
OFPORT_RANGE = (1, 65279)
PATCH_TUN_OFPORT = 65001
INT_BR_PHY_OFPORT = 65002
INT_BR_PROVIDER_OFPORT = 65003
VM_OFPORT_FIRST = 10001
VM_OFPORT_LAST = 65000

# ---------------------------------------------------------------- ownership marks (external_ids)
OWNER_KEY = "netfabric_owner"  # on bridges and ports a call created
TENANT_KEY = "netfabric_tenant"  # on a tenant port: its tenant's name
PEER_KEY = "netfabric_peer"  # on a tunnel port: the peer host
LIBVIRT_PORT_KEY = "netfabric_port"  # on a port libvirt made: its name in the plan (lv-<mac>), set by the libvirt hook
MOVED_FROM_KEY = "netfabric_moved_from"  # on a port moved onto our bridge: the bridge it came from (given back on removal)
LINK_OWNER_MARK = "netfabric:"  # a Linux link ip_link created with `owner` has the alias netfabric:<owner>
# The modules' default owner: what a playbook's own tasks make. The fabric's roles mark with the
# netfabric* owners, so a port made by following a module's EXAMPLES is never purged by `site`.
DEFAULT_OWNER = "ansible"
OWNER = "netfabric"  # bridges, patch ports, the uplink on br-phy
OWNERS = {  # one owner per role, so no role ever prunes another's ports
    "fabric": OWNER,
    "tenants": f"{OWNER}-tenants",
    "vxlan": f"{OWNER}-vxlan",
    "gre": f"{OWNER}-gre",
    "provider_vlans": f"{OWNER}-vlans",
    "routers": f"{OWNER}-routers",
    "linuxbridge": f"{OWNER}-linuxbridge",  # the links of linuxbridge hosts (ip_link owner mark)
}

# ---------------------------------------------------------------- fabric defaults
MAC_LIMIT = 4096  # MACs learned per tenant and host on br-int and br-tun
STATE_DIR = "/etc/netfabric"  # where the flow restore files and script go
