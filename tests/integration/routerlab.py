"""Plain network namespaces (no Open vSwitch) joined by veth pairs: hosts, routers and an outside
network for the routing and NAT modules. Named PREFIX-NAME like the rest of the lab, so conftest's
cleanup of the prefix removes whatever a killed run left."""

from __future__ import annotations

import json

from conftest import PREFIX
import netns


class Namespace:
    """A named namespace with lo up and a python wrapper, so Ansible modules run inside it."""

    def __init__(self, name: str):
        self.netns = f"{PREFIX}-{name}"
        self.dir = netns.lab_root(PREFIX) / name
        self.python = self.dir / "python"

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        netns.sh("ip", "netns", "add", self.netns)
        netns.sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        self.python.write_text(f"#!/bin/sh\nexec ip netns exec {self.netns} {netns.PYTHON} \"$@\"\n")
        self.python.chmod(0o755)
        return self

    def exec(self, *argv, check=True):
        return netns.sh("ip", "netns", "exec", self.netns, *argv, check=check, capture=check)

    def ok(self, *argv):
        """True when argv exits 0 inside the namespace."""
        return netns.sh("ip", "netns", "exec", self.netns, *argv, check=False).returncode == 0

    def ping(self, address, count=1, source=None):
        return self.ok("ping", "-c", str(count), "-W", "2", "-n", "-q", *(["-I", source] if source else []), address)

    def routes(self, table="main", family="-4"):
        return json.loads(self.exec("ip", "-j", "-d", family, "route", "show", "table", str(table)) or "[]")

    def stop(self):
        netns.kill(netns.sh("ip", "netns", "pids", self.netns, capture=True, check=False).split())
        netns.sh("ip", "netns", "del", self.netns, check=False)


def link(a: Namespace, a_dev: str, a_addr: str | None, b: Namespace, b_dev: str, b_addr: str | None):
    """A veth pair between two namespaces, both ends up, with the given addresses."""
    netns.sh("ip", "link", "add", a_dev, "netns", a.netns, "type", "veth", "peer", "name", b_dev, "netns", b.netns)
    for ns, dev, addr in ((a, a_dev, a_addr), (b, b_dev, b_addr)):
        if addr:
            netns.sh("ip", "-n", ns.netns, "address", "add", addr, "dev", dev)
        netns.sh("ip", "-n", ns.netns, "link", "set", dev, "up")
        netns.sh("ip", "netns", "exec", ns.netns, "ethtool", "-K", dev, "tx", "off", check=False)


def forward(router: Namespace):
    """IPv4 forwarding inside the router namespace only (each namespace has its own copy of the sysctl)."""
    router.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
