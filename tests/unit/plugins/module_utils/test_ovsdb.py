"""The OVSDB layer and the bridge/port planners, fed with a real ovs-vsctl read (fixtures/ovsdb/lab.json)."""

import copy
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_bridge as br
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_port as po
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import (
    MissingBridge,
    OvsState,
    atom,
    decode,
    map_updates,
    map_value,
    parse_tables,
    transaction_argv,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

LAB = Path(__file__).parent / "fixtures" / "ovsdb" / "lab.json"


@pytest.fixture(scope="module")
def state():
    return OvsState(parse_tables(LAB.read_text()))


def bridge_want(**params):
    base = dict(name="br-int", state="present", datapath_type=None, fail_mode=None, protocols=None,
                other_config=None, external_ids=None, parent=None, vlan=None, owner="netfabric", mtu_request=None)
    return br.want_bridge(dict(base, **params))


def port_want(**spec):
    return po.want_port(dict({"state": "present", "type": "system"}, **spec), None, "netfabric")


@pytest.mark.parametrize("raw, plain", [
    (["uuid", "abc"], "abc"),
    (["set", []], []),
    (["set", [1, 2]], [1, 2]),
    (["map", [["k", "v"], ["a", ["uuid", "u"]]]], {"k": "v", "a": "u"}),
    ("netdev", "netdev"),
    (7, 7),
])
def test_decode(raw, plain):
    assert decode(raw) == plain


@pytest.mark.parametrize("value, text", [
    ("flow", '"flow"'), ("a=b,c", '"a=b,c"'), ('say "hi"', '"say \\"hi\\""'), (5, "5"), (True, "true"),
])
def test_atom_quotes_strings_for_ovs_vsctl(value, text):
    assert atom(value) == text


def test_map_value_is_sorted_and_quoted():
    assert map_value({"remote_ip": "10.0.0.2", "key": "flow"}) == '{"key"="flow","remote_ip"="10.0.0.2"}'


def test_map_updates_sets_changed_keys_removes_nulls_keeps_others():
    have = {"keep": "1", "change": "old", "drop": "x"}
    assert map_updates("Port", "p", "external_ids", have, {"change": "new", "drop": None, "keep": "1", "absent": None}) == [
        ["set", "Port", "p", 'external_ids:"change"="new"'],
        ["remove", "Port", "p", "external_ids", '"drop"'],
    ]
    assert map_updates("Port", "p", "external_ids", have, None) == []


def test_transaction_chains_commands():
    assert transaction_argv([["add-br", "b"], ["set", "Bridge", "b", "x=1"]]) == ["--", "add-br", "b", "--", "set", "Bridge", "b", "x=1"]


def test_state_resolves_references_to_names(state):
    assert sorted(state.bridges) == ["br-int", "br-tun"]
    assert state.bridge_of("vxlan-ac1f0002") == "br-tun"
    assert state.ports["bond0"]["interface_names"] == ["e1", "e2"]
    assert "br-v100" in state.bridges["br-int"]["port_names"], "a fake bridge is a port of its parent"


def test_have_port_normalises_every_kind(state):
    assert po.have_port(state, "vxlan-ac1f0002")["options"] == {"remote_ip": "172.31.0.2", "key": "flow"}
    vm = po.have_port(state, "vm1")
    assert (vm["tag"], vm["type"], vm["mtu_request"], vm["ofport"] is not None) == (101, "internal", 1400, True)
    assert po.have_port(state, "trunk1")["trunks"] == [100, 200]
    assert po.have_port(state, "single")["trunks"] == [300], "a one-element set is printed as a bare atom"
    bond = po.have_port(state, "bond0")
    assert (bond["interfaces"], bond["bond_mode"], bond["lacp"]) == (["e1", "e2"], "balance-tcp", "active")
    qos = po.have_port(state, "q1")["qos"]
    assert (qos["type"], qos["other_config"], qos["queues"]) == ("linux-htb", {"max-rate": "100000000"}, {0: {"min-rate": "10000000"}})
    assert po.have_port(state, "nope") is None


def test_bridge_present_as_recorded_plans_nothing(state):
    want = bridge_want(name="br-tun", datapath_type="netdev", fail_mode="secure", protocols=["OpenFlow14", "OpenFlow10"])
    commands, before, after = br.plan_bridge(want, state)
    assert commands == []
    assert before["ports"] == ["patch-int", "vxlan-ac1f0002"] and after["external_ids"] == {}
    assert br.plan_bridge(bridge_want(name="br-int", datapath_type="netdev"), state)[0] == []


def test_bridge_mtu_request_is_compared_with_the_request_not_the_mtu(state):
    """The bridge's internal interface gets mtu_request (OVS resets an `ip link` MTU on its ports); the
    request is compared, since OVS reports in `mtu` what it could apply, which may differ."""
    commands, _before, after = br.plan_bridge(bridge_want(name="br-tun", mtu_request=1600), state)
    assert commands == [["set", "Interface", "br-tun", "mtu_request=1600"]] and after["mtu_request"] == 1600
    applied = copy.deepcopy(state)
    applied.interfaces["br-tun"] = dict(applied.interfaces["br-tun"], mtu_request=1600, mtu=1500)
    assert br.plan_bridge(bridge_want(name="br-tun", mtu_request=1600), applied)[0] == []
    assert br.plan_bridge(bridge_want(name="br-tun"), applied)[0] == []  # omitted: left as it is
    made = br.plan_bridge(bridge_want(name="br-new", mtu_request=1600), state)[0]
    assert made[0] == ["add-br", "br-new"] and made[-1] == ["set", "Interface", "br-new", "mtu_request=1600"]
    with pytest.raises(ValidationError, match="mtu_request"):
        bridge_want(name="br-new", mtu_request=67)
    with pytest.raises(ValidationError, match="fake bridge"):
        bridge_want(name="br-v", parent="br-phy", vlan=100, mtu_request=1500)


def test_owner_mark_only_on_what_the_call_creates(state):
    """A bridge that exists without our mark (another tool's br-int) is used, never stamped: teardown,
    which deletes only marked bridges, then leaves it. An explicit external_ids mark takes it over."""
    made = br.plan_bridge(bridge_want(name="br-new", owner="netfabric"), state)
    assert made[0][0] == ["add-br", "br-new"] and ["set", "Bridge", "br-new", 'external_ids:"netfabric_owner"="netfabric"'] in made[0]
    assert br.plan_bridge(bridge_want(name="br-tun", owner="netfabric"), state)[0] == []
    taken = br.plan_bridge(bridge_want(name="br-tun", external_ids={"netfabric_owner": "netfabric"}), state)[0]
    assert taken == [["set", "Bridge", "br-tun", 'external_ids:"netfabric_owner"="netfabric"']]
    # ports alike: an existing port keeps its mark; a created or moved one gets the call's owner
    assert po.plan_ports("br-int", [port_want(name="vm1", type="internal", tag=101, mtu_request=1400)], state)[0] == []
    new = po.plan_ports("br-int", [port_want(name="vm9", type="internal")], state)[0]
    assert new[0] == ["add-port", "br-int", "vm9", 'external_ids:"netfabric_owner"="netfabric"']


def test_module_default_owner_is_not_a_fabric_owner():
    assert br.ARGUMENT_SPEC["owner"]["default"] == po.AGGREGATE_ARGUMENT_SPEC["owner"]["default"] == "ansible"
    assert po.SINGLE_ARGUMENT_SPEC["owner"]["default"] == "ansible"


def test_bridge_changes_only_what_differs(state):
    commands, before, after = br.plan_bridge(bridge_want(fail_mode="secure", other_config={"hwaddr": "02:00:00:00:00:01"}), state)
    assert commands == [["set", "Bridge", "br-int", 'fail_mode="secure"'], ["set", "Bridge", "br-int", 'other_config:"hwaddr"="02:00:00:00:00:01"']]
    assert (before["fail_mode"], after["fail_mode"]) == ("standalone", "secure")


def test_bridge_create_and_delete(state):
    commands, before, after = br.plan_bridge(bridge_want(name="br-new", datapath_type="netdev"), state)
    assert commands[0] == ["add-br", "br-new"] and before is None and after["datapath_type"] == "netdev"
    commands, before, after = br.plan_bridge(bridge_want(name="br-int", state="absent"), state)
    assert commands == [["del-br", "br-int"]] and after is None and "vm1" in before["ports"]
    assert br.plan_bridge(bridge_want(name="gone", state="absent"), state) == ([], None, None)


def test_fake_bridge_is_read_and_moved_whole(state):
    same = bridge_want(name="br-v100", parent="br-int", vlan=100, external_ids={"netfabric_owner": None})
    assert br.plan_bridge(same, state)[0] == []
    moved = bridge_want(name="br-v100", parent="br-int", vlan=200)
    commands = br.plan_bridge(moved, state)[0]
    assert commands[:2] == [["del-br", "br-v100"], ["add-br", "br-v100", "br-int", "200"]]


def test_ports_as_recorded_plan_nothing(state):
    wants = [
        port_want(name="vm1", type="internal", tag=101, mtu_request=1400, external_ids={"netfabric_owner": "netfabric-tenants"}),
        port_want(name="trunk1", type="internal", trunks=[200, 100], vlan_mode="trunk", external_ids={"netfabric_owner": None}),
    ]
    assert po.plan_ports("br-int", wants, state) == ([], {}, {})


def test_port_change_is_minimal(state):
    want = port_want(name="vm1", type="internal", tag=102, external_ids={"netfabric_owner": "netfabric-tenants"})
    commands, before, after = po.plan_ports("br-int", [want], state)
    assert commands == [["set", "Port", "vm1", "tag=102"]]
    assert (before["vm1"]["tag"], after["vm1"]["tag"]) == (101, 102)


def test_tunnel_options_are_exact_and_keys_normalised(state):
    want = port_want(name="vxlan-ac1f0002", type="vxlan", options={"remote_ip": "172.31.0.2", "key": "0x3e9"},
                     external_ids={"netfabric_owner": "netfabric-vxlan"})
    commands, _before, after = po.plan_ports("br-tun", [want], state)
    assert commands == [["set", "Interface", "vxlan-ac1f0002", 'options={"key"="1001","remote_ip"="172.31.0.2"}']]
    assert after["vxlan-ac1f0002"]["options"] == {"remote_ip": "172.31.0.2", "key": "1001"}


def test_port_on_another_bridge_is_moved_in_the_same_transaction(state):
    commands = po.plan_ports("br-tun", [port_want(name="vm1", type="internal")], state)[0]
    assert commands[0] == ["del-port", "br-int", "vm1"] and commands[1][:3] == ["add-port", "br-tun", "vm1"]


def test_new_port_is_one_add_with_its_columns(state):
    want = port_want(name="gre-ac1f0003", type="gre", options={"remote_ip": "172.31.0.3", "key": "flow"})
    commands, before, after = po.plan_ports("br-tun", [want], state)
    assert commands == [
        ["add-port", "br-tun", "gre-ac1f0003", 'external_ids:"netfabric_owner"="netfabric"'],
        ["set", "Interface", "gre-ac1f0003", 'type="gre"', 'options={"key"="flow","remote_ip"="172.31.0.3"}'],
    ]
    assert before == {"gre-ac1f0003": None} and after["gre-ac1f0003"]["type"] == "gre"


def test_purge_removes_only_this_owners_unlisted_ports(state):
    commands, before, _after = po.plan_ports("br-tun", [], state, purge=True, owner="netfabric-vxlan")
    assert commands == [["del-port", "br-tun", "vxlan-ac1f0002"]] and list(before) == ["vxlan-ac1f0002"]
    assert po.plan_ports("br-tun", [], state, purge=True, owner="netfabric-gre")[0] == []


def test_bond_member_change_recreates_the_bond(state):
    want = port_want(name="bond0", interfaces=["e2", "e1", "e3"], bond_mode="balance-tcp", lacp="active")
    commands = po.plan_ports("br-int", [want], state)[0]
    assert commands[0] == ["del-port", "br-int", "bond0"]
    assert commands[1][:6] == ["add-bond", "br-int", "bond0", "e1", "e2", "e3"]


def test_pruned_ports_go_first_so_a_wanted_bond_can_take_their_interface(state):
    want = port_want(name="bondx", interfaces=["patch-tun", "e3"])
    commands = po.plan_ports("br-int", [want], state, purge=True, owner="netfabric")[0]
    assert commands[0] == ["del-port", "br-int", "patch-tun"] and commands[1][:5] == ["add-bond", "br-int", "bondx", "e3", "patch-tun"]


def test_bond_mode_and_delays_change_in_place(state):
    """A bond's mode, LACP and delays are Port columns: set on the existing bond, which stays."""
    want = port_want(name="bond0", interfaces=["e1", "e2"], bond_mode="active-backup", lacp="off", bond_updelay=100, bond_downdelay=0)
    commands, before, after = po.plan_ports("br-int", [want], state)
    assert commands == [["set", "Port", "bond0", "bond_mode=\"active-backup\"", "lacp=\"off\"", "bond_updelay=100"]]
    assert (before["bond0"]["bond_updelay"], after["bond0"]["bond_updelay"]) == (0, 100)
    same = port_want(name="bond0", interfaces=["e1", "e2"], bond_mode="balance-tcp", lacp="active", bond_updelay=0, bond_downdelay=0)
    assert po.plan_ports("br-int", [same], state)[0] == []


def test_bond_health_is_its_members(state):
    """A bond has no OpenFlow port of its own: verify looks at each member."""
    bond = po.have_port(state, "bond0")
    assert po.port_problems({"bond0": bond}, ["bond0"]) == [] and bond["ofport"] == min(state.interfaces[m]["ofport"] for m in ("e1", "e2"))
    broken = OvsState(parse_tables(LAB.read_text()))
    broken.interfaces["e2"] = dict(broken.interfaces["e2"], ofport=-1, error="could not open network device e2 (No such device)")
    assert po.port_problems({"bond0": po.have_port(broken, "bond0")}, ["bond0"]) == [
        "bond0: no OpenFlow port (ofport -1)", "bond0: member e2: could not open network device e2 (No such device)"]


def test_qos_replacement_destroys_the_old_rows(state):
    have = po.have_port(state, "q1")
    want = port_want(name="q1", qos={"type": "linux-htb", "other_config": {"max-rate": 100000000}, "queues": {0: {"min-rate": 20000000}}})
    commands = po.plan_ports("br-int", [want], state)[0]
    assert ["set", "Port", "q1", "qos=@qos0"] in commands
    assert ["destroy", "QoS", have["qos"]["uuid"]] in commands
    assert ["destroy", "Queue", have["qos"]["queue_uuids"][0]] in commands
    same = port_want(name="q1", qos={"type": "linux-htb", "other_config": {"max-rate": 100000000}, "queues": {0: {"min-rate": 10000000}}},
                     external_ids={"netfabric_owner": None})
    assert po.plan_ports("br-int", [same], state)[0] == []


@pytest.mark.parametrize("spec, field", [
    ({"name": "p", "tag": 4096}, "tag"),
    ({"name": "p", "trunks": [5000]}, "trunks[0]"),
    ({"name": "p", "type": "vxlan", "options": {"remote_ip": "10.0.0.1", "key": "16777216"}}, "options.key"),
    ({"name": "p", "type": "gre", "options": {"remote_ip": "10.0.0.1", "key": "4294967296"}}, "options.key"),
    ({"name": "p", "type": "vxlan", "options": {"remote_ip": "nope"}}, "options.remote_ip"),
    ({"name": "p", "type": "patch"}, "options.peer"),
    ({"name": "p", "interfaces": ["only-one"]}, "interfaces"),
    ({"name": "p", "bond_mode": "balance-tcp"}, "bond_mode"),
    ({"name": "p", "bond_updelay": 100}, "bond_updelay"),
    ({"name": "p", "interfaces": ["e1", "e2"], "bond_downdelay": -1}, "bond_downdelay"),
    ({"name": "p", "mtu_request": 20}, "mtu_request"),
    ({"name": "p:1"}, "name"),
])
def test_bad_port_input_names_the_field(spec, field):
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        port_want(**spec)


def test_aggregate_rejects_duplicates_with_index():
    with pytest.raises(ValidationError, match=r"ports\[1\]\.name"):
        po.want_ports([{"name": "a", "state": "present"}, {"name": "a", "state": "present"}], "netfabric")


def test_missing_bridge_is_an_input_error(state):
    with pytest.raises(MissingBridge, match="bridge: 'br-nope' does not exist") as raised:
        po.plan_ports("br-nope", [port_want(name="x")], state)
    assert raised.value.bridge == "br-nope" and isinstance(raised.value, ValidationError)


def test_an_assumed_bridge_gets_every_port_and_takes_ports_from_other_bridges(state):
    """Check mode on a new host plans on a stand-in for the bridge an earlier task would create."""
    fresh = OvsState(parse_tables(LAB.read_text()))
    moved = next(name for name, row in fresh.ports.items() if row.get("bridge") and not row.get("fake_bridge") and name != row["bridge"])
    fresh.assume_bridge("br-new")
    commands, before, after = po.plan_ports("br-new", [port_want(name="x"), port_want(name=moved)], fresh, purge=True)
    assert [c[:3] for c in commands if c[0] in ("add-port", "del-port")] == [
        ["add-port", "br-new", "x"], ["del-port", fresh.bridge_of(moved), moved], ["add-port", "br-new", moved]]
    assert sorted(after) == sorted(["x", moved]) and before[moved]["bridge"] == fresh.bridge_of(moved)


def test_port_on_another_bridge_is_refused_before_any_write_when_asked(state):
    """VM ports of the fabric use from_other_bridge=fail: a host's NIC on another bridge is never taken."""
    with pytest.raises(ValidationError, match=r"from_other_bridge: port 'vm1' is on bridge 'br-int', not 'br-tun'"):
        po.plan_ports("br-tun", [port_want(name="vm1", type="internal", from_other_bridge="fail")], state)
    # a port already on this bridge is simply kept
    kept = port_want(name="vm1", type="internal", from_other_bridge="fail", external_ids={"netfabric_owner": "netfabric-tenants"})
    assert po.plan_ports("br-int", [kept], state)[0] == []


def test_ofport_request_is_set_and_read_back(state):
    want = port_want(name="vm1", type="internal", ofport_request=10001, external_ids={"netfabric_owner": "netfabric-tenants"})
    commands, _before, after = po.plan_ports("br-int", [want], state)
    assert commands == [["set", "Interface", "vm1", "ofport_request=10001"]]
    assert after["vm1"]["ofport_request"] == 10001
    with pytest.raises(ValidationError, match="ofport_request"):
        po.want_port({"name": "p", "ofport_request": 65280}, None, "netfabric")
