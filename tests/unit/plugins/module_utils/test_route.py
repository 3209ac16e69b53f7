"""ip_route's pure half: recorded `ip -j -d route show` output, validation, and the exact lines planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _route as route
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "route"


def load(name, version=4):
    return route.normalise_routes(json.loads((FIXTURES / name).read_text()), version)


MAIN = load("main_v4.json")  # default, a proto static host route, kernel, two metrics, a link route, multipath, blackhole
MAIN6 = load("main_v6.json", 6)


def want(routes, **given):
    params = {"routes": routes, "table": "main", "family": "ipv4", "state": "present", "netns": None, "timeout": 5}
    params.update(given)
    result = ArgumentSpecValidator(route.ARGUMENT_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return route.route_want(result.validated_parameters)


def test_normalise_recorded_tables():
    by_dst = {(r["dst"], r["metric"]): r for r in MAIN}
    assert by_dst[("default", 0)] == {"dst": "default", "via": "10.9.0.254", "dev": "va", "metric": 0,
                                      "type": "unicast", "proto": "boot"}
    assert by_dst[("10.1.1.1/32", 0)]["proto"] == "static"  # host routes print without a prefix length
    assert by_dst[("10.9.0.0/24", 0)]["proto"] == "kernel"
    assert by_dst[("10.50.0.0/24", 0)]["nexthops"] == [{"via": "10.9.0.2", "dev": "va"}, {"via": "10.9.0.3", "dev": "va"}]
    assert by_dst[("10.60.0.0/24", 0)]["type"] == "blackhole"
    seen6 = {(r["dst"], r["metric"], r["proto"]) for r in MAIN6}
    assert seen6 >= {("2001:db8:5::/48", 1024, "boot"), ("fe80::/64", 256, "kernel")}


def test_present_is_idempotent_and_replaces_a_key_that_goes_elsewhere():
    assert route.plan_routes(want([{"dst": "0.0.0.0/0", "via": "10.9.0.254"},
                                   {"dst": "10.20.0.0/16", "via": "10.9.0.2", "dev": "va", "metric": 5}]), MAIN) == []
    assert route.plan_routes(want([{"dst": "default", "via": "10.9.0.1"}]), MAIN) == [
        ["route", "replace", "default", "via", "10.9.0.1", "metric", "0", "table", "254"]]
    # a different device is a different route
    assert route.plan_routes(want([{"dst": "10.30.0.0/24", "dev": "vb"}]), MAIN) == [
        ["route", "replace", "10.30.0.0/24", "dev", "vb", "metric", "0", "table", "254"]]


def test_exact_spares_kernel_routes_and_spells_every_kind_it_removes():
    lines = route.plan_routes(want([{"dst": "default", "via": "10.9.0.254"}], state="exact", table="100"), MAIN)
    assert lines == [
        ["route", "del", "10.1.1.1/32", "via", "10.9.0.2", "dev", "va", "metric", "0", "proto", "static", "table", "100"],
        ["route", "del", "10.20.0.0/16", "via", "10.9.0.2", "dev", "va", "metric", "5", "table", "100"],
        ["route", "del", "10.20.0.0/16", "via", "10.9.0.3", "dev", "va", "metric", "7", "table", "100"],
        ["route", "del", "10.30.0.0/24", "dev", "va", "metric", "0", "table", "100"],
        ["route", "del", "10.50.0.0/24", "metric", "0", "table", "100",
         "nexthop", "via", "10.9.0.2", "dev", "va", "nexthop", "via", "10.9.0.3", "dev", "va"],
        ["route", "del", "blackhole", "10.60.0.0/24", "metric", "0", "table", "100"],
    ]
    after = route.predict_routes(want([{"dst": "default", "via": "10.9.0.254"}], state="exact"), MAIN)
    assert [(r["dst"], r["proto"]) for r in after] == [("default", "boot"), ("10.9.0.0/24", "kernel")]
    assert route.plan_routes(want([], state="exact", family="ipv6"), MAIN6) == [
        ["route", "del", "2001:db8:5::/48", "via", "2001:db8::9", "dev", "va", "metric", "1024", "table", "254"]]


def test_absent_names_routes_by_key_and_what_is_given():
    assert route.plan_routes(want([{"dst": "10.20.0.0/16", "metric": 7}], state="absent"), MAIN) == [
        ["route", "del", "10.20.0.0/16", "via", "10.9.0.3", "dev", "va", "metric", "7", "table", "254"]]
    assert route.plan_routes(want([{"dst": "10.20.0.0/16", "via": "10.9.0.9", "metric": 7}], state="absent"), MAIN) == []
    assert route.plan_routes(want([{"dst": "10.9.0.0/24"}], state="absent"), MAIN) == []  # the kernel's


def test_restore_undoes_a_replace():
    wanted = want([{"dst": "default", "via": "10.9.0.1"}])
    now = route.predict_routes(wanted, MAIN)
    now = [dict(r, dev="va") if r["dst"] == "default" else r for r in now]
    assert route.restore_routes(MAIN, now, 254) == [
        ["route", "del", "default", "via", "10.9.0.1", "dev", "va", "metric", "0", "table", "254"],
        ["route", "replace", "default", "via", "10.9.0.254", "dev", "va", "metric", "0", "table", "254"],
    ]
    assert route.route_differences(MAIN, list(reversed(MAIN))) is None
    assert "10.9.0.1" in route.route_differences(MAIN, now)


@pytest.mark.parametrize("routes, given, field", [
    ([{"dst": "10.1.0.1/24", "via": "10.0.0.1"}], {}, "routes[0].dst"),
    ([{"dst": "2001:db8::/64", "dev": "eth0"}], {}, "routes[0].dst"),
    ([{"dst": "::/0", "dev": "eth0"}], {}, "routes[0].dst"),
    ([{"dst": "10.1.0.0/24", "via": "fe80::1"}], {}, "routes[0].via"),
    ([{"dst": "10.1.0.0/24", "via": "gateway"}], {}, "routes[0].via"),
    ([{"dst": "10.1.0.0/24", "dev": "eth0 x"}], {}, "routes[0].dev"),
    ([{"dst": "10.1.0.0/24", "dev": "eth0", "metric": -1}], {}, "routes[0].metric"),
    ([{"dst": "10.1.0.0/24"}], {}, "routes[0]: give via, dev"),
    ([{"dst": "10.1.0.0/24", "dev": "a"}, {"dst": "10.1.0.0/24", "via": "10.0.0.1"}], {}, "routes[1]: same dst"),
    ([], {"table": "local"}, "table: table 255"),
    ([], {"table": "255"}, "table: table 255"),
    ([], {"table": "0"}, "table: '0' is out of range"),
    ([], {"table": "red"}, "table: 'red' is not a routing table"),
    ([], {"netns": "bad name"}, "netns:"),
])
def test_bad_input_names_the_field(routes, given, field):
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        want(routes, **given)


def test_canonical_want():
    w = want([{"dst": "10.1.1.1", "via": "10.0.0.1"}], table="default")
    assert w["table"] == 253 and w["routes"] == [{"dst": "10.1.1.1/32", "via": "10.0.0.1", "dev": None, "metric": 0}]
    w6 = want([{"dst": "2001:DB8::/32", "dev": "e"}], family="ipv6")
    assert w6["routes"] == [{"dst": "2001:db8::/32", "via": None, "dev": "e", "metric": 1024}]
