#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_port
short_description: One Open vSwitch port (with its interface, a tunnel, a patch or a bond) on a bridge
version_added: 0.1.0
description:
  - The port and its interface(s) are read once from OVSDB as JSON and brought to the wanted state with one
    ovs-vsctl transaction; a second run with the same arguments changes nothing and runs no write.
  - A port that exists on another bridge is moved (deleted there and added here in the same transaction), never duplicated.
  - Omitted options are left as they are. For many ports of one bridge use M(netfabric.ovs.ovs_ports), which
    does the same for a whole list in one read and one transaction.
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
  - netfabric.ovs.attributes.OVSDB
options:
  bridge:
    description: The bridge the port belongs on.
    type: str
    required: true
  owner:
    description:
      - Value stored in C(external_ids:netfabric_owner) of a port this module creates (or moves here from another
        bridge); M(netfabric.ovs.ovs_ports) prunes by it. A port that already exists keeps its mark, or none.
      - The default V(ansible) is not an owner the collection's roles use, so they never prune such a port.
    type: str
    default: ansible
  name:
    description: Port name; for a single-interface port also the interface name (at most 15 characters).
    type: str
    required: true
  state:
    description: Whether the port should exist on the bridge. A port that exists on another bridge is moved.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - Interface type. V(system) is an existing Linux device (a VM's tap or veth, a NIC).
      - V(dpdk) is a NIC (or DPDK virtual device) that ovs-vswitchd drives through DPDK, on a V(netdev) bridge; it needs
        C(options.dpdk-devargs) (a PCI address like V(0000:01:00.0), or a virtual device) and may set C(options.n_rxq) (1-1024).
      - V(dpdkvhostuserclient) is a VM's vhost-user interface; it needs C(options.vhost-server-path), the unix socket
        the VM's QEMU serves (an absolute path of at most 107 bytes). Both need DPDK initialized (M(netfabric.ovs.ovs_dpdk)).
    type: str
    choices: [system, internal, patch, gre, vxlan, geneve, dpdk, dpdkvhostuserclient]
    default: system
  options:
    description:
      - The interface's options, exactly (keys not listed are removed), for example C(remote_ip), C(local_ip),
        C(key) (V(flow) or a VNI 0-16777215 / GRE key 0-4294967295), C(dst_port), C(csum) for tunnels, C(peer) for patch ports.
      - Required for tunnels (C(remote_ip)) and patch ports (C(peer)). Omitted leaves them as they are.
    type: dict
  tag:
    description: Access VLAN (0-4095). Omitted leaves it as it is.
    type: int
  trunks:
    description: VLANs (0-4095) a trunk port carries; V([]) clears the list (all VLANs).
    type: list
    elements: int
  vlan_mode:
    description: How the port treats VLAN tags.
    type: str
    choices: [access, trunk, native-tagged, native-untagged, dot1q-tunnel]
  external_ids:
    description: Keys of the port's external_ids; null values remove a key. C(netfabric_owner) is set on ports this module creates (see O(owner)).
    type: dict
  other_config:
    description: Keys of the port's other_config; null values remove a key.
    type: dict
  mtu_request:
    description: MTU requested for the interface(s) (68-65535).
    type: int
  ofport_request:
    description:
      - OpenFlow port number requested for the interface (1-65279). Flows can then name the port by number
        before its device exists (a VM's tap appears only while the VM runs).
      - Not for bonds. Changing it renumbers the port at once.
    type: int
  from_other_bridge:
    description:
      - What to do when the port already exists on another bridge. V(move) deletes it there and adds it here
        in the same transaction; V(fail) fails before any write, naming the port and its bridge (the port stays
        where it is). The fabric's roles use V(fail) for VM ports unless the inventory sets C(take_over) to true.
      - A port moved here records the bridge it came from in C(external_ids:netfabric_moved_from). When such a port
        is removed (O(state=absent)), it is given back to that bridge if it still exists, in the
        same transaction (as the same interface, without the settings and marks it had here), else deleted, so teardown
        returns an uplink to the bridge it was taken from.
    type: str
    choices: [move, fail]
    default: move
  interfaces:
    description: Makes the port a bond of these interfaces (at least 2). Changing the members recreates the bond.
    type: list
    elements: str
  bond_mode:
    description: Bond mode; only with O(interfaces).
    type: str
    choices: [active-backup, balance-slb, balance-tcp]
  lacp:
    description: LACP negotiation of the bond; only with O(interfaces).
    type: str
    choices: [active, passive, "off"]
  bond_updelay:
    description: Milliseconds a member's carrier must be up before the bond uses it; only with O(interfaces).
    type: int
  bond_downdelay:
    description: Milliseconds a member's carrier must be down before the bond stops using it; only with O(interfaces).
    type: int
  ingress_policing_rate:
    description: Ingress policing rate in kbit/s (0 disables policing).
    type: int
  ingress_policing_burst:
    description: Ingress policing burst in kbit.
    type: int
  qos:
    description:
      - Egress QoS of the port with its queues. A different QoS replaces the old one, whose QoS and Queue rows are destroyed.
    type: dict
    suboptions:
      type:
        description: QoS type.
        type: str
        choices: [linux-htb, linux-hfsc, egress-policer]
        default: linux-htb
      other_config:
        description: QoS other_config, for example C(max-rate) in bit/s.
        type: dict
        default: {}
      queues:
        description: Queues by number, each a dict of Queue other_config (C(min-rate), C(max-rate), C(priority)).
        type: dict
        default: {}
"""

EXAMPLES = r"""
- name: A VM's tap on br-int, access port in VLAN 101
  netfabric.ovs.ovs_port:
    bridge: br-int
    name: tap-vm1
    tag: 101

- name: A VXLAN tunnel whose VNI is set by flows
  netfabric.ovs.ovs_port:
    bridge: br-tun
    name: vxlan-ac1f0002
    type: vxlan
    options:
      remote_ip: 172.31.0.2
      local_ip: 172.31.0.1
      key: flow
# Commands (one transaction):
#   ovs-vsctl --timeout=5 -- add-port br-tun vxlan-ac1f0002 -- set Port vxlan-ac1f0002 external_ids:"netfabric_owner"="ansible"
#     -- set Interface vxlan-ac1f0002 type="vxlan" options={"key"="flow","local_ip"="172.31.0.1","remote_ip"="172.31.0.2"}

- name: A trunk carrying VLANs 100 and 200
  netfabric.ovs.ovs_port:
    bridge: br-phy
    name: eth1
    vlan_mode: trunk
    trunks: [100, 200]

- name: An LACP bond of two NICs
  netfabric.ovs.ovs_port:
    bridge: br-phy
    name: bond0
    interfaces: [eth1, eth2]
    bond_mode: balance-tcp
    lacp: active

- name: Police ingress and shape egress with two HTB queues
  netfabric.ovs.ovs_port:
    bridge: br-int
    name: tap-vm2
    ingress_policing_rate: 10000
    ingress_policing_burst: 1000
    qos:
      type: linux-htb
      other_config: {max-rate: "100000000"}
      queues:
        0: {min-rate: "10000000"}
        1: {max-rate: "50000000"}
"""

RETURN = r"""
commands:
  description: The ovs-vsctl argv that ran (or, in check mode, would run); empty when nothing changed.
  returned: always
  type: list
  elements: list
before:
  description: The port as it was, keyed by port name (absent ports are missing); only ports that change.
  returned: always
  type: dict
after:
  description: The port as it is after the change (predicted in check mode), keyed by port name.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_port import SINGLE_ARGUMENT_SPEC, plan_ports, want_port
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import converge


def main():
    module = AnsibleModule(argument_spec=SINGLE_ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    converge(
        module,
        lambda p: [want_port(p, None, p["owner"])],
        lambda wants, state: plan_ports(params["bridge"], wants, state),
    )


if __name__ == "__main__":
    main()
