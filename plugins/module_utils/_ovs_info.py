# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Open vSwitch holds, as data: one OVSDB read, one dump-flows per bridge when asked.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils._flows import parse_dump
from ansible_collections.netfabric.ovs.plugins.module_utils._module import OVSDB_ARGS
from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_bridge import have_bridge
from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_port import have_port, port_problems
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import read_state
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import (
    CommandError,
    ofctl_runner,
    ofctl_target,
    switch_error,
    switch_rundir,
    vsctl_runner,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, ifname

SYS_NET = "/sys/class/net"


def read_links(names):
    """Each named kernel link's MAC (None when it does not exist), from sysfs: no tool, no write.

    The netfabric role reads the uplink here, in the same task as br-int, because on netdev hosts
    the underlay bridge takes the uplink's MAC (plugin_utils/_fabric/underlay.py)."""
    links = {}
    for name in names:
        try:
            with open(f"{SYS_NET}/{name}/address", encoding="ascii") as address:
                links[name] = {"address": address.read().strip() or None}
        except OSError:
            links[name] = {"address": None}
    return links


ARGUMENT_SPEC = dict(
    bridges=dict(type="list", elements="str"),
    flows_cookie=dict(type="int"),
    require_ports=dict(type="list", elements="str"),
    links=dict(type="list", elements="str"),
    fail_on_problems=dict(type="bool", default=False),
    as_facts=dict(type="bool", default=False),
    rundir=dict(type="path"),
    **OVSDB_ARGS,
)


def gather(module):
    """The one read (waiting, within the timeout, for ovs-vswitchd to have applied OVSDB, so ofport and
    error are the switch's), and the owned flows of each bridge when asked."""
    params = module.params
    try:
        links = [ifname(f"links[{index}]", name) for index, name in enumerate(params["links"] or [])]
        rundir = switch_rundir(params.get("db"), params.get("rundir")) if params["flows_cookie"] is not None else None
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    try:
        state = read_state(vsctl_runner(module))
        names = params["bridges"] or sorted(state.bridges)
        bridges = {name: have_bridge(state, name) for name in names if name in state.bridges}
        ports = {name: have_port(state, name) for name, row in state.ports.items() if row.get("bridge") in bridges}
        result = {"bridges": bridges, "ports": ports, "problems": port_problems(ports, params["require_ports"] or []),
                  "links": read_links(links)}
        if params["flows_cookie"] is not None:
            ofctl = ofctl_runner(module)
            cookie = params["flows_cookie"]
            result["flows"] = {}
            for name in bridges:
                try:
                    dump = ofctl.run(["--names", "dump-flows", ofctl_target(name, rundir), f"cookie={cookie:#x}/-1"])
                except CommandError as exc:
                    raise switch_error(module, exc, rundir, f"the flows of {name} could not be read") from None
                result["flows"][name] = sorted(f.text for f in parse_dump(dump, cookie=cookie))
    except CommandError as exc:
        exc.fail(module)
    return result
