"""Teardown's module features and the daemon-fault rules, on the pure layers (a real ovs-vsctl read:
fixtures/ovsdb/lab.json). The same behaviours against real OVS: tests/integration/test_daemon_faults.py,
test_ovs_bridge.py, test_ovs_ports.py."""

import copy
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_bridge as br
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_port as po
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import MOVED_FROM_KEY, OWNER_KEY
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import OvsState, parse_tables
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, CommandTimeout, daemon_error, gave_up, switch_rundir
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

LAB = Path(__file__).parent / "fixtures" / "ovsdb" / "lab.json"


@pytest.fixture
def state():
    return OvsState(parse_tables(LAB.read_text()))


@pytest.fixture
def marked(state):
    """The fixture with br-tun marked as the bridges role marks what it creates."""
    state.bridges["br-tun"]["external_ids"] = {OWNER_KEY: "netfabric"}
    return state


def absent(name, only_if_empty, owner="netfabric"):
    return br.want_bridge({"name": name, "state": "absent", "only_if_empty": only_if_empty, "owner": owner})


def test_only_if_empty_keeps_a_bridge_with_ports_and_names_them(marked):
    commands, before, after, extra = br.plan_bridge(absent("br-tun", True), marked)
    assert commands == [] and before == after
    assert extra["kept_by"] == ["patch-int", "vxlan-ac1f0002"]
    assert "patch-int, vxlan-ac1f0002" in extra["msg"]


def test_only_if_empty_deletes_a_bridge_with_only_its_local_port(marked):
    for name in ("patch-int", "vxlan-ac1f0002"):
        marked.bridges["br-tun"]["port_names"].remove(name)
    commands, _before, after = br.plan_bridge(absent("br-tun", True), marked)
    assert commands == [["del-br", "br-tun"]] and after is None


def test_only_if_empty_keeps_an_empty_bridge_with_another_owner_mark(marked):
    for name in ("patch-int", "vxlan-ac1f0002"):
        marked.bridges["br-tun"]["port_names"].remove(name)
    commands, before, after, extra = br.plan_bridge(absent("br-tun", True, owner="ansible"), marked)
    assert commands == [] and before == after
    assert "owner mark is 'netfabric', not 'ansible'" in extra["msg"]


def test_without_only_if_empty_absent_deletes_with_ports(state):
    assert br.plan_bridge(absent("br-tun", False), state)[0] == [["del-br", "br-tun"]]


def test_only_if_empty_is_refused_with_state_present():
    with pytest.raises(ValidationError, match="^only_if_empty: "):
        br.want_bridge({"name": "br0", "state": "present", "only_if_empty": True})


def moved(state):
    """`single` taken from br-int onto br-tun by owner `fabric`; returns the commands and the state after."""
    want = po.want_port({"name": "single", "state": "present", "type": "system"}, 0, "fabric")
    commands, _before, after = po.plan_ports("br-tun", [want], state, owner="fabric")
    assert ["del-port", "br-int", "single"] in commands
    later = copy.deepcopy(state)
    later.ports["single"]["bridge"] = "br-tun"
    later.ports["single"]["external_ids"] = after["single"]["external_ids"]
    later.bridges["br-int"]["port_names"].remove("single")
    later.bridges["br-tun"]["port_names"].append("single")
    return commands, after, later


def test_a_moved_port_records_the_bridge_it_came_from(state):
    commands, after, _later = moved(state)
    assert after["single"]["external_ids"] == {OWNER_KEY: "fabric", MOVED_FROM_KEY: "br-int"}
    add = next(c for c in commands if c[0] == "add-port")
    assert f'external_ids:"{MOVED_FROM_KEY}"="br-int"' in add


@pytest.mark.parametrize("how", ["purge", "absent"])
def test_removing_a_moved_port_gives_it_back(state, how):
    _commands, _after, later = moved(state)
    if how == "purge":
        commands, before, after = po.plan_ports("br-tun", [], later, purge=True, owner="fabric")
    else:
        gone = po.want_port({"name": "single", "state": "absent"}, 0, "fabric")
        commands, before, after = po.plan_ports("br-tun", [gone], later, owner="fabric")
    assert commands[:2] == [["del-port", "br-tun", "single"], ["add-port", "br-int", "single"]]
    assert after["single"]["bridge"] == "br-int" and before["single"]["bridge"] == "br-tun"


def test_a_moved_port_whose_bridge_is_gone_is_deleted(state):
    _commands, _after, later = moved(state)
    del later.bridges["br-int"]
    commands, _before, after = po.plan_ports("br-tun", [], later, purge=True, owner="fabric")
    assert commands == [["del-port", "br-tun", "single"]] and after == {}


@pytest.mark.parametrize("db, rundir, found", [
    (None, None, None),
    (None, "/run/ovs2", "/run/ovs2"),
    ("unix:/run/ovs2/db.sock", None, "/run/ovs2"),
    ("unix:/run/ovs2/db.sock", "/run/ovs2/", "/run/ovs2"),
    ("tcp:192.0.2.1:6640", "/run/ovs2", "/run/ovs2"),
])
def test_the_switch_is_found_from_db(db, rundir, found):
    assert switch_rundir(db, rundir) == found


@pytest.mark.parametrize("db, rundir, field", [
    ("unix:/run/ovs2/db.sock", "/run/openvswitch", "rundir"),
    ("tcp:192.0.2.1:6640", None, "db"),
    ("ssl:192.0.2.1:6640", None, "db"),
])
def test_a_db_and_rundir_that_disagree_are_refused_naming_the_field(db, rundir, field):
    with pytest.raises(ValidationError, match=f"^{field}: "):
        switch_rundir(db, rundir)


@pytest.mark.parametrize("rc, stderr, how", [
    (-14, "fatal_signal|WARN|terminating with signal 14 (Alarm clock)", "timeout"),
    (1, "ovs-vsctl: unix:/run/db.sock: database connection failed (Connection refused)", "unreachable"),
    (1, "ovs-ofctl: /run/br0.mgmt: failed to open socket (Connection refused)", "unreachable"),
    (1, "ovs-vsctl: no bridge named br9", None),
])
def test_a_daemon_that_did_not_answer_is_told_from_a_refusal(rc, stderr, how):
    exc = CommandError(["ovs-vsctl"], rc, "", stderr)
    assert gave_up(exc) == how
    named = daemon_error(exc, "ovsdb-server", 5, "nothing was written")
    if how:
        assert str(named).startswith("ovsdb-server ") and str(named).endswith("nothing was written")
    else:
        assert named is exc


def test_the_runner_deadline_counts_as_a_timeout():
    assert gave_up(CommandTimeout(["ovs-ofctl", "dump-flows"], 10)) == "timeout"


def test_verify_names_a_missing_port_and_skips_a_patch_end_whose_peer_is_not_made_yet(state):
    wants = [
        po.want_port({"name": "vxlan-ac1f0002", "type": "vxlan", "options": {"remote_ip": "172.31.0.2"}}, 0, "fabric"),
        po.want_port({"name": "ghost", "type": "internal"}, 1, "fabric"),
        po.want_port({"name": "patch-x", "type": "patch", "options": {"peer": "patch-y"}}, 2, "fabric"),
    ]
    assert po.unhealthy(state, wants) == ["ghost: missing"]


def test_read_links_gives_a_mac_or_none(tmp_path, monkeypatch):
    from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_info as info

    (tmp_path / "uplink").mkdir()
    (tmp_path / "uplink" / "address").write_text("52:54:00:12:34:56\n")
    monkeypatch.setattr(info, "SYS_NET", str(tmp_path))
    assert info.read_links(["uplink", "gone"]) == {"uplink": {"address": "52:54:00:12:34:56"}, "gone": {"address": None}}
