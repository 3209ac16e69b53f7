"""Never a hang, the truth: each OVS module against a dead or hung ovsdb-server / ovs-vswitchd.

Each fault is made for real on a lab hypervisor (SIGKILL, SIGSTOP). The module must fail within its
`timeout` (bounded generously here: 3x, plus twice Ansible's own cost measured on a healthy run),
name the daemon, and say what was written; once the daemon is back, a rerun converges and the
next one reports changed=false. Durations are printed, not asserted tightly.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import run_module

TIMEOUT = 3
FAULTS = ("ovsdb-server dead", "ovs-vswitchd dead", "ovs-vswitchd hung")
COOKIE = 0x4E
FLOWS = ["table=0,priority=5,in_port=LOCAL,actions=drop", "table=0,priority=1,actions=NORMAL"]
# the first run after ovsdb-server is back: ovs-vswitchd reconnects with a back-off of a few seconds
RECOVERY_TIMEOUT = 20


def pid(hv, daemon):
    return int((hv.dir / f"{daemon}.pid").read_text())


def start(hv, daemon):
    d = hv.dir
    if daemon == "ovsdb-server":
        hv.exec("ovsdb-server", d / "conf.db", f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
                "--detach", "-vconsole:off", f"--log-file={d}/ovsdb-server.log", f"--unixctl={d}/ovsdb-server.ctl")
    else:
        hv.exec("ovs-vswitchd", hv.db, f"--pidfile={d}/ovs-vswitchd.pid", "--detach", "-vconsole:off",
                f"--log-file={d}/ovs-vswitchd.log", f"--unixctl={d}/ovs-vswitchd.ctl")


class Fault:
    """Make one fault, and undo it."""

    def __init__(self, hv, fault):
        self.hv = hv
        self.daemon, _sep, self.how = fault.partition(" ")

    def __enter__(self):
        self.pid = pid(self.hv, self.daemon)
        os.kill(self.pid, signal.SIGSTOP if self.how == "hung" else signal.SIGKILL)
        time.sleep(0.2)
        return self

    def undo(self):
        if self.how == "hung":
            os.kill(self.pid, signal.SIGCONT)
        else:
            start(self.hv, self.daemon)

    def __exit__(self, *exc):
        if self.how == "hung":  # never leave a stopped process behind a failed assertion
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def timed(hv, module, args, **kw):
    began = time.monotonic()
    result = run_module(hv, module, args, **kw)
    return result, time.monotonic() - began


@pytest.fixture
def lab(hv):
    hv.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=netdev")
    _result, healthy = timed(hv, "ovs_info", {"bridges": ["br0"], "timeout": TIMEOUT})
    hv.healthy = healthy  # Ansible's own cost of one task here, to bound the faulted runs by
    return hv


def bounded(hv, seconds, what):
    print(f"\n{what}: {seconds:.1f} s (healthy run {hv.healthy:.1f} s, timeout {TIMEOUT} s)")
    # generous: Ansible's own start-up varies with the machine's load as much as the timeout itself
    assert seconds < 2 * hv.healthy + 3 * TIMEOUT + 5, f"{what} took {seconds:.1f} s"


def ports_of(hv):
    return hv.vsctl("list-ports", "br0").split()


@pytest.mark.parametrize("module", ["ovs_ports", "ovs_bridge"])
@pytest.mark.parametrize("fault", FAULTS)
def test_ovsdb_modules(lab, fault, module):
    hv = lab
    if module == "ovs_ports":
        args = {"bridge": "br0", "ports": [{"name": "p1", "type": "internal"}], "timeout": TIMEOUT}

        def written():
            return "p1" in ports_of(hv)
    else:
        args = {"name": "br1", "datapath_type": "netdev", "timeout": TIMEOUT}

        def written():
            return "br1" in hv.vsctl("list-br").split()

    with Fault(hv, fault) as made:
        result, seconds = timed(hv, module, args)
        bounded(hv, seconds, f"{module}, {fault}")
        assert result.get("failed"), result
        assert made.daemon in result["msg"], result["msg"]
        if made.daemon == "ovsdb-server":
            assert result["changed"] is False and "nothing was read or written" in result["msg"], result
            made.undo()
            assert not written()
        else:
            # OVSDB took the change, the switch did not: failed, changed, and `after` is what OVSDB holds
            assert result["changed"] is True and "OVSDB holds it" in result["msg"], result
            assert result["after"], result
            assert written(), "the module said OVSDB holds the change"
            again, seconds = timed(hv, module, args)  # still down: the rerun must not say ok
            bounded(hv, seconds, f"{module} rerun, {fault}")
            assert again.get("failed") and "ovs-vswitchd" in again["msg"] and again["changed"] is False, again
            made.undo()

    first = run_module(hv, module, dict(args, timeout=RECOVERY_TIMEOUT))
    assert not first.get("failed"), first
    assert first["changed"] is (made.daemon == "ovsdb-server"), first
    assert written()
    second = run_module(hv, module, args)
    assert not second.get("failed") and second["changed"] is False, second
    if module == "ovs_ports":
        ofport = int(hv.vsctl("get", "Interface", "p1", "ofport"))
        assert ofport > 0, "ovs-vswitchd applied the port once it was back"


@pytest.mark.parametrize("fault", FAULTS)
def test_ovs_flows(lab, fault):
    hv = lab
    args = {"bridge": "br0", "cookie": COOKIE, "flows": FLOWS, "timeout": TIMEOUT}
    with Fault(hv, fault) as made:
        result, seconds = timed(hv, "ovs_flows", args)
        bounded(hv, seconds, f"ovs_flows, {fault}")
        assert result.get("failed") and result["changed"] is False, result
        # ovs-vswitchd serves no OpenFlow while its ovsdb-server is down: the message names the one that is
        assert made.daemon in result["msg"] and "no flow was read or written" in result["msg"], result["msg"]
        made.undo()
    if made.how == "hung" or made.daemon == "ovsdb-server":  # the same ovs-vswitchd, still running
        assert owned(hv) == [], "nothing was written"
    first = run_module(hv, "ovs_flows", dict(args, timeout=RECOVERY_TIMEOUT))
    assert not first.get("failed"), first
    assert len(owned(hv)) == 2
    second = run_module(hv, "ovs_flows", args)
    assert not second.get("failed") and second["changed"] is False, second


def owned(hv):
    out = hv.ofctl("-O", "OpenFlow14", "dump-flows", "br0", f"cookie={COOKIE:#x}/-1")
    return [line for line in out.splitlines() if "actions=" in line]


@pytest.mark.parametrize("fault", FAULTS)
def test_ovs_info(lab, fault):
    hv = lab
    args = {"flows_cookie": COOKIE, "require_ports": ["br0"], "fail_on_problems": True, "timeout": TIMEOUT}
    with Fault(hv, fault) as made:
        result, seconds = timed(hv, "ovs_info", args)
        bounded(hv, seconds, f"ovs_info, {fault}")
        assert result.get("failed") and result["changed"] is False, result
        assert made.daemon in result["msg"], result["msg"]
        made.undo()
    first = run_module(hv, "ovs_info", dict(args, timeout=RECOVERY_TIMEOUT))
    assert not first.get("failed") and first["problems"] == [] and first["flows"] == {"br0": []}, first
