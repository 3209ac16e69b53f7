# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read OVSDB once as JSON, and write a difference back as one ovs-vsctl transaction.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import json

from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, vsctl_runner, warn_assumed
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

TABLES = ("Bridge", "Port", "Interface", "QoS", "Queue")
OWNER_KEY = "netfabric_owner"
# The modules' default owner mark: what a playbook's own tasks make. The fabric's roles mark with
# netfabric* owners, so a port made by following a module's EXAMPLES is never purged by `site`.
DEFAULT_OWNER = "ansible"


def decode(value):
    """OVSDB JSON atoms -> plain Python: sets become lists, maps dicts, uuids strings."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, payload = value
        if kind == "uuid" or kind == "named-uuid":
            return payload
        if kind == "set":
            return [decode(v) for v in payload]
        if kind == "map":
            return {decode(k): decode(v) for k, v in payload}
    return value


def optional(value):
    """An OVSDB optional column is a set of zero or one element."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def parse_tables(text):
    """Split the concatenated JSON tables ovs-vsctl prints for chained `list` commands."""
    decoder = json.JSONDecoder()
    tables, index = [], 0
    text = text.strip()
    while index < len(text):
        table, index = decoder.raw_decode(text, index)
        rows = [dict(zip(table["headings"], (decode(v) for v in row))) for row in table["data"]]
        tables.append({row["_uuid"]: row for row in rows})
        while index < len(text) and text[index].isspace():
            index += 1
    return tables


class OvsState:
    """One snapshot of the tables the modules care about, with references resolved to names."""

    def __init__(self, tables):
        bridges, ports, interfaces, qos, queues = tables
        self.raw_ports = ports
        self.qos_rows = qos
        self.queue_rows = queues
        iface_by_uuid = dict(interfaces)
        self.interfaces = {row["name"]: row for row in interfaces.values()}
        self.ports = {}
        self.bridges = {}
        for row in ports.values():
            row = dict(row)
            row["interface_names"] = sorted(iface_by_uuid[u]["name"] for u in _as_list(row["interfaces"]) if u in iface_by_uuid)
            self.ports[row["name"]] = row
        port_name = {uuid: row["name"] for uuid, row in ports.items()}
        for row in bridges.values():
            row = dict(row)
            row["port_names"] = sorted(port_name[u] for u in _as_list(row["ports"]) if u in port_name)
            self.bridges[row["name"]] = row
            for name in row["port_names"]:
                self.ports[name]["bridge"] = row["name"]

    def assume_bridge(self, name):
        """Check mode only: plan as if an earlier task had created this bridge, empty."""
        self.bridges[name] = {"name": name, "ports": [], "port_names": [], "external_ids": {}, "other_config": {}}

    def bridge_of(self, port):
        return self.ports.get(port, {}).get("bridge")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def read_state(vsctl):
    """All five tables in one ovs-vsctl invocation (the one read a module makes)."""
    args = ["--format=json", "--data=json"]
    for index, table in enumerate(TABLES):
        args += (["--"] if index else []) + ["list", table]
    return OvsState(parse_tables(vsctl.run(args)))


def atom(value):
    """Quote a value for ovs-vsctl's own syntax (not a shell): strings always double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def set_value(values):
    return "[" + ",".join(atom(v) for v in values) + "]"


def map_value(mapping):
    return "{" + ",".join(f"{atom(k)}={atom(v)}" for k, v in sorted(mapping.items())) + "}"


def map_updates(table, record, column, have, want):
    """Commands that merge `want` into a map column: keys set, keys with None removed, others kept."""
    have = have or {}
    commands = []
    sets = {k: v for k, v in (want or {}).items() if v is not None and have.get(k) != v}
    if sets:
        commands.append(["set", table, record] + [f"{column}:{atom(k)}={atom(v)}" for k, v in sorted(sets.items())])
    removed = sorted(k for k, v in (want or {}).items() if v is None and k in have)
    if removed:
        commands.append(["remove", table, record, column] + [atom(k) for k in removed])
    return commands


def merged_map(have, want):
    """The map a merge leaves behind (for the predicted `after` of a diff)."""
    result = dict(have or {})
    for key, value in (want or {}).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def transaction_argv(commands):
    """Chain commands with `--` so ovs-vsctl applies them as one OVSDB transaction."""
    argv = []
    for command in commands:
        argv += ["--"] + command
    return argv


class MissingBridge(ValidationError):
    """A port names a bridge that does not exist: an error, except in check mode (see converge)."""

    def __init__(self, bridge):
        super().__init__(f"bridge: {bridge!r} does not exist (create it first with netfabric.ovs.ovs_bridge)")
        self.bridge = bridge


def converge(module, prepare, plan):
    """Common module flow: validate, read once, plan the difference, apply it in one transaction.

    `prepare()` validates and normalises the parameters before anything runs (ValidationError);
    `plan(want, state)` returns (commands, before, after).
    In check mode the transaction is still offered to ovs-vsctl with --dry-run, so a
    transaction OVS would refuse fails in check mode too, without writing anything.
    """
    vsctl = vsctl_runner(module)
    try:
        want = prepare()
        state = read_state(vsctl)
        assumed = []
        try:
            commands, before, after = plan(want, state)
        except MissingBridge as exc:
            if not module.check_mode:
                raise
            warn_assumed(module, str(exc))
            state.assume_bridge(exc.bridge)
            assumed = [["add-br", exc.bridge]]
            commands, before, after = plan(want, state)
        if commands:
            if module.check_mode:  # the assumed bridge is part of the dry run, so OVS still checks the rest
                vsctl.run(["--dry-run", "--no-wait"] + transaction_argv(assumed + commands))
            else:
                vsctl.run(transaction_argv(commands))
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    except CommandError as exc:
        exc.fail(module)
    module.exit_json(
        changed=bool(commands),
        commands=[vsctl.argv(transaction_argv(commands))] if commands else [],
        diff={"before": before, "after": after},
        before=before,
        after=after,
    )


COMMON_ARGS = dict(
    db=dict(type="str"),
    timeout=dict(type="int", default=5),
)
