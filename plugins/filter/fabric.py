# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters netfabric.ovs.fabric_plan and netfabric.ovs.host_plan (docs: fabric_plan.yml, host_plan.yml).

Thin shims: read the netfabric_* variables out of hostvars, then hand plain data to
plugin_utils._fabric, which validates and plans.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan, underlay
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FABRIC_VARS, HOST_VARS, FabricError
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import Topology

# Whole-fabric results by a hash of their inputs, so many host_plan calls in one process
# (or one forked worker) validate and derive the topology once. A few entries are plenty.
_MEMO: OrderedDict[str, Topology | FabricError] = OrderedDict()
_MEMO_SIZE = 4
_OPTION_VARS = {
    "tenants": "netfabric_tenants",
    "overlay": "netfabric_overlay",
    "mode": "netfabric_mode",
    "underlay_mtu": "netfabric_underlay_mtu",
    "tenant_mtu": "netfabric_tenant_mtu",
    "flow_cookie": "netfabric_flow_cookie",
    "state_dir": "netfabric_state_dir",
    "mac_limit": "netfabric_mac_limit",
}


def _plain(value: Any) -> Any:
    """Copy Ansible's lazy and tagged containers into plain JSON-able Python data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _host_list(hosts: Any) -> list[str]:
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError(f"netfabric: the hypervisor list must be a list of host names, got {type(hosts).__name__}")
    return list(dict.fromkeys(str(h) for h in hosts))


def _entry(hostvars: Mapping, name: str) -> Mapping:
    if name not in hostvars:
        raise AnsibleFilterError(f"netfabric: host {name} is not in the inventory (hostvars has no entry for it)")
    return hostvars[name]


def _read(entry: Mapping, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(entry[name]) for name in names if name in entry}


# Registered by the netfabric role on each host: its ovs_info read of br-int, which keeps local
# VLANs and port numbers where the host has them (topology.Seen), and of the bridges it may retire.
# Absent: a host seen for the first time.
SEEN_VAR = "__netfabric_seen"


def _seen(hostvars: Mapping, names: list[str]) -> dict[str, Any]:
    return {name: _plain(hostvars[name][SEEN_VAR]) for name in names if SEEN_VAR in hostvars[name]}


def _with_reads(plans: dict[str, dict], seen: dict[str, Any]) -> dict[str, dict]:
    """Each plan of a host with a read gets br-phy's guard of its uplink's MAC (a bond's first
    member's) and learns which retired bridges are still there: done here, once per play, and not by
    a filter in every task that reads netfabric_plan (each forked worker would load the filter
    plugins again, the larger part of a run's CPU time)."""
    result = dict(plans)
    for name, info in seen.items():
        if name not in plans:
            continue
        info = info if isinstance(info, Mapping) else {}
        link = plans[name].get("underlay") or {}
        nic = (link.get("members") or [link.get("uplink")])[0]
        mac = ((info.get("links") or {}).get(nic) or {}).get("address")
        try:
            result[name] = plan.with_bridges_read(underlay.with_underlay_mac(plans[name], mac), info.get("bridges"))
        except ValueError as exc:
            raise AnsibleFilterError(f"netfabric: {exc}") from None
    return result


def _topology(host_vars: dict[str, dict], fabric_vars: dict[str, Any], seen: dict[str, Any] | None = None, network_nodes: list[str] = ()) -> Topology:
    key = hashlib.sha256(
        json.dumps([host_vars, fabric_vars, seen or {}, list(network_nodes)], sort_keys=True, separators=(",", ":"), default=repr).encode()
    ).hexdigest()
    result = _MEMO.get(key)
    if result is None:
        try:
            result = plan.build(host_vars, fabric_vars, {name: plan.seen(info) for name, info in (seen or {}).items()}, tuple(network_nodes))
        except FabricError as exc:
            result = exc
        _MEMO[key] = result
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    if isinstance(result, FabricError):
        raise AnsibleFilterError(str(result))
    return result


def fabric_plan(hostvars: Mapping, hosts: list[str], network_nodes: list[str] | None = None, **options: Any) -> dict[str, dict]:
    """{host: plan} for every hypervisor in `hosts`; `network_nodes` (group network_nodes) are
    hypervisors that also run routers and DHCP servers.

    Fabric-wide variables given as options win; the others come from the hostvars entry of
    the first host in `hosts`.
    """
    unknown = sorted(set(options) - set(_OPTION_VARS))
    if unknown:
        raise AnsibleFilterError(f"netfabric.ovs.fabric_plan: unknown option(s) {', '.join(unknown)}")
    names = _host_list(hosts)
    host_vars = {name: _read(_entry(hostvars, name), HOST_VARS) for name in names}
    fabric_vars = _read(_entry(hostvars, names[0]), FABRIC_VARS) if names else {}
    fabric_vars.update({_OPTION_VARS[k]: _plain(v) for k, v in options.items() if v is not None})
    seen = _seen(hostvars, names)
    return _with_reads(plan.fabric_plan(_topology(host_vars, fabric_vars, seen, _host_list(network_nodes or []))), seen)


def host_plan(hostvars: Mapping, host: str, hosts: list[str], network_nodes: list[str] | None = None) -> dict[str, Any]:
    """The plan of `host`; fabric-wide variables come from `host`'s own hostvars entry."""
    names = _host_list(hosts)
    if host not in names:
        raise AnsibleFilterError(f"netfabric.ovs.host_plan: host {host} is not in the hypervisor list")
    host_vars = {name: _read(_entry(hostvars, name), HOST_VARS) for name in names}
    fabric_vars = _read(_entry(hostvars, host), FABRIC_VARS)
    seen = _seen(hostvars, names)
    return _with_reads({host: plan.host_plan(_topology(host_vars, fabric_vars, seen, _host_list(network_nodes or [])), host)}, seen)[host]


class FilterModule:
    def filters(self):
        return {"fabric_plan": fabric_plan, "host_plan": host_plan}
