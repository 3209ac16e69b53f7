# netfabric.ovs libvirt hook: written by role netfabric.ovs.libvirt, which replaces or removes it only while this line is here.
"""Plug a starting libvirt domain's interfaces into the netfabric (installed as HOOKS_DIR/qemu and HOOKS_DIR/lxc).

libvirt adds a domain's port to br-int itself, with its portgroup's tag, but without the OpenFlow
port number br-int's flows admit (it deletes the port when the domain stops and re-adds it at the
next start, and OVS picks a new number). When the domain has started (op `started`, also on an
incoming migration; `reconnect` when libvirtd restarts), this reads the domain XML from standard
input and, for each interface on the fabric's network whose MAC the port map (MAP_FILE, written by
the role from the plan) names with the same tenant as the interface's portgroup, sets the planned
number, tenant and tenant MTU (`mtu_request`) in one ovs-vsctl transaction: OVS renumbers the port
and br-int's flows match it.
Any other interface gets nothing and stays dark (fail closed); each is logged on standard error,
which libvirt writes to its log. The hook always exits 0: a domain is never refused for this.

    HOOK DOMAIN OP SUBOP EXTRA < domain.xml     what libvirt runs
    HOOK --reload PIDFILE...                    SIGHUP the libvirt daemons named (they find hooks
                                                only when they start or reload); prints what it signalled
    HOOK --plug-running MAP URI [--check]       what the hook does at `started`, for every running
                                                domain whose ports differ (run by the role, never by
                                                libvirt: a hook calling virsh would wait on libvirtd);
                                                prints each port it set (would set, with --check)
    HOOK --follow MAP URI                       hot-plug: runs no hook, so this follows libvirt's
                                                device-added events and does --plug-running at each, and
                                                once a minute (run by the unit the role installs where
                                                systemd runs; outside libvirtd, it cannot hold it up);
                                                exits 1 when libvirtd goes away, for systemd to restart it

Python standard library only: it runs on the hypervisor, in libvirtd's environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

MARK = "netfabric.ovs libvirt hook"
MAP_FILE = "/etc/netfabric/libvirt-ports.json"  # the role writes the plan's path here on install
PLUG_OPS = ("started", "reconnect")
VSCTL_TIMEOUT = 5  # seconds ovs-vsctl may wait for the database and the switch
FOLLOW_EVENT = "device-added"  # what libvirt's QEMU driver reports after a hot-plug (the LXC driver reports none)
# virsh event listens this long before --follow plugs again and listens anew: an interface added
# while virsh was not yet listening (it prints nothing when it is) waits at most this long.
FOLLOW_SECONDS = 60
# Daemons that run libvirt's hooks: the monolithic one and the modular QEMU and LXC drivers.
DAEMONS = ("libvirtd", "virtqemud", "virtlxcd")


def interfaces(xml_text, network):
    """(mac, target dev, portgroup) of each interface of the domain on `network`, as libvirt resolved it."""
    root = ET.fromstring(xml_text)
    found = []
    for iface in root.findall("devices/interface"):
        source = iface.find("source")
        if source is None or source.get("network") != network:
            continue
        mac = iface.find("mac")
        target = iface.find("target")
        found.append((
            None if mac is None else (mac.get("address") or "").lower(),
            None if target is None else target.get("dev"),
            source.get("portgroup"),
        ))
    return found


def plan(domain, xml_text, port_map):
    """(ovs-vsctl argv lists, log lines) for one domain: one transaction per interface the map admits."""
    db = [f"--db={port_map['db']}"] if port_map.get("db") else []
    commands, log = [], []
    for mac, dev, portgroup in interfaces(xml_text, port_map["network"]):
        where = f"domain {domain} interface {mac} ({dev or 'no target dev'}, portgroup {portgroup})"
        entry = port_map["ports"].get(mac)
        if entry is None:
            log.append(f"{where}: MAC not in this host's port map (the inventory names it on no host, "
                       "or on another without migrate_to this one); left dark")
        elif portgroup != entry["tenant"]:
            log.append(f"{where}: the inventory puts this MAC in tenant {entry['tenant']}; left dark")
        elif dev is None or (entry.get("dev") and dev != entry["dev"]):
            log.append(f"{where}: the inventory names target dev {entry.get('dev')}; left dark")
        else:
            commands.append([
                "ovs-vsctl", f"--timeout={VSCTL_TIMEOUT}", *db,
                "--", "set", "Interface", dev, f"ofport_request={int(entry['ofport'])}",
                *([f"mtu_request={int(entry['mtu'])}"] if entry.get("mtu") else []),
                "--", "set", "Port", dev, f"external_ids:{port_map['tenant_key']}={entry['tenant']}",
                f"external_ids:{port_map['port_key']}={entry['port']}",
            ])
            log.append(f"{where}: tenant {entry['tenant']}, OpenFlow port {entry['ofport']}")
    return commands, log


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=VSCTL_TIMEOUT + 2, check=True).stdout


def _json_column(argv, table, dev, column):
    """One column of one row as ovs-vsctl's JSON gives it: a number, ["map", [[key, value], ...]], ["set", [...]]."""
    data = json.loads(_run([*argv, "--format=json", f"--columns={column}", "list", table, dev]))["data"]
    return data[0][0] if data else None


def plug_running(map_file, uri, check):
    """Lines naming each port of a running domain that the hook would change now, after changing it unless `check`."""
    if check and not os.path.exists(map_file):
        return []  # a first run in check mode: nothing written yet, so nothing would be plugged
    with open(map_file, encoding="utf-8") as handle:
        port_map = json.load(handle)
    changed = []
    for domain in _run(["virsh", "-q", "-c", uri, "list", "--name"]).split():
        commands, _unused = plan(domain, _run(["virsh", "-q", "-c", uri, "dumpxml", domain]), port_map)
        for argv in commands:
            dev = argv[argv.index("Interface") + 1]
            base = argv[: argv.index("--")]
            want_ids = [arg.split(":", 1)[1].split("=", 1) for arg in argv if arg.startswith("external_ids:")]
            iface = argv[argv.index("Interface") + 2: argv.index("--", argv.index("Interface"))]  # column=value of the Interface
            have = [f"{column}={_json_column(base, 'Interface', dev, column)}" for column in (arg.split("=", 1)[0] for arg in iface)]
            ids = dict(_json_column(base, "Port", dev, "external_ids")[1])
            if have == iface and all(ids.get(key) == value for key, value in want_ids):
                continue
            if not check:
                _run(argv)
            changed.append(f"domain {domain} port {dev}: {' '.join(argv[argv.index('--') + 1:])}")
    return changed


def follow(map_file, uri, out=sys.stdout, err=sys.stderr):
    """--follow: plug running domains' ports at every device-added event and every FOLLOW_SECONDS,
    until `virsh event` fails (libvirtd stopped); returns virsh's exit status (or 1)."""
    argv = ["virsh", "-q", "-c", uri, "event", "--loop", "--event", FOLLOW_EVENT, "--timeout", str(FOLLOW_SECONDS)]
    while True:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as events:
            _plug_logged(map_file, uri, out, err)  # whatever was added before virsh listened
            for line in events.stdout:
                if FOLLOW_EVENT in line:
                    _plug_logged(map_file, uri, out, err)
        if events.returncode != 0:
            print(f"netfabric: virsh event on {uri} ended with status {events.returncode}", file=err, flush=True)
            return events.returncode if events.returncode > 0 else 1


def _plug_logged(map_file, uri, out, err):
    try:
        for line in plug_running(map_file, uri, False):
            print(line, file=out, flush=True)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        print(f"netfabric: plugging running domains failed: {exc} {getattr(exc, 'stderr', '') or ''}", file=err, flush=True)


def reload(pidfiles):
    """SIGHUP each running libvirt daemon named by a pidfile; missing files and other processes are skipped."""
    done = []
    for path in pidfiles:
        try:
            with open(path, encoding="ascii") as handle:
                pid = int(handle.read().strip())
            with open(f"/proc/{pid}/comm", encoding="ascii") as handle:
                comm = handle.read().strip()
        except (OSError, ValueError):
            continue
        if comm in DAEMONS:
            os.kill(pid, signal.SIGHUP)
            done.append(f"{comm} {pid}")
    return done


def main(argv, stdin):
    if argv[1:2] == ["--reload"]:
        for line in reload(argv[2:]):
            print(f"reloaded {line}")
        return 0
    if argv[1:2] == ["--plug-running"]:
        try:
            lines = plug_running(argv[2], argv[3], argv[4:] == ["--check"])
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            print(f"netfabric: plugging running domains failed: {exc} {getattr(exc, 'stderr', '') or ''}", file=sys.stderr)
            return 1
        for line in lines:
            print(line)
        return 0
    if argv[1:2] == ["--follow"]:
        return follow(argv[2], argv[3])
    if len(argv) < 3 or argv[2] not in PLUG_OPS:
        return 0
    domain = argv[1]
    try:
        with open(MAP_FILE, encoding="utf-8") as handle:
            port_map = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"netfabric: {MAP_FILE} unreadable ({exc}); domain {domain} left dark", file=sys.stderr)
        return 0
    try:
        commands, log = plan(domain, stdin.read(), port_map)
    except ET.ParseError as exc:
        print(f"netfabric: domain {domain}: its XML does not parse ({exc}); left dark", file=sys.stderr)
        return 0
    for line in log:
        print(f"netfabric: {line}", file=sys.stderr)
    for argv_ in commands:
        try:
            proc = subprocess.run(argv_, capture_output=True, text=True, timeout=VSCTL_TIMEOUT + 2, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"netfabric: {' '.join(argv_)}: {exc}; left dark", file=sys.stderr)
            continue
        if proc.returncode != 0:
            print(f"netfabric: {' '.join(argv_)}: rc={proc.returncode}: {proc.stderr.strip()}; left dark", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv, sys.stdin))
