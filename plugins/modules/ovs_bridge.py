#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_bridge
short_description: An Open vSwitch bridge, present or absent, in one OVSDB transaction
version_added: 0.1.0
description:
  - Reads the Bridge, Port and Interface tables once (C(ovs-vsctl --format=json)), compares them with the
    wanted bridge and applies the difference as one ovs-vsctl transaction. A second run with the same
    arguments changes nothing and runs no write.
  - Options that are omitted are left as they are; for O(other_config) and O(external_ids) the keys given
    are set, a key given with a null value is removed and other keys are kept.
  - A bridge this module creates is marked with C(external_ids:netfabric_owner) (O(owner)), so that the
    collection only ever removes what it created. A bridge that already exists keeps its mark, or none;
    it is used, never adopted. Setting C(netfabric_owner) in O(external_ids) takes it over explicitly.
  - Removing a bridge (O(state=absent)) removes all of its ports with it; the diff lists them under C(before.ports).
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
  - netfabric.ovs.attributes.OVSDB
options:
  name:
    description: Name of the bridge (also the name of its internal port and of the kernel device).
    type: str
    required: true
  state:
    description: Whether the bridge should exist.
    type: str
    choices: [present, absent]
    default: present
  datapath_type:
    description:
      - V(system) is the kernel datapath; V(netdev) the userspace datapath (DPDK and hosts without the openvswitch kernel module).
      - Omitted leaves an existing bridge as it is; a new bridge gets OVS's default (system).
    type: str
    choices: [system, netdev]
  fail_mode:
    description:
      - What the bridge does without a controller or flows. V(secure) drops traffic that no flow admits;
        use it for tunnel bridges, where a lost flow table must not flood across tenants.
    type: str
    choices: [standalone, secure]
  protocols:
    description: OpenFlow versions the bridge accepts, for example V(OpenFlow10) and V(OpenFlow14) (needed for bundles).
    type: list
    elements: str
  other_config:
    description: Keys of the bridge's other_config column (for example V(hwaddr)); null values remove a key.
    type: dict
  external_ids:
    description: Keys of the bridge's external_ids column; null values remove a key.
    type: dict
  parent:
    description: Makes a fake bridge (a VLAN of the parent bridge); requires O(vlan).
    type: str
  vlan:
    description: VLAN (0-4095) of the fake bridge; requires O(parent).
    type: int
  mtu_request:
    description:
      - MTU requested for the bridge's own (internal) interface, 68-65535, as the C(mtu_request) column; OVS applies
        it and keeps it (an MTU set with C(ip link) on a port OVS owns is reset by OVS). Compared with the
        request, not with the C(mtu) OVS reports. Omitted leaves it as it is. Not for a fake bridge.
    type: int
  only_if_empty:
    description:
      - With O(state=absent), delete the bridge only if this module's own read, made under the host's lock
        just before the write, shows no port on it besides the bridge's local one. Otherwise nothing changes
        (C(changed=false)), C(msg) says which ports keep it and C(kept_by) lists them.
      - It also keeps a bridge whose C(external_ids:netfabric_owner) is not O(owner) (one this module did not
        create with that owner, such as another tool's br-int), with C(msg) saying so.
      - Teardown uses it, so a port added to a bridge since the fabric made it (by an operator, another tool or
        another run) is never deleted with the bridge.
      - Only with O(state=absent).
    type: bool
    default: false
  owner:
    description:
      - Value stored in C(external_ids:netfabric_owner) of a bridge this module creates; with O(state=absent) and
        O(only_if_empty=true), the mark a bridge must carry to be deleted.
      - The default V(ansible) is not an owner the collection's roles use (they mark with V(netfabric) and
        V(netfabric-*)), so a bridge made by a playbook's own task is never removed by their teardown.
    type: str
    default: ansible
"""

EXAMPLES = r"""
# Before: no bridge br-tun.
- name: A tunnel bridge on the userspace datapath that drops what no flow admits
  netfabric.ovs.ovs_bridge:
    name: br-tun
    datapath_type: netdev
    fail_mode: secure
    protocols: [OpenFlow10, OpenFlow13, OpenFlow14]
# Commands (one transaction):
#   ovs-vsctl --timeout=5 -- add-br br-tun -- set Bridge br-tun datapath_type="netdev" fail_mode="secure"
#     protocols=["OpenFlow10","OpenFlow13","OpenFlow14"] -- set Bridge br-tun external_ids:"netfabric_owner"="ansible"
# After: ovs-vsctl get Bridge br-tun fail_mode -> secure

- name: A fake bridge for VLAN 100 of br-phy
  netfabric.ovs.ovs_bridge:
    name: br-vlan100
    parent: br-phy
    vlan: 100

- name: Remove a bridge and, with it, its ports
  netfabric.ovs.ovs_bridge:
    name: br-old
    state: absent

- name: Remove br-tun only if nothing but its local port is on it
  netfabric.ovs.ovs_bridge:
    name: br-tun
    state: absent
    only_if_empty: true
# If a port is left: changed=false, msg "bridge 'br-tun' kept: it still has ports patch-int (only_if_empty)"
"""

RETURN = r"""
commands:
  description: The ovs-vsctl argv that ran (or, in check mode, would run); empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/ovs-vsctl", "--timeout=5", "--", "add-br", "br-tun"]]
before:
  description: The bridge before the change, null if it did not exist; C(ports) lists the ports it held.
  returned: always
  type: dict
after:
  description: The bridge after the change (predicted in check mode), null when removed.
  returned: always
  type: dict
kept_by:
  description: The ports that kept the bridge from being deleted.
  returned: when O(only_if_empty=true) kept the bridge
  type: list
  elements: str
  sample: [patch-int]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_bridge import ARGUMENT_SPEC, REQUIRED_TOGETHER, plan_bridge, want_bridge
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import converge


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_together=REQUIRED_TOGETHER, supports_check_mode=True)
    converge(module, want_bridge, plan_bridge)


if __name__ == "__main__":
    main()
