"""A `site` run killed with SIGKILL part-way leaves hosts that the next run converges.

The run is watched as it streams and killed, with everything it started (workers, modules in
flight on the hosts), at a point of the play: once the bridges are built, while tunnels are
being written, while flows are being written. The next run must succeed and report what it fixed,
the tenants must then reach each other and nobody else, every host's owned flows must be what its
restore files say, and a further run must change nothing.
"""

from __future__ import annotations

import pytest
from playrun import BANNER, RESULT, Run, assert_consistent, changed_tasks
from test_site import assert_isolated_tenants


def after_bridges():
    """The first task banner of the play past the bridges role: bridges done, nothing after begun."""
    state = {"bridges": False}

    def seen(line):
        banner = BANNER.match(line)
        if not banner:
            return False
        role = (banner["role"] or "").rsplit(".", 1)[-1]
        if role == "bridges":
            state["bridges"] = True
            return False
        return state["bridges"]

    return seen


def during(task_prefix):
    """The first `changed` result of a task whose name starts with task_prefix (whichever role runs
    it): one host has written, the others are writing."""
    state = {"in": False}

    def seen(line):
        banner = BANNER.match(line)
        if banner:
            state["in"] = banner["task"].startswith(task_prefix)
            return False
        result = RESULT.match(line)
        return state["in"] and bool(result) and result["status"] == "changed"

    return seen


KILL_POINTS = {
    "after-bridges": after_bridges,
    "during-tunnels": lambda: during("Tunnels"),
    "during-flows": lambda: during("Owned flows"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_site_run_is_converged_by_the_next(lab_factory, point):
    lab = lab_factory("vxlan")
    run = Run(lab.playbook_argv())
    where = run.until(KILL_POINTS[point]())
    assert where is not None, f"the run ended before the kill point {point}:\n{run.output[-4000:]}"
    run.kill()
    assert run.proc.returncode == -9, run.proc.returncode

    fixed = Run(lab.playbook_argv())
    assert fixed.wait() == 0, fixed.output[-6000:]
    repairs = changed_tasks(fixed.output)
    assert repairs, f"killed at {where!r}, yet the next run reported nothing to fix"
    print(f"killed at {where!r}; the next run fixed: {repairs}")

    assert_isolated_tenants(lab)
    assert_consistent(lab)
    again = lab.playbook()
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in again.values()), again
