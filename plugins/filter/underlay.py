# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter netfabric.ovs.with_underlay_mac (docs: with_underlay_mac.yml).

A thin shim: checks its arguments, then hands plain data to plugin_utils._fabric.underlay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import underlay


def with_underlay_mac(host_plan: Any, mac: Any) -> dict[str, Any]:
    """The host's plan with br-phy's guard of the underlay MAC added to its flows."""
    if not isinstance(host_plan, Mapping) or not isinstance(host_plan.get("flows"), Mapping) or not isinstance(host_plan.get("underlay"), Mapping):
        raise AnsibleFilterError("netfabric.ovs.with_underlay_mac: the input must be a host plan (netfabric.ovs.host_plan, or one entry of fabric_plan)")
    if mac is not None and not isinstance(mac, str):
        raise AnsibleFilterError(f"netfabric.ovs.with_underlay_mac: the MAC must be a string, got {type(mac).__name__}")
    plain = json.loads(json.dumps(host_plan))  # Ansible's containers and tagged strings -> plain data
    try:
        return underlay.with_underlay_mac(plain, mac)
    except ValueError as exc:
        raise AnsibleFilterError(f"netfabric.ovs.with_underlay_mac: {exc}") from None


class FilterModule:
    def filters(self):
        return {"with_underlay_mac": with_underlay_mac}
