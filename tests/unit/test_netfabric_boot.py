"""roles/pipeline/files/netfabric-boot.py, the boot unit's script: what it would write, from recorded `ip -j` output.

The script is run through `ip -batch -` in tests/integration/test_boot.py and at a real reboot in the
molecule scenario `reboot`; here every branch of its plan, on real `ip` output (fixtures/iproute).
"""

from __future__ import annotations

import copy
import json

from role_script import FIXTURES, load  # beside this file

boot = load("pipeline", "netfabric-boot")

OWNER = "netfabric:provider_vlans"


def links(name):
    return {link["ifname"]: link for link in json.loads((FIXTURES / name).read_text())}


def vlan(name, parent, vid):
    return {"name": name, "kind": "vlan", "link": parent, "vlan_id": vid, "state": "up"}


def test_a_subinterface_that_is_there_needs_nothing():
    assert boot.plan({"links": [vlan("d0.100", "d0", 100)], "owner": OWNER}, links("link_uml.json")) == ([], [])


def test_a_lost_subinterface_comes_back_marked_and_up():
    lines, problems = boot.plan({"links": [vlan("d0.200", "d0", 200)], "owner": OWNER}, links("link_uml.json"))
    assert lines == ["link add link d0 name d0.200 type vlan id 200", f"link set dev d0.200 alias {OWNER}", "link set dev d0.200 up"]
    assert problems == []


def test_mtu_and_up_state_are_put_back_in_place():
    host = links("link_uml.json")
    host["d0.100"] = dict(host["d0.100"], flags=["BROADCAST"])
    lines, _problems = boot.plan({"links": [dict(vlan("d0.100", "d0", 100), mtu=1500)]}, host)
    assert lines == ["link set dev d0.100 mtu 1500", "link set dev d0.100 up"]


def test_a_link_that_is_not_the_vlan_is_left_alone_and_reported():
    lines, problems = boot.plan({"links": [vlan("d0.100", "d0", 300), vlan("d1", "d0", 5), vlan("x.7", "nope", 7)]}, links("link_uml.json"))
    assert lines == []
    assert [p.split(":")[0] for p in problems] == ["d0.100", "d1", "x.7"]


UNDERLAY = {"address": "192.0.2.9", "prefix": 24, "uplink": "v0p", "bridge": "br0"}


def test_the_underlay_address_moves_from_the_uplink_onto_the_bridge():
    lines, problems = boot.plan({"underlay": UNDERLAY}, links("addr_host.json"))
    assert lines == ["address add 192.0.2.9/24 dev br0", "address del 192.0.2.9/24 dev v0p"]
    assert problems == []


def test_a_bridge_that_is_down_is_brought_up_and_a_moved_address_needs_nothing():
    host = links("addr_host.json")
    moved = copy.deepcopy(host)
    moved["br0"]["addr_info"].append({"family": "inet", "local": "192.0.2.9", "prefixlen": 24})
    moved["v0p"]["addr_info"] = []
    assert boot.plan({"underlay": UNDERLAY}, moved) == ([], [])
    moved["br0"]["flags"] = ["BROADCAST", "MULTICAST"]
    assert boot.plan({"underlay": UNDERLAY}, moved) == (["link set dev br0 up"], [])


def test_no_bridge_in_the_plan_or_on_the_host_no_move():
    assert boot.plan({"underlay": dict(UNDERLAY, bridge=None)}, links("addr_host.json")) == ([], [])
    lines, problems = boot.plan({"underlay": dict(UNDERLAY, bridge="br-phy")}, links("addr_host.json"))
    assert lines == [], "without the bridge the address stays on the uplink: the host stays reachable"
    assert problems and problems[0].startswith("br-phy:")


def test_it_waits_for_the_bridge_and_the_parents():
    state = {"underlay": UNDERLAY, "links": [vlan("d0.5", "d0", 5)]}
    assert boot.needed_devices(state) == ["br0", "d0", "v0p"]
    assert boot.needed_devices({"underlay": dict(UNDERLAY, bridge=None)}) == []


def test_a_bonded_uplink_is_its_members():
    """An Open vSwitch bond has no kernel device: the script waits for its members and takes the address off them."""
    bonded = dict(UNDERLAY, uplink="bond0", members=["v0p", "v9"])
    assert boot.needed_devices({"underlay": bonded}) == ["br0", "v0p", "v9"]
    lines, problems = boot.plan({"underlay": bonded}, links("addr_host.json"))
    assert lines == ["address add 192.0.2.9/24 dev br0", "address del 192.0.2.9/24 dev v0p"]
    assert problems == []


def test_a_system_hosts_uplink_gets_the_underlay_mtu_back():
    """A NIC OVS does not own (system datapath) comes back from a reboot at its default MTU."""
    state = {"underlay": {"address": "192.0.2.9", "prefix": 24, "uplink": "v0p", "bridge": None, "links": [{"name": "v0p", "mtu": 1600}]}}
    assert boot.needed_devices(state) == ["v0p"]
    assert boot.plan(state, links("addr_host.json")) == (["link set dev v0p mtu 1600"], [])
    host = links("addr_host.json")
    host["v0p"] = dict(host["v0p"], mtu=1600)
    assert boot.plan(state, host) == ([], [])
    missing = dict(state, underlay=dict(state["underlay"], links=[{"name": "nope0", "mtu": 1600}]))
    lines, problems = boot.plan(missing, host)
    assert lines == [] and [p.split(":")[0] for p in problems] == ["nope0"]
