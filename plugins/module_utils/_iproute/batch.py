# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one write, all or nothing: every line in one `ip -batch -`; if a line fails, undo the rest.

`ip -batch` stops at the first failing line and names it on stderr (`Command failed -:N`), so the
lines before it were applied. Undoing them is planned like any change: read the host again and
plan from there back to the state read before the write (the caller's `undo`), then read once more
to say whether the host is as it was. A batch killed at its deadline applied an unknown prefix;
the same undo covers it, because it starts from what the host now has.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import os
import re

from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError

FAILED_LINE = re.compile(r"Command failed -:(\d+)")


def shown(ip, lines):
    """Commands as the user would type them: `ip [-n NS] ...` (or `bridge [-n NS] ...`) argv lists."""
    tool = os.path.basename(getattr(ip, "binary", "ip"))
    return [[tool] + ip.leading + [str(word) for word in line] for line in lines]


def run_batch(ip, lines):
    """All lines in one `ip -batch -` call; raise NotApplied-ready BatchFailed on failure."""
    try:
        ip.run(["-batch", "-"], data="".join(" ".join(str(word) for word in line) + "\n" for line in lines))
    except CommandError as exc:
        found = FAILED_LINE.search(exc.stderr or "")
        applied = int(found.group(1)) - 1 if found and exc.rc is not None else None
        raise BatchFailed(exc, lines, applied) from None


class BatchFailed(CommandError):
    """A batch stopped: `applied` lines ran (None: unknown, the batch was killed)."""

    def __init__(self, cause, lines, applied):
        CommandError.__init__(self, cause.cmd, cause.rc, cause.stdout, cause.stderr)
        self.args = cause.args
        self.lines = lines
        self.applied = applied


class NotApplied(CommandError):
    """The write failed and was rolled back (or could not be: the message says what the host has)."""

    def __init__(self, ip, failure, undo, problem):
        CommandError.__init__(self, failure.cmd, failure.rc, failure.stdout, failure.stderr)
        self.applied = [] if failure.applied is None else shown(ip, failure.lines[:failure.applied])
        self.rolled_back = shown(ip, undo)
        if failure.applied is None:
            where = f"{failure}; an unknown part of the batch ran"
        else:
            line = " ".join(shown(ip, [failure.lines[failure.applied]])[0])
            ran = "; ".join(" ".join(c) for c in self.applied) or "nothing"
            said = " ".join(text for text in (failure.stderr or failure.stdout).splitlines() if not FAILED_LINE.search(text))
            where = f"`{line}` failed: {said.strip()}; applied before it: {ran}"
        undone = "; ".join(" ".join(c) for c in self.rolled_back) or "nothing to undo"
        if problem is None:
            outcome = f"rolled back ({undone}): the host is as it was before this task"
        else:
            outcome = f"ROLLBACK INCOMPLETE ({undone}): {problem}"
        self.args = (f"{where}; {outcome}",)

    def fail(self, module, **extra):
        module.fail_json(msg=str(self), cmd=self.cmd, rc=self.rc, stdout=self.stdout, stderr=self.stderr,
                         applied=self.applied, rolled_back=self.rolled_back, **extra)


def apply_all_or_nothing(ip, lines, undo, differs):
    """Run `lines`; on failure run undo() (lines planned from a fresh read back to the state read
    before) and raise NotApplied, whose message says what ran, what was undone and whether
    differs() (a fresh read compared with that state: None when equal) found anything left."""
    try:
        run_batch(ip, lines)
        return
    except BatchFailed as exc:
        failure = exc
    rollback, problem = [], None
    try:
        if failure.applied != 0:
            rollback = undo()
            if rollback:
                run_batch(ip, rollback)
        problem = differs()
    except (CommandError, ValueError) as exc:  # ValueError: ValidationError, a state the undo cannot plan
        problem = f"{exc}"
    raise NotApplied(ip, failure, rollback, problem)
