"""A bonded netfabric_uplink: validation (every message names host, field and what is allowed) and
the plan (an Open vSwitch bond on br-phy, the guard of the underlay MAC on each member)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import nic, plan, underlay
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError, validate

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "example_inventory.json").read_text())
BOND = {"name": "bond0", "members": ["eth1", "eth2"]}
MAC = "0a:58:0a:59:0e:0b"


def example(uplink, host="hv1"):
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    hosts[host]["netfabric_uplink"] = uplink
    return hosts, fabric


def only_problem(uplink, host="hv1"):
    with pytest.raises(FabricError) as info:
        validate(*example(uplink, host))
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_a_bond_takes_the_defaults():
    host = validate(*example(BOND)).hosts["hv1"]
    assert host.uplink == "bond0"
    assert host.bond == nic.Bond("bond0", ("eth1", "eth2"), "active-backup", "off", None, 0, 0)


def test_the_string_form_is_unchanged():
    host = validate(*example("eth9")).hosts["hv1"]
    assert (host.uplink, host.bond) == ("eth9", None)


@pytest.mark.parametrize(
    ("bond", "expected"),
    [
        ({"members": ["eth1", "eth2"]}, ["host hv1 netfabric_uplink", "name"]),
        ({"name": "bond0"}, ["host hv1 netfabric_uplink", "members"]),
        (dict(BOND, members=["eth1"]), ["host hv1: netfabric_uplink.members lists 1 NIC(s); a bond needs at least 2"]),
        (dict(BOND, members=["eth1", "eth1"]), ["host hv1: netfabric_uplink.members lists 'eth1' twice"]),
        (dict(BOND, members=["bond0", "eth1"]), ["host hv1: netfabric_uplink.members[0] 'bond0' is the bond's own name"]),
        (dict(BOND, members=["eth1", "x" * 16]), ["host hv1: netfabric_uplink.members[1]", "not a valid interface name (1-15"]),
        (dict(BOND, name="1234"), ["host hv1: netfabric_uplink.name '1234' is not a valid interface name"]),
        (dict(BOND, mode="balance-rr"), ["host hv1 netfabric_uplink", "mode", "active-backup, balance-slb, balance-tcp"]),
        (dict(BOND, lacp="on"), ["host hv1 netfabric_uplink", "lacp", "active, passive, off"]),
        (dict(BOND, lacp="active", lacp_rate="often"), ["host hv1 netfabric_uplink", "lacp_rate", "fast, slow"]),
        (dict(BOND, mode="balance-tcp"), ["host hv1: netfabric_uplink.mode balance-tcp needs lacp active or passive"]),
        (dict(BOND, lacp_rate="fast"), ["host hv1: netfabric_uplink.lacp_rate fast needs lacp active or passive"]),
        (dict(BOND, updelay=60001), ["host hv1: netfabric_uplink.updelay: 60001 is out of range (allowed 0-60000) (milliseconds)"]),
        (dict(BOND, downdelay=-1), ["host hv1: netfabric_uplink.downdelay: -1 is out of range (allowed 0-60000)"]),
        (dict(BOND, speed=10), ["host hv1 netfabric_uplink: unknown key 'speed' (allowed: name, members, mode, lacp, lacp_rate, updelay, downdelay)"]),
        (["eth1", "eth2"], ["host hv1: netfabric_uplink must be an interface name or a bond (a dict with name, members"]),
    ],
)
def test_bad_bonds_are_named(bond, expected):
    message = only_problem(bond)
    for text in expected:
        assert text in message, message


# ---------------------------------------------------------------- a kernel bond (system datapath, Linux bridge)

@pytest.mark.parametrize(("given", "expected"), [
    ({}, {"bond_mode": "active-backup"}),
    ({"mode": "balance-slb"}, {"bond_mode": "balance-tlb"}),
    ({"mode": "balance-tcp", "lacp": "active"}, {"bond_mode": "802.3ad", "xmit_hash_policy": "layer3+4", "lacp_active": True, "lacp_rate": "slow"}),
    ({"mode": "balance-tcp", "lacp": "passive", "lacp_rate": "fast"},
     {"bond_mode": "802.3ad", "xmit_hash_policy": "layer3+4", "lacp_active": False, "lacp_rate": "fast"}),
])
def test_open_vswitch_modes_as_kernel_bond_modes(given, expected):
    link = plan.fabric_plan(plan.build(*example({**BOND, **given}, host="hv3")))["hv3"]["underlay"]["links"][0]
    assert link == {"name": "bond0", "kind": "bond", **expected, "miimon": 100, "updelay": 0, "downdelay": 0,
                    "members": ["eth1", "eth2"], "mtu": 1500, "owner": "netfabric", "state": "up"}


def test_system_host_plan_makes_a_kernel_bond_that_holds_the_underlay_address():
    bond = {**BOND, "updelay": 200, "downdelay": 100}
    hv3 = plan.fabric_plan(plan.build(*example(bond, host="hv3")))["hv3"]
    assert hv3["underlay"] == {
        "address": "172.31.0.3", "prefix": 24, "uplink": "bond0", "bridge": None, "mtu": 1500, "members": ["eth1", "eth2"],
        "links": [{"name": "bond0", "kind": "bond", "bond_mode": "active-backup", "miimon": 100, "updelay": 200, "downdelay": 100,
                   "members": ["eth1", "eth2"], "mtu": 1500, "owner": "netfabric", "state": "up"}],
        "kernel_bond": {"name": "bond0", "members": ["eth1", "eth2"], "owner": "netfabric", "alias": "netfabric:netfabric"},
    }
    assert all(port["name"] != "bond0" for ports in hv3["ports"]["fabric"] for port in ports["ports"])  # not on br-phy
    assert hv3["vlan_subinterfaces"] == [{"name": "bond0.100", "kind": "vlan", "link": "bond0", "vlan_id": 100, "state": "up"}]
    assert underlay.with_underlay_mac(hv3, None) is hv3  # the address stays in the kernel: no guard flows


def test_netdev_host_plan_has_no_kernel_bond():
    assert "kernel_bond" not in plan.fabric_plan(plan.build(*example(BOND)))["hv1"]["underlay"]


@pytest.mark.parametrize(("bond", "expected"), [
    ({**BOND, "lacp": "active"},
     "host hv3: netfabric_uplink.lacp active with mode active-backup: a kernel bond negotiates LACP only in mode balance-tcp (802.3ad); "
     "allowed lacp with active-backup: off"),
    ({**BOND, "mode": "balance-slb", "lacp": "passive"}, "host hv3: netfabric_uplink.lacp passive with mode balance-slb"),
    ({**BOND, "updelay": 150}, "host hv3: netfabric_uplink.updelay 150 must be a multiple of 100 on a kernel bond (it checks its members' links every 100 ms)"),
    ({**BOND, "downdelay": 50}, "host hv3: netfabric_uplink.downdelay 50 must be a multiple of 100"),
])
def test_what_a_kernel_bond_cannot_do_is_named(bond, expected):
    assert only_problem(bond, host="hv3").startswith(expected)


def test_open_vswitch_bond_keeps_what_the_kernel_cannot_do():
    host = validate(*example({**BOND, "lacp": "active", "updelay": 150})).hosts["hv1"]  # netdev: an OVS bond
    assert host.bond.lacp == "active" and host.bond.updelay == 150


def test_vm_ports_cannot_take_a_members_name():
    hosts, fabric = example(BOND)
    hosts["hv1"]["netfabric_ports"][0]["name"] = "eth2"
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric)
    assert any("host hv1 port eth2: name clashes with a port the fabric creates" in p for p in info.value.problems), info.value.problems


def test_parse_nic_is_reusable_for_other_fields():
    problems = []
    assert nic.parse_nic(dict(BOND, mode="balance-tcp", lacp="active"), "netfabric_provider_nic", "host hv9", problems) == nic.Bond(
        "bond0", ("eth1", "eth2"), "balance-tcp", "active"
    )
    assert nic.parse_nic(dict(BOND, mode="balance-tcp"), "netfabric_provider_nic", "host hv9", problems) is None
    assert problems == [
        "host hv9: netfabric_provider_nic.mode balance-tcp needs lacp active or passive (Open vSwitch balances TCP flows only over an LACP bond)"
    ]


def test_plan_puts_the_bond_on_br_phy_with_every_setting_pinned():
    bond = dict(BOND, members=["eth2", "eth1"], mode="balance-tcp", lacp="active", lacp_rate="fast", updelay=100, downdelay=200)
    hv1 = plan.fabric_plan(plan.build(*example(bond)))["hv1"]
    assert hv1["ports"]["fabric"][2] == {
        "bridge": "br-phy",
        "owner": "netfabric",
        "ports": [{"name": "bond0", "interfaces": ["eth2", "eth1"], "bond_mode": "balance-tcp", "lacp": "active",
                   "bond_updelay": 100, "bond_downdelay": 200, "other_config": {"lacp-time": "fast"}, "mtu_request": 1500}],
    }
    assert hv1["underlay"] == {
        "address": "172.31.0.1", "prefix": 24, "uplink": "bond0", "bridge": "br-phy", "members": ["eth2", "eth1"], "mtu": 1500, "links": [],
    }
    assert "bond0" in hv1["verify_ports"]


def test_plan_of_a_bond_without_lacp_pins_no_lacp_time():
    hv1 = plan.fabric_plan(plan.build(*example(BOND)))["hv1"]
    assert hv1["ports"]["fabric"][2]["ports"] == [
        {"name": "bond0", "interfaces": ["eth1", "eth2"], "bond_mode": "active-backup", "lacp": "off", "bond_updelay": 0, "bond_downdelay": 0,
         "mtu_request": 1500}
    ]


def test_the_guard_of_the_underlay_mac_is_on_each_member():
    hv1 = underlay.with_underlay_mac(plan.fabric_plan(plan.build(*example(BOND)))["hv1"], MAC)
    assert hv1["flows"]["br-phy"][:4] == [
        f"table=0,priority=6,in_port=eth1,dl_src={MAC},actions=drop",
        f"table=0,priority=5,in_port=eth1,vlan_tci=0x0000/0x1fff,dl_dst={MAC},actions=LOCAL",
        f"table=0,priority=6,in_port=eth2,dl_src={MAC},actions=drop",
        f"table=0,priority=5,in_port=eth2,vlan_tci=0x0000/0x1fff,dl_dst={MAC},actions=LOCAL",
    ]
    assert underlay.with_underlay_mac(hv1, MAC) == hv1  # twice: the same plan


def test_other_hosts_plans_do_not_change():
    plain = plan.fabric_plan(plan.build(*example("uplink")))
    bonded = plan.fabric_plan(plan.build(*example(BOND)))
    assert {h: p for h, p in bonded.items() if h != "hv1"} == {h: p for h, p in plain.items() if h != "hv1"}
