"""The lab cleans up after itself, also after a run that was killed.

A test session killed mid-way (a CI timeout, a ^C that never reached the fixtures) leaves
namespaces and detached ovsdb-server/ovs-vswitchd processes behind; the next session removes
them before it starts. `lab/netns.py down` (what `lab/run clean` runs) removes a whole lab:
hypervisors, their underlay switch, VMs and OVS processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO

import netns

HERE = Path(__file__).parent


def namespaces(prefix):
    return sorted(ns for ns in netns.netns_list() if ns.startswith(prefix))


def ovs_pids(prefix):
    """The pids the lab's pidfiles name (ovsdb-server and ovs-vswitchd of every hypervisor)."""
    pids = []
    for pidfile in netns.lab_root(prefix).glob("*/*.pid"):
        try:
            pids.append(int(pidfile.read_text().strip()))
        except (OSError, ValueError):
            pass
    return pids


def alive(pid):
    return netns.running(pid)


def test_a_killed_session_leaves_leftovers_that_the_next_session_removes():
    prefix = "nfkill"
    env = dict(os.environ, NETFABRIC_TEST_PREFIX=prefix)
    env.pop("PYTEST_XDIST_WORKER", None)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(HERE / "test_ovs_info.py")]
    session = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(ovs_pids(prefix)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(session.pid, signal.SIGKILL)  # no fixture teardown runs after this
    finally:
        session.wait(timeout=30)
    left_pids = ovs_pids(prefix)
    assert namespaces(prefix) and len(left_pids) >= 2 and all(alive(pid) for pid in left_pids), "the kill left nothing to clean"

    again = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout[-3000:]
    assert namespaces(prefix) == []
    assert not any(alive(pid) for pid in left_pids)
    assert not netns.lab_root(prefix).exists()


def test_down_removes_a_whole_lab():
    prefix = "nfdown"
    try:
        for name in ("hv1", "hv2"):
            netns.Hypervisor(prefix, name).start()
        netns.wire(prefix, ["hv1", "hv2"])
        netns.add_vm(prefix, "hv1", "vm1", "tap-vm1", "10.9.0.1/24")
        pids = ovs_pids(prefix)
        assert len(pids) == 4 and len(namespaces(prefix)) == 4  # hv1, hv2, the switch, vm1
    finally:
        subprocess.run([sys.executable, str(REPO / "lab" / "netns.py"), "down", "--prefix", prefix], check=True)
    assert namespaces(prefix) == []
    assert not any(alive(pid) for pid in pids)
    assert not netns.lab_root(prefix).exists()
