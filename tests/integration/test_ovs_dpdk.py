"""ovs_dpdk and DPDK ports against a real ovsdb-server and ovs-vswitchd.

With the ordinary ovs-vswitchd (built without DPDK): OVSDB takes the one transaction, other keys of
other_config stay, and the module says that this switch cannot run DPDK. With Debian's
ovs-vswitchd-dpdk (unpacked by lab/setup, lab/dpdk.py; no hugepages, no PCI): DPDK initializes from
the module's transaction, idempotence, check mode, a restart-only change reported, and DPDK and
vhost-user ports that the switch runs without an error. PMD threads spin: each test stops its switch.
"""

from __future__ import annotations

import json

import pytest
from conftest import PREFIX, run_module

import dpdk
import netns

SETTINGS = {"lcore_mask": "0x1", "pmd_cpu_mask": "0x1"}


def switch_row(hv):
    table = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=other_config,dpdk_initialized", "list", "Open_vSwitch"))
    row = dict(zip(table["headings"], table["data"][0]))
    return dict(row["other_config"][1]), row["dpdk_initialized"]


@pytest.fixture
def dpdk_hv():
    """A namespace host whose ovs-vswitchd is the DPDK build, DPDK not initialized yet."""
    host = netns.Hypervisor(PREFIX, "dpdk1").start()
    try:
        dpdk.start(host)
        yield host
    finally:
        dpdk.stop(host)


def test_without_dpdk_the_transaction_is_taken_and_the_switch_named(hv):
    hv.vsctl("set", "Open_vSwitch", ".", "other_config:vlan-limit=2")
    args = dict(SETTINGS, socket_mem=[1024, 0], extra="--no-pci")
    checked = run_module(hv, "ovs_dpdk", args, check=True, diff=True)
    assert checked["changed"] and checked["diff"]["before"] == {}, checked
    assert switch_row(hv)[0] == {"vlan-limit": "2"}, "check mode wrote nothing"

    applied = run_module(hv, "ovs_dpdk", args)
    assert applied["failed"] and applied["changed"], applied
    assert "built without DPDK" in applied["msg"], applied["msg"]
    assert len(applied["commands"]) == 1, "one transaction"
    assert switch_row(hv) == ({"vlan-limit": "2", "dpdk-init": "true", "dpdk-socket-mem": "1024,0", "dpdk-lcore-mask": "0x1",
                               "pmd-cpu-mask": "0x1", "dpdk-extra": "--no-pci"}, False)

    # dpdk-init false: the same settings, kept for a later switch, and nothing to complain about
    off = run_module(hv, "ovs_dpdk", dict(args, init=False))
    assert off["changed"] and not off.get("failed"), off
    assert run_module(hv, "ovs_dpdk", dict(args, init=False))["changed"] is False
    removed = run_module(hv, "ovs_dpdk", {"state": "absent"}, diff=True)
    assert removed["changed"] and removed["diff"]["after"] == {}
    assert switch_row(hv)[0] == {"vlan-limit": "2"}, "only the five DPDK keys are the module's"


def test_refused_before_anything_is_written(hv):
    for args, words in (({"pmd_cpu_mask": "0xz"}, "pmd_cpu_mask: '0xz' is not a non-zero hexadecimal CPU mask"),
                        ({"socket_mem": [1024, -1]}, "socket_mem[1]: -1 is out of range (allowed 0-1048576)"),
                        ({"lcore_mask": 1, "extra": "-l 0-1"}, "extra: -l clashes with lcore_mask")):
        result = run_module(hv, "ovs_dpdk", args)
        assert result["failed"] and words in result["msg"], result
        assert switch_row(hv)[0] == {}


def test_dpdk_initializes_from_one_transaction_and_runs_dpdk_and_vhost_user_ports(dpdk_hv):
    hv = dpdk_hv
    args = dict(SETTINGS, extra=dpdk.eal_extra(hv))
    checked = run_module(hv, "ovs_dpdk", args, check=True)
    assert checked["changed"] and switch_row(hv) == ({}, False)

    applied = run_module(hv, "ovs_dpdk", args, diff=True)
    assert applied["changed"] and not applied.get("failed"), applied
    assert len(applied["commands"]) == 1 and applied["dpdk_initialized"] is True and applied["dpdk_version"].startswith("DPDK")
    assert applied["diff"]["after"]["dpdk-init"] == "true"
    assert switch_row(hv)[1] is True
    again = run_module(hv, "ovs_dpdk", args)
    assert again["changed"] is False and again["commands"] == [] and again["restart_needed"] == []

    later = run_module(hv, "ovs_dpdk", dict(args, lcore_mask="0x2"))
    assert later["changed"] and later["restart_needed"] == ["dpdk-lcore-mask"], later
    assert any("take effect when ovs-vswitchd restarts" in w for w in later.get("warnings", [])), later

    netns.sh("ip", "link", "add", "nic0", "netns", hv.netns, "type", "veth", "peer", "name", "nic0p", "netns", hv.netns)
    hv.exec("ip", "link", "set", "nic0", "up")
    hv.exec("ip", "link", "set", "nic0p", "up")
    run_module(hv, "ovs_bridge", {"name": "br-phy", "datapath_type": "netdev"})
    ports = {"bridge": "br-phy", "owner": "netfabric", "verify": True, "ports": [
        {"name": "nic0", "type": "dpdk", "options": {"dpdk-devargs": dpdk.devargs(0, "nic0"), "n_rxq": "1"}, "mtu_request": 1500},
        {"name": "vhu-vm1", "type": "dpdkvhostuserclient", "options": {"vhost-server-path": str(hv.dir / "vhu-vm1.sock")}},
    ]}
    made = run_module(hv, "ovs_ports", ports)
    assert made["changed"] and not made.get("failed"), made
    assert hv.vsctl("get", "Interface", "nic0", "type", "error", "status:driver_name").split() == ["dpdk", "[]", "net_af_packet"]
    assert hv.vsctl("get", "Interface", "vhu-vm1", "error", "status:mode").split() == ["[]", "client"]
    assert run_module(hv, "ovs_ports", ports)["changed"] is False
