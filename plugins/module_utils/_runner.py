# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One runner per binary: argv lists, LC_ALL=C, every call recorded, failures carry cmd/rc/stderr.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import json
import os
import subprocess

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import OPENFLOW
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError


class CommandError(Exception):
    """A tool exited non-zero; carries everything a user needs to see why."""

    def __init__(self, cmd, rc, stdout, stderr):
        super().__init__(f"{cmd[0]} failed (rc={rc}): {stderr.strip() or stdout.strip()}")
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def fail(self, module, **extra):
        module.fail_json(msg=str(self), cmd=self.cmd, rc=self.rc, stdout=self.stdout, stderr=self.stderr, **extra)


class CommandTimeout(CommandError):
    """A tool did not exit within the runner's deadline; it was killed, so whatever it did is unknown."""

    def __init__(self, cmd, seconds, stdout="", stderr=""):
        CommandError.__init__(self, cmd, None, stdout, stderr)
        self.args = (f"{os.path.basename(cmd[0])} did not finish within {seconds} s and was killed "
                     f"(is the daemon it talks to hung?): {' '.join(cmd)}",)
        self.seconds = seconds


class Runner:
    """Runs one binary with fixed leading options; records every argv in `calls`.

    Every call has a deadline (`timeout` seconds, default DEADLINE): a tool blocked on a hung daemon
    or kernel lock is killed and reported, never left to wedge the play.
    """

    DEADLINE = 60

    def __init__(self, module, binary, leading=(), netns=None, timeout=None):
        self.module = module
        self.binary = module.get_bin_path(binary, required=True)
        self.leading = list(leading)
        self.prefix = [module.get_bin_path("ip", required=True), "netns", "exec", netns] if netns else []
        self.timeout = timeout or self.DEADLINE
        self.calls = []

    def argv(self, args):
        return self.prefix + [self.binary] + self.leading + [str(a) for a in args]

    def run(self, args, data=None):
        """Run and return stdout; raise CommandError on a non-zero exit."""
        cmd = self.argv(args)
        self.calls.append(cmd)
        try:
            proc = subprocess.run(
                cmd, input=data, capture_output=True, timeout=self.timeout, check=False,
                env=dict(os.environ, LC_ALL="C"), encoding="utf-8", errors="surrogateescape",
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(cmd, self.timeout, _text(exc.stdout), _text(exc.stderr)) from None
        if proc.returncode != 0:
            raise CommandError(cmd, proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout

    def run_json(self, args):
        """Run a command that prints JSON and return it decoded."""
        out = self.run(args)
        return json.loads(out) if out.strip() else None


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value or ""


def vsctl_runner(module, seconds=None):
    """ovs-vsctl honouring the common `db` and `timeout` options (`seconds` instead of `timeout` when given)."""
    seconds = module.params["timeout"] if seconds is None else seconds
    leading = [f"--timeout={seconds}"]
    if module.params.get("db"):
        leading.insert(0, f"--db={module.params['db']}")
    # ovs-vsctl's own --timeout alarm fires first; the runner's deadline is the backstop
    runner = Runner(module, "ovs-vsctl", leading, timeout=seconds + 5)
    runner.seconds = seconds
    return runner


def ofctl_runner(module):
    """ovs-ofctl speaking the collection's OpenFlow version, honouring the common `timeout` option."""
    seconds = module.params["timeout"]
    runner = Runner(module, "ovs-ofctl", ["-O", OPENFLOW, f"--timeout={seconds}"], timeout=seconds + 5)
    runner.seconds = seconds
    return runner


def switch_rundir(db, rundir):
    """The run directory of the ovs-vswitchd that goes with OVSDB `db`: where its bridges' management
    sockets (BRIDGE.mgmt) are. OVS keeps db.sock and those sockets in one run directory, so a
    `unix:PATH` db names it; `rundir` may say it too, but must not say otherwise. None: ovs-ofctl's
    default (which honours OVS_RUNDIR)."""
    if db and db.startswith("unix:"):
        found = os.path.dirname(db[len("unix:"):]) or "."
        if rundir and os.path.normpath(rundir) != os.path.normpath(found):
            raise ValidationError(f"rundir: {rundir!r} is not the directory of db {db!r} ({found!r}): both must name one "
                                  "Open vSwitch instance (give db alone, or a rundir that agrees)")
        return found
    if db and not rundir:
        raise ValidationError(f"db: {db!r} is not a local unix: socket, so it does not say where the switch's "
                              "management sockets are: set rundir (the run directory that holds BRIDGE.mgmt)")
    return rundir


def ofctl_target(bridge, rundir):
    """ovs-ofctl's target: the bridge name, or the bridge's management socket in an OVS run directory."""
    return f"unix:{rundir.rstrip('/')}/{bridge}.mgmt" if rundir else bridge


# ovs-vsctl and ovs-ofctl end on their own --timeout alarm: killed by SIGALRM (rc -14; 142 in a shell)
_ALARM = (-14, 142)
_UNREACHABLE = ("database connection failed", "Connection refused", "No such file or directory",
                "failed to open socket", "is not a bridge or a socket", "failed to connect")


def gave_up(exc):
    """'timeout' when the tool waited for its daemon until its deadline, 'unreachable' when it could
    not connect to it at all, None for any other failure (the daemon answered and refused)."""
    if isinstance(exc, CommandTimeout) or exc.rc in _ALARM:
        return "timeout"
    if any(text in (exc.stderr or "") for text in _UNREACHABLE):
        return "unreachable"
    return None


def daemon_error(exc, daemon, seconds, consequence):
    """The same failure, its message saying which daemon did not answer and what that means for the host."""
    how = gave_up(exc)
    if how is None:
        return exc
    said = " ".join((exc.stderr or "").split())[-300:]
    what = f"did not answer within {seconds} s" if how == "timeout" else f"is not reachable ({said})"
    error = CommandError(exc.cmd, exc.rc, exc.stdout, exc.stderr)
    error.args = (f"{daemon} {what}: {consequence}",)
    error.daemon = daemon
    return error


def warn_assumed(module, problem):
    """Check mode: something an earlier task of the same run would create is missing; plan on, say so."""
    module.warn(f"{problem} (check mode: it may be created by an earlier task)")


def switch_error(module, exc, rundir, consequence):
    """An ovs-ofctl failure as the user needs it: which daemon did not answer. ovs-vswitchd serves no
    OpenFlow while its ovsdb-server is down, so a switch that times out has its database probed
    (one second) to name the daemon that is really missing."""
    seconds = module.params["timeout"]
    error = daemon_error(exc, "ovs-vswitchd", seconds, consequence)
    if gave_up(exc) != "timeout":
        return error
    db = module.params.get("db") or (f"unix:{rundir.rstrip('/')}/db.sock" if rundir else None)
    probe = Runner(module, "ovs-vsctl", ([f"--db={db}"] if db else []) + ["--timeout=1"], timeout=3)
    try:
        probe.run(["get", "Open_vSwitch", ".", "cur_cfg"])
    except CommandError as silent:
        if gave_up(silent):
            error.args = (f"ovs-vswitchd did not answer within {seconds} s, and its ovsdb-server does not answer "
                          f"either (ovs-vswitchd serves no OpenFlow without it): {consequence}",)
    return error
