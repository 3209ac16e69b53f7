# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The difference between wanted and present flows, as bundle lines; failures explained.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.parse import parse_flow
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import DEFAULT_PRIORITY, Flow, FlowError


@dataclass
class Plan:
    """What to change: flows to delete (present, not wanted) and to add (wanted, absent or different)."""

    delete: list[Flow]
    add: list[Flow]

    @property
    def changed(self) -> bool:
        return bool(self.delete or self.add)


def diff(want: list[Flow], have: list[Flow]) -> Plan:
    """Pure: the smallest set of bundle operations that turns `have` into exactly `want`."""
    wanted = {f.key: f for f in want}
    present = {f.key: f for f in have}
    delete = [f for f in have if f.key not in wanted]
    add = [f for f in want if f.key not in present or present[f.key].text != f.text]
    return Plan(delete=sorted(delete, key=lambda f: f.key), add=add)


def bundle_lines(plan: Plan, cookie: int) -> list[str]:
    """`flow delete_strict` limited to our cookie for removals, `flow add` with our cookie for the rest.

    A changed flow (same match, other actions) is one `flow add`, which replaces it in place.
    """
    lines = [f"flow delete_strict cookie={cookie:#x}/-1,{f.strict_match()}" for f in plan.delete]
    lines += [f"flow add cookie={cookie:#x},{f.raw}" for f in plan.add]
    return lines


def restore_lines(want: list[Flow], cookie: int) -> list[str]:
    """A bundle that rebuilds the owned flows from nothing (or from a stale set) in one atomic step."""
    return [f"flow delete cookie={cookie:#x}/-1"] + [f"flow add cookie={cookie:#x},{f.raw}" for f in want]


def explain_error(stderr: str, lines: list[str]) -> str:
    """Name the bundle line that failed, from ovs-ofctl's `FILE:LINE:` or the switch's `table:T priority=P`."""
    m = re.search(r"^ovs-ofctl: [^:\n]*:(\d+): (.*)$", stderr, re.M)
    if m and 0 < int(m.group(1)) <= len(lines):
        return f"{lines[int(m.group(1)) - 1]!r}: {m.group(2)}"
    m = re.search(r"Error (\S+) for: .*?(ADD|MODIFY|DELETE)\S* table:(\d+)(?: priority=(\d+))?", stderr)
    if m:
        error, table, priority = m.group(1), int(m.group(3)), int(m.group(4) or DEFAULT_PRIORITY)
        for line in lines:
            try:
                flow = parse_flow(line.split(" ", 2)[2])
            except FlowError:
                continue
            if (flow.table, flow.priority) == (table, priority) and line.startswith("flow add"):
                return f"{line!r}: {error}"
        return f"a flow in table {table} with priority {priority}: {error}"
    return stderr.strip()
