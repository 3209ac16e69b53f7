# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_flows' steps for _module.run: validate, read the owned flows once, plan, one bundle, the restore file.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import COOKIE_MAX
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.parse import declared_flows, parse_dump, parse_ports
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.plan import bundle_lines, diff, explain_error, restore_lines
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.restore import restore_content, restore_file_differs, write_restore_file
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import FlowError
from ansible_collections.netfabric.ovs.plugins.module_utils._module import OVSDB_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import (
    CommandError,
    gave_up,
    ofctl_runner,
    ofctl_target,
    switch_error,
    switch_rundir,
    warn_assumed,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, abs_path, ifname

ARGUMENT_SPEC = dict(
    bridge=dict(type="str", required=True),
    cookie=dict(type="int", required=True),
    flows=dict(type="list", elements="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    rundir=dict(type="path"),
    restore_file=dict(type="path"),
    **OVSDB_ARGS,
)
REQUIRED_IF = [("state", "present", ["flows"])]
NO_BRIDGE = "is not a bridge or a socket"  # ovs-ofctl: no BRIDGE.mgmt in the run directory


def target(bridge, rundir):
    """Kept for callers of the former single-file module."""
    return ofctl_target(bridge, rundir)


def want_flows(params: dict) -> list:
    """Check bridge, cookie and flows before anything runs (ValidationError or FlowError naming the field)."""
    ifname("bridge", params["bridge"])
    if params.get("restore_file") is not None:
        abs_path("restore_file", params["restore_file"])
    cookie = params["cookie"]
    if not isinstance(cookie, int) or isinstance(cookie, bool) or not 1 <= cookie <= COOKIE_MAX:
        raise ValidationError(f"cookie: {cookie!r} is out of range (allowed 1-{COOKIE_MAX})")
    if params["state"] != "present":
        return []
    return declared_flows(params["flows"] or [])


def as_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


class RestoreFileError(CommandError):
    """The switch took the flows but the restore file could not be written: a failure with changed=true."""

    def __init__(self, path, content, exc):
        what = "removed" if content is None else "written"
        CommandError.__init__(self, ["write", path], None, "", str(exc))
        self.args = (f"restore_file: the switch has the declared flows, but {path!r} could not be {what}: {exc}",)

    def fail(self, module, **extra):
        module.fail_json(msg=str(self), **dict(extra, changed=True))


def main(module):
    """Validate, read the owned flows once, diff, and apply one bundle unless in check mode.

    The restore file is written only once the switch has accepted the bundle (or had nothing to
    change), so it never holds flows the switch refused; with state absent it is removed.
    """
    p = module.params
    ofctl = ofctl_runner(module)

    def validate(params):
        try:
            flows = want_flows(params)
        except FlowError as exc:
            raise ValidationError(str(exc)) from None
        rundir = switch_rundir(params.get("db"), params.get("rundir"))
        where = ofctl_target(params["bridge"], rundir)
        restore = None
        if params.get("restore_file"):
            restore = restore_content(restore_lines(flows, params["cookie"]) if params["state"] == "present" else None)
        return {"flows": flows, "where": where, "cookie": params["cookie"], "restore": restore, "rundir": rundir}

    def read(want):
        cookie, where = want["cookie"], want["where"]
        try:
            dump = ofctl.run(["--names", "dump-flows", where, f"cookie={cookie:#x}/-1"])
            if any(f.uses_port_numbers for f in want["flows"]):
                # dump-flows --names prints port names; map the user's port numbers to them.
                want["flows"] = declared_flows(p["flows"], ports=parse_ports(ofctl.run(["dump-ports-desc", where])))
        except CommandError as exc:
            if NO_BRIDGE not in exc.stderr:
                raise switch_error(module, exc, want["rundir"], "no flow was read or written") from None
            if p["state"] == "absent":  # no bridge, so none of our flows on it: nothing to remove
                dump = ""
            elif not module.check_mode:  # a role's --check on a new host: the bridge task before only predicted it
                raise ValidationError(f"bridge: {p['bridge']!r} is not a bridge of this ovs-vswitchd ({exc.stderr.strip()})") from None
            else:
                warn_assumed(module, f"bridge: {p['bridge']!r} does not exist")
                dump = ""
        try:
            return parse_dump(dump, cookie=cookie)
        except FlowError as exc:
            raise ValidationError(f"cannot parse a flow printed by ovs-ofctl: {exc}") from None

    def plan(want, have):
        lines = bundle_lines(diff(want["flows"], have), want["cookie"])
        before, after = sorted(f.text for f in have), sorted(f.text for f in want["flows"])
        want["lines"] = lines
        restore_changed = bool(p.get("restore_file")) and restore_file_differs(p["restore_file"], want["restore"])
        want["restore_changed"] = restore_changed
        planned.update(want)
        return Change(
            commands=[ofctl.argv(["bundle", want["where"], "-"])] if lines else [],
            before=before, after=after, changed=restore_changed,
            extra={"bundle": lines, "flows": after},
            # text, one flow a line: Ansible's diff callbacks show strings and dicts, not lists
            diff={"before": as_text(before), "after": as_text(after)},
        )

    def apply(change):
        lines = planned["lines"]
        if lines:
            try:
                ofctl.run(["bundle", planned["where"], "-"], data="\n".join(lines) + "\n")
            except CommandError as exc:
                if gave_up(exc) == "timeout":
                    raise switch_error(module, exc, planned["rundir"], (
                        "the bundle is atomic, so the switch holds all of it or none of it (a rerun shows which); "
                        "the restore file was not touched")) from None
                if gave_up(exc):
                    raise switch_error(module, exc, planned["rundir"], "no flow was written; the restore file was not touched") from None
                error = CommandError(exc.cmd, exc.rc, exc.stdout, exc.stderr)
                error.args = (f"the flow bundle failed and nothing was applied: {explain_error(exc.stderr, lines)}",)
                raise error from None
            # the switch's own word that it holds exactly the declared flows (a rerun's read is this check)
            held = sorted(f.text for f in read(planned))
            if held != change.after:
                missing, extra = sorted(set(change.after) - set(held)), sorted(set(held) - set(change.after))
                raise Unhealthy(f"{p['bridge']}: after the bundle the switch holds {len(held)} owned flows, {len(change.after)} declared"
                                f" (missing {missing[:3]}, unexpected {extra[:3]}); the restore file was not touched")
        if planned["restore_changed"]:
            try:
                write_restore_file(module, p["restore_file"], planned["restore"])
            except Exception as exc:  # OSError, or atomic_move's own Exception; the switch already has the flows
                raise RestoreFileError(p["restore_file"], planned["restore"], exc) from None

    planned = {}
    run(module, validate=validate, read=read, plan=plan, apply=apply)
