"""Shared helpers for the tests that run inside User-Mode Linux (lab/uml/run-tests).

They need kernel features this machine's kernel lacks, so outside UML they are skipped
with that reason rather than failing for the wrong one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def in_uml() -> bool:
    try:
        return "User Mode Linux" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def pytest_collection_modifyitems(config, items):
    if in_uml():
        return
    skip = pytest.mark.skip(reason="kernel tests run inside User-Mode Linux: lab/uml/run-tests")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


def run(*argv: str, check: bool = True) -> str:
    """Run argv (no shell); fail with its stderr."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: rc={proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def link(name: str, netns: str | None = None) -> dict:
    """One link as `ip -j -d` reports it."""
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return json.loads(run(*prefix, "-j", "-d", "link", "show", "dev", name))[0]
