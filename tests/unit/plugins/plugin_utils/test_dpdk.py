"""Hosts with netfabric_dpdk: the inventory rules, the plan's DPDK parts, and ovs_dpdk's pure plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _dpdk
from ansible_collections.netfabric.ovs.plugins.module_utils._ovs_port_want import want_port
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
DPDK = {"socket_mem": [1024, 0], "lcore_mask": "0x1", "pmd_cpu_mask": 6, "extra": "--no-pci  -a 0000:01:00.0",
        "nics": {"uplink": {"devargs": "0000:01:00.0", "n_rxq": 2}}}


def inventory(dpdk=None, **host):
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    hosts["hv1"]["netfabric_dpdk"] = copy.deepcopy(DPDK) if dpdk is None else dpdk
    hosts["hv1"].update(host)
    return hosts, fabric


def host_plan(hosts, fabric, name="hv1"):
    return plan.host_plan(plan.build(hosts, fabric), name)


def problems(hosts, fabric):
    with pytest.raises(FabricError) as error:
        plan.build(hosts, fabric)
    return error.value.problems


def test_plan_has_the_settings_the_uplink_as_dpdk_port_and_vhost_user_ports():
    hosts, fabric = inventory()
    hosts["hv1"]["netfabric_ports"].append({"name": "vhu-red-9", "tenant": "red", "vhostuser": True})
    got = host_plan(hosts, fabric)
    assert got["dpdk"] == {"init": True, "socket_mem": [1024, 0], "lcore_mask": "0x1", "pmd_cpu_mask": "0x6", "extra": "--no-pci -a 0000:01:00.0"}
    phy = next(s for s in got["ports"]["fabric"] if s["bridge"] == "br-phy")
    assert phy["ports"][0] == {"name": "uplink", "type": "dpdk", "options": {"dpdk-devargs": "0000:01:00.0", "n_rxq": "2"}, "mtu_request": 1500}
    tenant = {p["name"]: p for p in got["ports"]["tenants"]["ports"]}
    assert tenant["vhu-red-9"]["type"] == "dpdkvhostuserclient"
    assert tenant["vhu-red-9"]["options"] == {"vhost-server-path": "/var/run/openvswitch/vhost/vhu-red-9"}
    assert "type" not in tenant["tap-red-1"], "a tap stays a tap"
    assert "vhu-red-9" in got["verify_ports"]
    # every port the plan gives passes ovs_ports' own checks
    for index, port in enumerate(phy["ports"] + got["ports"]["tenants"]["ports"]):
        want_port(port, index, "netfabric")


def test_hosts_without_dpdk_plan_as_before():
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    got = host_plan(hosts, fabric)
    assert "dpdk" not in got
    uplink = next(s for s in got["ports"]["fabric"] if s["bridge"] == "br-phy")["ports"][0]
    assert uplink["name"] == "uplink" and "type" not in uplink and "options" not in uplink


def test_nic_mtu_and_minimal_settings():
    got = host_plan(*inventory({"nics": {"uplink": {"devargs": "net_af_packet0,iface=uplink", "mtu": 9000}}}))
    assert got["dpdk"] == {"init": True}
    phy = next(s for s in got["ports"]["fabric"] if s["bridge"] == "br-phy")
    assert phy["ports"][0] == {"name": "uplink", "type": "dpdk", "options": {"dpdk-devargs": "net_af_packet0,iface=uplink"}, "mtu_request": 9000}


@pytest.mark.parametrize(("dpdk", "host", "expected"), [
    (dict(DPDK, pmd_cpu_mask="0xg"), {}, "host hv1: netfabric_dpdk.pmd_cpu_mask: '0xg' is not a non-zero hexadecimal CPU mask"),
    (dict(DPDK, lcore_mask=0), {}, "host hv1: netfabric_dpdk.lcore_mask: 0 is not a non-zero hexadecimal CPU mask"),
    (dict(DPDK, socket_mem=[1024, 2000000]), {}, "host hv1: netfabric_dpdk.socket_mem[1]: 2000000 is out of range (allowed 0-1048576)"),
    (dict(DPDK, socket_mem=[]), {}, "host hv1: netfabric_dpdk.socket_mem: [] is not a list of megabytes per NUMA node"),
    (dict(DPDK, extra="-l 0-3"), {}, "host hv1: netfabric_dpdk.extra: -l clashes with lcore_mask"),
    (dict(DPDK, extra="--socket-mem=512"), {}, "host hv1: netfabric_dpdk.extra: --socket-mem clashes with socket_mem"),
    (dict(DPDK, vhost_socket_dir="relative/dir"), {}, "host hv1: netfabric_dpdk.vhost_socket_dir 'relative/dir' is not an absolute path"),
    (dict(DPDK, nics={"uplink": {"n_rxq": 2}}), {}, "host hv1: netfabric_dpdk.nics.uplink.devargs: required (a DPDK device"),
    (dict(DPDK, nics={"uplink": {"devargs": "0000:01:00.0 x"}}), {},
     "host hv1: netfabric_dpdk.nics.uplink.devargs: '0000:01:00.0 x' is not a DPDK device"),
    (dict(DPDK, nics={"uplink": {"devargs": "0000:01:00.0", "n_rxq": 0}}), {},
     "host hv1: netfabric_dpdk.nics.uplink.n_rxq: 0 is out of range (allowed 1-1024)"),
    (dict(DPDK, nics={"uplink": {"devargs": "0000:01:00.0", "queues": 2}}), {},
     "host hv1: netfabric_dpdk.nics.uplink: unknown key(s) queues (allowed: devargs, n_rxq, mtu)"),
    (dict(DPDK, nics={"eth9": {"devargs": "0000:01:00.0"}}), {}, "host hv1: netfabric_dpdk.nics.eth9: not a NIC of the fabric on this host (allowed: uplink"),
    (dict(DPDK, hugepages=1), {},
     "host hv1: netfabric_dpdk: unknown key 'hugepages' (allowed: socket_mem, lcore_mask, pmd_cpu_mask, extra, nics, vhost_socket_dir)"),
    (None, {"netfabric_datapath_type": "system"},
     "host hv1: netfabric_dpdk needs netfabric_datapath_type netdev (OVS's userspace datapath; this host has system)"),
])
def test_bad_settings_name_host_field_and_allowed_values(dpdk, host, expected):
    found = problems(*inventory(dpdk, **host))
    assert any(p.startswith(expected) for p in found), found


def test_vhost_user_ports_need_dpdk_and_are_not_libvirt_ports():
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    hosts["hv2"]["netfabric_ports"].append({"name": "vhu-red-9", "tenant": "red", "vhostuser": True})
    assert "host hv2: ports vhu-red-9 have vhostuser: true but the host has no (valid) netfabric_dpdk" in problems(hosts, fabric)
    hosts, fabric = inventory(dict(DPDK, vhost_socket_dir="/" + "d" * 100))
    hosts["hv1"]["netfabric_libvirt"] = {}
    hosts["hv1"]["netfabric_ports"].append({"name": "vhu-red-9", "tenant": "red", "vhostuser": True, "libvirt": True,
                                            "mac": "52:54:00:aa:00:09"})
    found = problems(hosts, fabric)
    assert any(p.startswith("host hv1 port vhu-red-9: vhostuser: true and libvirt: true") for p in found), found
    hosts["hv1"]["netfabric_ports"][-1].pop("libvirt")
    found = problems(hosts, fabric)
    assert any(p.startswith("host hv1 port vhu-red-9: vhost-user socket '/ddd") and "107 bytes" in p for p in found), found


def test_ovs_dpdk_plan_touches_only_its_keys():
    want = _dpdk.settings({"state": "present", "init": True, "socket_mem": [1024], "lcore_mask": "0x1", "pmd_cpu_mask": None, "extra": None})
    switch = {"other_config": {"vlan-limit": "2", "pmd-cpu-mask": "0x6", "dpdk-lcore-mask": "0x1"}, "initialized": False, "version": None}
    commands, before, after = _dpdk.plan(want, switch)
    assert commands == [["set", "Open_vSwitch", ".", 'other_config:"dpdk-init"="true"', 'other_config:"dpdk-socket-mem"="1024"'],
                        ["remove", "Open_vSwitch", ".", "other_config", '"pmd-cpu-mask"']]
    assert before == {"pmd-cpu-mask": "0x6", "dpdk-lcore-mask": "0x1"}
    assert after == {"dpdk-init": "true", "dpdk-socket-mem": "1024", "dpdk-lcore-mask": "0x1"}
    switch["other_config"] = {"vlan-limit": "2", **after}
    assert _dpdk.plan(want, switch)[0] == []
    gone = _dpdk.settings({"state": "absent"})
    assert _dpdk.plan(gone, switch)[0] == [["remove", "Open_vSwitch", ".", "other_config", '"dpdk-init"', '"dpdk-lcore-mask"', '"dpdk-socket-mem"']]


@pytest.mark.parametrize(("port", "expected"), [
    ({"name": "nic0", "type": "dpdk"}, "options.dpdk-devargs: required for a dpdk port"),
    ({"name": "nic0", "type": "dpdk", "options": {"dpdk-devargs": "0000:01:00.0", "n_rxq": "0"}}, "options.n_rxq: '0' is out of range"),
    ({"name": "vhu0", "type": "dpdkvhostuserclient"}, "options.vhost-server-path: required for a dpdkvhostuserclient port"),
    ({"name": "vhu0", "type": "dpdkvhostuserclient", "options": {"vhost-server-path": "vhu0.sock"}},
     "options.vhost-server-path: 'vhu0.sock' is not an absolute path"),
])
def test_ovs_ports_checks_dpdk_ports_before_touching_the_host(port, expected):
    with pytest.raises(ValidationError, match=expected.replace(".", r"\.").replace("'", "'")):
        want_port(port, 0, "netfabric")
