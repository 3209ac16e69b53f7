# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One runner per binary: argv lists, LC_ALL=C, every call recorded, failures carry cmd/rc/stderr.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import json


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


class Runner:
    """Runs one binary with fixed leading options; records every argv in `calls`."""

    def __init__(self, module, binary, leading=(), netns=None):
        self.module = module
        self.binary = module.get_bin_path(binary, required=True)
        self.leading = list(leading)
        self.prefix = [module.get_bin_path("ip", required=True), "netns", "exec", netns] if netns else []
        self.calls = []

    def argv(self, args):
        return self.prefix + [self.binary] + self.leading + [str(a) for a in args]

    def run(self, args, data=None):
        """Run and return stdout; raise CommandError on a non-zero exit."""
        cmd = self.argv(args)
        self.calls.append(cmd)
        rc, out, err = self.module.run_command(
            cmd, data=data, binary_data=data is not None, environ_update={"LC_ALL": "C"}
        )
        if rc != 0:
            raise CommandError(cmd, rc, out, err)
        return out

    def run_json(self, args):
        """Run a command that prints JSON and return it decoded."""
        out = self.run(args)
        return json.loads(out) if out.strip() else None


def vsctl_runner(module):
    """ovs-vsctl honouring the common `db` and `timeout` options."""
    leading = [f"--timeout={module.params['timeout']}"]
    if module.params.get("db"):
        leading.insert(0, f"--db={module.params['db']}")
    return Runner(module, "ovs-vsctl", leading)


def warn_assumed(module, problem):
    """Check mode: something an earlier task of the same run would create is missing; plan on, say so."""
    module.warn(f"{problem} (check mode: it may be created by an earlier task)")
