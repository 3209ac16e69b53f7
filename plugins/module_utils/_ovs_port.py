# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports and their interfaces, one or many per bridge, planned as one ovs-vsctl transaction.

`ovs_port` is `ovs_ports` with a list of one and no purge: one code path for both.
Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import (
    COMMON_ARGS,
    DEFAULT_OWNER,
    MissingBridge,
    OWNER_KEY,
    atom,
    map_updates,
    map_value,
    merged_map,
    optional,
    set_value,
)

PORT_TYPES = ("system", "internal", "patch", "gre", "vxlan", "geneve")
TUNNEL_TYPES = ("gre", "vxlan", "geneve")
VLAN_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")
BOND_MODES = ("active-backup", "balance-slb", "balance-tcp")
LACP_MODES = ("active", "passive", "off")
QOS_TYPES = ("linux-htb", "linux-hfsc", "egress-policer")

# Port columns compared as plain values; interface columns likewise. Omitted = leave as is.
PORT_SCALARS = ("tag", "vlan_mode", "bond_mode", "lacp")
IFACE_SCALARS = ("mtu_request", "ofport_request", "ingress_policing_rate", "ingress_policing_burst")

PORT_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    type=dict(type="str", default="system", choices=list(PORT_TYPES)),
    options=dict(type="dict"),
    tag=dict(type="int"),
    trunks=dict(type="list", elements="int"),
    vlan_mode=dict(type="str", choices=list(VLAN_MODES)),
    external_ids=dict(type="dict"),
    other_config=dict(type="dict"),
    mtu_request=dict(type="int"),
    ofport_request=dict(type="int"),
    from_other_bridge=dict(type="str", default="move", choices=["move", "fail"]),
    interfaces=dict(type="list", elements="str"),
    bond_mode=dict(type="str", choices=list(BOND_MODES)),
    lacp=dict(type="str", choices=list(LACP_MODES)),
    ingress_policing_rate=dict(type="int"),
    ingress_policing_burst=dict(type="int"),
    qos=dict(
        type="dict",
        options=dict(
            type=dict(type="str", default="linux-htb", choices=list(QOS_TYPES)),
            other_config=dict(type="dict", default={}),
            queues=dict(type="dict", default={}),
        ),
    ),
)

SINGLE_ARGUMENT_SPEC = dict(bridge=dict(type="str", required=True), owner=dict(type="str", default=DEFAULT_OWNER), **PORT_OPTIONS, **COMMON_ARGS)
AGGREGATE_ARGUMENT_SPEC = dict(
    bridge=dict(type="str", required=True),
    ports=dict(type="list", elements="dict", required=True, options=PORT_OPTIONS),
    purge=dict(type="bool", default=False),
    owner=dict(type="str", default=DEFAULT_OWNER),
    **COMMON_ARGS,
)


def want_port(spec, index, owner):
    """One port's wanted state, validated; the field names carry the list index for errors."""
    field = f"ports[{index}]" if index is not None else ""

    def f(name):
        return f"{field}.{name}" if field else name

    name = v.ifname(f("name"), spec["name"])
    want = {"name": name, "state": spec.get("state") or "present", "from_other_bridge": spec.get("from_other_bridge") or "move"}
    if want["state"] == "absent":
        return want
    kind = spec.get("type") or "system"
    options = v.string_map(f("options"), spec.get("options"))
    if kind in TUNNEL_TYPES:
        if not options or not options.get("remote_ip"):
            raise v.ValidationError(f"{f('options')}.remote_ip: required for a {kind} port (an IPv4/IPv6 address or 'flow')")
        _check_tunnel_options(f("options"), kind, options)
    if kind == "patch" and (not options or not options.get("peer")):
        raise v.ValidationError(f"{f('options')}.peer: required for a patch port (the name of the peer patch port)")
    if spec.get("tag") is not None:
        v.int_range(f("tag"), spec["tag"], v.OVS_TAG)
    for number, trunk in enumerate(spec.get("trunks") or []):
        v.int_range(f(f"trunks[{number}]"), trunk, v.OVS_TAG)
    members = spec.get("interfaces")
    if members is not None:
        if len(members) < 2:
            raise v.ValidationError(f"{f('interfaces')}: a bond needs at least 2 interfaces")
        members = sorted(v.ifname(f(f"interfaces[{n}]"), m) for n, m in enumerate(members))
    elif spec.get("bond_mode") or spec.get("lacp"):
        raise v.ValidationError(f"{f('bond_mode')}/{f('lacp')}: only for bonds (set {f('interfaces')})")
    for column in ("mtu_request", "ingress_policing_rate", "ingress_policing_burst"):
        if spec.get(column) is not None and spec[column] < 0:
            raise v.ValidationError(f"{f(column)}: {spec[column]!r} must be 0 or more")
    if spec.get("mtu_request") is not None:
        v.int_range(f("mtu_request"), spec["mtu_request"], (68, 65535))
    if spec.get("ofport_request") is not None:
        if members is not None:
            raise v.ValidationError(f"{f('ofport_request')}: not for bonds (each member interface has its own number)")
        v.int_range(f("ofport_request"), spec["ofport_request"], v.OFPORT)
    external_ids = v.string_map(f("external_ids"), spec.get("external_ids")) or {}
    want.update(
        # the owner mark goes on a port this call creates or moves here (with_owner); a port that
        # exists keeps its own mark (or none), so purge and teardown never remove what the
        # collection did not make. An explicit external_ids.netfabric_owner is applied as given.
        owner=None if OWNER_KEY in external_ids else owner,
        type=kind,
        options=options,
        tag=spec.get("tag"),
        trunks=sorted(spec["trunks"]) if spec.get("trunks") is not None else None,
        vlan_mode=spec.get("vlan_mode"),
        external_ids=external_ids,
        other_config=v.string_map(f("other_config"), spec.get("other_config")),
        mtu_request=spec.get("mtu_request"),
        ofport_request=spec.get("ofport_request"),
        interfaces=members,
        bond_mode=spec.get("bond_mode"),
        lacp=spec.get("lacp"),
        ingress_policing_rate=spec.get("ingress_policing_rate"),
        ingress_policing_burst=spec.get("ingress_policing_burst"),
        qos=_want_qos(f("qos"), spec.get("qos")),
    )
    return want


def _check_tunnel_options(field, kind, options):
    if options["remote_ip"] != "flow":
        options["remote_ip"] = v.ip_address(f"{field}.remote_ip", options["remote_ip"])
    if options.get("local_ip") and options["local_ip"] != "flow":
        options["local_ip"] = v.ip_address(f"{field}.local_ip", options["local_ip"])
    key = options.get("key")
    if key is not None and key != "flow":
        bounds = v.GRE_KEY if kind == "gre" else v.VNI
        options["key"] = str(v.int_range(f"{field}.key", int(key, 0) if key.startswith("0x") else key, bounds))
    if options.get("dst_port") is not None:
        options["dst_port"] = str(v.int_range(f"{field}.dst_port", options["dst_port"], (1, 65535)))


def _want_qos(field, qos):
    if qos is None:
        return None
    queues = {}
    for queue_id, config in (qos.get("queues") or {}).items():
        number = v.int_range(f"{field}.queues key", queue_id, (0, 4294967295))
        queues[number] = v.string_map(f"{field}.queues[{queue_id}]", config or {})
    return {"type": qos["type"], "other_config": v.string_map(f"{field}.other_config", qos.get("other_config")) or {}, "queues": queues}


def have_port(state, name):
    """The port as the plain dict shape of want_port (all fields filled), or None."""
    row = state.ports.get(name)
    if row is None:
        return None
    members = row["interface_names"]
    iface = state.interfaces.get(members[0], {}) if len(members) == 1 else {}
    trunks = row["trunks"] if isinstance(row["trunks"], list) else [row["trunks"]]
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
        "mtu_request": optional(iface.get("mtu_request", [])),
        "ofport_request": optional(iface.get("ofport_request", [])),
        "interfaces": members if len(members) > 1 else None,
        "bond_mode": optional(row["bond_mode"]) if len(members) > 1 else None,
        "lacp": optional(row["lacp"]) if len(members) > 1 else None,
        "ingress_policing_rate": iface.get("ingress_policing_rate"),
        "ingress_policing_burst": iface.get("ingress_policing_burst"),
        "qos": _have_qos(state, optional(row["qos"])),
        "ofport": optional(iface.get("ofport", [])),
        "error": optional(iface.get("error", [])),
    }


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
        "ingress_policing_rate": 0, "ingress_policing_burst": 0, "qos": None,
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
    and added whole); a port that stays keeps whatever mark it has."""
    if want.get("owner") and (have is None or _recreated(want, have, bridge)):
        return dict(want, external_ids={**(want["external_ids"] or {}), OWNER_KEY: want["owner"]})
    return want


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
                commands.append(["del-port", bridge, name])
                before[name] = public(have)
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
        for name in _bridge_ports(state, bridge):
            row = state.ports[name]
            if name not in named and (row["external_ids"] or {}).get(OWNER_KEY) == owner:
                commands.append(["del-port", bridge, name])
                before[name] = public(have_port(state, name))
    return commands, before, after


def _fake_bridge(state, name):
    port = state.ports.get(name)
    return bool(port and port.get("fake_bridge"))


def _bridge_ports(state, bridge):
    row = state.bridges.get(bridge)
    return [p for p in (row["port_names"] if row else []) if p != bridge]


def want_ports(specs, owner):
    """Every port of an aggregate validated before anything runs; names must be unique."""
    wants = [want_port(spec, index, owner) for index, spec in enumerate(specs)]
    seen = set()
    for index, want in enumerate(wants):
        if want["name"] in seen:
            raise v.ValidationError(f"ports[{index}].name: {want['name']!r} is listed twice")
        seen.add(want["name"])
    return wants
