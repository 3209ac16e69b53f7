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
  - The addresses are read once with C(ip -j address show) and every change is applied in one C(ip -batch -) call.
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
  netns:
    description:
      - Named network namespace the link lives in; commands run as C(ip -n NETNS ...).
    type: str
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
    - They are applied together through one C(ip -batch -) call. Empty when nothing changed.
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import address_argument_spec, run_address


def main():
    run_address(AnsibleModule(**address_argument_spec()))


if __name__ == "__main__":
    main()
