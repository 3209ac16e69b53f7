#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_netns
short_description: Manage one named network namespace and the network sysctls inside it
description:
  - Creates or deletes one named network namespace (a tenant router's or a DHCP server's, for example), as
    C(ip netns add) and C(ip netns del) do, and sets network sysctls (C(net.*)) inside it, where each
    namespace has its own copy of them.
  - The namespace list is read once with C(ip -j netns list); when the namespace exists, the asked sysctls
    are read in one C(ip netns exec NAME sysctl KEY...) call (with O(state=absent), its processes with
    C(ip netns pids NAME)).
  - Every change is applied in one C(ip -batch -) call holding C(netns add) and
    C(netns exec NAME sysctl -q -w KEY=VALUE...), all or nothing. When it fails, a namespace this task
    created is deleted again and sysctls it changed get their old values back, and the module fails naming
    the failing command, the commands applied before it and the commands that rolled them back.
  - The namespace is created in the mount namespace the module runs in. One created by a module running
    under C(ip netns exec OTHER) is not visible outside it, because C(ip netns exec) gives its command a
    private mount namespace.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  name:
    description:
      - The namespace's name as C(ip netns list) shows it (a file under C(/run/netns)).
      - 1-255 bytes of A-Z a-z 0-9 C(.) C(_) C(-) C(+) C(@), starting with a letter, digit or C(_), not all
        digits (the names every module of the collection accepts, so they are safe in C(ip -batch) lines).
    type: str
    required: true
  state:
    description:
      - V(present) creates the namespace if it is missing and sets O(sysctls) inside it.
      - V(absent) deletes it, but only when no process runs in it; otherwise the module fails naming each
        process's pid and command and changes nothing (stop the namespace's daemons first).
    type: str
    choices: [present, absent]
    default: present
  sysctls:
    description:
      - Network sysctls to set inside the namespace, a value per key, for example V(1) for both
        C(net.ipv4.ip_forward) and C(net.ipv4.conf.all.rp_filter) in a router's namespace. Sysctls not listed
        are left as they are.
      - Keys are C(net.) followed by dot-separated parts of A-Z a-z 0-9 C(_) C(-). Values are integers or
        strings of printable ASCII without whitespace, quotes, C(#) or C(\); integers are compared in
        plain decimal, strings as the kernel prints them. Booleans are refused (give V(1) or V(0)).
      - A key the kernel lacks in a network namespace (no file under C(/proc/sys) there) is an error naming
        it; in check mode a namespace that does not exist yet is asked of a throwaway one
        (C(unshare --net)), so the error shows there too.
      - Checked but ignored with O(state=absent).
      - Needs C(sysctl) (Debian package C(procps)) on the managed host.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds each C(ip) command (and the C(sysctl) it runs) may run. One that takes longer is killed and the
        module fails naming the command; a write killed this way is rolled back like a failed one.
    type: int
    default: 5
seealso:
  - module: netfabric.ovs.ip_link
  - module: netfabric.ovs.ip_route
  - module: netfabric.ovs.nft_table
"""

EXAMPLES = r"""
# Before: no namespace qrouter-red.
# Commands (one ip -batch -): ip netns add qrouter-red
#           ip netns exec qrouter-red /usr/sbin/sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=1
#               net.ipv4.conf.default.rp_filter=1
# After: qrouter-red exists and forwards; the host's own net.ipv4.ip_forward is untouched.
- name: A tenant router's namespace, forwarding inside it only
  netfabric.ovs.ip_netns:
    name: qrouter-red
    sysctls:
      net.ipv4.ip_forward: 1
      net.ipv4.conf.all.rp_filter: 1
      net.ipv4.conf.default.rp_filter: 1

- name: A DHCP server's namespace
  netfabric.ovs.ip_netns:
    name: qdhcp-red-0

# Fails, changing nothing, while dnsmasq still runs in it; removes it once the daemon is stopped.
- name: The router's namespace goes
  netfabric.ovs.ip_netns:
    name: qrouter-red
    state: absent
"""

RETURN = r"""
commands:
  description:
    - The C(ip) commands run, or that would run in check mode, each as an argument list.
    - They are applied together through one C(ip -batch -) call, all or nothing. Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "netns", "add", "qrouter-red"],
           ["ip", "netns", "exec", "qrouter-red", "/usr/sbin/sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]]
before:
  description:
    - Whether the namespace existed, and the values of the asked sysctls in it (V({}) when it did not exist).
  returned: success
  type: dict
  sample: {"exists": true, "sysctls": {"net.ipv4.ip_forward": "0"}}
after:
  description:
    - The same afterwards, as read back from the host (in check mode, as predicted).
  returned: success
  type: dict
  sample: {"exists": true, "sysctls": {"net.ipv4.ip_forward": "1"}}
applied:
  description:
    - When the write failed, the commands of the batch that had run before the failing one (all were undone).
  returned: failure of the write
  type: list
  elements: list
rolled_back:
  description:
    - When the write failed, the commands that undid what had run.
  returned: failure of the write
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._netns import ARGUMENT_SPEC, RULES, run_netns


def main():
    run_netns(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
