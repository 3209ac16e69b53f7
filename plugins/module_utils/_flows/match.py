# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Match fields and their values in the form OVS prints them.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import (
    IPV4_FIELDS,
    IPV6_FIELDS,
    MAC_FIELDS,
    MATCH_ALIASES,
    PORT_KEYWORDS,
    SHORTHANDS,
    FlowError,
    to_int,
    unquote,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import _FULL_MASK, _HEX_FIELD, _SHORTHAND_OF


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
