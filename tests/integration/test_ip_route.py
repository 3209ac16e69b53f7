"""netfabric.ovs.ip_route against the real kernel: two namespaces that reach each other only through
the routes the module sets, across a third that forwards."""

from __future__ import annotations

import pytest
from conftest import run_module
from routerlab import Namespace, forward, link


@pytest.fixture
def routed():
    """left (10.71.1.2) -- router (10.71.1.1 | 10.71.2.1) -- right (10.71.2.2); no routes yet."""
    left, router, right = (Namespace(n).start() for n in ("rtl", "rtr", "rtx"))
    link(left, "eth0", "10.71.1.2/24", router, "r-left", "10.71.1.1/24")
    link(router, "r-right", "10.71.2.1/24", right, "eth0", "10.71.2.2/24")
    forward(router)
    yield left, router, right
    for ns in (left, router, right):
        ns.stop()


def plain(routes):
    """The routes a user cares about: (dst, via, dev, metric, proto)."""
    return sorted((r.get("dst"), r.get("gateway"), r.get("dev"), r.get("metric", 0), r.get("protocol")) for r in routes)


def test_routes_make_the_path_check_diff_idempotent(routed):
    left, router, right = routed
    assert not left.ping("10.71.2.2"), "reachable before any route: the test proves nothing"

    args = {"routes": [{"dst": "default", "via": "10.71.1.1"}]}
    before = plain(left.routes())
    r = run_module(left, "ip_route", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["commands"] == [["ip", "route", "replace", "default", "via", "10.71.1.1", "metric", "0", "table", "254"]]
    assert [x["dst"] for x in r["diff"]["before"]["routes"]] == ["10.71.1.0/24"]
    assert {x["dst"] for x in r["diff"]["after"]["routes"]} == {"10.71.1.0/24", "default"}
    assert plain(left.routes()) == before, "check mode changed the host"

    r = run_module(left, "ip_route", args, diff=True)
    assert r["changed"] is True, r
    assert {"dst": "default", "via": "10.71.1.1", "dev": "eth0", "metric": 0, "type": "unicast", "proto": "boot"} in r["routes"]
    assert not left.ping("10.71.2.2"), "the way back is missing, yet the ping came back"

    # the way back, through the router, with a metric
    back = {"routes": [{"dst": "10.71.1.0/24", "via": "10.71.2.1", "dev": "eth0", "metric": 10}]}
    r = run_module(right, "ip_route", back)
    assert r["changed"] is True, r
    assert left.ping("10.71.2.2") and right.ping("10.71.1.2")

    for check in (True, False):
        for ns, given in ((left, args), (right, back)):
            again = run_module(ns, "ip_route", given, check=check)
            assert again["changed"] is False and again["commands"] == [], again

    r = run_module(right, "ip_route", {"routes": [{"dst": "10.71.1.0/24", "metric": 10}], "state": "absent"})
    assert r["changed"] is True and not right.ping("10.71.1.2")
    again = run_module(right, "ip_route", {"routes": [{"dst": "10.71.1.0/24", "metric": 10}], "state": "absent"})
    assert again["changed"] is False


def test_netns_option_and_exact_keeps_kernel_routes(routed):
    """The router's own table, managed from outside it with netns; exact removes a stray route and a
    replaced gateway, never the kernel's connected routes."""
    left, router, right = routed
    router.exec("ip", "route", "add", "10.99.0.0/16", "via", "10.71.1.2")
    router.exec("ip", "route", "add", "10.98.0.0/16", "via", "10.71.1.2", "metric", "3")
    left.exec("ip", "route", "add", "default", "via", "10.71.1.1")
    right.exec("ip", "route", "add", "default", "via", "10.71.2.1")
    host = left  # the module runs in left; netns points it at the router's table
    args = {"netns": router.netns, "state": "exact",
            "routes": [{"dst": "10.98.0.0/16", "via": "10.71.2.2", "metric": 3}]}

    r = run_module(host, "ip_route", args, check=True)
    assert r["changed"] is True
    assert r["commands"] == [
        ["ip", "-n", router.netns, "route", "del", "10.98.0.0/16", "via", "10.71.1.2", "dev", "r-left", "metric", "3", "table", "254"],
        ["ip", "-n", router.netns, "route", "del", "10.99.0.0/16", "via", "10.71.1.2", "dev", "r-left", "metric", "0", "table", "254"],
        ["ip", "-n", router.netns, "route", "replace", "10.98.0.0/16", "via", "10.71.2.2", "metric", "3", "table", "254"],
    ]
    r = run_module(host, "ip_route", args)
    assert r["changed"] is True, r
    assert plain(router.routes()) == [
        ("10.71.1.0/24", None, "r-left", 0, "kernel"),
        ("10.71.2.0/24", None, "r-right", 0, "kernel"),
        ("10.98.0.0/16", "10.71.2.2", "r-right", 3, "boot"),
    ]
    assert left.ping("10.71.2.2"), "exact removed a connected route the router needs"
    assert run_module(host, "ip_route", args)["changed"] is False


def test_own_table_and_bad_input(routed):
    left, _router, _right = routed
    args = {"table": "100", "routes": [{"dst": "10.5.0.0/16", "via": "10.71.1.1"}]}
    r = run_module(left, "ip_route", args)
    assert r["changed"] is True and r["before"]["routes"] == []  # the table did not exist
    assert plain(left.routes(100)) == [("10.5.0.0/16", "10.71.1.1", "eth0", 0, "boot")]
    assert plain(left.routes()) == [("10.71.1.0/24", None, "eth0", 0, "kernel")], "main table touched"
    assert run_module(left, "ip_route", dict(args, state="exact", routes=[]))["changed"] is True
    assert left.routes(100) == []

    before = plain(left.routes())
    bad = run_module(left, "ip_route", {"routes": [{"dst": "10.5.0.1/16", "via": "10.71.1.1"}]})
    assert bad.get("failed") and "routes[0].dst" in bad["msg"], bad
    bad = run_module(left, "ip_route", {"routes": [{"dst": "10.6.0.0/16", "via": "2001:db8::1"}]})
    assert bad.get("failed") and "routes[0].via" in bad["msg"], bad
    bad = run_module(left, "ip_route", {"table": "local", "routes": []})
    assert bad.get("failed") and "table" in bad["msg"], bad
    # a gateway the namespace cannot reach: the kernel refuses the second line, the first is undone
    bad = run_module(left, "ip_route", {"routes": [{"dst": "10.7.0.0/16", "via": "10.71.1.1"},
                                                   {"dst": "10.8.0.0/16", "via": "192.0.2.1"}]})
    assert bad.get("failed") and "rolled back" in bad["msg"], bad
    assert plain(left.routes()) == before
