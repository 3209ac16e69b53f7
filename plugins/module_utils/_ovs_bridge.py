# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridges: wanted state from parameters, present state from OVSDB, and the commands between.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import DEFAULT_OWNER, OWNER_KEY
from ansible_collections.netfabric.ovs.plugins.module_utils._module import OVSDB_ARGS
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import (
    atom,
    map_updates,
    merged_map,
    optional,
    set_value,
)

DATAPATH_TYPES = ("system", "netdev")
FAIL_MODES = ("standalone", "secure")
# The bridge's own (internal) interface's MTU as OVS requests it: `ip link` on an OVS-owned port is
# undone by OVS, which otherwise gives an internal port the smallest MTU of the bridge's other ports.
MTU = (68, 65535)
PROTOCOLS = ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15")

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    datapath_type=dict(type="str", choices=list(DATAPATH_TYPES)),
    fail_mode=dict(type="str", choices=list(FAIL_MODES)),
    protocols=dict(type="list", elements="str"),
    other_config=dict(type="dict"),
    external_ids=dict(type="dict"),
    parent=dict(type="str"),
    vlan=dict(type="int"),
    owner=dict(type="str", default=DEFAULT_OWNER),
    only_if_empty=dict(type="bool", default=False),
    mtu_request=dict(type="int"),
    **OVSDB_ARGS,
)
REQUIRED_TOGETHER = [("parent", "vlan")]


def want_bridge(params):
    """Validated, normalised wanted bridge; None for fields left as they are."""
    name = v.ifname("name", params["name"])
    want = {"name": name, "state": params["state"], "only_if_empty": bool(params.get("only_if_empty"))}
    if params["state"] == "absent":
        want["owner"] = params.get("owner") or DEFAULT_OWNER
        return want
    if want["only_if_empty"]:
        raise v.ValidationError("only_if_empty: only with state=absent (it decides whether a bridge is deleted)")
    protocols = params.get("protocols")
    for proto in protocols or []:
        v.choice("protocols", proto, PROTOCOLS)
    external_ids = v.string_map("external_ids", params.get("external_ids")) or {}
    want.update(
        # the owner mark goes on a bridge this call creates; one that exists keeps its own mark (or
        # none), so teardown never deletes a bridge the collection did not make. An explicit
        # external_ids.netfabric_owner is applied as given: that is taking the bridge over.
        owner=None if OWNER_KEY in external_ids else params.get("owner") or DEFAULT_OWNER,
        datapath_type=params.get("datapath_type"),
        fail_mode=params.get("fail_mode"),
        protocols=sorted(protocols) if protocols is not None else None,
        other_config=v.string_map("other_config", params.get("other_config")),
        external_ids=external_ids,
        parent=v.ifname("parent", params["parent"]) if params.get("parent") else None,
        vlan=v.int_range("vlan", params["vlan"], v.OVS_TAG) if params.get("parent") else None,
        mtu_request=None if params.get("mtu_request") is None else v.int_range("mtu_request", params["mtu_request"], MTU),
    )
    if want["parent"] and want["mtu_request"] is not None:
        raise v.ValidationError("mtu_request: not for a fake bridge (its internal port follows its parent's)")
    return want


def have_bridge(state, name):
    """The bridge as the same plain dict shape as want_bridge, or None when absent."""
    row = state.bridges.get(name)
    if row is None:
        return None
    port = state.ports.get(name, {})
    fake_parent = None
    if port.get("fake_bridge"):
        fake_parent = port.get("bridge")
    return {
        "name": name,
        "state": "present",
        "datapath_type": row["datapath_type"] or "system",
        "fail_mode": optional(row["fail_mode"]) or "standalone",
        "protocols": sorted(row["protocols"] if isinstance(row["protocols"], list) else [row["protocols"]]),
        "other_config": row["other_config"],
        "external_ids": row["external_ids"],
        "parent": fake_parent,
        "vlan": optional(port.get("tag")) if fake_parent else None,
        "ports": [p for p in row["port_names"] if p != name],
        "mtu_request": optional(state.interfaces.get(name, {}).get("mtu_request", [])),
    }


def fake_bridge_have(state, name):
    """Fake bridges are not rows of Bridge: they are internal ports with fake_bridge=true."""
    port = state.ports.get(name)
    if not port or not port.get("fake_bridge"):
        return None
    return {
        "name": name,
        "state": "present",
        "parent": port.get("bridge"),
        "vlan": optional(port.get("tag")),
        "external_ids": port.get("external_ids") or {},
    }


def plan_bridge(want, state):
    """(commands, before, after) that take the bridge from OVSDB's state to the wanted one."""
    name = want["name"]
    have = fake_bridge_have(state, name) or have_bridge(state, name)
    if want["state"] == "absent":
        if have is None:
            return [], None, None
        mark = (have.get("external_ids") or {}).get(OWNER_KEY)
        if want["only_if_empty"] and mark != want["owner"]:
            return [], have, have, {"msg": f"bridge {name!r} kept: its owner mark is {mark!r}, not {want['owner']!r} (only_if_empty)",
                                    "kept_by": []}
        keeping = _ports_of(state, name, have) if want["only_if_empty"] else []
        if keeping:
            return [], have, have, {"msg": f"bridge {name!r} kept: it still has ports {', '.join(keeping)} (only_if_empty)",
                                    "kept_by": keeping}
        return [["del-br", name]], have, None
    if want["parent"]:
        return _plan_fake_bridge(want, have)
    commands = []
    if have is None:
        commands.append(["add-br", name])
        base = {"datapath_type": "system", "fail_mode": "standalone", "protocols": [], "other_config": {}, "external_ids": {}, "mtu_request": None}
        if want["owner"]:
            want = dict(want, external_ids={**want["external_ids"], OWNER_KEY: want["owner"]})
    else:
        base = have
    settings = []
    for column in ("datapath_type", "fail_mode"):
        if want[column] is not None and want[column] != base[column]:
            settings.append(f"{column}={atom(want[column])}")
    if want["protocols"] is not None and want["protocols"] != base["protocols"]:
        settings.append(f"protocols={set_value(want['protocols'])}")
    if settings:
        commands.append(["set", "Bridge", name] + settings)
    for column in ("other_config", "external_ids"):
        commands += map_updates("Bridge", name, column, base[column], want[column])
    if want["mtu_request"] is not None and want["mtu_request"] != base["mtu_request"]:
        commands.append(["set", "Interface", name, f"mtu_request={want['mtu_request']}"])
    after = dict(base, name=name, state="present", ports=(have or {}).get("ports", []))
    for column in ("datapath_type", "fail_mode", "protocols", "mtu_request"):
        if want[column] is not None:
            after[column] = want[column]
    for column in ("other_config", "external_ids"):
        after[column] = merged_map(base[column], want[column])
    after["parent"] = after["vlan"] = None
    return commands, have, after


def _ports_of(state, name, have):
    """The ports that hold a bridge, as this read shows them: a real bridge's ports besides its local
    one; a fake bridge's are the parent's ports in its VLAN."""
    if have.get("parent"):
        return sorted(p for p, row in state.ports.items()
                      if row.get("bridge") == have["parent"] and p != name and optional(row.get("tag")) == have["vlan"]
                      and not row.get("fake_bridge"))
    return list(have["ports"])


def _plan_fake_bridge(want, have):
    """A fake bridge is created or moved whole: `add-br NAME PARENT VLAN`."""
    name = want["name"]
    after = {"name": name, "state": "present", "parent": want["parent"], "vlan": want["vlan"],
             "external_ids": merged_map((have or {}).get("external_ids"), want["external_ids"])}
    if have and have.get("parent") == want["parent"] and have.get("vlan") == want["vlan"]:
        commands = map_updates("Port", name, "external_ids", have.get("external_ids"), want["external_ids"])
        return commands, have, after
    commands = [["del-br", name]] if have else []
    commands.append(["add-br", name, want["parent"], str(want["vlan"])])
    created = {**want["external_ids"], **({OWNER_KEY: want["owner"]} if want["owner"] else {})}
    commands += map_updates("Port", name, "external_ids", {}, created)
    return commands, have, dict(after, external_ids=created)
