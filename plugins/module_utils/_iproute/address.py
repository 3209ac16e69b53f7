# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_address's pure plan: the `ip address` lines that turn the addresses read into the wanted set.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import is_link_local6, normalise_addresses


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
        delete = [e["address"] for e in have if e["address"] not in wanted and not is_link_local6(e["address"])]
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


def _global(table, dev):
    return [a["address"] for a in normalise_addresses(table, dev) or [] if not is_link_local6(a["address"])]


def restore_addresses(before_table, now_table, dev):
    """Lines that give `dev` back the addresses `before_table` read (IPv6 link-local ones aside)."""
    want = {"dev": dev, "addresses": _global(before_table, dev), "state": "exact"}
    return plan_addresses(want, normalise_addresses(now_table, dev))


def address_differences(before_table, now_table, dev):
    """None when `dev` has the same addresses in both reads (IPv6 link-local aside), else what differs."""
    before, now = _global(before_table, dev), _global(now_table, dev)
    if sorted(before) == sorted(now):
        return None
    return f"{dev}: addresses {before} -> {now}"
