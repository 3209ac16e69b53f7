"""ip_link / ip_address: the owner mark and the way back from a failed write, as pure functions.

The integration tests (tests/integration/test_ip_faults.py) prove the same against the kernel; these
pin the exact lines and messages.
"""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import address, batch, spec
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import link as iplink
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, CommandTimeout


def want(**given):
    params = {name: option.get("default") for name, option in spec.LINK_ARGUMENT_SPEC.items()}
    params.update(given)
    return spec.link_want(params)


def raw(name, kind=None, *, up=True, mtu=1500, mac="02:00:00:00:00:01", alias=None, master=None, addrs=(), data=None, **extra):
    """One entry as `ip -j -d address show` prints it."""
    entry = {"ifname": name, "flags": ["BROADCAST", "UP"] if up else ["BROADCAST"], "mtu": mtu, "address": mac,
             "addr_info": [{"family": "inet", "local": a.split("/")[0], "prefixlen": int(a.split("/")[1]), "scope": "global"}
                           for a in addrs], **extra}
    if kind:
        entry["linkinfo"] = {"info_kind": kind, "info_data": data or {}}
    if alias:
        entry["ifalias"] = alias
    if master:
        entry["master"] = master
    return entry


VXA = raw("vxa", "vxlan", mtu=1400, alias="ops note", master="br0", addrs=["10.9.0.1/24"],
          data={"id": 100, "port": 4789, "learning": True, "ttl": 0})
BR0 = raw("br0", "bridge", mac="02:00:00:00:00:09")


# ---------------------------------------------------------------- owner mark

def test_a_created_link_carries_the_owner_mark_in_its_alias():
    lines = iplink.plan_link(want(name="m0", kind="macvlan", link="up0", owner="vlans", state="up"), None)
    assert lines[-1] == ["link", "set", "dev", "m0", "alias", "netfabric:vlans", "up"]
    assert iplink.predict_link(want(name="m0", kind="macvlan", link="up0", owner="vlans"), None)["alias"] == "netfabric:vlans"


def test_an_existing_link_is_used_but_never_marked():
    have = {"name": "m0", "kind": "macvlan", "state": "down", "mtu": 1500, "address": "02:00:00:00:00:01", "master": None,
            "alias": None, "link": "up0", "macvlan_mode": "vepa"}
    assert iplink.plan_link(want(name="m0", kind="macvlan", link="up0", owner="vlans", mtu=1400), have) == [
        ["link", "set", "dev", "m0", "mtu", "1400"]]
    # recreated (the mode is fixed at creation): it keeps the alias it had, here none
    lines = iplink.plan_link(want(name="m0", kind="macvlan", link="up0", macvlan_mode="bridge", owner="vlans"), have)
    assert lines[0] == ["link", "del", "dev", "m0"] and not any("alias" in line for line in lines)
    lines = iplink.plan_link(want(name="m0", kind="macvlan", link="up0", macvlan_mode="bridge", owner="vlans"),
                             dict(have, alias="netfabric:other"))
    assert lines[-1][-2:] == ["alias", "netfabric:other"]


@pytest.mark.parametrize("alias, deleted", [(None, False), ("netfabric:vlansx", False), ("netfabric:other", False),
                                            ("ops note", False), ("netfabric:vlans", True)])
def test_absent_with_owner_deletes_only_a_link_carrying_its_mark(alias, deleted):
    have = {"name": "m0", "kind": "macvlan", "state": "up", "mtu": 1500, "address": None, "master": None, "alias": alias}
    w = want(name="m0", state="absent", owner="vlans")
    assert iplink.plan_link(w, have) == ([["link", "del", "dev", "m0"]] if deleted else [])
    assert iplink.predict_link(w, have) == (None if deleted else have)
    messages = iplink.warnings(w, have)
    assert bool(messages) is not deleted
    if messages:
        assert "'m0'" in messages[0] and "netfabric:vlans" in messages[0] and "left in place" in messages[0]
    assert iplink.plan_link(want(name="m0", state="absent"), have) == [["link", "del", "dev", "m0"]]


@pytest.mark.parametrize("owner", ["", "a b", "x#y", "-x", "a" * 246, "a\nb"])
def test_owner_must_be_one_safe_word(owner):
    with pytest.raises(spec.ValidationError, match="^owner: "):
        want(name="m0", owner=owner)


# ---------------------------------------------------------------- planning the way back

def test_a_deleted_link_comes_back_with_its_settings_alias_and_addresses():
    lines = iplink.restore_lines([VXA, BR0], [BR0], "vxa")
    assert lines == [
        ["link", "add", "name", "vxa", "type", "vxlan", "id", "100", "dstport", "4789", "learning", "ttl", "0"],
        ["link", "set", "dev", "vxa", "mtu", "1400", "address", "02:00:00:00:00:01", "master", "br0", "up"],
        ["link", "set", "dev", "vxa", "alias", "ops note"],
        ["address", "add", "10.9.0.1/24", "dev", "vxa"],
    ]


def test_a_half_made_replacement_is_replaced_back():
    now = raw("vxa", "vxlan", up=False, mac="02:00:00:00:00:07", data={"id": 200, "port": 4789, "learning": True, "ttl": 0})
    lines = iplink.restore_lines([VXA, BR0], [now, BR0], "vxa")
    assert lines[:2] == [["link", "del", "dev", "vxa"], iplink.restore_lines([VXA, BR0], [BR0], "vxa")[0]]
    assert lines[2][-3:] == ["alias", "ops note", "up"] and lines[-1] == ["address", "add", "10.9.0.1/24", "dev", "vxa"]


def test_nothing_to_undo_when_nothing_changed_and_a_new_link_is_deleted():
    assert iplink.restore_lines([VXA, BR0], [VXA, BR0], "vxa") == []
    assert iplink.restore_lines([BR0], [VXA, BR0], "vxa") == [["link", "del", "dev", "vxa"]]
    assert iplink.link_differences([VXA, BR0], [dict(VXA, ifindex=99), BR0], ["vxa"]) is None
    assert "mtu 1400 -> 1500" in iplink.link_differences([VXA], [dict(VXA, mtu=1500)], ["vxa"])
    assert iplink.link_differences([VXA], [], ["vxa"]) == "vxa is missing"


def test_a_recreated_veth_gets_both_ends_back():
    tap = raw("tap1", "veth", mtu=1400, mac="02:00:00:00:00:0a", master="br0", link="tap1p")
    peer = raw("tap1p", "veth", up=False, mtu=1300, mac="02:00:00:00:00:0b", link="tap1", addrs=["10.1.0.1/24"])
    lines = iplink.restore_lines([tap, peer, BR0], [BR0], "tap1")
    assert lines == [
        ["link", "add", "name", "tap1", "type", "veth", "peer", "name", "tap1p"],
        ["link", "set", "dev", "tap1", "mtu", "1400", "address", "02:00:00:00:00:0a", "master", "br0", "up"],
        ["link", "set", "dev", "tap1p", "mtu", "1300", "address", "02:00:00:00:00:0b"],
        ["address", "add", "10.1.0.1/24", "dev", "tap1p"],
    ]


def test_addresses_come_back_as_read():
    dev = raw("br0", "bridge", addrs=["10.0.0.1/24", "10.0.0.9/24"])
    now = raw("br0", "bridge", addrs=["10.0.0.2/24"])
    assert address.restore_addresses([dev], [now], "br0") == [
        ["address", "del", "10.0.0.2/24", "dev", "br0"],
        ["address", "add", "10.0.0.1/24", "dev", "br0"],
        ["address", "add", "10.0.0.9/24", "dev", "br0"],
    ]
    assert address.address_differences([dev], [dev], "br0") is None


# ---------------------------------------------------------------- the write, all or nothing

class FakeIp:
    """Stands in for the ip Runner: records each batch, fails the ones it is told to."""

    leading = []

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.batches = []

    def run(self, args, data=None):
        self.batches.append(data)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


LINES = [["link", "del", "dev", "vxa"], ["link", "add", "name", "vxa", "type", "vxlan", "id", "200"], ["link", "set", "dev", "vxa", "up"]]
CMD = ["ip", "-batch", "-"]


def failed_at(n):
    return CommandError(CMD, 1, "", f"Error: A VXLAN device with the specified VNI already exists.\nCommand failed -:{n}\n")


def test_a_failing_line_is_named_and_the_applied_ones_undone():
    ip = FakeIp(failed_at(2), None)
    undo = [["link", "add", "name", "vxa", "type", "vxlan", "id", "100"]]
    with pytest.raises(batch.NotApplied) as err:
        batch.apply_all_or_nothing(ip, LINES, undo=lambda: undo, differs=lambda: None)
    msg = str(err.value)
    assert "`ip link add name vxa type vxlan id 200` failed: Error: A VXLAN device" in msg
    assert "applied before it: ip link del dev vxa;" in msg
    assert "rolled back (ip link add name vxa type vxlan id 100): the host is as it was before this task" in msg
    assert err.value.applied == [["ip", "link", "del", "dev", "vxa"]] and err.value.rolled_back == [["ip"] + undo[0]]
    assert ip.batches[1] == "link add name vxa type vxlan id 100\n"


def test_a_first_line_failure_needs_no_undo_and_a_leftover_is_admitted():
    ip = FakeIp(failed_at(1))
    with pytest.raises(batch.NotApplied) as err:
        batch.apply_all_or_nothing(ip, LINES, undo=pytest.fail, differs=lambda: None)
    assert "applied before it: nothing" in str(err.value) and len(ip.batches) == 1
    ip = FakeIp(failed_at(3), failed_at(1))
    with pytest.raises(batch.NotApplied) as err:
        batch.apply_all_or_nothing(ip, LINES, undo=lambda: LINES[:1], differs=lambda: "vxa is missing")
    assert "ROLLBACK INCOMPLETE" in str(err.value)

    def cannot():
        raise spec.ValidationError("name: 'tap1' is a veth whose peer is in a namespace that was not read")

    with pytest.raises(batch.NotApplied, match="ROLLBACK INCOMPLETE .*: name: 'tap1' is a veth"):
        batch.apply_all_or_nothing(FakeIp(failed_at(2)), LINES, undo=cannot, differs=lambda: None)


def test_a_killed_batch_is_undone_from_a_fresh_read():
    ip = FakeIp(CommandTimeout(CMD, 5), None)
    with pytest.raises(batch.NotApplied) as err:
        batch.apply_all_or_nothing(ip, LINES, undo=lambda: LINES[:1], differs=lambda: None)
    assert "did not finish within 5 s" in str(err.value) and "unknown part of the batch ran" in str(err.value)
    assert err.value.applied == [] and err.value.rolled_back == [["ip", "link", "del", "dev", "vxa"]]
