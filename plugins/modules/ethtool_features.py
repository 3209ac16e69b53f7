#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ethtool_features
short_description: Set the offload features of one network interface with ethtool
description:
  - Turns offload features of one interface (checksum offload, segmentation offload) on or off, as
    C(ethtool -K) does, optionally inside a named network namespace.
  - Made for the namespace ends of veths on hosts whose Open vSwitch runs the userspace (netdev) datapath. There
    a packet a namespace sends over a veth with TX checksum offload on leaves with its checksum
    unfinished and receivers drop it (a DHCP server's offers are never accepted), until
    C(tx-checksumming) is off in that namespace.
  - The features are read once with C(ethtool --json -k DEV) and every change is applied in one
    C(ethtool -K DEV NAME on|off ...) call. Then they are read back, because ethtool exits 0 when the driver
    changed only some of them, so a feature the kernel kept fails the task (C(changed=true)), naming it
    and quoting what ethtool said.
  - Features not listed are left as they are, but the kernel may change some along with a listed one
    (turning C(tx-checksumming) off also turns the TCP and UDP segmentation offloads off); RV(also_changed) shows them.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  dev:
    description:
      - The interface, as C(ip link) shows it in O(netns) (or in the namespace the module runs in).
      - 1-15 bytes of A-Z a-z 0-9 C(.) C(_) C(-) C(+) C(@), starting with a letter, digit or C(_), not all digits.
      - An interface that does not exist is an error naming it; in check mode it is assumed (an earlier task
        of the same run may create it), with a warning, and every listed feature is shown as a change.
    type: str
    required: true
  netns:
    description:
      - Named network namespace that holds O(dev); commands run as C(ip netns exec NETNS ethtool ...).
      - A namespace that does not exist is an error naming it (assumed in check mode, as for O(dev)).
    type: str
  features:
    description:
      - The features to set, each V(true) (on) or V(false) (off); the strings V(on) and V(off) are taken too.
      - Names are those C(ethtool -k DEV) prints, for example V(tx-checksumming), V(tx-checksum-ip-generic),
        V(scatter-gather), V(tcp-segmentation-offload), V(generic-segmentation-offload),
        V(generic-receive-offload), or one of C(ethtool -K)'s short names V(rx), V(tx), V(sg), V(tso),
        V(ufo), V(gso), V(gro), V(lro), V(rxvlan), V(txvlan), V(ntuple), V(rxhash), which stand for the
        long name and are reported under it. Giving a short name and its long name together is an error.
      - A group (V(tx-checksumming), V(scatter-gather), V(tcp-segmentation-offload)) reads as on when any
        feature in it is on, as C(ethtool -k) shows it, and setting it sets every feature in it that can
        change. To be sure one feature of a group is on, name that feature (V(tx-checksum-ip-generic)).
      - A name the interface does not have is an error listing close names. A feature C(ethtool -k) marks
        C([fixed]) at the other value is an error naming it (its driver does not let it change); one already
        at the wanted value is fine.
    type: dict
    required: true
  timeout:
    description:
      - Seconds each C(ethtool) command may run. One that takes longer is killed and the module fails naming
        the command.
    type: int
    default: 5
requirements:
  - ethtool 5.17 or later (JSON output of C(-k)) on the managed host, Debian package C(ethtool).
seealso:
  - module: netfabric.ovs.ip_link
  - module: netfabric.ovs.ip_netns
  - module: netfabric.ovs.dhcp_server
"""

EXAMPLES = r"""
# Before: qd-red in namespace qdhcp-red-0 has tx-checksumming on.
# Command: ip netns exec qdhcp-red-0 ethtool -K qd-red tx-checksumming off
# After: tx-checksumming off; also_changed lists its members and the TCP/UDP segmentation offloads the
#        kernel turned off with it (they need TX checksums).
- name: DHCP answers leave the namespace with finished checksums (userspace datapath)
  netfabric.ovs.ethtool_features:
    dev: qd-red
    netns: qdhcp-red-0
    features:
      tx-checksumming: false

- name: Several at once, in one ethtool call
  netfabric.ovs.ethtool_features:
    dev: veth-vm1
    features:
      tx: off
      generic-segmentation-offload: off
      generic-receive-offload: on
"""

RETURN = r"""
commands:
  description:
    - The C(ethtool -K) command run, or that would run in check mode, as an argument list (behind
      C(ip netns exec NETNS) with O(netns)). Empty when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["ip", "netns", "exec", "qdhcp-red-0", "ethtool", "-K", "qd-red", "tx-checksumming", "off"]]
before:
  description:
    - Each asked feature (by its long name) as read before the change, V(true) for on. V(null) in check mode
      when the interface is not there yet.
  returned: success
  type: dict
  sample: {"tx-checksumming": true}
after:
  description:
    - The same features afterwards, as read back from the host (in check mode, as predicted).
  returned: success
  type: dict
  sample: {"tx-checksumming": false}
also_changed:
  description:
    - Features not asked for whose value the write changed too, as read back (the members of an asked group,
      and features the kernel turns off with it). V({}) in check mode and when nothing was written.
  returned: success
  type: dict
  sample: {"tx-checksum-ip-generic": false, "tx-checksum-sctp": false, "tx-tcp-segmentation": false,
           "tx-tcp6-segmentation": false, "tx-udp-segmentation": false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._ethtool import ARGUMENT_SPEC, RULES, run_features


def main():
    run_features(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
