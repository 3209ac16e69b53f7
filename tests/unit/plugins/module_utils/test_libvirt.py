"""libvirt_network's pure half: validation (each error names its field), parsing of real `virsh net-info` and
`virsh net-dumpxml` output (recorded with libvirt 9.0 from a running libvirtd), the planned virsh calls, and
the reads as argv (a fake virsh that answers only the exact calls it knows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _libvirt as libvirt
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "libvirt"
UUID = "5a3918f1-a1fa-4de6-8a63-b5d9588f76e2"
RED = {"name": "red", "vlan": 101, "profileid": "red"}
BLUE = {"name": "blue", "vlan": 102}


def fixture(name):
    return (FIXTURES / name).read_text()


def want(portgroups=(RED, BLUE), **given):
    params = {"name": "netfabric", "bridge": "br-int", "portgroups": list(portgroups), "uri": "qemu:///system"}
    params.update(given)
    result = ArgumentSpecValidator(libvirt.ARGUMENT_SPEC, required_if=libvirt.RULES["required_if"]).validate(params)
    if result.error_messages:
        raise ValidationError("; ".join(result.error_messages))
    return libvirt.network_want(result.validated_parameters)


def have(config="netfabric-inactive.xml", live="netfabric-live.xml", info="netfabric-info.txt", **overrides):
    """The network as read from the recorded output; `live`/`config` may be XML text or a fixture name."""
    def parsed(text):
        return libvirt.parse_network(fixture(text) if text.endswith(".xml") else text)

    state = {"exists": True, **libvirt.parse_info(fixture(info)), "xml": fixture(config) if config.endswith(".xml") else config}
    state.update(overrides)
    state.update(config=parsed(config), live=parsed(live) if state["active"] and live else None)
    return state


NOTHING = {"exists": False, "active": False, "persistent": False, "autostart": False, "config": None, "live": None, "xml": None}


def calls(w, h):
    return libvirt.plan_network(w, h)[0]


def test_parse_recorded_info_and_xml():
    assert libvirt.parse_info(fixture("netfabric-info.txt")) == {"active": True, "persistent": True, "autostart": True}
    assert libvirt.parse_info(fixture("nat-info.txt")) == {"active": False, "persistent": True, "autostart": False}
    assert libvirt.parse_network(fixture("netfabric-inactive.xml")) == {
        "name": "netfabric", "uuid": UUID, "forward": "bridge", "bridge": "br-int", "virtualport": "openvswitch",
        "portgroups": {"red": {"vlan": 101, "profileid": "red"}, "blue": {"vlan": 102, "profileid": None}}}
    nat = libvirt.parse_network(fixture("nat-inactive.xml"))
    assert (nat["forward"], nat["bridge"], nat["virtualport"], nat["portgroups"]) == ("nat", "virbr9", None, {})


def test_trunks_and_native_modes_never_equal_a_tag():
    groups = libvirt.parse_network(fixture("trunk-inactive.xml"))["portgroups"]
    assert groups["none"] == {"vlan": None, "profileid": None}
    assert isinstance(groups["t"]["vlan"], str) and "trunk" in groups["t"]["vlan"]
    assert isinstance(groups["n"]["vlan"], str) and "nativeMode" in groups["n"]["vlan"]
    got = want([{"name": "t", "vlan": 5}, {"name": "n", "vlan": 7}, {"name": "none", "vlan": 8}], name="trunk")
    h = have(config="trunk-inactive.xml", info="nat-info.txt")
    assert [c[:4] for c in calls(got, h)] == [["net-update", "trunk", "modify", "portgroup"]] * 3 + [
        ["net-start", "trunk"], ["net-autostart", "trunk"]]


def test_want_normalises():
    assert want() == {"name": "netfabric", "state": "present", "bridge": "br-int", "autostart": True,
                      "uri": "qemu:///system", "timeout": 5,
                      "portgroups": {"red": {"vlan": 101, "profileid": "red"}, "blue": {"vlan": 102, "profileid": None}}}
    assert want(state="absent", bridge=None)["bridge"] is None


@pytest.mark.parametrize(("given", "message"), [
    ({"name": ""}, "name: '' is not a valid name"),
    ({"name": "a/b"}, "name: 'a/b' is not a valid name"),
    ({"name": "x" * 65}, "longer than 64 bytes"),
    ({"bridge": None}, "bridge: required with state=present"),
    ({"bridge": "br-int-0123456789"}, "bridge: 'br-int-0123456789' is not a valid interface name"),
    ({"portgroups": [{"name": "red", "vlan": 0}]}, "portgroups[0].vlan: 0 is out of range (allowed 1-4094)"),
    ({"portgroups": [{"name": "red", "vlan": 4095}]}, "portgroups[0].vlan: 4095 is out of range (allowed 1-4094)"),
    ({"portgroups": [RED, {"name": "red", "vlan": 7}]}, "portgroups[1].name: portgroup 'red' is given twice"),
    ({"portgroups": [{"name": "red'", "vlan": 7}]}, "portgroups[0].name: \"red'\" is not a valid name"),
    ({"portgroups": [{"name": "red", "vlan": 7, "profileid": "p" * 40}]}, "portgroups[0].profileid:"),
    ({"uri": "qemu"}, "uri: 'qemu' is not a libvirt connection URI"),
    ({"uri": "qemu:///system x"}, "uri: 'qemu:///system x' is not a libvirt connection URI"),
    ({"timeout": 0}, "timeout: 0 is out of range"),
])
def test_bad_input_names_the_field(given, message):
    with pytest.raises(ValidationError) as error:
        want(**given)
    assert message in str(error.value)


def test_new_network_defined_started_autostarted():
    got, xml, after = libvirt.plan_network(want(), NOTHING)
    assert got == [["net-define", "/dev/stdin"], ["net-start", "netfabric"], ["net-autostart", "netfabric"]]
    parsed = libvirt.parse_network(xml)
    assert parsed["uuid"] is None and parsed["portgroups"] == want()["portgroups"]
    assert (parsed["forward"], parsed["bridge"], parsed["virtualport"]) == ("bridge", "br-int", "openvswitch")
    assert after["active"] and after["portgroups"] == want()["portgroups"]


def test_recorded_network_as_wanted_needs_nothing_and_diffs_as_equal():
    h = have()
    assert libvirt.plan_network(want(), h) == ([], None, libvirt.view(h))
    assert libvirt.tidy(h["xml"]) == libvirt.network_xml(want(), UUID), "the diff would show a change that is not one"
    assert calls(want(portgroups=(BLUE, RED)), h) == [], "portgroup order is not a difference"


def test_tag_change_is_live_and_config_without_restart():
    got = calls(want(portgroups=({**RED, "vlan": 201}, BLUE)), have())
    assert got == [["net-update", "netfabric", "modify", "portgroup",
                    '<portgroup name="red"><vlan><tag id="201" /></vlan><virtualport type="openvswitch">'
                    '<parameters profileid="red" /></virtualport></portgroup>', "--live", "--config"]]


def test_portgroups_added_and_deleted():
    got = calls(want(portgroups=(RED, {"name": "green", "vlan": 103})), have())
    assert got == [["net-update", "netfabric", "delete", "portgroup", '<portgroup name="blue" />', "--live", "--config"],
                   ["net-update", "netfabric", "add-last", "portgroup",
                    '<portgroup name="green"><vlan><tag id="103" /></vlan></portgroup>', "--live", "--config"]]
    assert calls(want(portgroups=()), have())[-1][2:4] == ["delete", "portgroup"]


def test_live_and_config_apart_are_each_mended():
    stale_live = fixture("netfabric-live.xml").replace("<tag id='102'/>", "<tag id='99'/>")
    assert calls(want(), have(live=stale_live)) == [
        ["net-update", "netfabric", "modify", "portgroup", '<portgroup name="blue"><vlan><tag id="102" /></vlan></portgroup>',
         "--live"]]
    stale_config = fixture("netfabric-inactive.xml").replace("<tag id='102'/>", "<tag id='99'/>")
    assert [c[-1] for c in calls(want(), have(config=stale_config))] == ["--config"]


def test_new_bridge_redefines_and_restarts_keeping_the_uuid():
    got, xml, _after = libvirt.plan_network(want(bridge="br-new"), have())
    assert got == [["net-define", "/dev/stdin"], ["net-destroy", "netfabric"], ["net-start", "netfabric"]]
    assert libvirt.parse_network(xml)["uuid"] == UUID and libvirt.parse_network(xml)["bridge"] == "br-new"
    live_only = fixture("netfabric-live.xml").replace("br-int", "br-old")
    assert calls(want(), have(live=live_only)) == [["net-destroy", "netfabric"], ["net-start", "netfabric"]]


def test_a_nat_network_of_the_name_is_redefined():
    got, xml, _after = libvirt.plan_network(want(), have(config="nat-inactive.xml", info="nat-info.txt"))
    assert got == [["net-define", "/dev/stdin"], ["net-start", "netfabric"], ["net-autostart", "netfabric"]]
    assert libvirt.parse_network(xml)["forward"] == "bridge"


def test_stopped_network_updated_then_started_and_autostart_off():
    h = have(active=False)
    assert calls(want(portgroups=({**RED, "vlan": 5}, BLUE), autostart=False), h) == [
        ["net-update", "netfabric", "modify", "portgroup",
         '<portgroup name="red"><vlan><tag id="5" /></vlan><virtualport type="openvswitch">'
         '<parameters profileid="red" /></virtualport></portgroup>', "--config"],
        ["net-start", "netfabric"], ["net-autostart", "netfabric", "--disable"]]


def test_transient_network_is_defined_without_restart():
    expected = [["net-define", "/dev/stdin"], ["net-autostart", "netfabric"]]
    assert calls(want(), have(persistent=False, autostart=False)) == expected


def test_absent():
    gone = want(state="absent", bridge=None)
    expected = ([["net-destroy", "netfabric"], ["net-undefine", "netfabric"]], None, {"exists": False})
    assert libvirt.plan_network(gone, have()) == expected
    assert calls(gone, have(active=False)) == [["net-undefine", "netfabric"]]
    assert calls(gone, NOTHING) == []


class FakeVirsh:
    """Answers the exact argv lists it was given output for; anything else fails the test."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def run(self, args, data=None):
        self.calls.append(list(args))
        answer = self.answers[tuple(args)]
        if isinstance(answer, CommandError):
            raise answer
        return answer


def reader(answers):
    host = libvirt.Virsh.__new__(libvirt.Virsh)
    host.want = want()
    host.virsh = FakeVirsh(answers)
    return host


def test_read_asks_info_then_both_definitions():
    host = reader({("net-info", "netfabric"): fixture("netfabric-info.txt"),
                   ("net-dumpxml", "--inactive", "netfabric"): fixture("netfabric-inactive.xml"),
                   ("net-dumpxml", "netfabric"): fixture("netfabric-live.xml")})
    got = host.read()
    assert host.virsh.calls == [["net-info", "netfabric"], ["net-dumpxml", "--inactive", "netfabric"],
                                ["net-dumpxml", "netfabric"]]
    assert got["exists"] and got["config"] == got["live"] and got["xml"] == fixture("netfabric-inactive.xml")


def test_read_of_a_missing_network_and_of_a_failing_daemon():
    missing = CommandError(["virsh"], 1, "", fixture("not-found-stderr.txt"))
    assert reader({("net-info", "netfabric"): missing}).read() == NOTHING
    down = CommandError(["virsh"], 1, "", "error: failed to connect to the hypervisor\n")
    with pytest.raises(CommandError):
        reader({("net-info", "netfabric"): down}).read()
