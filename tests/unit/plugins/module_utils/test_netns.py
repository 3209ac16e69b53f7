"""ip_netns's pure half: validation (each error names its field), sysctl output parsing, and the exact
`ip -batch` lines planned and the lines that undo them."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _netns as netns
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

ROUTER = {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": 1}


def want(name="qrouter-red", **given):
    params = {"name": name, "state": "present", "sysctls": {}, "timeout": 5}
    params.update(given)
    result = ArgumentSpecValidator(netns.ARGUMENT_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return netns.netns_want(result.validated_parameters)


def have(exists=True, sysctls=None, missing=(), pids=()):
    return {"exists": exists, "sysctls": dict(sysctls or {}), "missing": list(missing), "said": "", "pids": list(pids)}


def test_want_is_canonical_and_absent_ignores_sysctls():
    got = want(sysctls={"net.ipv4.ip_forward": "01", "net.ipv4.tcp_congestion_control": "cubic",
                        "net.ipv6.conf.all.disable_ipv6": -0})
    assert got == {"name": "qrouter-red", "state": "present", "timeout": 5,
                   "sysctls": {"net.ipv4.ip_forward": "1", "net.ipv4.tcp_congestion_control": "cubic",
                               "net.ipv6.conf.all.disable_ipv6": "0"}}
    assert want(state="absent", sysctls=ROUTER)["sysctls"] == {}


@pytest.mark.parametrize(("given", "field", "rule"), [
    ({"name": ""}, "name:", "empty"),
    ({"name": "a/b"}, "name:", "'/'"),
    ({"name": ".."}, "name:", "starts with '.'"),
    ({"name": "a b"}, "name:", "whitespace"),
    ({"name": "x" * 256}, "name:", "longer than 255 bytes"),
    ({"sysctls": {"kernel.pid_max": 1}}, "sysctls: key 'kernel.pid_max'", "net."),
    ({"sysctls": {"net.ipv4..ip_forward": 1}}, "sysctls: key", "dot-separated"),
    ({"sysctls": {"net/ipv4/ip_forward": 1}}, "sysctls: key", "net."),
    ({"sysctls": {"net.ipv4.ip_forward": True}}, "sysctls.net.ipv4.ip_forward:", "1 or 0"),
    ({"sysctls": {"net.ipv4.ip_forward": "1 2"}}, "sysctls.net.ipv4.ip_forward:", "without whitespace"),
    ({"sysctls": {"net.ipv4.ip_forward": "1#x"}}, "sysctls.net.ipv4.ip_forward:", "'#'"),
    ({"sysctls": {"net.ipv4.ip_forward": ""}}, "sysctls.net.ipv4.ip_forward:", "printable ASCII"),
    ({"sysctls": {"net.ipv4.ip_forward": 1.5}}, "sysctls.net.ipv4.ip_forward:", "an integer"),
    ({"timeout": 0}, "timeout:", "allowed 1-3600"),
])
def test_bad_input_names_the_field_and_the_rule(given, field, rule):
    params = dict({"name": "qrouter-red", "state": "present", "sysctls": {}, "timeout": 5}, **given)
    with pytest.raises(ValidationError) as caught:
        netns.netns_want(params)
    assert str(caught.value).startswith(field) and rule in str(caught.value), caught.value


def test_list_may_print_nothing_and_sysctl_output_parses():
    assert netns.listed(None, "a") is False  # `ip -j netns list` prints nothing when there is none
    assert netns.listed([{"name": "b", "id": 0}, {"name": "a"}], "a") is True
    out = "net.ipv4.ip_forward = 1\nnet.ipv4.ip_local_port_range = 32768\t60999\nnet.core.x = \n"
    keys = ["net.ipv4.ip_forward", "net.ipv4.ip_local_port_range", "net.core.x", "net.ipv4.nope"]
    assert netns.parse_sysctls(out, keys) == (
        {"net.ipv4.ip_forward": "1", "net.ipv4.ip_local_port_range": "32768\t60999", "net.core.x": ""},
        ["net.ipv4.nope"])
    said = ("sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory\n"
            "sysctl: cannot stat /proc/sys/net/ipv6/conf/all/x_y: No such file or directory\nCommand failed -:2\n")
    assert netns.missing_keys(said) == ["net.ipv4.nope", "net.ipv6.conf.all.x_y"]


def test_create_is_one_batch_of_add_and_every_sysctl():
    lines, before, after = netns.plan_netns(want(sysctls=ROUTER), have(exists=False), "/sbin/sysctl")
    assert lines == [
        ["netns", "add", "qrouter-red"],
        ["netns", "exec", "qrouter-red", "/sbin/sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
         "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.default.rp_filter=1"],
    ]
    assert before == {"exists": False, "sysctls": {}}
    assert after == {"exists": True, "sysctls": {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1",
                                                 "net.ipv4.conf.default.rp_filter": "1"}}
    assert netns.plan_netns(want(), have(exists=False))[0] == [["netns", "add", "qrouter-red"]]


def test_existing_namespace_gets_only_the_differing_sysctls_and_then_nothing():
    current = {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1"}
    lines, before, after = netns.plan_netns(want(sysctls=ROUTER), have(sysctls=current))
    assert lines == [["netns", "exec", "qrouter-red", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]]
    assert before == {"exists": True, "sysctls": current}
    assert after["sysctls"]["net.ipv4.ip_forward"] == "1"
    done = dict(current, **{"net.ipv4.ip_forward": "1"})
    assert netns.plan_netns(want(sysctls=ROUTER), have(sysctls=done))[0] == []


def test_a_sysctl_the_namespace_lacks_is_refused_by_name():
    with pytest.raises(ValidationError, match=r"^sysctls: net\.ipv4\.nope is not a sysctl"):
        netns.plan_netns(want(sysctls={"net.ipv4.nope": 1}), have(missing=["net.ipv4.nope"]))


def test_absent_deletes_only_a_namespace_without_processes():
    absent = want(state="absent")
    assert netns.plan_netns(absent, have())[0] == [["netns", "del", "qrouter-red"]]
    lines, before, after = netns.plan_netns(absent, have(exists=False))
    assert lines == [] and before == after == {"exists": False, "sysctls": {}}
    with pytest.raises(ValidationError) as caught:
        netns.plan_netns(absent, have(pids=[(4242, "dnsmasq"), (4243, "sleep")]))
    assert "4242 (dnsmasq), 4243 (sleep)" in str(caught.value) and "nothing was changed" in str(caught.value)


def test_undo_deletes_what_it_created_and_writes_old_values_back():
    wanted = want(sysctls=ROUTER)
    now = {"exists": True, "sysctls": {"net.ipv4.ip_forward": "1"}}
    assert netns.restore_lines(wanted, have(exists=False), now) == [["netns", "del", "qrouter-red"]]
    assert netns.restore_lines(wanted, have(exists=False), {"exists": False, "sysctls": {}}) == []
    old = {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.rp_filter": "1"}
    now = {"exists": True, "sysctls": {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1"}}
    assert netns.restore_lines(wanted, have(sysctls=old), now) == [
        ["netns", "exec", "qrouter-red", "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]]
    assert netns.differs(have(sysctls=old), now) is not None
    assert netns.differs(have(sysctls=old), {"exists": True, "sysctls": old}) is None
