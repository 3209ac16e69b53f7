# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenFlow flows as comparable values, one job per file:

    syntax    the field vocabulary, the Flow value, tokenising, what a bundle line may hold
    match     match fields normalised as OVS prints them
    actions   actions normalised as OVS prints them under OpenFlow 1.4
    parse     a flow text (declared or dumped) -> Flow; dumps and port tables
    plan      wanted vs present -> bundle lines; bundle errors explained
    restore   the restore file a restart hook replays
    module    ovs_flows' steps for _module.run

The names below are the package's interface (also used by ovs_info, tests and the controller-side tests).
Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.module import target, want_flows
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.parse import (
    declared_flows,
    parse_dump,
    parse_flow,
    parse_ports,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.plan import (
    Plan,
    bundle_lines,
    diff,
    explain_error,
    restore_lines,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.restore import (
    restore_content,
    restore_file_differs,
    write_restore_file,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import COOKIE_MAX, OPENFLOW
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import (
    Flow,
    FlowError,
    bundle_text_problem,
    split_top,
)

__all__ = [
    "COOKIE_MAX", "OPENFLOW", "Flow", "FlowError", "Plan", "bundle_lines", "bundle_text_problem", "declared_flows",
    "diff", "explain_error", "parse_dump", "parse_flow", "parse_ports", "restore_content", "restore_file_differs",
    "restore_lines", "split_top", "want_flows", "target", "write_restore_file",
]
