# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one flow every state module follows, so they all behave and report alike.

    validate -> (host lock) read once -> pure plan -> one write, or offer it to the tool in check mode
    -> one result: changed, commands, before, after, diff (when asked), plus the module's own keys

A module supplies small functions; this file owns the order, the lock, the error handling and the
result shape. Nothing here knows a tool.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ansible_collections.netfabric.ovs.plugins.module_utils._lock import LockTimeout, host_lock
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

# Seconds one command may run before it is killed and the module fails naming it (a hung daemon or
# kernel lock never wedges the play). Healthy ovs-vsctl and ip calls take milliseconds.
TIMEOUT_ARGS = dict(timeout=dict(type="int", default=5))
# The OVS modules: which OVSDB (ovs-vsctl --db; its unix: socket's directory also locates the
# switch's management sockets for ovs-ofctl), and the same timeout.
OVSDB_ARGS = dict(db=dict(type="str"), **TIMEOUT_ARGS)


class Unhealthy(Exception):
    """What the tool reports after the call (its write, if any, landed) is not what was asked for."""


@dataclass
class Change:
    """What a plan found: the commands that make `after` out of `before` (empty: nothing to do).

    `changed` is for writes that are not commands (a file); `extra` holds the module's own result keys;
    `diff` replaces {before, after} in the diff when a module shows them otherwise (flows as text).
    """

    commands: list = field(default_factory=list)
    before: object = None
    after: object = None
    changed: bool = False
    extra: dict = field(default_factory=dict)
    diff: dict | None = None

    @property
    def any(self):
        return bool(self.commands) or self.changed


def run(module, *, validate, read, plan, apply, offer=None, reread=None, lock=True):
    """Run one module call and exit.

    validate(params) -> want          raises ValidationError; runs before anything touches the host
    read(want) -> have                the one read
    plan(want, have) -> Change        pure (may raise ValidationError for problems only a read shows)
    apply(change)                     the one write; raises CommandError (with what was applied)
    offer(change)                     check mode: let the tool judge the write without making it
    reread(want) -> after             optional: report the state as read back, not as predicted
    """
    try:
        want = validate(module.params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    change = Change()
    try:
        with host_lock() if lock else contextlib.nullcontext():
            have = read(want)
            change = plan(want, have)
            if change.any:
                if module.check_mode:
                    if offer is not None:
                        offer(change)
                else:
                    apply(change)
                    if reread is not None:
                        change.after = reread(want)
    except ValidationError as exc:
        module.fail_json(msg=str(exc), commands=change.commands)
    except Unhealthy as exc:
        module.fail_json(msg=str(exc), changed=change.any and not module.check_mode, commands=change.commands, **change.extra)
    except LockTimeout as exc:
        module.fail_json(msg=str(exc))
    except CommandError as exc:
        exc.fail(module, commands=change.commands, **change.extra)
    module.exit_json(**result(module, change))


def result(module, change):
    """The one result shape; `diff` only when --diff asked for it."""
    out = dict(change.extra, changed=change.any, commands=change.commands, before=change.before, after=change.after)
    if module._diff:
        out["diff"] = change.diff or {"before": change.before, "after": change.after}
    return out
