#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_network
short_description: Manage a libvirt network that plugs domains into an Open vSwitch bridge, one portgroup per tenant
description:
  - Defines, starts and autostarts one libvirt network in bridge mode (C(<forward mode='bridge'/>)) on an
    existing Open vSwitch bridge (C(<virtualport type='openvswitch'/>)), with one portgroup per tenant that
    carries the tenant's VLAN tag on this host.
  - A domain whose interface says C(<source network='NAME' portgroup='red'/>) is then plugged into the bridge
    by libvirt itself at every start; libvirt runs C(ovs-vsctl add-port) with the portgroup's tag and sets
    the Interface's C(external_ids) C(iface-id), C(attached-mac), C(vm-id) and, when the portgroup has a
    O(portgroups[].profileid), C(port-profile).
  - The network is read with C(virsh net-info), C(virsh net-dumpxml --inactive) and, when it runs,
    C(virsh net-dumpxml), and compared by meaning (forward mode, bridge, virtualport type, each portgroup's
    tag and profileid), not as text.
  - Portgroups are changed in place with C(virsh net-update NAME add-last|modify|delete portgroup XML
    --live --config), which running domains do not notice; a changed tag applies to ports plugged after the
    change (a domain started or restarted later), not to ports already on the bridge. Only a different
    bridge, forward mode or virtualport type redefines the network with C(virsh net-define) and, when it
    runs, restarts it (C(net-destroy), C(net-start)).
  - libvirt has no transaction across virsh calls; when one fails, the module fails naming it, and the
    calls before it have been applied (the next run applies the rest).
  - Not M(community.libvirt.virt_net), which needs libvirt's Python bindings on the managed host; modules
    of this collection use only the Python standard library there, and drive C(virsh) with argument lists.
  - No C(<mtu>), because libvirt refuses it for bridge-mode networks. Give it in the domain's interface instead.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  name:
    description:
      - The network's name, as C(virsh net-list) shows it and domains name it in C(<source network=...>).
      - 1-64 bytes of A-Z a-z 0-9 C(.) C(_) C(-) C(+) C(@), starting with a letter, digit or C(_), not all digits.
    type: str
    required: true
  state:
    description:
      - V(present) defines the network (or changes its definition), starts it and sets its autostart flag.
      - V(absent) stops it (C(net-destroy)) and removes its definition (C(net-undefine)). Ports of running
        domains stay on the bridge until the domains stop.
    type: str
    choices: [present, absent]
    default: present
  bridge:
    description:
      - The Open vSwitch bridge domains are plugged into, for example V(br-int). It must exist when a domain
        starts; the module does not create it (see M(netfabric.ovs.ovs_bridge)).
      - Required with O(state=present).
    type: str
  portgroups:
    description:
      - Every portgroup of the network, one per tenant. Portgroups of the network not listed are deleted, so
        V([]) leaves none.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The portgroup's name, which domains give in C(<source portgroup=...>); same rule as O(name).
        type: str
        required: true
      vlan:
        description:
          - The VLAN tag (1-4094) libvirt gives the OVS port of every interface in this portgroup.
        type: int
        required: true
      profileid:
        description:
          - Set as C(external_ids:port-profile) on the OVS Interface of every port in this portgroup (libvirt's
            C(<virtualport><parameters profileid=.../>)), so tools reading OVSDB know the tenant of a port.
          - 1-39 bytes, same characters as O(name). Omitted, the portgroup has none.
        type: str
  autostart:
    description:
      - Whether libvirtd starts the network when it starts.
    type: bool
    default: true
  uri:
    description:
      - The libvirt connection C(virsh -c) uses. One libvirtd serves its networks to every hypervisor driver,
        so the URI only picks the daemon. The default is the system daemon of KVM hosts; a host running
        only libvirt's LXC driver needs V(lxc:///system), and a libvirtd listening elsewhere a C(socket=)
        parameter (V(lxc+unix:///system?socket=/run/lab/libvirt-sock)).
    type: str
    default: qemu:///system
  timeout:
    description:
      - Seconds each C(virsh) call may run. One that takes longer is killed and the module fails naming it.
    type: int
    default: 5
notes:
  - Needs C(virsh) (Debian package C(libvirt-clients)) and a running libvirtd with its network driver on the
    managed host. libvirt runs C(ovs-vsctl) from libvirtd's environment, so libvirtd must reach the Open
    vSwitch that holds O(bridge) (C(OVS_RUNDIR) in its environment is honoured).
seealso:
  - module: netfabric.ovs.ovs_bridge
  - module: netfabric.ovs.ovs_port
"""

EXAMPLES = r"""
# Before: no network netfabric.
# Commands: virsh -q -c qemu:///system net-define /dev/stdin   (the XML in RV(xml))
#           virsh -q -c qemu:///system net-start netfabric
#           virsh -q -c qemu:///system net-autostart netfabric
# After: netfabric runs; a domain started with <source network='netfabric' portgroup='red'/> gets an OVS port
#        on br-int with tag 101 and external_ids:port-profile=red.
- name: The fabric's libvirt network on br-int
  netfabric.ovs.libvirt_network:
    name: netfabric
    bridge: br-int
    portgroups:
      - {name: red, vlan: 101, profileid: red}
      - {name: blue, vlan: 102, profileid: blue}

# Before: as above. Command: virsh -q -c qemu:///system net-update netfabric modify portgroup
#         "<portgroup name="red"><vlan><tag id="201" /></vlan>...</portgroup>" --live --config
# After: red domains started from now on get tag 201; running ones keep their port until they restart.
- name: Red's local VLAN changed
  netfabric.ovs.libvirt_network:
    name: netfabric
    bridge: br-int
    portgroups:
      - {name: red, vlan: 201, profileid: red}
      - {name: blue, vlan: 102, profileid: blue}

- name: Teardown
  netfabric.ovs.libvirt_network:
    name: netfabric
    state: absent
"""

RETURN = r"""
commands:
  description:
    - The C(virsh) calls run, or that would run in check mode, each as an argument list, in order.
      C(net-define) reads the XML in RV(xml) from its standard input.
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/virsh", "-q", "-c", "qemu:///system", "net-start", "netfabric"]]
before:
  description:
    - The network's definition as read (forward mode, bridge, virtualport type, portgroups by name with
      their C(vlan) and C(profileid)), whether it runs and autostarts; only C(exists=false) when there was none.
  returned: success
  type: dict
  sample: {"exists": true, "active": true, "autostart": true, "forward": "bridge", "bridge": "br-int",
           "virtualport": "openvswitch", "portgroups": {"red": {"vlan": 101, "profileid": "red"}}}
after:
  description:
    - The same afterwards, as read back (in check mode, as predicted).
  returned: success
  type: dict
xml:
  description:
    - The network XML given to C(net-define), or null when the network was not (re)defined.
  returned: success
  type: str
diff:
  description:
    - With C(--diff), the network's XML before and after (the after side as predicted), in one layout so
      only real changes show.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._libvirt import ARGUMENT_SPEC, RULES, run_network


def main():
    run_network(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
