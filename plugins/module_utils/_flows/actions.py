# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Actions in the form OVS prints them under OpenFlow 1.4 (legacy spellings translated).

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.module_utils._flows.match import _ip, _mac, _port, _render_int
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import (
    IPV4_FIELDS,
    IPV6_FIELDS,
    MAC_FIELDS,
    NXM_FIELDS,
    PORT_KEYWORDS,
    SET_FIELD_ALIASES,
    FlowError,
    split_top,
    to_int,
)
from ansible_collections.netfabric.ovs.plugins.module_utils._flows.syntax import _TP_PROTO


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
