#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_dpdk
short_description: DPDK settings of Open vSwitch (Open_vSwitch other_config) in one OVSDB transaction
version_added: 0.1.0
description:
  - Manages exactly five keys of the Open_vSwitch table's C(other_config) - C(dpdk-init), C(dpdk-socket-mem),
    C(dpdk-lcore-mask), C(pmd-cpu-mask) and C(dpdk-extra) - and no other. Reads the row once, compares, and sets
    and removes what differs in one ovs-vsctl transaction; a second run with the same arguments runs no write.
  - An option that is omitted removes its key, so the five keys are always exactly what the task says.
  - ovs-vswitchd initializes DPDK once, when C(dpdk-init) becomes true, with the memory, core and EAL settings
    of that moment; changes of O(socket_mem), O(lcore_mask) or O(extra) after that take effect at its next
    start (the module warns and lists them in C(restart_needed)). O(pmd_cpu_mask) takes effect at once.
  - ovs-vswitchd starts DPDK inside the transaction that first sets C(dpdk-init) to true, so that write may wait
    120 seconds (or O(timeout), if longer) for it; every other call keeps O(timeout).
  - With O(init=true) the task fails (after the write) when ovs-vswitchd reports C(dpdk_initialized=false), since an
    ovs-vswitchd built without DPDK, or an EAL that did not start, would leave every DPDK port broken.
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
  - netfabric.ovs.attributes.OVSDB
options:
  state:
    description: V(absent) removes the five keys (DPDK stays initialized until ovs-vswitchd restarts).
    type: str
    choices: [present, absent]
    default: present
  init:
    description: C(dpdk-init).
    type: bool
    default: true
  socket_mem:
    description: C(dpdk-socket-mem) - hugepage memory to reserve, in megabytes per NUMA node, node 0 first (0-1048576 each).
    type: list
    elements: int
  lcore_mask:
    description: C(dpdk-lcore-mask) - the cores of OVS's non-PMD DPDK threads, a hexadecimal mask like V(0x1).
    type: raw
  pmd_cpu_mask:
    description: C(pmd-cpu-mask) - the cores that run PMD threads (each spins at 100%), a hexadecimal mask like V(0x6).
    type: raw
  extra:
    description:
      - C(dpdk-extra) - further EAL arguments, split at whitespace by OVS (for example V(--no-pci) or V(-a 0000:01:00.0)).
      - Options OVS derives from another key (C(-c), C(-l), C(--lcores) with O(lcore_mask); C(--socket-mem), C(-m) with
        O(socket_mem)) are refused, since EAL would not start.
    type: str
"""

EXAMPLES = r"""
- name: DPDK with 1 GB on NUMA node 0, PMD threads on cores 1 and 2
  netfabric.ovs.ovs_dpdk:
    socket_mem: [1024]
    lcore_mask: "0x1"
    pmd_cpu_mask: "0x6"
# Commands (one transaction):
#   ovs-vsctl --timeout=5 -- set Open_vSwitch . other_config:"dpdk-init"="true" other_config:"dpdk-lcore-mask"="0x1"
#     other_config:"dpdk-socket-mem"="1024" other_config:"pmd-cpu-mask"="0x6"
"""

RETURN = r"""
commands:
  description: The ovs-vsctl argv that ran (or, in check mode, would run); empty when nothing changed.
  returned: always
  type: list
  elements: list
before:
  description: The five keys as they were (absent keys left out).
  returned: always
  type: dict
  sample: {}
after:
  description: The five keys as they are after the change (predicted in check mode).
  returned: always
  type: dict
  sample: {"dpdk-init": "true", "pmd-cpu-mask": "0x6"}
dpdk_initialized:
  description: What ovs-vswitchd reports in C(dpdk_initialized) (after the write, when there was one).
  returned: success
  type: bool
dpdk_version:
  description: The DPDK version ovs-vswitchd is built with; null for a build without DPDK.
  returned: success
  type: str
  sample: DPDK 22.11.11
restart_needed:
  description: Keys that changed while DPDK was initialized already; they take effect at ovs-vswitchd's next start.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._dpdk import ARGUMENT_SPEC, main as converge


def main():
    converge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
