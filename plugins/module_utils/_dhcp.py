# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dhcp_server: one dnsmasq serving DHCP for one tenant subnet in a namespace, kept running.

    validate  dhcp_want: every field checked and the file texts rendered before the host is touched
    read      the instance's files, whether its supervisor and dnsmasq run (pid file + /proc/PID/cmdline),
              and the served link's addresses (`ip -j address show dev IF`, one call)
    plan      plan_dhcp: pure; the files that differ and the least that makes dnsmasq use them:
              SIGHUP when only hosts/opts changed (dnsmasq rereads both), a restart when dnsmasq.conf did,
              a start when nothing runs
    write     files atomically (temporary file + rename), then the signals, starts and stops planned

Everything the instance owns lives in its `dir` (DIR_FILES) plus, under systemd, one unit file.
dnsmasq runs as root: the state directory is root's alone (0700), and dnsmasq rereads the hosts and
options files from it on SIGHUP, after it would have dropped privileges.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time

from ansible_collections.netfabric.ovs.plugins.module_utils._files import write_atomically
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import ip_runner
from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    ValidationError,
    abs_path,
    choice,
    ifname,
    int_range,
    mac_address,
    netns_name,
)

# ---------------------------------------------------------------- names, in one place
CONF, HOSTS, OPTS, LEASES = "dnsmasq.conf", "hosts", "opts", "leases"
DNSMASQ_PID, SUPERVISE, SUPERVISE_PID, SUPERVISE_LOG = "dnsmasq.pid", "supervise", "supervise.pid", "supervise.log"
DIR_FILES = (CONF, HOSTS, OPTS, LEASES, DNSMASQ_PID, SUPERVISE, SUPERVISE_PID, SUPERVISE_LOG)  # all absent removes
UNIT_DIR = "/etc/systemd/system"
UNIT_WANTS = "multi-user.target.wants"
SYSTEMD_RUNNING = "/run/systemd/system"  # exists only when systemd is PID 1 (sd_booted)
UNIT_PATTERN = "netfabric-dhcp-{name}.service"
NAME_RE = re.compile(r"[a-z0-9_-]{1,40}")
UNIT_NAME_RE = re.compile(r"[A-Za-z0-9:_.@-]{1,247}\.(service|target|mount)")
HOSTNAME_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
LEASE_TIME = (120, 4294967294)  # dnsmasq's minimum is two minutes; 0xffffffff means infinite
MTU = (68, 65535)
STOP_GRACE = 5  # seconds a stopped process gets before SIGKILL
STATES = ("present", "absent")
SUPERVISORS = ("auto", "systemd", "process")

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(STATES)),
    netns=dict(type="str"),
    interface=dict(type="str"),
    dir=dict(type="str", required=True),
    subnet=dict(type="str"),
    hosts=dict(type="list", elements="dict", default=[], options=dict(
        mac=dict(type="str", required=True), ip=dict(type="str", required=True), hostname=dict(type="str"))),
    range=dict(type="dict", options=dict(start=dict(type="str", required=True), end=dict(type="str", required=True))),
    router=dict(type="str"),
    dns=dict(type="list", elements="str", default=[]),
    routes=dict(type="list", elements="dict", default=[], options=dict(
        dst=dict(type="str", required=True), via=dict(type="str", required=True))),
    mtu=dict(type="int"),
    domain=dict(type="str"),
    lease_time=dict(type="int", default=86400),
    supervisor=dict(type="str", default="auto", choices=list(SUPERVISORS)),
    requires=dict(type="list", elements="str", default=[]),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True, required_if=[("state", "present", ["interface", "subnet"])])

# The process supervisor, written to DIR/supervise and run as `python3 DIR/supervise DIR COMMAND...`.
# Standard library only; dnsmasq writes DIR/dnsmasq.pid itself (pid-file=) once it serves.
SUPERVISOR_TEXT = '''\
"""netfabric.ovs dhcp_server supervisor (written by the module; changes are overwritten).

    supervise DIR COMMAND...

Runs COMMAND, and again 1 s after each time it exits, until SIGTERM, which stops COMMAND and exits.
Keeps its own pid in DIR/supervise.pid. Ends too once DIR is gone (the instance was removed without
it). Does not survive a reboot (systemd units do).
"""
import os
import signal
import subprocess
import sys
import time

directory, command = sys.argv[1], sys.argv[2:]
state = {"stopping": False, "child": None}


def stop(signum, frame):
    state["stopping"] = True
    if state["child"] is not None and state["child"].poll() is None:
        state["child"].terminate()


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
with open(os.path.join(directory, ".supervise.pid"), "w") as handle:
    handle.write(f"{os.getpid()}\\n")
os.replace(os.path.join(directory, ".supervise.pid"), os.path.join(directory, "supervise.pid"))
while not state["stopping"]:
    state["child"] = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    if state["stopping"]:
        state["child"].terminate()
    code = state["child"].wait()
    print(time.strftime("%Y-%m-%d %H:%M:%S"), "supervise:", command[0], "exited with", code, flush=True)
    if not state["stopping"]:
        time.sleep(1)
    if not os.path.isdir(directory):
        break
'''


# ---------------------------------------------------------------- validate
def _v4(field, value):
    try:
        address = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{field}: {value!r} is not an IPv4 address") from None
    if address.version != 4:
        raise ValidationError(f"{field}: {value!r} is not an IPv4 address (only IPv4 is served for now)")
    return address


def _in_subnet(field, value, subnet):
    """An address of the subnet that a host may have (not its network or broadcast address)."""
    address = _v4(field, value)
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        raise ValidationError(f"{field}: {value!r} is not a host address of subnet {subnet}")
    return address


def _subnet(value):
    try:
        net = ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        raise ValidationError(f"subnet: {value!r} is not a network with prefix like 10.0.0.0/24 (host bits zero)") from None
    if net.version != 4:
        raise ValidationError(f"subnet: {value!r} is not IPv4 (only IPv4 is served for now)")
    if net.prefixlen > 30:
        raise ValidationError(f"subnet: {value!r} has no room for a server and clients (prefix /30 or shorter)")
    return net


def _hosts(given, subnet):
    hosts, macs, ips, names = [], {}, {}, {}
    for index, host in enumerate(given or []):
        at = f"hosts[{index}]"
        mac = mac_address(f"{at}.mac", host.get("mac"))
        first = int(mac[:2], 16)
        if first & 1 or mac == "00:00:00:00:00:00":
            raise ValidationError(f"{at}.mac: {mac!r} is not a unicast MAC address (the first octet's lowest bit "
                                  "is the multicast bit and must be 0; all zeros is no address)")
        if mac in macs:
            raise ValidationError(f"{at}.mac: {mac!r} is already hosts[{macs[mac]}].mac")
        ip = _in_subnet(f"{at}.ip", host.get("ip"), subnet)
        if ip in ips:
            raise ValidationError(f"{at}.ip: {str(ip)!r} is already hosts[{ips[ip]}].ip")
        hostname = host.get("hostname")
        if hostname is not None:
            if not isinstance(hostname, str) or not HOSTNAME_RE.fullmatch(hostname):
                raise ValidationError(f"{at}.hostname: {hostname!r} is not a host name (1-63 letters, digits and "
                                      "'-', not starting or ending with '-')")
            if hostname.lower() in names:
                raise ValidationError(f"{at}.hostname: {hostname!r} is already hosts[{names[hostname.lower()]}].hostname")
            names[hostname.lower()] = index
        macs[mac], ips[ip] = index, index
        hosts.append({"mac": mac, "ip": str(ip), "hostname": hostname})
    return hosts


def range_conflicts(pool, hosts, router, server=()):
    """What the dynamic pool would hand out that is someone's already: each named, [] when none."""
    if pool is None:
        return []
    start, end = (ipaddress.ip_address(pool[k]) for k in ("start", "end"))

    def inside(value):
        return start <= ipaddress.ip_address(value) <= end

    found = [f"hosts[{i}].ip {h['ip']}" for i, h in enumerate(hosts) if inside(h["ip"])]
    if router is not None and inside(router):
        found.append(f"router {router}")
    found += [f"the server's own address {address} (on the interface)" for address in server if inside(address)]
    return found


def _range_problem(pool, conflicts):
    return (f"range: {pool['start']}-{pool['end']} contains {', '.join(conflicts)}; the dynamic pool must leave "
            "static, router and server addresses out")


def _routes(given, subnet):
    routes = []
    for index, route in enumerate(given or []):
        at = f"routes[{index}]"
        dst = route.get("dst")
        try:
            net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst, strict=True)
        except (TypeError, ValueError):
            raise ValidationError(f"{at}.dst: {dst!r} is not a network like 10.8.0.0/16 (host bits zero) or default") from None
        if net.version != 4:
            raise ValidationError(f"{at}.dst: {dst!r} is not IPv4 (option 121 carries IPv4 routes)")
        via = _in_subnet(f"{at}.via", route.get("via"), subnet)  # a gateway the client reaches on its link
        routes.append({"dst": str(net), "via": str(via)})
    return routes


def _domain(value):
    labels = value.split(".") if isinstance(value, str) else []
    if not labels or len(value) > 253 or not all(HOSTNAME_RE.fullmatch(label) for label in labels):
        raise ValidationError(f"domain: {value!r} is not a domain name (dot-separated labels of letters, digits and '-')")
    return value


def _units(value):
    units = value or []
    for index, unit in enumerate(units):
        if not isinstance(unit, str) or not UNIT_NAME_RE.fullmatch(unit):
            raise ValidationError(f"requires[{index}]: {unit!r} is not a systemd unit name (NAME.service, .target or .mount)")
    return list(units)


def dhcp_want(params, *, binaries=None):
    """Check every parameter and render what the instance's files must hold.

    `binaries` maps ip, dnsmasq, kill and python to absolute paths (the command lines need them);
    absent needs none of them.
    """
    name = params.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(f"name: {name!r} is not an instance name (1-40 characters a-z 0-9 _ -)")
    state = choice("state", params.get("state", "present"), STATES)
    directory = abs_path("dir", params.get("dir"), strict=True)
    want = {
        "name": name, "state": state, "dir": directory, "unit": UNIT_PATTERN.format(name=name),
        "supervisor": choice("supervisor", params.get("supervisor", "auto"), SUPERVISORS),
        "timeout": int_range("timeout", params.get("timeout", 5), (1, 3600)),
        "netns": None if params.get("netns") is None else netns_name("netns", params["netns"]),
    }
    if state == "absent":
        return want
    subnet = _subnet(params.get("subnet"))
    hosts = _hosts(params.get("hosts"), subnet)
    router = None if params.get("router") is None else str(_in_subnet("router", params["router"], subnet))
    if router is not None and router in {h["ip"] for h in hosts}:
        raise ValidationError(f"router: {router} is also the address of a static host")
    pool = params.get("range")
    if pool is not None:
        start = _in_subnet("range.start", pool.get("start"), subnet)
        end = _in_subnet("range.end", pool.get("end"), subnet)
        if start > end:
            raise ValidationError(f"range: start {start} is after end {end}")
        pool = {"start": str(start), "end": str(end)}
        conflicts = range_conflicts(pool, hosts, router)
        if conflicts:
            raise ValidationError(_range_problem(pool, conflicts))
    dns = [str(_v4(f"dns[{i}]", server)) for i, server in enumerate(params.get("dns") or [])]
    want.update(
        interface=ifname("interface", params.get("interface")),
        subnet=str(subnet), hosts=hosts, range=pool, router=router, dns=dns,
        routes=_routes(params.get("routes"), subnet),
        mtu=None if params.get("mtu") is None else int_range("mtu", params["mtu"], MTU),
        domain=None if params.get("domain") is None else _domain(params["domain"]),
        lease_time=int_range("lease_time", params.get("lease_time", 86400), LEASE_TIME),
        requires=_units(params.get("requires")),
    )
    bins = binaries or {}
    want["command"] = dnsmasq_command(want, bins)
    want["files"] = {CONF: config_text(want), HOSTS: hosts_text(want), OPTS: opts_text(want)}
    want["supervise_argv"] = [bins.get("python", sys.executable), path(want, SUPERVISE), directory] + want["command"]
    want["unit_text"] = unit_text(want, bins.get("kill", "/bin/kill"))
    return want


# ---------------------------------------------------------------- render
def path(want, name):
    return os.path.join(want["dir"], name)


def dnsmasq_command(want, bins):
    """dnsmasq in the foreground (its supervisor is its parent) inside the namespace; `ip netns exec`
    execs it, so the process it starts is dnsmasq itself."""
    prefix = [bins.get("ip", "ip"), "netns", "exec", want["netns"]] if want["netns"] else []
    return prefix + [bins.get("dnsmasq", "dnsmasq"), "--keep-in-foreground", f"--conf-file={path(want, CONF)}"]


def config_text(want):
    """dnsmasq.conf: DHCP only, on one link; changing it needs a restart (hosts and opts do not)."""
    net = ipaddress.ip_network(want["subnet"])
    first = want["range"]["start"] + "," + want["range"]["end"] if want["range"] else f"{net.network_address},static"
    lines = [
        f"# netfabric.ovs dhcp_server {want['name']}: written by the module; changes are overwritten.",
        f"# DHCP for {want['subnet']} on {want['interface']}" + (f" in namespace {want['netns']}" if want["netns"] else ""),
        "port=0",  # no DNS service
        "no-resolv",
        "no-hosts",
        "user=root",  # it rereads hosts and opts from a root-only directory on SIGHUP
        "bind-interfaces",
        f"interface={want['interface']}",
        "except-interface=lo",
        f"dhcp-range={first},{net.netmask},{want['lease_time']}",
        "dhcp-authoritative",
        f"dhcp-leasefile={path(want, LEASES)}",
        f"dhcp-hostsfile={path(want, HOSTS)}",
        f"dhcp-optsfile={path(want, OPTS)}",
        f"pid-file={path(want, DNSMASQ_PID)}",
        "log-facility=-",  # stderr: the supervisor's log or the journal
    ]
    return "\n".join(lines) + "\n"


def hosts_text(want):
    """dhcp-hostsfile: one static lease a line, MAC,IP[,HOSTNAME]."""
    lines = [",".join([h["mac"], h["ip"]] + ([h["hostname"]] if h["hostname"] else [])) for h in want["hosts"]]
    return "".join(line + "\n" for line in lines)


def opts_text(want):
    """dhcp-optsfile. An option without a value is sent to nobody: without it dnsmasq would offer itself
    as router and DNS server. Option 121 repeats the default route, since clients that get 121 ignore 3
    (RFC 3442)."""
    lines = ["option:router" + (f",{want['router']}" if want["router"] else "")]
    lines.append("option:dns-server" + "".join(f",{server}" for server in want["dns"]))
    routes = list(want["routes"])
    if routes and want["router"] and not any(r["dst"] == "0.0.0.0/0" for r in routes):
        routes.append({"dst": "0.0.0.0/0", "via": want["router"]})
    if routes:
        lines.append("option:classless-static-route" + "".join(f",{r['dst']},{r['via']}" for r in routes))
    if want["mtu"] is not None:
        lines.append(f"option:mtu,{want['mtu']}")
    if want["domain"] is not None:
        lines.append(f"option:domain-name,{want['domain']}")
    return "".join(line + "\n" for line in lines)


def unit_text(want, kill="/bin/kill"):
    """The systemd unit: restarted forever (no start limit), so it also waits out a namespace that the
    play creates after boot. The units it `requires` (the boot step that puts its namespace back)
    start first, and when one fails it does not start at all: no DHCP server on a half-made network."""
    requires = want.get("requires") or []
    return "\n".join([
        f"# netfabric.ovs dhcp_server {want['name']}: written by the module; changes are overwritten.",
        "[Unit]",
        f"Description=netfabric DHCP server {want['name']} (dnsmasq, {want['subnet']})",
        "After=" + " ".join(["openvswitch-switch.service", "network-online.target", *requires]),
        "Wants=network-online.target",
        *([f"Requires={' '.join(requires)}"] if requires else []),
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "ExecStart=" + " ".join(want["command"]),
        f"ExecReload={kill} -HUP $MAINPID",
        "Restart=always",
        "RestartSec=1",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


# ---------------------------------------------------------------- read
def _read_text(name):
    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def cmdline(pid):
    """The argv of a running process, [] when it is gone (a zombie has none)."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as handle:
            raw = handle.read()
    except (OSError, ValueError, TypeError):
        return []
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1]]


def _pid(want, name):
    text = _read_text(path(want, name))
    return int(text.strip()) if text and text.strip().isdigit() else None


def is_supervisor(argv, want):
    return len(argv) > 1 and argv[1] == path(want, SUPERVISE)


def is_dnsmasq(argv, want):
    return bool(argv) and os.path.basename(argv[0]) == "dnsmasq" and f"--conf-file={path(want, CONF)}" in argv


def running(want):
    """The instance's live processes: {'supervisor': (pid, argv) | None, 'dnsmasq': pid | None}."""
    spid, dpid = _pid(want, SUPERVISE_PID), _pid(want, DNSMASQ_PID)
    sargv = cmdline(spid) if spid else []
    return {
        "supervisor": (spid, sargv) if is_supervisor(sargv, want) else None,
        "dnsmasq": dpid if dpid and is_dnsmasq(cmdline(dpid), want) else None,
    }


def read_dhcp(want, ip=None):
    """The one read: files, processes, unit, and (present) the served link's IPv4 addresses."""
    unit_path = os.path.join(UNIT_DIR, want["unit"])
    have = dict(running(want))
    have.update(
        files={name: _read_text(path(want, name)) for name in (CONF, HOSTS, OPTS, SUPERVISE)},
        present=[name for name in DIR_FILES if os.path.lexists(path(want, name))],
        dir_exists=os.path.isdir(want["dir"]),
        unit_text=_read_text(unit_path),
        unit_enabled=os.path.lexists(os.path.join(UNIT_DIR, UNIT_WANTS, want["unit"])),
        systemd=os.path.isdir(SYSTEMD_RUNNING),
        link=None,
    )
    if want["state"] == "present" and ip is not None:
        try:
            table = ip.run_json(["-j", "address", "show", "dev", want["interface"]]) or []
            have["link"] = [a["local"] for entry in table for a in entry.get("addr_info", []) if a.get("family") == "inet"]
        except CommandError as exc:
            have["link_error"] = " ".join((exc.stderr or exc.stdout or "").split())
    return have


# ---------------------------------------------------------------- plan
def mode(want, have):
    return want["supervisor"] if want["supervisor"] != "auto" else ("systemd" if have["systemd"] else "process")


def _view(files, unit, runs):
    return {"files": files, "unit": unit, "running": runs}


def plan_dhcp(want, have, *, check_mode=False):
    """(Change, steps, warnings): what differs and the steps that fix it, in order; pure.

    Steps: ('write', path, text, mode), ('remove', path), ('rmdir', path), ('signal', pid, signum),
    ('stop', pid), ('start',), ('systemctl', args), ('wait', old dnsmasq pid or None).
    """
    if want["state"] == "absent":
        return _plan_absent(want, have)
    warnings = []
    server = _server_addresses(want, have, check_mode, warnings)
    conflicts = range_conflicts(want["range"], want["hosts"], want["router"], server)
    if conflicts:
        raise ValidationError(_range_problem(want["range"], conflicts))
    taken = [h for h in want["hosts"] if h["ip"] in server]
    if taken:
        raise ValidationError(f"hosts: {', '.join(h['ip'] for h in taken)} is the server's own address on "
                              f"{want['interface']}")
    how = mode(want, have)
    wanted = dict(want["files"])
    if how == "process":
        wanted[SUPERVISE] = SUPERVISOR_TEXT
        if have["unit_text"] is not None:
            raise ValidationError(f"supervisor: process, but the systemd unit {want['unit']} exists; "
                                  "remove the instance with state=absent first, or use supervisor=systemd")
    changed = [name for name, text in wanted.items() if have["files"].get(name) != text]
    steps = [("write", path(want, name), wanted[name], 0o600) for name in changed]
    runs, dpid, sup = bool(have["dnsmasq"]), have["dnsmasq"], have["supervisor"]
    commands = []

    def signal_step(pid, signum):
        steps.append(("signal", pid, signum))
        commands.append(["kill", f"-{signal.Signals(signum).name[3:]}", str(pid)])

    restart = CONF in changed
    if how == "process":
        current = sup is not None and sup[1][1:] == want["supervise_argv"][1:] and SUPERVISE not in changed
        if sup is not None and not current:
            steps.append(("stop", sup[0]))
            commands.append(["kill", "-TERM", str(sup[0])])
        if not current:
            if dpid and sup is None:
                steps.append(("stop", dpid))  # a dnsmasq whose supervisor is gone (killed)
                commands.append(["kill", "-TERM", str(dpid)])
            steps += [("start",), ("wait", None)]
            commands.append(want["supervise_argv"])
        elif runs and restart:
            signal_step(dpid, signal.SIGTERM)  # the supervisor starts it again with the new dnsmasq.conf
            steps.append(("wait", dpid))
        elif runs and changed:
            signal_step(dpid, signal.SIGHUP)
    else:
        unit_path = os.path.join(UNIT_DIR, want["unit"])
        if sup is not None:
            steps.append(("stop", sup[0]))
            commands.append(["kill", "-TERM", str(sup[0])])
        unit_changed = have["unit_text"] != want["unit_text"]
        if unit_changed:
            changed.append(unit_path)
            steps += [("write", unit_path, want["unit_text"], 0o644), ("systemctl", ["daemon-reload"])]
        if not have["unit_enabled"]:
            steps.append(("systemctl", ["enable", want["unit"]]))
        if not runs or unit_changed or restart or sup is not None:
            steps += [("systemctl", ["restart", want["unit"]]), ("wait", dpid)]
        elif changed:
            steps.append(("systemctl", ["reload", want["unit"]]))
        commands += [["systemctl"] + step[1] for step in steps if step[0] == "systemctl"]
    before = _view({n: have["files"].get(n) for n in wanted}, have["unit_text"], runs)
    after = _view(wanted, want["unit_text"] if how == "systemd" else have["unit_text"], True)
    diff = [{"before_header": step[1], "after_header": step[1], "after": step[2],
             "before": (have["unit_text"] if step[1].endswith(".service") else have["files"].get(os.path.basename(step[1]))) or ""}
            for step in steps if step[0] == "write"]
    change = Change(commands=commands, before=before, after=after, changed=bool(changed), diff=diff or None,
                    extra={"supervisor": how, "dnsmasq_pid": dpid, "files_changed": changed})
    return change, steps, warnings


def _server_addresses(want, have, check_mode, warnings):
    """The server's own addresses in the subnet; dnsmasq serves a subnet only on a link that has one."""
    where = f" in namespace {want['netns']}" if want["netns"] else ""
    if have.get("link") is None:
        problem = f"interface: {want['interface']!r} cannot be read{where} ({have.get('link_error') or 'not read'})"
        if check_mode:
            warnings.append(f"{problem} (check mode: it may be created by an earlier task)")
            return []
        raise ValidationError(problem)
    net = ipaddress.ip_network(want["subnet"])
    mine = [a for a in have["link"] if ipaddress.ip_address(a) in net]
    if not mine:
        problem = (f"interface: {want['interface']!r}{where} has no address in subnet {want['subnet']} (it has "
                   f"{', '.join(have['link']) or 'none'}); dnsmasq serves a subnet only on a link with an address in it")
        if check_mode:
            warnings.append(f"{problem} (check mode: it may be added by an earlier task)")
            return []
        raise ValidationError(problem)
    return mine


def _plan_absent(want, have):
    steps, commands = [], []
    unit_path = os.path.join(UNIT_DIR, want["unit"])
    wants_link = os.path.join(UNIT_DIR, UNIT_WANTS, want["unit"])
    if have["unit_text"] is not None or have["unit_enabled"]:
        if have["systemd"]:
            steps.append(("systemctl", ["disable", "--now", want["unit"]]))
            commands.append(["systemctl", "disable", "--now", want["unit"]])
        elif have["unit_enabled"]:
            steps.append(("remove", wants_link))
        if have["unit_text"] is not None:
            steps.append(("remove", unit_path))
        if have["systemd"]:
            steps.append(("systemctl", ["daemon-reload"]))
            commands.append(["systemctl", "daemon-reload"])
    if have["supervisor"] is not None:
        steps.append(("stop", have["supervisor"][0]))
        commands.append(["kill", "-TERM", str(have["supervisor"][0])])
    if have["dnsmasq"]:
        steps.append(("stop", have["dnsmasq"]))
        commands.append(["kill", "-TERM", str(have["dnsmasq"])])
    steps += [("remove", path(want, name)) for name in have["present"]]
    if have["dir_exists"]:
        steps.append(("rmdir", want["dir"]))
    before = {"files": have["present"], "unit": have["unit_text"], "running": bool(have["dnsmasq"])}
    after = {"files": [], "unit": None, "running": False}
    changed = bool(have["present"] or have["unit_text"] is not None or have["unit_enabled"]
                   or have["supervisor"] or have["dnsmasq"] or have["dir_exists"])
    change = Change(commands=commands, before=before, after=after, changed=changed, extra={"dnsmasq_pid": None})
    return change, steps, []


# ---------------------------------------------------------------- processes
def _gone(pid):
    return not cmdline(pid)


def stop_process(pid, grace=STOP_GRACE):
    """SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.05)


def start_supervisor(want):
    """Detached: its own session, stdio to DIR/supervise.log, so it outlives the module's process."""
    with open(path(want, SUPERVISE_LOG), "ab") as log:
        os.chmod(path(want, SUPERVISE_LOG), 0o600)
        subprocess.Popen(want["supervise_argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         cwd="/", start_new_session=True, close_fds=True)


def wait_dnsmasq(want, old, seconds):
    """The pid of a dnsmasq serving this instance other than `old`; Unhealthy after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        pid = running(want)["dnsmasq"]
        if pid and pid != old:
            return pid
        if time.monotonic() >= deadline:
            log = (_read_text(path(want, SUPERVISE_LOG)) or "").splitlines()[-5:]
            where = f"; last lines of {path(want, SUPERVISE_LOG)}: {' | '.join(log)}" if log else \
                f"; see journalctl -u {want['unit']}"
            raise Unhealthy(f"dnsmasq for {want['name']} did not start serving within {seconds} s{where}")
        time.sleep(0.1)


class StepError(CommandError):
    """A file or process step failed (permissions, a full disk): fails naming it, with changed=true, since
    the steps before it were applied."""

    def __init__(self, step, exc):
        CommandError.__init__(self, [step[0], str(step[1])], None, "", str(exc))
        self.args = (f"dhcp_server: {step[0]} {step[1]} failed: {exc}",)

    def fail(self, module, **extra):
        module.fail_json(msg=str(self), **dict(extra, changed=True))


def apply_steps(steps, want, systemctl=None):
    """Run the planned steps in order; returns the dnsmasq pid afterwards (None once absent)."""
    pid = None
    for step in steps:
        try:
            found = _apply_step(step, want, systemctl)
        except OSError as exc:
            raise StepError(step, exc) from None
        pid = found if step[0] == "wait" else pid
    return pid


def _apply_step(step, want, systemctl):
    """One step; a 'wait' returns the pid it waited for."""
    kind = step[0]
    if kind == "write":
        write_atomically(step[1], step[2], step[3])
    elif kind == "remove":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(step[1])
    elif kind == "rmdir":
        with contextlib.suppress(OSError):  # not empty: files the module did not write stay, and their directory
            os.rmdir(step[1])
    elif kind == "signal":
        with contextlib.suppress(ProcessLookupError):  # died meanwhile: its supervisor starts it with the new files
            os.kill(step[1], step[2])
    elif kind == "stop":
        stop_process(step[1])
    elif kind == "start":
        start_supervisor(want)
    elif kind == "systemctl":
        systemctl.run(step[1])
    elif kind == "wait":
        return wait_dnsmasq(want, step[1], want["timeout"] + 2)
    return None


def run_dhcp(module):
    """dhcp_server: one supervised dnsmasq as the parameters say."""
    ctx = {}

    def validate(params):
        bins = {}
        if params.get("state") == "present":
            bins = {"ip": module.get_bin_path("ip", required=True), "dnsmasq": module.get_bin_path("dnsmasq", required=True),
                    "kill": module.get_bin_path("kill") or "/bin/kill", "python": sys.executable}
        want = dhcp_want(params, binaries=bins)
        ctx["ip"] = ip_runner(module, want["netns"], want["timeout"]) if want["state"] == "present" else None
        return want

    def read(want):
        return read_dhcp(want, ctx["ip"])

    def plan(want, have):
        change, steps, warnings = plan_dhcp(want, have, check_mode=module.check_mode)
        for warning in warnings:
            module.warn(warning)
        uses_systemd = any(step[0] == "systemctl" for step in steps)
        if uses_systemd:
            ctx["systemctl"] = Runner(module, "systemctl", timeout=want["timeout"] + 25)
            change.commands = [ctx["systemctl"].argv(c[1:]) if c[0] == "systemctl" else c for c in change.commands]
        ctx["steps"] = steps
        return change

    def apply(change):
        pid = apply_steps(ctx["steps"], ctx["want"], ctx.get("systemctl"))
        if pid is not None or ctx["want"]["state"] == "absent":
            change.extra["dnsmasq_pid"] = pid

    def validate_and_keep(params):
        ctx["want"] = validate(params)
        return ctx["want"]

    run(module, validate=validate_and_keep, read=read, plan=plan, apply=apply)
