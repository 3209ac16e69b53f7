"""Put back, at boot, a network node's router and DHCP namespaces, which the kernel forgets.

    python3 netfabric-netns.py [--state=FILE] [--check]

FILE (default: netns.json next to this script) is written by the network_node role from the host's plan:

    {"owner": MARK,
     "namespaces": [{"name": NS, "sysctls": {KEY: VALUE},
                     "links": [{"name": N, "mac": M, "mtu": U (optional), "addresses": [A/P], "features": {F: false}}],
                     "routes": [{"dst": "default", "via": G}],
                     "nft": {"family": "ip", "name": T, "file": PATH} or null}]}

A reboot takes the namespaces and all they held: the veth pairs into them (whose host ends OVSDB still
lists as ports of br-int or br-ex: ovs-vswitchd takes each one back, with its tag, when it appears
again), their MACs, addresses and routes, a router's NAT table and the sysctls. This puts back what is
missing: the namespace, the veth pair named alike at both ends (the host end marked MARK, as ip_link
marks it), the namespace end's MAC, MTU, addresses and up state, offloads on a veth it made, the routes,
the NAT table from its file (`nft -f`: one transaction that names only that table) and the sysctls;
a host end found down is set up. The host ends of the veths it made are read again until each stays up
(ovs-vswitchd's userspace datapath can put a port down as it takes it back: see settle()).

Fails closed: a namespace made here forwards nothing (ip_forward 0) until everything else, its NAT
table included, is in place; the last step sets the plan's sysctls (a router's forwarding) and is not
run after any failure. The unit then fails, and the DHCP servers' units, which require it, do not start.
The host is read once (namespaces, links, and per namespace its addresses, routes, sysctls and table);
the difference is applied in one `ip -batch` for the host, one per namespace, then the tables and the
sysctls; a second run writes nothing. Only what FILE names is touched: a link of a wanted name in the
host's namespace that is not the veth into its namespace is left alone and reported (exit 1), and an
existing NAT table is left as Ansible made it. Standard library only; the unit runs it with python3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

DEFAULT_STATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netns.json")
TIMEOUT = 30
SETTLE = (0.2, 5, 25)  # a veth's host end counts as up after 5 reads 0.2 s apart that find it up; at most 25 reads


def _run(argv, data=None):
    return subprocess.run(argv, input=data, capture_output=True, text=True, check=False, timeout=TIMEOUT)


def _json(argv):
    proc = _run(argv)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout or "[]")


def read_host(state):
    """What the host has of FILE's namespaces: {"netns": names, "links": host links by name,
    "inside": {NS: {"links", "routes", "sysctls", "table"}}} for each wanted namespace that exists."""
    names = {item["name"] for item in _json(["ip", "-j", "netns", "list"])}
    host = {"netns": names, "links": {link["ifname"]: link for link in _json(["ip", "-j", "link", "show"])}, "inside": {}}
    for ns in state.get("namespaces", []):
        if ns["name"] not in names:
            continue
        inside = {
            "links": {link["ifname"]: link for link in _json(["ip", "-n", ns["name"], "-j", "addr", "show"])},
            "routes": _json(["ip", "-n", ns["name"], "-j", "-4", "route", "show"]),
            "sysctls": {},
            "table": None,
        }
        keys = sorted(ns.get("sysctls", {}))
        if keys:
            proc = _run(["ip", "netns", "exec", ns["name"], "sysctl", "-n", *keys])
            values = proc.stdout.split("\n") if proc.returncode == 0 else []
            inside["sysctls"] = {key: value.strip() for key, value in zip(keys, values)}
        if ns.get("nft"):
            table = ns["nft"]
            inside["table"] = _run(["ip", "netns", "exec", ns["name"], "nft", "list", "table", table["family"], table["name"]]).returncode == 0
        host["inside"][ns["name"]] = inside
    return host


def _addresses(link):
    return {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"}


def _has_route(routes, want):
    return any(r.get("dst") == want["dst"] and r.get("gateway") == want.get("via") for r in routes)


def plan(state, host):
    """What takes the host from `host` to `state`, as {"host": ip -batch lines, "netns": {NS: ip -n NS
    -batch lines}, "ethtool": [(NS, dev, features)], "nft": [(NS, file)], "sysctls": ip -batch lines},
    and the problems; every list empty when the host is there."""
    steps = {"host": [], "netns": {}, "ethtool": [], "nft": [], "sysctls": [], "veths": []}
    problems = []
    owner = state.get("owner", "")
    for ns in state.get("namespaces", []):
        name = ns["name"]
        inside = host["inside"].get(name)
        fresh = inside is None
        host_lines, lines, ethtool = [], [], []
        if fresh:
            # until its NAT table and addresses are back, a namespace made here forwards nothing
            host_lines += [f"netns add {name}", f"netns exec {name} sysctl -q -w net.ipv4.ip_forward=0"]
            inside = {"links": {}, "routes": [], "sysctls": {}, "table": False}
        bad = False
        for want in ns.get("links", []):
            dev = want["name"]
            have = inside["links"].get(dev)
            if have is None:
                if dev in host["links"]:
                    problems.append(f"{name}: {dev} exists outside the namespace and is not the veth into it; left alone")
                    bad = True
                    continue
                host_lines.append(f"link add name {dev} type veth peer name {dev} netns {name}")
                if owner:
                    host_lines.append(f"link set dev {dev} alias {owner}")
                if want.get("mtu"):
                    host_lines.append(f"link set dev {dev} mtu {want['mtu']}")
                host_lines.append(f"link set dev {dev} up")
                steps["veths"].append(dev)
                if want.get("features"):
                    ethtool.append((name, dev, want["features"]))
                have = {"flags": [], "mtu": None, "address": None}
            elif dev in host["links"] and "UP" not in host["links"][dev].get("flags", []):
                host_lines.append(f"link set dev {dev} up")  # the host end, an OVS port, left down
            if have.get("address") != want["mac"]:
                lines.append(f"link set dev {dev} address {want['mac']}")
            if want.get("mtu") and have.get("mtu") != want["mtu"]:
                lines.append(f"link set dev {dev} mtu {want['mtu']}")
            if "UP" not in have.get("flags", []):
                lines.append(f"link set dev {dev} up")
            for address in want.get("addresses", []):
                if address not in _addresses(have):
                    lines.append(f"address add {address} dev {dev}")
        if bad:  # never half a namespace: the next run of Ansible says what to do with the stranger
            continue
        lines += [f"route replace {r['dst']} via {r['via']}" for r in ns.get("routes", []) if not _has_route(inside["routes"], r)]
        steps["host"] += host_lines
        if lines:
            steps["netns"][name] = lines
        steps["ethtool"] += ethtool
        if ns.get("nft") and not inside["table"]:
            steps["nft"].append((name, ns["nft"]["file"]))
        changed = {key: str(value) for key, value in ns.get("sysctls", {}).items() if inside["sysctls"].get(key) != str(value)}
        if fresh and "net.ipv4.ip_forward" in ns.get("sysctls", {}):
            changed["net.ipv4.ip_forward"] = str(ns["sysctls"]["net.ipv4.ip_forward"])
        if changed:
            steps["sysctls"].append(f"netns exec {name} sysctl -q -w " + " ".join(f"{key}={value}" for key, value in sorted(changed.items())))
    return steps, problems


def commands(steps):
    """(argv, stdin) in the order they run: links before what is on them, the sysctls last."""
    out = []
    if steps["host"]:
        out.append((["ip", "-batch", "-"], steps["host"]))
    for name, lines in sorted(steps["netns"].items()):
        out.append((["ip", "-n", name, "-batch", "-"], lines))
    for name, dev, features in steps["ethtool"]:
        out.append((["ip", "netns", "exec", name, "ethtool", "-K", dev, *(w for k, v in sorted(features.items()) for w in (k, "on" if v else "off"))], None))
    for name, path in steps["nft"]:
        out.append((["ip", "netns", "exec", name, "nft", "-f", path], None))
    if steps["sysctls"]:
        out.append((["ip", "-batch", "-"], steps["sysctls"]))
    return out


def settle(devs):
    """Problems left after setting the host ends of the veths made here up again until each stays up.
    ovs-vswitchd opens a port its database names the moment the kernel has it, and on the userspace
    datapath it can write back the flags it read before this script's `up` (seen with a VM's veth after
    a reboot in the molecule lab; the likely cause of one CI run whose router lost SNAT after a simulated
    reboot while everything else was back)."""
    pause, needed, tries = SETTLE
    steady = 0
    for _attempt in range(tries):
        links = {link["ifname"]: link for link in _json(["ip", "-j", "link", "show"])}
        down = [dev for dev in devs if dev in links and "UP" not in links[dev].get("flags", [])]
        steady = 0 if down else steady + 1
        if steady == needed:
            return []
        if down:
            print(f"netfabric-netns: set up again (ovs-vswitchd put it down): {' '.join(down)}")
            _run(["ip", "-batch", "-"], "".join(f"link set dev {dev} up\n" for dev in down))
        time.sleep(pause)
    return [f"{dev}: does not stay up" for dev in devs if "UP" not in links.get(dev, {}).get("flags", [])] or ["veths: never steady up"]


def main(argv):
    state_file, check = DEFAULT_STATE, False
    for arg in argv:
        if arg.startswith("--state="):
            state_file = arg.split("=", 1)[1]
        elif arg == "--check":
            check = True
        else:
            print(f"netfabric-netns: unknown argument: {arg}", file=sys.stderr)
            return 2
    try:
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        print(f"netfabric-netns: no {state_file}: nothing to put back")
        return 0
    try:
        steps, problems = plan(state, read_host(state))
    except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
        print(f"netfabric-netns: cannot read the host: {exc}", file=sys.stderr)
        return 1
    for argv_, lines in commands(steps):
        shown = " ".join(argv_)
        for line in lines or [None]:
            print(f"netfabric-netns: {'would run' if check else 'run'} {shown}" + (f": {line}" if line else ""))
        if check:
            continue
        proc = _run(argv_, "".join(f"{line}\n" for line in lines) if lines is not None else None)
        if proc.returncode != 0:  # stop here: the sysctls (forwarding) come last and are not set
            problems.append(f"{shown} failed (rc={proc.returncode}): {proc.stderr.strip()}")
            break
    else:
        if steps["veths"] and not check:
            problems += settle(steps["veths"])
    for problem in problems:
        print(f"netfabric-netns: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
