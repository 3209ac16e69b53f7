#!/usr/bin/env python3
"""Hypervisors as network namespaces, each with its own Open vSwitch (userspace datapath).

One place for the tier-1 lab, shared by the integration tests, the demo and the benchmark.
Every object carries the lab prefix (namespaces `PREFIX-NAME`, state under ROOT/PREFIX), so a
later run can find and remove what a killed run left behind, and two labs never collide.

    python3 lab/netns.py up   --prefix nf hv1 hv2          # hypervisors with OVS
    python3 lab/netns.py wire --prefix nf hv1 hv2          # uplinks on one underlay switch
    python3 lab/netns.py vm   --prefix nf hv1 vm1 tap-vm1 10.0.0.1/24 [--mac M]
    python3 lab/netns.py down --prefix nf                  # everything of this prefix
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
PYTHON = "/usr/bin/python3"


def lab_root(prefix: str) -> Path:
    base = os.environ.get("NETFABRIC_LAB_ROOT") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "netfabric-lab")
    return Path(base) / prefix


def sh(*argv, check=True, capture=False, env=None):
    """Run argv (never a shell); raise with stderr on failure."""
    proc = subprocess.run([str(a) for a in argv], check=False, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: rc={proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout if capture else proc


class Hypervisor:
    """One namespace, one ovsdb-server, one ovs-vswitchd, one python wrapper for Ansible."""

    def __init__(self, prefix: str, name: str):
        self.prefix = prefix
        self.name = name
        self.netns = f"{prefix}-{name}"
        self.dir = lab_root(prefix) / name
        self.python = self.dir / "python"
        self.db = f"unix:{self.dir}/db.sock"

    @property
    def env(self):
        d = str(self.dir)
        return dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d)

    def exec(self, *argv, check=True, capture=True):
        """Run argv inside the namespace with this hypervisor's OVS; returns stdout."""
        out = sh("ip", "netns", "exec", self.netns, *argv, check=check, capture=capture, env=self.env)
        return out

    def vsctl(self, *args):
        return self.exec("ovs-vsctl", "--timeout=10", *args)

    def bond_show(self, bond: str):
        """ovs-appctl bond/show of an OVS bond: ({member: enabled?}, the active member or None, bond_mode, the text)."""
        text = self.exec("ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl", "bond/show", bond)
        members = dict(re.findall(r"^(?:member|slave) (\S+): (enabled|disabled)", text, re.M))
        active = re.search(r"^active (?:member|slave) mac: \S+\((\S+)\)", text, re.M)
        mode = re.search(r"^bond_mode: (\S+)", text, re.M)
        return ({m: state == "enabled" for m, state in members.items()}, active.group(1) if active and active.group(1) != "none" else None,
                mode and mode.group(1), text)

    def ofctl(self, *args):
        return self.exec("ovs-ofctl", *args)

    def tcpdump(self, bpf: str, *flags: str, iface: str = "uplink"):
        """Capture on one of this hypervisor's links (see the module's tcpdump())."""
        return tcpdump(self.netns, bpf, *flags, iface=iface)

    def start(self, ovs: bool = True):
        """ovs=False: a host without Open vSwitch (a linuxbridge host), only the namespace and the wrapper."""
        self.dir.mkdir(parents=True, exist_ok=True)
        d = self.dir
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        if ovs:
            sh("ovsdb-tool", "create", d / "conf.db", SCHEMA)
            self.exec("ovsdb-server", d / "conf.db", f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
                      "--detach", "-vconsole:off", f"--log-file={d}/ovsdb-server.log", f"--unixctl={d}/ovsdb-server.ctl")
            sh("ovs-vsctl", f"--db={self.db}", "--no-wait", "init")
            self.exec("ovs-vswitchd", self.db, f"--pidfile={d}/ovs-vswitchd.pid", "--detach", "-vconsole:off",
                      f"--log-file={d}/ovs-vswitchd.log", f"--unixctl={d}/ovs-vswitchd.ctl")
        # Not `ip netns exec`, whose private mount namespace would hide the namespaces a network
        # node creates (ip netns add bind-mounts them under /run/netns): enter the network
        # namespace, and in a mount namespace that still shares /run/netns, mount its own /sys.
        self.python.write_text(
            "#!/bin/sh\n"
            f"exec nsenter --net=/run/netns/{self.netns} unshare --mount --propagation unchanged sh -c "
            "'mount --make-rprivate /sys && mount -t sysfs none /sys && exec \"$0\" \"$@\"' "
            f"env OVS_RUNDIR={d} OVS_DBDIR={d} OVS_LOGDIR={d} {PYTHON} \"$@\"\n"
        )
        self.python.chmod(0o755)
        return self

    def stop(self):
        """Kill this hypervisor's processes and remove its namespace and state."""
        kill(sh("ip", "netns", "pids", self.netns, capture=True, check=False).split())
        sh("ip", "netns", "del", self.netns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart_vswitchd(self):
        """Kill and start ovs-vswitchd, as a host's service restart would: OpenFlow flows are lost."""
        d = self.dir
        self.exec("ovs-appctl", "-t", f"{d}/ovs-vswitchd.ctl", "exit", check=False)
        for _ in range(50):
            if not (d / "ovs-vswitchd.pid").exists():
                break
            time.sleep(0.1)
        self.exec("ovs-vswitchd", self.db, f"--pidfile={d}/ovs-vswitchd.pid", "--detach", "-vconsole:off",
                  f"--log-file={d}/ovs-vswitchd.log", f"--unixctl={d}/ovs-vswitchd.ctl")


@contextlib.contextmanager
def tcpdump(ns: str, bpf: str, *flags: str, iface: str = "eth0"):
    """Capture on iface in namespace ns for as long as the with-block runs; the yielded list gets
    tcpdump's lines.

    No packet count: unrelated traffic (IPv6 router solicitations of other VMs) must not end
    the capture before the packets the test looks for. The block starts only once tcpdump
    says it is listening, so no packet of the block is missed.
    """
    lines: list[str] = []
    dump = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-n", "-l", "-U", *flags, "-i", iface, *bpf.split()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _line in range(5):  # a line about verbosity, then "listening on IFACE"
            if "listening on" in dump.stderr.readline():
                break
        yield lines
    finally:
        time.sleep(0.5)  # the last packets of the block reach tcpdump's output
        dump.terminate()
        lines.extend(line for line in dump.communicate(timeout=10)[0].splitlines() if line.strip())


def kill(pids):
    """SIGKILL each pid and wait (5 s at most) until it is gone, so nothing of the lab outlives its removal."""
    waiting = []
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
            waiting.append(int(pid))
        except (ProcessLookupError, ValueError):
            pass
    deadline = time.monotonic() + 5
    while waiting and time.monotonic() < deadline:
        waiting = [pid for pid in waiting if running(pid)]
        time.sleep(0.05)


def running(pid):
    """True until the process is gone or a zombie (dead, waiting for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def netns_list():
    out = sh("ip", "-j", "netns", "list", capture=True, check=False)
    import json
    try:
        return [entry["name"] for entry in json.loads(out or "[]")]
    except ValueError:
        return []


def down(prefix: str, *, family: bool = False):
    """Remove every namespace and process of this prefix, whatever state a killed run left.

    family=True also removes labs whose prefix merely starts with it (a test session's sub-labs).
    """
    if family:
        base = lab_root(prefix).parent
        for root in sorted(base.glob(prefix + "*")) if base.exists() else []:
            if root.name != prefix:
                down(root.name)
    for ns in netns_list():
        if ns.startswith(prefix + "-") or (family and ns.startswith(prefix)):
            kill(sh("ip", "netns", "pids", ns, capture=True, check=False).split())
            sh("ip", "netns", "del", ns, check=False)
    root = lab_root(prefix)
    if root.exists():
        pids = []
        for pidfile in root.glob("*/*.pid"):
            try:
                pids.append(pidfile.read_text().strip())
            except OSError:
                pass
        kill(pids)
        shutil.rmtree(root, ignore_errors=True)


def wire(prefix: str, hosts: list[str], uplink: str = "uplink", links: dict[str, list[str]] | None = None, mtu: int | None = None):
    """Put each hypervisor's `uplink` on one Linux bridge in the namespace PREFIX-sw (the underlay switch);
    `links` may give a host several NICs there instead (a bond's members), each its own switch port.
    With `mtu` the switch's ports carry frames that large (a veth drops what exceeds its peer's MTU);
    each host's own end starts at the kernel's 1500, like a NIC, and the fabric sets it."""
    sw = f"{prefix}-sw"
    if sw not in netns_list():
        sh("ip", "netns", "add", sw)
        sh("ip", "-n", sw, "link", "add", "sw0", "type", "bridge")
        sh("ip", "-n", sw, "link", "set", "sw0", "up")
    for index, host in enumerate(hosts):
        hv = Hypervisor(prefix, host)
        for number, link in enumerate((links or {}).get(host, [uplink])):
            peer = switch_port(index, host, number)
            sh("ip", "link", "add", link, "netns", hv.netns, "type", "veth", "peer", "name", peer, "netns", sw)
            sh("ip", "-n", sw, "link", "set", peer, *(["mtu", str(mtu)] if mtu else []), "master", "sw0", "up")
            sh("ip", "-n", hv.netns, "link", "set", link, "up")


def switch_port(index: int, host: str, number: int = 0) -> str:
    """The underlay switch's port for the `number`th NIC of the `index`th host given to wire()."""
    return (f"p{index}-{host}" if number == 0 else f"p{index}{number}-{host}")[:15]


def add_vm(prefix: str, host: str, vm: str, port: str, address: str | None, mac: str | None = None, mtu: int = 1400):
    """A VM is a namespace PREFIX-VM whose eth0 is a veth whose peer `port` sits in the hypervisor."""
    hv = Hypervisor(prefix, host)
    ns = f"{prefix}-{vm}"
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "eth0", "netns", ns, *(["address", mac] if mac else []), "mtu", mtu,
       "type", "veth", "peer", "name", port, "netns", hv.netns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    if address:
        sh("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
    sh("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off", check=False)
    sh("ip", "-n", hv.netns, "link", "set", port, "up")
    return ns


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "wire", "vm"])
    parser.add_argument("--prefix", default="nf")
    parser.add_argument("--mac")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_intermixed_args()
    if opts.action == "up":
        for name in opts.args:
            Hypervisor(opts.prefix, name).start()
    elif opts.action == "down":
        down(opts.prefix)
    elif opts.action == "wire":
        wire(opts.prefix, opts.args)
    elif opts.action == "vm":
        host, vm, port, address = (opts.args + [None])[:4]
        add_vm(opts.prefix, host, vm, port, address, opts.mac)


if __name__ == "__main__":
    main()


def descendants(root: int) -> list[int]:
    """Every process below root (by parent pid), however many sessions it went through."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found
