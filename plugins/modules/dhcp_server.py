#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dhcp_server
short_description: Run one supervised dnsmasq DHCP server for one tenant subnet in a network namespace
description:
  - Runs one dnsmasq that serves DHCP (and no DNS, C(port=0)) for one IPv4 subnet on one link, optionally
    inside a named network namespace (a tenant's DHCP namespace, for example), and keeps it running.
  - Static leases come from O(hosts), so a VM with an inventory address always gets that address. Without
    O(range) only those MAC addresses get an address; with it, other clients get one from the pool.
  - Everything lives in O(dir) - C(dnsmasq.conf), C(hosts) (static leases), C(opts) (DHCP options), C(leases),
    C(dnsmasq.pid), and with O(supervisor=process) also C(supervise), C(supervise.pid) and C(supervise.log) -
    plus, with O(supervisor=systemd), the unit C(/etc/systemd/system/netfabric-dhcp-NAME.service).
  - The files and processes are read once. Files that differ are written atomically (a temporary file renamed
    over the old one). When only C(hosts) or C(opts) changed, dnsmasq is sent SIGHUP and rereads them (its pid
    stays, leases are kept); when C(dnsmasq.conf) changed it is restarted; when it does not run it is started,
    and the module waits until the new dnsmasq has written its pid file (bound its socket) or fails with the
    tail of its log.
  - The link must exist and have an address in O(subnet) (the server's own address), else the task fails
    (check mode warns instead). O(range) must not contain that address.
  - dnsmasq runs as root, because it rereads C(hosts) and C(opts) from the state directory, which is root's
    alone, after it would have dropped privileges.
version_added: 0.1.0
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
requirements:
  - dnsmasq (Debian package C(dnsmasq-base)) and iproute2 on the managed host; C(python3) for O(supervisor=process).
options:
  name:
    description:
      - The instance's name, 1-40 characters V(a-z), V(0-9), V(_) and V(-). It names the systemd unit
        C(netfabric-dhcp-NAME.service).
    type: str
    required: true
  state:
    description:
      - V(present) writes the files and keeps dnsmasq running with them.
      - V(absent) stops the supervisor and dnsmasq, disables and removes the unit, removes the files listed in
        the description from O(dir) and O(dir) itself when it is then empty; nothing else.
    type: str
    choices: [present, absent]
    default: present
  netns:
    description:
      - The named network namespace dnsmasq runs in (C(ip netns exec NETNS dnsmasq ...)). Omitted means the
        namespace the module runs in.
    type: str
  interface:
    description:
      - The link served, in O(netns). dnsmasq binds to it alone (C(bind-interfaces)). Required with O(state=present).
    type: str
  dir:
    description:
      - Absolute path of the instance's directory (created mode 0700 when missing); one directory per instance.
        Characters V(A-Z a-z 0-9 . _ - + @) and V(/) only, as it is written into the unit and the configuration.
    type: str
    required: true
  subnet:
    description:
      - The subnet served, IPv4 with prefix (V(10.0.0.0/24)), host bits zero, prefix /30 or shorter.
        Required with O(state=present). Only IPv4 is served for now (no DHCPv6 or router advertisements).
    type: str
  hosts:
    description:
      - Static leases. MAC addresses must be unicast and unique, addresses host addresses of O(subnet) and unique.
      - A change here alone is applied with SIGHUP; dnsmasq keeps running.
    type: list
    elements: dict
    default: []
    suboptions:
      mac:
        description: The client's MAC address.
        type: str
        required: true
      ip:
        description: The address it always gets.
        type: str
        required: true
      hostname:
        description: The host name offered (option 12), one label of letters, digits and V(-).
        type: str
  range:
    description:
      - The dynamic pool for clients not in O(hosts), both ends inclusive and inside O(subnet). It must not
        contain a static address, O(router) or the server's own address; the error names each it contains.
      - Omitted means static leases only; unknown clients get no answer.
    type: dict
    suboptions:
      start:
        description: First address of the pool.
        type: str
        required: true
      end:
        description: Last address of the pool.
        type: str
        required: true
  router:
    description:
      - The default gateway offered (option 3), an address of O(subnet). Omitted means none is offered
        (dnsmasq would otherwise offer itself).
    type: str
  dns:
    description:
      - DNS servers offered (option 6), IPv4 addresses. V([]) offers none.
    type: list
    elements: str
    default: []
  routes:
    description:
      - Classless static routes offered (option 121). Each O(routes[].via) must be an address of O(subnet).
      - Clients that get option 121 ignore option 3 (RFC 3442), so when O(router) is set and no route is the
        default, C(0.0.0.0/0) via O(router) is added to the option.
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Destination network (V(10.8.0.0/16)) or V(default).
        type: str
        required: true
      via:
        description: Gateway on the subnet.
        type: str
        required: true
  mtu:
    description:
      - The interface MTU offered (option 26), 68-65535.
    type: int
  domain:
    description:
      - The domain name offered (option 15).
    type: str
  lease_time:
    description:
      - Lease time in seconds, at least 120.
    type: int
    default: 86400
  supervisor:
    description:
      - What restarts dnsmasq when it dies.
      - V(systemd) writes the unit (C(Restart=always), C(RestartSec=1), no start limit), enables and starts it;
        it comes back after a reboot too. A changed unit or C(dnsmasq.conf) restarts it.
      - V(process) starts a small Python supervisor (C(DIR/supervise)), detached in its own session, that runs
        dnsmasq and runs it again 1 s after it exits. B(It does not survive a reboot); run the play again after one.
      - V(auto) is V(systemd) when systemd runs (C(/run/systemd/system) exists), else V(process).
    type: str
    choices: [auto, systemd, process]
    default: auto
  requires:
    description:
      - With O(supervisor=systemd), units the DHCP server's unit requires and starts after (C(Requires=), C(After=)),
        such as the unit that puts its namespace back at boot; when one of them fails, dnsmasq is not started.
      - Each must exist when the server starts (systemd refuses to start a unit whose requirement has no unit file).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds each command may run, and about how long to wait for a (re)started dnsmasq to serve.
    type: int
    default: 5
notes:
  - Clients that already hold a lease from the pool keep it until it expires or they renew; a client whose
    static address changed gets the new one at its next request (dnsmasq is authoritative and answers the
    old one with a NAK).
  - The O(supervisor=systemd) path runs under a real systemd in the collection's molecule scenario C(reboot), through
    the network_node role, where the server comes back after a reboot and after SIGKILL. The module's own integration
    tests run without systemd as PID 1 and check the unit's text.
seealso:
  - module: netfabric.ovs.ip_link
  - module: netfabric.ovs.ip_address
"""

EXAMPLES = r"""
# Before: namespace qdhcp-red has tap link dhcp-red with 10.0.0.2/24; nothing runs.
# After: dnsmasq in qdhcp-red answers VM 52:54:00:01:00:01 with 10.0.0.11, router 10.0.0.1, DNS 192.0.2.53.
- name: DHCP for tenant red's first subnet, static leases only
  netfabric.ovs.dhcp_server:
    name: red-10-0-0-0
    netns: qdhcp-red
    interface: dhcp-red
    dir: /etc/netfabric/dhcp/red-10-0-0-0
    subnet: 10.0.0.0/24
    router: 10.0.0.1
    dns: [192.0.2.53]
    routes:
      - {dst: 10.8.0.0/16, via: 10.0.0.254}
    mtu: 1450
    hosts:
      - {mac: "52:54:00:01:00:01", ip: 10.0.0.11, hostname: vm1}

- name: The same with a dynamic pool for unknown clients
  netfabric.ovs.dhcp_server:
    name: red-10-0-0-0
    netns: qdhcp-red
    interface: dhcp-red
    dir: /etc/netfabric/dhcp/red-10-0-0-0
    subnet: 10.0.0.0/24
    router: 10.0.0.1
    range: {start: 10.0.0.100, end: 10.0.0.199}
    hosts:
      - {mac: "52:54:00:01:00:01", ip: 10.0.0.11}

- name: Gone (processes, unit, files)
  netfabric.ovs.dhcp_server:
    name: red-10-0-0-0
    dir: /etc/netfabric/dhcp/red-10-0-0-0
    state: absent
"""

RETURN = r"""
commands:
  description:
    - The signals sent, processes started and C(systemctl) commands run, or that would run in check mode,
      each as an argument list (a signal as C(kill -HUP PID); it is sent directly). File writes are not
      commands; see RV(files_changed).
  returned: always
  type: list
  elements: list
  sample: [["kill", "-HUP", "4242"]]
files_changed:
  description:
    - The files written (names in O(dir), or the unit's path), or that would be in check mode.
  returned: success with O(state=present)
  type: list
  elements: str
  sample: ["hosts"]
supervisor:
  description:
    - The supervisor used, V(systemd) or V(process) (what V(auto) chose).
  returned: success with O(state=present)
  type: str
  sample: process
dnsmasq_pid:
  description:
    - The pid of the dnsmasq serving afterwards (in check mode, the one running before); null after O(state=absent).
  returned: success
  type: int
  sample: 4242
before:
  description:
    - With O(state=present), the files' texts (null when missing), the unit's text and whether dnsmasq ran;
      with O(state=absent), the names of the instance's files that existed, the unit and whether dnsmasq ran.
  returned: success
  type: dict
after:
  description:
    - The same afterwards, as predicted.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._dhcp import ARGUMENT_SPEC, RULES, run_dhcp


def main():
    run_dhcp(AnsibleModule(argument_spec=ARGUMENT_SPEC, **RULES))


if __name__ == "__main__":
    main()
