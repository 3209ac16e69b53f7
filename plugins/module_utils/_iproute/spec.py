# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ip_link and ip_address accept: the argument specs and the checks a spec cannot express.

The specs are module-level constants the modules hand to AnsibleModule as they are; `choices`,
`required_if` and friends are enforced there, so the checks below never repeat them.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import LINK_OWNER_MARK
from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    GRE_KEY,
    NAME_RULE,
    VLAN_ID,
    VNI,
    ValidationError,
    ifname,
    int_range,
    ip_address,
    mac_address,
    name_problem,
    netns_name,
)

KINDS = ("vlan", "vxlan", "bridge", "veth", "dummy", "macvlan", "gre", "gretap", "bond")
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru", "source")
# The kernel's bonding modes and hash policies as iproute2 6.1 spells them (`ip link help bond`).
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
BOND_HASH_POLICIES = ("layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4", "vlan+srcmac")
BOND_HASH_MODES = ("balance-xor", "802.3ad", "balance-tlb")  # the modes that hash a flow onto a member
BOND_LACP_MODE = "802.3ad"  # lacp_rate and lacp_active: the kernel refuses them in any other mode
LACP_RATES = ("slow", "fast")
BOND_MS = (0, 60000)  # miimon, updelay, downdelay in ms; a minute is far beyond any switch's convergence
LINK_STATES = ("present", "absent", "up", "down")
ADDRESS_STATES = ("present", "absent", "exact")
MTU = (68, 65535)
TTL = (0, 255)
PORT = (1, 65535)
IFALIAS_MAX = 255  # bytes: the kernel's IFALIASZ (256) less the NUL
OWNER_MAX = IFALIAS_MAX - len(LINK_OWNER_MARK)

# Kind-specific options each kind accepts; all of them are fixed when the link is created.
KIND_OPTIONS = {
    "vlan": ("link", "vlan_id"),
    "vxlan": ("vni", "local", "remote", "group", "dstport", "learning", "proxy", "ttl", "link"),
    "bridge": (),
    "veth": ("peer", "peer_netns"),
    "dummy": (),
    "macvlan": ("link", "macvlan_mode"),
    "gre": ("local", "remote", "key", "ttl", "link"),
    "gretap": ("local", "remote", "key", "ttl", "link"),
    "bond": ("bond_mode", "miimon", "updelay", "downdelay", "lacp_rate", "lacp_active", "xmit_hash_policy", "members"),
}
SPECIFIC = ("link", "vlan_id", "vni", "local", "remote", "group", "dstport", "learning", "proxy", "ttl", "key",
            "peer", "peer_netns", "macvlan_mode", "bond_mode", "miimon", "updelay", "downdelay", "lacp_rate", "lacp_active",
            "xmit_hash_policy", "members")
# A bond's options, as the kernel (6.1) lets them change on a bond that exists: never by recreating it
# (its addresses and ifindex stay). `ip link set B type bond ...` takes BOND_LIVE at any time; BOND_DOWN
# only while the bond is down ("unable to set option because the bond is up"); the mode only while it
# is down and has no members ("... because the bond device has slaves").
BOND_LIVE = ("miimon", "updelay", "downdelay", "xmit_hash_policy")
BOND_DOWN = ("lacp_rate", "lacp_active")
BOND_IN_PLACE = ("bond_mode", "members") + BOND_LIVE + BOND_DOWN
MUTABLE = ("mtu", "address", "master")
# Bridge-port options: settings of the link's port in its master bridge (`type bridge_slave`).
BRIDGE_PORT = ("isolated",)

LINK_ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(LINK_STATES)),
    kind=dict(type="str", choices=list(KINDS)),
    link=dict(type="str"),
    vlan_id=dict(type="int"),
    vni=dict(type="int"),
    local=dict(type="str"),
    remote=dict(type="str"),
    group=dict(type="str"),
    dstport=dict(type="int"),
    learning=dict(type="bool"),
    proxy=dict(type="bool"),
    key=dict(type="int", no_log=False),
    ttl=dict(type="int"),
    peer=dict(type="str"),
    peer_netns=dict(type="str"),
    macvlan_mode=dict(type="str", choices=list(MACVLAN_MODES)),
    bond_mode=dict(type="str", choices=list(BOND_MODES)),
    miimon=dict(type="int"),
    updelay=dict(type="int"),
    downdelay=dict(type="int"),
    lacp_rate=dict(type="str", choices=list(LACP_RATES)),
    lacp_active=dict(type="bool"),
    xmit_hash_policy=dict(type="str", choices=list(BOND_HASH_POLICIES)),
    members=dict(type="list", elements="str"),
    mtu=dict(type="int"),
    address=dict(type="str"),
    master=dict(type="str"),
    isolated=dict(type="bool"),
    netns=dict(type="str"),
    owner=dict(type="str"),
    **TIMEOUT_ARGS,
)
LINK_RULES = dict(
    required_if=[
        ("kind", "vlan", ("link", "vlan_id")),
        ("kind", "vxlan", ("vni",)),
        ("kind", "veth", ("peer",)),
        ("kind", "macvlan", ("link",)),
    ],
    mutually_exclusive=[("remote", "group")],
    required_by={"peer_netns": ("peer",), "lacp_rate": ("bond_mode",), "lacp_active": ("bond_mode",),
                 "xmit_hash_policy": ("bond_mode",), "updelay": ("miimon",), "downdelay": ("miimon",)},
    supports_check_mode=True,
)

ADDRESS_ARGUMENT_SPEC = dict(
    dev=dict(type="str", required=True),
    addresses=dict(type="list", elements="str", required=True),
    state=dict(type="str", default="present", choices=list(ADDRESS_STATES)),
    up=dict(type="bool", default=False),
    netns=dict(type="str"),
    **TIMEOUT_ARGS,
)
ADDRESS_RULES = dict(supports_check_mode=True)


def _tunnel_ip(field, value, kind):
    address = ip_address(field, value)
    if kind in ("gre", "gretap") and ":" in address:
        raise ValidationError(f"{field}: {value!r} must be an IPv4 address for kind {kind}")
    return address


def owner_name(field, value):
    """The owner written into a link's alias as LINK_OWNER_MARK + owner: one safe word of an ip -batch line."""
    problem = name_problem(value, OWNER_MAX)
    if problem is not None:
        raise ValidationError(f"{field}: {value!r} is not an owner name (1-{OWNER_MAX} {NAME_RULE}): {problem}")
    return value


def timeout(params):
    return int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600))


def _optional(params, field, check):
    value = params.get(field)
    return None if value is None else check(field, value)


def _members(field, value):
    names = [ifname(f"{field}[{index}]", name) for index, name in enumerate(value)]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValidationError(f"{field}: lists {name!r} twice")
    return names


def _check_bond(want):
    """The rules across a bond's options that the kernel would otherwise refuse half way through a batch
    (or, for a delay, silently round down)."""
    mode = want["bond_mode"]
    if want["members"] is not None and want["name"] in want["members"]:
        raise ValidationError(f"members: {want['name']!r} is the bond itself; members are other links")
    for field in ("lacp_rate", "lacp_active"):
        if want[field] is not None and mode != BOND_LACP_MODE:
            raise ValidationError(f"{field}: only with bond_mode {BOND_LACP_MODE} (bond_mode is {mode})")
    if want["xmit_hash_policy"] is not None and mode not in BOND_HASH_MODES:
        raise ValidationError(f"xmit_hash_policy: only with bond_mode {', '.join(BOND_HASH_MODES)} (bond_mode is {mode})")
    for field in ("updelay", "downdelay"):
        if want[field] is not None and not want["miimon"]:
            raise ValidationError(f"{field}: needs miimon above 0 (the kernel counts delays in link checks)")
        if want[field] and want[field] % want["miimon"]:
            raise ValidationError(f"{field}: {want[field]} must be a multiple of miimon ({want['miimon']}); the kernel would round it down")


def link_want(params):
    """Check every parameter and return the wanted link as a plain dict; raise ValidationError."""
    kind = params.get("kind")
    want = {"name": ifname("name", params["name"]), "state": params["state"], "kind": kind,
            "netns": _optional(params, "netns", netns_name), "owner": _optional(params, "owner", owner_name),
            "timeout": timeout(params)}
    for field in SPECIFIC:
        if params.get(field) is None:
            continue
        if kind is None:
            raise ValidationError(f"{field}: needs kind (one of {', '.join(KINDS)})")
        if field not in KIND_OPTIONS[kind]:
            users = [k for k, opts in KIND_OPTIONS.items() if field in opts]
            raise ValidationError(f"{field}: only used with kind {', '.join(users)} (kind is {kind})")
    checks = {
        "link": ifname,
        "vlan_id": lambda f, v: int_range(f, v, VLAN_ID),
        "vni": lambda f, v: int_range(f, v, VNI),
        "key": lambda f, v: int_range(f, v, GRE_KEY),
        "ttl": lambda f, v: int_range(f, v, TTL),
        "dstport": lambda f, v: int_range(f, v, PORT),
        "learning": lambda f, v: bool(v),
        "proxy": lambda f, v: bool(v),
        "local": lambda f, v: _tunnel_ip(f, v, kind),
        "remote": lambda f, v: _tunnel_ip(f, v, kind),
        "group": ip_address,
        "peer": ifname,
        "peer_netns": netns_name,
        "macvlan_mode": lambda f, v: v,  # the spec's choices
        "bond_mode": lambda f, v: v,
        "miimon": lambda f, v: int_range(f, v, BOND_MS),
        "updelay": lambda f, v: int_range(f, v, BOND_MS),
        "downdelay": lambda f, v: int_range(f, v, BOND_MS),
        "lacp_rate": lambda f, v: v,
        "lacp_active": lambda f, v: bool(v),
        "xmit_hash_policy": lambda f, v: v,
        "members": _members,
        "mtu": lambda f, v: int_range(f, v, MTU),
        "address": mac_address,
        "master": lambda f, v: v if v == "" else ifname(f, v),
        "isolated": lambda f, v: bool(v),
    }
    for field, check in checks.items():
        want[field] = _optional(params, field, check)
    if want["group"] is not None and not ipaddress.ip_address(want["group"]).is_multicast:
        raise ValidationError(f"group: {want['group']!r} is not a multicast address (224.0.0.0/4 or ff00::/8)")
    if want["remote"] is not None and ipaddress.ip_address(want["remote"]).is_multicast:
        raise ValidationError(f"remote: {want['remote']!r} is multicast; use group for a multicast VXLAN")
    families = {ipaddress.ip_address(want[f]).version for f in ("local", "remote", "group") if want[f]}
    if len(families) > 1:
        raise ValidationError("local, remote, group: must all be IPv4 or all IPv6")
    for field in ("link", "peer", "master"):
        # a veth's ends may share a name when they live in different namespaces (a router's port)
        if want[field] == want["name"] and not (field == "peer" and want["peer_netns"] is not None):
            raise ValidationError(f"{field}: must differ from name ({want['name']!r}) unless peer_netns puts the peer elsewhere")
    if want["peer_netns"] is not None and want["peer_netns"] == want["netns"]:
        raise ValidationError("peer_netns: must differ from netns; omit it for a peer in the same namespace")
    if want["isolated"] is not None and want["master"] == "":
        raise ValidationError("isolated: a setting of the link's port in its bridge; master is empty (out of any bridge)")
    if kind == "bond":
        _check_bond(want)
    if want["address"] is not None and kind == "gre":
        raise ValidationError("address: kind gre has no MAC address (allowed with every other kind)")
    return want


def address_want(params):
    """Check dev, addresses and netns; addresses come back canonical and without duplicates."""
    addresses = []
    for index, value in enumerate(params["addresses"] or []):
        address = ip_address(f"addresses[{index}]", value, with_prefix=True)
        if address not in addresses:
            addresses.append(address)
    return {
        "dev": ifname("dev", params["dev"]),
        "addresses": addresses,
        "state": params["state"],
        "up": bool(params.get("up")),
        "netns": _optional(params, "netns", netns_name),
        "timeout": timeout(params),
    }
