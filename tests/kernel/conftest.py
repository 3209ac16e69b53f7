"""Tests that run inside the kernel lab's guest (lab/kernel/run-tests boots User-Mode Linux or
QEMU and runs this directory there).

They need kernel features this machine's kernel lacks, so outside a guest they are skipped with
that reason rather than failing for the wrong one. guest.sh names the guest in NETFABRIC_KERNEL_VM;
the guest's kernel is never the host's, which the check also asks, so a stray variable on the host
cannot make them run here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def in_guest() -> bool:
    vm = os.environ.get("NETFABRIC_KERNEL_VM")
    if vm == "uml":
        return "User Mode Linux" in Path("/proc/cpuinfo").read_text()
    if vm == "qemu":
        return "hypervisor" in Path("/proc/cpuinfo").read_text() and Path("/sys/module/openvswitch").exists()
    return False


def pytest_collection_modifyitems(config, items):
    if in_guest():
        return
    skip = pytest.mark.skip(reason="kernel tests run inside the kernel lab's guest: lab/kernel/run-tests")
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)
