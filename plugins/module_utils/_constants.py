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
FABRIC_PORTS = frozenset({BR_INT, BR_TUN, BR_PHY, PATCH_TUN, PATCH_INT, INT_BR_PHY, PHY_BR_INT})
TUNNEL_PREFIXES = ("vxlan-", "gre-")  # tunnel ports are <overlay>-<8 hex digits of the peer>
PROVIDER_PORT_PREFIX = "vlan"  # tagged internal ports on br-phy: vlan100

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
VM_OFPORT_FIRST = 10001
VM_OFPORT_LAST = 65000

# ---------------------------------------------------------------- ownership marks (external_ids)
OWNER_KEY = "netfabric_owner"  # on bridges and ports a call created
TENANT_KEY = "netfabric_tenant"  # on a tenant port: its tenant's name
PEER_KEY = "netfabric_peer"  # on a tunnel port: the peer host
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
}

# ---------------------------------------------------------------- fabric defaults
MAC_LIMIT = 4096  # MACs learned per tenant and host on br-int and br-tun
STATE_DIR = "/etc/netfabric"  # where the flow restore files and script go
