# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_route: the routes of one table of one address family, through the one module flow.

    validate  route_want: every route checked and made canonical before the host is touched
    read      `ip -j -d [-6] route show table T` (one call), normalised by normalise_routes
    plan      plan_routes: pure, `ip -batch` lines (deletions first, then `route replace`)
    write     one `ip -batch -`, undone when a line fails (the ip modules' apply_all_or_nothing)

A route is known by its key, destination and metric (the kernel's own key within a table, TOS aside),
and is the wanted one when its gateway and device agree too. Kernel routes (`proto kernel`, made by
addresses) are never removed: they come and go with the addresses.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.batch import NotApplied, apply_all_or_nothing, shown
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import ip_runner
from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    ValidationError,
    ifname,
    int_range,
    netns_name,
)

STATES = ("present", "absent", "exact")
FAMILIES = {"ipv4": 4, "ipv6": 6}
# The metric the kernel gives a route added without one (IPv4 shows none, which means 0).
DEFAULT_METRIC = {4: 0, 6: 1024}
METRIC = (0, 4294967295)
TABLE_IDS = (1, 4294967295)
# Names iproute2 knows without /etc/iproute2/rt_tables; `local` (255) is the kernel's own table.
TABLE_NAMES = {"main": 254, "default": 253}
LOCAL_TABLE = 255
KERNEL = "kernel"  # routes the kernel made for an address: never removed
NO_TABLE = "FIB table does not exist"  # what `ip route show table T` says of an empty table

ROUTE_OPTIONS = dict(
    dst=dict(type="str", required=True),
    via=dict(type="str"),
    dev=dict(type="str"),
    metric=dict(type="int"),
)
ARGUMENT_SPEC = dict(
    routes=dict(type="list", elements="dict", options=ROUTE_OPTIONS, required=True),
    table=dict(type="str", default="main"),
    family=dict(type="str", default="ipv4", choices=list(FAMILIES)),
    state=dict(type="str", default="present", choices=list(STATES)),
    netns=dict(type="str"),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True)


def table_id(field, value):
    """`main`, `default` or a table number; returned as the number (what `ip` accepts everywhere)."""
    text = str(value).strip()
    if text in TABLE_NAMES:
        return TABLE_NAMES[text]
    if text == "local":
        text = str(LOCAL_TABLE)
    if not text.isdigit():
        raise ValidationError(f"{field}: {value!r} is not a routing table (main, default or a number "
                              f"{TABLE_IDS[0]}-{TABLE_IDS[1]} other than {LOCAL_TABLE})")
    number = int_range(field, text, TABLE_IDS)
    if number == LOCAL_TABLE:
        raise ValidationError(f"{field}: table {LOCAL_TABLE} (local) belongs to the kernel; "
                              "use main, default or a table of your own")
    return number


def _dst(field, value, version):
    if value in ("default", "0.0.0.0/0", "::/0"):
        if value != "default" and ipaddress.ip_network(value).version != version:
            raise ValidationError(f"{field}: {value!r} is not an IPv{version} destination (family is ipv{version})")
        return "default"
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not a network with prefix like 10.1.0.0/24, a host address "
                              "or default (host bits must be zero)") from None
    if net.version != version:
        raise ValidationError(f"{field}: {value!r} is not an IPv{version} destination (family is ipv{version})")
    return str(net) if net.prefixlen < net.max_prefixlen else f"{net.network_address}/{net.max_prefixlen}"


def _via(field, value, version):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not an IPv{version} address") from None
    if address.version != version:
        raise ValidationError(f"{field}: {value!r} is not an IPv{version} address (family is ipv{version})")
    return str(address)


def route_want(params):
    """Check every parameter; routes come back canonical (dst, via, dev, metric all set, metric numeric)."""
    version = FAMILIES[params["family"]]
    routes, keys = [], {}
    for index, given in enumerate(params["routes"] or []):
        at = f"routes[{index}]"
        if not isinstance(given, dict) or given.get("dst") is None:
            raise ValidationError(f"{at}.dst: required (a network like 10.1.0.0/24, a host address or default)")
        route = {
            "dst": _dst(f"{at}.dst", given["dst"], version),
            "via": None if given.get("via") is None else _via(f"{at}.via", given["via"], version),
            "dev": None if given.get("dev") is None else ifname(f"{at}.dev", given["dev"]),
            "metric": DEFAULT_METRIC[version] if given.get("metric") is None
            else int_range(f"{at}.metric", given["metric"], METRIC),
        }
        if route["via"] is None and route["dev"] is None and params["state"] != "absent":
            raise ValidationError(f"{at}: give via, dev or both (a route needs a gateway or a device)")
        key = (route["dst"], route["metric"])
        if key in keys and params["state"] != "absent":
            raise ValidationError(f"{at}: same dst and metric as routes[{keys[key]}] ({route['dst']} metric "
                                  f"{route['metric']}); one table holds one route per dst and metric")
        keys.setdefault(key, index)
        routes.append(route)
    return {
        "routes": routes,
        "table": table_id("table", params.get("table", "main")),
        "family": params["family"],
        "version": version,
        "state": params["state"],
        "netns": None if params.get("netns") is None else netns_name("netns", params["netns"]),
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
    }


def normalise_routes(raw, version):
    """`ip -j -d route show` entries as plain dicts: dst (with prefix, or default), via, dev, metric,
    type, proto, and nexthops for a multipath route (whose via and dev are then None)."""
    routes = []
    for entry in raw or []:
        dst = entry.get("dst", "default")
        if dst != "default" and "/" not in dst:
            dst = f"{dst}/{32 if version == 4 else 128}"
        via = entry.get("gateway")
        if via is None and isinstance(entry.get("via"), dict):
            via = entry["via"].get("host")
        route = {
            "dst": dst,
            "via": via,
            "dev": entry.get("dev"),
            "metric": entry.get("metric", DEFAULT_METRIC[version]),
            "type": entry.get("type", "unicast"),
            "proto": str(entry.get("protocol", "boot")),
        }
        if entry.get("nexthops"):
            route["nexthops"] = [{"via": hop.get("gateway"), "dev": hop.get("dev")} for hop in entry["nexthops"]]
        routes.append(route)
    return routes


def matches(want, have):
    """Is `have` the route `want` names: same key, same gateway, same device when one is given?"""
    return (
        have["dst"] == want["dst"] and have["metric"] == want["metric"] and have["type"] == "unicast"
        and "nexthops" not in have and have["via"] == want["via"]
        and (want["dev"] is None or have["dev"] == want["dev"])
    )


def _spec(route, table):
    """The words after `route add|replace|del` that name `route` in `table` exactly (nexthops last:
    `ip` reads every word after the first `nexthop` as part of one)."""
    words = [] if route.get("type", "unicast") == "unicast" else [route["type"]]
    words.append(route["dst"])
    if route.get("via"):
        words += ["via", route["via"]]
    if route.get("dev"):
        words += ["dev", route["dev"]]
    words += ["metric", str(route["metric"])]
    if route.get("proto") not in (None, "boot", KERNEL):
        words += ["proto", route["proto"]]
    words += ["table", str(table)]
    for hop in route.get("nexthops") or []:
        words += ["nexthop"] + (["via", hop["via"]] if hop.get("via") else []) + (["dev", hop["dev"]] if hop.get("dev") else [])
    return words


def plan_routes(want, have):
    """`ip -batch` lines turning `have` (normalise_routes) into what `want` asks; [] when nothing to do.

    Deletions come first, so a key freed by `exact` can take its new route; additions are
    `route replace`, which also swaps a route of the same key that goes elsewhere.
    """
    table, wanted = want["table"], want["routes"]
    if want["state"] == "absent":
        gone = [route for route in have if route["proto"] != KERNEL and any(_named(w, route) for w in wanted)]
        return [["route", "del"] + _spec(route, table) for route in gone]
    gone = []
    if want["state"] == "exact":
        gone = [route for route in have if route["proto"] != KERNEL and not any(matches(w, route) for w in wanted)]
    kept = [route for route in have if route not in gone]
    lines = [["route", "del"] + _spec(route, table) for route in gone]
    lines += [["route", "replace"] + _spec(w, table) for w in wanted if not any(matches(w, route) for route in kept)]
    return lines


def _named(want, have):
    """For `absent`: a route listed with only some of via/dev names every route of its key that agrees."""
    return (have["dst"] == want["dst"] and have["metric"] == want["metric"]
            and (want["via"] is None or have["via"] == want["via"])
            and (want["dev"] is None or have["dev"] == want["dev"]))


def predict_routes(want, have):
    """The routes after plan_routes' lines ran (the device of a new route via a gateway is unknown
    until the kernel picks it, so it is None here)."""
    lines = plan_routes(want, have)
    table = want["table"]
    after = [route for route in have if ["route", "del"] + _spec(route, table) not in lines]
    for new in want["routes"]:
        if ["route", "replace"] + _spec(new, table) in lines:
            after = [route for route in after if (route["dst"], route["metric"]) != (new["dst"], new["metric"])]
            after.append(dict(new, type="unicast", proto="boot"))
    return after


def restore_routes(before, now, table):
    """Lines from the routes read `now` back to those read `before`, kernel routes aside."""
    lines = [["route", "del"] + _spec(route, table) for route in now if route["proto"] != KERNEL and route not in before]
    lines += [["route", "replace"] + _spec(route, table) for route in before
              if route["proto"] != KERNEL and route not in now]
    return lines


def route_differences(before, now):
    """None when both reads hold the same routes, else what differs."""
    lost = [r for r in before if r not in now]
    new = [r for r in now if r not in before]
    if not lost and not new:
        return None
    return f"routes missing: {lost}; routes added: {new}"


def _read(ip, want):
    args = ["-j", "-d"] + (["-6"] if want["version"] == 6 else []) + ["route", "show", "table", str(want["table"])]
    try:
        raw = ip.run_json(args)
    except CommandError as exc:
        if exc.rc is not None and NO_TABLE in (exc.stderr or ""):
            return []  # the kernel makes a table with its first route and drops it with its last
        raise
    return normalise_routes(raw, want["version"])


def _view(want, routes):
    return {"table": want["table"], "family": want["family"], "routes": routes}


def run_route(module):
    """ip_route: the routes of one table as the parameters say."""
    ctx = {}

    def validate(params):
        want = route_want(params)
        ctx.update(want=want, ip=ip_runner(module, want["netns"], want["timeout"]))
        return want

    def read(want):
        return _read(ctx["ip"], want)

    def plan(want, have):
        lines = plan_routes(want, have)
        after = predict_routes(want, have)
        ctx.update(lines=lines, have=have)
        return Change(commands=shown(ctx["ip"], lines), before=_view(want, have), after=_view(want, after),
                      extra={"routes": after})

    def apply(change):
        want, ip, have = ctx["want"], ctx["ip"], ctx["have"]
        try:
            apply_all_or_nothing(
                ip, ctx["lines"],
                undo=lambda: restore_routes(have, _read(ip, want), want["table"]),
                differs=lambda: route_differences(have, _read(ip, want)),
            )
        except NotApplied:
            change.extra["routes"] = _quietly(lambda: _read(ip, want))
            raise
        after = _read(ip, want)
        change.after, change.extra["routes"] = _view(want, after), after

    run(module, validate=validate, read=read, plan=plan, apply=apply)


def _quietly(read):
    try:
        return read()
    except CommandError:
        return None
