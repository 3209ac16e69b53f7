"""A provider NIC of its own on the OVS kernel datapath, proven with real packets.

Two hypervisor namespaces on `netfabric_datapath_type: system` (tests/kernel/inventory_provider):
the uplink keeps the underlay address off OVS, and a provider NIC with no address joins the same
underlay switch: prov0 on hv1, an active-backup OVS bond of prov0 and prov1 on hv2. Tenant red has
provider_vlan 300 and crosses on br-provider as 802.1Q; blue crosses over VXLAN on the uplink, on
the same addresses. The site playbook runs once, then the tests send pings, watch prov0 with
tcpdump, send frames of an unowned VLAN from the switch and take the bond's active member down.
Teardown of br-provider is the same code on either datapath and is proven in the namespace lab
(tests/integration/test_provider_nic.py), which is much faster than a playbook run under the
guest kernel.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)
import netns  # noqa: E402
from kernel_ansible import KernelLab, recap  # noqa: E402  (beside this file)

INVENTORY = Path(__file__).with_name("inventory_provider")
PREFIX = "nfkp"
HOSTS = ("hv1", "hv2")
NIC = "prov0"
BOND = "bprov"  # hv2's provider NIC: an OVS bond of these members (inventory_provider/hosts.yml)
NICS = {"hv1": (NIC,), "hv2": (NIC, "prov1")}
SWITCH = f"{PREFIX}-sw"  # lab/netns.py's underlay switch: the Linux bridge sw0 in this namespace


LAB = KernelLab(PREFIX, INVENTORY)
vm, reaches = LAB.vm, LAB.reaches


def provider_nics():
    """Further links of each hypervisor into the underlay switch, with no address (NICS)."""
    for host, nics in NICS.items():
        hv = netns.Hypervisor(PREFIX, host)
        for name in nics:
            peer = switch_port(host, name)
            netns.sh("ip", "link", "add", name, "netns", hv.netns, "type", "veth", "peer", "name", peer, "netns", SWITCH)
            netns.sh("ip", "-n", SWITCH, "link", "set", peer, "master", "sw0", "up")
            netns.sh("ip", "-n", hv.netns, "link", "set", name, "up")


def switch_port(host: str, nic: str) -> str:
    """The switch's end of a host's provider NIC: the cable to pull."""
    return f"s{nic[-1]}-{host}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab built with provider NICs, the site playbook applied once (each run costs minutes under the
    guest kernel; the second run and teardown are proven in the namespace lab, test_provider_nic.py)."""
    try:
        lab_inventory = fabric.up(PREFIX, INVENTORY)
        provider_nics()
        work = tmp_path_factory.mktemp("ansible")
        first = LAB.playbook(work, lab_inventory)
        assert first[0] == 0, f"first run failed:\n{first[1]}"
        yield {"first": first, "work": work, "inventory": lab_inventory}
    finally:
        netns.down(PREFIX)


def test_first_run_converges_both_hosts(lab):
    counts = recap(lab["first"][1])
    assert set(counts) == set(HOSTS), lab["first"][1]
    assert all(count["failed"] == 0 for count in counts.values()), counts


@pytest.mark.parametrize("host", HOSTS)
def test_br_provider_holds_the_nic_and_the_patch_on_the_kernel_datapath(lab, host):
    hv = netns.Hypervisor(PREFIX, host)
    port = NIC if len(NICS[host]) == 1 else BOND
    assert sorted(hv.vsctl("list-ports", "br-provider").split()) == sorted(["phy-br-provider", port])
    assert hv.vsctl("get", "Bridge", "br-provider", "fail_mode").strip() == "secure"
    assert "int-br-provider" in hv.vsctl("list-ports", "br-int").split()
    assert hv.vsctl("list-ports", "br-phy").split() == []  # the uplink stays off OVS with its address
    dp = hv.exec("ovs-dpctl", "show")
    assert all(re.search(rf"port \d+: {name}\b", dp) for name in NICS[host]), dp


def test_provider_tenant_and_overlay_tenant_reach_their_own_vms_only(lab):
    assert reaches("tap-red-1", "tap-red-2", tries=40), "red over provider VLAN 300"
    assert reaches("tap-blue-2", "tap-blue-1", tries=40), "blue over VXLAN"
    # Same addresses in both tenants: an answer from 10.0.0.2 is red-2's, never blue-2's.
    assert not reaches("tap-red-1", "tap-blue-2")
    assert not reaches("tap-blue-1", "tap-red-2")
    assert fabric.arp_mac(PREFIX, vm("tap-red-1"), vm("tap-blue-2")) in (None, vm("tap-red-2")["mac"])


def test_red_crosses_the_provider_nic_tagged_300_and_blue_the_uplink_in_vxlan(lab):
    hv1 = netns.Hypervisor(PREFIX, "hv1")
    with hv1.tcpdump("", "-e", iface=NIC) as frames:
        assert reaches("tap-red-1", "tap-red-2", tries=40)
    text = "\n".join(frames)
    assert re.search(r"802\.1Q.*vlan 300.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", text), text
    assert re.search(r"802\.1Q.*vlan 300.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", text), text
    with hv1.tcpdump("udp port 4789") as packets:
        assert reaches("tap-blue-1", "tap-blue-2", tries=40)
    blue = "\n".join(packets)
    assert re.search(r"172\.31\.0\.1\.\d+ > 172\.31\.0\.2\.4789: VXLAN.* vni 1002", blue), blue
    assert "vni 1001" not in blue  # red never rides the overlay


def switch_vlan(vid: int) -> str:
    """A VLAN device of the underlay switch itself, at 10.0.0.9: a machine on the provider network."""
    dev = f"sw0.{vid}"
    netns.sh("ip", "-n", SWITCH, "link", "add", "link", "sw0", "name", dev, "type", "vlan", "id", vid)
    netns.sh("ip", "-n", SWITCH, "addr", "add", "10.0.0.9/24", "dev", dev)
    netns.sh("ip", "-n", SWITCH, "link", "set", dev, "up")
    return dev


def datapath_flows(host: str, vid: int) -> tuple[list[str], str]:
    """The kernel datapath's flows for frames of VLAN `vid` that came in on the provider NIC, and the whole dump."""
    hv = netns.Hypervisor(PREFIX, host)
    out = hv.exec("ovs-dpctl", "dump-flows", "--names")
    return [line for line in out.splitlines() if f"in_port({NIC})" in line and re.search(rf"vid={vid}\b", line)], out


def test_the_wire_reaches_red_in_vlan_300_and_nothing_in_another_vlan(lab):
    dev = switch_vlan(300)
    try:
        for _attempt in range(40):
            if netns.sh("ip", "netns", "exec", SWITCH, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.1", check=False).returncode == 0:
                break
            time.sleep(0.5)
        neigh = netns.sh("ip", "-n", SWITCH, "neigh", "show", "10.0.0.1", "dev", dev, capture=True)
        assert vm("tap-red-1")["mac"] in neigh, neigh  # red-1 answered, in VLAN 300
    finally:
        netns.sh("ip", "-n", SWITCH, "link", "del", dev, check=False)

    dev = switch_vlan(301)  # a VLAN no tenant of these hosts owns
    try:
        # Read the datapath while the switch still sends (its flows expire when idle).
        ping = subprocess.Popen(["ip", "netns", "exec", SWITCH, "ping", "-c", "8", "-i", "0.5", "-W", "1", "10.0.0.1"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(3)
        seen = {host: datapath_flows(host, 301) for host in HOSTS}
        output = ping.communicate(timeout=120)[0]
        assert ping.returncode != 0, output
        for host, (flows, dump) in seen.items():  # what the datapath did with those frames: br-provider dropped them at the NIC
            assert flows and all(line.rstrip().endswith("actions:drop") for line in flows), f"{host}:\n{dump}"
    finally:
        netns.sh("ip", "-n", SWITCH, "link", "del", dev, check=False)


def test_red_survives_the_active_member_of_the_bonded_provider_nic_going_down(lab):
    hv2 = netns.Hypervisor(PREFIX, "hv2")
    members, active, mode, text = hv2.bond_show(BOND)
    assert mode == "active-backup" and members == {"prov0": True, "prov1": True} and active in members, text
    standby = next(name for name in members if name != active)
    assert reaches("tap-red-1", "tap-red-2", tries=40), "red over the bond before the failover"
    cable = switch_port("hv2", active)
    netns.sh("ip", "-n", SWITCH, "link", "set", cable, "down")  # the member's carrier goes with it
    try:
        for _attempt in range(50):
            members, now, _mode, text = hv2.bond_show(BOND)
            if now == standby and not members[active]:
                break
            time.sleep(0.2)
        assert now == standby and not members[active], text
        with hv2.tcpdump("", "-e", iface=standby) as frames:
            assert reaches("tap-red-1", "tap-red-2", tries=40), f"red is dark with {active} down:\n{text}"
        seen = "\n".join(frames)
        assert re.search(r"802\.1Q.*vlan 300.*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply", seen), seen
        assert not reaches("tap-blue-1", "tap-red-2")
    finally:
        netns.sh("ip", "-n", SWITCH, "link", "set", cable, "up")
