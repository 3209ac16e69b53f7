"""Local VLANs and br-int port numbers stay where the host has them (issue: adding a tenant moved another).

The host's own read (ovs_info of br-int, as the netfabric role registers it) is the only input
besides the inventory; these tests feed recorded-shape reads and check that nothing already in
use ever moves and that newcomers never take what is in use.
"""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import (
    Seen,
    allocate_local_vlans,
    allocate_ofports,
    preferred_vlan,
)

# Two VNIs whose preferred slots collide: without the host's read, adding 99 moves 50000.
COLLIDING = [("vxlan", 50000), ("vxlan", 99)]


def test_the_colliding_pair_collides():
    assert preferred_vlan(*COLLIDING[0]) == preferred_vlan(*COLLIDING[1])
    alone = allocate_local_vlans([COLLIDING[0]])
    both = allocate_local_vlans(COLLIDING)
    assert both[COLLIDING[0]] != alone[COLLIDING[0]], "without a read, the newcomer takes the old tenant's slot"


def test_kept_vlans_win_over_preferred_slots():
    alone = allocate_local_vlans([COLLIDING[0]])
    both = allocate_local_vlans(COLLIDING, keep=alone)
    assert both[COLLIDING[0]] == alone[COLLIDING[0]]
    assert both[COLLIDING[1]] not in alone.values()


def test_kept_vlans_never_move_in_any_order_of_changes():
    keys = [("vxlan", n) for n in (1, 2, 3, 50000, 99, 4094)] + [("gre", 7)]
    for order in itertools.islice(itertools.permutations(keys), 200):
        have: dict = {}
        for key in order:
            nxt = allocate_local_vlans([*have, key], keep=have)
            assert all(nxt[k] == v for k, v in have.items())
            assert len(set(nxt.values())) == len(nxt)
            have = nxt


def test_a_bogus_or_doubled_read_is_repaired_not_trusted():
    got = allocate_local_vlans([("vxlan", 1), ("vxlan", 2)], keep={("vxlan", 1): 9, ("vxlan", 2): 9, ("vxlan", 3): 5})
    assert got[("vxlan", 1)] == 9 and got[("vxlan", 2)] != 9
    assert allocate_local_vlans([("vxlan", 1)], keep={("vxlan", 1): 5000})[("vxlan", 1)] == preferred_vlan("vxlan", 1)


def test_ports_keep_their_numbers_and_newcomers_avoid_every_number_in_use():
    seen = Seen(ofports={"tap-b": 10001}, taken_ofports=frozenset({1, 2, 10001, 10002}))
    got = allocate_ofports(["tap-a", "tap-b", "tap-c"], seen)
    assert got == {"tap-a": 10003, "tap-b": 10001, "tap-c": 10004}
    assert allocate_ofports(["tap-a", "tap-b"], Seen()) == {"tap-a": 10001, "tap-b": 10002}


def hosts_and_fabric(tenant_ids):
    tenants = [{"name": f"t{n}", "tunnel_id": n} for n in tenant_ids]
    hosts = {
        "hv1": {
            "netfabric_underlay_ip": "172.31.0.1/24",
            "netfabric_uplink": "eth0",
            "netfabric_ports": [{"name": f"tap-{n}", "tenant": f"t{n}"} for n in tenant_ids],
        }
    }
    return hosts, {"netfabric_tenants": tenants}


def info_of(host_plan):
    """What ovs_info would read back from br-int after this plan converged (ports only)."""
    ports = {}
    for port in host_plan["ports"]["tenants"]["ports"]:
        ports[port["name"]] = {
            "bridge": "br-int",
            "tag": port["tag"],
            "ofport": port["ofport_request"],
            "ofport_request": port["ofport_request"],
            "external_ids": {"netfabric_owner": "netfabric-tenants", **port["external_ids"]},
        }
    ports["vnet0"] = {"bridge": "br-int", "tag": None, "ofport": 3, "ofport_request": None, "external_ids": {}}  # libvirt's
    ports["eth9"] = {"bridge": "br-ex", "tag": 7, "ofport": 10003, "external_ids": {"netfabric_tenant": "t9"}}
    return {"bridges": {"br-int": {}}, "ports": ports}


def vlans(host_plan):
    return {t["name"]: t["local_vlan"] for t in host_plan["tenants"]}


@pytest.mark.parametrize("with_read", [True, False])
def test_adding_a_colliding_tenant_moves_nobody_when_the_host_was_read(with_read):
    before = plan.fabric_plan(plan.build(*hosts_and_fabric([50000])))["hv1"]
    seen = {"hv1": plan.seen(info_of(before))} if with_read else None
    after = plan.fabric_plan(plan.build(*hosts_and_fabric([50000, 99]), seen))["hv1"]
    moved = vlans(after)["t50000"] != vlans(before)["t50000"]
    assert moved is not with_read
    if with_read:
        port = next(p for p in after["ports"]["tenants"]["ports"] if p["name"] == "tap-50000")
        assert port["tag"] == vlans(before)["t50000"] and port["ofport_request"] == 10001
        newcomer = next(p for p in after["ports"]["tenants"]["ports"] if p["name"] == "tap-99")
        assert newcomer["ofport_request"] == 10002


def test_the_read_counts_foreign_numbers_as_taken_and_only_tenant_ports_as_kept():
    before = plan.fabric_plan(plan.build(*hosts_and_fabric([1])))["hv1"]
    seen = plan.seen(info_of(before))
    assert seen.vlans == {"t1": vlans(before)["t1"]}
    assert seen.ofports == {"tap-1": 10001}
    assert seen.taken_ofports == {3, 10001}  # br-ex's eth9 is another bridge's business


def test_removing_a_tenant_moves_nobody():
    ids = [50000, 99, 7]
    full = plan.fabric_plan(plan.build(*hosts_and_fabric(ids)))["hv1"]
    seen = {"hv1": plan.seen(info_of(full))}
    less = plan.fabric_plan(plan.build(*hosts_and_fabric([99, 7]), seen))["hv1"]
    assert {k: v for k, v in vlans(full).items() if k != "t50000"} == vlans(less)
