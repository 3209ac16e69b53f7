# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read OVSDB once as JSON, and write a difference back as one ovs-vsctl transaction.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import json

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import DEFAULT_OWNER, OWNER_KEY
from ansible_collections.netfabric.ovs.plugins.module_utils._module import Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import (
    CommandError,
    daemon_error,
    gave_up,
    vsctl_runner,
    warn_assumed,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

__all__ = ["DEFAULT_OWNER", "OWNER_KEY"]  # re-exported: the port and bridge code import them from here
TABLES = ("Bridge", "Port", "Interface", "QoS", "Queue")


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
        bridges, ports, interfaces, qos, queues = tables[:5]
        # Open_vSwitch's cur_cfg/next_cfg: ovs-vswitchd copies next_cfg to cur_cfg once it applied OVSDB
        switch = next(iter(tables[5].values()), {}) if len(tables) > 5 else {}
        self.cur_cfg, self.next_cfg = switch.get("cur_cfg", 0), switch.get("next_cfg", 0)
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


def read_state(vsctl, *, settled=True):
    """All five tables (and Open_vSwitch's cur_cfg/next_cfg) in one ovs-vsctl invocation: the one
    read a module makes. With `settled`, also wait (within the timeout) until ovs-vswitchd has
    applied what OVSDB holds, so a run never reports "ok" over a configuration the switch lacks."""
    args = ["--format=json", "--data=json"]
    for index, table in enumerate(TABLES):
        args += (["--"] if index else []) + ["list", table]
    args += ["--", "--columns=_uuid,cur_cfg,next_cfg", "list", "Open_vSwitch"]
    try:
        state = OvsState(parse_tables(vsctl.run(args)))
    except CommandError as exc:
        raise daemon_error(exc, "ovsdb-server", vsctl.seconds, "nothing was read or written") from None
    if settled and state.cur_cfg < state.next_cfg:
        wait_applied(vsctl, state.next_cfg, "nothing was written; OVSDB holds a configuration ovs-vswitchd has not applied")
    return state


def wait_applied(vsctl, next_cfg, consequence):
    """Wait until ovs-vswitchd reports (cur_cfg) that it applied OVSDB up to `next_cfg`."""
    try:
        vsctl.run(["wait-until", "Open_vSwitch", ".", f"cur_cfg>={next_cfg}"])
    except CommandError as exc:
        raise daemon_error(exc, "ovs-vswitchd", vsctl.seconds, consequence) from None


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


class NotApplied(CommandError):
    """OVSDB committed the transaction (a read back shows it) but ovs-vswitchd did not apply it in
    time: the module fails, reporting changed=true and the state OVSDB now holds."""

    def __init__(self, exc, seconds, before, after):
        CommandError.__init__(self, exc.cmd, exc.rc, exc.stdout, exc.stderr)
        self.args = (
            f"ovs-vswitchd did not apply the change within {seconds} s: OVSDB holds it (ovsdb-server committed the "
            "transaction, and a read back shows it; see 'after'), but the switch does not run it yet (new ports have "
            "no OpenFlow port number, traffic is unchanged). ovs-vswitchd applies OVSDB by itself once it runs "
            "again; a rerun then reports ok, and fails like this while it does not.",
        )
        self.before, self.after = before, after

    def fail(self, module, **extra):
        extra.update(changed=True, before=self.before, after=self.after, daemon="ovs-vswitchd")
        module.fail_json(msg=str(self), cmd=self.cmd, rc=self.rc, stdout=self.stdout, stderr=self.stderr, **extra)


def write(vsctl, commands, replan, before, after):
    """Apply `commands` as one transaction and wait (ovs-vsctl's own next_cfg/cur_cfg handshake)
    until ovs-vswitchd applied it, all within the timeout.

    ovs-vsctl cannot say why it gave up waiting, so on a timeout OVSDB is read again and the plan
    redone on that read (`replan(state)` -> commands): nothing left to do means OVSDB committed the
    transaction, and then either ovs-vswitchd has not applied it (cur_cfg < next_cfg: NotApplied,
    changed=true) or it has, late (success); the same commands left means nothing was written.
    OVSDB transactions are atomic, so there is no other case.
    """
    try:
        vsctl.run(transaction_argv(commands))
    except CommandError as exc:
        if gave_up(exc) is None:
            raise  # OVS refused the transaction: atomic, nothing was written
        try:
            state = read_state(vsctl, settled=False)
        except CommandError as again:
            raise daemon_error(again, "ovsdb-server", vsctl.seconds, (
                "the transaction was cut off and OVSDB cannot be read back: it was committed whole or not at all "
                "(OVSDB transactions are atomic); a rerun once ovsdb-server answers shows which")) from None
        if replan(state):
            raise daemon_error(exc, "ovsdb-server", vsctl.seconds, "nothing was written") from None
        if state.cur_cfg < state.next_cfg:
            raise NotApplied(exc, vsctl.seconds, before, after) from None
        # committed, and applied by the time of the read back: late, but done


def converge(module, validate, plan, verify=None):
    """The OVSDB modules' flow, through _module.run: validate, read once, plan, one transaction.

    `validate(params)` returns the wanted state (ValidationError before anything runs);
    `plan(want, state)` returns (commands, before, after), or with a fourth item: result keys of its own.
    In check mode the transaction is still offered to ovs-vsctl with --dry-run, so a
    transaction OVS would refuse fails in check mode too, without writing anything.
    `verify(want, state)` (optional) lists what is wrong in what the switch reports: from the one read
    when nothing changes, from a read after the write otherwise (never in check mode).
    """
    vsctl = vsctl_runner(module)
    planned = {}

    def check(want, state):
        problems = verify(want, state) if verify is not None and not module.check_mode else []
        if problems:
            raise Unhealthy("; ".join(problems))

    def plan_change(want, state):
        assumed = []
        try:
            result = plan(want, state)
        except MissingBridge as exc:
            if not module.check_mode:
                raise
            warn_assumed(module, str(exc))
            state.assume_bridge(exc.bridge)
            assumed = [["add-br", exc.bridge]]
            result = plan(want, state)
        commands, before, after = result[:3]
        planned.update(want=want, commands=commands, assumed=assumed)
        if not commands:
            check(want, state)
        return Change(commands=[vsctl.argv(transaction_argv(commands))] if commands else [], before=before, after=after,
                      extra=result[3] if len(result) > 3 else {})

    def apply(change):
        write(vsctl, planned["commands"], lambda state: plan(planned["want"], state)[0], change.before, change.after)
        if verify is not None:
            check(planned["want"], read_state(vsctl))

    def offer(change):  # the assumed bridge is part of the dry run, so OVS still checks the rest
        vsctl.run(["--dry-run", "--no-wait"] + transaction_argv(planned["assumed"] + planned["commands"]))

    run(module, validate=validate, read=lambda want: read_state(vsctl), plan=plan_change, apply=apply, offer=offer)
