# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_link's pure plan: the `ip` lines that turn the link read (`have`) into the wanted one.

Also the way back: `restore_lines` plans from a link as it is now to a link as it was read, which is
how a failed write is undone (see batch.py), and the owner mark (LINK_OWNER_MARK in the alias).

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import LINK_OWNER_MARK
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import (
    entry,
    is_link_local6,
    normalise_addresses,
    normalise_link,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import (
    BOND_DOWN,
    BOND_HASH_MODES,
    BOND_IN_PLACE,
    BOND_LACP_MODE,
    BOND_LIVE,
    KIND_OPTIONS,
    KINDS,
    MUTABLE,
    SPECIFIC,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError


class PlanError(ValidationError):
    """The wanted state cannot be reached from what the host has (found before any write)."""


def mark(owner):
    """The alias a link created with `owner` carries."""
    return f"{LINK_OWNER_MARK}{owner}"


def owned(want, have):
    """May `state: absent` delete `have`? Without `owner`, yes; with it, only a link carrying its mark."""
    return want.get("owner") is None or (have or {}).get("alias") == mark(want["owner"])


def needs_recreate(want, have):
    """Names of the attributes that force delete + add (kind or a kind-specific option differs)."""
    if have is None or want["kind"] is None:
        return []
    if have["kind"] != want["kind"]:
        return ["kind"]
    changed = []
    for field in KIND_OPTIONS[want["kind"]]:
        if field in BOND_IN_PLACE:
            continue
        if field == "peer_netns":
            if have.get("peer_netns") != want["peer_netns"]:
                changed.append(field)
        elif want[field] is not None and have.get(field) != want[field]:
            changed.append(field)
    return changed


def add_line(want):
    """The `ip link add` line that creates the wanted link."""
    name, kind = want["name"], want["kind"]
    if kind in ("vlan", "macvlan"):
        line = ["link", "add", "link", want["link"], "name", name, "type", kind]
    else:
        line = ["link", "add", "name", name, "type", kind]
    if kind == "vlan":
        line += ["id", want["vlan_id"]]
    elif kind == "vxlan":
        line += ["id", want["vni"]]
        for field in ("local", "remote", "group"):
            if want[field] is not None:
                line += [field, want[field]]
        if want["link"] is not None:
            line += ["dev", want["link"]]
        if want["dstport"] is not None:
            line += ["dstport", want["dstport"]]
        if want["learning"] is not None:
            line.append("learning" if want["learning"] else "nolearning")
        if want["proxy"]:  # off is the kernel's default
            line.append("proxy")
        if want["ttl"] is not None:
            line += ["ttl", want["ttl"]]
    elif kind == "veth":
        line += ["peer", "name", want["peer"]]
        if want["peer_netns"] is not None:
            line += ["netns", want["peer_netns"]]
    elif kind == "macvlan" and want["macvlan_mode"] is not None:
        line += ["mode", want["macvlan_mode"]]
    elif kind in ("gre", "gretap"):
        for field in ("local", "remote", "key", "ttl"):
            if want[field] is not None:
                line += [field, want[field]]
        if want["link"] is not None:
            line += ["dev", want["link"]]
    elif kind == "bond":
        line += _bond_words(want, [field for field in ("bond_mode",) + BOND_LIVE + BOND_DOWN if want[field] is not None])
    return [str(arg) for arg in line]


# ---------------------------------------------------------------- bonds

_BOND_WORD = {"bond_mode": "mode", "lacp_active": "lacp_active"}  # the rest are spelled as the options


def _bond_words(want, fields):
    """`mode X miimon N ...` for `fields` of the bond; the kernel applies them in its own order (mode first,
    miimon before the delays), whatever the order on the line."""
    words = []
    for field in fields:
        value = want[field]
        words += [_BOND_WORD.get(field, field), ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return words


def _join(name, members):
    """Each member into bond `name`: the kernel refuses a member that is up ("Device can not be enslaved
    while up") and brings it up itself once it is in."""
    return [line for member in members for line in (["link", "set", "dev", member, "down"], ["link", "set", "dev", member, "master", name])]


def _release(members):
    """Members out of their bond, then up again: the kernel leaves a released member down."""
    return [["link", "set", "dev", member, "nomaster"] for member in members], [["link", "set", "dev", member, "up"] for member in members]


def _bond_lines(want, have):
    """Lines that change the existing bond `have` into `want` in place, and whether the bond must be down
    for them (a new mode, lacp_rate or lacp_active). A new mode also needs the bond without members: every
    member leaves, the mode is set with every given option, and the wanted members join again."""
    name = want["name"]
    old = list(have.get("members") or [])
    members = old if want["members"] is None else want["members"]
    differs = [field for field in BOND_LIVE + BOND_DOWN if want[field] is not None and have.get(field) != want[field]]
    remode = want["bond_mode"] is not None and have.get("bond_mode") != want["bond_mode"]
    leaving = old if remode else [member for member in old if member not in members]
    joining = members if remode else [member for member in members if member not in old]
    release, up_again = _release(leaving)
    fields = [field for field in ("bond_mode",) + BOND_LIVE + BOND_DOWN if want[field] is not None] if remode else differs
    lines = release + ([["link", "set", "dev", name, "type", "bond"] + _bond_words(want, fields)] if fields else [])
    lines += _join(name, joining) + [line for line in up_again if line[3] not in members]
    return lines, remode or any(field in BOND_DOWN for field in differs)


def _admin_state(want, have):
    """up/down to set, or None; a recreated link keeps its old up/down state unless told otherwise."""
    if want["state"] in ("up", "down"):
        return want["state"]
    return have["state"] if have is not None else None


def _created_alias(want, have):
    """The alias a new link gets: a recreated link keeps its own (marked or not: nothing is adopted),
    a link this call creates gets the owner's mark."""
    if have is not None:
        return have.get("alias")
    return mark(want["owner"]) if want.get("owner") else None


def plan_link(want, have):
    """ip batch lines turning `have` (a normalised link or None) into `want`; [] when nothing to do."""
    name = want["name"]
    if want["state"] == "absent":
        if have is None or not owned(want, have):
            return []
        return [["link", "del", "dev", name]] + _release(have.get("members") or [])[1]  # a bond's members stay up
    if have is None and want["kind"] is None:
        raise PlanError(f"name: link {name!r} does not exist; give kind to create it")
    lines = []
    settings = []
    bond, cycle = [], False
    recreate = needs_recreate(want, have)
    if recreate and have["kind"] not in KINDS:
        raise PlanError(f"kind: {name!r} exists as a {have['kind'] or 'physical/unknown'} link, which this module "
                        "never deletes; remove it first or omit kind to manage mtu, address, master and up/down only")
    if have is None or recreate:
        if have is not None:
            lines.append(["link", "del", "dev", name])
        lines.append(add_line(want))
        for field in MUTABLE:
            value = want[field]
            if value is None and field == "master" and have is not None:
                value = have.get("master")  # a recreated link goes back into its bridge
            if value:
                settings += [field, str(value)]
        alias = _created_alias(want, have)
        if alias:
            settings += ["alias", alias]
        if _admin_state(want, have) == "up":
            settings.append("up")
        if want["kind"] == "bond":
            bond = _join(name, want["members"] or [])
    else:
        for field in MUTABLE:
            if want[field] is None or have.get(field) == want[field] or (field == "master" and want[field] == "" and not have.get(field)):
                continue
            settings += ["nomaster"] if want[field] == "" else [field, str(want[field])]
        if want["state"] in ("up", "down") and have["state"] != want["state"]:
            settings.append(want["state"])
        if want["kind"] == "bond":
            bond, cycle = _bond_lines(want, have)
    port = _bridge_port_lines(want, have, recreate)
    up_last = bool(port or bond) and settings[-1:] == ["up"]  # a port forwards (a bond sends) only once it is set up
    if up_last:
        settings.pop()
    if settings:
        lines.append(["link", "set", "dev", name] + settings)
    if cycle and have["state"] == "up" and "down" not in settings:  # down for the change, up again after it
        lines.append(["link", "set", "dev", name, "down"])
        up_last = _admin_state(want, have) == "up"
    return lines + port + bond + ([["link", "set", "dev", name, "up"]] if up_last else [])


def _bridge_port_lines(want, have, recreate):
    """`isolated` of the link's port in its bridge, after the link is in it and before it is up (a
    port that forwards before it is isolated can close a flooding loop). A port that is new to its
    bridge (a new or recreated link, or one that changes bridge) starts with the kernel's default, off."""
    if want.get("isolated") is None:
        return []
    name = want["name"]
    master = want["master"] if want["master"] is not None else (have or {}).get("master")
    if not master:
        raise PlanError(f"isolated: link {name!r} is in no bridge; give master")
    new_port = have is None or bool(recreate) or master != have.get("master")
    if (False if new_port else bool(have.get("isolated"))) == want["isolated"]:
        return []
    return [["link", "set", "dev", name, "type", "bridge_slave", "isolated", "on" if want["isolated"] else "off"]]


def warnings(want, have):
    """What the user should hear although nothing failed."""
    if want["state"] == "absent" and have is not None and not owned(want, have):
        found = f"alias {have['alias']!r}" if have.get("alias") else "no alias"
        return [f"name: link {want['name']!r} is not marked {mark(want['owner'])!r} ({found}): "
                f"owner {want['owner']!r} did not create it, so it was left in place"]
    return []


def blank_link(name, kind):
    """A link as the kernel makes it before any setting: down, no MTU, address or master known yet."""
    return {"name": name, "kind": kind, "state": "down", "mtu": None, "address": None, "master": None, "alias": None}


def predict_link(want, have):
    """The link as it will look after plan_link's lines ran (None when absent); for check mode."""
    if want["state"] == "absent":
        return have if have is not None and not owned(want, have) else None
    recreate = have is None or bool(needs_recreate(want, have))
    after = blank_link(want["name"], want["kind"])
    if not recreate:
        after = dict(have)
    else:
        after["alias"] = _created_alias(want, have)
        if have is not None:
            after["master"] = have.get("master")
            after["state"] = have["state"]
    if want["kind"] is not None and recreate:
        after.update({field: want[field] for field in KIND_OPTIONS[want["kind"]]})
    elif want["kind"] is not None:  # a bond's options change in place; members are listed as the kernel does (joined last, last)
        after.update({field: want[field] for field in KIND_OPTIONS[want["kind"]] if field in BOND_IN_PLACE and want[field] is not None})
        if want.get("members") is not None:
            kept = [member for member in have.get("members") or [] if member in want["members"]]
            after["members"] = kept + [member for member in want["members"] if member not in kept]
    for field in MUTABLE:
        if want[field] is not None:
            after[field] = want[field] or None
    if want.get("isolated") is not None:
        after["isolated"] = want["isolated"]
    elif after.get("master") != (have or {}).get("master") or recreate:
        after.pop("isolated", None)  # a new port: the kernel's default
        if after.get("master"):
            after["isolated"] = False
    if want["state"] in ("up", "down"):
        after["state"] = want["state"]
    return after


def missing_references(want, table, peer_ok=True):
    """Messages for a parent (link/dev), master or peer namespace that does not exist."""
    names = {entry.get("ifname") for entry in table}
    problems = []
    if want["state"] != "absent":
        if want.get("link") and want["link"] not in names:
            problems.append(f"link: parent device {want['link']!r} does not exist")
        if want.get("master") and want["master"] not in names:
            problems.append(f"master: {want['master']!r} does not exist")
        problems += [f"members: {member!r} does not exist" for member in want.get("members") or [] if member not in names]
        if not peer_ok:
            problems.append(f"peer_netns: network namespace {want['peer_netns']!r} cannot be read (does it exist?)")
    return problems


# ---------------------------------------------------------------- the way back

def _as_want(link):
    """A normalised link as the want that recreates it exactly (as far as this module manages links)."""
    want = {field: link.get(field) for field in SPECIFIC}
    want.update(name=link["name"], state=link["state"], kind=link["kind"] if link["kind"] in KINDS else None,
                netns=None, owner=None, mtu=link["mtu"], address=link["address"], master=link.get("master") or "",
                isolated=link.get("isolated") if link.get("master") else None)
    if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", want["address"] or ""):
        want["address"] = None  # gre's is an IPv4 address, set by the kernel
    if want["kind"] == "bond":  # ip prints every option in every mode; the kernel takes some only in their modes
        if want["bond_mode"] != BOND_LACP_MODE:
            want.update(lacp_rate=None, lacp_active=None)
        if want["bond_mode"] not in BOND_HASH_MODES:
            want["xmit_hash_policy"] = None
        if not want["miimon"]:
            want.update(updelay=None, downdelay=None)
    return want


def _addresses(table, name):
    return [a["address"] for a in normalise_addresses(table, name) or [] if not is_link_local6(a["address"])]


def _addresses_back(before_table, now_table, name, fresh):
    """Addresses `name` had and lost (all of them when the link is new; IPv6 link-local ones come
    back by themselves with the restored MAC address)."""
    have = [] if fresh else _addresses(now_table, name)
    return [["address", "add", address, "dev", name] for address in _addresses(before_table, name) if address not in have]


def _settings_back(before, now):
    """mtu, address, master, up/down and alias of the existing link `now` back to `before`."""
    lines = plan_link(dict(_as_want(before), kind=None), now)
    if before.get("alias") and before["alias"] != now.get("alias"):
        lines.append(["link", "set", "dev", before["name"], "alias", before["alias"]])
    return lines


def restore_lines(before_table, now_table, name, peer_table=None, peer_netns=None):
    """The lines that put link `name` (and a veth peer in the same namespace) back as `before_table`
    had it: `before_table` and `now_table` are reads (`ip -j -d address show`) before and after a write."""
    raw_before, raw_now = entry(before_table, name), entry(now_table, name)
    if raw_before is None:
        return [] if raw_now is None else [["link", "del", "dev", name]]
    before = normalise_link(raw_before, peer_table, peer_netns, table=before_table)
    if before["kind"] == "veth" and before.get("peer") is None:
        raise ValidationError(f"name: {name!r} is a veth whose peer is in a namespace that was not read; "
                              "it cannot be recreated")
    now = None if raw_now is None else normalise_link(raw_now, peer_table, peer_netns, table=now_table)
    if now is None:
        lines, fresh = plan_link(_as_want(before), None), True
    else:
        lines = plan_link(_as_want(before), dict(now, alias=before["alias"]))  # a recreate takes `before`'s alias
        fresh = any(line[:2] == ["link", "add"] for line in lines)
        if not fresh and before["alias"] and before["alias"] != now["alias"]:
            lines.append(["link", "set", "dev", name, "alias", before["alias"]])
    if now is None and before["alias"]:
        lines.append(["link", "set", "dev", name, "alias", before["alias"]])
    lines += _addresses_back(before_table, now_table, name, fresh)
    peer = before.get("peer") if before["kind"] == "veth" and before.get("peer_netns") is None else None
    raw_peer = entry(before_table, peer) if peer else None
    if raw_peer is not None:
        raw_peer_now = entry(now_table, peer)
        peer_fresh = fresh or raw_peer_now is None
        peer_now = blank_link(peer, "veth") if peer_fresh else normalise_link(raw_peer_now)
        lines += _settings_back(normalise_link(raw_peer), peer_now)
        lines += _addresses_back(before_table, now_table, peer, peer_fresh)
    return lines


def link_differences(before_table, now_table, names):
    """None when the links `names` read the same in both tables (ifindex aside), else what differs."""
    problems = []
    for name in names:
        raw_before, raw_now = entry(before_table, name), entry(now_table, name)
        if (raw_before is None) != (raw_now is None):
            problems.append(f"{name} {'is missing' if raw_now is None else 'exists but did not before'}")
            continue
        if raw_before is None:
            continue
        a, b = normalise_link(raw_before), normalise_link(raw_now)
        a["addresses"], b["addresses"] = _addresses(before_table, name), _addresses(now_table, name)
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k != "peer_netns")
        if changed:
            problems.append(f"{name}: " + ", ".join(f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in changed))
    return "; ".join(problems) or None
