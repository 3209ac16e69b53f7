"""Tenants across DPDK ports: the example fabric with hv1 and hv2 on Open vSwitch's DPDK build.

hv1 and hv2 run Debian's ovs-vswitchd-dpdk (unpacked by lab/setup, lab/dpdk.py) with
`netfabric_dpdk`; their uplink (a veth) becomes a DPDK port through the af_packet virtual device,
so every frame between them leaves and enters through DPDK. hv3 stays an ordinary netdev host. One
site run initializes DPDK from the inventory's settings (one Open_vSwitch transaction per host),
makes the uplinks DPDK ports, and tenants reach each other over VXLAN (proven with pings and
tcpdump on the wire) and stay apart; a second run changes nothing. PMD threads spin at 100%: both
share one core, and the lab is removed at the end.
"""

from __future__ import annotations

import json

import pytest
from conftest import PREFIX
from sitelab import Lab

import dpdk

DPDK_HOSTS = {"hv1": "0x2", "hv2": "0x2"}  # pmd-cpu-mask: both PMD threads on core 1, core 0 left to the rest


@pytest.fixture
def lab(tmp_path):
    prefix = f"{PREFIX}dk"
    dpdk.down(prefix)
    try:
        made = Lab(prefix, "vxlan", tmp_path / "lab")
        for host, pmd in DPDK_HOSTS.items():
            hv = made.hv(host)
            dpdk.start(hv)
            made.edit_host(host, netfabric_dpdk={"pmd_cpu_mask": pmd, "extra": dpdk.eal_extra(hv),
                                                 "nics": {"uplink": {"devargs": dpdk.devargs(0, "uplink"), "n_rxq": 1}}})
        yield made
    finally:
        dpdk.down(prefix)


def switch(hv):
    table = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=other_config,dpdk_initialized", "list", "Open_vSwitch"))
    row = dict(zip(table["headings"], table["data"][0]))
    return dict(row["other_config"][1]), row["dpdk_initialized"]


def test_tenants_cross_dpdk_uplinks_and_stay_apart(lab):
    first = lab.playbook()
    assert all(counts["failed"] == 0 for counts in first.values()), first

    for host, pmd in DPDK_HOSTS.items():
        hv = lab.hv(host)
        other_config, initialized = switch(hv)
        assert initialized is True and other_config["dpdk-init"] == "true" and other_config["pmd-cpu-mask"] == pmd
        assert hv.vsctl("get", "Interface", "uplink", "type", "error", "mtu_request", "options:dpdk-devargs", "status:driver_name").split() == [
            "dpdk", "[]", "1500", '"net_af_packet0,iface=uplink"', "net_af_packet"]
        assert "port: uplink" in hv.exec("ovs-appctl", "-t", f"{hv.dir}/ovs-vswitchd.ctl", "dpif-netdev/pmd-rxq-show"), "a PMD polls the uplink"
    assert lab.hv("hv3").vsctl("get", "Interface", "uplink", "type").strip() == '""', "hv3 keeps its kernel uplink"

    vxlan = lab.capture("hv1", "tap-red-1", "tap-red-2", "udp port 4789")
    assert "172.31.0.1" in vxlan and "172.31.0.2" in vxlan and "vni 1001" in vxlan, vxlan
    assert lab.reaches("tap-blue-2", "tap-blue-1")
    assert lab.reaches("tap-red-3", "tap-red-1"), "an ordinary netdev host reaches a DPDK one"
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert not lab.reaches("tap-blue-1", "tap-red-3")

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second
