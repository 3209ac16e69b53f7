"""examples/fleet, the inventory of a real fleet (libvirt-attached VMs, a bonded uplink, jumbo underlay,
a provider NIC on a kernel-datapath host): it validates, and each host's plan carries what the example
promises its reader. The namespace lab cannot build it (libvirt domains, a kernel datapath), so this is
where the example is kept honest."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan

FLEET = Path(__file__).resolve().parents[4] / "examples" / "fleet"


def fleet_plans():
    hosts = yaml.safe_load((FLEET / "hosts.yml").read_text())["hypervisors"]["hosts"]
    group = yaml.safe_load((FLEET / "group_vars" / "hypervisors.yml").read_text())
    return plan.fabric_plan(plan.build(hosts, group))


def fabric_ports(host_plan, bridge):
    return next(s["ports"] for s in host_plan["ports"]["fabric"] if s["bridge"] == bridge)


def test_the_bonded_uplinks_are_bonds_on_br_phy_at_the_underlay_mtu():
    plans = fleet_plans()
    bond = fabric_ports(plans["hv1"], "br-phy")[0]
    assert (bond["name"], bond["interfaces"], bond["bond_mode"], bond["bond_updelay"], bond["mtu_request"]) == \
        ("bond0", ["eno1", "eno2"], "balance-slb", 100, 9000)
    assert fabric_ports(plans["hv2"], "br-phy")[0]["bond_mode"] == "active-backup"
    assert plans["hv1"]["underlay"]["members"] == ["eno1", "eno2"] and plans["hv1"]["underlay"]["bridge"] == "br-phy"


def test_the_libvirt_vms_are_known_by_mac_in_their_tenants_portgroup_at_the_tenant_mtu():
    plans = fleet_plans()
    for host, tenants in {"hv1": {"red", "blue", "storage"}, "hv2": {"red", "blue"}, "hv3": {"red", "storage"}}.items():
        libvirt = plans[host]["libvirt"]
        assert {group["name"] for group in libvirt["network"]["portgroups"]} == tenants
        assert {entry["tenant"] for entry in libvirt["map"]["ports"].values()} == tenants
        assert {entry["mtu"] for entry in libvirt["map"]["ports"].values()} == {1500}
        # libvirt adds those ports itself: the tenants role never creates them
        assert not any(port["name"].startswith("lv-") for port in plans[host]["ports"]["tenants"]["ports"])
    assert plans["hv3"]["libvirt"]["map"]["ports"]["52:54:00:03:00:01"]["tenant"] == "storage", "hv3 cannot take hv1's migrating VM"


def test_the_kernel_datapath_host_carries_the_provider_vlan_on_its_own_nic():
    hv3 = fleet_plans()["hv3"]
    assert [port["name"] for port in fabric_ports(hv3, "br-provider")] == ["eno2", "phy-br-provider"]
    assert fabric_ports(hv3, "br-phy") == []
    assert hv3["underlay"]["bridge"] is None and hv3["underlay"]["links"] == [{"name": "eno1", "mtu": 9000}]
