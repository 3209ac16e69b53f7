"""Playbook runs that are watched, killed or raced, and what a converged host must look like after.

Shared by test_interrupt and test_concurrency. Nothing here knows the roles' internals: a run is
`ansible-playbook` on the playbooks' entry points, a host is read from outside (ovs-vsctl,
ovs-ofctl, the restore files the inventory's `netfabric_state_dir` holds).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, ansible_env

sys.path.insert(0, str(REPO / "lab"))
import netns  # noqa: E402

COOKIE = "0x4e46"  # FLOW_COOKIE in plugins/module_utils/_constants.py, the default netfabric_flow_cookie
BANNER = re.compile(r"^TASK \[(?:(?P<role>[\w.]+) : )?(?P<task>.*)\] \**$")
RESULT = re.compile(r"^(?P<status>ok|changed|skipping|fatal|failed): \[(?P<host>[^\]]+)\]")


class Run:
    """One ansible-playbook process whose output is read line by line as it streams."""

    def __init__(self, argv):
        env = dict(ansible_env(), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     start_new_session=True)
        self.lines: list[str] = []

    def until(self, seen, timeout=600):
        """Read lines until seen(line) is true; return that line (None if the run ended first)."""
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if seen(self.lines[-1]):
                return self.lines[-1]
            if time.monotonic() > deadline:
                break
        return None

    def kill(self):
        """SIGKILL the run and everything it started, as a lost controller or an OOM kill would.

        The process group alone is not the whole run: each Ansible worker calls setsid(), so the
        workers and the modules they run on the hosts are in sessions of their own. Everything is
        stopped first (so nothing forks while we look), then the tree is read from /proc and killed.
        """
        os.killpg(self.proc.pid, signal.SIGSTOP)
        seen: set[int] = set()
        while True:
            pids = set(netns.descendants(self.proc.pid)) - seen
            if not pids:
                break
            for pid in pids:
                with _gone_ok():
                    os.kill(pid, signal.SIGSTOP)
            seen |= pids
        with _gone_ok():
            os.killpg(self.proc.pid, signal.SIGKILL)
        netns.kill(sorted(seen))
        self.proc.wait(timeout=30)
        self.lines.extend(line.rstrip("\n") for line in self.proc.stdout)

    def wait(self, timeout=900):
        out = self.proc.communicate(timeout=timeout)[0]
        self.lines.extend(out.splitlines())
        return self.proc.returncode

    @property
    def output(self):
        return "\n".join(self.lines) + "\n"

    def failures(self) -> str:
        """The lines saying what failed (under their task's banner), and the recap."""
        said, banner = [], None
        for line in self.lines:
            if BANNER.match(line):
                banner = line
            elif line.startswith(("fatal:", "failed:", "[ERROR]")):
                if banner:
                    said.append(banner)
                    banner = None
                said.append(line[:1500])
        return "\n".join(said) + "\n" + self.output.rsplit("PLAY RECAP", maxsplit=1)[-1]


class _gone_ok:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is ProcessLookupError


def changed_tasks(output: str) -> list[tuple[str, str]]:
    """(role : task, host) for every result reported `changed` in a playbook's output."""
    found, current = [], None
    for line in output.splitlines():
        banner = BANNER.match(line)
        if banner:
            current = f"{banner['role'] or ''} : {banner['task']}"
            continue
        result = RESULT.match(line)
        if result and result["status"] == "changed":
            found.append((current, result["host"]))
    return found


def owned_flow_files(lab, host) -> dict[str, Path]:
    """{bridge: restore file} in the host's state directory (the lab sets netfabric_state_dir)."""
    return {path.stem: path for path in sorted((lab.hv(host).dir / "state" / "flows").glob("*.flows"))}


def owned_flows(hv, bridge) -> list[str]:
    """The bridge's flows with the fabric's cookie, as OVS prints them (no counters), sorted."""
    dump = hv.ofctl("-O", "OpenFlow14", "--no-stats", "dump-flows", bridge, f"cookie={COOKIE}/-1")
    return sorted(line.strip() for line in dump.splitlines() if "cookie=" in line)


def flows_differ(lab, host, bridge, restore: Path | None) -> list[str]:
    """What the bridge's owned flows lose (-) or gain (+) when the restore file is replayed, as the
    restore hook does after ovs-vswitchd restarts (no file: a restart leaves none of them).

    Replaying is the comparison OVS itself makes: the file names ports (only the live bridge can
    resolve them) and OVS prints flows in its own canonical form. On a consistent host the replay
    is a no-op; a file the switch refuses fails here.
    """
    hv = lab.hv(host)
    before = owned_flows(hv, bridge)
    after = []
    if restore is not None:
        hv.ofctl("-O", "OpenFlow14", "bundle", bridge, str(restore))
        after = owned_flows(hv, bridge)
    return [f"- {line}" for line in before if line not in after] + [f"+ {line}" for line in after if line not in before]


def assert_consistent(lab):
    """Every host: its owned flows are exactly its restore files' (what a restart brings back), and
    every VM port the inventory declares is on br-int."""
    problems = []
    for host, hostvars in lab.hosts().items():
        hv = lab.hv(host)
        files = owned_flow_files(lab, host)
        bridges = set(hv.vsctl("list-br").split())
        for bridge in sorted(bridges | set(files)):
            if bridge not in bridges:
                problems.append(f"{host}: a restore file for {bridge}, which does not exist")
                continue
            diff = flows_differ(lab, host, bridge, files.get(bridge))
            if diff:
                problems.append(f"{host} {bridge}: the switch (-) vs its restore file (+):\n  " + "\n  ".join(diff[:20]))
        ports = set(hv.vsctl("list-ports", "br-int").split())
        missing = [p["name"] for p in hostvars.get("netfabric_ports", []) if p["name"] not in ports]
        if missing:
            problems.append(f"{host}: declared ports missing from br-int: {missing}")
    assert not problems, "\n".join(problems)
