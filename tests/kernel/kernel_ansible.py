"""ansible-playbook as the kernel tests run it inside User-Mode Linux."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
