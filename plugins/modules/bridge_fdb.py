#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge_fdb
short_description: Manage the static forwarding and neighbour entries of a kernel VXLAN device
description:
  - Adds and removes the static forwarding database entries of one kernel VXLAN device through C(bridge fdb),
    and optionally its static neighbour (ARP/NDP) entries through C(ip neigh), inside a named network
    namespace if asked.
  - Unicast VXLAN with head-end replication is one all-zero entry (V(00:00:00:00:00:00)) per remote VTEP, and
    the kernel sends every broadcast, unknown-unicast and multicast frame to each of them. Entries of a
    unicast MAC and neighbour entries are the l2pop way of telling the device where a remote VM lives and,
    on a device made with C(proxy), of answering ARP for it locally instead of flooding the request.
  - The device is read once (C(ip -j -d link show dev DEV), C(bridge -j fdb show dev DEV) and, when
    O(neighbours) is given, C(ip -j neigh show dev DEV)). The forwarding entries change in one
    C(bridge -batch -) call and the neighbour entries in one C(ip -batch -) call (C(bridge) has no
    neighbour commands). When a line fails, what had been applied is put back as it was read, the
    forwarding batch too when the neighbour batch fails, and the module fails naming the failing command,
    the commands applied before it and the commands that rolled them back.
  - An entry is the module's when its state is C(permanent), which is what it makes. Entries the device
    learned from traffic, C(static) entries, the device's own default destination (its C(remote) or
    C(group), made with the link) and the entries of a Linux bridge the device is a port of are never removed.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  dev:
    description:
      - The VXLAN device. It must exist (in check mode a missing one is only warned about, as an earlier task
        may create it) and be of kind C(vxlan).
    type: str
    required: true
  entries:
    description:
      - The forwarding entries, each a MAC address and the remote VTEP it lives behind.
      - Omitted means the forwarding entries are not read or changed; V([]) with O(state=exact) removes every
        permanent entry of the device. At least one of O(entries) and O(neighbours) must be given.
      - The all-zero MAC and multicast MACs may be listed with several O(entries[].dst) (C(bridge fdb append));
        a unicast MAC lives behind one VTEP (C(bridge fdb replace)), so a unicast MAC learned or set elsewhere
        is moved to the O(entries[].dst) given.
    type: list
    elements: dict
    suboptions:
      mac:
        description:
          - The MAC address; V(00:00:00:00:00:00) is the default destination of flooded frames.
        type: str
        required: true
      dst:
        description:
          - The IP address of the remote VTEP (IPv4 or IPv6, the family of the device's C(local)).
        type: str
        required: true
      vni:
        description:
          - The VNI frames to this remote carry. Omitted means the device's own.
        type: int
      port:
        description:
          - The remote UDP port. Omitted means the device's C(dstport).
        type: int
  neighbours:
    description:
      - Static neighbour entries on the device (C(ip neigh replace IP lladdr MAC dev DEV nud permanent)). With
        C(proxy) on the device, the kernel answers ARP and neighbour solicitations for O(neighbours[].ip) itself.
        C(proxy) is fixed when the device is created; the module warns when it is off.
      - Omitted means the neighbour entries are not read or changed; V([]) with O(state=exact) removes every
        permanent neighbour entry of the device.
    type: list
    elements: dict
    suboptions:
      ip:
        description:
          - The IPv4 or IPv6 address of a remote VM or host.
        type: str
        required: true
      mac:
        description:
          - Its MAC address. Required unless O(state=absent), where it narrows the removal to that MAC.
        type: str
  state:
    description:
      - V(present) adds the entries that are missing (and makes a listed entry that is learned or C(static)
        permanent). Other entries stay.
      - V(absent) removes the listed entries that are permanent.
      - V(exact) also removes the permanent entries the lists do not name, of the lists that are given. Learned
        and C(static) entries and the device's own default destination stay.
    type: str
    choices: [present, absent, exact]
    default: present
  netns:
    description:
      - Named network namespace the device is in; commands run as C(bridge -n NETNS ...) and C(ip -n NETNS ...).
    type: str
  timeout:
    description:
      - Seconds each C(bridge) or C(ip) command may run. One that takes longer is killed and the module fails
        naming the command; a write killed this way is rolled back like a failed one.
    type: int
    default: 5
notes:
  - C(ip -batch) stops at a failing C(neigh) line without saying which line it was, so for the neighbour batch
    the failure says only that an unknown part ran; the rollback starts from a fresh read and is the same.
seealso:
  - module: netfabric.ovs.ip_link
"""

EXAMPLES = r"""
# Before: vxlan-42 (id 42, local 172.30.1.1, nolearning, proxy) has no forwarding entries.
# Commands: bridge fdb append 00:00:00:00:00:00 dev vxlan-42 dst 172.30.1.2 self permanent
#           bridge fdb append 00:00:00:00:00:00 dev vxlan-42 dst 172.30.1.3 self permanent
- name: Flood the tenant's broadcasts to the two other hosts that carry it, and to no one else
  netfabric.ovs.bridge_fdb:
    dev: vxlan-42
    state: exact
    entries:
      - mac: "00:00:00:00:00:00"
        dst: 172.30.1.2
      - mac: "00:00:00:00:00:00"
        dst: 172.30.1.3

# Commands: bridge fdb replace 52:54:00:aa:00:02 dev vxlan-42 dst 172.30.1.2 self permanent
#           ip neigh replace 10.42.0.2 lladdr 52:54:00:aa:00:02 dev vxlan-42 nud permanent
- name: A remote VM known in advance; ARP for it is answered on this host
  netfabric.ovs.bridge_fdb:
    dev: vxlan-42
    entries:
      - mac: 52:54:00:aa:00:02
        dst: 172.30.1.2
    neighbours:
      - ip: 10.42.0.2
        mac: 52:54:00:aa:00:02

- name: A host left the fabric
  netfabric.ovs.bridge_fdb:
    dev: vxlan-42
    state: absent
    entries:
      - mac: "00:00:00:00:00:00"
        dst: 172.30.1.3
"""

RETURN = r"""
commands:
  description:
    - The C(bridge) and C(ip) commands run, or that would run in check mode, each as an argument list.
    - The C(bridge) ones run together in one C(bridge -batch -) call, then the C(ip) ones in one C(ip -batch -)
      call, all or nothing. Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan-42", "dst", "172.30.1.2", "self", "permanent"]]
entries:
  description:
    - Every forwarding entry of the device itself afterwards, as read back (in check mode, as predicted), learned
      ones included. Each has C(mac), C(dst), C(vni), C(port), C(via) (the device a multicast group is
      reached through, else null) and C(state) (V(permanent), V(static), or V(dynamic) for a learned entry).
  returned: success, when O(entries) is given
  type: list
  elements: dict
  sample: [{"mac": "00:00:00:00:00:00", "dst": "172.30.1.2", "vni": 42, "port": 4789, "via": null, "state": "permanent"}]
neighbours:
  description:
    - Every neighbour entry of the device afterwards, each with C(ip), C(mac) and C(state) (as C(ip neigh)
      prints it, V(PERMANENT) for the static ones).
  returned: success, when O(neighbours) is given
  type: list
  elements: dict
  sample: [{"ip": "10.42.0.2", "mac": "52:54:00:aa:00:02", "state": "PERMANENT"}]
before:
  description:
    - The device name and, of the lists given, its forwarding entries and neighbour entries as read before the change.
  returned: success
  type: dict
  sample: {"dev": "vxlan-42", "entries": []}
after:
  description:
    - The same afterwards (as RV(entries) and RV(neighbours)).
  returned: success
  type: dict
  sample: {"dev": "vxlan-42", "entries": [{"mac": "00:00:00:00:00:00", "dst": "172.30.1.2", "vni": 42, "port": 4789,
           "via": null, "state": "permanent"}]}
applied:
  description:
    - When the write failed, the commands that had run before the failing one (all were undone).
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

from ansible_collections.netfabric.ovs.plugins.module_utils._fdb import ARGUMENT_SPEC, RULES, run_fdb


def main():
    run_fdb(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
