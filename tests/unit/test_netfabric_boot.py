"""roles/pipeline/files/netfabric-boot.py, the boot unit's script: what it would write, from recorded `ip -j` output.

The script is run through `ip -batch -` in tests/integration/test_boot.py and at a real reboot in the
molecule scenario `reboot`; here every branch of its plan, on real `ip` output (fixtures/iproute).
"""

from __future__ import annotations

import copy
import json

import pytest
from role_script import FIXTURES, REPO, load  # beside this file

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.link import add_line
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.spec import SPECIFIC
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import nic, plan, underlay

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


# A kernel bond (system-datapath and Linux-bridge hosts), as the plan gives it (underlay.py, nic.py), on the kernel
# lab's host after a reboot as the kernel sees it (addr_bond_rebooted_uml.json: no bond0, the address back on m1 as
# the OS's configuration puts it, m2 down) and on one whose bond is there (link_bond_uml.json: bond0 of m1 and m2).
BOND0 = nic.Bond("bond0", ("m1", "m2"))


def bonded(bond=BOND0, alias="netfabric:netfabric", vlans=()):
    links = underlay.uplink(bond, 1600, netdev=False)[1]
    state = {"address": "192.0.2.1", "prefix": 24, "uplink": bond.name, "bridge": None, "mtu": 1600, "links": links,
             "members": list(bond.members), **underlay.kernel_bond(bond, netdev=False)}
    state["kernel_bond"]["alias"] = alias
    return {"underlay": state, "links": [vlan(f"{bond.name}.{vid}", bond.name, vid) for vid in vlans], "owner": OWNER}


def test_a_kernel_bond_lost_at_reboot_is_made_again_before_its_subinterfaces():
    lines, problems = boot.plan(bonded(vlans=[100]), links("addr_bond_rebooted_uml.json"))
    assert lines == [
        "link add name bond0 type bond mode active-backup miimon 100 updelay 0 downdelay 0",
        "link set dev bond0 mtu 1600 alias netfabric:netfabric",
        "link set dev m1 down", "link set dev m1 master bond0", "link set dev m2 down", "link set dev m2 master bond0",
        "link set dev m1 up", "link set dev m2 up", "link set dev bond0 up",
        "address add 192.0.2.1/24 dev bond0", "address del 192.0.2.1/24 dev m1",
        "link add link bond0 name bond0.100 type vlan id 100", f"link set dev bond0.100 alias {OWNER}", "link set dev bond0.100 up",
    ]
    assert problems == []


def test_it_waits_for_the_members_of_the_bond_it_makes():
    assert boot.needed_devices(bonded(vlans=[100])) == ["m1", "m2"]


@pytest.mark.parametrize("given", [
    nic.Bond("bond0", ("m1", "m2"), "balance-tcp", "active", "fast", 200, 100),
    nic.Bond("bond0", ("m1", "m2"), "balance-tcp", "passive"),
    nic.Bond("bond0", ("m1", "m2"), "balance-slb"),
])
def test_the_bond_is_made_with_the_line_ip_link_would_write(given):
    """The options come from the plan's ip_link arguments (nic.KERNEL_MODES); the script spells them as the module does."""
    want = underlay.uplink(given, 1600, netdev=False)[1][0]
    lines, _problems = boot.plan(bonded(given), links("addr_bond_rebooted_uml.json"))
    assert lines[0] == " ".join(add_line({**dict.fromkeys(SPECIFIC), **want}))


def test_a_bond_that_is_there_needs_nothing():
    host = links("link_bond_uml.json")  # bond0 with m1 and m2, up at MTU 1600 with 192.0.2.1/24, marked netfabric:kbx
    assert boot.plan(bonded(alias="netfabric:kbx"), host) == ([], [])
    host["bond0"] = dict(host["bond0"], flags=["BROADCAST", "MULTICAST", "MASTER"], mtu=1500)
    assert boot.plan(bonded(alias="netfabric:kbx"), host) == (["link set dev bond0 mtu 1600", "link set dev bond0 up"], [])


def test_a_link_named_as_the_bond_that_is_not_the_fabrics_is_left_alone_and_reported():
    """bond1 is a bond without the mark, p1 a veth: neither is touched, nor the address, nor a subinterface on it."""
    host = links("link_bond_uml.json")
    for name in ("bond1", "p1"):
        lines, problems = boot.plan(bonded(nic.Bond(name, ("m4", "p4")), vlans=[100]), host)
        assert lines == []
        assert [p.split(":")[0] for p in problems] == [name, f"{name}.100"]
    lines, problems = boot.plan(bonded(nic.Bond("bond0", ("m1", "m3")), alias="netfabric:kbx"), host)  # m3 is bond1's
    assert lines == [] and [p.split(":")[0] for p in problems] == ["m3"]


@pytest.mark.parametrize("backend", ["ovs", "linuxbridge"])
def test_the_boot_slice_of_a_host_with_a_kernel_bond_is_all_the_script_needs(backend):
    """The boot state as the pipeline role's defaults make it from a system-datapath (or Linux-bridge) host's plan."""
    inventory = json.loads((REPO / "tests/unit/plugins/plugin_utils/fixtures/example_inventory.json").read_text())
    hosts, fabric = inventory["hosts"], inventory["fabric"]
    hosts["hv3"].update(netfabric_uplink={"name": "bond0", "members": ["m1", "m2"]}, netfabric_backend=backend, netfabric_datapath_type="system")
    hv3 = plan.fabric_plan(plan.build(hosts, fabric))["hv3"]
    state = {"underlay": hv3["underlay"], "links": hv3["vlan_subinterfaces"], "owner": OWNER}
    lines, problems = boot.plan(state, links("addr_bond_rebooted_uml.json"))
    assert lines[:2] == ["link add name bond0 type bond mode active-backup miimon 100 updelay 0 downdelay 0",
                         f"link set dev bond0 mtu {hv3['underlay']['mtu']} alias netfabric:netfabric"]
    assert lines[8:10] == ["link set dev bond0 up", f"address add {hv3['underlay']['address']}/24 dev bond0"] and problems == []


def linuxbridge_state(mode="l2pop"):
    """The boot state of examples/linuxbridge's hv1 as the pipeline role's defaults make it."""
    inventory = json.loads((REPO / "tests/unit/plugins/plugin_utils/fixtures/example_inventory.json").read_text())
    hosts, fabric = inventory["hosts"], inventory["fabric"]
    hosts = {name: dict(values, netfabric_backend="linuxbridge", netfabric_datapath_type="system") for name, values in hosts.items()}
    fabric["netfabric_tenants"][1]["overlay"] = "gre"  # red VXLAN, blue a GRE mesh, and the provider VLANs
    hv1 = plan.fabric_plan(plan.build(hosts, dict(fabric, netfabric_mode=mode)))["hv1"]
    return {"underlay": hv1["underlay"], "links": hv1["vlan_subinterfaces"], "owner": OWNER, "linuxbridge": hv1["linuxbridge"]["boot"]}


def test_a_rebooted_linux_bridge_host_gets_its_bridges_devices_entries_and_ports_back():
    """Recorded where the script ran: a namespace with the uplink and two VM ports, before and after."""
    state = json.loads((FIXTURES / "linuxbridge_boot_hv1.json").read_text())
    assert boot.needed_devices(state) == ["uplink"]
    lines, problems = boot.plan(state, links("addr_linuxbridge_rebooted.json"))
    made = [line for link in state["linuxbridge"]["links"] for line in link["ip"]]
    assert problems == [] and lines[:len(made)] == made  # bridges first, then the devices that join them
    rest = lines[len(made):]
    # per device made, its neighbours and its entries (main() sends `fdb` lines to bridge); then the ports
    assert [line.split()[0] for line in rest] == ["neigh"] * 2 + ["fdb"] * 2 + ["neigh"] * 2 + ["fdb"] * 4 + ["link"] * 2
    assert "link set dev tap-red-1 mtu 1450 master brq-red up" in rest
    assert boot.plan(state, links("addr_linuxbridge_booted.json")) == ([], [])


def test_a_linux_bridge_link_there_is_never_remade_and_one_not_ours_is_reported():
    state = json.loads((FIXTURES / "linuxbridge_boot_hv1.json").read_text())
    host = links("addr_linuxbridge_booted.json")
    del host["vxlan-1001"]["ifalias"]  # someone else's vxlan-1001
    host["tap-red-1"].pop("master")
    lines, problems = boot.plan(state, host)
    assert lines == ["link set dev tap-red-1 mtu 1450 master brq-red up"]  # nothing for the device, nor its entries
    assert problems == ["vxlan-1001: exists but is not the fabric's (alias netfabric:netfabric-linuxbridge); left alone"]
    rebooted = links("addr_linuxbridge_rebooted.json")
    del rebooted["uplink"]
    lines, problems = boot.plan(state, rebooted)
    assert all("vxlan" not in line for line in lines) and len(problems) == 3, problems  # two devices, and the uplink's MTU


@pytest.mark.parametrize("mode", ["learning", "l2pop"])
def test_the_linux_bridge_boot_slice_is_the_lines_ip_link_and_bridge_fdb_write(mode):
    state = linuxbridge_state(mode)
    lines, problems = boot.plan(state, {"uplink": {"ifname": "uplink", "mtu": state["underlay"]["mtu"], "flags": ["UP"]}})
    assert problems == []
    kinds = {link["name"]: link["ip"][0].split(" type ")[1].split()[0] for link in state["linuxbridge"]["links"]}
    assert set(kinds.values()) == {"bridge", "vxlan", "gretap", "vlan"}  # the example has every kind
    adds = [line.split(" name ")[1].split()[0] for line in lines if line.startswith("link add")]
    assert adds == list(kinds)
    entries = [line for line in lines if line.startswith("fdb ")]
    assert bool([line for line in lines if line.startswith("neigh ")]) == (mode == "l2pop") and entries
