"""Tunnel names, local VLAN allocation and stability, peers, and a fabric of 1,000 hosts."""

from __future__ import annotations

import copy
import json
from itertools import combinations
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import (
    LOCAL_VLANS,
    allocate_local_vlans,
    preferred_vlan,
    tunnel_port_name,
)

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "example_inventory.json").read_text())


def example():
    return copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])


def fabric_of(n_hosts, tenants_on):
    """n_hosts hypervisors; tenants_on maps tenant -> (overlay, tunnel_id, [host indexes])."""
    hosts = {f"hv{i}": {"netfabric_underlay_ip": f"10.{i // 250}.{i % 250}.1/8", "netfabric_uplink": "eth0", "netfabric_ports": []} for i in range(n_hosts)}
    tenants = []
    for name, (overlay, tunnel_id, where) in tenants_on.items():
        tenants.append({"name": name, "tunnel_id": tunnel_id, "overlay": overlay})
        for i in where:
            hosts[f"hv{i}"]["netfabric_ports"].append({"name": f"{name}-{i}"[:15], "tenant": name})
    return plan.build(hosts, {"netfabric_tenants": tenants})


# ---------------------------------------------------------------- tunnel names


@pytest.mark.parametrize(
    ("overlay", "address", "name"),
    [
        ("vxlan", "172.31.0.2", "vxlan-ac1f0002"),
        ("gre", "172.31.0.2", "gre-ac1f0002"),
        ("vxlan", "10.0.0.1", "vxlan-0a000001"),
        ("gre", "255.255.255.254", "gre-fffffffe"),
    ],
)
def test_ipv4_tunnel_names_follow_neutron(overlay, address, name):
    assert tunnel_port_name(overlay, address) == name


def test_ipv6_tunnel_names_are_short_stable_hashes():
    first = tunnel_port_name("vxlan", "fd00::1")
    assert first == tunnel_port_name("vxlan", "fd00:0:0::1")  # same address, other spelling
    assert first != tunnel_port_name("vxlan", "fd00::2")
    assert first.startswith("vxlan-") and len(first) <= 15
    assert len(tunnel_port_name("gre", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")) <= 15


# ---------------------------------------------------------------- local VLANs


def test_local_vlans_are_distinct_and_in_range_when_full():
    keys = [("vxlan", i) for i in range(LOCAL_VLANS)]
    vlans = allocate_local_vlans(keys)
    assert sorted(vlans.values()) == list(range(1, LOCAL_VLANS + 1))


def test_local_vlan_is_the_preferred_slot_without_collision():
    vlans = allocate_local_vlans([("vxlan", 1001), ("gre", 1001)])
    assert vlans[("vxlan", 1001)] == preferred_vlan("vxlan", 1001)
    assert vlans[("gre", 1001)] == preferred_vlan("gre", 1001)


def test_collision_probes_to_the_next_free_slot():
    # Find two tunnel ids with the same preferred slot, then check the later one moves up by one.
    seen = {}
    for tunnel_id in range(100000):
        slot = preferred_vlan("vxlan", tunnel_id)
        if slot in seen and slot < LOCAL_VLANS:
            first, second = seen[slot], tunnel_id
            break
        seen[slot] = tunnel_id
    vlans = allocate_local_vlans([("vxlan", second), ("vxlan", first)])
    assert vlans[("vxlan", first)] == slot
    assert vlans[("vxlan", second)] == slot + 1


def test_local_vlans_stay_when_a_tenant_is_added():
    hosts, fabric = example()
    before = plan.fabric_plan(plan.build(hosts, fabric))
    fabric["netfabric_tenants"].append({"name": "green", "tunnel_id": 1003})
    for name in hosts:
        hosts[name]["netfabric_ports"].append({"name": f"tap-green-{name[-1]}", "tenant": "green"})
    after = plan.fabric_plan(plan.build(hosts, fabric))
    for name in hosts:
        old = {t["name"]: t["local_vlan"] for t in before[name]["tenants"]}
        new = {t["name"]: t["local_vlan"] for t in after[name]["tenants"]}
        assert {k: new[k] for k in old} == old
        assert new["green"] not in old.values()


def test_local_vlans_depend_only_on_the_host_itself():
    """A host's VLANs are the same whatever other hosts carry."""
    small = fabric_of(2, {"a": ("vxlan", 5, [0, 1]), "b": ("gre", 6, [0])})
    large = fabric_of(3, {"a": ("vxlan", 5, [0, 1, 2]), "b": ("gre", 6, [0, 2]), "c": ("vxlan", 7, [2])})
    assert small.local_vlans("hv0") == large.local_vlans("hv0")


# ---------------------------------------------------------------- peers


def test_vxlan_tunnels_only_to_hosts_sharing_a_tenant():
    topo = fabric_of(5, {"a": ("vxlan", 1, [0, 1]), "b": ("vxlan", 2, [1, 2]), "c": ("vxlan", 3, [3])})
    assert topo.peers("hv0") == [("vxlan", "hv1")]
    assert topo.peers("hv1") == [("vxlan", "hv0"), ("vxlan", "hv2")]
    assert topo.peers("hv2") == [("vxlan", "hv1")]
    assert topo.peers("hv3") == []
    assert topo.peers("hv4") == []


def test_gre_is_a_full_mesh_among_gre_hosts():
    n = 6
    # Tenants that never share a host: GRE still meshes every host carrying any GRE tenant.
    topo = fabric_of(n + 1, {f"t{i}": ("gre", 100 + i, [i]) for i in range(n)})
    links = {frozenset((host, peer)) for host in topo.fabric.hosts for _overlay, peer in topo.peers(host)}
    assert len(links) == n * (n - 1) // 2
    assert links == {frozenset(pair) for pair in combinations([f"hv{i}" for i in range(n)], 2)}
    assert topo.peers(f"hv{n}") == []  # no GRE tenant, no tunnel


def test_floods_reach_only_hosts_with_the_tenant_even_over_gre():
    topo = fabric_of(4, {"a": ("gre", 1, [0, 1]), "b": ("gre", 2, [0, 2, 3])})
    hv0 = plan.host_plan(topo, "hv0")
    vlan = {t["name"]: t["local_vlan"] for t in hv0["tenants"]}
    flood = {f.split(",")[3]: f for f in hv0["flows"]["br-tun"] if f.startswith("table=21,priority=1,")}
    a, b = flood[f"dl_vlan={vlan['a']}"], flood[f"dl_vlan={vlan['b']}"]
    name = {h: topo.tunnel_name("gre", h) for h in ("hv1", "hv2", "hv3")}
    assert a.startswith("table=21,priority=1,tun_id=0x1,") and a.endswith(f"actions=pop_vlan,output:{name['hv1']}")
    assert b.startswith("table=21,priority=1,tun_id=0x2,") and b.endswith(f"actions=pop_vlan,output:{name['hv2']},output:{name['hv3']}")
    assert len(hv0["tunnels"]) == 3


def test_mixed_overlays_give_both_tunnel_kinds():
    topo = fabric_of(2, {"a": ("gre", 1, [0, 1]), "b": ("vxlan", 2, [0, 1])})
    assert [t["name"] for t in plan.host_plan(topo, "hv0")["tunnels"]] == [
        tunnel_port_name("gre", "10.0.1.1"),
        tunnel_port_name("vxlan", "10.0.1.1"),
    ]


# ---------------------------------------------------------------- scale


def big_inventory(n_hosts=1000, n_tenants=4000, per_tenant=3, mode="learning", overlay="vxlan"):
    hosts = {
        f"hv{i:04d}": {
            "netfabric_underlay_ip": f"172.16.{i // 250}.{i % 250 + 1}/16",
            "netfabric_uplink": "eth0",
            "netfabric_datapath_type": "netdev",
            "netfabric_ports": [],
        }
        for i in range(n_hosts)
    }
    names = sorted(hosts)
    tenants = []
    for t in range(n_tenants):
        tenants.append({"name": f"tenant{t}", "tunnel_id": 5000 + t, "subnets": ["10.0.0.0/16"]})
        for k in range(per_tenant):
            host = names[(t * 7 + k * 331) % n_hosts]
            hosts[host]["netfabric_ports"].append(
                {"name": f"vm{t}-{k}", "tenant": f"tenant{t}", "mac": f"52:54:{t >> 8:02x}:{t & 255:02x}:00:{k:02x}", "ip": f"10.0.{k}.{t % 250 + 1}"}
            )
    fabric = {"netfabric_tenants": tenants, "netfabric_mode": mode, "netfabric_overlay": overlay}
    return hosts, fabric


def test_thousand_hosts_and_four_thousand_tenants_complete():
    hosts, fabric = big_inventory(mode="l2pop")
    topo = plan.build(hosts, fabric)
    plans = plan.fabric_plan(topo)
    assert len(plans) == 1000
    ports = sum(len(p["ports"]["tenants"]["ports"]) for p in plans.values())
    assert ports == 12000
    assert sum(len(p["tenants"]) for p in plans.values()) == 12000


def test_provider_vlan_tenants_make_no_tunnel_peers():
    hosts = {f"hv{i}": {"netfabric_underlay_ip": f"10.0.0.{i + 1}/24", "netfabric_uplink": "eth0", "netfabric_datapath_type": "netdev"} for i in range(4)}
    tenants = [
        {"name": "a", "tunnel_id": 1, "overlay": "vxlan", "provider_vlan": 10},
        {"name": "b", "tunnel_id": 2, "overlay": "gre", "provider_vlan": 20},
        {"name": "c", "tunnel_id": 3, "overlay": "vxlan"},
    ]
    where = {"a": [0, 1, 2, 3], "b": [0, 1, 2, 3], "c": [0, 1]}
    for name, indexes in where.items():
        for i in indexes:
            hosts[f"hv{i}"].setdefault("netfabric_ports", []).append({"name": f"{name}-{i}", "tenant": name})
    topo = plan.build(hosts, {"netfabric_tenants": tenants})
    assert topo.peers("hv0") == [("vxlan", "hv1")]  # only c is tunnelled
    assert topo.peers("hv2") == [] and topo.peers("hv3") == []  # a and b only: the wire carries them
    assert topo.gre_hosts == ()  # b is GRE by name only
    assert topo.tenant_peers("hv2", "a") == ("hv0", "hv1", "hv3")  # still the hosts sharing it
