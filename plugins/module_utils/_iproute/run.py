# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_link and ip_address through the one module flow (_module.run): validate, read once, plan,
one all-or-nothing write, read back.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.address import (
    address_differences,
    plan_addresses,
    predict_addresses,
    restore_addresses,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.batch import NotApplied, apply_all_or_nothing, shown
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.link import (
    blank_link,
    link_differences,
    missing_references,
    plan_link,
    predict_link,
    restore_lines,
    warnings,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import (
    entry,
    ip_runner,
    is_up,
    normalise_addresses,
    normalise_link,
    read_table,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import address_want, link_want
from ansible_collections.netfabric.ovs.plugins.module_utils._module import Change, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, CommandTimeout, warn_assumed
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError


def _absent(name):
    return {"name": name, "state": "absent"}


def _validator(module, ctx, check):
    """validate() for _module.run: check the parameters, then make the `ip` runner they ask for."""

    def validate(params):
        want = check(params)
        ctx.update(want=want, ip=ip_runner(module, want["netns"], want["timeout"]))
        return want

    return validate


def run_link(module):
    """ip_link: the link named `name` as the parameters say."""
    ctx = {}
    validate = _validator(module, ctx, link_want)

    def read(want):
        table = read_table(ctx["ip"])
        peer_table, peer_ok = None, True
        if want.get("peer_netns") and want["state"] != "absent":
            try:
                peer_table = ip_runner(module, want["peer_netns"], want["timeout"]).run_json(["-j", "link", "show"]) or []
            except CommandTimeout:
                raise
            except CommandError:
                peer_ok = False
        raw = entry(table, want["name"])
        have = None if raw is None else normalise_link(raw, peer_table, want.get("peer_netns"), table=table)
        return {"have": have, "table": table, "peer_table": peer_table, "peer_ok": peer_ok}

    def plan(want, host):
        have = host["have"]
        if have is None and want["kind"] is None and want["state"] != "absent" and module.check_mode:
            # an earlier task of the same run (an OVS bridge's internal port) makes it; plan on a stand-in
            warn_assumed(module, f"name: link {want['name']!r} does not exist")
            have = blank_link(want["name"], None)
        lines = plan_link(want, have)
        problems = missing_references(want, host["table"], host["peer_ok"]) if lines else []
        if problems and not module.check_mode:
            raise ValidationError("; ".join(problems))
        for problem in problems:
            warn_assumed(module, problem)
        for warning in warnings(want, have):
            module.warn(warning)
        after = predict_link(want, have)
        ctx.update(lines=lines, host=host)
        return Change(commands=shown(ctx["ip"], lines), before=have or _absent(want["name"]),
                      after=after or _absent(want["name"]), extra={"link": after})

    def apply(change):
        want, ip, host = ctx["want"], ctx["ip"], ctx["host"]
        name, have = want["name"], host["have"]
        names = [name]
        if have and have["kind"] == "veth" and have.get("peer") and "link_netnsid" not in entry(host["table"], name):
            names.append(have["peer"])
        try:
            apply_all_or_nothing(
                ip, ctx["lines"],
                undo=lambda: restore_lines(host["table"], read_table(ip), name, host["peer_table"], want.get("peer_netns")),
                differs=lambda: link_differences(host["table"], read_table(ip), names),
            )
        except NotApplied:
            change.extra["link"] = _reread_quietly(lambda: read(want)["have"])
            raise
        after = read(want)["have"]
        change.after, change.extra["link"] = after or _absent(name), after

    run(module, validate=validate, read=read, plan=plan, apply=apply)


def run_address(module):
    """ip_address: the addresses of `dev` as the parameters say."""
    ctx = {}
    validate = _validator(module, ctx, address_want)

    def read(want):
        table = read_table(ctx["ip"])
        return {"table": table, "have": normalise_addresses(table, want["dev"])}

    def plan(want, host):
        have = host["have"]
        if have is None:
            if not module.check_mode:
                raise ValidationError(f"dev: link {want['dev']!r} does not exist")
            warn_assumed(module, f"dev: link {want['dev']!r} does not exist")
        lines = plan_addresses(want, have)
        after = predict_addresses(want, have)
        was_up = is_up(host["table"], want["dev"])
        if want["up"] and not was_up:
            lines.append(["link", "set", "dev", want["dev"], "up"])  # last: it runs only once every address is in
        ctx.update(lines=lines, host=host)
        before = {"dev": want["dev"], "addresses": [entry["address"] for entry in have or []]}
        after = {"dev": want["dev"], "addresses": after}
        if want["up"]:
            before["up"], after["up"] = was_up, True
        return Change(commands=shown(ctx["ip"], lines), before=before, after=after, extra={"addresses": after["addresses"]})

    def apply(change):
        want, ip, table = ctx["want"], ctx["ip"], ctx["host"]["table"]
        dev = want["dev"]

        def now():
            return [a["address"] for a in read(want)["have"] or []]

        try:
            apply_all_or_nothing(
                ip, ctx["lines"],
                undo=lambda: restore_addresses(table, read_table(ip), dev),
                differs=lambda: address_differences(table, read_table(ip), dev),
            )
        except NotApplied:
            change.extra["addresses"] = _reread_quietly(now)
            raise
        after = now()
        change.after = dict(change.after, addresses=after)
        change.extra["addresses"] = after

    run(module, validate=validate, read=read, plan=plan, apply=apply)


def _reread_quietly(read):
    """What the host has after a failed write, for the failure result; None if even that read fails."""
    try:
        return read()
    except CommandError:
        return None
