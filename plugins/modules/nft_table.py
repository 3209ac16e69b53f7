#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_table
short_description: Manage one whole nftables table (NAT and filter rules) atomically
description:
  - Owns one nftables table, named by O(family) and O(name), optionally inside a named network namespace
    (a tenant router's namespace, for example). The table holds exactly the chains and rules given;
    anything else in it is removed. No other table is read, changed or deleted.
  - The table is read once with C(nft -s list table FAMILY NAME). Both it and the wanted table are made
    canonical by nft itself, by loading each into an empty, throwaway network namespace (C(unshare --net nft -e)),
    so rules written in any spelling nft accepts compare equal to what the kernel holds.
  - A change is one C(nft -f -) transaction that creates the table if missing, deletes it and defines it
    again. The kernel applies the whole transaction or nothing, and packets never meet a half-built table.
  - In check mode the same transaction is validated against the namespace with C(nft -c -f -) and not applied.
  - Sets or counters filled at run time (dynamic set elements, counter values) are not compared, and a change
    to the table starts them afresh. Connection tracking entries, and with them established NAT translations,
    outlive the replacement.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
requirements:
  - nft (Debian package C(nftables)) and unshare (C(util-linux)) on the managed host.
options:
  family:
    description:
      - The table's address family.
    type: str
    choices: [inet, ip, ip6, arp, bridge, netdev]
    default: inet
  name:
    description:
      - The table's name, 1-64 characters A-Z a-z 0-9 and V(_), not starting with a digit. Give the fabric's
        tables a prefix of their own, like V(netfabric_qrouter_red); the task owns the whole table.
    type: str
    required: true
  chains:
    description:
      - The table's chains, each with its rules in order. V([]) is an empty table.
      - One of O(chains) and O(text) is required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The chain's name (the same rule as O(name)).
        type: str
        required: true
      type:
        description:
          - The base chain's type; with O(chains[].hook) and O(chains[].priority). Omitted for a regular chain
            (a target of C(jump) and C(goto)).
        type: str
        choices: [filter, nat, route]
      hook:
        description:
          - The hook the base chain is attached to.
        type: str
        choices: [prerouting, input, forward, output, postrouting, ingress, egress]
      priority:
        description:
          - The base chain's priority, a number or a name nft knows (V(dstnat), V(srcnat), V(filter), V(raw),
            V(mangle), V(security), V(out)), optionally with V(+N) or V(-N).
        type: str
      policy:
        description:
          - The base chain's policy; omitted means nft's default, V(accept).
        type: str
        choices: [accept, drop]
      rules:
        description:
          - Rules in nft syntax, one per item, like V(oifname "qg-red" ip saddr 10.0.0.0/24 masquerade).
          - A rule may not hold a line break, or V(;), V(#) or an unmatched brace outside double quotes,
            so no rule can end its chain or reach another table. Match interfaces by name
            (C(iifname), C(oifname)), not by index (C(iif), C(oif)), which are refused.
        type: list
        elements: str
        default: []
  text:
    description:
      - The table's body in nft syntax (what goes between C(table FAMILY NAME {) and C(})), for sets, maps
        and anything O(chains) does not express.
      - Outside double quotes and C(#) comments its braces must nest and never close more than they opened,
        so the text cannot end the table or reach another one. C(iif) and C(oif) are refused as in O(chains[].rules).
    type: str
  state:
    description:
      - V(present) makes the table hold exactly what O(chains) or O(text) says, creating it if needed.
      - V(absent) deletes the table, if it exists, and nothing else.
    type: str
    choices: [present, absent]
    default: present
  netns:
    description:
      - Named network namespace whose table is managed; nft runs as C(ip netns exec NETNS nft ...).
    type: str
  timeout:
    description:
      - Seconds each C(nft) command may run. One that takes longer is killed and the module fails naming the command.
    type: int
    default: 5
seealso:
  - module: netfabric.ovs.ip_route
"""

EXAMPLES = r"""
# Before: namespace qrouter-red has no table netfabric_qrouter_red.
# Transaction (nft -f -): table inet netfabric_qrouter_red {} / delete table ... / table ... { chains }
- name: SNAT for a tenant and one floating IP
  netfabric.ovs.nft_table:
    netns: qrouter-red
    family: inet
    name: netfabric_qrouter_red
    chains:
      - name: prerouting
        type: nat
        hook: prerouting
        priority: dstnat
        rules:
          - ip daddr 203.0.113.20 dnat ip to 10.0.0.5
      - name: postrouting
        type: nat
        hook: postrouting
        priority: srcnat
        rules:
          - ip saddr 10.0.0.5 oifname "qg-red" snat ip to 203.0.113.20
          - ip saddr 10.0.0.0/24 oifname "qg-red" snat ip to 203.0.113.10

- name: The same kind of table written as nft text, with a set
  netfabric.ovs.nft_table:
    name: netfabric_guard
    text: |
      set blocked { type ipv4_addr; elements = { 192.0.2.66 } }
      chain input {
        type filter hook input priority filter; policy accept;
        ip saddr @blocked drop
      }

- name: Remove the router's table, and only it
  netfabric.ovs.nft_table:
    netns: qrouter-red
    name: netfabric_qrouter_red
    state: absent
"""

RETURN = r"""
commands:
  description:
    - The command run, or that would run in check mode, as an argument list; its input is RV(transaction).
      Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "netns", "exec", "qrouter-red", "nft", "-f", "-"]]
transaction:
  description:
    - The nft file given to RV(commands) on its standard input (empty when nothing changed).
  returned: success
  type: str
  sample: "table inet netfabric_qrouter_red {}\ndelete table inet netfabric_qrouter_red\ntable inet netfabric_qrouter_red {\n...\n}\n"
exists:
  description:
    - Whether the table exists afterwards.
  returned: success
  type: bool
  sample: true
before:
  description:
    - The table as read before the change, as nft's canonical C(add) lines (empty when it did not exist).
  returned: success
  type: list
  elements: str
  sample: []
after:
  description:
    - The table afterwards in the same form, as read back from the host (in check mode, as predicted).
  returned: success
  type: list
  elements: str
  sample: ["add table inet netfabric_qrouter_red",
           "add chain inet netfabric_qrouter_red postrouting { type nat hook postrouting priority srcnat; policy accept; }",
           "add rule inet netfabric_qrouter_red postrouting ip saddr 10.0.0.0/24 oifname \"qg-red\" snat ip to 203.0.113.10"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._nft import ARGUMENT_SPEC, RULES, run_table


def main():
    run_table(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
