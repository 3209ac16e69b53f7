#!/usr/bin/python3
"""Lab helper that runs inside a hypervisor container of the molecule scenarios.

The containers have no hypervisor and (but for the reboot scenario's) no systemd, so this script
plays both: it starts Open vSwitch (by hand, LAB.md tier 2, or as a systemd service where systemd is
init), builds "VMs" as network namespaces joined by veth to a port the inventory names, and sends
real packets between them for verify. Every subcommand prints one JSON object (with "changed" for
Ansible's changed_when) and exits non-zero only on a lab failure;
whether a ping should have passed is for the playbook to assert.

    labhost.py setup [--underlay | --linuxbridge] [PORT,MAC,ADDRESS/PREFIX ...]   all of ovs-start, br-phy and vm
    labhost.py boot [--linuxbridge] [PORT,MAC,ADDRESS/PREFIX[,BRIDGE] ...]   after a reboot: the host's own part
                                                     (uplink sysctls and checksums, VMs, each into BRIDGE as libvirt would)
    labhost.py ovs-start
    labhost.py br-phy [--underlay]
    labhost.py vm PORT MAC ADDRESS/PREFIX [--mtu 1400]
    labhost.py probe [--vm PORT] TARGET [--capture FILTER] [--count 3]
    labhost.py dhcp --vm PORT                       a DHCP client's lease in the VM, and its default route
    labhost.py tunnels [--bridge br-tun]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RUNDIR = Path("/var/run/openvswitch")
DB = Path("/etc/openvswitch/conf.db")
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UPLINK = "eth0"


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run argv (never a shell); on failure stop with the command and its stderr."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(argv)}: rc={proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def vm_ns(port: str) -> str:
    return f"vm-{port}"


def daemon_alive(name: str) -> bool:
    pidfile = RUNDIR / f"{name}.pid"
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def systemd_runs() -> bool:
    return Path("/run/systemd/system").is_dir()


def ovs_start_systemd() -> bool:
    """Where systemd is init (the reboot scenario), Open vSwitch is its service, as on a real host."""
    run("systemctl", "is-system-running", "--wait", check=False)  # boot done: the OVS units have started
    tso = run("ovs-vsctl", "--timeout=10", "get", "Open_vSwitch", ".", "other_config:userspace-tso-enable", check=False)
    if tso.stdout.strip() == '"true"':
        return False
    run("ovs-vsctl", "--timeout=10", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
    run("systemctl", "restart", "ovs-vswitchd.service")  # TSO is read when ovs-vswitchd starts
    return True


def ovs_start_by_hand() -> bool:
    """ovsdb-server, then userspace TSO (it must be set before ovs-vswitchd starts), then ovs-vswitchd."""
    changed = False
    for path in (RUNDIR, Path("/var/log/openvswitch"), DB.parent):
        path.mkdir(parents=True, exist_ok=True)
    if not DB.exists() or DB.stat().st_size == 0:
        run("ovsdb-tool", "create", str(DB), SCHEMA)
        changed = True
    if not daemon_alive("ovsdb-server"):
        run(
            "ovsdb-server", str(DB), f"--remote=punix:{RUNDIR}/db.sock",
            "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
            "--pidfile", "--detach", "--log-file", "-vconsole:off",
        )  # fmt: skip
        run("ovs-vsctl", "--no-wait", "init")
        run("ovs-vsctl", "--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
        changed = True
    if not daemon_alive("ovs-vswitchd"):
        run("ovs-vswitchd", "--pidfile", "--detach", "--log-file", "-vconsole:off")
        changed = True
    return changed


def ovs_start(_args: argparse.Namespace) -> dict:
    changed = ovs_start_systemd() if systemd_runs() else ovs_start_by_hand()
    version = run("ovs-vsctl", "--timeout=10", "get", "Open_vSwitch", ".", "ovs_version").stdout.strip().strip('"')
    return {"changed": changed, "ovs_version": version, "systemd": systemd_runs()}


def link(name: str, netns: str | None = None) -> dict | None:
    argv = ["ip", "-j", "addr", "show", "dev", name] if netns is None else ["ip", "-n", netns, "-j", "addr", "show", "dev", name]
    proc = run(*argv, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def br_phy(args: argparse.Namespace) -> dict:
    """br-phy on the userspace datapath with the uplink's MAC; with --underlay also the uplink and its address.

    The kernel must not answer for the uplink once OVS owns it: rp_filter and arp_ignore on eth0
    stop duplicate replies.
    """
    uplink = link(UPLINK)
    if uplink is None:
        sys.exit(f"no {UPLINK} in this container")
    mac = uplink["address"]
    before = run("ovs-vsctl", "--format=json", "--", "--columns=name", "list", "Bridge").stdout
    run(
        "ovs-vsctl", "--may-exist", "add-br", "br-phy",
        "--", "set", "Bridge", "br-phy", "datapath_type=netdev", f"other_config:hwaddr={mac}",
    )  # fmt: skip
    changed = '"br-phy"' not in before
    for key in ("rp_filter", "arp_ignore"):
        run("sysctl", "-q", "-w", f"net.ipv4.conf.{UPLINK}.{key}=1")
    result = {"mac": mac, "underlay": None}
    if args.underlay:
        addresses = [a for a in uplink.get("addr_info", []) if a["family"] == "inet"]
        routes = json.loads(run("ip", "-j", "route", "show", "default").stdout)
        run("ovs-vsctl", "--may-exist", "add-port", "br-phy", UPLINK)
        run("ip", "link", "set", "br-phy", "up")
        for addr in addresses:
            cidr = f"{addr['local']}/{addr['prefixlen']}"
            run("ip", "addr", "del", cidr, "dev", UPLINK)
            run("ip", "addr", "replace", cidr, "dev", "br-phy")
            result["underlay"] = cidr
            changed = True
        for route in routes:
            if "gateway" in route:
                run("ip", "route", "replace", "default", "via", route["gateway"], "dev", "br-phy")
    result["changed"] = changed
    return result


def port_up(port: str) -> None:
    """Set PORT up, and again until it stays up for a second. A running ovs-vswitchd opens a port its
    database names as soon as the kernel has it, and on the userspace datapath it then writes back the
    flags it read, which can be from before our `up`: seen after a reboot, the port down for good."""
    steady = 0
    for _ in range(50):
        if "UP" in (link(port) or {}).get("flags", []):
            steady += 1
            if steady == 5:
                return
        else:
            steady = 0
            run("ip", "link", "set", port, "up")
        time.sleep(0.2)
    sys.exit(f"{port} does not stay up")


def vm(args: argparse.Namespace) -> dict:
    """A VM: namespace vm-PORT whose eth0 is the veth peer of PORT, with the MAC and address given.

    MTU below the tenant MTU (the 802.1Q tag travels inside the tunnel) and TX checksum offload off,
    which the userspace datapath needs for TCP/UDP (LAB.md).
    """
    ns = vm_ns(args.port)
    if link(args.port) is not None and link("eth0", ns) is not None:
        return {"changed": False, "netns": ns}
    if not Path("/run/netns", ns).exists():
        run("ip", "netns", "add", ns)
    mtu = str(args.mtu)
    run("ip", "link", "add", args.port, "mtu", mtu, "type", "veth", "peer", "name", "eth0", "mtu", mtu, "netns", ns)
    port_up(args.port)
    run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "-n", ns, "link", "set", "eth0", "address", args.mac)
    run("ip", "-n", ns, "addr", "add", args.address, "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")
    run("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off")
    return {"changed": True, "netns": ns}


def kernel_vtep() -> dict:
    """A Linux-bridge host runs no Open vSwitch: where systemd is init, the image's Open vSwitch
    services are stopped and masked, as if the package were not installed. Its kernel VXLAN leaves
    the outer UDP checksum to the NIC; a real NIC finishes it, the container's veth does not, and an
    OVS peer's userspace datapath drops what arrives unfinished: eth0 computes checksums itself."""
    masked = False
    if systemd_runs():
        units = ("openvswitch-switch.service", "ovs-vswitchd.service", "ovsdb-server.service")
        masked = "masked" not in run("systemctl", "is-enabled", units[0], check=False).stdout
        if masked:
            run("systemctl", "mask", "--now", *units)
    before = run("ethtool", "-k", UPLINK).stdout
    run("ethtool", "-K", UPLINK, "tx", "off")
    return {"changed": masked or "tx-checksumming: on" in before}


def setup(args: argparse.Namespace) -> dict:
    """Everything prepare needs in one call: Open vSwitch, br-phy and every VM of the inventory
    (with --linuxbridge: no Open vSwitch, only the uplink's checksums and the VMs)."""
    result = {"uplink": kernel_vtep()} if args.linuxbridge else {"ovs": ovs_start(args), "br_phy": br_phy(args)}
    parts = list(result.values())
    result["vms"] = []
    for spec in args.vms:
        port, mac, address = spec.split(",")
        result["vms"].append(vm(argparse.Namespace(port=port, mac=mac, address=address, mtu=args.mtu)))
    result["changed"] = any(part["changed"] for part in (*parts, *result["vms"]))
    return result


def boot(args: argparse.Namespace) -> dict:
    """After a reboot (`podman restart`), what the host itself does, not the fabric: wait for systemd to
    finish booting, set the uplink's sysctls (a real host keeps them in sysctl.d; a Linux-bridge host's
    checksum setting in its network configuration) and start the VMs again (its hypervisor), each VM
    given a BRIDGE into it, as libvirt does with `<source bridge=...>`. Nothing of the fabric: that is
    the boot unit's job, which this must not mask (a BRIDGE that is not there fails here).
    """
    state = run("systemctl", "is-system-running", "--wait", check=False).stdout.strip()
    for key in ("rp_filter", "arp_ignore"):
        run("sysctl", "-q", "-w", f"net.ipv4.conf.{UPLINK}.{key}=1")
    if args.linuxbridge:
        kernel_vtep()
    vms = []
    for spec in args.vms:
        port, mac, address, *bridge = spec.split(",")
        vms.append(vm(argparse.Namespace(port=port, mac=mac, address=address, mtu=args.mtu)))
        if bridge:
            run("ip", "link", "set", port, "master", bridge[0])
    return {"changed": True, "system": state, "vms": vms}


# udhcpc's script: on a lease, the variables udhcpc passes (ip, mask, router, dns, mtu...) as JSON
UDHCPC_SCRIPT = """#!/bin/sh
[ "$1" = bound ] || exit 0
python3 -c 'import json, os; print(json.dumps(dict(os.environ)))' > "$LEASE"
"""


def dhcp(args: argparse.Namespace) -> dict:
    """A real DHCP client (busybox udhcpc) in the VM: the lease's ip, mask, router, dns and mtu, or
    none; with a lease, what a client's script does with it: the default route via its router (the
    address is the VM's already, the one the lease must carry)."""
    script, lease = Path("/run/labhost-udhcpc.sh"), Path(f"/run/labhost-lease-{args.vm}.json")
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    lease.unlink(missing_ok=True)
    run("ip", "netns", "exec", vm_ns(args.vm), "env", f"LEASE={lease}", "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
        "-t", "4", "-T", "1", "-s", str(script), "-O", "mtu", check=False)
    got = json.loads(lease.read_text()) if lease.exists() else {}
    got = {key: got[key] for key in ("ip", "mask", "router", "dns", "mtu") if key in got}
    if got.get("router"):
        run("ip", "-n", vm_ns(args.vm), "route", "replace", "default", "via", got["router"])
    return {"changed": False, "vm": args.vm, "lease": got}


def probe(args: argparse.Namespace) -> dict:
    """Ping TARGET from a VM (or the container itself) while tcpdump watches the uplink.

    The neighbour entry is flushed first, so the one read afterwards comes from this probe's ARP.
    """
    prefix = [] if args.vm is None else ["ip", "netns", "exec", vm_ns(args.vm)]
    if args.vm is not None:
        run(*prefix, "ip", "neigh", "flush", "to", args.target, check=False)
    capture = None
    if args.capture:
        capture = subprocess.Popen(
            ["tcpdump", "-i", args.capture_iface, "-e", "-nn", "-l", "-U", *args.capture.split()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # tcpdump says "listening on IFACE" on stderr once it captures (after a line about verbosity)
        for _ in range(3):
            line = capture.stderr.readline()
            if "listening on" in line or not line:
                break
        if "listening on" not in line:
            capture.kill()
            sys.exit(f"tcpdump did not start on {args.capture_iface}: {line.strip()}")
    ping = run(*prefix, "ping", "-n", "-c", str(args.count), "-i", "0.2", "-W", "1", args.target, check=False)
    received = 0
    for line in ping.stdout.splitlines():
        if " received" in line:
            received = int(line.split(",")[1].split()[0])
    lines: list[str] = []
    if capture is not None:
        time.sleep(0.3)
        capture.terminate()
        out, _ = capture.communicate(timeout=5)
        lines = out.splitlines()
    neighbour = None
    neigh = json.loads(run(*prefix, "ip", "-j", "neigh", "show", "to", args.target, check=False).stdout or "[]")
    if neigh:
        neighbour = {"lladdr": neigh[0].get("lladdr"), "state": neigh[0].get("state", [])}
    return {
        "changed": False,
        "vm": args.vm,
        "target": args.target,
        "sent": args.count,
        "received": received,
        "neighbour": neighbour,
        "capture": lines,  # all of it: other VMs' chatter (IPv6 solicitations) may come first
        "captured": len(lines),
    }


def tunnels(args: argparse.Namespace) -> dict:
    """Tunnel interfaces of the bridge with their options, from OVSDB's JSON."""
    ports = run("ovs-vsctl", "list-ports", args.bridge).stdout.split()
    out = json.loads(run("ovs-vsctl", "--format=json", "--", "--columns=name,type,options", "list", "Interface").stdout)
    found = []
    for name, kind, options in out["data"]:
        if name in ports and kind in ("vxlan", "gre", "geneve"):
            found.append({"name": name, "type": kind, **dict(options[1])})
    return {"changed": False, "tunnels": sorted(found, key=lambda t: t["name"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ovs-start").set_defaults(func=ovs_start)
    p = sub.add_parser("br-phy")
    p.add_argument("--underlay", action="store_true", help="also move eth0 and its address onto br-phy")
    p.set_defaults(func=br_phy)
    p = sub.add_parser("vm")
    p.add_argument("port")
    p.add_argument("mac")
    p.add_argument("address", help="address/prefix inside the VM")
    p.add_argument("--mtu", type=int, default=1400)
    p.set_defaults(func=vm)
    p = sub.add_parser("setup")
    p.add_argument("vms", nargs="*", metavar="PORT,MAC,ADDRESS/PREFIX")
    p.add_argument("--underlay", action="store_true")
    p.add_argument("--linuxbridge", action="store_true", help="a Linux-bridge host: no Open vSwitch, no br-phy")
    p.add_argument("--mtu", type=int, default=1400)
    p.set_defaults(func=setup)
    p = sub.add_parser("boot")
    p.add_argument("vms", nargs="*", metavar="PORT,MAC,ADDRESS/PREFIX[,BRIDGE]")
    p.add_argument("--linuxbridge", action="store_true", help="a Linux-bridge host: eth0 computes its checksums again")
    p.add_argument("--mtu", type=int, default=1400)
    p.set_defaults(func=boot)
    p = sub.add_parser("dhcp")
    p.add_argument("--vm", required=True, help="port name of the VM whose eth0 asks")
    p.set_defaults(func=dhcp)
    p = sub.add_parser("probe")
    p.add_argument("target")
    p.add_argument("--vm", help="port name of the VM to ping from; the container itself when omitted")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--capture", help="tcpdump filter, e.g. 'udp port 4789'")
    p.add_argument("--capture-iface", default=UPLINK)
    p.set_defaults(func=probe)
    p = sub.add_parser("tunnels")
    p.add_argument("--bridge", default="br-tun")
    p.set_defaults(func=tunnels)
    args = parser.parse_args()
    print(json.dumps(args.func(args)))


if __name__ == "__main__":
    main()
