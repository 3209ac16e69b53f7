#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_link
short_description: Manage Linux network links (vlan, vxlan, bridge, veth, dummy, macvlan, gre, gretap, bond) with iproute2
description:
  - Creates, changes and deletes one Linux link through C(ip), optionally inside a named network namespace.
  - The current state is read once with C(ip -j -d link show); the kind-specific attributes are compared
    with C(linkinfo.info_kind) and C(linkinfo.info_data).
  - All changes are applied in one C(ip -batch -) call, all or nothing. C(ip) stops at the first failing
    command; the module then reads the host again, undoes what the lines before it did (a link deleted to be
    recreated comes back with its kind, options, O(mtu), O(address), O(master), up/down state, alias and
    addresses, and so does its veth peer in the same namespace) and fails with a message that names the
    failing command, the commands applied before it and the commands that rolled them back.
  - B(Kind-specific attributes are fixed at creation), a bond's aside. When the link exists with another O(kind), or when
    any kind-specific option that is given (O(link), O(vlan_id), O(vni), O(local), O(remote), O(group),
    O(dstport), O(learning), O(proxy), O(ttl), O(key), O(peer), O(peer_netns), O(macvlan_mode)) differs from the host,
    the link is B(deleted and recreated). Traffic through it stops for a moment, addresses on it are lost,
    and a recreated veth gets a new peer. The recreated link goes back into its old O(master) and keeps its
    up/down state unless those options say otherwise; O(mtu) and O(address) come back as the kernel's
    defaults unless given.
  - B(A bond is never recreated for its options.) O(miimon), O(updelay), O(downdelay) and O(xmit_hash_policy)
    change while the bond carries traffic. O(lacp_rate) and O(lacp_active) need the bond down (the kernel
    refuses them on a bond that is up), so the batch sets it down, changes them and sets it up again. A new
    O(bond_mode) needs the bond down and without members, so the batch sets it down, releases every member,
    sets the mode with every given option, enslaves O(members) again and sets the bond up. The bond keeps its
    ifindex and addresses, and its traffic stops for that moment (and routes through it other than its own
    subnets' are removed by the kernel when it goes down).
  - O(members) are exactly the links enslaved to the bond. A missing one joins (set down first, as the kernel
    demands; the kernel brings it up once it is in), one that is not
    listed leaves and is set up again (the kernel leaves a released member down). O(state=absent) on a bond
    also sets the members it had up again. A member takes the bond's MTU.
  - A link of a kind this module does not manage (a physical NIC, an OVS internal port, a tun device) is never
    deleted to be recreated; the module fails instead. Without O(kind) such links can still get O(mtu),
    O(address), O(master) and up/down.
  - O(mtu), O(address), O(master), O(isolated) and the up/down state are changed in place with C(ip link set).
  - Options that are omitted are left as they are on the host.
  - B(Ownership.) With O(owner), a link this module creates gets the alias (C(ifalias)) C(netfabric:OWNER).
    O(state=absent) with O(owner) deletes the link only when it carries exactly that mark; any other link of
    that name is left in place with a warning (C(changed=false)). A link that exists is used and converged but
    never marked, so a teardown by owner never removes a link this module did not create; a recreated link
    keeps the alias it had. Without O(owner) no mark is written and O(state=absent) deletes the link by name.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  name:
    description:
      - Name of the link, 1-15 characters without C(/), whitespace or C(:).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the link exists and leaves it up or down as it is (a new link starts down).
      - V(up) and V(down) make sure it exists and set it administratively up or down.
      - V(absent) deletes it (deleting a veth also deletes its peer); the other options are then ignored.
    type: str
    choices: [present, absent, up, down]
    default: present
  kind:
    description:
      - Type of the link.
      - Omitted means the link must already exist (for example a physical NIC); only O(mtu), O(address),
        O(master) and the up/down state are managed then, and a missing link is an error.
      - V(vlan) needs O(link) and O(vlan_id). V(vxlan) needs O(vni). V(veth) needs O(peer). V(macvlan) needs O(link).
    type: str
    choices: [vlan, vxlan, bridge, veth, dummy, macvlan, gre, gretap, bond]
  link:
    description:
      - The parent (lower) device. For V(vlan) and V(macvlan) the device the link sits on; for V(vxlan),
        V(gre) and V(gretap) the device the tunnel packets leave through (C(dev)).
      - Allowed with O(kind) V(vlan), V(macvlan), V(vxlan), V(gre), V(gretap).
    type: str
  vlan_id:
    description:
      - 802.1Q VLAN id, 1-4094. Only with O(kind=vlan).
    type: int
  vni:
    description:
      - VXLAN network identifier, 0-16777215. Only with O(kind=vxlan).
    type: int
  local:
    description:
      - Source IP address of the tunnel. IPv4 or IPv6 for V(vxlan); IPv4 for V(gre) and V(gretap).
    type: str
  remote:
    description:
      - Unicast IP address of the far tunnel end. Mutually exclusive with O(group).
      - Allowed with O(kind) V(vxlan), V(gre), V(gretap).
    type: str
  group:
    description:
      - Multicast group (IPv4 or IPv6) a V(vxlan) joins for flooding; usually together with O(link).
        Mutually exclusive with O(remote).
    type: str
  dstport:
    description:
      - UDP destination port of a V(vxlan), 1-65535 (4789 is the IANA port).
      - Omitted when creating means the kernel's default, 8472.
    type: int
  learning:
    description:
      - Whether a V(vxlan) learns remote MAC addresses from received packets.
    type: bool
  proxy:
    description:
      - Whether a V(vxlan) answers ARP and IPv6 neighbour solicitations itself from its neighbour table (the
        static entries M(netfabric.ovs.bridge_fdb) O(netfabric.ovs.bridge_fdb#module:neighbours) writes), instead of
        flooding them to the remote VTEPs.
    type: bool
  key:
    description:
      - GRE key, 0-4294967295, used for both directions. Only with O(kind) V(gre) or V(gretap).
    type: int
  ttl:
    description:
      - TTL of the outer packets, 0-255 (0 inherits from the inner packet). With O(kind) V(vxlan), V(gre), V(gretap).
    type: int
  peer:
    description:
      - Name of the other end of a V(veth) pair. Only with O(kind=veth).
    type: str
  peer_netns:
    description:
      - Named network namespace the V(veth) peer lives in. Omitted means the same namespace as the link.
      - Needs O(peer); must differ from O(netns). The namespace must exist.
    type: str
  macvlan_mode:
    description:
      - Mode of a V(macvlan). Only with O(kind=macvlan).
    type: str
    choices: [private, vepa, bridge, passthru, source]
  bond_mode:
    description:
      - Mode of a V(bond), as the kernel names it. Only with O(kind=bond). Omitted when creating means the kernel's
        default, V(balance-rr). Needed by O(lacp_rate), O(lacp_active) and O(xmit_hash_policy).
    type: str
    choices: [balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb]
  miimon:
    description:
      - Milliseconds between the V(bond)'s checks of each member's carrier, 0-60000 (0 turns the checks off).
    type: int
  updelay:
    description:
      - Milliseconds a member's carrier must be up before the V(bond) uses it, 0-60000; a multiple of O(miimon),
        which it needs (above 0).
    type: int
  downdelay:
    description:
      - Milliseconds a member's carrier must be down before the V(bond) stops using it, 0-60000; a multiple of
        O(miimon), which it needs (above 0).
    type: int
  lacp_rate:
    description:
      - How often the V(bond) asks its LACP partner for LACPDUs, V(slow) (30 s) or V(fast) (1 s).
        Only with O(bond_mode=802.3ad). Changing it sets the bond down for a moment.
    type: str
    choices: [slow, fast]
  lacp_active:
    description:
      - Whether the V(bond) sends LACPDUs on its own (V(true), LACP active) or only answers (V(false), passive).
        Only with O(bond_mode=802.3ad). Changing it sets the bond down for a moment.
    type: bool
  xmit_hash_policy:
    description:
      - How the V(bond) hashes a flow onto a member. Only with O(bond_mode) V(balance-xor), V(802.3ad) or V(balance-tlb).
    type: str
    choices: [layer2, layer2+3, layer3+4, encap2+3, encap3+4, vlan+srcmac]
  members:
    description:
      - The links enslaved to the V(bond), exactly (an empty list releases all). Each must exist.
        Omitted means the members are left as they are.
    type: list
    elements: str
  mtu:
    description:
      - MTU of the link, 68-65535. For a veth it applies to this end only.
    type: int
  address:
    description:
      - MAC address of the link, like V(52:54:00:12:34:56). Not allowed with O(kind=gre), which has none.
    type: str
  master:
    description:
      - The bridge (or other master device) this link is enslaved to.
      - The empty string V("") removes the link from any master.
    type: str
  isolated:
    description:
      - The C(isolated) flag of the link's port in its bridge, set with C(ip link set dev NAME type bridge_slave isolated on).
        An isolated port forwards only to ports that are not isolated, which is split horizon for a mesh of
        tunnels, one per peer, in one bridge.
      - Needs the link in a bridge (O(master), or the bridge it is in already). A port new to its bridge starts
        with V(false).
      - Omitted means left as it is.
    type: bool
  netns:
    description:
      - Named network namespace the link lives in; commands run as C(ip -n NETNS ...).
      - Omitted means the namespace the module runs in.
    type: str
  owner:
    description:
      - Who creates the link; a link created with it carries the alias C(netfabric:OWNER), and O(state=absent)
        then deletes only a link carrying that mark. 1-245 characters C(A-Z a-z 0-9 . _ - + @).
      - Omitted means no mark is written and O(state=absent) deletes any link of that name.
    type: str
  timeout:
    description:
      - Seconds each C(ip) command may run. One that takes longer (a hung kernel lock, a namespace that
        blocks) is killed and the module fails naming the command; a write killed this way is rolled back
        like a failed one.
    type: int
    default: 5
notes:
  - Kernels without a link type answer C(Unknown device type); the module then fails with that message, and
    whatever the batch applied before that line is rolled back.
  - A veth whose peer lives in another namespace is recreated there on a rollback, but the peer's own settings
    are not restored.
seealso:
  - module: netfabric.ovs.ip_address
"""

EXAMPLES = r"""
# Before: eth0 exists.  Commands: ip link add link eth0 name eth0.100 type vlan id 100
#                                 ip link set dev eth0.100 mtu 1496 up
- name: VLAN 100 on eth0
  netfabric.ovs.ip_link:
    name: eth0.100
    kind: vlan
    link: eth0
    vlan_id: 100
    mtu: 1496
    state: up

- name: VXLAN 1001 to one peer
  netfabric.ovs.ip_link:
    name: vx1001
    kind: vxlan
    vni: 1001
    local: 192.0.2.1
    remote: 192.0.2.2
    dstport: 4789
    learning: false
    state: up

- name: VXLAN 42 flooding over a multicast group on eth1
  netfabric.ovs.ip_link:
    name: vx42
    kind: vxlan
    vni: 42
    group: 239.1.1.1
    link: eth1
    dstport: 4789

- name: A bridge, and a veth into it whose peer lives in namespace vm1
  netfabric.ovs.ip_link:
    name: "{{ item.name }}"
    kind: "{{ item.kind }}"
    peer: "{{ item.peer | default(omit) }}"
    peer_netns: "{{ item.peer_netns | default(omit) }}"
    master: "{{ item.master | default(omit) }}"
    state: up
  loop:
    - {name: br0, kind: bridge}
    - {name: tap-vm1, kind: veth, peer: eth0, peer_netns: vm1, master: br0}

# Commands: ip link set dev gre-peer2 type bridge_slave isolated on  (only when it is not yet)
- name: A gretap in bridge br0 whose port forwards only to the bridge's other, not isolated, ports
  netfabric.ovs.ip_link:
    name: gre-peer2
    kind: gretap
    local: 192.0.2.1
    remote: 192.0.2.2
    key: 42
    master: br0
    isolated: true
    state: up

# Commands: ip link add name bond0 type bond mode active-backup miimon 100 updelay 200
#           ip link set dev bond0 mtu 9000 ; ip link set dev eth1 down ; ip link set dev eth1 master bond0
#           ip link set dev eth2 down ; ip link set dev eth2 master bond0 ; ip link set dev bond0 up
- name: An active-backup bond of eth1 and eth2
  netfabric.ovs.ip_link:
    name: bond0
    kind: bond
    bond_mode: active-backup
    miimon: 100
    updelay: 200
    members: [eth1, eth2]
    mtu: 9000
    state: up

# The same bond made an LACP bond: down, eth1 and eth2 out, mode 802.3ad with these options, both in, up.
- name: bond0 as an 802.3ad (LACP) bond hashing on layer 3+4
  netfabric.ovs.ip_link:
    name: bond0
    kind: bond
    bond_mode: 802.3ad
    miimon: 100
    lacp_rate: fast
    lacp_active: true
    xmit_hash_policy: layer3+4
    members: [eth1, eth2]
    state: up

- name: GRE tunnel with key 42
  netfabric.ovs.ip_link:
    name: gre1
    kind: gre
    local: 192.0.2.1
    remote: 192.0.2.2
    key: 42
    ttl: 64
    state: up

- name: Raise the MTU of an existing NIC (without kind it is never created)
  netfabric.ovs.ip_link:
    name: eth1
    mtu: 9000
    state: up

- name: Remove the VXLAN
  netfabric.ovs.ip_link:
    name: vx1001
    state: absent

# Teardown removes only what it created: eth0.200 made with owner carries the alias netfabric:vlans;
# an eth0.300 somebody else made is left in place, with a warning.
- name: VLAN 200 owned by the vlans role
  netfabric.ovs.ip_link:
    name: eth0.200
    kind: vlan
    link: eth0
    vlan_id: 200
    owner: vlans
- name: Remove the VLAN links the vlans role created
  netfabric.ovs.ip_link:
    name: "{{ item }}"
    owner: vlans
    state: absent
  loop: [eth0.200, eth0.300]
"""

RETURN = r"""
commands:
  description:
    - The C(ip) commands run, or that would run in check mode, each as an argument list.
    - They are applied together through one C(ip -batch -) call, all or nothing. Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100"],
           ["ip", "link", "set", "dev", "eth0.100", "up"]]
link:
  description:
    - The link after the change as read back from the host (in check mode, as predicted; values the
      kernel picks, such as a new MAC address, are then V(null)).
    - Always has name, kind, state (V(up)/V(down)), mtu, address and master, plus the kind-specific keys
      (link, vlan_id, vni, local, remote, group, dstport, learning, proxy, ttl, key, peer, peer_netns, macvlan_mode;
      a bond's bond_mode, miimon, updelay, downdelay, lacp_rate, lacp_active, xmit_hash_policy and members),
      and C(isolated) when the link is a port of a bridge.
      An C(alias) of C(netfabric:OWNER) is the owner mark.
  returned: success (V(null) when the link does not exist)
  type: dict
  sample: {"name": "eth0.100", "kind": "vlan", "state": "up", "mtu": 1496, "address": "52:54:00:12:34:56",
           "master": null, "alias": "netfabric:vlans", "link": "eth0", "vlan_id": 100}
before:
  description:
    - The link as read before the change (the keys of RV(link)); V({name, state=absent}) when it did not exist.
  returned: success
  type: dict
after:
  description:
    - The link after the change (as RV(link)); V({name, state=absent}) when it does not exist.
  returned: success
  type: dict
applied:
  description:
    - When the write failed, the commands of the batch that had run before the failing one (all were undone).
  returned: failure of the write
  type: list
  elements: list
rolled_back:
  description:
    - When the write failed, the commands that undid RV(applied).
  returned: failure of the write
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.run import run_link
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import LINK_ARGUMENT_SPEC, LINK_RULES


def main():
    run_link(AnsibleModule(argument_spec=LINK_ARGUMENT_SPEC, **LINK_RULES))


if __name__ == "__main__":
    main()
