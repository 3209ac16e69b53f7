# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports and their interfaces, one or many per bridge, planned as one ovs-vsctl transaction.

`ovs_port` is `ovs_ports` with a list of one and no purge: one code path for both. What the user
asks for is validated in _ovs_port_want (re-exported here); this file reads and plans.
Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import DEFAULT_OWNER, MOVED_FROM_KEY, OWNER_KEY
from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_port_want import (
    AGGREGATE_ARGUMENT_SPEC,
    BOND_MODES,
    LACP_MODES,
    PORT_OPTIONS,
    PORT_TYPES,
    QOS_TYPES,
    SINGLE_ARGUMENT_SPEC,
    TUNNEL_TYPES,
    VLAN_MODES,
    want_port,
    want_ports,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import (
    MissingBridge,
    atom,
    map_updates,
    map_value,
    merged_map,
    optional,
    set_value,
)

# the port API, validation included, so callers import one module
__all__ = [
    "AGGREGATE_ARGUMENT_SPEC", "BOND_MODES", "LACP_MODES", "PORT_OPTIONS", "PORT_TYPES", "QOS_TYPES", "SINGLE_ARGUMENT_SPEC",
    "TUNNEL_TYPES", "VLAN_MODES", "have_port", "plan_ports", "port_problems", "unhealthy", "predicted", "public", "want_port", "want_ports", "with_owner",
]

# Port columns compared as plain values; interface columns likewise. Omitted = leave as is.
PORT_SCALARS = ("tag", "vlan_mode", "bond_mode", "lacp", "bond_updelay", "bond_downdelay")
IFACE_SCALARS = ("mtu_request", "ofport_request", "ingress_policing_rate", "ingress_policing_burst")


def have_port(state, name):
    """The port as the plain dict shape of want_port (all fields filled), or None."""
    row = state.ports.get(name)
    if row is None:
        return None
    members = row["interface_names"]
    iface = state.interfaces.get(members[0], {}) if len(members) == 1 else {}
    trunks = row["trunks"] if isinstance(row["trunks"], list) else [row["trunks"]]
    bond = len(members) > 1
    ofport, error = optional(iface.get("ofport", [])), optional(iface.get("error", []))
    if bond:  # a bond has no OpenFlow port of its own: it is healthy when every member is
        member_rows = [state.interfaces.get(m, {}) for m in members]
        ofports = [optional(r.get("ofport", [])) for r in member_rows]
        ofport = -1 if any(o in (None, -1) for o in ofports) else min(ofports)
        error = "; ".join(f"member {m}: {e}" for m, r in zip(members, member_rows) if (e := optional(r.get("error", [])))) or None
    return {
        "name": name,
        "state": "present",
        "bridge": row.get("bridge"),
        "type": (iface.get("type") or "system") if len(members) == 1 else "system",
        "options": iface.get("options", {}),
        "tag": optional(row["tag"]),
        "trunks": sorted(trunks),
        "vlan_mode": optional(row["vlan_mode"]),
        "external_ids": row["external_ids"],
        "other_config": row["other_config"],
        "mtu_request": _members_value(state, members, "mtu_request") if bond else optional(iface.get("mtu_request", [])),
        "ofport_request": optional(iface.get("ofport_request", [])),
        "interfaces": members if bond else None,
        "bond_mode": optional(row["bond_mode"]) if bond else None,
        "lacp": optional(row["lacp"]) if bond else None,
        "bond_updelay": row.get("bond_updelay", 0) if bond else None,
        "bond_downdelay": row.get("bond_downdelay", 0) if bond else None,
        "ingress_policing_rate": iface.get("ingress_policing_rate"),
        "ingress_policing_burst": iface.get("ingress_policing_burst"),
        "qos": _have_qos(state, optional(row["qos"])),
        "ofport": ofport,
        "error": error,
    }


def _members_value(state, members, column):
    """A bond's interface column as one value: its members' common one, else None (a wanted value is then written to each)."""
    values = {optional(state.interfaces.get(m, {}).get(column, [])) for m in members}
    return values.pop() if len(values) == 1 else None


def _have_qos(state, uuid):
    row = state.qos_rows.get(uuid) if uuid else None
    if row is None:
        return None
    queues = {}
    for queue_id, queue_uuid in (row["queues"] or {}).items():
        queue = state.queue_rows.get(queue_uuid, {})
        queues[int(queue_id)] = queue.get("other_config", {})
    return {"type": row["type"], "other_config": row["other_config"], "queues": queues,
            "uuid": uuid, "queue_uuids": sorted((row["queues"] or {}).values())}


def _port_settings(want, have):
    """Port-table `col=value` settings that differ (everything wanted when have is None)."""
    settings = []
    for column in PORT_SCALARS:
        if want[column] is not None and (have is None or have[column] != want[column]):
            settings.append(f"{column}={atom(want[column])}")
    if want["trunks"] is not None and (have is None or have["trunks"] != want["trunks"]):
        settings.append(f"trunks={set_value(want['trunks'])}")
    return settings


def _iface_settings(want, have):
    settings = []
    if want["interfaces"] is None:
        if have is None or have["type"] != want["type"]:
            settings.append(f"type={atom('' if want['type'] == 'system' else want['type'])}")
        if want["options"] is not None and (have is None or have["options"] != want["options"]):
            settings.append(f"options={map_value(want['options'])}")
    for column in IFACE_SCALARS:
        if want[column] is not None and (have is None or have[column] != want[column]):
            settings.append(f"{column}={atom(want[column])}")
    return settings


def _qos_commands(name, want_qos, have_qos, index):
    """Replace the port's QoS (and its queues) when it differs; QoS and Queue are root tables, so destroy the old rows."""
    if want_qos is None:
        return []
    have_cmp = None if have_qos is None else {k: have_qos[k] for k in ("type", "other_config", "queues")}
    if have_cmp == want_qos:
        return []
    qos_id = f"@qos{index}"
    create = [f"--id={qos_id}", "create", "QoS", f"type={atom(want_qos['type'])}"]
    create += [f"other_config:{atom(k)}={atom(val)}" for k, val in sorted(want_qos["other_config"].items())]
    queue_cmds = []
    for queue_id, config in sorted(want_qos["queues"].items()):
        queue_ref = f"@q{index}_{queue_id}"
        create.append(f"queues:{queue_id}={queue_ref}")
        queue_cmds.append([f"--id={queue_ref}", "create", "Queue"] + [f"other_config:{atom(k)}={atom(val)}" for k, val in sorted(config.items())])
    commands = [["set", "Port", name, f"qos={qos_id}"], create] + queue_cmds
    if have_qos is not None:
        commands.append(["destroy", "QoS", have_qos["uuid"]])
        commands += [["destroy", "Queue", queue_uuid] for queue_uuid in have_qos["queue_uuids"]]
    return commands


def _create_port(bridge, want, index):
    """add-port/add-bond with every wanted column, then the interface columns, in one chain."""
    name = want["name"]
    settings = _port_settings(want, None) + [
        f"{column}:{atom(key)}={atom(value)}"
        for column in ("external_ids", "other_config")
        for key, value in sorted((want[column] or {}).items())
        if value is not None
    ]
    if want["interfaces"]:
        commands = [["add-bond", bridge, name] + want["interfaces"] + settings]
    else:
        commands = [["add-port", bridge, name] + settings]
    members = want["interfaces"] or [name]
    iface_settings = _iface_settings(want, None)
    if iface_settings:
        for member in members:
            commands.append(["set", "Interface", member] + iface_settings)
    commands += _qos_commands(name, want["qos"], None, index)
    return commands


def _update_port(want, have, index):
    name = want["name"]
    commands = []
    settings = _port_settings(want, have)
    if settings:
        commands.append(["set", "Port", name] + settings)
    commands += map_updates("Port", name, "external_ids", have["external_ids"], want["external_ids"])
    commands += map_updates("Port", name, "other_config", have["other_config"], want["other_config"])
    iface_settings = _iface_settings(want, have)
    if iface_settings:
        for member in want["interfaces"] or [name]:
            commands.append(["set", "Interface", member] + iface_settings)
    commands += _qos_commands(name, want["qos"], have["qos"], index)
    return commands


def predicted(want, have, bridge):
    """The port as it will read after the transaction (the `after` of the diff)."""
    base = dict(have) if have and not _recreated(want, have, bridge) else {
        "type": "system", "options": {}, "tag": None, "trunks": [], "vlan_mode": None, "external_ids": {},
        "other_config": {}, "mtu_request": None, "ofport_request": None, "interfaces": None, "bond_mode": None, "lacp": None,
        "bond_updelay": None, "bond_downdelay": None, "ingress_policing_rate": 0, "ingress_policing_burst": 0, "qos": None,
    }
    after = dict(base, name=want["name"], state="present", bridge=bridge)
    for column, value in want.items():
        if column in ("external_ids", "other_config"):
            after[column] = merged_map(base.get(column), value)
        elif value is not None and column not in ("name", "state", "from_other_bridge", "owner"):
            after[column] = value
    return public(after)


def with_owner(want, have, bridge):
    """The wanted port with the owner mark where this call makes the port (created, or deleted
    and added whole); a port that stays keeps whatever mark it has. A port taken from another
    bridge also records that bridge (MOVED_FROM_KEY), so removing it later gives it back."""
    if want["state"] == "absent" or not (have is None or _recreated(want, have, bridge)):
        return want
    marks = {OWNER_KEY: want["owner"]} if want.get("owner") else {}
    if have is not None and have["bridge"] != bridge:
        home = have["external_ids"].get(MOVED_FROM_KEY) or have["bridge"]  # the first bridge it was taken from
        if home != bridge:
            marks[MOVED_FROM_KEY] = home
    if not marks:
        return want
    return dict(want, external_ids={**(want["external_ids"] or {}), **marks})


def _remove(state, bridge, name):
    """Commands that take a port off `bridge`, and where it goes: a port this collection moved here
    from another bridge goes back there if that bridge still exists (as the same interface, without
    our marks); any other port is deleted."""
    have = have_port(state, name)
    home = have["external_ids"].get(MOVED_FROM_KEY)
    if not home or home == bridge or home not in state.bridges:
        return [["del-port", bridge, name]], None
    back = {"name": name, "state": "present", "bridge": home, "type": have["type"], "options": have["options"],
            "interfaces": have["interfaces"], "external_ids": {}}
    if have["interfaces"]:
        commands = [["del-port", bridge, name], ["add-bond", home, name] + have["interfaces"]]
    else:
        commands = [["del-port", bridge, name], ["add-port", home, name]]
        settings = _iface_settings(dict(back, mtu_request=None, ofport_request=None, ingress_policing_rate=None,
                                        ingress_policing_burst=None), None)
        if settings and settings != ["type=\"\""]:
            commands.append(["set", "Interface", name] + settings)
    return commands, back


def _recreated(want, have, bridge):
    """A port that changes bridge, or a bond that changes members, is deleted and added whole
    in the same transaction."""
    return have["bridge"] != bridge or (want["interfaces"] is not None and want["interfaces"] != have["interfaces"])


def public(port):
    """Drop runtime-only keys so before/after compare what the user declared."""
    if port is None:
        return None
    port = {k: val for k, val in port.items() if k not in ("ofport", "error")}
    if port.get("qos"):
        port["qos"] = {k: port["qos"][k] for k in ("type", "other_config", "queues")}
    return port


def plan_ports(bridge, wants, state, *, purge=False, owner=DEFAULT_OWNER, aggregate=False):
    """(commands, before, after) for a list of ports on one bridge; before/after keyed by port name."""
    if bridge not in state.bridges and not _fake_bridge(state, bridge):
        if any(w["state"] == "present" for w in wants):
            raise MissingBridge(bridge)
        return [], {}, {}
    commands, before, after = [], {}, {}
    named = set()
    for index, want in enumerate(wants):
        name = want["name"]
        named.add(name)
        have = have_port(state, name)
        want = with_owner(want, have, bridge)
        if want["state"] == "absent":
            if have is not None and have["bridge"] == bridge:
                removal, back = _remove(state, bridge, name)
                commands += removal
                before[name] = public(have)
                if back:
                    after[name] = back
            continue
        if have is None:
            commands += _create_port(bridge, want, index)
        elif have["bridge"] != bridge and name == have["bridge"]:
            field = f"ports[{index}].name" if aggregate else "name"
            raise v.ValidationError(f"{field}: {name!r} is the local port of bridge {name!r}, which only deleting that bridge removes")
        elif have["bridge"] != bridge and want["from_other_bridge"] == "fail":
            raise v.ValidationError(
                f"from_other_bridge: port {name!r} is on bridge {have['bridge']!r}, not {bridge!r}, and is left there "
                "(from_other_bridge: move takes it)"
            )
        elif _recreated(want, have, bridge):
            commands.append(["del-port", have["bridge"], name])
            commands += _create_port(bridge, want, index)
        else:
            commands += _update_port(want, have, index)
        before[name] = public(have)
        after[name] = predicted(want, have, bridge)
        if before[name] == after[name]:
            before.pop(name)
            after.pop(name)
    if purge:
        # Removals go first in the transaction: a pruned port frees its interface name for a wanted one
        # (a NIC that becomes a bond member, or a member that becomes a port of its own again).
        removals = []
        for name in _bridge_ports(state, bridge):
            row = state.ports[name]
            if name not in named and (row["external_ids"] or {}).get(OWNER_KEY) == owner:
                removal, back = _remove(state, bridge, name)
                removals += removal
                before[name] = public(have_port(state, name))
                if back:
                    after[name] = back
        commands = removals + commands
    return commands, before, after


def _fake_bridge(state, name):
    port = state.ports.get(name)
    return bool(port and port.get("fake_bridge"))


def _bridge_ports(state, bridge):
    row = state.bridges.get(bridge)
    return [p for p in (row["port_names"] if row else []) if p != bridge]


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


def unhealthy(state, wants):
    """Problems of the ports a call declared, as this read shows them (for `verify`).

    A patch port whose peer does not exist yet is left out: the two ends live on two bridges, so two
    calls make them, and the second call's check of its own end is the check of the pair."""
    names = [w["name"] for w in wants
             if not (w.get("type") == "patch" and ((w.get("options") or {}).get("peer") not in state.ports))]
    return port_problems({name: have_port(state, name) for name in names}, names)
