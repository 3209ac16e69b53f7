"""The site playbook (every role) on the OVS kernel datapath, proven with real packets.

Two hypervisor namespaces (lab/fabric.py), each with its own ovs-vswitchd on the one openvswitch
kernel module, run the inventory in tests/kernel/inventory: `netfabric_datapath_type: system`,
tenant red over VXLAN and tenant blue over GRE on the same subnet, VLAN 100 on each uplink.
The playbook runs twice (the second run must change nothing); the tests then read the kernel's
own state and send pings between VM namespaces while tcpdump watches the underlay.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)
import netns  # noqa: E402
from kernel_ansible import KernelLab, recap  # noqa: E402  (beside this file)

INVENTORY = Path(__file__).with_name("inventory")
PREFIX = "nfk"
HOSTS = ("hv1", "hv2")


LAB = KernelLab(PREFIX, INVENTORY)
vm, reaches = LAB.vm, LAB.reaches


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The lab built, the site playbook applied and applied again; the lab removed afterwards."""
    try:
        lab_inventory = fabric.up(PREFIX, INVENTORY)
        work = tmp_path_factory.mktemp("ansible")
        first = LAB.playbook(work, lab_inventory)
        assert first[0] == 0, f"first run failed:\n{first[1]}"
        second = LAB.playbook(work, lab_inventory)
        yield first, second
    finally:
        netns.down(PREFIX)


def test_first_run_changes_every_host(runs):
    output = runs[0][1]
    counts = recap(output)
    assert set(counts) == set(HOSTS), output
    for host, count in counts.items():
        assert count["changed"] > 0 and count["failed"] == 0, f"{host}: {count}\n{output}"


def test_second_run_changes_nothing(runs):
    rc, output = runs[1]
    assert rc == 0, output
    counts = recap(output)
    assert set(counts) == set(HOSTS), output
    for host, count in counts.items():
        assert count["changed"] == 0 and count["failed"] == 0, f"{host}: {count}\n{output}"


@pytest.mark.parametrize("host", HOSTS)
def test_kernel_datapath_holds_bridges_vms_and_tunnel_vports(runs, host):
    dp = netns.Hypervisor(PREFIX, host).exec("ovs-dpctl", "show")
    assert "system@ovs-system" in dp, dp
    number = host[-1]
    for port in ("br-int", "br-tun", "br-phy", f"tap-red-{number}", f"tap-blue-{number}", "vxlan_sys_4789", "gre_sys"):
        assert re.search(rf"port \d+: {port}\b", dp), f"{port} not in the datapath:\n{dp}"


@pytest.mark.parametrize("host", HOSTS)
def test_provider_vlan_is_a_kernel_8021q_device(runs, host):
    link = json.loads(netns.Hypervisor(PREFIX, host).exec("ip", "-d", "-j", "link", "show", "uplink.100"))[0]
    assert link["linkinfo"]["info_kind"] == "vlan", link
    assert link["linkinfo"]["info_data"]["id"] == 100, link
    assert link["link"] == "uplink", link
    assert "UP" in link["flags"], link


def test_tenants_reach_their_own_vms_across_hosts_and_stay_isolated(runs):
    assert reaches("tap-red-1", "tap-red-2", tries=40), "red over kernel VXLAN"
    assert reaches("tap-blue-2", "tap-blue-1", tries=40), "blue over kernel GRE"
    # Same addresses in both tenants: an answer from 10.0.0.2 is red-2's, never blue-2's.
    assert not reaches("tap-red-1", "tap-blue-2")
    assert not reaches("tap-blue-1", "tap-red-2")
    assert fabric.arp_mac(PREFIX, vm("tap-red-1"), vm("tap-blue-2")) in (None, vm("tap-red-2")["mac"])


def capture(source: str, target: str) -> str:
    """tcpdump's text for VXLAN and GRE on hv1's uplink while source pings target."""
    hv1 = netns.Hypervisor(PREFIX, "hv1")
    with hv1.tcpdump("udp port 4789 or proto gre") as lines:
        assert reaches(source, target, tries=40), f"{source} -> {target}"
    return "\n".join(lines) + "\n"


def test_underlay_carries_red_in_vxlan_vni_1001_and_blue_in_gre_key_2002(runs):
    red = capture("tap-red-1", "tap-red-2")
    assert re.search(r"172\.31\.0\.1\.\d+ > 172\.31\.0\.2\.4789: VXLAN.* vni 1001\n.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", red), red
    assert re.search(r"172\.31\.0\.2\.\d+ > 172\.31\.0\.1\.4789: VXLAN.* vni 1001\n.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", red), red
    assert not re.search(r"GREv0.*ICMP echo", red), f"red's pings went over GRE:\n{red}"

    blue = capture("tap-blue-1", "tap-blue-2")
    assert re.search(r"172\.31\.0\.1 > 172\.31\.0\.2: GREv0, key=0x7d2.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", blue), blue
    assert re.search(r"172\.31\.0\.2 > 172\.31\.0\.1: GREv0, key=0x7d2.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", blue), blue
    assert not re.search(r"VXLAN.*\n.*ICMP echo", blue), f"blue's pings went over VXLAN:\n{blue}"
