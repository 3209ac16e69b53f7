"""netfabric.ovs.ip_netns against the real kernel.

The module runs in the machine's own namespaces (a namespace made under `ip netns exec OTHER` lives
in that command's private mount namespace and is invisible outside), so every namespace is named
PREFIX-... and conftest's cleanup of the prefix removes what a killed run left.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from types import SimpleNamespace

import pytest
from conftest import PREFIX, run_module

import netns

ROOT = SimpleNamespace(python=netns.PYTHON)  # run_module's host: the machine itself
ROUTER = {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 1, "net.ipv4.conf.default.rp_filter": 1}
_names = itertools.count(1)


@pytest.fixture
def name():
    """A namespace name no other test (or parallel run) uses; removed afterwards with its processes."""
    made = f"{PREFIX}-ns{next(_names)}"
    yield made
    netns.kill(netns.sh("ip", "netns", "pids", made, capture=True, check=False).split())
    netns.sh("ip", "netns", "del", made, check=False)


def exists(ns):
    return ns in netns.netns_list()


def inside(ns, *keys):
    """The sysctls as the namespace itself reads them."""
    return netns.sh("ip", "netns", "exec", ns, "sysctl", "-n", *keys, capture=True).split()


def test_create_with_sysctls_check_diff_idempotent(name):
    args = {"name": name, "sysctls": ROUTER}
    on_host = netns.sh("sysctl", "-n", *ROUTER, capture=True)

    r = run_module(ROOT, "ip_netns", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["diff"] == {"before": {"exists": False, "sysctls": {}},
                         "after": {"exists": True, "sysctls": dict.fromkeys(ROUTER, "1")}}
    assert not exists(name), "check mode created the namespace"

    r = run_module(ROOT, "ip_netns", args, diff=True)
    assert r["changed"] is True, r
    assert [c[:4] for c in r["commands"]] == [["ip", "netns", "add", name], ["ip", "netns", "exec", name]]
    assert sorted(r["commands"][1][-3:]) == sorted(f"{k}=1" for k in ROUTER)
    assert r["after"] == {"exists": True, "sysctls": dict.fromkeys(ROUTER, "1")}
    assert exists(name)
    assert inside(name, *ROUTER) == ["1", "1", "1"]
    assert netns.sh("sysctl", "-n", *ROUTER, capture=True) == on_host, "the host's own sysctls changed"

    for check in (True, False):
        again = run_module(ROOT, "ip_netns", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again


def test_a_changed_sysctl_is_repaired(name):
    args = {"name": name, "sysctls": ROUTER}
    assert run_module(ROOT, "ip_netns", args)["changed"] is True
    netns.sh("ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")

    r = run_module(ROOT, "ip_netns", args, diff=True)
    assert r["changed"] is True, r
    assert r["commands"] == [["ip", "netns", "exec", name, r["commands"][0][4], "-q", "-w", "net.ipv4.ip_forward=1"]]
    assert r["diff"]["before"]["sysctls"]["net.ipv4.ip_forward"] == "0"
    assert inside(name, "net.ipv4.ip_forward") == ["1"]
    assert run_module(ROOT, "ip_netns", args)["changed"] is False


def test_unknown_sysctl_fails_by_name_and_leaves_nothing(name):
    args = {"name": name, "sysctls": {"net.ipv4.ip_forward": 1, "net.ipv4.no_such_knob": 1}}
    for check in (True, False):
        r = run_module(ROOT, "ip_netns", args, check=check)
        assert r.get("failed") and "net.ipv4.no_such_knob" in r["msg"], r
        assert not exists(name), f"a failed create left the namespace behind (check={check})"
    assert r["rolled_back"] == [["ip", "netns", "del", name]], r

    # an existing namespace: refused before anything is written
    assert run_module(ROOT, "ip_netns", {"name": name})["changed"] is True
    netns.sh("ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
    r = run_module(ROOT, "ip_netns", args)
    assert r.get("failed") and "net.ipv4.no_such_knob" in r["msg"] and r["commands"] == [], r
    assert inside(name, "net.ipv4.ip_forward") == ["0"], "a refused task wrote a sysctl"


def test_absent_refuses_while_a_process_runs_then_removes(name):
    assert run_module(ROOT, "ip_netns", {"name": name})["changed"] is True
    sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while str(sleeper.pid) not in netns.sh("ip", "netns", "pids", name, capture=True).split():
            assert time.monotonic() < deadline, "the test's process never entered the namespace"
            time.sleep(0.05)
        for check in (True, False):
            r = run_module(ROOT, "ip_netns", {"name": name, "state": "absent"}, check=check)
            assert r.get("failed") and f"{sleeper.pid} (sleep)" in r["msg"], r
            assert exists(name), "a namespace with a process in it was deleted"
    finally:
        sleeper.kill()
        sleeper.wait()

    r = run_module(ROOT, "ip_netns", {"name": name, "state": "absent"}, check=True, diff=True)
    assert r["changed"] is True and r["diff"]["after"] == {"exists": False, "sysctls": {}}, r
    assert exists(name), "check mode deleted the namespace"
    r = run_module(ROOT, "ip_netns", {"name": name, "state": "absent"})
    assert r["changed"] is True and r["commands"] == [["ip", "netns", "del", name]], r
    assert not exists(name)
    again = run_module(ROOT, "ip_netns", {"name": name, "state": "absent"})
    assert again["changed"] is False and again["commands"] == [], again


def test_bad_input_touches_nothing(name):
    r = run_module(ROOT, "ip_netns", {"name": f"{name}/x"})
    assert r.get("failed") and r["msg"].startswith("name:"), r
    r = run_module(ROOT, "ip_netns", {"name": name, "sysctls": {"kernel.pid_max": 1}})
    assert r.get("failed") and r["msg"].startswith("sysctls:"), r
    assert not exists(name)
