"""The kernel features the collection relies on, driven with raw commands.

If one of these fails, the module tests in this directory cannot tell the module's fault
from the lab's: this file checks the lab.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from netns import sh  # the shared lab, not an installed package


def run(*argv: str, check: bool = True) -> str:
    return sh(*argv, check=check, capture=True)


def link(name: str) -> dict:
    return json.loads(run("ip", "-j", "-d", "link", "show", "dev", name))[0]


@pytest.fixture
def cleanup():
    names: list[str] = []
    yield names
    for name in reversed(names):
        run("ip", "link", "del", name, check=False)


def test_vlan_on_dummy(cleanup):
    cleanup += ["rawd0"]
    run("ip", "link", "add", "rawd0", "type", "dummy")
    run("ip", "link", "add", "link", "rawd0", "name", "rawd0.42", "type", "vlan", "id", "42")
    info = link("rawd0.42")["linkinfo"]
    assert info["info_kind"] == "vlan"
    assert info["info_data"]["id"] == 42
    assert link("rawd0")["linkinfo"]["info_kind"] == "dummy"


@pytest.mark.parametrize("kind", ["gre", "gretap"])
def test_gre_devices(cleanup, kind):
    name = f"raw{kind}"
    cleanup += [name]
    run("ip", "link", "add", name, "type", kind, "local", "192.0.2.1", "remote", "192.0.2.2", "key", "77")
    data = link(name)["linkinfo"]
    assert data["info_kind"] == kind
    assert data["info_data"]["local"] == "192.0.2.1"
    assert data["info_data"]["remote"] == "192.0.2.2"


def test_ovs_kernel_datapath():
    run("ovs-vsctl", "add-br", "rawbr", "--", "set", "bridge", "rawbr", "datapath_type=system",
        "--", "add-port", "rawbr", "rawvx", "--", "set", "interface", "rawvx", "type=vxlan",
        "options:remote_ip=192.0.2.2", "options:key=flow")
    try:
        dp = run("ovs-dpctl", "show")
        assert "system@ovs-system" in dp
        assert "vxlan_sys_4789" in dp
        assert "rawbr" in dp
    finally:
        run("ovs-vsctl", "--if-exists", "del-br", "rawbr")
