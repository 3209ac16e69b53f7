"""The filter netfabric.ovs.with_underlay_mac: a shim over plugin_utils._fabric.underlay."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netfabric.ovs.plugins.filter import underlay as underlay_filter
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan, underlay

FIXTURES = Path(__file__).parents[1] / "plugin_utils" / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
MAC = "0a:58:0a:59:0e:0b"


@pytest.fixture
def plans():
    return plan.fabric_plan(plan.build(copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])))


def test_filter_is_registered():
    assert underlay_filter.FilterModule().filters() == {"with_underlay_mac": underlay_filter.with_underlay_mac}


def test_filter_gives_what_the_plan_function_gives(plans):
    for name, host_plan in plans.items():
        mac = None if host_plan["underlay"]["bridge"] is None else MAC
        assert underlay_filter.with_underlay_mac(host_plan, mac) == underlay.with_underlay_mac(host_plan, mac), name
    assert underlay_filter.with_underlay_mac(plans["hv1"], MAC)["flows"]["br-phy"][0].endswith(f"dl_src={MAC},actions=drop")


@pytest.mark.parametrize(
    ("value", "mac", "message"),
    [
        ("not a plan", MAC, "input must be a host plan"),
        ({"flows": {}}, MAC, "input must be a host plan"),
        (None, MAC, "input must be a host plan"),
        ("hv1", 42, "MAC must be a string"),
        ("hv1", "ff:ff:ff:ff:ff:ff", "not a unicast MAC"),
        ("hv1", None, "host hv1: its underlay is on br-phy"),
    ],
)
def test_filter_errors(plans, value, mac, message):
    host_plan = plans.get(value, value) if isinstance(value, str) else value
    with pytest.raises(AnsibleFilterError, match=f"netfabric.ovs.with_underlay_mac: .*{message}"):
        underlay_filter.with_underlay_mac(host_plan, mac)
