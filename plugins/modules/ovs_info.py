#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_info
short_description: Bridges, ports, interfaces and owned flows of Open vSwitch as structured data
version_added: 0.1.0
description:
  - Reads OVSDB once (C(ovs-vsctl --format=json)) and, on request, the flows of one cookie per bridge
    (C(ovs-ofctl dump-flows)), and returns them as plain data; optionally as the fact C(netfabric_ovs).
  - With O(require_ports), also checks that each named port exists, has an OpenFlow port number
    (not -1) and no C(error), and that tunnels have a C(remote_ip); C(problems) names every port that fails.
    It never changes anything.
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes.OVSDB
attributes:
  check_mode:
    description: Runs in check mode too (it only reads).
    support: full
  diff_mode:
    description: Returns no diff (it changes nothing).
    support: none
options:
  bridges:
    description: Only these bridges (default all).
    type: list
    elements: str
  flows_cookie:
    description: Also read the flows with this cookie from every selected bridge.
    type: int
  require_ports:
    description: Port names that must be up and healthy; see C(problems).
    type: list
    elements: str
  links:
    description:
      - Kernel links (not OVS ports) whose MAC address to report in C(links), read from sysfs, so a play reads
        them in the same task as OVS. A link that does not exist is reported with C(address) null.
    type: list
    elements: str
  fail_on_problems:
    description: Fail (naming the ports) when O(require_ports) finds problems.
    type: bool
    default: false
  as_facts:
    description: Also set the fact C(netfabric_ovs) to the result.
    type: bool
    default: false
  rundir:
    description:
      - The Open vSwitch run directory that holds the bridges' management sockets, for O(flows_cookie).
      - Omitted means the directory of O(db) when that is a C(unix:) socket (the instance the OVSDB read used), else ovs-ofctl's default.
        When both are given they must agree; a C(tcp:)/C(ssl:) O(db) with O(flows_cookie) needs it.
    type: path
notes:
  - The read waits, within O(timeout), until ovs-vswitchd has applied what OVSDB holds (its C(cur_cfg) reached C(next_cfg)),
    so C(ofport) and C(error) are the switch's; if it does not, the task fails naming ovs-vswitchd. A dead or hung ovsdb-server
    or ovs-vswitchd fails the task within O(timeout) (plus a moment), naming the daemon.
"""

EXAMPLES = r"""
- name: What does br-tun hold, and which of our flows?
  netfabric.ovs.ovs_info:
    bridges: [br-tun]
    flows_cookie: 0x4e46
  register: tun

- name: Fail, naming the port, if a tunnel has no ofport or an error
  netfabric.ovs.ovs_info:
    require_ports: [patch-int, vxlan-ac1f0002]
    fail_on_problems: true
"""

RETURN = r"""
bridges:
  description: Bridges by name with datapath_type, fail_mode, protocols, external_ids and their port names.
  returned: always
  type: dict
ports:
  description: Ports by name with bridge, type, options, tag, trunks, ofport, error and the rest of M(netfabric.ovs.ovs_port)'s fields.
  returned: always
  type: dict
flows:
  description: Flows of O(flows_cookie) by bridge, as ovs-ofctl prints them (statistics removed).
  returned: when O(flows_cookie) is set
  type: dict
links:
  description: For each of O(links), C(address), its MAC (null when the link does not exist).
  returned: always
  type: dict
  sample: {"uplink": {"address": "52:54:00:12:34:56"}}
problems:
  description: One line per required port that is missing, has no ofport, has an error, or is a tunnel without remote_ip.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_info import ARGUMENT_SPEC, gather


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = gather(module)
    if module.params["fail_on_problems"] and result["problems"]:
        module.fail_json(msg="unhealthy ports: " + "; ".join(result["problems"]), **result)
    if module.params["as_facts"]:
        result["ansible_facts"] = {"netfabric_ovs": dict(result)}
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
