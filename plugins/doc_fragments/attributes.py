# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Attributes every netfabric.ovs module shares: they change state, support check and diff mode."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
"""

    OVSDB = r"""
options:
  db:
    description:
      - The OVSDB server to talk to, as ovs-vsctl's C(--db) (for example V(unix:/run/openvswitch/db.sock) or V(tcp:192.0.2.1:6640)).
      - Omitted means ovs-vsctl's default socket, so one controller can drive several OVS instances by setting it per host.
    type: str
  timeout:
    description:
      - Seconds to wait for ovsdb-server, and for ovs-vswitchd to apply a write, before failing with a message that
        names the daemon instead of hanging.
      - If ovsdb-server does not answer the read, nothing was written (C(changed=false)).
      - If OVSDB took the transaction but ovs-vswitchd did not apply it in time (dead or hung), the task fails with
        C(changed=true) and C(after) showing what OVSDB now holds (ovs-vswitchd applies it by itself once it runs).
        Until it has, every later run fails the same way, naming ovs-vswitchd, rather than reporting ok.
    type: int
    default: 5
"""
