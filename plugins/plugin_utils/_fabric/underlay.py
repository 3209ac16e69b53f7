# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The underlay on each host: the uplink's MTU, and br-phy's guard of the underlay address as ovs-ofctl text.

The uplink carries the underlay MTU (`uplink`): tunnelled frames are the tenant MTU plus the
encapsulation (inventory.py checks that they fit), and the uplink is where they leave the host.

On netdev hosts br-phy holds the uplink and the underlay address, and takes the uplink's MAC
(the bridges role sets `other_config:hwaddr`). br-phy is standalone and switches with OVS's own
NORMAL flow, which learns source MACs. A switch that sends the host's own frames back (a hairpin
port, as podman's CNI bridges have; a loop; a misbehaving bond peer) teaches NORMAL the host's
MAC on the uplink, and from then on NORMAL drops every frame for the host ("learned port is
input port"): tunnels to and from the host go dark until the entry ages out. Two owned flows
keep the underlay independent of what NORMAL learned:

    priority 6  from the uplink, with the underlay MAC as source -> drop
                (the host's own frames, reflected: never learned, never delivered)
    priority 5  from the uplink, untagged, to the underlay MAC -> LOCAL
                (the host's frames reach the host, whatever NORMAL holds)

Everything else keeps NORMAL: broadcasts and multicast, tagged frames (provider VLANs and the
tagged internal ports), the host's own sending. The provider-VLAN flows of br-phy (pipeline.py)
match frames from phy-br-int only, so the two sets never meet.

A bonded uplink has no OpenFlow port of its own: the flows match each member, and br-phy takes
the first member's MAC (a real NIC's, so it stays the same as long as the inventory lists that
member first; a bond port on the userspace datapath has no kernel device to read a MAC from).

The MAC is the one input that is not in the inventory: the netfabric role reads it from the
uplink (a bond's first member) on the host and adds these flows to the host's plan (with_underlay_mac); a host's plan
still needs no other host's facts.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils._constants import BR_PHY, LINK_OWNER_MARK, OWNER
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import nic

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def uplink(name: nic.Nic | nic.Bond, mtu: int, *, netdev: bool) -> tuple[list[dict], list[dict]]:
    """The uplink (a NIC's name or a bond) at the underlay MTU, as (br-phy ports, ip_link arguments).

    On netdev hosts it is a port of br-phy: OVS owns it and resets an MTU set with `ip link`, so
    the MTU is its `mtu_request` (a bond's: each member's). On system-datapath (and Linux-bridge)
    hosts it is a kernel link that keeps the underlay address and that OVS never opens: `ip link`
    sets a plain NIC's MTU, or makes the kernel bond (owned: teardown removes it).
    """
    if netdev:
        return [{**nic.ovs_port(name), "mtu_request": mtu}], []
    if isinstance(name, nic.Bond):
        return [], [nic.kernel_bond(name, mtu, OWNER)]
    return [], [{"name": name, "mtu": mtu}]


def kernel_bond(bond: nic.Bond | None, *, netdev: bool) -> dict[str, Any]:
    """The underlay plan's `kernel_bond` when the uplink is a kernel bond: its name, members and owner,
    for the tasks that put the underlay address on it (off its members) and remove it in teardown, and
    the alias ip_link marks it with, which the boot script (netfabric-boot.py) gives the bond it makes
    again after a reboot and looks for before it touches one."""
    if bond is None or netdev:
        return {}
    return {"kernel_bond": {"name": bond.name, "members": list(bond.members), "owner": OWNER, "alias": f"{LINK_OWNER_MARK}{OWNER}"}}


def unicast_mac(mac: Any) -> str:
    """`mac` in the lowercase colon form ovs-ofctl prints; ValueError unless a unicast MAC."""
    text = str(mac).strip().lower().replace("-", ":") if isinstance(mac, str) else ""
    if not _MAC.fullmatch(text) or int(text[:2], 16) & 1 or text == "00:00:00:00:00:00":
        raise ValueError(f"not a unicast MAC address: {mac!r}")
    return text


def underlay_flows(uplink: str | list[str], mac: str) -> list[str]:
    """The owned flows of br-phy that guard the underlay address `mac` on `uplink` (a NIC, or the
    members of a bond: a bond has no OpenFlow port, each member is one)."""
    mac = unicast_mac(mac)
    return [
        flow
        for port in ([uplink] if isinstance(uplink, str) else uplink)
        for flow in (
            f"table=0,priority=6,in_port={port},dl_src={mac},actions=drop",
            f"table=0,priority=5,in_port={port},vlan_tci=0x0000/0x1fff,dl_dst={mac},actions=LOCAL",
        )
    ]


def in_ports(underlay: dict[str, Any]) -> list[str]:
    """The OpenFlow ports of the plan's uplink: a bond's members, or the uplink itself."""
    return list(underlay.get("members") or [underlay["uplink"]])


def with_underlay_mac(host_plan: dict[str, Any], mac: str | None) -> dict[str, Any]:
    """A copy of `host_plan` whose br-phy flows begin with the guard of the underlay MAC `mac`.

    Plans of hosts whose underlay is not on br-phy (system datapath) come back unchanged, and
    `mac` may then be None. The plan records the MAC as `underlay.mac` and as br-phy's
    `other_config.hwaddr` (so peers' ARP entries stay valid when the address moves). Applying it twice with
    the same MAC gives the same plan.
    """
    underlay = host_plan.get("underlay") or {}
    if underlay.get("bridge") is None:
        return host_plan
    if underlay.get("bridge") != BR_PHY:
        raise ValueError(f"host {host_plan.get('host')}: the underlay bridge is {underlay['bridge']}, not {BR_PHY}")
    if mac is None:
        raise ValueError(f"host {host_plan.get('host')}: its underlay is on {BR_PHY}, whose guard flows need the uplink's MAC")
    guard = underlay_flows(in_ports(underlay), mac)
    result = copy.deepcopy(host_plan)
    old = underlay.get("mac")
    flows = result["flows"].get(BR_PHY, [])
    if old is not None:  # applied before: replace that guard, keep the other flows of br-phy
        flows = [flow for flow in flows if flow not in underlay_flows(in_ports(underlay), old)]
    result["flows"][BR_PHY] = guard + flows
    result["underlay"]["mac"] = unicast_mac(mac)
    for bridge in result.get("bridges", []):  # the bridge that takes the address takes the uplink's MAC too
        if bridge.get("name") == BR_PHY:
            bridge["other_config"] = {**bridge.get("other_config", {}), "hwaddr": result["underlay"]["mac"]}
    return result
