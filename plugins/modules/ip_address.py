#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_address
short_description: Manage the IP addresses of a Linux link with iproute2
description:
  - Adds and removes IPv4 and IPv6 addresses on one link through C(ip), optionally inside a named network namespace.
  - The addresses are read once with C(ip -j -d address show) and every change is applied in one C(ip -batch -)
    call, all or nothing. When a command fails, the addresses the batch had already removed or added are put
    back as they were read, and the module fails naming the failing command, the commands applied before it and
    the commands that rolled them back.
  - An address is its IP and prefix length; V(192.0.2.1/24) and V(192.0.2.1/16) are different addresses.
  - Typical use is moving an underlay address from a NIC onto an OVS bridge (O(state=exact) on the bridge,
    O(state=absent) on the NIC).
  - Removing a primary IPv4 address makes the kernel drop the secondary addresses of the same subnet;
    secondaries that should stay are put back in the same batch (C(ip address replace)).
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  dev:
    description:
      - The link holding the addresses. It must exist.
    type: str
    required: true
  addresses:
    description:
      - Addresses with prefix length, like V(192.0.2.1/24) or V(2001:db8::1/64).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) adds the addresses that are missing; an address whose IP is on the link with another
        prefix length is replaced. Other addresses stay.
      - V(absent) removes the listed addresses that are on the link.
      - V(exact) makes O(addresses) the whole set. Missing ones are added, all others are removed, except
        IPv6 link-local addresses (V(fe80::/10)), which are left alone. V([]) removes every other address.
    type: str
    choices: [present, absent, exact]
    default: present
  up:
    description:
      - Also set the link administratively up, in the same C(ip -batch) after the addresses (so a failed
        address change leaves it as it was). V(false) leaves its state alone; it never sets a link down.
    type: bool
    default: false
  netns:
    description:
      - Named network namespace the link lives in; commands run as C(ip -n NETNS ...).
    type: str
  timeout:
    description:
      - Seconds each C(ip) command may run. One that takes longer is killed and the module fails naming the
        command; a write killed this way is rolled back like a failed one.
    type: int
    default: 5
seealso:
  - module: netfabric.ovs.ip_link
"""

EXAMPLES = r"""
# Before: eth1 has 172.31.0.1/24, br-phy has none.
# Commands: ip address add 172.31.0.1/24 dev br-phy  /  ip address del 172.31.0.1/24 dev eth1
- name: Underlay address on the OVS bridge
  netfabric.ovs.ip_address:
    dev: br-phy
    addresses: [172.31.0.1/24]
    state: exact

- name: And no longer on the NIC
  netfabric.ovs.ip_address:
    dev: eth1
    addresses: [172.31.0.1/24]
    state: absent

- name: An extra IPv6 address in namespace vm1
  netfabric.ovs.ip_address:
    dev: eth0
    netns: vm1
    addresses: [2001:db8::10/64]
"""

RETURN = r"""
commands:
  description:
    - The C(ip) commands run, or that would run in check mode, each as an argument list.
    - They are applied together through one C(ip -batch -) call, all or nothing. Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "address", "add", "172.31.0.1/24", "dev", "br-phy"]]
addresses:
  description:
    - Every address on O(dev) afterwards, as read back from the host (in check mode, as predicted),
      IPv6 link-local ones included.
  returned: success
  type: list
  elements: str
  sample: ["172.31.0.1/24", "fe80::5054:ff:fe12:3456/64"]
before:
  description:
    - O(dev) and its addresses as read before the change.
  returned: success
  type: dict
  sample: {"dev": "br-phy", "addresses": []}
after:
  description:
    - O(dev) and its addresses afterwards (as RV(addresses)).
  returned: success
  type: dict
  sample: {"dev": "br-phy", "addresses": ["172.31.0.1/24"]}
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

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.run import run_address
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import ADDRESS_ARGUMENT_SPEC, ADDRESS_RULES


def main():
    run_address(AnsibleModule(argument_spec=ADDRESS_ARGUMENT_SPEC, **ADDRESS_RULES))


if __name__ == "__main__":
    main()
