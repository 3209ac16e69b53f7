# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a flow is and how its text splits: the field vocabulary, the Flow value, tokenising.

OVS prints a flow in its own canonical form, which differs from what people write (field order,
aliases, hex vs decimal, quotes, defaults, legacy action spellings) and depends on the OpenFlow
version used to read. Flows are read under OpenFlow 1.4 (the version bundles need anyway) and both
sides are normalised to one text (match.py, actions.py, parse.py), so a flow that is already present
compares equal and a second run writes nothing.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
