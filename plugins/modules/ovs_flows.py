#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_flows
short_description: Manage the OpenFlow flows of one bridge that carry one cookie
description:
  - Makes the flows of O(bridge) that carry the cookie O(cookie) exactly the flows listed in O(flows),
    or removes them all with O(state=absent).
  - Only flows with exactly that cookie are read, changed or removed. Flows with any other cookie,
    such as flows made by C(learn) actions (cookie 0) or the default C(NORMAL) flow, are never touched.
  - Changes are applied as one atomic OpenFlow 1.4 bundle (C(ovs-ofctl bundle)) of C(flow add) and
    C(flow delete_strict) lines. If any line fails, nothing is applied and the error names the flow.
  - Flows are read with C(ovs-ofctl -O OpenFlow14 --names dump-flows) and both sides are normalised
    (field order, aliases, defaults, hex or decimal, MAC case, quotes, protocol shorthands, legacy action
    spellings such as C(mod_vlan_vid) or C(set_tunnel)), so a run that changes nothing writes nothing.
  - The bridge must allow OpenFlow 1.4 (the default when the bridge's protocols are not set).
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  bridge:
    description: The bridge whose flows are managed.
    type: str
    required: true
  cookie:
    description:
      - The cookie that marks the flows this task owns, from 1 to 2^64-1.
      - It is added to every flow of O(flows); do not write a cookie in the flows.
    type: int
    required: true
  flows:
    description:
      - Flows in C(ovs-ofctl add-flow) syntax, for example V(table=0,priority=1,in_port=patch-int,actions=resubmit(,1\)).
      - Port names are allowed and preferred; a port number is mapped to the port's name before comparing.
      - Two flows with the same table, priority and match are refused, as OpenFlow keeps only one.
      - A flow is one line of an C(ovs-ofctl bundle) file, so newlines, other control characters and C(#) (a comment there) are refused.
      - A flow whose table, priority and match equal those of another owner's flow replaces it (OpenFlow semantics).
      - Required with O(state=present); an empty list removes every flow with the cookie.
    type: list
    elements: str
  state:
    description:
      - V(present) makes the flows with O(cookie) exactly O(flows).
      - V(absent) removes every flow with O(cookie); O(flows) is ignored.
    type: str
    choices: [present, absent]
    default: present
  restore_file:
    description:
      - Also keep the declared flows in this file, as an C(ovs-ofctl bundle) file that first deletes the
        flows of O(cookie) and then adds the declared ones. OpenFlow flows do not survive an ovs-vswitchd
        restart; a boot or restart hook runs C(ovs-ofctl -O OpenFlow14 bundle BRIDGE FILE) to bring them back
        without Ansible (the M(netfabric.ovs.tenants) role installs such a hook).
      - Written only after the switch accepted the bundle (or had nothing to change), so it never holds flows the switch
        refused; atomically (a temporary file, fsynced, renamed over the old one), mode 0600, in a directory created 0700.
      - With O(state=absent) the file is removed.
      - The file counts as a change when its content differs; check mode does not write it.
      - An absolute path without control characters and without C(.), C(..) or empty parts.
    type: path
  rundir:
    description:
      - An Open vSwitch run directory; the bridge is then reached at C(unix:RUNDIR/BRIDGE.mgmt).
      - Omitted means the directory of O(db) when that is a C(unix:) socket, else ovs-ofctl's default (which honours E(OVS_RUNDIR)).
      - When both are given they must name one instance (O(rundir) is the directory of O(db)'s socket), else the task fails naming the field.
    type: path
  db:
    description:
      - The OVSDB of the Open vSwitch instance, as ovs-vsctl's C(--db); the value the OVSDB modules (M(netfabric.ovs.ovs_ports) and others) take as C(db).
      - A C(unix:PATH) socket locates the instance's ovs-vswitchd too; its bridges' management sockets are in the directory of PATH,
        so the flows go to the same instance the OVSDB modules configure.
      - A C(tcp:) or C(ssl:) OVSDB says nothing about where the switch is; O(rundir) is then required.
    type: str
  timeout:
    description:
      - Seconds to wait for ovs-vswitchd before failing with a message that names it.
      - If it does not answer a read, nothing was written. If it stops answering during the bundle, the switch holds all of the
        bundle or none of it (bundles are atomic); the task fails saying so and the restore file is left as it was.
      - ovs-vswitchd serves no OpenFlow while its ovsdb-server is down; the message then names ovsdb-server.
    type: int
    default: 5
notes:
  - The second apply of the same flows reports no change and runs no write command.
seealso:
  - name: ovs-ofctl(8)
    description: Flow syntax and the bundle command.
    link: https://www.openvswitch.org/support/dist-docs/ovs-ofctl.8.html
"""

EXAMPLES = r"""
# Before: br-tun has no flow with cookie 0x3e9 (learned flows with cookie 0 may exist).
- name: Tunnel bridge pipeline for tenant VNI 1001
  netfabric.ovs.ovs_flows:
    bridge: br-tun
    cookie: 0x3e9
    flows:
      - table=0,priority=1,in_port=patch-int,actions=resubmit(,1)
      - table=0,priority=1,in_port=vxlan-ac1f0002,actions=resubmit(,3)
      - table=0,priority=0,actions=drop
      - table=3,priority=1,tun_id=0x3e9,actions=mod_vlan_vid:1,resubmit(,10)
# commands: [[ovs-ofctl, -O, OpenFlow14, --timeout=5, bundle, br-tun, "-"]]
# bundle:
#   - flow add cookie=0x3e9,table=0,priority=1,in_port=patch-int,actions=resubmit(,1)
#   - ...
# After: exactly these four flows carry cookie 0x3e9; a second run reports changed=false.

- name: Remove every flow this collection owns on br-tun, leaving all others
  netfabric.ovs.ovs_flows:
    bridge: br-tun
    cookie: 0x3e9
    state: absent

- name: A bridge of an OVS instance with its own run directory
  netfabric.ovs.ovs_flows:
    bridge: br-int
    cookie: 7
    rundir: /run/ovs-tenant2
    flows:
      - priority=0,actions=NORMAL
"""

RETURN = r"""
commands:
  description: The write commands run, or that would run in check mode (empty when nothing changes); the bundle is fed on stdin.
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/ovs-ofctl", "-O", "OpenFlow14", "--timeout=5", "bundle", "br-tun", "-"]]
bundle:
  description: The bundle lines sent (or that would be sent) to ovs-ofctl.
  returned: always
  type: list
  elements: str
  sample: ["flow delete_strict cookie=0x7/-1,table=0,priority=0", "flow add cookie=0x7,table=0,priority=0,actions=drop"]
flows:
  description: The wanted flows with the cookie, normalised (empty for O(state=absent)).
  returned: always
  type: list
  elements: str
  sample: ["table=0,priority=1,in_port=patch-int,actions=resubmit(,1)"]
before:
  description: The flows with the cookie before the change, normalised and sorted.
  returned: always
  type: list
  elements: str
after:
  description: The flows with the cookie after the change (what the task declared), normalised and sorted.
  returned: always
  type: list
  elements: str
diff:
  description: Normalised flows with the cookie before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: Flows present before, normalised and sorted, one a line (text, as Ansible's diff output shows it).
      type: str
    after:
      description: Flows wanted after, normalised and sorted, one a line.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.module import ARGUMENT_SPEC, REQUIRED_IF
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.module import main as run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    run(module)


if __name__ == "__main__":
    main()
