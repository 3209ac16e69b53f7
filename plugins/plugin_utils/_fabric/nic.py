# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host NIC as the inventory gives it: an interface name, or a bond of several NICs.

One parser for every inventory field that names a NIC (netfabric_uplink, and any other that may be
bonded), so a bond means the same thing wherever it is allowed. The bond's keys, types, choices
and defaults are netfabric_uplink's `options` in the role's argument_specs (spec.py); this file
adds the rules across them. On netdev hosts a bond is an Open vSwitch bond port (`ovs_port`);
on system-datapath and Linux-bridge hosts, whose underlay is the kernel's, it is a kernel bond
(`kernel_bond`, ip_link arguments) that holds the underlay address. The rest of the plan knows it
by its name only (`port_name`), and by its kernel links where a kernel device is meant (`links`:
the members, whose first MAC br-phy takes).

The inventory speaks Open vSwitch's bond modes; KERNEL_MODES is the one translation to the kernel's:
- active-backup -> active-backup (one member carries everything; the same on both).
- balance-tcp -> 802.3ad with layer3+4 hashing: both balance flows by L3/L4 headers over an LACP
  aggregate the switch agrees to; lacp active/passive -> lacp_active on/off, lacp_rate as given.
- balance-slb -> balance-tlb. SLB needs nothing of the switch (no LACP, no static LAG): it spreads
  what the host sends over the members and receives on one, which is what balance-tlb does. The
  kernel's other switch-independent balancer, balance-alb, also rewrites the host's ARP replies to
  spread what it receives; the other balancing modes (balance-rr, balance-xor, broadcast) need a
  static aggregate on the switch, which an SLB bond's switch is never asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import spec

DELAY_RANGE = (0, 60000)  # ms; a minute is far beyond any switch's convergence
MIN_MEMBERS = 2  # Open vSwitch makes a bond of two interfaces or more
LACP_MODES = ("balance-tcp",)  # modes that hash on L4 and need the switch's agreement (LACP) to do it
KERNEL_MODES = {  # Open vSwitch's mode -> the kernel bond's ip_link options (see the module docstring)
    "active-backup": {"bond_mode": "active-backup"},
    "balance-slb": {"bond_mode": "balance-tlb"},
    "balance-tcp": {"bond_mode": "802.3ad", "xmit_hash_policy": "layer3+4"},
}
KERNEL_MIIMON = 100  # ms between a kernel bond's carrier checks; its updelay and downdelay are multiples of it


@dataclass(frozen=True)
class Bond:
    name: str
    members: tuple[str, ...]
    mode: str = "active-backup"
    lacp: str = "off"
    lacp_rate: str | None = None  # None: Open vSwitch's default (slow)
    updelay: int = 0
    downdelay: int = 0


Nic = str  # a plain NIC is its interface name


def parse_nic(value: Any, field: str, where: str, problems: list[str]) -> Nic | Bond | None:
    """`value` as a NIC name or a Bond, or None after adding each problem (naming `where` and `field`)."""
    if isinstance(value, str):
        problem = _validate.ifname_problem(value)
        if problem is None:
            return value
        problems.append(f"{where}: {field} {value!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
        return None
    if not isinstance(value, dict):
        problems.append(f"{where}: {field} must be an interface name or a bond (a dict with name, members, mode, lacp, lacp_rate, updelay, downdelay), "
                        f"not {type(value).__name__}")
        return None
    raw = spec.check(spec.validators().bond, value, f"{where} {field}", problems)
    if raw is None:
        return None
    found = len(problems)
    name = raw["name"]
    if (problem := _validate.ifname_problem(name)) is not None:
        problems.append(f"{where}: {field}.name {name!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
    members = raw["members"]
    if len(members) < MIN_MEMBERS:
        problems.append(f"{where}: {field}.members lists {len(members)} NIC(s); a bond needs at least {MIN_MEMBERS}")
    for index, member in enumerate(members):
        if (problem := _validate.ifname_problem(member)) is not None:
            problems.append(f"{where}: {field}.members[{index}] {member!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
        elif member == name:
            problems.append(f"{where}: {field}.members[{index}] {member!r} is the bond's own name; members are other NICs")
        elif member in members[:index]:
            problems.append(f"{where}: {field}.members lists {member!r} twice")
    if raw["mode"] in LACP_MODES and raw["lacp"] == "off":
        problems.append(f"{where}: {field}.mode {raw['mode']} needs lacp active or passive (Open vSwitch balances TCP flows only over an LACP bond)")
    if raw["lacp_rate"] is not None and raw["lacp"] == "off":
        problems.append(f"{where}: {field}.lacp_rate {raw['lacp_rate']} needs lacp active or passive")
    delays = {}
    for key in ("updelay", "downdelay"):
        try:
            delays[key] = _validate.int_range(f"{field}.{key}", raw[key], DELAY_RANGE)
        except _validate.ValidationError as exc:
            problems.append(f"{where}: {exc} (milliseconds)")
    if len(problems) > found:
        return None
    return Bond(name, tuple(members), raw["mode"], raw["lacp"], raw["lacp_rate"], delays["updelay"], delays["downdelay"])


def port_name(nic: Nic | Bond) -> str:
    """The name the rest of the plan knows the NIC by: its own, or the bond's."""
    return nic.name if isinstance(nic, Bond) else nic


def links(nic: Nic | Bond) -> list[str]:
    """The kernel links the NIC is made of (a bond's members, in the inventory's order)."""
    return list(nic.members) if isinstance(nic, Bond) else [nic]


def ovs_port(nic: Nic | Bond) -> dict[str, Any]:
    """The ovs_ports entry of the NIC on a bridge; a bond's every setting is pinned, so a change is applied."""
    if not isinstance(nic, Bond):
        return {"name": nic}
    port: dict[str, Any] = {
        "name": nic.name,
        "interfaces": list(nic.members),
        "bond_mode": nic.mode,
        "lacp": nic.lacp,
        "bond_updelay": nic.updelay,
        "bond_downdelay": nic.downdelay,
    }
    if nic.lacp != "off":
        port["other_config"] = {"lacp-time": nic.lacp_rate or "slow"}
    return port


def kernel_problems(bond: Bond, field: str, where: str) -> list[str]:
    """What a kernel bond cannot do of what `bond` asks (Open vSwitch can): LACP outside 802.3ad, delays
    that are not a multiple of its link check interval (the kernel would round them down)."""
    problems = []
    if bond.lacp != "off" and bond.mode not in LACP_MODES:
        problems.append(f"{where}: {field}.lacp {bond.lacp} with mode {bond.mode}: a kernel bond negotiates LACP only in mode "
                        f"{', '.join(LACP_MODES)} (802.3ad); allowed lacp with {bond.mode}: off")
    for key in ("updelay", "downdelay"):
        if getattr(bond, key) % KERNEL_MIIMON:
            problems.append(f"{where}: {field}.{key} {getattr(bond, key)} must be a multiple of {KERNEL_MIIMON} on a kernel bond "
                            f"(it checks its members' links every {KERNEL_MIIMON} ms)")
    return problems


def kernel_bond(bond: Bond, mtu: int, owner: str) -> dict[str, Any]:
    """ip_link arguments of `bond` as a kernel bond, up, at `mtu` (its members take it), marked as `owner`'s.
    Every option is pinned, so a change of mode, members, LACP or delays is applied to the bond that exists."""
    link: dict[str, Any] = {
        "name": bond.name,
        "kind": "bond",
        **KERNEL_MODES[bond.mode],
        "miimon": KERNEL_MIIMON,
        "updelay": bond.updelay,
        "downdelay": bond.downdelay,
        "members": list(bond.members),
        "mtu": mtu,
        "owner": owner,
        "state": "up",
    }
    if bond.lacp != "off":
        link.update(lacp_active=bond.lacp == "active", lacp_rate=bond.lacp_rate or "slow")
    return link
