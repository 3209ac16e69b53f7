"""br-phy's guard of the underlay MAC: exact flows, where they go in a plan, and that the flows
module reads them back as written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _flows
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan, underlay

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
MAC = "0a:58:0a:59:0e:0b"
GUARD = [
    "table=0,priority=6,in_port=uplink,dl_src=0a:58:0a:59:0e:0b,actions=drop",
    "table=0,priority=5,in_port=uplink,vlan_tci=0x0000/0x1fff,dl_dst=0a:58:0a:59:0e:0b,actions=LOCAL",
]


def plans(provider_vlan=None):
    """The example fabric (hv1, hv2 netdev with the uplink `uplink`; hv3 system), red optionally
    on a provider VLAN, in which case hv3 is netdev too (with its uplink `eth0`)."""
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    if provider_vlan is not None:
        hosts["hv3"]["netfabric_datapath_type"] = "netdev"
        next(t for t in fabric["netfabric_tenants"] if t["name"] == "red")["provider_vlan"] = provider_vlan
    return plan.fabric_plan(plan.build(hosts, fabric))


def test_underlay_flows_are_exact():
    assert underlay.underlay_flows("uplink", MAC) == GUARD


def test_the_flows_module_reads_them_as_written():
    """What ovs-ofctl prints back for them (OpenFlow 1.4, seen on OVS 3.1) normalises to the same flows,
    so a second run changes nothing."""
    dump = (
        " cookie=0x4e46, duration=1.2s, table=0, n_packets=0, n_bytes=0, priority=6,in_port=uplink,dl_src=0a:58:0a:59:0e:0b actions=drop\n"
        " cookie=0x4e46, duration=1.2s, table=0, n_packets=3, n_bytes=180, priority=5,in_port=uplink,vlan_tci=0x0000/0x1fff,"
        "dl_dst=0a:58:0a:59:0e:0b actions=LOCAL\n"
        " cookie=0x0, duration=9.1s, table=0, n_packets=42, n_bytes=2520, priority=0 actions=NORMAL\n"
    )
    want = _flows.declared_flows(GUARD)
    have = _flows.parse_dump(dump, cookie=0x4E46)
    result = _flows.diff(want, have)
    assert (result.add, result.delete) == ([], [])


@pytest.mark.parametrize(
    ("given", "wanted"), [(MAC, MAC), ("0A:58:0A:59:0E:0B", MAC), ("0a-58-0a-59-0e-0b", MAC), (" 52:54:00:01:00:01 ", "52:54:00:01:00:01")]
)
def test_mac_spellings(given, wanted):
    assert underlay.unicast_mac(given) == wanted


@pytest.mark.parametrize("bad", ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "0a:58:0a:59:0e", "0a580a590e0b", "", None, 42])
def test_not_a_unicast_mac(bad):
    with pytest.raises(ValueError, match="not a unicast MAC"):
        underlay.unicast_mac(bad)


def test_netdev_host_gets_the_guard_and_nothing_else_changes():
    hv1 = plans()["hv1"]
    before = copy.deepcopy(hv1)
    guarded = underlay.with_underlay_mac(hv1, MAC.upper())
    assert hv1 == before, "the input plan is not changed"
    assert guarded["flows"]["br-phy"] == GUARD
    assert guarded["underlay"] == {**hv1["underlay"], "mac": MAC}
    assert list(guarded["flows"]) == list(hv1["flows"])
    rest = {key: value for key, value in guarded.items() if key not in ("flows", "underlay", "bridges")}
    assert rest == {key: value for key, value in hv1.items() if key not in ("flows", "underlay", "bridges")}
    # br-phy, which takes the underlay address, takes the uplink's MAC with it; the other bridges stay
    phy = {**next(b for b in hv1["bridges"] if b["name"] == "br-phy"), "other_config": {"hwaddr": MAC}}
    assert guarded["bridges"] == [phy if b["name"] == "br-phy" else b for b in hv1["bridges"]]
    assert {b: f for b, f in guarded["flows"].items() if b != "br-phy"} == {b: f for b, f in hv1["flows"].items() if b != "br-phy"}
    assert json.loads(json.dumps(guarded)) == guarded


def test_guard_comes_first_and_provider_vlan_flows_stay():
    """A provider-VLAN host: the guard (from the uplink) and the VLAN rewrites (from phy-br-int) side by side."""
    hv3 = plans(provider_vlan=300)["hv3"]
    provider = hv3["flows"]["br-phy"]
    assert provider and all("in_port=phy-br-int" in flow for flow in provider)
    guarded = underlay.with_underlay_mac(hv3, MAC)
    assert guarded["flows"]["br-phy"] == [flow.replace("in_port=uplink", "in_port=eth0") for flow in GUARD] + provider
    assert len(set(_flows.declared_flows(guarded["flows"]["br-phy"]))) == len(guarded["flows"]["br-phy"])


def test_applying_twice_is_stable_and_a_new_mac_replaces_the_old_guard():
    hv1 = plans(provider_vlan=300)["hv1"]
    once = underlay.with_underlay_mac(hv1, MAC)
    assert underlay.with_underlay_mac(once, MAC) == once
    other = underlay.with_underlay_mac(once, "52:54:00:aa:bb:cc")
    assert other == underlay.with_underlay_mac(hv1, "52:54:00:aa:bb:cc")
    assert not [flow for flow in other["flows"]["br-phy"] if MAC in flow]


def test_system_host_is_unchanged_and_needs_no_mac():
    hv3 = plans()["hv3"]
    assert hv3["underlay"]["bridge"] is None
    assert underlay.with_underlay_mac(hv3, None) is hv3
    assert underlay.with_underlay_mac(hv3, MAC) is hv3


def test_netdev_host_without_a_mac_is_an_error():
    with pytest.raises(ValueError, match="host hv1: .*need the uplink's MAC"):
        underlay.with_underlay_mac(plans()["hv1"], None)
    with pytest.raises(ValueError, match="not a unicast MAC"):
        underlay.with_underlay_mac(plans()["hv1"], "ff:ff:ff:ff:ff:ff")
