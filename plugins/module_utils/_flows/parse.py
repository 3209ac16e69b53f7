# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A flow text (declared or dumped) parsed into a normalised Flow; dumps and port tables.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.actions import _normalise_actions
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.match import _normalise_match
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import (
    DEFAULT_PRIORITY,
    FLAG_ATTRS,
    NUMERIC_ATTRS,
    PRIORITY_MAX,
    REQUEST_ONLY,
    STATS,
    TABLE_MAX,
    Flow,
    FlowError,
    bundle_text_problem,
    split_top,
    to_int,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import _find_actions


def parse_flow(text: str, *, ports: dict[int, str] | None = None, declared: bool = False) -> Flow:
    """Parse a flow as written for ovs-ofctl add-flow or as printed by dump-flows.

    declared=True is for user input: statistics and a cookie are refused there
    (the module adds the cookie itself).
    """
    if not isinstance(text, str) or not text.strip():
        raise FlowError("empty flow")
    if declared and (problem := bundle_text_problem(text)):
        raise FlowError(problem)
    text = text.strip()
    at = _find_actions(text)
    if at < 0:
        raise FlowError("no 'actions=' (write actions=drop for a flow that drops)")
    head, actions = text[:at], text[at + len("actions="):]
    table, priority, cookie = 0, DEFAULT_PRIORITY, None
    attrs: dict[str, str] = {}
    match_tokens: list[str] = []
    # dump-flows separates flags from the match by a space ("reset_counts priority=0"), not a comma.
    for token in (word for part in split_top(head) for word in part.split()):
        name, eq, value = token.partition("=")
        name = name.strip()
        if name in STATS:
            if declared:
                raise FlowError(f"{name} is a statistic printed by dump-flows, not part of a flow")
            continue
        if name == "cookie":
            if declared:
                raise FlowError("cookie must not be given: the module adds its own cookie")
            cookie = to_int(value.split("/")[0])
        elif name == "table":
            table = _bounded("table", value, TABLE_MAX)
        elif name == "priority":
            priority = _bounded("priority", value, PRIORITY_MAX)
        elif name in NUMERIC_ATTRS:
            number = _bounded(name, value, PRIORITY_MAX)
            if number:
                attrs[name] = str(number)
        elif name in FLAG_ATTRS and not eq:
            attrs[name] = ""
        elif name in REQUEST_ONLY:
            if declared:
                raise FlowError(f"{name} is not stored in a flow")
        else:
            if eq and not value.strip():
                raise FlowError(f"{name}= has no value")
            match_tokens.append(token)
    match, _dl_type, nw_proto, has_vlan, numbers_m = _normalise_match(match_tokens, ports)
    actions_text, numbers_a = _normalise_actions(actions, has_vlan=has_vlan, nw_proto=nw_proto, ports=ports)
    ordered_attrs = tuple((k, attrs[k]) for k in NUMERIC_ATTRS + FLAG_ATTRS if k in attrs)
    return Flow(table=table, priority=priority, match=match, attrs=ordered_attrs, actions=actions_text,
                cookie=cookie, raw=text, match_raw=tuple(match_tokens), uses_port_numbers=numbers_m or numbers_a)


def _bounded(name: str, value: str, high: int) -> int:
    number = to_int(value)
    if number is None or number > high:
        raise FlowError(f"{name}={value!r} is not a number in 0-{high}")
    return number


def parse_dump(output: str, *, cookie: int | None = None) -> list[Flow]:
    """Flows from `ovs-ofctl dump-flows` output; with `cookie`, only flows carrying exactly it."""
    flows = []
    for line in output.splitlines():
        if "actions=" not in line or line.startswith(("NXST_", "OFPST_")):
            continue
        flow = parse_flow(line)
        if cookie is None or (flow.cookie or 0) == cookie:
            flows.append(flow)
    return flows


def parse_ports(output: str) -> dict[int, str]:
    """Port numbers -> names from `ovs-ofctl dump-ports-desc` (lines like ` 2(vxlan-ac1f0002): addr:...`)."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+)\((.+?)\):", output, re.M)}


def declared_flows(flows: list, *, ports: dict[int, str] | None = None) -> list[Flow]:
    """Parse the user's flows; errors name the flow by its index in the list. Duplicates are refused."""
    parsed, seen = [], {}
    for index, text in enumerate(flows):
        try:
            flow = parse_flow(text, ports=ports, declared=True)
        except FlowError as exc:
            raise FlowError(f"flows[{index}] ({text!r}): {exc}") from None
        if flow.key in seen:
            raise FlowError(
                f"flows[{index}] ({text!r}) has the same table, priority and match as flows[{seen[flow.key]}]: "
                "OpenFlow keeps only one of them"
            )
        seen[flow.key] = index
        parsed.append(flow)
    return parsed
