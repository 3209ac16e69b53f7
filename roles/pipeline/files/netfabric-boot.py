"""Put back, at boot, the host side of the fabric that the kernel forgets and OVSDB does not keep.

    python3 netfabric-boot.py [--state=FILE] [--check]

FILE (default: boot.json next to this script) is written by the pipeline role from the host's plan:

    {"underlay": {"address": A, "prefix": P, "uplink": U, "bridge": B or null, "members": [NIC, ...] (a bonded uplink),
                  "links": [{"name": U, "mtu": M}, or a kernel bond's ip_link arguments {"name": U, "kind": "bond",
                             "bond_mode": ..., "miimon": ..., "members": [...], "mtu": M, ...}],
                  "kernel_bond": {"name": U, "members": [NIC, ...], "owner": O, "alias": "netfabric:O"} (a kernel bond)},
     "links": [{"name": N, "kind": "vlan", "link": U, "vlan_id": V, "state": "up", "mtu": M (optional)}],
     "owner": "netfabric:provider_vlans",
     "linuxbridge": {"links": [{"name": N, "alias": "netfabric:O", "needs": [PARENT], "ip": [LINE, ...]}],
                     "ports": [{"name": P, "master": BRIDGE, "mtu": M}],
                     "fdb": [{"dev": VXLAN, "bridge": [LINE, ...], "ip": [LINE, ...]}]} (a Linux-bridge host)}

What OVSDB keeps (bridges, ports, MTU requests, br-phy's MAC) comes back with ovs-vswitchd and the
flows with the flow-restore unit; what only the kernel held is put back here: the underlay address on
the bridge (brought up) and off the uplink (the OS's own network configuration puts it back there at
boot), the underlay MTU of a system-datapath host's uplink (`underlay.links`: a NIC that OVS does not
own comes back at its default MTU, and the tunnels' packets would no longer fit), the kernel bond of
a bonded uplink on a system-datapath or Linux-bridge host (`underlay.kernel_bond`: made with the
options and MTU the plan gave ip_link, marked as ip_link marks it, its members set down and
enslaved, then up, and the underlay address moved onto it and off its members), and the VLAN
subinterfaces with their mark, MTU and up state. On a Linux-bridge host every fabric link is kernel
state: each one missing (tenant bridge, VXLAN, gretap, VLAN device) is made with the lines the
planner took from ip_link, and the VXLAN device's forwarding and neighbour entries with bridge_fdb's;
a VM port that exists goes back into its bridge (libvirt puts the ones it starts later there itself).
The host is read once (`ip -j -d addr show`), the difference is applied in one `ip -batch -` (then
one `bridge -batch -` for forwarding entries); a second run writes nothing.
Only what FILE names is touched: a link of that name that is not the VLAN it should be, or not the
bond the fabric made (another kind, or a bond without the mark), or a Linux-bridge link without the
fabric's mark, is left alone and reported (exit 1).
Waits at most NETFABRIC_BOOT_WAIT seconds (default 60) for the bridge, which ovs-vswitchd creates,
the bond's members and the subinterfaces' parents to appear. Standard library only; the unit runs it with python3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

DEFAULT_STATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot.json")
IP_TIMEOUT = 30
# ip_link's bond arguments (the plan's `underlay.links` entry) as `ip link add ... type bond` spells them, in ip_link's order
BOND_WORDS = {"bond_mode": "mode", "miimon": "miimon", "updelay": "updelay", "downdelay": "downdelay", "xmit_hash_policy": "xmit_hash_policy",
              "lacp_rate": "lacp_rate", "lacp_active": "lacp_active"}


def read_links():
    """Every link of the host by name, with its addresses and link details, from one `ip` call."""
    out = subprocess.run(["ip", "-j", "-d", "addr", "show"], capture_output=True, text=True, check=True, timeout=IP_TIMEOUT).stdout
    return {link["ifname"]: link for link in json.loads(out or "[]")}


def needed_devices(state):
    """The devices that must exist before anything is applied: the bridge, each subinterface's parent and the
    uplink; for a kernel bond, which this script makes, its members."""
    names = {link["link"] for link in state.get("links", [])}
    underlay = state.get("underlay") or {}
    names.update(link["name"] for link in underlay.get("links") or [])
    if underlay.get("bridge"):
        names.update((underlay["bridge"], *uplink_links(underlay)))
    made = {link["name"] for link in (state.get("linuxbridge") or {}).get("links", [])}
    names.update(parent for link in (state.get("linuxbridge") or {}).get("links", []) for parent in link["needs"])
    if underlay.get("kernel_bond"):
        made.add(underlay["kernel_bond"]["name"])
        names.update(underlay["kernel_bond"]["members"])
    return sorted(names - made)


def uplink_links(underlay):
    """The kernel links of the uplink: a bonded uplink's members (an OVS bond has no kernel device), else the uplink."""
    return underlay.get("members") or [underlay["uplink"]]


def _addresses(link):
    return {(a["local"], a["prefixlen"]) for a in link.get("addr_info", []) if a.get("family") in ("inet", "inet6")}


def kernel_bond(underlay, links):
    """(lines, problems, made) for the uplink's kernel bond: made as the plan's ip_link arguments say (options,
    mark, MTU), each member not yet in it set down and enslaved (the kernel refuses a member that is up), the
    members and the bond up. `made`: the bond is there after these lines (None: the uplink is no kernel bond)."""
    bond = underlay.get("kernel_bond")
    if not bond:
        return [], [], None
    name = bond["name"]
    want = next(link for link in underlay["links"] if link["name"] == name)
    have = links.get(name)
    lines, problems = [], []
    if have is None:
        words = [f"{BOND_WORDS[key]} {('on' if want[key] else 'off') if isinstance(want[key], bool) else want[key]}" for key in BOND_WORDS if key in want]
        lines += [f"link add name {name} type bond {' '.join(words)}", f"link set dev {name} mtu {want['mtu']} alias {bond['alias']}"]
        have = {"flags": []}
    elif have.get("linkinfo", {}).get("info_kind") != "bond" or have.get("ifalias") != bond["alias"]:
        return [], [f"{name}: exists but is not the fabric's bond (alias {bond['alias']}); left alone, the underlay address too"], False
    elif have.get("mtu") != want["mtu"]:
        lines.append(f"link set dev {name} mtu {want['mtu']}")
    joining = []
    for member in bond["members"]:
        if member not in links or links[member].get("master") not in (None, name):  # another bridge's or bond's: not ours to take
            problems.append(f"{member}: {'is in ' + links[member]['master'] if member in links else 'does not exist'}; not enslaved to {name}")
        elif links[member].get("master") is None:
            joining.append(member)
    lines += [line for member in joining for line in (f"link set dev {member} down", f"link set dev {member} master {name}")]
    lines += [f"link set dev {member} up" for member in joining]
    if "UP" not in have.get("flags", []):
        lines.append(f"link set dev {name} up")
    return lines, problems, True


def plan(state, links):
    """(ip -batch lines, problems) that take the host from `links` to `state`; no lines when it is there."""
    underlay = state.get("underlay") or {}
    lines, problems, bond = kernel_bond(underlay, links)
    bond_name = (underlay.get("kernel_bond") or {}).get("name")
    if bond:
        lines += _move_address(underlay, bond_name, underlay["kernel_bond"]["members"], links)
    parents = set(links) | {bond_name} if bond else set(links) - {bond_name}  # a bond left alone is no parent of ours
    lines += linuxbridge(state.get("linuxbridge") or {}, links, parents, problems)
    owner = state.get("owner", "")
    for want in state.get("links", []):
        name = want["name"]
        have = links.get(name)
        if have is None:
            if want["link"] not in parents:
                problems.append(f"{name}: parent {want['link']} does not exist")
                continue
            lines.append(f"link add link {want['link']} name {name} type vlan id {want['vlan_id']}")
            if owner:
                lines.append(f"link set dev {name} alias {owner}")
            have = {"flags": [], "mtu": None}
        else:
            info = have.get("linkinfo", {})
            if info.get("info_kind") != "vlan" or info.get("info_data", {}).get("id") != want["vlan_id"] or have.get("link") != want["link"]:
                problems.append(f"{name}: exists but is not VLAN {want['vlan_id']} on {want['link']}; left alone")
                continue
        if want.get("mtu") and have.get("mtu") != want["mtu"]:
            lines.append(f"link set dev {name} mtu {want['mtu']}")
        if want.get("state", "up") == "up" and "UP" not in have.get("flags", []):
            lines.append(f"link set dev {name} up")
    for want in underlay.get("links") or []:
        have = links.get(want["name"])
        if want.get("kind") == "bond":  # made above
            continue
        if have is None:
            problems.append(f"{want['name']}: the uplink does not exist; its MTU is not set")
        elif want.get("mtu") and have.get("mtu") != want["mtu"]:
            lines.append(f"link set dev {want['name']} mtu {want['mtu']}")
    bridge = underlay.get("bridge")
    if bridge and bridge not in links:  # the address stays on the uplink: the host stays reachable
        problems.append(f"{bridge}: does not exist (is ovs-vswitchd running?); the underlay address is left where it is")
    elif bridge:
        if "UP" not in links[bridge].get("flags", []):
            lines.append(f"link set dev {bridge} up")
        lines += _move_address(underlay, bridge, uplink_links(underlay), links)
    return lines, problems


def linuxbridge(state, links, parents, problems):
    """Lines that make again each Linux-bridge link the host lacks (adding it to `parents`), the entries of
    each VXLAN device made here (`fdb ...` lines are bridge's), and existing VM ports back into their bridge."""
    lines, made = [], set()
    for want in state.get("links", []):
        name, have = want["name"], links.get(want["name"])
        if have is not None:
            if have.get("ifalias") != want["alias"]:
                problems.append(f"{name}: exists but is not the fabric's (alias {want['alias']}); left alone")
            continue
        missing = [parent for parent in want["needs"] if parent not in parents]
        if missing:
            problems.append(f"{name}: parent {', '.join(missing)} does not exist")
            continue
        lines += want["ip"]
        made.add(name)
        parents.add(name)
    for entry in state.get("fdb", []):
        if entry["dev"] in made:  # a device that was there keeps its entries: converge owns them
            lines += entry["ip"] + entry["bridge"]
    for port in state.get("ports", []):
        have = links.get(port["name"])
        if have is not None and not have.get("master") and port["master"] in parents:
            lines.append(f"link set dev {port['name']} mtu {port['mtu']} master {port['master']} up")
    return lines


def _move_address(underlay, home, sources, links):
    """Lines that put the underlay address on `home` and take it off each of `sources`."""
    address = (underlay["address"], underlay["prefix"])
    lines = [] if address in _addresses(links.get(home, {})) else [f"address add {address[0]}/{address[1]} dev {home}"]
    for link in sources:
        for local, prefix in sorted(_addresses(links.get(link, {}))):
            if local == address[0]:
                lines.append(f"address del {local}/{prefix} dev {link}")
    return lines


def main(argv):
    state_file, check = DEFAULT_STATE, False
    for arg in argv:
        if arg.startswith("--state="):
            state_file = arg.split("=", 1)[1]
        elif arg == "--check":
            check = True
        else:
            print(f"netfabric-boot: unknown argument: {arg}", file=sys.stderr)
            return 2
    try:
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        print(f"netfabric-boot: no {state_file}: nothing to put back")
        return 0
    deadline = time.monotonic() + float(os.environ.get("NETFABRIC_BOOT_WAIT", "60"))
    links = read_links()
    while any(name not in links for name in needed_devices(state)) and time.monotonic() < deadline:
        time.sleep(0.5)
        links = read_links()
    lines, problems = plan(state, links)
    batches = {"ip": [line for line in lines if not line.startswith("fdb ")], "bridge": [line for line in lines if line.startswith("fdb ")]}
    for tool, batch in batches.items():
        for line in batch:
            print(f"netfabric-boot: {'would run ' if check else ''}{tool} {line}")
        if batch and not check:
            proc = subprocess.run([tool, "-batch", "-"], input="".join(f"{line}\n" for line in batch), capture_output=True, text=True,
                                  check=False, timeout=IP_TIMEOUT)
            if proc.returncode != 0:
                problems.append(f"{tool} -batch failed (rc={proc.returncode}): {proc.stderr.strip()}")
                break
    for problem in problems:
        print(f"netfabric-boot: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
