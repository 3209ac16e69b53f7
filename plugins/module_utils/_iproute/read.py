# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one read: `ip -j -d address show` (every link with its details, alias and addresses), normalised.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._runner import Runner

READ = ["-j", "-d", "address", "show"]


def ip_runner(module, netns, timeout):
    """`ip [-n NETNS]`, every call killed after `timeout` seconds."""
    return Runner(module, "ip", ["-n", netns] if netns else [], timeout=timeout)


def read_table(ip):
    """Every link of the namespace as `ip` prints it, with linkinfo, ifalias and addr_info."""
    return ip.run_json(READ) or []


def entry(table, name):
    return next((raw for raw in table or [] if raw.get("ifname") == name), None)


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


def bond_members(table, name):
    """The links enslaved to bond `name` (their `master`), in the table's (ifindex) order."""
    return [raw["ifname"] for raw in table or [] if raw.get("master") == name]


def normalise_link(raw, peer_table=None, peer_netns=None, table=None):
    """One entry of `ip -j -d link show` as a plain dict of what this collection manages; a bond's
    members come from `table` (the whole read), None without it."""
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
        "alias": raw.get("ifalias") or None,
    }
    if info.get("info_slave_kind") == "bridge":  # a bridge port: its own settings there
        link["isolated"] = bool((info.get("info_slave_data") or {}).get("isolated"))
    if kind == "vlan":
        link.update(link=raw.get("link"), vlan_id=data.get("id"))
    elif kind == "vxlan":
        link.update(vni=data.get("id"), local=_endpoint(data, "local"), remote=_endpoint(data, "remote"),
                    group=_endpoint(data, "group"), dstport=data.get("port"), learning=data.get("learning"),
                    proxy=bool(data.get("proxy")),  # shown only when on
                    ttl=data.get("ttl"), link=data.get("link"))
    elif kind == "veth":
        if "link_netnsid" in raw:
            link.update(peer=find_veth_peer(raw, peer_table), peer_netns=peer_netns if peer_table is not None else None)
        else:
            link.update(peer=raw.get("link"), peer_netns=None)
    elif kind == "macvlan":
        link.update(link=raw.get("link"), macvlan_mode=data.get("mode"))
    elif kind == "bond":  # ip prints the lacp settings in every mode; they mean something only in 802.3ad
        link.update(bond_mode=data.get("mode"), miimon=data.get("miimon"), updelay=data.get("updelay"),
                    downdelay=data.get("downdelay"), lacp_rate=data.get("ad_lacp_rate"),
                    lacp_active=None if data.get("ad_lacp_active") is None else data["ad_lacp_active"] == "on",
                    xmit_hash_policy=data.get("xmit_hash_policy"),
                    members=None if table is None else bond_members(table, raw["ifname"]))
    elif kind in ("gre", "gretap"):
        link.update(local=_endpoint(data, "local"), remote=_endpoint(data, "remote"), key=_gre_key(data),
                    ttl=data.get("ttl"), link=data.get("link"))
    return link


def normalise_addresses(raw_table, dev):
    """Addresses of `dev` from `ip -j addr show`, or None when the link does not exist."""
    raw = entry(raw_table, dev)
    if raw is None:
        return None
    return [
        {
            "address": f"{ipaddress.ip_address(addr['local'])}/{addr['prefixlen']}",
            "family": addr.get("family"),
            "scope": addr.get("scope"),
            "secondary": bool(addr.get("secondary")),
        }
        for addr in raw.get("addr_info", [])
        if "local" in addr and "prefixlen" in addr
    ]


def is_up(raw_table, dev):
    """Whether `dev` is administratively up (the UP flag), False when it does not exist."""
    raw = entry(raw_table, dev)
    return raw is not None and "UP" in raw.get("flags", [])


def is_link_local6(address):
    ip = ipaddress.ip_interface(address).ip
    return ip.version == 6 and ip.is_link_local
