"""ip_link's kind bond: validation, reading a real bond, and the plan from recorded `ip -j -d address show`.

link_bond_uml.json is the kernel lab's (UML, Linux 6.1, iproute2 6.1): bond0 active-backup (miimon 100,
updelay/downdelay 200, mtu 1600, marked netfabric:kbx, 192.0.2.1/24) with members m1 and m2, up;
bond1 802.3ad (lacp_rate fast, lacp_active off, layer3+4) with member m3, up; m4 up and in no bond.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import read, spec
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import link as iplink
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

TABLE = json.loads((Path(__file__).parent / "fixtures" / "iproute" / "link_bond_uml.json").read_text())
RAW = {entry["ifname"]: entry for entry in TABLE}


def have(name):
    return read.normalise_link(RAW[name], table=TABLE)


def want(**given):
    params = {name: option.get("default") for name, option in spec.LINK_ARGUMENT_SPEC.items()}
    params.update(given)
    return spec.link_want(params)


BOND0 = dict(name="bond0", kind="bond", bond_mode="active-backup", miimon=100, updelay=200, downdelay=200, members=["m1", "m2"])
BOND1 = dict(name="bond1", kind="bond", bond_mode="802.3ad", miimon=100, lacp_rate="fast", lacp_active=False,
             xmit_hash_policy="layer3+4", members=["m3"])


def set_(*words):
    return ["link", "set", "dev", *words]


def test_normalise_real_bonds():
    assert have("bond0") == {"name": "bond0", "kind": "bond", "state": "up", "mtu": 1600, "address": RAW["bond0"]["address"],
                             "master": None, "alias": "netfabric:kbx", "bond_mode": "active-backup", "miimon": 100,
                             "updelay": 200, "downdelay": 200, "lacp_rate": "slow", "lacp_active": True,
                             "xmit_hash_policy": "layer2", "members": ["m1", "m2"]}
    assert {k: have("bond1")[k] for k in ("bond_mode", "lacp_rate", "lacp_active", "xmit_hash_policy", "members")} == {
        "bond_mode": "802.3ad", "lacp_rate": "fast", "lacp_active": False, "xmit_hash_policy": "layer3+4", "members": ["m3"]}
    assert have("m1")["master"] == "bond0"
    assert read.normalise_link(RAW["bond0"])["members"] is None  # without the table: unknown, never "none"


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("given, message", [
    (dict(kind="bond", members=["m1", "bond0"]), "members: 'bond0' is the bond itself"),
    (dict(kind="bond", members=["m1", "m1"]), "members: lists 'm1' twice"),
    (dict(kind="bond", members=["m/1"]), "members[0]: 'm/1' is not a valid interface name"),
    (dict(kind="bond", bond_mode="active-backup", lacp_rate="fast"), "lacp_rate: only with bond_mode 802.3ad (bond_mode is active-backup)"),
    (dict(kind="bond", bond_mode="balance-alb", lacp_active=True), "lacp_active: only with bond_mode 802.3ad (bond_mode is balance-alb)"),
    (dict(kind="bond", bond_mode="active-backup", xmit_hash_policy="layer3+4"),
     "xmit_hash_policy: only with bond_mode balance-xor, 802.3ad, balance-tlb (bond_mode is active-backup)"),
    (dict(kind="bond", miimon=0, updelay=0), "updelay: needs miimon above 0"),
    (dict(kind="bond", miimon=100, downdelay=150), "downdelay: 150 must be a multiple of miimon (100); the kernel would round it down"),
    (dict(kind="bond", miimon=60001), "miimon: 60001 is out of range (allowed 0-60000)"),
    (dict(kind="dummy", members=["m1"]), "members: only used with kind bond (kind is dummy)"),
    (dict(miimon=100), "miimon: needs kind (one of vlan, vxlan, bridge, veth, dummy, macvlan, gre, gretap, bond)"),
])
def test_bond_validation_names_field_and_allowed_values(given, message):
    with pytest.raises(ValidationError) as err:
        want(name="bond0", **given)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("given, words", [
    ({"bond_mode": "balance-slb"}, ["bond_mode", "balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb"]),
    ({"bond_mode": "802.3ad", "lacp_rate": "medium"}, ["lacp_rate", "slow, fast"]),
    ({"bond_mode": "802.3ad", "xmit_hash_policy": "layer4"}, ["xmit_hash_policy", "layer2, layer2+3, layer3+4"]),
    ({"lacp_rate": "fast"}, ["bond_mode"]),
    ({"updelay": 100}, ["miimon"]),
])
def test_argument_spec_names_allowed_values(given, words):
    rules = spec.LINK_RULES
    validator = ArgumentSpecValidator(spec.LINK_ARGUMENT_SPEC, mutually_exclusive=rules["mutually_exclusive"],
                                      required_if=rules["required_if"], required_by=rules["required_by"])
    errors = " ".join(str(e) for e in validator.validate({"name": "b", "kind": "bond", **given}).errors)
    assert all(word in errors for word in words), errors


# ---------------------------------------------------------------- the plan

def test_create_enslaves_each_member_down_first_and_sets_the_bond_up_last():
    lines = iplink.plan_link(want(**BOND1, mtu=1600, owner="underlay", state="up"), None)
    assert lines == [
        ["link", "add", "name", "bond1", "type", "bond", "mode", "802.3ad", "miimon", "100", "xmit_hash_policy", "layer3+4",
         "lacp_rate", "fast", "lacp_active", "off"],
        set_("bond1", "mtu", "1600", "alias", "netfabric:underlay"),
        set_("m3", "down"), set_("m3", "master", "bond1"),  # "Device can not be enslaved while up"
        set_("bond1", "up"),
    ]


@pytest.mark.parametrize("name, given", [("bond0", BOND0), ("bond1", BOND1), ("bond0", {**BOND0, "members": ["m2", "m1"]})])
def test_second_run_plans_nothing(name, given):
    assert iplink.plan_link(want(**given, state="up", mtu=have(name)["mtu"]), have(name)) == []
    assert iplink.predict_link(want(**given), have(name)) == have(name)


def test_live_options_change_in_place_without_taking_the_bond_down():
    lines = iplink.plan_link(want(**{**BOND0, "updelay": 300, "downdelay": 0}), have("bond0"))
    assert lines == [set_("bond0", "type", "bond", "updelay", "300", "downdelay", "0")]


def test_lacp_settings_take_the_bond_down_and_up_again():
    lines = iplink.plan_link(want(**{**BOND1, "lacp_rate": "slow", "lacp_active": True}), have("bond1"))
    assert lines == [set_("bond1", "down"), set_("bond1", "type", "bond", "lacp_rate", "slow", "lacp_active", "on"), set_("bond1", "up")]


def test_new_mode_releases_every_member_sets_the_mode_and_enslaves_again():
    given = {**BOND1, "name": "bond0", "members": ["m1", "m2"]}
    lines = iplink.plan_link(want(**given), have("bond0"))
    assert lines == [
        set_("bond0", "down"),  # "unable to set option because the bond is up"
        set_("m1", "nomaster"), set_("m2", "nomaster"),  # "... because the bond device has slaves"
        set_("bond0", "type", "bond", "mode", "802.3ad", "miimon", "100", "xmit_hash_policy", "layer3+4", "lacp_rate", "fast", "lacp_active", "off"),
        set_("m1", "down"), set_("m1", "master", "bond0"), set_("m2", "down"), set_("m2", "master", "bond0"),
        set_("bond0", "up"),
    ]
    assert iplink.needs_recreate(want(**given), have("bond0")) == []  # never recreated: the address and ifindex stay


def test_new_members_join_and_old_ones_leave_up():
    lines = iplink.plan_link(want(**{**BOND0, "members": ["m1", "m4"]}), have("bond0"))
    assert lines == [set_("m2", "nomaster"), set_("m4", "down"), set_("m4", "master", "bond0"), set_("m2", "up")]
    after = iplink.predict_link(want(**{**BOND0, "members": ["m1", "m4"]}), have("bond0"))
    assert after["members"] == ["m1", "m4"] and after["state"] == "up"


def test_new_mode_with_a_bond_asked_down_stays_down():
    lines = iplink.plan_link(want(**{**BOND0, "bond_mode": "balance-alb", "updelay": None, "downdelay": None}, state="down"), have("bond0"))
    assert lines[0] == set_("bond0", "down") and lines[-1] != set_("bond0", "up")
    assert set_("bond0", "type", "bond", "mode", "balance-alb", "miimon", "100") in lines


def test_omitted_members_are_left_as_they_are():
    assert iplink.plan_link(want(name="bond0", kind="bond", miimon=100), have("bond0")) == []


def test_absent_deletes_the_bond_and_leaves_its_members_up():
    lines = iplink.plan_link(want(name="bond0", state="absent", owner="kbx"), have("bond0"))
    assert lines == [["link", "del", "dev", "bond0"], set_("m1", "up"), set_("m2", "up")]
    assert iplink.plan_link(want(name="bond0", state="absent", owner="other"), have("bond0")) == []


def test_missing_member_is_named():
    assert iplink.missing_references(want(**{**BOND0, "members": ["m1", "eth9"]}), TABLE) == ["members: 'eth9' does not exist"]


def test_rollback_of_a_mode_change_restores_mode_and_members():
    """A failed batch is undone from a fresh read: here the bond left down, without members, in 802.3ad."""
    now = json.loads(json.dumps(TABLE))
    for entry in now:
        if entry["ifname"] in ("m1", "m2"):
            entry.pop("master")
            entry["flags"] = [f for f in entry["flags"] if f not in ("SLAVE", "UP")]
        if entry["ifname"] == "bond0":
            entry["flags"] = [f for f in entry["flags"] if f != "UP"]
            entry["linkinfo"]["info_data"]["mode"] = "802.3ad"
    lines = iplink.restore_lines(TABLE, now, "bond0")
    assert lines == [
        set_("bond0", "type", "bond", "mode", "active-backup", "miimon", "100", "updelay", "200", "downdelay", "200"),
        set_("m1", "down"), set_("m1", "master", "bond0"), set_("m2", "down"), set_("m2", "master", "bond0"),
        set_("bond0", "up"),
    ]
