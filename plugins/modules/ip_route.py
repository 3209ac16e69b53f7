#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_route
short_description: Manage the routes of one routing table with iproute2
description:
  - Adds, replaces and removes the routes of one routing table and one address family through C(ip),
    optionally inside a named network namespace (a tenant router's namespace, for example).
  - The table is read once with C(ip -j -d route show table TABLE) and every change is applied in one
    C(ip -batch -) call, all or nothing. When a command fails, the routes the batch had already removed or
    added are put back as they were read, and the module fails naming the failing command, the commands
    applied before it and the commands that rolled them back.
  - A route is known by its destination and metric (one table holds one route per destination and metric)
    and is the wanted one when its gateway, and its device when O(routes[].dev) is given, agree too.
    A route of the same destination and metric that goes elsewhere is replaced (C(ip route replace)).
  - Routes the kernel made for an address (C(proto kernel)) are never removed.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  routes:
    description:
      - The routes. V([]) with O(state=exact) removes every route of the table but the kernel's.
    type: list
    elements: dict
    required: true
    suboptions:
      dst:
        description:
          - Destination network with prefix length (V(10.1.0.0/24)), a host address (V(10.1.0.5)) or
            V(default) (also written V(0.0.0.0/0) or V(::/0)). Host bits must be zero.
        type: str
        required: true
      via:
        description:
          - The gateway, an address of the same family that the namespace can reach directly.
          - At least one of O(routes[].via) and O(routes[].dev) is required, except with O(state=absent).
        type: str
      dev:
        description:
          - The link the route leaves through. Omitted with O(routes[].via) means the link the kernel
            picks for the gateway, and any link matches.
        type: str
      metric:
        description:
          - The route's metric (priority). Omitted means the kernel's default, V(0) for IPv4 and V(1024) for IPv6.
        type: int
  table:
    description:
      - The routing table, V(main), V(default) or a number (the kernel's V(local) table, 255, is refused).
    type: str
    default: main
  family:
    description:
      - The address family of the routes; only this family's routes of the table are read and changed.
    type: str
    choices: [ipv4, ipv6]
    default: ipv4
  state:
    description:
      - V(present) adds the routes that are missing and replaces those of the same destination and metric
        that differ. Other routes stay.
      - V(absent) removes the listed routes that are in the table; a route listed without O(routes[].via) or
        O(routes[].dev) names every route of its destination and metric.
      - V(exact) makes O(routes) the whole table of this family, except for C(proto kernel) routes.
    type: str
    choices: [present, absent, exact]
    default: present
  netns:
    description:
      - Named network namespace whose table is managed; commands run as C(ip -n NETNS ...).
    type: str
  timeout:
    description:
      - Seconds each C(ip) command may run. One that takes longer is killed and the module fails naming the
        command; a write killed this way is rolled back like a failed one.
    type: int
    default: 5
notes:
  - Multipath routes, and routes of another type than unicast (blackhole, unreachable), are read and shown,
    and removed by O(state=exact), but cannot be asked for.
seealso:
  - module: netfabric.ovs.ip_address
  - module: netfabric.ovs.ip_link
"""

EXAMPLES = r"""
# Before: namespace qrouter-red has 10.0.0.1/24 on qr-red and 203.0.113.10/24 on qg-red, no default route.
# Commands: ip -n qrouter-red route replace default via 203.0.113.1 metric 0 table 254
#           ip -n qrouter-red route replace 10.8.0.0/16 via 10.0.0.254 metric 0 table 254
- name: A tenant router's routes, and no others
  netfabric.ovs.ip_route:
    netns: qrouter-red
    state: exact
    routes:
      - dst: default
        via: 203.0.113.1
      - dst: 10.8.0.0/16
        via: 10.0.0.254

- name: An IPv6 route in table 100
  netfabric.ovs.ip_route:
    table: "100"
    family: ipv6
    routes:
      - dst: 2001:db8:100::/48
        dev: br-phy
        metric: 50

- name: No default route any more
  netfabric.ovs.ip_route:
    netns: qrouter-red
    state: absent
    routes:
      - dst: default
"""

RETURN = r"""
commands:
  description:
    - The C(ip) commands run, or that would run in check mode, each as an argument list.
    - They are applied together through one C(ip -batch -) call, all or nothing. Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "-n", "qrouter-red", "route", "replace", "default", "via", "203.0.113.1", "metric", "0", "table", "254"]]
routes:
  description:
    - Every route of the table and family afterwards, as read back from the host (in check mode, as predicted),
      the kernel's included. Each has C(dst), C(via), C(dev), C(metric), C(type) and C(proto), and
      C(nexthops) when it is a multipath route.
  returned: success
  type: list
  elements: dict
  sample: [{"dst": "default", "via": "203.0.113.1", "dev": "qg-red", "metric": 0, "type": "unicast", "proto": "boot"}]
before:
  description:
    - The table number, the family and its routes as read before the change.
  returned: success
  type: dict
  sample: {"table": 254, "family": "ipv4", "routes": []}
after:
  description:
    - The table number, the family and its routes afterwards (as RV(routes)).
  returned: success
  type: dict
  sample: {"table": 254, "family": "ipv4", "routes": [{"dst": "default", "via": "203.0.113.1", "dev": "qg-red",
           "metric": 0, "type": "unicast", "proto": "boot"}]}
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

from ansible_collections.netfabric.ovs.plugins.module_utils._route import ARGUMENT_SPEC, RULES, run_route


def main():
    run_route(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
