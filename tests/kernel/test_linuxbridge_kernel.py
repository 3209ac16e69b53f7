"""The Linux-bridge backend's transports this machine's kernel lacks, on a kernel that has them.

Three Linux-bridge hypervisor namespaces (lab/fabric.py, no Open vSwitch) run the inventory in
tests/kernel/linuxbridge: tenant green is provider VLAN 100 (the 802.1Q subinterface uplink.100
in its bridge), tenant blue is GRE (a gretap per peer in its bridge, each bridge port isolated),
both on the same subnet with the same addresses. The site playbook runs once, then the tests read
the kernel's state and send packets between VM namespaces while tcpdump watches the underlay and
the VMs.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)
import netns  # noqa: E402
from kernel_ansible import KernelLab, recap  # noqa: E402  (beside this file)

INVENTORY = Path(__file__).with_name("linuxbridge")
PREFIX = "nfb"
HOSTS = ("hv1", "hv2", "hv3")
NOBODY = "10.0.0.99"  # on the tenants' subnet, held by no VM: ARP for it is flooded and never answered


LAB = KernelLab(PREFIX, INVENTORY)
vm, reaches = LAB.vm, LAB.reaches


def detail(host: str) -> dict[str, dict]:
    return {link["ifname"]: link for link in json.loads(netns.Hypervisor(PREFIX, host).exec("ip", "-j", "-d", "link", "show"))}


def gretap_packets() -> int:
    """Packets every host's gretaps have sent so far."""
    total = 0
    for host in HOSTS:
        for link in json.loads(netns.Hypervisor(PREFIX, host).exec("ip", "-s", "-j", "link", "show", "type", "gretap")):
            total += link["stats64"]["tx"]["packets"]
    return total


def quiet_mesh() -> int:
    """Packets the gretap mesh sent in 3 s of nobody sending: a few IPv6 router solicitations or
    MLD reports when it is quiet, thousands in a flooding loop."""
    before = gretap_packets()
    time.sleep(3)
    return gretap_packets() - before


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab built, the site playbook applied once; the lab removed afterwards.

    One playbook run: each costs minutes under the guest kernel, and the CI run has 90 minutes. The
    second run (nothing changes) and teardown (links as before) of Linux-bridge hosts are proven in
    the namespace lab (tests/integration/test_linuxbridge.py); this file proves what only this kernel
    has: 802.1Q subinterfaces and gretaps in the tenant bridges, with real packets."""
    try:
        lab_inventory = fabric.up(PREFIX, INVENTORY)
        work = tmp_path_factory.mktemp("ansible")
        first = LAB.playbook(work, lab_inventory)
        assert first[0] == 0, f"first run failed:\n{first[1]}"
        assert (sent := quiet_mesh()) < 100, f"the GRE mesh floods in a loop: {sent} packets in 3 s"
        yield {"inventory": lab_inventory, "work": work, "first": first}
    finally:
        netns.down(PREFIX)


def test_lb_first_run_changes_every_host(lab):
    counts = recap(lab["first"][1])
    assert set(counts) == set(HOSTS), lab["first"][1]
    assert all(count["changed"] > 0 and count["failed"] == 0 for count in counts.values()), counts


@pytest.mark.parametrize("host", HOSTS)
def test_lb_provider_vlan_is_uplink_100_and_gretaps_are_isolated_bridge_ports(lab, host):
    links_now = detail(host)
    vlan = links_now["uplink.100"]
    assert vlan["linkinfo"]["info_kind"] == "vlan" and vlan["linkinfo"]["info_data"]["id"] == 100, vlan
    assert vlan["link"] == "uplink" and vlan["master"] == "brq-green" and "UP" in vlan["flags"], vlan
    gretaps = {name: link for name, link in links_now.items() if link.get("master") == "brq-blue" and name.startswith("gre-")}
    peers = {f"172.31.0.{n}" for n in range(1, 4)} - {f"172.31.0.{host[-1]}"}
    assert {link["linkinfo"]["info_data"]["remote"] for link in gretaps.values()} == peers, gretaps
    for link in gretaps.values():
        assert link["linkinfo"]["info_kind"] == "gretap" and link["linkinfo"]["info_data"]["ikey"] == "0.0.7.210", link
        assert link["linkinfo"]["info_slave_data"]["isolated"] is True, link
    assert links_now[f"tap-blue-{host[-1]}"]["linkinfo"]["info_slave_data"]["isolated"] is False


def test_lb_tenants_reach_their_own_vms_across_hosts_and_stay_isolated(lab):
    assert reaches("tap-green-1", "tap-green-2", tries=20), "green over 802.1Q VLAN 100"
    assert reaches("tap-green-3", "tap-green-1", tries=20), "green over 802.1Q VLAN 100"
    assert reaches("tap-blue-2", "tap-blue-1", tries=20), "blue over gretap"
    assert reaches("tap-blue-1", "tap-blue-3", tries=20), "blue over gretap"
    # Same addresses in both tenants: an answer from 10.0.0.2 is green-2's, never blue-2's.
    assert not reaches("tap-green-1", "tap-blue-2")
    assert not reaches("tap-blue-3", "tap-green-1")
    assert fabric.arp_mac(PREFIX, vm("tap-green-1"), vm("tap-blue-2")) in (None, vm("tap-green-2")["mac"])


def capture(source: str, target: str) -> str:
    """tcpdump's text on hv1's uplink, every frame with its link-level header (no filter: a filter
    with `vlan` would shift the offsets of what follows it), while source pings target."""
    with netns.Hypervisor(PREFIX, "hv1").tcpdump("", "-e") as lines:
        assert reaches(source, target, tries=20), f"{source} -> {target}"
    return "\n".join(lines) + "\n"


def test_lb_underlay_carries_green_tagged_802_1q_vlan_100_and_blue_in_gre_key_2002(lab):
    green = capture("tap-green-1", "tap-green-2")
    assert re.search(r"ethertype 802\.1Q \(0x8100\).*vlan 100, .*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", green), green
    assert re.search(r"ethertype 802\.1Q \(0x8100\).*vlan 100, .*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", green), green
    assert not re.search(r"GREv0.*ICMP echo", green), f"green's pings went over GRE:\n{green}"

    blue = capture("tap-blue-1", "tap-blue-2")
    assert re.search(r"172\.31\.0\.1 > 172\.31\.0\.2: GREv0, key=0x7d2.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", blue), blue
    assert re.search(r"172\.31\.0\.2 > 172\.31\.0\.1: GREv0, key=0x7d2.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", blue), blue
    assert not re.search(r"vlan 100, .*ICMP echo", blue), f"blue's pings went over VLAN 100:\n{blue}"


def arp_requests() -> tuple[dict[str, int], dict[str, list[str]]]:
    """How many ARP requests for NOBODY from blue-1 each watched VM saw while blue-1 asked once."""
    watched = ("tap-blue-1", "tap-blue-2", "tap-blue-3", "tap-green-3")
    with contextlib.ExitStack() as stack:
        seen = {port: stack.enter_context(netns.tcpdump(fabric.vm_netns(PREFIX, port), "arp")) for port in watched}
        netns.sh("ip", "-n", fabric.vm_netns(PREFIX, "tap-blue-1"), "neigh", "flush", "all", check=False)
        netns.sh("ip", "netns", "exec", fabric.vm_netns(PREFIX, "tap-blue-1"), "ping", "-c", "1", "-W", "1", NOBODY, check=False)
        time.sleep(4)  # the kernel gives up on NOBODY after 3 requests, one a second
    return {port: sum(f"Request who-has {NOBODY} tell 10.0.0.1" in line for line in lines) for port, lines in seen.items()}, seen


def set_isolated(host: str, value: str):
    hv = netns.Hypervisor(PREFIX, host)
    for name, link in detail(host).items():
        if name.startswith("gre-") and link.get("master") == "brq-blue":
            hv.exec("ip", "link", "set", "dev", name, "type", "bridge_slave", "isolated", value)


def test_lb_gre_mesh_floods_a_broadcast_once_to_each_vm(lab):
    """Split horizon: blue-1's ARP request for an address nobody holds reaches blue-2 and blue-3 as
    often as blue-1 sent it; green sees none. The control: with hv2's gretap ports not isolated,
    hv2 forwards what hv1 flooded on to hv3, and blue-3 sees every request twice (with no port
    isolated anywhere the three-host mesh would repeat it in a loop)."""
    assert (sent := quiet_mesh()) < 100, f"the GRE mesh floods in a loop: {sent} packets in 3 s"
    requests, seen = arp_requests()
    assert requests["tap-blue-1"] >= 1, seen
    assert requests["tap-blue-2"] == requests["tap-blue-1"] and requests["tap-blue-3"] == requests["tap-blue-1"], (requests, seen)
    assert requests["tap-green-3"] == 0, (requests, seen)

    set_isolated("hv2", "off")
    try:
        repeated, seen = arp_requests()
    finally:
        set_isolated("hv2", "on")
    assert repeated["tap-blue-3"] == 2 * repeated["tap-blue-1"] > 0, (repeated, seen)


def test_lb_a_reboot_is_put_back_by_the_boot_script(lab):
    """What a reboot takes from hv2 (every link the fabric made: its bridges, VLAN 100 on the uplink,
    the gretaps) comes back from netfabric-boot.py alone, with the lines ip_link writes: the same
    kinds, masters, marks and isolated gretap ports, so both tenants reach across again, still apart,
    and the GRE mesh still floods each broadcast once. The namespace lab proves the same for VXLAN."""
    hv = netns.Hypervisor(PREFIX, "hv2")
    boot = ("python3", str(hv.dir / "state" / "netfabric-boot.py"))

    def shape():
        return {name: (link["linkinfo"]["info_kind"], link.get("master"), link.get("ifalias"),
                       (link["linkinfo"].get("info_slave_data") or {}).get("isolated"))
                for name, link in detail("hv2").items() if "linkinfo" in link}

    converged = shape()
    made = [name for name, (_kind, _master, alias, _isolated) in converged.items() if alias == "netfabric:netfabric-linuxbridge"]
    assert {converged[name][0] for name in made} == {"bridge", "vlan", "gretap"}, converged
    for name in sorted(made, key=lambda name: name.startswith("brq-")):  # devices first, then their bridges
        hv.exec("ip", "link", "del", name)
    assert not reaches("tap-blue-2", "tap-blue-1") and not set(made) & set(shape())

    out = hv.exec(*boot)
    assert "type bridge_slave isolated on" in out and "type vlan id 100" in out, out
    assert shape() == converged
    assert hv.exec(*boot, "--check") == "", "a second run has nothing to do"
    assert reaches("tap-blue-2", "tap-blue-1", tries=20) and reaches("tap-green-2", "tap-green-3", tries=20)
    assert not reaches("tap-green-2", "tap-blue-1")
    assert (sent := quiet_mesh()) < 100, f"the GRE mesh floods in a loop: {sent} packets in 3 s"
    requests, seen = arp_requests()
    assert requests["tap-blue-3"] == requests["tap-blue-1"] >= 1, (requests, seen)
