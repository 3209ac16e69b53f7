"""Tests that run inside User-Mode Linux (lab/uml/run-tests boots it and runs this directory).

They need kernel features this machine's kernel lacks, so outside UML they are skipped with
that reason rather than failing for the wrong one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


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
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)
