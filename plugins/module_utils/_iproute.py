# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links and addresses through iproute2: read `ip -j` once, diff with pure functions, write one batch.

Private to the collection: the API may change without notice.

Every change is a list of `ip` command lines (argv lists without the leading `ip`); they are
applied with a single `ip [-n NS] -batch -`, which stops at the first failing line.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._runner import (
    CommandError,
    Runner,
    warn_assumed,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    GRE_KEY,
    VLAN_ID,
    VNI,
    ValidationError,
    choice,
    ifname,
    int_range,
    ip_address,
    mac_address,
    netns_name,
)

KINDS = ("vlan", "vxlan", "bridge", "veth", "dummy", "macvlan", "gre", "gretap")
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru", "source")
LINK_STATES = ("present", "absent", "up", "down")
ADDRESS_STATES = ("present", "absent", "exact")
MTU = (68, 65535)
TTL = (0, 255)
PORT = (1, 65535)

# Kind-specific options each kind accepts; all of them are fixed when the link is created.
KIND_OPTIONS = {
    "vlan": ("link", "vlan_id"),
    "vxlan": ("vni", "local", "remote", "group", "dstport", "learning", "ttl", "link"),
    "bridge": (),
    "veth": ("peer", "peer_netns"),
    "dummy": (),
    "macvlan": ("link", "macvlan_mode"),
    "gre": ("local", "remote", "key", "ttl", "link"),
    "gretap": ("local", "remote", "key", "ttl", "link"),
}
SPECIFIC = ("link", "vlan_id", "vni", "local", "remote", "group", "dstport", "learning", "ttl", "key",
            "peer", "peer_netns", "macvlan_mode")
MUTABLE = ("mtu", "address", "master")


class PlanError(Exception):
    """The wanted state cannot be reached from what the host has (found before any write)."""


# ---------------------------------------------------------------- argument specs

def link_argument_spec():
    return {
        "argument_spec": {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": list(LINK_STATES)},
            "kind": {"type": "str", "choices": list(KINDS)},
            "link": {"type": "str"},
            "vlan_id": {"type": "int"},
            "vni": {"type": "int"},
            "local": {"type": "str"},
            "remote": {"type": "str"},
            "group": {"type": "str"},
            "dstport": {"type": "int"},
            "learning": {"type": "bool"},
            "key": {"type": "int", "no_log": False},
            "ttl": {"type": "int"},
            "peer": {"type": "str"},
            "peer_netns": {"type": "str"},
            "macvlan_mode": {"type": "str", "choices": list(MACVLAN_MODES)},
            "mtu": {"type": "int"},
            "address": {"type": "str"},
            "master": {"type": "str"},
            "netns": {"type": "str"},
        },
        "required_if": [
            ("kind", "vlan", ("link", "vlan_id")),
            ("kind", "vxlan", ("vni",)),
            ("kind", "veth", ("peer",)),
            ("kind", "macvlan", ("link",)),
        ],
        "mutually_exclusive": [("remote", "group")],
        "required_by": {"peer_netns": ("peer",)},
        "supports_check_mode": True,
    }


def address_argument_spec():
    return {
        "argument_spec": {
            "dev": {"type": "str", "required": True},
            "addresses": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": list(ADDRESS_STATES)},
            "netns": {"type": "str"},
        },
        "supports_check_mode": True,
    }


# ---------------------------------------------------------------- validation

def link_name(field, value):
    """An interface name; the one rule (_validate.ifname) also keeps it whole in an `ip -batch` line."""
    return ifname(field, value)


def _tunnel_ip(field, value, kind):
    address = ip_address(field, value)
    if kind in ("gre", "gretap") and ":" in address:
        raise ValidationError(f"{field}: {value!r} must be an IPv4 address for kind {kind}")
    return address


def link_want(params):
    """Check every parameter and return the wanted link as a plain dict; raise ValidationError."""
    want = {"name": link_name("name", params["name"]), "state": choice("state", params["state"], LINK_STATES)}
    kind = params.get("kind")
    want["kind"] = None if kind is None else choice("kind", kind, KINDS)
    want["netns"] = None if params.get("netns") is None else netns_name("netns", params["netns"])
    for field in SPECIFIC:
        value = params.get(field)
        if value is None:
            continue
        if kind is None:
            raise ValidationError(f"{field}: needs kind (one of {', '.join(KINDS)})")
        if field not in KIND_OPTIONS[kind]:
            users = [k for k, opts in KIND_OPTIONS.items() if field in opts]
            raise ValidationError(f"{field}: only used with kind {', '.join(users)} (kind is {kind})")
    checks = {
        "link": lambda v: link_name("link", v),
        "vlan_id": lambda v: int_range("vlan_id", v, VLAN_ID),
        "vni": lambda v: int_range("vni", v, VNI),
        "key": lambda v: int_range("key", v, GRE_KEY),
        "ttl": lambda v: int_range("ttl", v, TTL),
        "dstport": lambda v: int_range("dstport", v, PORT),
        "learning": bool,
        "local": lambda v: _tunnel_ip("local", v, kind),
        "remote": lambda v: _tunnel_ip("remote", v, kind),
        "group": lambda v: ip_address("group", v),
        "peer": lambda v: link_name("peer", v),
        "peer_netns": lambda v: netns_name("peer_netns", v),
        "macvlan_mode": lambda v: choice("macvlan_mode", v, MACVLAN_MODES),
        "mtu": lambda v: int_range("mtu", v, MTU),
        "address": lambda v: mac_address("address", v),
        "master": lambda v: v if v == "" else link_name("master", v),
    }
    for field, check in checks.items():
        value = params.get(field)
        want[field] = None if value is None else check(value)
    if want["group"] is not None and not ipaddress.ip_address(want["group"]).is_multicast:
        raise ValidationError(f"group: {want['group']!r} is not a multicast address (224.0.0.0/4 or ff00::/8)")
    if want["remote"] is not None and ipaddress.ip_address(want["remote"]).is_multicast:
        raise ValidationError(f"remote: {want['remote']!r} is multicast; use group for a multicast VXLAN")
    families = {ipaddress.ip_address(want[f]).version for f in ("local", "remote", "group") if want[f]}
    if len(families) > 1:
        raise ValidationError("local, remote, group: must all be IPv4 or all IPv6")
    for field in ("link", "peer", "master"):
        if want[field] == want["name"]:
            raise ValidationError(f"{field}: must differ from name ({want['name']!r})")
    if want["peer_netns"] is not None and want["peer_netns"] == want["netns"]:
        raise ValidationError("peer_netns: must differ from netns; omit it for a peer in the same namespace")
    if want["address"] is not None and kind in ("gre",):
        raise ValidationError("address: kind gre has no MAC address (allowed with every other kind)")
    return want


def address_want(params):
    """Check dev, addresses and state; addresses come back canonical and without duplicates."""
    addresses = []
    for index, value in enumerate(params["addresses"] or []):
        address = ip_address(f"addresses[{index}]", value, with_prefix=True)
        if address not in addresses:
            addresses.append(address)
    return {
        "dev": link_name("dev", params["dev"]),
        "addresses": addresses,
        "state": choice("state", params["state"], ADDRESS_STATES),
        "netns": None if params.get("netns") is None else netns_name("netns", params["netns"]),
    }


# ---------------------------------------------------------------- reading `ip -j`

def _endpoint(data, key):
    value = data.get(key) or data.get(key + "6")
    return None if value in (None, "any") else value


def _gre_key(data):
    """GRE keys print as dotted quads (ikey/okey); one `key` means both are equal."""
    ikey, okey = data.get("ikey"), data.get("okey")
    if ikey is None and okey is None:
        return None
    if ikey != okey:
        return f"ikey {ikey} okey {okey}"
    return int(ipaddress.IPv4Address(ikey))


def find_veth_peer(raw, peer_table):
    """Name of the veth peer of `raw` in another namespace's link table, or None.

    The peer is the link whose ifindex is our link_index and whose link_index is our ifindex.
    """
    if "link_netnsid" not in raw:
        return None
    for other in peer_table or []:
        if (other.get("ifindex") == raw.get("link_index") and other.get("link_index") == raw.get("ifindex")
                and "link_netnsid" in other):
            return other["ifname"]
    return None


def normalise_link(raw, peer_table=None, peer_netns=None):
    """One entry of `ip -j -d link show` as a plain dict of what this collection manages."""
    info = raw.get("linkinfo") or {}
    kind = info.get("info_kind")
    data = info.get("info_data") or {}
    link = {
        "name": raw["ifname"],
        "kind": kind,
        "state": "up" if "UP" in raw.get("flags", []) else "down",
        "mtu": raw.get("mtu"),
        "address": raw.get("address"),
        "master": raw.get("master"),
    }
    if kind == "vlan":
        link.update(link=raw.get("link"), vlan_id=data.get("id"))
    elif kind == "vxlan":
        link.update(vni=data.get("id"), local=_endpoint(data, "local"), remote=_endpoint(data, "remote"),
                    group=_endpoint(data, "group"), dstport=data.get("port"), learning=data.get("learning"),
                    ttl=data.get("ttl"), link=data.get("link"))
    elif kind == "veth":
        if "link_netnsid" in raw:
            link.update(peer=find_veth_peer(raw, peer_table), peer_netns=peer_netns if peer_table is not None else None)
        else:
            link.update(peer=raw.get("link"), peer_netns=None)
    elif kind == "macvlan":
        link.update(link=raw.get("link"), macvlan_mode=data.get("mode"))
    elif kind in ("gre", "gretap"):
        link.update(local=_endpoint(data, "local"), remote=_endpoint(data, "remote"), key=_gre_key(data),
                    ttl=data.get("ttl"), link=data.get("link"))
    return link


def normalise_addresses(raw_table, dev):
    """Addresses of `dev` from `ip -j addr show`, or None when the link does not exist."""
    for raw in raw_table or []:
        if raw.get("ifname") == dev:
            return [
                {
                    "address": f"{ipaddress.ip_address(entry['local'])}/{entry['prefixlen']}",
                    "family": entry.get("family"),
                    "scope": entry.get("scope"),
                    "secondary": bool(entry.get("secondary")),
                }
                for entry in raw.get("addr_info", [])
                if "local" in entry and "prefixlen" in entry
            ]
    return None


# ---------------------------------------------------------------- pure diffs

def needs_recreate(want, have):
    """Names of the attributes that force delete + add (kind or a kind-specific option differs)."""
    if have is None or want["kind"] is None:
        return []
    if have["kind"] != want["kind"]:
        return ["kind"]
    changed = []
    for field in KIND_OPTIONS[want["kind"]]:
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
    return [str(arg) for arg in line]


def _admin_state(want, have):
    """up/down to set, or None; a recreated link keeps its old up/down state unless told otherwise."""
    if want["state"] in ("up", "down"):
        return want["state"]
    return have["state"] if have is not None else None


def plan_link(want, have):
    """ip batch lines turning `have` (a normalised link or None) into `want`; [] when nothing to do."""
    name = want["name"]
    if want["state"] == "absent":
        return [] if have is None else [["link", "del", "dev", name]]
    if have is None and want["kind"] is None:
        raise PlanError(f"name: link {name!r} does not exist; give kind to create it")
    lines = []
    settings = []
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
        state = _admin_state(want, have)
        if state == "up":
            settings.append("up")
    else:
        for field in MUTABLE:
            if want[field] is None or have.get(field) == want[field] or (field == "master" and want[field] == "" and not have.get(field)):
                continue
            settings += ["nomaster"] if want[field] == "" else [field, str(want[field])]
        if want["state"] in ("up", "down") and have["state"] != want["state"]:
            settings.append(want["state"])
    if settings:
        lines.append(["link", "set", "dev", name] + settings)
    return lines


def blank_link(name, kind):
    """A link as the kernel makes it before any setting: down, no MTU, address or master known yet."""
    return {"name": name, "kind": kind, "state": "down", "mtu": None, "address": None, "master": None}


def predict_link(want, have):
    """The link as it will look after plan_link's lines ran (None when absent); for check mode."""
    if want["state"] == "absent":
        return None
    recreate = have is None or bool(needs_recreate(want, have))
    after = blank_link(want["name"], want["kind"])
    if not recreate:
        after = dict(have)
    elif have is not None:
        after["master"] = have.get("master")
        after["state"] = have["state"]
    if want["kind"] is not None and recreate:
        after.update({field: want[field] for field in KIND_OPTIONS[want["kind"]]})
    for field in MUTABLE:
        if want[field] is not None:
            after[field] = want[field] or None
    if want["state"] in ("up", "down"):
        after["state"] = want["state"]
    return after


def _addr_del(address, dev):
    return ["address", "del", address, "dev", dev]


def plan_addresses(want, have):
    """ip batch lines for want (address_want) given have (normalise_addresses); [] when nothing to do.

    Deleting a primary IPv4 address makes the kernel drop the secondaries of its subnet, so those
    that must stay are put back with `address replace` (which also succeeds when the kernel
    promoted them instead). Secondaries are deleted before primaries for the same reason.
    """
    dev = want["dev"]
    have = have or []
    present = [entry["address"] for entry in have]
    wanted = want["addresses"]
    if want["state"] == "absent":
        delete = [a for a in present if a in wanted]
        add = []
    elif want["state"] == "present":
        wanted_ips = {ipaddress.ip_interface(a).ip: a for a in wanted}
        delete = [a for a in present if ipaddress.ip_interface(a).ip in wanted_ips and a not in wanted]
        add = [a for a in wanted if a not in present]
    else:
        delete = [e["address"] for e in have if e["address"] not in wanted and not _is_link_local6(e["address"])]
        add = [a for a in wanted if a not in present]
    by_address = {entry["address"]: entry for entry in have}
    delete.sort(key=lambda a: not by_address[a]["secondary"])
    readd = []
    for gone in delete:
        net = ipaddress.ip_interface(gone)
        if net.version != 4 or by_address[gone]["secondary"]:
            continue
        for entry in have:
            kept = entry["address"]
            if (entry["secondary"] and kept not in delete and kept not in readd
                    and ipaddress.ip_interface(kept).network == net.network):
                readd.append(kept)
    lines = [_addr_del(a, dev) for a in delete]
    lines += [["address", "add", a, "dev", dev] for a in add]
    lines += [["address", "replace", a, "dev", dev] for a in readd if a not in add]
    return lines


def _is_link_local6(address):
    ip = ipaddress.ip_interface(address).ip
    return ip.version == 6 and ip.is_link_local


def predict_addresses(want, have):
    """Address list after plan_addresses' lines ran, in the host's order plus additions."""
    current = [entry["address"] for entry in have or []]
    kept = []
    for line in plan_addresses(want, have):
        if line[1] == "del":
            current.remove(line[2])
        elif line[2] not in current and line[2] not in kept:
            kept.append(line[2])
    return current + kept


# ---------------------------------------------------------------- running

def ip_runner(module, netns):
    return Runner(module, "ip", ["-n", netns] if netns else [])


def shown(ip, lines):
    """Commands as the user would type them: `ip [-n NS] ...` argv lists."""
    return [["ip"] + ip.leading + line for line in lines]


def apply_batch(ip, lines):
    """All lines in one `ip -batch -` call: one write, stopping at the first failure."""
    ip.run(["-batch", "-"], data="".join(" ".join(line) + "\n" for line in lines))


def _read_link(ip, want, module):
    """(have, table, peer_ok): the named link normalised (or None), the link table, whether peer_netns was readable."""
    table = ip.run_json(["-j", "-d", "link", "show"]) or []
    raw = next((entry for entry in table if entry.get("ifname") == want["name"]), None)
    peer_table, peer_ok = None, True
    if want.get("peer_netns") and want["state"] != "absent":
        try:
            peer_table = Runner(module, "ip", ["-n", want["peer_netns"]]).run_json(["-j", "link", "show"]) or []
        except CommandError:
            peer_ok = False
    have = None if raw is None else normalise_link(raw, peer_table, want.get("peer_netns"))
    return have, table, peer_ok


def missing_references(want, table, peer_ok=True):
    """Messages for a parent (link/dev), master or peer namespace that does not exist."""
    names = {entry.get("ifname") for entry in table}
    problems = []
    if want["state"] != "absent":
        if want.get("link") and want["link"] not in names:
            problems.append(f"link: parent device {want['link']!r} does not exist")
        if want.get("master") and want["master"] not in names:
            problems.append(f"master: {want['master']!r} does not exist")
        if not peer_ok:
            problems.append(f"peer_netns: network namespace {want['peer_netns']!r} cannot be read (does it exist?)")
    return problems


def run_link(module):
    """ip_link: validate, read, plan, apply once, report."""
    try:
        want = link_want(module.params)
    except ValidationError as err:
        module.fail_json(msg=str(err))
    ip = ip_runner(module, want["netns"])
    lines = []
    try:
        have, table, peer_ok = _read_link(ip, want, module)
        if have is None and want["kind"] is None and want["state"] != "absent" and module.check_mode:
            # an earlier task of the same run (an OVS bridge's internal port) makes it; plan on a stand-in
            warn_assumed(module, f"name: link {want['name']!r} does not exist")
            have = blank_link(want["name"], None)
        lines = plan_link(want, have)
        problems = missing_references(want, table, peer_ok) if lines else []
        if problems and not module.check_mode:
            module.fail_json(msg="; ".join(problems), commands=shown(ip, lines))
        for problem in problems:
            warn_assumed(module, problem)
        after = predict_link(want, have)
        if lines and not module.check_mode:
            apply_batch(ip, lines)
            after = _read_link(ip, want, module)[0]
    except PlanError as err:
        module.fail_json(msg=str(err))
    except CommandError as err:
        err.fail(module, commands=shown(ip, lines))
    absent = {"name": want["name"], "state": "absent"}
    module.exit_json(
        changed=bool(lines),
        commands=shown(ip, lines),
        link=after,
        diff={"before": have or absent, "after": after or absent},
    )


def run_address(module):
    """ip_address: validate, read, plan, apply once, report."""
    try:
        want = address_want(module.params)
    except ValidationError as err:
        module.fail_json(msg=str(err))
    ip = ip_runner(module, want["netns"])
    lines = []
    try:
        have = normalise_addresses(ip.run_json(["-j", "address", "show"]), want["dev"])
        if have is None:
            if not module.check_mode:
                module.fail_json(msg=f"dev: link {want['dev']!r} does not exist")
            warn_assumed(module, f"dev: link {want['dev']!r} does not exist")
        lines = plan_addresses(want, have)
        after = predict_addresses(want, have)
        if lines and not module.check_mode:
            apply_batch(ip, lines)
            after = [e["address"] for e in normalise_addresses(ip.run_json(["-j", "address", "show"]), want["dev"]) or []]
    except CommandError as err:
        err.fail(module, commands=shown(ip, lines))
    before = [entry["address"] for entry in have or []]
    module.exit_json(
        changed=bool(lines),
        commands=shown(ip, lines),
        addresses=after,
        diff={"before": {"dev": want["dev"], "addresses": before}, "after": {"dev": want["dev"], "addresses": after}},
    )
