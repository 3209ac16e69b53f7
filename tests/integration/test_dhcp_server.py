"""netfabric.ovs.dhcp_server with a real dnsmasq in a namespace and a real DHCP client (busybox udhcpc) in
another: static leases with their options, unknown clients, SIGHUP on a host change, a restart on a
config change, dnsmasq killed and brought back by its supervisor, and absent leaving nothing behind.

The module runs in the root namespace (as on a network node) and reaches the server's namespace by `netns`."""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from types import SimpleNamespace

import pytest
from conftest import PREFIX, run_module
from routerlab import Namespace, link
import netns

ROOT = SimpleNamespace(python=netns.PYTHON)  # run_module's host: the root namespace
SUBNET = "10.77.0.0/24"
SERVER = "10.77.0.2"
ROUTER = "10.77.0.1"
VM_MAC, VM_IP, VM_NEW_IP = "52:54:00:77:00:11", "10.77.0.11", "10.77.0.12"
STRANGER_MAC = "52:54:00:77:00:99"  # in no inventory
BACK_DEADLINE = 20  # seconds: generous; the supervisor waits 1 s before it starts dnsmasq again

# The udhcpc script: on a lease, dump what the server offered (udhcpc passes it as environment variables).
DUMP = """#!/bin/sh
[ "$1" = bound ] || exit 0
env > "{out}.tmp" && mv "{out}.tmp" "{out}"
"""


@pytest.fixture
def dhcplab():
    """server (srv 10.77.0.2/24) -- veth -- client (eth0, no address); the instance's dir in the lab root,
    so conftest's cleanup kills what its pid files name if a run is killed."""
    server, client = Namespace("dhs").start(), Namespace("dhc").start()
    link(server, "srv", f"{SERVER}/24", client, "eth0", None)
    directory = netns.lab_root(PREFIX) / "dhcp-red"
    shutil.rmtree(directory, ignore_errors=True)
    script = client.dir / "dump"
    script.write_text(DUMP.format(out=client.dir / "lease.env"))
    script.chmod(0o755)
    yield server, client, directory
    run_module(ROOT, "dhcp_server", {"name": "red", "dir": str(directory), "state": "absent"})
    for ns in (server, client):
        ns.stop()


def args(server, directory, **over):
    base = {
        "name": "red", "netns": server.netns, "interface": "srv", "dir": str(directory), "subnet": SUBNET,
        "hosts": [{"mac": VM_MAC, "ip": VM_IP, "hostname": "vm1"}],
        "router": ROUTER, "dns": ["192.0.2.53", "192.0.2.54"], "mtu": 1400,
        "routes": [{"dst": "10.8.0.0/16", "via": "10.77.0.254"}],
        "supervisor": "process",
    }
    base.update(over)
    return base


def lease(client, mac):
    """What udhcpc got on the client's eth0 with this MAC (env vars of the bound event), or None."""
    client.exec("ip", "link", "set", "eth0", "address", mac)
    out = client.dir / "lease.env"
    out.unlink(missing_ok=True)
    client.exec("busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "1", "-A", "1",
                "-O", "mtu", "-O", "staticroutes", "-s", str(client.dir / "dump"), check=False)
    if not out.exists():
        return None
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def pid_of(directory, name):
    text = (directory / name).read_text().strip()
    return int(text)


def alive(pid):
    """Running (a zombie, dead but not reaped, has an empty cmdline)."""
    try:
        return bool(open(f"/proc/{pid}/cmdline", "rb").read())
    except OSError:
        return False


def test_static_lease_options_hup_supervision_and_absent(dhcplab):
    server, client, directory = dhcplab
    task = args(server, directory)

    r = run_module(ROOT, "dhcp_server", task, check=True, diff=True)
    assert r["changed"] is True and not r.get("failed"), r
    assert not directory.exists(), "check mode wrote files"
    assert any("dhcp-hostsfile=" in d["after"] for d in r["diff"]), r["diff"]

    r = run_module(ROOT, "dhcp_server", task)
    assert r["changed"] is True and not r.get("failed"), r
    assert r["supervisor"] == "process"
    first = r["dnsmasq_pid"]
    assert alive(first) and pid_of(directory, "dnsmasq.pid") == first
    assert alive(pid_of(directory, "supervise.pid"))
    assert sorted(os.listdir(directory)) == sorted(
        ["dnsmasq.conf", "hosts", "opts", "leases", "dnsmasq.pid", "supervise", "supervise.pid", "supervise.log"])

    got = lease(client, VM_MAC)
    assert got is not None, (directory / "supervise.log").read_text()
    assert got["ip"] == VM_IP and got["subnet"] == "255.255.255.0"
    assert got["router"].split() == [ROUTER]
    assert got["dns"].split() == ["192.0.2.53", "192.0.2.54"]
    assert got["mtu"] == "1400"
    assert got["staticroutes"].split() == ["10.8.0.0/16", "10.77.0.254", "0.0.0.0/0", ROUTER]

    assert lease(client, STRANGER_MAC) is None, "static only, yet a client in no inventory got an address"

    for check in (True, False):
        again = run_module(ROOT, "dhcp_server", task, check=check)
        assert again["changed"] is False and again["commands"] == [], again
    assert pid_of(directory, "dnsmasq.pid") == first

    # a host's address changes: SIGHUP, same dnsmasq, the client gets the new address
    moved = args(server, directory, hosts=[{"mac": VM_MAC, "ip": VM_NEW_IP, "hostname": "vm1"}])
    r = run_module(ROOT, "dhcp_server", moved, diff=True)
    assert r["changed"] is True and r["commands"] == [["kill", "-HUP", str(first)]], r
    assert r["files_changed"] == ["hosts"]
    assert pid_of(directory, "dnsmasq.pid") == first and alive(first)
    got = lease(client, VM_MAC)
    assert got is not None and got["ip"] == VM_NEW_IP, got

    # dnsmasq killed: its supervisor starts another
    os.kill(first, 9)
    deadline = time.monotonic() + BACK_DEADLINE
    back = None
    while time.monotonic() < deadline:
        try:
            pid = pid_of(directory, "dnsmasq.pid")
        except (OSError, ValueError):
            pid = None
        if pid and pid != first and alive(pid):
            back = pid
            break
        time.sleep(0.2)
    assert back is not None, f"no new dnsmasq within {BACK_DEADLINE} s: {(directory / 'supervise.log').read_text()}"
    got = lease(client, VM_MAC)
    assert got is not None and got["ip"] == VM_NEW_IP, got
    again = run_module(ROOT, "dhcp_server", moved)
    assert again["changed"] is False and again["dnsmasq_pid"] == back, again

    supervisor = pid_of(directory, "supervise.pid")
    r = run_module(ROOT, "dhcp_server", {"name": "red", "dir": str(directory), "state": "absent"})
    assert r["changed"] is True and not r.get("failed"), r
    assert not directory.exists(), list(directory.iterdir())
    assert not alive(back) and not alive(supervisor)
    assert netns.sh("ip", "netns", "pids", server.netns, capture=True).split() == [], "a process is left in the namespace"
    again = run_module(ROOT, "dhcp_server", {"name": "red", "dir": str(directory), "state": "absent"})
    assert again["changed"] is False and again["commands"] == [], again


def test_range_serves_unknown_clients_after_a_restart(dhcplab):
    server, client, directory = dhcplab
    r = run_module(ROOT, "dhcp_server", args(server, directory))
    assert r["changed"] is True and not r.get("failed"), r
    first = r["dnsmasq_pid"]

    pool = args(server, directory, range={"start": "10.77.0.100", "end": "10.77.0.110"})
    r = run_module(ROOT, "dhcp_server", pool)
    assert r["changed"] is True and r["commands"] == [["kill", "-TERM", str(first)]], r
    assert r["files_changed"] == ["dnsmasq.conf"]
    assert r["dnsmasq_pid"] != first and alive(r["dnsmasq_pid"]) and not alive(first)

    got = lease(client, STRANGER_MAC)
    assert got is not None, (directory / "supervise.log").read_text()
    assert ipaddress.ip_address("10.77.0.100") <= ipaddress.ip_address(got["ip"]) <= ipaddress.ip_address("10.77.0.110")
    got = lease(client, VM_MAC)
    assert got is not None and got["ip"] == VM_IP, got
    assert run_module(ROOT, "dhcp_server", pool)["changed"] is False


def test_range_over_the_servers_own_address_is_refused_before_anything_is_written(dhcplab):
    server, _client, directory = dhcplab
    r = run_module(ROOT, "dhcp_server", args(server, directory, range={"start": "10.77.0.2", "end": "10.77.0.10"}))
    assert r.get("failed") and r["changed"] is False, r
    assert "the server's own address 10.77.0.2" in r["msg"], r["msg"]
    assert not directory.exists()

    r = run_module(ROOT, "dhcp_server", args(server, directory, interface="nosuch"))
    assert r.get("failed") and "'nosuch'" in r["msg"] and not directory.exists(), r


def test_supervisor_ends_when_its_directory_is_removed(dhcplab):
    """A lab removed without state=absent (namespace processes killed, state deleted) leaves no supervisor
    restarting dnsmasq forever."""
    server, _client, directory = dhcplab
    r = run_module(ROOT, "dhcp_server", args(server, directory))
    assert r["changed"] is True and not r.get("failed"), r
    supervisor = pid_of(directory, "supervise.pid")
    shutil.rmtree(directory)
    netns.kill([r["dnsmasq_pid"]])
    deadline = time.monotonic() + BACK_DEADLINE
    while alive(supervisor) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(supervisor), "the supervisor outlived its directory"
