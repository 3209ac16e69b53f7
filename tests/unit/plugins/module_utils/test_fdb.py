"""bridge_fdb's pure half: recorded `bridge -j fdb show`, `ip -j -d link show` and `ip -j neigh show`
output, validation, the exact batch lines planned, and the way back when a batch fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _fdb as fdb
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.batch import BatchFailed
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "fdb"
ZERO = fdb.ZERO_MAC


def raw(name):
    return json.loads((FIXTURES / name).read_text())


# vx: id 42, dstport 4789, no remote, a port of bridge br0 (so the bridge's own `master` entry shows too)
VX = fdb.device_view(raw("vx_link.json"), "vx")
HAVE = fdb.normalise_fdb(raw("vx_fdb.json"), VX)
# vx3: id 44, group 239.1.1.1 dev br0 (its default destination, made with the link)
VX3 = fdb.device_view(raw("vx3_link.json"), "vx3")
HAVE3 = fdb.normalise_fdb(raw("vx3_fdb.json"), VX3)
NEIGH = fdb.normalise_neighbours(raw("vx4_neigh.json"))


def want(entries=None, neighbours=None, **given):
    params = {"dev": "vx", "entries": entries, "neighbours": neighbours, "state": "present", "netns": None, "timeout": 5}
    params.update(given)
    result = ArgumentSpecValidator(fdb.ARGUMENT_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return fdb.fdb_want(result.validated_parameters)


def zero(dst):
    return {"mac": ZERO, "dst": dst}


def test_normalise_recorded_output():
    assert VX == {"name": "vx", "vni": 42, "port": 4789, "own": None, "proxy": False, "learning": False}
    assert VX3["own"] == "239.1.1.1"
    assert all(entry["mac"] != "a6:d0:a9:9d:ef:18" for entry in HAVE), "the bridge's master entry is not the device's"
    by = {(e["mac"], e["dst"]): e for e in HAVE}
    assert by[(ZERO, "172.30.9.2")] == {"mac": ZERO, "dst": "172.30.9.2", "vni": 42, "port": 4789, "via": None,
                                        "state": "permanent"}
    assert by[("52:54:00:00:00:02", "172.30.9.7")]["vni"] == 100 and by[("52:54:00:00:00:02", "172.30.9.7")]["port"] == 4790
    assert by[("52:54:00:00:00:06", "172.30.9.7")]["via"] == "lo"
    assert by[("52:54:00:00:00:03", "172.30.9.7")]["state"] == "dynamic"  # learned: `bridge -j` prints state ""
    assert by[("52:54:00:00:00:04", "172.30.9.7")]["state"] == "static"
    assert HAVE3 == [{"mac": ZERO, "dst": "239.1.1.1", "vni": 44, "port": 4789, "via": "br0", "state": "permanent"}]
    assert {(n["ip"], n["state"]) for n in NEIGH} == {("10.0.0.2", "PERMANENT"), ("10.0.0.3", "STALE"),
                                                      ("10.0.0.9", "PERMANENT"), ("fd00::2", "PERMANENT")}


def test_another_kind_of_link_is_refused_by_name():
    with pytest.raises(ValidationError, match=r"dev: 'br0' is a bridge link, not a vxlan device"):
        fdb.device_view(raw("br0_link.json"), "br0")
    assert fdb.device_view([], "gone") is None


@pytest.mark.parametrize("given, field", [
    ({"dev": "vx 1"}, "dev:"),
    ({"dev": "x" * 16}, "dev:"),
    ({"entries": [{"mac": "00:00:00:00:00", "dst": "172.30.9.2"}]}, "entries[0].mac:"),
    ({"entries": [zero("172.30.9.2"), zero("172.30.9.300")]}, "entries[1].dst:"),
    ({"entries": [{"mac": ZERO, "dst": "172.30.9.2", "vni": 16777216}]}, "entries[0].vni:"),
    ({"entries": [{"mac": ZERO, "dst": "172.30.9.2", "port": 0}]}, "entries[0].port:"),
    ({"entries": [zero("172.30.9.2"), zero("172.30.9.2")]}, "entries[1]: same as entries[0]"),
    ({"entries": [{"mac": "52:54:00:00:00:01", "dst": "172.30.9.2"},
                  {"mac": "52:54:00:00:00:01", "dst": "172.30.9.3"}]}, "entries[1]: same as entries[0]"),
    ({"neighbours": [{"ip": "10.0.0.2"}]}, "neighbours[0].mac: required"),
    ({"neighbours": [{"ip": "10.0.0.256", "mac": "52:54:00:00:00:01"}]}, "neighbours[0].ip:"),
    ({"neighbours": [{"ip": "10.0.0.2", "mac": "52:54:00:00:00:1"}]}, "neighbours[0].mac:"),
    ({"neighbours": [{"ip": "10.0.0.2", "mac": "52:54:00:00:00:01"},
                     {"ip": "10.0.0.2", "mac": "52:54:00:00:00:02"}]}, "neighbours[1].ip:"),
    ({"netns": "-bad"}, "netns:"),
    ({"timeout": 0}, "timeout:"),
    ({"entries": None}, "entries, neighbours: give one or both"),
])
def test_bad_input_names_the_field(given, field):
    params = {"dev": "vx", "entries": [], "neighbours": None, "state": "present", "netns": None, "timeout": 5}
    params.update(given)
    with pytest.raises(ValidationError) as err:
        fdb.fdb_want(params)
    assert str(err.value).startswith(field), str(err.value)


def test_a_multicast_mac_may_have_several_remotes_and_absent_needs_no_neighbour_mac():
    w = want([{"mac": "01:00:5E:00:00:01", "dst": "172.30.9.2"}, {"mac": "01:00:5e:00:00:01", "dst": "172.30.9.3"}],
             [{"ip": "10.0.0.2"}], state="absent")
    assert [e["mac"] for e in w["entries"]] == ["01:00:5e:00:00:01"] * 2
    assert w["neighbours"] == [{"ip": "10.0.0.2", "mac": None}]


def test_present_is_idempotent_on_the_recorded_entries():
    entries = [zero("172.30.9.2"), zero("172.30.9.3"), {"mac": "52:54:00:00:00:01", "dst": "172.30.9.2"},
               {"mac": "52:54:00:00:00:02", "dst": "172.30.9.7", "vni": 100, "port": 4790},
               {"mac": ZERO, "dst": "172.30.9.4", "vni": 42, "port": 4789}]  # the device's own, spelled out
    assert fdb.plan_fdb(want(entries), HAVE, VX) == []


def test_present_appends_flooding_remotes_and_replaces_unicast_macs():
    lines = fdb.plan_fdb(want([zero("172.30.9.5"),
                               {"mac": "52:54:00:00:00:01", "dst": "172.30.9.3"},      # permanent elsewhere: moved
                               {"mac": "52:54:00:00:00:03", "dst": "172.30.9.7"},      # learned: made permanent
                               {"mac": "52:54:00:00:00:09", "dst": "172.30.9.8", "vni": 7}]), HAVE, VX)
    assert lines == [
        ["fdb", "append", ZERO, "dev", "vx", "dst", "172.30.9.5", "self", "permanent"],
        ["fdb", "replace", "52:54:00:00:00:01", "dev", "vx", "dst", "172.30.9.3", "self", "permanent"],
        ["fdb", "replace", "52:54:00:00:00:03", "dev", "vx", "dst", "172.30.9.7", "self", "permanent"],
        ["fdb", "replace", "52:54:00:00:00:09", "dev", "vx", "dst", "172.30.9.8", "vni", "7", "self", "permanent"],
    ]
    after = fdb.predict_fdb(want([{"mac": "52:54:00:00:00:01", "dst": "172.30.9.3"}]), HAVE, VX)
    assert [(e["dst"], e["state"]) for e in after if e["mac"] == "52:54:00:00:00:01"] == [("172.30.9.3", "permanent")]


def test_exact_removes_only_permanent_entries_the_list_does_not_name():
    w = want([zero("172.30.9.2"), {"mac": "52:54:00:00:00:01", "dst": "172.30.9.3"}], state="exact")
    assert fdb.plan_fdb(w, HAVE, VX) == [
        ["fdb", "del", "01:00:5e:00:00:01", "dev", "vx", "dst", "172.30.9.2", "self"],
        ["fdb", "del", "01:00:5e:00:00:01", "dev", "vx", "dst", "172.30.9.3", "self"],
        ["fdb", "del", "52:54:00:00:00:06", "dev", "vx", "dst", "172.30.9.7", "via", "lo", "self"],
        ["fdb", "del", "52:54:00:00:00:05", "dev", "vx", "dst", "172.30.9.7", "self"],
        ["fdb", "del", "52:54:00:00:00:02", "dev", "vx", "dst", "172.30.9.7", "vni", "100", "port", "4790", "self"],
        ["fdb", "del", ZERO, "dev", "vx", "dst", "172.30.9.3", "self"],
        ["fdb", "del", ZERO, "dev", "vx", "dst", "172.30.9.4", "self"],
        ["fdb", "replace", "52:54:00:00:00:01", "dev", "vx", "dst", "172.30.9.3", "self", "permanent"],
    ]
    after = fdb.predict_fdb(w, HAVE, VX)
    assert {(e["mac"], e["dst"], e["state"]) for e in after} == {
        (ZERO, "172.30.9.2", "permanent"), ("52:54:00:00:00:01", "172.30.9.3", "permanent"),
        ("52:54:00:00:00:04", "172.30.9.7", "static"), ("52:54:00:00:00:03", "172.30.9.7", "dynamic")}
    # the device's own default destination (its group) stays, even when exact lists nothing
    assert fdb.plan_fdb(want([], state="exact", dev="vx3"), HAVE3, VX3) == []
    assert fdb.plan_fdb(want([{"mac": ZERO, "dst": "239.1.1.1"}], state="absent", dev="vx3"), HAVE3, VX3) == []


def test_absent_removes_listed_permanent_entries_only():
    lines = fdb.plan_fdb(want([zero("172.30.9.3"), zero("172.30.9.99"),
                               {"mac": "52:54:00:00:00:03", "dst": "172.30.9.7"}],  # learned: stays
                              state="absent"), HAVE, VX)
    assert lines == [["fdb", "del", ZERO, "dev", "vx", "dst", "172.30.9.3", "self"]]


def test_restore_puts_back_what_was_read():
    w = want([{"mac": "52:54:00:00:00:01", "dst": "172.30.9.3"}, {"mac": "52:54:00:00:00:03", "dst": "172.30.9.7"},
              zero("172.30.9.5")], state="exact")
    now = fdb.predict_fdb(w, HAVE, VX)
    undo = fdb.restore_fdb(HAVE, now, VX)
    assert ["fdb", "replace", "52:54:00:00:00:03", "dev", "vx", "dst", "172.30.9.7", "self", "dynamic"] in undo
    assert ["fdb", "del", ZERO, "dev", "vx", "dst", "172.30.9.5", "self"] in undo
    assert ["fdb", "replace", "52:54:00:00:00:01", "dev", "vx", "dst", "172.30.9.2", "self", "permanent"] in undo
    assert ["fdb", "replace", "52:54:00:00:00:02", "dev", "vx", "dst", "172.30.9.7", "vni", "100", "port", "4790",
            "self", "permanent"] in undo
    assert ["fdb", "append", ZERO, "dev", "vx", "dst", "172.30.9.4", "self", "permanent"] in undo
    assert not any(line[2] == "52:54:00:00:00:01" and line[1] == "del" for line in undo), "replace swaps, no del"
    assert fdb.fdb_differences(HAVE, now) is not None and fdb.fdb_differences(HAVE, HAVE) is None


def test_neighbours_plan_keeps_what_is_not_permanent():
    n = [{"ip": "10.0.0.2", "mac": "52:54:00:00:00:01"}, {"ip": "10.0.0.3", "mac": "52:54:00:00:00:03"}]
    assert fdb.plan_neighbours(want(neighbours=n, dev="vx4"), NEIGH) == [
        ["neigh", "replace", "10.0.0.3", "lladdr", "52:54:00:00:00:03", "dev", "vx4", "nud", "permanent"]]
    assert fdb.plan_neighbours(want(neighbours=n[:1], dev="vx4", state="exact"), NEIGH) == [
        ["neigh", "del", "10.0.0.9", "dev", "vx4"], ["neigh", "del", "fd00::2", "dev", "vx4"]]
    assert fdb.plan_neighbours(want(neighbours=[{"ip": "10.0.0.2", "mac": "52:54:00:00:00:09"}, {"ip": "10.0.0.3"},
                                                {"ip": "fd00::2"}], dev="vx4", state="absent"), NEIGH) == [
        ["neigh", "del", "fd00::2", "dev", "vx4"]]
    after = fdb.predict_neighbours(want(neighbours=n, dev="vx4"), NEIGH)
    assert {(x["ip"], x["state"]) for x in after} == {("10.0.0.2", "PERMANENT"), ("10.0.0.3", "PERMANENT"),
                                                      ("10.0.0.9", "PERMANENT"), ("fd00::2", "PERMANENT")}
    undo = fdb.restore_neighbours(NEIGH, after, "vx4")
    assert undo == [["neigh", "replace", "10.0.0.3", "lladdr", "52:54:00:00:00:03", "dev", "vx4", "nud", "stale"]]
    assert fdb.neighbour_differences(NEIGH, after) is not None and fdb.neighbour_differences(NEIGH, NEIGH) is None


def test_a_neighbour_batch_failure_undoes_the_fdb_batch_too():
    class Fake:
        def __init__(self, binary, outcomes):
            self.binary, self.leading, self.outcomes, self.batches = binary, ["-n", "ns1"], list(outcomes), []

        def run(self, args, data=None):
            self.batches.append(data)
            outcome = self.outcomes.pop(0)
            if outcome is not None:
                raise outcome

    ip = Fake("/sbin/ip", [CommandError(["ip"], 2, "", "RTNETLINK answers: Invalid argument\n"), None])
    bridge = Fake("/sbin/bridge", [None])
    before_fdb, before_neigh = [], []
    added = {"mac": ZERO, "dst": "172.30.9.2", "vni": 42, "port": 4789, "via": None, "state": "permanent"}
    ctx = {"host": {"fdb": before_fdb, "neigh": before_neigh}, "device": VX, "want": {"dev": "vx"},
           "fdb_lines": [["fdb", "append", ZERO, "dev", "vx", "dst", "172.30.9.2", "self", "permanent"]],
           "neigh_lines": [["neigh", "replace", "10.0.0.2", "lladdr", "52:54:00:00:00:01", "dev", "vx", "nud", "permanent"]]}
    reads = iter([[added], []])  # the fdb as read before its undo, then after it
    neigh_reads = iter([[{"ip": "10.0.0.2", "mac": "52:54:00:00:00:01", "state": "PERMANENT"}], []])
    with pytest.raises(fdb.BothNotApplied) as err:
        fdb._apply_neighbours(ip, bridge, ctx, lambda device: next(reads), lambda: next(neigh_reads))
    exc = err.value
    assert exc.applied == [["bridge", "-n", "ns1", "fdb", "append", ZERO, "dev", "vx", "dst", "172.30.9.2", "self", "permanent"]]
    assert exc.rolled_back == [["ip", "-n", "ns1", "neigh", "del", "10.0.0.2", "dev", "vx"],
                               ["bridge", "-n", "ns1", "fdb", "del", ZERO, "dev", "vx", "dst", "172.30.9.2", "self"]]
    assert "an unknown part of the neighbour batch ran" in str(exc)
    assert "the host is as it was before this task" in str(exc), str(exc)
    assert bridge.batches[-1] == "fdb del 00:00:00:00:00:00 dev vx dst 172.30.9.2 self\n"
    assert isinstance(exc, BatchFailed) is False and isinstance(exc, CommandError)
