"""A tenant with `provider_vlan` crosses hosts as 802.1Q on the physical network, not through tunnels.

The example fabric of test_site (three netdev hypervisors in namespaces, their uplinks on a Linux
bridge that forwards tagged frames) with red on provider VLAN 100 and blue on VXLAN, proven with
pings and tcpdump; then red goes back to VXLAN and the br-phy wiring disappears.
"""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import PREFIX
from sitelab import Lab

import netns

COOKIE = "cookie=0x4e46"


@pytest.fixture
def lab(tmp_path):
    made = Lab(f"{PREFIX}pv", "vxlan", tmp_path / "lab")
    yield made
    netns.down(made.prefix)


def set_red_provider_vlan(lab, vlan):
    path = lab.example / "group_vars" / "hypervisors.yml"
    tenants = yaml.safe_load(path.read_text())["netfabric_tenants"]
    for tenant in tenants:
        if tenant["name"] == "red":
            tenant.pop("provider_vlan", None)
            if vlan is not None:
                tenant["provider_vlan"] = vlan
    lab.edit_group(netfabric_tenants=tenants)


def capture_link_layer(lab, host, source, target):
    """Every frame on the host's uplink (tcpdump -e: 802.1Q tags shown) while source pings target."""
    with lab.hv(host).tcpdump("", "-e") as lines:
        reached = lab.reaches(source, target)
    return reached, lines


def ports(lab, host, bridge):
    return lab.hv(host).vsctl("list-ports", bridge).split()


def owned_flows(lab, host, bridge, *match):
    out = lab.hv(host).ofctl("-O", "OpenFlow14", "--names", "dump-flows", bridge, *match)
    return [line.strip() for line in out.splitlines() if COOKIE in line]


def test_provider_vlan_tenant_rides_the_wire_and_goes_back_to_vxlan(lab):
    set_red_provider_vlan(lab, 100)
    first = lab.playbook()
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values()), first

    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-red-3", "tap-red-1")
    assert lab.reaches("tap-blue-1", "tap-blue-2")  # VXLAN over the untagged underlay on the same br-phy
    assert lab.reaches("tap-blue-2", "tap-blue-3")
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert not lab.reaches("tap-blue-3", "tap-red-2")

    reached, frames = capture_link_layer(lab, "hv1", "tap-red-1", "tap-red-2")
    assert reached
    red_icmp = [f for f in frames if "vlan 100" in f and "ICMP echo" in f and "10.0.0.1 > 10.0.0.2" in f]
    assert red_icmp and all("802.1Q" in f for f in red_icmp), frames
    assert not [f for f in frames if "vni 1001" in f], frames

    for host in lab.hosts():
        assert "tun_id=0x3e9" not in lab.hv(host).ofctl("-O", "OpenFlow14", "dump-flows", "br-tun", "table=3")
        assert "int-br-phy" in ports(lab, host, "br-int") and "phy-br-int" in ports(lab, host, "br-phy")
        # br-phy: the two VLAN rewrites from phy-br-int, next to the guard of the underlay MAC (from the uplink)
        phy = owned_flows(lab, host, "br-phy")
        assert len([f for f in phy if "phy-br-int" in f]) == 2
        # br-int: red admitted from int-br-phy in VLAN 100 (rewritten to its local VLAN), delivered there
        assert len([f for f in owned_flows(lab, host, "br-int") if "int-br-phy" in f]) == 3
        assert len([f for f in phy if "in_port=uplink" in f]) == 2, phy
        # OVS's own NORMAL flow keeps switching the uplink and the underlay address
        assert "priority=0 actions=NORMAL" in lab.hv(host).ofctl("-O", "OpenFlow14", "dump-flows", "br-phy")
    # red alone would make no tunnel: every tunnel here is there for blue
    assert sorted(ports(lab, "hv1", "br-tun")) == ["patch-int", "vxlan-ac1f0002", "vxlan-ac1f0003"]

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second

    set_red_provider_vlan(lab, None)
    lab.playbook()
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    reached, frames = capture_link_layer(lab, "hv1", "tap-red-1", "tap-red-3")
    assert reached
    assert [f for f in frames if "vni 1001" in f], frames
    assert not [f for f in frames if "vlan 100" in f], frames
    for host in lab.hosts():
        assert "tun_id=0x3e9" in lab.hv(host).ofctl("-O", "OpenFlow14", "dump-flows", "br-tun", "table=3")
        assert "int-br-phy" not in ports(lab, host, "br-int") and "phy-br-int" not in ports(lab, host, "br-phy")
        phy = owned_flows(lab, host, "br-phy")
        assert [f for f in phy if "in_port=uplink" not in f] == [] and not [f for f in owned_flows(lab, host, "br-int") if "int-br-phy" in f]
        assert len(phy) == 2, f"only the guard of the underlay MAC is left on br-phy: {phy}"


def test_restarted_vswitchd_leaks_no_tenant_onto_the_wire_or_into_another_tenant(lab):
    """ovs-vswitchd killed and restarted on a host with a provider-VLAN tenant (red, VLAN 100) and a
    tunnelled one (blue): until the restore hook runs, br-int forwards nothing, so no frame leaves
    the uplink tagged with a host-local VLAN and no tenant hears the other; then the hook alone
    brings both back."""
    set_red_provider_vlan(lab, 100)
    lab.playbook()
    hv2 = lab.hv("hv2")
    local = {port: int(hv2.vsctl("get", "Port", port, "tag")) for port in ("tap-red-2", "tap-blue-2")}
    hv2.restart_vswitchd()
    with hv2.tcpdump("", "-e") as wire, \
            netns.tcpdump(f"{lab.prefix}-tap-red-2", "-e", "not ip6") as red, \
            netns.tcpdump(f"{lab.prefix}-tap-blue-2", "-e", "not ip6") as blue:
        for source, target in (("tap-red-2", "tap-red-1"), ("tap-blue-2", "tap-blue-3"), ("tap-red-1", "tap-red-2"), ("tap-blue-1", "tap-blue-2")):
            assert not lab.reaches(source, target), f"{source} -> {target} while hv2 has no flows"
    vm_macs = {port: lab.vm(port)["mac"] for port in ("tap-red-2", "tap-blue-2")}
    from_hv2_vms = [f for f in wire if any(f"{mac} >" in f for mac in vm_macs.values())]
    assert from_hv2_vms == [], "hv2's VMs reached the wire without flows:\n" + "\n".join(from_hv2_vms)
    local_tags = [f for f in wire if any(re.search(rf"vlan {vlan}\b", f) for vlan in local.values() if vlan != 100)]
    assert local_tags == [], local_tags
    assert not [f for f in red if "52:54:00:02:" in f], red
    assert not [f for f in blue if "52:54:00:01:" in f], blue

    hv2.exec(str(hv2.dir / "state" / "restore-flows"))
    assert lab.reaches("tap-red-2", "tap-red-1") and lab.reaches("tap-blue-2", "tap-blue-3"), "the restore hook brings both back"
    assert not lab.reaches("tap-red-2", "tap-blue-1")
