"""ansible-playbook as the kernel tests run it inside User-Mode Linux, and what their labs share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run_playbook(work: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ansible-playbook with its state under `work` and pipelining on: one python per task
    instead of several shell calls, since every fork is dear under UML."""
    env = dict(
        os.environ,
        ANSIBLE_HOME=str(work / "home"),
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
        ANSIBLE_REMOTE_TMP=str(work / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


def recap(output: str) -> dict[str, dict[str, int]]:
    """ansible-playbook's PLAY RECAP as {host: {ok, changed, unreachable, failed}}."""
    return {host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unr), "failed": int(failed)}
            for host, ok, changed, unr, failed in RECAP.findall(output)}


class KernelLab:
    """What the kernel tests of one inventory share: its VMs, real pings between them, and playbook
    runs on the lab built from it (lab/fabric.py, with the prefix the test file owns)."""

    def __init__(self, prefix: str, inventory: Path):
        self.prefix = prefix
        self.inventory = inventory

    def vm(self, port: str) -> dict:
        return next(machine for machine in fabric.vms(self.inventory) if machine["name"] == port)

    def reaches(self, source: str, target: str, tries: int = 1) -> bool:
        """The target VM itself answered (fabric.ping checks the ARP entry holds its MAC). More than
        one try is for the first pings: OVS 3.1 under UML drops upcalls in the first seconds after
        boot and recovers on its own."""
        for attempt in range(tries):
            if fabric.ping(self.prefix, self.vm(source), self.vm(target)):
                return True
            if attempt + 1 < tries:
                time.sleep(0.5)
        return False

    def playbook(self, work: Path, lab_inventory: Path, name: str = "site") -> tuple[int, str]:
        """playbooks/NAME.yml on the inventory and the lab's: (exit status, output)."""
        proc = run_playbook(work, "-i", str(self.inventory), "-i", str(lab_inventory), str(REPO / "playbooks" / f"{name}.yml"))
        return proc.returncode, proc.stdout + proc.stderr
