# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenFlow flows as comparable values: parse, normalise, diff, and build one atomic bundle.

OVS prints a flow in its own canonical form, which differs from what people write
(field order, aliases, hex vs decimal, quotes, defaults, legacy action spellings) and
depends on the OpenFlow version used to read. Flows are read under OpenFlow 1.4 (the
version bundles need anyway) and both sides are normalised to one text, so a flow that
is already present compares equal and a second run writes nothing.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

OPENFLOW = "OpenFlow14"
COOKIE_MAX = 2**64 - 1
TABLE_MAX = 254
PRIORITY_MAX = 65535
DEFAULT_PRIORITY = 32768

# Printed by dump-flows, never part of what a flow is.
STATS = frozenset({"duration", "n_packets", "n_bytes", "idle_age", "hard_age", "packet_count", "byte_count"})
# Flow properties that are not match fields; 0 means unset and is not printed by OVS.
NUMERIC_ATTRS = ("idle_timeout", "hard_timeout", "importance")
FLAG_ATTRS = ("send_flow_rem", "reset_counts", "no_packet_counts", "no_byte_counts")
# Only meaningful in a flow_mod request, never stored in the switch.
REQUEST_ONLY = frozenset({"check_overlap", "out_port", "out_group"})

# Protocol shorthands: name -> (dl_type, nw_proto or None).
SHORTHANDS = {
    "ip": (0x0800, None), "ipv4": (0x0800, None), "ipv6": (0x86DD, None),
    "arp": (0x0806, None), "rarp": (0x8035, None), "mpls": (0x8847, None), "mplsm": (0x8848, None),
    "icmp": (0x0800, 1), "igmp": (0x0800, 2), "tcp": (0x0800, 6), "udp": (0x0800, 17), "sctp": (0x0800, 132),
    "icmp6": (0x86DD, 58), "tcp6": (0x86DD, 6), "udp6": (0x86DD, 17), "sctp6": (0x86DD, 132),
}
# The name OVS prints for each shorthand (ipv4 is an input alias of ip).
_SHORTHAND_OF = {value: name for name, value in SHORTHANDS.items() if name != "ipv4"}

MATCH_ALIASES = {
    "eth_src": "dl_src", "eth_dst": "dl_dst", "eth_type": "dl_type", "vlan_pcp": "dl_vlan_pcp",
    "ip_src": "nw_src", "ip_dst": "nw_dst", "ipv4_src": "nw_src", "ipv4_dst": "nw_dst", "ip_proto": "nw_proto",
    "tcp_src": "tp_src", "tcp_dst": "tp_dst", "udp_src": "tp_src", "udp_dst": "tp_dst",
    "sctp_src": "tp_src", "sctp_dst": "tp_dst", "tunnel_id": "tun_id",
    "icmpv4_type": "icmp_type", "icmpv4_code": "icmp_code", "icmpv6_type": "icmp_type", "icmpv6_code": "icmp_code",
}
SET_FIELD_ALIASES = {
    "dl_src": "eth_src", "dl_dst": "eth_dst", "nw_src": "ip_src", "nw_dst": "ip_dst",
    "ipv4_src": "ip_src", "ipv4_dst": "ip_dst", "tunnel_id": "tun_id", "dl_vlan_pcp": "vlan_pcp",
}
# NXM/OXM names of whole fields, for `load:V->FIELD[]` (the same action as set_field).
NXM_FIELDS = {
    "NXM_OF_ETH_DST": "eth_dst", "NXM_OF_ETH_SRC": "eth_src", "NXM_OF_VLAN_TCI": "vlan_tci",
    "NXM_OF_IP_SRC": "ip_src", "NXM_OF_IP_DST": "ip_dst", "NXM_OF_IP_TOS": "nw_tos",
    "NXM_OF_TCP_SRC": "tcp_src", "NXM_OF_TCP_DST": "tcp_dst", "NXM_OF_UDP_SRC": "udp_src", "NXM_OF_UDP_DST": "udp_dst",
    "NXM_OF_ARP_OP": "arp_op", "NXM_OF_ARP_SPA": "arp_spa", "NXM_OF_ARP_TPA": "arp_tpa",
    "NXM_NX_ARP_SHA": "arp_sha", "NXM_NX_ARP_THA": "arp_tha", "NXM_NX_TUN_ID": "tun_id",
    "NXM_NX_PKT_MARK": "pkt_mark", "OXM_OF_METADATA": "metadata", "OXM_OF_ETH_SRC": "eth_src",
    "OXM_OF_ETH_DST": "eth_dst", "OXM_OF_ARP_OP": "arp_op", "OXM_OF_ARP_SPA": "arp_spa", "OXM_OF_ARP_TPA": "arp_tpa",
    "OXM_OF_IPV4_SRC": "ip_src", "OXM_OF_IPV4_DST": "ip_dst", "OXM_OF_TUNNEL_ID": "tun_id",
}
MAC_FIELDS = frozenset({"dl_src", "dl_dst", "eth_src", "eth_dst", "arp_sha", "arp_tha", "nd_sll", "nd_tll"})
IPV4_FIELDS = frozenset({"nw_src", "nw_dst", "ip_src", "ip_dst", "arp_spa", "arp_tpa", "tun_src", "tun_dst",
                         "ct_nw_src", "ct_nw_dst"})
IPV6_FIELDS = frozenset({"ipv6_src", "ipv6_dst", "nd_target", "tun_ipv6_src", "tun_ipv6_dst",
                         "ct_ipv6_src", "ct_ipv6_dst"})
_HEX_FIELD = re.compile(r"(tun_id|metadata|x{0,2}reg\d+|pkt_mark|ct_mark|ct_label|dl_type|vlan_tci|tun_metadata\d+)")
_FULL_MASK = {"tun_id": 64, "metadata": 64, "pkt_mark": 32, "ct_mark": 32, "tp_src": 16, "tp_dst": 16}
PORT_KEYWORDS = {"in_port": "IN_PORT", "local": "LOCAL", "normal": "NORMAL", "flood": "FLOOD", "all": "ALL",
                 "controller": "CONTROLLER", "none": "NONE", "any": "ANY", "table": "TABLE"}
_INT = re.compile(r"(0x[0-9a-fA-F]+|\d+)")
_TP_PROTO = {6: "tcp", 17: "udp", 132: "sctp"}


class FlowError(ValueError):
    """A flow string that cannot be parsed; the caller adds which flow it was."""


@dataclass(frozen=True)
class Flow:
    """One flow, normalised. `key` identifies it in its table (what delete_strict matches on)."""

    table: int
    priority: int
    match: tuple[tuple[str, str], ...]
    attrs: tuple[tuple[str, str], ...]
    actions: str
    cookie: int | None = None
    raw: str = ""
    match_raw: tuple[str, ...] = field(default=(), compare=False)
    uses_port_numbers: bool = field(default=False, compare=False)

    @property
    def key(self) -> str:
        parts = [f"table={self.table}", f"priority={self.priority}"]
        parts += [f"{k}={v}" if v is not None else k for k, v in self.match]
        return ",".join(parts)

    @property
    def text(self) -> str:
        """The normalised flow: equal texts mean equal flows."""
        parts = [f"table={self.table}", f"priority={self.priority}"]
        parts += [f"{k}={v}" if v != "" else k for k, v in self.attrs]
        parts += [f"{k}={v}" if v is not None else k for k, v in self.match]
        return ",".join(parts + [f"actions={self.actions}"])

    def strict_match(self) -> str:
        """table, priority and match as OVS printed or the user wrote them: what delete_strict needs."""
        return ",".join([f"table={self.table}", f"priority={self.priority}", *self.match_raw])


# ---------------------------------------------------------------- tokenising

def _top_level(text: str):
    """Yield (index, char) outside parentheses, brackets and double quotes (learn(), ct(), "port,name")."""
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise FlowError(f"unbalanced ')' at position {i}")
        elif depth == 0:
            yield i, ch
    if quoted:
        raise FlowError("unterminated double quote")
    if depth:
        raise FlowError("unbalanced '('")


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` at the top level only."""
    parts, start = [], 0
    for i, ch in _top_level(text):
        if ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _find_actions(text: str) -> int:
    """Index of the top-level `actions=` keyword (after a comma, a space or at the start), or -1."""
    for i, _ch in _top_level(text):
        if text.startswith("actions=", i) and (i == 0 or text[i - 1] in ", \t"):
            return i
    return -1


def unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def to_int(value: str) -> int | None:
    value = value.strip()
    return int(value, 0) if _INT.fullmatch(value) else None


# ---------------------------------------------------------------- values

def _render_int(name: str, number: int) -> str:
    if name == "vlan_tci":
        return f"0x{number:04x}"
    return hex(number) if _HEX_FIELD.fullmatch(name) else str(number)


def _mac(value: str) -> str:
    number = to_int(value)
    if number is not None and value.lower().startswith("0x"):
        value = number.to_bytes(6, "big").hex(":")
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", value):
        raise FlowError(f"{value!r} is not a MAC address")
    return value.lower()


def _ip(value: str, version: int) -> str:
    number = to_int(value)
    if number is not None and value.lower().startswith("0x"):
        return str(ipaddress.ip_address(number) if version == 4 else ipaddress.IPv6Address(number))
    try:
        return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))
    except ValueError:
        raise FlowError(f"{value!r} is not an IPv{version} address") from None


def _ip_masked(value: str, version: int) -> str:
    """10.0.0.1/24 and 10.0.0.0/255.255.255.0 -> 10.0.0.0/24; a full mask disappears, as OVS prints it."""
    address, _sep, mask = value.partition("/")
    if not mask:
        return _ip(address, version)
    try:
        net = ipaddress.ip_network(f"{address}/{mask}", strict=False)
    except ValueError:
        # A non-contiguous mask: keep value and mask, value masked.
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        try:
            addr, msk = int(cls(address)), int(cls(mask))
        except ValueError:
            raise FlowError(f"{value!r} is not an IPv{version} address/mask") from None
        return f"{cls(addr & msk)}/{cls(msk)}"
    if net.version != version:
        raise FlowError(f"{value!r} is not an IPv{version} address")
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _port(value: str, ports: dict[int, str] | None) -> tuple[str, bool]:
    """A port as OVS prints it with --names: names unquoted, keywords upper case, numbers mapped to names."""
    value = unquote(value)
    if value.lower() in PORT_KEYWORDS:
        return PORT_KEYWORDS[value.lower()], False
    number = to_int(value)
    if number is not None:
        return (ports or {}).get(number, str(number)), True
    return value, False


_NUMERIC_MATCH = frozenset({"vlan_tci", "vlan_vid", "dl_vlan", "dl_vlan_pcp"})


def _match_value(name: str, value: str, ports: dict[int, str] | None) -> tuple[str, bool]:
    if name in _NUMERIC_MATCH:
        number, _sep, mask = value.partition("/")
        if to_int(number) is None or (mask and to_int(mask) is None):
            raise FlowError(f"{name}={value!r} is not a number (or number/mask)")
    if name == "in_port":
        return _port(value, ports)
    if name in MAC_FIELDS:
        mac, _sep, mask = value.partition("/")
        mask = _mac(mask) if mask else ""
        return (_mac(mac) + (f"/{mask}" if mask and mask != "ff:ff:ff:ff:ff:ff" else "")), False
    if name in IPV4_FIELDS:
        return _ip_masked(value, 4), False
    if name in IPV6_FIELDS:
        return _ip_masked(value, 6), False
    number, _sep, mask = value.partition("/")
    n, m = to_int(number), to_int(mask) if mask else None
    if n is None or (mask and m is None):
        return unquote(value), False
    if m is not None and name in _FULL_MASK and m == 2 ** _FULL_MASK[name] - 1:
        m = None
    if m is not None:
        return f"{_render_int(name, n & m)}/{_render_int(name, m)}", False
    return _render_int(name, n), False


# ---------------------------------------------------------------- match

def _normalise_match(tokens: list[str], ports: dict[int, str] | None):
    """Returns (sorted match pairs, dl_type, nw_proto, has_vlan, uses_port_numbers)."""
    fields: dict[str, str | None] = {}
    dl_type = nw_proto = None
    numbers = False
    for token in tokens:
        name, eq, value = token.partition("=")
        name = name.strip()
        if not eq:
            if name in SHORTHANDS:
                dl_type, proto = SHORTHANDS[name]
                nw_proto = proto if proto is not None else nw_proto
            else:
                fields[name] = None
            continue
        name = MATCH_ALIASES.get(name, name)
        if name == "dl_type":
            dl_type = to_int(value)
            if dl_type is None:
                raise FlowError(f"dl_type={value!r} is not a number")
            continue
        if name == "nw_proto" and dl_type not in (0x0806, 0x8035):
            nw_proto = to_int(value)
            if nw_proto is None:
                raise FlowError(f"nw_proto={value!r} is not a number")
            continue
        fields[name] = value.strip()
    if dl_type in (0x0806, 0x8035):
        # For ARP, OVS spells the IP-ish fields as ARP fields.
        for old, new in (("nw_src", "arp_spa"), ("nw_dst", "arp_tpa"), ("nw_proto", "arp_op")):
            if old in fields:
                fields[new] = fields.pop(old)
        if nw_proto is not None:
            fields["arp_op"] = str(nw_proto)
            nw_proto = None
    pairs = []
    for name, value in fields.items():
        if value is None:
            pairs.append((name, None))
            continue
        value, numeric = _match_value(name, value, ports)
        numbers = numbers or numeric
        pairs.append((name, value))
    pairs = _vlan_tci_to_dl_vlan(pairs)
    pairs.sort()
    head = []
    if dl_type is not None:
        shorthand = _SHORTHAND_OF.get((dl_type, nw_proto))
        if shorthand:
            head.append((shorthand, None))
        elif (dl_type, None) in _SHORTHAND_OF:
            head += [(_SHORTHAND_OF[(dl_type, None)], None), ("nw_proto", str(nw_proto))]
        else:
            head.append(("dl_type", hex(dl_type)))
            if nw_proto is not None:
                head.append(("nw_proto", str(nw_proto)))
    elif nw_proto is not None:
        head.append(("nw_proto", str(nw_proto)))
    has_vlan = _has_vlan(dict(pairs))
    return tuple(head + pairs), dl_type, nw_proto, has_vlan, numbers


def _vlan_tci_to_dl_vlan(pairs):
    """vlan_tci=0x1001/0x1fff is printed by OVS as dl_vlan=1."""
    out = []
    for name, value in pairs:
        if name == "vlan_tci" and value and "/" in value:
            v, m = (int(x, 16) for x in value.split("/"))
            if m == 0x1FFF and v & 0x1000:
                out.append(("dl_vlan", str(v & 0xFFF)))
                continue
        out.append((name, value))
    return out


def _has_vlan(fields: dict) -> bool:
    """Whether the match guarantees a VLAN header (decides if mod_vlan_vid pushes one)."""
    if fields.get("dl_vlan") not in (None, str(0xFFFF)) or "dl_vlan_pcp" in fields:
        return True
    for name in ("vlan_tci", "vlan_vid"):
        value = fields.get(name)
        if value:
            v, _sep, m = value.partition("/")
            v, m = int(v, 0), (int(m, 0) if m else 0xFFFF)
            if v & m & 0x1000:
                return True
    return False


# ---------------------------------------------------------------- actions

def _set_field_value(name: str, value: str) -> str:
    if name in MAC_FIELDS:
        return _mac(value)
    if name in IPV4_FIELDS:
        return _ip(value, 4)
    if name in IPV6_FIELDS:
        return _ip(value, 6)
    number = to_int(value)
    return _render_int(name, number) if number is not None else value


def _set_field(value: str, name: str) -> str:
    name = SET_FIELD_ALIASES.get(name, name)
    return f"set_field:{_set_field_value(name, value)}->{name}"


def _nxm_field(spec: str) -> str | None:
    """NXM_NX_TUN_ID[] -> tun_id for whole-field references; None for bit ranges."""
    m = re.fullmatch(r"([A-Za-z0-9_]+)\[\]", spec)
    if not m:
        return None
    reg = re.fullmatch(r"NXM_NX_REG(\d+)", m.group(1))
    return f"reg{reg.group(1)}" if reg else NXM_FIELDS.get(m.group(1))


def _note(value: str) -> str:
    """OVS pads a note so the action is a multiple of 8 bytes long (10-byte header)."""
    data = [b for b in value.split(".") if b]
    size = -(-(10 + len(data)) // 8) * 8 - 10
    return "note:" + ".".join([b.lower() for b in data] + ["00"] * (size - len(data)))


def _normalise_actions(text: str, *, has_vlan: bool, nw_proto: int | None, ports: dict[int, str] | None):
    """Actions in the form OVS prints them under OpenFlow 1.4 (legacy spellings translated)."""
    out: list[str] = []
    numbers = False
    for raw in split_top(text):
        action = raw.strip()
        if not action:
            continue
        name, colon, arg = action.partition(":")
        lname = name.lower()
        if "(" in name:  # learn(...), ct(...), resubmit(...), controller(...)
            head = name.split("(", 1)[0].lower()
            if head == "resubmit":
                inner = action[action.index("(") + 1:-1]
                port, _sep, rest = inner.partition(",")
                if port.strip():
                    port, num = _port(port.strip(), ports)
                    numbers = numbers or num
                table = rest.split(",")[0].strip()
                extra = rest[len(table):] if table else rest
                out.append(f"resubmit({port.strip()},{table}{extra})")
            else:
                out.append(action)
            continue
        if not colon:
            if lname == "drop":
                out.append("drop")
            elif lname in ("strip_vlan", "pop_vlan"):
                out.append("pop_vlan")
                has_vlan = False
            elif lname == "controller":
                out.append("CONTROLLER:65535")
            elif lname in PORT_KEYWORDS:
                out.append(PORT_KEYWORDS[lname])
            elif re.fullmatch(r"[a-z_]+", name) and lname in _BARE_ACTIONS:
                out.append(lname)
            else:  # a bare port name or number means output to it
                port, num = _port(action, ports)
                numbers = numbers or num
                out.append(f"output:{port}")
            continue
        if lname == "output":
            if re.search(r"\[", arg):
                out.append(action)
                continue
            port, num = _port(arg, ports)
            numbers = numbers or num
            out.append(port if port in PORT_KEYWORDS.values() else f"output:{port}")
        elif lname == "resubmit":
            port, num = _port(arg, ports)
            numbers = numbers or num
            out.append(f"resubmit:{port}")
        elif lname in ("mod_vlan_vid", "mod_vlan_pcp"):
            if not has_vlan:
                out.append("push_vlan:0x8100")
                has_vlan = True
            number = to_int(arg)
            if number is None:
                raise FlowError(f"{action!r}: not a number")
            out.append(f"set_field:{number | 0x1000}->vlan_vid" if lname == "mod_vlan_vid"
                       else f"set_field:{number}->vlan_pcp")
        elif lname == "push_vlan":
            out.append(f"push_vlan:{hex(to_int(arg) or 0)}")
            has_vlan = True
        elif lname in ("set_tunnel", "set_tunnel64"):
            out.append(_set_field(arg, "tun_id"))
        elif lname in ("mod_dl_src", "mod_dl_dst"):
            out.append(_set_field(arg, "eth_" + lname[-3:]))
        elif lname in ("mod_nw_src", "mod_nw_dst"):
            out.append(_set_field(arg, "ip_" + lname[-3:]))
        elif lname == "mod_nw_tos":
            number = to_int(arg)
            out.append(f"set_field:{number >> 2}->ip_dscp" if number is not None else action)
        elif lname in ("mod_tp_src", "mod_tp_dst") and nw_proto in _TP_PROTO:
            out.append(_set_field(arg, f"{_TP_PROTO[nw_proto]}_{lname[-3:]}"))
        elif lname == "set_field":
            value, arrow, dest = arg.rpartition("->")
            if not arrow:
                raise FlowError(f"{action!r}: set_field needs VALUE->FIELD")
            out.append(_set_field(value, dest.strip()))
            if dest.strip() == "vlan_vid":
                has_vlan = True
        elif lname == "load":
            value, arrow, dest = arg.partition("->")
            if not arrow:
                raise FlowError(f"{action!r}: load needs VALUE->FIELD[]")
            whole = _nxm_field(dest.strip())
            number = to_int(value)
            if whole and number is not None:
                out.append(_set_field(value, whole))
            elif number is not None:
                out.append(f"load:{hex(number)}->{dest.strip()}")
            else:
                out.append(action)
        elif lname == "note":
            out.append(_note(arg))
        else:
            out.append(action)
    return (",".join(out) if out else "drop"), numbers


_BARE_ACTIONS = frozenset({
    "dec_ttl", "dec_mpls_ttl", "dec_nsh_ttl", "exit", "clear_actions", "pop_queue", "ct_clear",
    "decap", "encap", "fin_timeout", "check_pkt_larger",
})


# ---------------------------------------------------------------- flows

_BUNDLE_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f#]")


def bundle_text_problem(text: str) -> str | None:
    """Why `text` cannot be one line of an ovs-ofctl bundle file, or None.

    ovs-ofctl reads a bundle file a line at a time and drops everything from a '#' on, anywhere in
    the line: a newline would start a line of its own (`flow delete` of anything) and a '#' would cut
    the flow short. Neither can be quoted, so both are refused, as is every other control character.
    """
    m = _BUNDLE_UNSAFE.search(text)
    if m is None:
        return None
    if m.group() == "#":
        return "contains '#', which starts a comment in an ovs-ofctl bundle file (the rest of the flow would be dropped)"
    return f"contains the control character {m.group()!r} (a flow is one line of an ovs-ofctl bundle file)"


def parse_flow(text: str, *, ports: dict[int, str] | None = None, declared: bool = False) -> Flow:
    """Parse a flow as written for ovs-ofctl add-flow or as printed by dump-flows.

    declared=True is for user input: statistics and a cookie are refused there
    (the module adds the cookie itself).
    """
    if not isinstance(text, str) or not text.strip():
        raise FlowError("empty flow")
    if declared and (problem := bundle_text_problem(text)):
        raise FlowError(problem)
    text = text.strip()
    at = _find_actions(text)
    if at < 0:
        raise FlowError("no 'actions=' (write actions=drop for a flow that drops)")
    head, actions = text[:at], text[at + len("actions="):]
    table, priority, cookie = 0, DEFAULT_PRIORITY, None
    attrs: dict[str, str] = {}
    match_tokens: list[str] = []
    # dump-flows separates flags from the match by a space ("reset_counts priority=0"), not a comma.
    for token in (word for part in split_top(head) for word in part.split()):
        name, eq, value = token.partition("=")
        name = name.strip()
        if name in STATS:
            if declared:
                raise FlowError(f"{name} is a statistic printed by dump-flows, not part of a flow")
            continue
        if name == "cookie":
            if declared:
                raise FlowError("cookie must not be given: the module adds its own cookie")
            cookie = to_int(value.split("/")[0])
        elif name == "table":
            table = _bounded("table", value, TABLE_MAX)
        elif name == "priority":
            priority = _bounded("priority", value, PRIORITY_MAX)
        elif name in NUMERIC_ATTRS:
            number = _bounded(name, value, PRIORITY_MAX)
            if number:
                attrs[name] = str(number)
        elif name in FLAG_ATTRS and not eq:
            attrs[name] = ""
        elif name in REQUEST_ONLY:
            if declared:
                raise FlowError(f"{name} is not stored in a flow")
        else:
            if eq and not value.strip():
                raise FlowError(f"{name}= has no value")
            match_tokens.append(token)
    match, _dl_type, nw_proto, has_vlan, numbers_m = _normalise_match(match_tokens, ports)
    actions_text, numbers_a = _normalise_actions(actions, has_vlan=has_vlan, nw_proto=nw_proto, ports=ports)
    ordered_attrs = tuple((k, attrs[k]) for k in NUMERIC_ATTRS + FLAG_ATTRS if k in attrs)
    return Flow(table=table, priority=priority, match=match, attrs=ordered_attrs, actions=actions_text,
                cookie=cookie, raw=text, match_raw=tuple(match_tokens), uses_port_numbers=numbers_m or numbers_a)


def _bounded(name: str, value: str, high: int) -> int:
    number = to_int(value)
    if number is None or number > high:
        raise FlowError(f"{name}={value!r} is not a number in 0-{high}")
    return number


def parse_dump(output: str, *, cookie: int | None = None) -> list[Flow]:
    """Flows from `ovs-ofctl dump-flows` output; with `cookie`, only flows carrying exactly it."""
    flows = []
    for line in output.splitlines():
        if "actions=" not in line or line.startswith(("NXST_", "OFPST_")):
            continue
        flow = parse_flow(line)
        if cookie is None or (flow.cookie or 0) == cookie:
            flows.append(flow)
    return flows


def parse_ports(output: str) -> dict[int, str]:
    """Port numbers -> names from `ovs-ofctl dump-ports-desc` (lines like ` 2(vxlan-ac1f0002): addr:...`)."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+)\((.+?)\):", output, re.M)}


def declared_flows(flows: list, *, ports: dict[int, str] | None = None) -> list[Flow]:
    """Parse the user's flows; errors name the flow by its index in the list. Duplicates are refused."""
    parsed, seen = [], {}
    for index, text in enumerate(flows):
        try:
            flow = parse_flow(text, ports=ports, declared=True)
        except FlowError as exc:
            raise FlowError(f"flows[{index}] ({text!r}): {exc}") from None
        if flow.key in seen:
            raise FlowError(
                f"flows[{index}] ({text!r}) has the same table, priority and match as flows[{seen[flow.key]}]: "
                "OpenFlow keeps only one of them"
            )
        seen[flow.key] = index
        parsed.append(flow)
    return parsed


@dataclass
class Plan:
    """What to change: flows to delete (present, not wanted) and to add (wanted, absent or different)."""

    delete: list[Flow]
    add: list[Flow]

    @property
    def changed(self) -> bool:
        return bool(self.delete or self.add)


def diff(want: list[Flow], have: list[Flow]) -> Plan:
    """Pure: the smallest set of bundle operations that turns `have` into exactly `want`."""
    wanted = {f.key: f for f in want}
    present = {f.key: f for f in have}
    delete = [f for f in have if f.key not in wanted]
    add = [f for f in want if f.key not in present or present[f.key].text != f.text]
    return Plan(delete=sorted(delete, key=lambda f: f.key), add=add)


def bundle_lines(plan: Plan, cookie: int) -> list[str]:
    """`flow delete_strict` limited to our cookie for removals, `flow add` with our cookie for the rest.

    A changed flow (same match, other actions) is one `flow add`, which replaces it in place.
    """
    lines = [f"flow delete_strict cookie={cookie:#x}/-1,{f.strict_match()}" for f in plan.delete]
    lines += [f"flow add cookie={cookie:#x},{f.raw}" for f in plan.add]
    return lines


def restore_lines(want: list[Flow], cookie: int) -> list[str]:
    """A bundle that rebuilds the owned flows from nothing (or from a stale set) in one atomic step."""
    return [f"flow delete cookie={cookie:#x}/-1"] + [f"flow add cookie={cookie:#x},{f.raw}" for f in want]


def restore_content(lines: list[str] | None) -> str | None:
    """The restore file's text for these lines; None means the file must not exist (state absent)."""
    return None if lines is None else "\n".join(lines) + "\n"


def restore_file_differs(path: str, content: str | None) -> bool:
    """Whether the restore file at `path` is not already `content` (None: not already absent)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return content is None or handle.read() != content
    except FileNotFoundError:
        return content is not None


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_restore_file(module, path: str, content: str | None) -> None:
    """Make the restore file hold `content` (None removes it), durably: a reader sees the old file or
    the new one, never a part, and a crash after this returns keeps the new one.

    The new content goes to a temporary file in the same directory, is fsynced, then atomic_move
    renames it over the old file and the directory is fsynced.
    """
    import tempfile

    directory = os.path.dirname(path) or "."
    if content is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _fsync_dir(directory)
        return
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".flows-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    os.chmod(path, 0o600)  # flows are root's: atomic_move gives a new file the umask's mode
    _fsync_dir(directory)


def explain_error(stderr: str, lines: list[str]) -> str:
    """Name the bundle line that failed, from ovs-ofctl's `FILE:LINE:` or the switch's `table:T priority=P`."""
    m = re.search(r"^ovs-ofctl: [^:\n]*:(\d+): (.*)$", stderr, re.M)
    if m and 0 < int(m.group(1)) <= len(lines):
        return f"{lines[int(m.group(1)) - 1]!r}: {m.group(2)}"
    m = re.search(r"Error (\S+) for: .*?(ADD|MODIFY|DELETE)\S* table:(\d+)(?: priority=(\d+))?", stderr)
    if m:
        error, table, priority = m.group(1), int(m.group(3)), int(m.group(4) or DEFAULT_PRIORITY)
        for line in lines:
            try:
                flow = parse_flow(line.split(" ", 2)[2])
            except FlowError:
                continue
            if (flow.table, flow.priority) == (table, priority) and line.startswith("flow add"):
                return f"{line!r}: {error}"
        return f"a flow in table {table} with priority {priority}: {error}"
    return stderr.strip()


# ---------------------------------------------------------------- the module's run

def as_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def target(bridge: str, rundir: str | None) -> str:
    """ovs-ofctl's target: the bridge name, or the bridge's management socket in an OVS run directory."""
    return f"unix:{rundir.rstrip('/')}/{bridge}.mgmt" if rundir else bridge


def want_flows(params: dict) -> list[Flow]:
    """Check bridge, cookie and flows before anything runs (ValidationError or FlowError naming the field)."""
    from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, abs_path, ifname

    ifname("bridge", params["bridge"])
    if params.get("restore_file") is not None:
        abs_path("restore_file", params["restore_file"])
    cookie = params["cookie"]
    if not isinstance(cookie, int) or isinstance(cookie, bool) or not 1 <= cookie <= COOKIE_MAX:
        raise ValidationError(f"cookie: {cookie!r} is out of range (allowed 1-{COOKIE_MAX})")
    if params["state"] != "present":
        return []
    return declared_flows(params["flows"] or [])


def run(module) -> dict:
    """Validate, read the owned flows once, diff, and apply one bundle unless in check mode.

    The restore file is written only once the switch has accepted the bundle (or had nothing to
    change), so it never holds flows the switch refused; with state absent it is removed.
    """
    # Imported here so the pure functions above stay importable without Ansible.
    from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner, warn_assumed
    from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

    p = module.params
    try:
        want = want_flows(p)
    except (ValidationError, FlowError) as exc:
        module.fail_json(msg=str(exc))

    cookie, where = p["cookie"], target(p["bridge"], p["rundir"])
    ofctl = Runner(module, "ovs-ofctl", ["-O", OPENFLOW, f"--timeout={p['timeout']}"])
    try:
        try:
            dump = ofctl.run(["--names", "dump-flows", where, f"cookie={cookie:#x}/-1"])
        except CommandError as exc:
            # a role's --check on a new host: the bridge task before this one only predicted the bridge
            if not (module.check_mode and "is not a bridge or a socket" in exc.stderr):
                raise
            warn_assumed(module, f"bridge: {p['bridge']!r} does not exist")
            dump = None
        if dump is not None and any(f.uses_port_numbers for f in want):
            # dump-flows --names prints port names; map the user's port numbers to them.
            want = declared_flows(p["flows"], ports=parse_ports(ofctl.run(["dump-ports-desc", where])))
        have = parse_dump(dump or "", cookie=cookie)
    except CommandError as exc:
        exc.fail(module)
    except FlowError as exc:
        module.fail_json(msg=f"cannot parse a flow printed by ovs-ofctl: {exc}")

    plan = diff(want, have)
    lines = bundle_lines(plan, cookie)
    result = {"changed": plan.changed, "commands": [], "bundle": lines,
              "flows": sorted(f.text for f in want)}
    restore = None
    if p.get("restore_file"):
        restore = restore_content(restore_lines(want, cookie) if p["state"] == "present" else None)
        restore_changed = restore_file_differs(p["restore_file"], restore)
        result["changed"] |= restore_changed
    if module._diff:  # text, one flow a line: Ansible's diff callbacks show strings and dicts, not lists
        result["diff"] = {"before": as_text(sorted(f.text for f in have)), "after": as_text(result["flows"])}
    if plan.changed:
        argv = ["bundle", where, "-"]
        result["commands"] = [ofctl.argv(argv)]
        if not module.check_mode:
            try:
                ofctl.run(argv, data="\n".join(lines) + "\n")
            except CommandError as exc:
                module.fail_json(msg=f"the flow bundle failed and nothing was applied: {explain_error(exc.stderr, lines)}",
                                 cmd=exc.cmd, rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr,
                                 commands=result["commands"], bundle=lines)
    if p.get("restore_file") and restore_changed and not module.check_mode:
        try:
            write_restore_file(module, p["restore_file"], restore)
        except Exception as exc:  # OSError, or atomic_move's own Exception; the switch already has the flows
            what = "removed" if restore is None else "written"
            module.fail_json(msg=f"restore_file: the switch has the declared flows, but {p['restore_file']!r} could not be {what}: {exc}",
                             changed=True, commands=result["commands"], bundle=lines)
    return result
