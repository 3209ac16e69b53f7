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


def vsctl_runner(module):
    """ovs-vsctl honouring the common `db` and `timeout` options."""
    leading = [f"--timeout={module.params['timeout']}"]
    if module.params.get("db"):
        leading.insert(0, f"--db={module.params['db']}")
    # ovs-vsctl's own --timeout alarm fires first; the runner's deadline is the backstop
    return Runner(module, "ovs-vsctl", leading, timeout=module.params["timeout"] + 5)


def warn_assumed(module, problem):
    """Check mode: something an earlier task of the same run would create is missing; plan on, say so."""
    module.warn(f"{problem} (check mode: it may be created by an earlier task)")
