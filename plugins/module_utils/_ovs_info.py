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
from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_port import TUNNEL_TYPES, have_port
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import read_state
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import (
    CommandError,
    ofctl_runner,
    ofctl_target,
    switch_error,
    switch_rundir,
    vsctl_runner,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

ARGUMENT_SPEC = dict(
    bridges=dict(type="list", elements="str"),
    flows_cookie=dict(type="int"),
    require_ports=dict(type="list", elements="str"),
    fail_on_problems=dict(type="bool", default=False),
    as_facts=dict(type="bool", default=False),
    rundir=dict(type="path"),
    **OVSDB_ARGS,
)


def port_problems(ports, required):
    """Why each required port is not healthy; empty when all are."""
    problems = []
    for name in required:
        port = ports.get(name)
        if port is None:
            problems.append(f"{name}: missing")
            continue
        if port.get("ofport") in (None, -1):
            problems.append(f"{name}: no OpenFlow port (ofport {port.get('ofport')})")
        requested = port.get("ofport_request")
        if requested is not None and port.get("ofport") not in (None, -1, requested):
            problems.append(f"{name}: OpenFlow port {port.get('ofport')}, not the requested {requested} (another port holds it)")
        if port.get("error"):
            problems.append(f"{name}: {port['error']}")
        if port["type"] in TUNNEL_TYPES and not (port.get("options") or {}).get("remote_ip"):
            problems.append(f"{name}: tunnel without remote_ip")
    return problems


def gather(module):
    """The one read (waiting, within the timeout, for ovs-vswitchd to have applied OVSDB, so ofport and
    error are the switch's), and the owned flows of each bridge when asked."""
    params = module.params
    try:
        rundir = switch_rundir(params.get("db"), params.get("rundir")) if params["flows_cookie"] is not None else None
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    try:
        state = read_state(vsctl_runner(module))
        names = params["bridges"] or sorted(state.bridges)
        bridges = {name: have_bridge(state, name) for name in names if name in state.bridges}
        ports = {name: have_port(state, name) for name, row in state.ports.items() if row.get("bridge") in bridges}
        result = {"bridges": bridges, "ports": ports, "problems": port_problems(ports, params["require_ports"] or [])}
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
