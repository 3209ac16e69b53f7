# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_fdb: the static forwarding entries (and neighbour entries) of one kernel VXLAN device.

    validate  fdb_want: every entry checked and made canonical before the host is touched
    read      `ip -j -d link show dev D` (it must be a vxlan link), `bridge -j fdb show dev D` and,
              when neighbours are managed, `ip -j neigh show dev D`
    plan      plan_fdb / plan_neighbours: pure, batch lines (removals first)
    write     one `bridge -batch -` and, for neighbours, one `ip -batch -` (`bridge -batch` knows no
              `neigh` object); a failing line undoes its batch, and a failing neighbour batch also
              undoes the fdb batch that ran before it

The kernel keeps one forwarding entry per MAC with one state; the all-zero MAC (where unknown and
broadcast frames go: head-end replication, one remote per VTEP) and multicast MACs hold a list of
remotes (`fdb append`), a unicast MAC holds one (`fdb replace`). The module removes only `permanent`
entries, the kind it makes: learned (dynamic) and `static` entries, the device's own default
destination (its `remote` or `group`) and the entries of a bridge the device is a port of
(`master`, not `self`) are never removed.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.batch import (
    FAILED_LINE,
    BatchFailed,
    NotApplied,
    apply_all_or_nothing,
    run_batch,
    shown,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import ip_runner, normalise_link
from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner, warn_assumed
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    VNI,
    ValidationError,
    ifname,
    int_range,
    ip_address,
    mac_address,
    netns_name,
)

STATES = ("present", "absent", "exact")
PORT = (1, 65535)
ZERO_MAC = "00:00:00:00:00:00"
PERMANENT = "permanent"  # the state of every entry this module makes, and the only one it removes
# `bridge fdb` state words for putting an entry back as it was read ("" is a learned, reachable entry)
FDB_STATE_WORDS = {"permanent": "permanent", "static": "static"}
NEIGH_PERMANENT = "PERMANENT"
NEIGH_STATE_WORDS = ("PERMANENT", "NOARP", "REACHABLE", "STALE", "DELAY", "PROBE")
NO_DEVICE = ("does not exist", "Cannot find device")  # `ip link show dev`, `ip neigh`/`bridge`

ENTRY_OPTIONS = dict(
    mac=dict(type="str", required=True),
    dst=dict(type="str", required=True),
    vni=dict(type="int"),
    port=dict(type="int"),
)
NEIGHBOUR_OPTIONS = dict(
    ip=dict(type="str", required=True),
    mac=dict(type="str"),
)
ARGUMENT_SPEC = dict(
    dev=dict(type="str", required=True),
    entries=dict(type="list", elements="dict", options=ENTRY_OPTIONS),
    neighbours=dict(type="list", elements="dict", options=NEIGHBOUR_OPTIONS),
    state=dict(type="str", default="present", choices=list(STATES)),
    netns=dict(type="str"),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True)


def many_remotes(mac):
    """The all-zero and multicast MACs hold a list of remotes; a unicast MAC lives at one."""
    return int(mac.split(":")[0], 16) & 1 == 1 or mac == ZERO_MAC


def fdb_want(params):
    """Check every parameter; entries and neighbours come back canonical (None: not managed)."""
    state = params["state"]
    entries = None
    if params.get("entries") is not None:
        entries, seen = [], {}
        for index, given in enumerate(params["entries"]):
            at = f"entries[{index}]"
            if not isinstance(given, dict):
                raise ValidationError(f"{at}: must be a dictionary with mac and dst")
            for key in ("mac", "dst"):
                if given.get(key) is None:
                    raise ValidationError(f"{at}.{key}: required (mac: a MAC address, {ZERO_MAC} for flooding; "
                                          "dst: the remote VTEP's IP address)")
            entry = {
                "mac": mac_address(f"{at}.mac", given["mac"]),
                "dst": ip_address(f"{at}.dst", given["dst"]),
                "vni": None if given.get("vni") is None else int_range(f"{at}.vni", given["vni"], VNI),
                "port": None if given.get("port") is None else int_range(f"{at}.port", given["port"], PORT),
            }
            key = _key(entry) if many_remotes(entry["mac"]) else entry["mac"]
            if key in seen:
                why = ("listed twice" if many_remotes(entry["mac"])
                       else "a unicast MAC lives at one remote VTEP; list it once")
                raise ValidationError(f"{at}: same as entries[{seen[key]}] ({entry['mac']}): {why}")
            seen[key] = index
            entries.append(entry)
    neighbours = None
    if params.get("neighbours") is not None:
        neighbours, seen = [], {}
        for index, given in enumerate(params["neighbours"]):
            at = f"neighbours[{index}]"
            if not isinstance(given, dict) or given.get("ip") is None:
                raise ValidationError(f"{at}.ip: required (the IP address of a remote VM or host)")
            ip = ip_address(f"{at}.ip", given["ip"])
            if given.get("mac") is None and state != "absent":
                raise ValidationError(f"{at}.mac: required unless state is absent (the MAC address {ip} answers with)")
            if ip in seen:
                raise ValidationError(f"{at}.ip: {ip} is also neighbours[{seen[ip]}]; one neighbour entry per address")
            seen[ip] = index
            neighbours.append({"ip": ip, "mac": None if given.get("mac") is None
                               else mac_address(f"{at}.mac", given["mac"])})
    if entries is None and neighbours is None:
        raise ValidationError("entries, neighbours: give one or both (an omitted list is left as it is, so this "
                              "task would do nothing)")
    return {
        "dev": ifname("dev", params["dev"]),
        "entries": entries,
        "neighbours": neighbours,
        "state": state,
        "netns": None if params.get("netns") is None else netns_name("netns", params["netns"]),
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
    }


def _key(entry):
    return (entry["mac"], entry["dst"], entry["vni"], entry["port"], entry.get("via"))


def device_view(raw, dev):
    """The vxlan link from `ip -j -d link show dev D` (kind, vni, dstport, remote, group, proxy, learning);
    ValidationError when it is another kind of link."""
    if not raw:
        return None
    link = normalise_link(raw[0])
    if link["kind"] != "vxlan":
        raise ValidationError(f"dev: {dev!r} is a {link['kind'] or 'plain'} link, not a vxlan device")
    data = (raw[0].get("linkinfo") or {}).get("info_data") or {}
    return {"name": dev, "vni": link["vni"], "port": link["dstport"], "own": link["remote"] or link["group"],
            "proxy": bool(data.get("proxy")), "learning": bool(link["learning"])}


def normalise_fdb(raw, device):
    """`bridge -j fdb show dev D` entries of the device itself (flag `self`; a bridge's `master` entries
    for the port are not the device's) as plain dicts: mac, dst, vni, port, via, state; vni and port are
    the device's own when the entry does not say otherwise."""
    device = device or {}
    entries = []
    for item in raw or []:
        if "self" not in (item.get("flags") or []) or "mac" not in item:
            continue
        entries.append({
            "mac": item["mac"].lower(),
            "dst": str(ipaddress.ip_address(item["dst"])) if item.get("dst") else None,
            "vni": item.get("vni", device.get("vni")),
            "port": item.get("port", device.get("port")),
            "via": item.get("viaIf"),
            "state": item.get("state") or "dynamic",
        })
    return entries


def normalise_neighbours(raw):
    """`ip -j neigh show dev D` as plain dicts: ip, mac (None for an unresolved entry), state."""
    neighbours = []
    for item in raw or []:
        states = item.get("state") or []
        neighbours.append({
            "ip": str(ipaddress.ip_address(item["dst"])),
            "mac": (item.get("lladdr") or "").lower() or None,
            "state": next((s for s in NEIGH_STATE_WORDS if s in states), states[0] if states else "NONE"),
        })
    return neighbours


def _fill(entry, device):
    """A wanted entry with the device's vni and port where it gives none."""
    device = device or {}
    return dict(entry, vni=device.get("vni") if entry["vni"] is None else entry["vni"],
                port=device.get("port") if entry["port"] is None else entry["port"], via=None)


def _words(entry, device):
    """`MAC dev D dst IP [vni V] [port P] [via IF] self`: the words that name one remote of an entry."""
    device = device or {}
    words = [entry["mac"], "dev", device.get("name"), "dst", entry["dst"]]
    if entry["vni"] is not None and entry["vni"] != device.get("vni"):
        words += ["vni", str(entry["vni"])]
    if entry["port"] is not None and entry["port"] != device.get("port"):
        words += ["port", str(entry["port"])]
    if entry.get("via"):
        words += ["via", entry["via"]]
    return words + ["self"]


def _add(entry, device, state=PERMANENT):
    verb = "append" if many_remotes(entry["mac"]) else "replace"
    return ["fdb", verb] + _words(entry, device) + [FDB_STATE_WORDS.get(state, "dynamic")]


def _del(entry, device):
    return ["fdb", "del"] + _words(entry, device)


def _same(want, have):
    return _key(want) == _key(have)


def _own(entry, device):
    """The device's default destination (its `remote` or `group`), made with the link: never removed."""
    return entry["mac"] == ZERO_MAC and device is not None and device["own"] is not None and entry["dst"] == device["own"]


def plan_fdb(want, have, device):
    """`bridge -batch` lines turning the entries read (normalise_fdb) into what `want` asks; removals first."""
    wanted = [_fill(entry, device) for entry in want["entries"] or []]
    ours = [entry for entry in have if entry["state"] == PERMANENT]
    if want["state"] == "absent":
        return [_del(entry, device) for entry in ours if any(_same(w, entry) for w in wanted) and not _own(entry, device)]
    gone = []
    if want["state"] == "exact":
        listed = {w["mac"] for w in wanted if not many_remotes(w["mac"])}
        gone = [entry for entry in ours if not any(_same(w, entry) for w in wanted)
                and entry["mac"] not in listed and not _own(entry, device)]
    lines = [_del(entry, device) for entry in gone]
    lines += [_add(w, device) for w in wanted if not any(_same(w, entry) for entry in ours)]
    return lines


def predict_fdb(want, have, device):
    """The entries after plan_fdb's lines ran."""
    lines = plan_fdb(want, have, device)
    after = [entry for entry in have if _del(entry, device) not in lines]
    for w in (_fill(entry, device) for entry in want["entries"] or []):
        if _add(w, device) in lines:
            if not many_remotes(w["mac"]):
                after = [entry for entry in after if entry["mac"] != w["mac"]]
            after.append(dict(w, state=PERMANENT))
    return after


def restore_fdb(before, now, device):
    """Lines from the entries read `now` back to the permanent ones read `before` (a unicast MAC the
    write made permanent goes back to the state it had)."""
    was = [entry for entry in before if entry["state"] == PERMANENT]
    is_ = [entry for entry in now if entry["state"] == PERMANENT]
    lines = []
    for entry in is_:
        if any(_same(entry, old) for old in was):
            continue
        earlier = None if many_remotes(entry["mac"]) else next((old for old in before if old["mac"] == entry["mac"]), None)
        if earlier is None:
            lines.append(_del(entry, device))
        elif earlier["state"] != PERMANENT:
            lines.append(_add(earlier, device, earlier["state"]))
        # else: the permanent remote it had is put back below (`replace` swaps the one remote)
    lines += [_add(old, device) for old in was if not any(_same(old, entry) for entry in is_)]
    return lines


def fdb_differences(before, now):
    """None when both reads hold the same permanent entries, else what differs."""
    was = [_key(e) for e in before if e["state"] == PERMANENT]
    is_ = [_key(e) for e in now if e["state"] == PERMANENT]
    lost, new = [k for k in was if k not in is_], [k for k in is_ if k not in was]
    return None if not lost and not new else f"fdb entries missing: {lost}; fdb entries added: {new}"


def _neigh_add(ip, mac, dev, state=NEIGH_PERMANENT):
    return ["neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", state.lower()]


def _neigh_del(ip, dev):
    return ["neigh", "del", ip, "dev", dev]


def plan_neighbours(want, have):
    """`ip -batch` lines for the neighbour entries; only PERMANENT entries are ever removed."""
    dev, wanted = want["dev"], want["neighbours"] or []
    ours = [n for n in have if n["state"] == NEIGH_PERMANENT]
    if want["state"] == "absent":
        return [_neigh_del(n["ip"], dev) for n in ours
                if any(w["ip"] == n["ip"] and w["mac"] in (None, n["mac"]) for w in wanted)]
    lines = []
    if want["state"] == "exact":
        listed = {w["ip"] for w in wanted}
        lines += [_neigh_del(n["ip"], dev) for n in ours if n["ip"] not in listed]
    lines += [_neigh_add(w["ip"], w["mac"], dev) for w in wanted
              if not any(n["ip"] == w["ip"] and n["mac"] == w["mac"] for n in ours)]
    return lines


def predict_neighbours(want, have):
    lines = plan_neighbours(want, have)
    dev = want["dev"]
    after = [n for n in have if _neigh_del(n["ip"], dev) not in lines]
    for w in want["neighbours"] or []:
        if w["mac"] is not None and _neigh_add(w["ip"], w["mac"], dev) in lines:
            after = [n for n in after if n["ip"] != w["ip"]] + [dict(w, state=NEIGH_PERMANENT)]
    return after


def restore_neighbours(before, now, dev):
    """Lines from the neighbours read `now` back to the PERMANENT ones read `before`."""
    was = {n["ip"]: n for n in before}
    lines = []
    for n in now:
        old = was.get(n["ip"])
        if n["state"] != NEIGH_PERMANENT or (old is not None and (old["mac"], old["state"]) == (n["mac"], n["state"])):
            continue
        if old is None or old["mac"] is None:
            lines.append(_neigh_del(n["ip"], dev))
        elif old["state"] != NEIGH_PERMANENT:
            lines.append(_neigh_add(old["ip"], old["mac"], dev, old["state"]))
        # else: its permanent entry is put back below
    is_ = {(n["ip"], n["mac"]) for n in now if n["state"] == NEIGH_PERMANENT}
    lines += [_neigh_add(n["ip"], n["mac"], dev) for n in before
              if n["state"] == NEIGH_PERMANENT and (n["ip"], n["mac"]) not in is_]
    return lines


def neighbour_differences(before, now):
    was = sorted((n["ip"], n["mac"]) for n in before if n["state"] == NEIGH_PERMANENT)
    is_ = sorted((n["ip"], n["mac"]) for n in now if n["state"] == NEIGH_PERMANENT)
    lost, new = [k for k in was if k not in is_], [k for k in is_ if k not in was]
    return None if not lost and not new else f"neighbours missing: {lost}; neighbours added: {new}"


class BothNotApplied(NotApplied):
    """The neighbour batch failed after the fdb batch had run: both were undone (or the message says
    what is left). `applied` and `rolled_back` list the commands of both tools."""

    def __init__(self, ip, failure, undo, fdb_applied, fdb_undo, problem):
        NotApplied.__init__(self, ip, failure, undo, None)
        self.applied = fdb_applied + self.applied
        self.rolled_back = self.rolled_back + fdb_undo
        if failure.applied is None:
            where = f"{failure}; an unknown part of the neighbour batch ran"
        else:
            line = " ".join(shown(ip, [failure.lines[failure.applied]])[0])
            said = " ".join(t for t in (failure.stderr or failure.stdout).splitlines() if not FAILED_LINE.search(t))
            where = f"`{line}` failed: {said.strip()}"
        ran = "; ".join(" ".join(c) for c in self.applied) or "nothing"
        undone = "; ".join(" ".join(c) for c in self.rolled_back) or "nothing to undo"
        outcome = (f"rolled back ({undone}): the host is as it was before this task" if problem is None
                   else f"ROLLBACK INCOMPLETE ({undone}): {problem}")
        self.args = (f"{where}; applied before it: {ran}; {outcome}",)


def bridge_runner(module, netns, timeout):
    """`bridge [-n NETNS]`, every call killed after `timeout` seconds."""
    return Runner(module, "bridge", ["-n", netns] if netns else [], timeout=timeout)


def _read_device(ip, dev):
    try:
        return ip.run_json(["-j", "-d", "link", "show", "dev", dev]) or []
    except CommandError as exc:
        if exc.rc is not None and any(text in (exc.stderr or "") for text in NO_DEVICE):
            return []
        raise


def _view(want, host):
    view = {"dev": want["dev"]}
    if want["entries"] is not None:
        view["entries"] = host["fdb"]
    if want["neighbours"] is not None:
        view["neighbours"] = host["neigh"]
    return view


def run_fdb(module):
    """bridge_fdb: the entries of one vxlan device as the parameters say."""
    ctx = {}

    def validate(params):
        want = fdb_want(params)
        ctx.update(want=want, ip=ip_runner(module, want["netns"], want["timeout"]),
                   bridge=bridge_runner(module, want["netns"], want["timeout"]))
        return want

    def read_fdb(device):
        return normalise_fdb(ctx["bridge"].run_json(["-j", "fdb", "show", "dev", ctx["want"]["dev"]]), device)

    def read_neigh():
        return normalise_neighbours(ctx["ip"].run_json(["-j", "neigh", "show", "dev", ctx["want"]["dev"]]))

    def read(want):
        device = device_view(_read_device(ctx["ip"], want["dev"]), want["dev"])
        if device is None:
            return {"device": None, "fdb": [], "neigh": []}
        return {"device": device, "fdb": read_fdb(device) if want["entries"] is not None else [],
                "neigh": read_neigh() if want["neighbours"] is not None else []}

    def plan(want, host):
        device = host["device"]
        if device is None:
            if not module.check_mode:
                raise ValidationError(f"dev: link {want['dev']!r} does not exist")
            warn_assumed(module, f"dev: link {want['dev']!r} does not exist")
            device = {"name": want["dev"], "vni": None, "port": None, "own": None, "proxy": True, "learning": False}
        if want["neighbours"] and want["state"] != "absent" and not device["proxy"]:
            module.warn(f"dev: {want['dev']} was made without proxy, so the kernel does not answer ARP from "
                        "these neighbour entries (proxy is fixed when the vxlan device is created)")
        fdb_lines = plan_fdb(want, host["fdb"], device) if want["entries"] is not None else []
        neigh_lines = plan_neighbours(want, host["neigh"]) if want["neighbours"] is not None else []
        after = dict(host, fdb=predict_fdb(want, host["fdb"], device) if want["entries"] is not None else [],
                     neigh=predict_neighbours(want, host["neigh"]) if want["neighbours"] is not None else [])
        ctx.update(fdb_lines=fdb_lines, neigh_lines=neigh_lines, host=host, device=device)
        commands = shown(ctx["bridge"], fdb_lines) + shown(ctx["ip"], neigh_lines)
        return Change(commands=commands, before=_view(want, host), after=_view(want, after),
                      extra=_extra(want, after))

    def apply(change):
        want, host, device = ctx["want"], ctx["host"], ctx["device"]
        bridge, ip = ctx["bridge"], ctx["ip"]
        try:
            if ctx["fdb_lines"]:
                apply_all_or_nothing(
                    bridge, ctx["fdb_lines"],
                    undo=lambda: restore_fdb(host["fdb"], read_fdb(device), device),
                    differs=lambda: fdb_differences(host["fdb"], read_fdb(device)),
                )
            if ctx["neigh_lines"]:
                _apply_neighbours(ip, bridge, ctx, read_fdb, read_neigh)
        except NotApplied:
            change.extra.update(_quietly(lambda: _extra(want, _reread(want, device, read_fdb, read_neigh))) or {})
            raise
        after = _reread(want, device, read_fdb, read_neigh)
        change.after = _view(want, after)
        change.extra.update(_extra(want, after))

    run(module, validate=validate, read=read, plan=plan, apply=apply)


def _apply_neighbours(ip, bridge, ctx, read_fdb, read_neigh):
    """The second batch; when it fails, its own lines and the fdb batch before it are undone."""
    host, device, dev = ctx["host"], ctx["device"], ctx["want"]["dev"]
    try:
        run_batch(ip, ctx["neigh_lines"])
        return
    except BatchFailed as exc:
        failure = exc
    undo, fdb_undo, problem = [], [], None
    try:
        if failure.applied != 0:
            undo = restore_neighbours(host["neigh"], read_neigh(), dev)
            if undo:
                run_batch(ip, undo)
        if ctx["fdb_lines"]:
            fdb_undo = restore_fdb(host["fdb"], read_fdb(device), device)
            if fdb_undo:
                run_batch(bridge, fdb_undo)
        problems = [p for p in (neighbour_differences(host["neigh"], read_neigh()),
                                fdb_differences(host["fdb"], read_fdb(device)) if ctx["fdb_lines"] else None) if p]
        problem = "; ".join(problems) or None
    except (CommandError, ValueError) as exc:
        problem = f"{exc}"
    raise BothNotApplied(ip, failure, undo, shown(bridge, ctx["fdb_lines"]), shown(bridge, fdb_undo), problem)


def _reread(want, device, read_fdb, read_neigh):
    return {"fdb": read_fdb(device) if want["entries"] is not None else [],
            "neigh": read_neigh() if want["neighbours"] is not None else []}


def _extra(want, host):
    extra = {}
    if want["entries"] is not None:
        extra["entries"] = host["fdb"]
    if want["neighbours"] is not None:
        extra["neighbours"] = host["neigh"]
    return extra


def _quietly(read):
    try:
        return read()
    except CommandError:
        return None
