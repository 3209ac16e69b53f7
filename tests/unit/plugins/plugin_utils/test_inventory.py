"""Every validation rule: one bad inventory each, and the message must name the culprit."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError, validate

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "example_inventory.json").read_text())


def example():
    return copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])


def problems(hosts, fabric):
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric)
    # The message lists every problem, so each must appear in str() too.
    for problem in info.value.problems:
        assert problem in str(info.value)
    return info.value.problems


def only_problem(hosts, fabric):
    found = problems(hosts, fabric)
    assert len(found) == 1, found
    return found[0]


def tenant(fabric, name):
    return next(t for t in fabric["netfabric_tenants"] if t["name"] == name)


def port(hosts, host, name):
    return next(p for p in hosts[host]["netfabric_ports"] if p["name"] == name)


def test_example_is_valid():
    fabric = validate(*example())
    assert list(fabric.hosts) == ["hv1", "hv2", "hv3"]
    assert fabric.flow_cookie == 0x4E46
    assert fabric.hosts["hv1"].ports[0].ip == "10.0.0.1"  # prefix dropped


def test_duplicate_tunnel_id_within_overlay():
    hosts, fabric = example()
    tenant(fabric, "blue")["tunnel_id"] = 1001
    message = only_problem(hosts, fabric)
    assert "blue" in message and "red" in message and "vxlan tunnel_id 1001" in message


def test_same_tunnel_id_in_two_overlays_is_fine_apart():
    hosts, fabric = example()
    fabric["netfabric_tenants"].append({"name": "green", "tunnel_id": 1001, "overlay": "gre"})
    validate(hosts, fabric)


def test_same_tunnel_id_in_two_overlays_on_one_host():
    hosts, fabric = example()
    fabric["netfabric_tenants"].append({"name": "green", "tunnel_id": 1001, "overlay": "gre"})
    hosts["hv2"]["netfabric_ports"].append({"name": "tap-green-2", "tenant": "green"})
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv2:") and "green" in message and "red" in message


@pytest.mark.parametrize(
    ("overlay", "value", "ok"),
    [
        ("vxlan", 16777215, True),
        ("vxlan", 16777216, False),
        ("vxlan", -1, False),
        ("gre", 16777216, True),
        ("gre", 4294967295, True),
        ("gre", 4294967296, False),
        ("vxlan", "lots", False),
        ("vxlan", True, False),
        ("vxlan", None, False),
    ],
)
def test_tunnel_id_range(overlay, value, ok):
    hosts, fabric = example()
    tenant(fabric, "red").update(overlay=overlay, tunnel_id=value)
    if ok:
        validate(hosts, fabric)
        return
    found = problems(hosts, fabric)
    # the tenant is dropped as invalid, so its ports also report an unknown tenant
    assert found[0].startswith("tenant red:") and "tunnel_id" in found[0]
    if isinstance(value, int):  # out of range: for which overlay
        assert f"tunnel_id (a {'VNI' if overlay == 'vxlan' else 'GRE key'} for {overlay}): {value!r} is out of range" in found[0]


def test_port_on_unknown_tenant():
    hosts, fabric = example()
    port(hosts, "hv2", "tap-blue-2")["tenant"] = "green"
    message = only_problem(hosts, fabric)
    assert message == "host hv2 port tap-blue-2: unknown tenant 'green'"


def test_duplicate_port_name_on_a_host():
    hosts, fabric = example()
    port(hosts, "hv3", "tap-blue-3")["name"] = "tap-red-3"
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv3 port tap-red-3:") and "twice" in message


def test_same_port_name_on_two_hosts_is_fine():
    hosts, fabric = example()
    port(hosts, "hv3", "tap-red-3")["name"] = "tap-red-1"
    validate(hosts, fabric)


def test_duplicate_mac():
    hosts, fabric = example()
    port(hosts, "hv3", "tap-red-3")["mac"] = "52:54:00:01:00:01"
    message = only_problem(hosts, fabric)
    assert "host hv3 port tap-red-3" in message and "host hv1 port tap-red-1" in message


def test_duplicate_mac_is_case_insensitive():
    hosts, fabric = example()
    port(hosts, "hv3", "tap-red-3")["mac"] = "52:54:00:01:00:01".upper()
    assert "52:54:00:01:00:01" in only_problem(hosts, fabric)


def test_multicast_mac():
    hosts, fabric = example()
    port(hosts, "hv2", "tap-red-2")["mac"] = "01:00:5e:00:00:01"
    assert only_problem(hosts, fabric).startswith("host hv2 port tap-red-2: mac 01:00:5e:00:00:01 is a multicast")


def test_bad_mac():
    hosts, fabric = example()
    port(hosts, "hv2", "tap-red-2")["mac"] = "52:54:00:01:00"
    assert only_problem(hosts, fabric).startswith("host hv2 port tap-red-2: mac")


def test_duplicate_ip_within_a_tenant():
    hosts, fabric = example()
    port(hosts, "hv2", "tap-red-2")["ip"] = "10.0.0.1"
    message = only_problem(hosts, fabric)
    assert "host hv2 port tap-red-2" in message and "host hv1 port tap-red-1" in message and "tenant red" in message


def test_tenants_may_reuse_a_subnet_and_addresses():
    hosts, fabric = example()
    assert tenant(fabric, "red")["subnets"] == tenant(fabric, "blue")["subnets"]
    assert port(hosts, "hv1", "tap-red-1")["ip"].split("/")[0] == port(hosts, "hv1", "tap-blue-1")["ip"]
    validate(hosts, fabric)


def test_ip_outside_the_tenant_subnets():
    hosts, fabric = example()
    port(hosts, "hv2", "tap-red-2")["ip"] = "10.9.0.2"
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv2 port tap-red-2: ip 10.9.0.2") and "10.0.0.0/24" in message


def test_bad_subnet():
    hosts, fabric = example()
    tenant(fabric, "red")["subnets"] = ["10.0.0.1/24"]
    assert only_problem(hosts, fabric).startswith("tenant red: subnet '10.0.0.1/24'")


def test_host_without_underlay_address():
    hosts, fabric = example()
    del hosts["hv2"]["netfabric_underlay_ip"]
    assert only_problem(hosts, fabric) == "host hv2: missing required arguments: netfabric_underlay_ip"


@pytest.mark.parametrize("value", ["172.31.0.9", "not-an-ip/24", "224.0.0.1/24", "0.0.0.0/0"])
def test_bad_underlay_address(value):
    hosts, fabric = example()
    hosts["hv2"]["netfabric_underlay_ip"] = value
    assert only_problem(hosts, fabric).startswith(f"host hv2: netfabric_underlay_ip: {value!r}")


def test_two_hosts_share_an_underlay_address():
    hosts, fabric = example()
    hosts["hv3"]["netfabric_underlay_ip"] = "172.31.0.1/16"
    message = only_problem(hosts, fabric)
    assert message == "hosts hv1, hv3: share underlay address 172.31.0.1"


def test_mixed_underlay_families():
    hosts, fabric = example()
    hosts["hv3"]["netfabric_underlay_ip"] = "fd00::3/64"
    fabric["netfabric_underlay_mtu"] = 1600
    message = only_problem(hosts, fabric)
    assert "hv3" in message and "IPv6" in message and "hv1, hv2" in message


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a-very-long-name", "longer than 15"),
        ("tap/1", "'/'"),
        ("tap:1", "':'"),
        ("tap 1", "whitespace"),
        ("", "port #1: '' is not a valid interface name"),
    ],
)
def test_port_names_the_kernel_rejects(name, why):
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")["name"] = name
    message = only_problem(hosts, fabric)
    assert "host hv1 port" in message and why in message


def test_fifteen_characters_is_fine():
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")["name"] = "x" * 15
    validate(hosts, fabric)


@pytest.mark.parametrize("uplink", ["enp0s31f6-is-too-long", "eth/0", "eth 0"])
def test_uplink_names_the_kernel_rejects(uplink):
    hosts, fabric = example()
    hosts["hv2"]["netfabric_uplink"] = uplink
    assert only_problem(hosts, fabric).startswith("host hv2: netfabric_uplink")


def test_missing_uplink():
    hosts, fabric = example()
    del hosts["hv2"]["netfabric_uplink"]
    assert only_problem(hosts, fabric) == "host hv2: missing required arguments: netfabric_uplink"


def test_vlan_subinterface_name_too_long():
    hosts, fabric = example()
    hosts["hv3"]["netfabric_uplink"] = "enp129s0f1np1"  # 13 + ".100" = 17 characters
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv3: VLAN subinterface for provider VLAN 100") and "enp129s0f1np1.100" in message


@pytest.mark.parametrize("name", ["patch-tun", "br-int", "vxlan-ac1f0002", "gre-x", "uplink", "vlan100"])
def test_port_names_that_clash_with_fabric_ports(name):
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")["name"] = name
    assert only_problem(hosts, fabric).startswith(f"host hv1 port {name}: name clashes")


def test_more_tenants_on_a_host_than_local_vlans():
    hosts, fabric = example()
    fabric["netfabric_tenants"] += [{"name": f"t{i}", "tunnel_id": 10000 + i} for i in range(4095)]
    hosts["hv2"]["netfabric_ports"] = [{"name": f"p{i}", "tenant": f"t{i}"} for i in range(4095)]
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv2: carries 4095 tenants") and "4094" in message


def test_4094_tenants_on_a_host_fit():
    hosts, fabric = example()
    fabric["netfabric_tenants"] += [{"name": f"t{i}", "tunnel_id": 10000 + i} for i in range(4094)]
    hosts["hv2"]["netfabric_ports"] = [{"name": f"p{i}", "tenant": f"t{i}"} for i in range(4094)]
    validate(hosts, fabric)


@pytest.mark.parametrize(
    ("overlay", "mtu", "ok"),
    [("vxlan", 1450, True), ("vxlan", 1451, False), ("gre", 1458, True), ("gre", 1459, False)],
)
def test_underlay_mtu_must_carry_tenant_mtu_and_encapsulation(overlay, mtu, ok):
    hosts, fabric = example()
    tenant(fabric, "red").update(overlay=overlay, mtu=mtu)
    if ok:
        validate(hosts, fabric)
        return
    message = only_problem(hosts, fabric)
    overhead = 50 if overlay == "vxlan" else 42
    assert message.startswith(f"tenant red: mtu {mtu} + {overhead} ({overlay} over IPv4)")
    assert "netfabric_underlay_mtu 1500" in message


def test_ipv6_underlay_adds_20_bytes():
    hosts, fabric = example()
    for index, name in enumerate(sorted(hosts), start=1):
        hosts[name]["netfabric_underlay_ip"] = f"fd00::{index}/64"
    found = problems(hosts, fabric)
    assert found == ["tenant red: mtu 1450 + 70 (vxlan over IPv6) exceeds netfabric_underlay_mtu 1500"]
    fabric["netfabric_underlay_mtu"] = 1520
    validate(hosts, fabric)


def test_default_tenant_mtu_is_checked_too():
    hosts, fabric = example()
    fabric["netfabric_underlay_mtu"] = 1400
    found = problems(hosts, fabric)
    assert any(p.startswith("tenant red: mtu 1450") for p in found)
    assert any(p.startswith("tenant blue: mtu 1400") for p in found)


def test_bad_datapath_type():
    hosts, fabric = example()
    hosts["hv1"]["netfabric_datapath_type"] = "dpdk"
    message = only_problem(hosts, fabric)
    assert message == "host hv1: value of netfabric_datapath_type must be one of: system, netdev, got: dpdk"


def test_bad_fabric_overlay():
    hosts, fabric = example()
    fabric["netfabric_overlay"] = "geneve"
    message = only_problem(hosts, fabric)
    assert message == "fabric: value of netfabric_overlay must be one of: vxlan, gre, got: geneve"


def test_bad_tenant_overlay():
    hosts, fabric = example()
    tenant(fabric, "blue")["overlay"] = "geneve"
    found = problems(hosts, fabric)
    assert found[0] == "tenant blue: value of overlay must be one of: vxlan, gre, got: geneve"


def test_bad_mode():
    hosts, fabric = example()
    fabric["netfabric_mode"] = "flood"
    message = only_problem(hosts, fabric)
    assert message == "fabric: value of netfabric_mode must be one of: learning, l2pop, got: flood"


@pytest.mark.parametrize("vlan", [0, 4095])
def test_bad_host_provider_vlan(vlan):
    hosts, fabric = example()
    hosts["hv2"]["netfabric_provider_vlans"] = [vlan]
    assert only_problem(hosts, fabric) == f"host hv2: netfabric_provider_vlans: {vlan!r} is out of range (allowed 1-4094)"


def test_host_provider_vlan_that_is_no_number():
    hosts, fabric = example()
    hosts["hv2"]["netfabric_provider_vlans"] = ["x"]
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv2: Elements value for option 'netfabric_provider_vlans' is of type str") and "'x'" in message


def test_duplicate_host_provider_vlan():
    hosts, fabric = example()
    hosts["hv2"]["netfabric_provider_vlans"] = [7, 7]
    assert only_problem(hosts, fabric) == "host hv2: netfabric_provider_vlans lists VLAN 7 twice"


def test_bad_tenant_provider_vlan():
    hosts, fabric = example()
    tenant(fabric, "blue")["provider_vlan"] = 5000
    assert only_problem(hosts, fabric) == "tenant blue: provider_vlan: 5000 is out of range (allowed 1-4094)"


@pytest.mark.parametrize("cookie", [0, -1, 2**64, "nope"])
def test_bad_flow_cookie(cookie):
    hosts, fabric = example()
    fabric["netfabric_flow_cookie"] = cookie
    assert only_problem(hosts, fabric).startswith(f"fabric: netfabric_flow_cookie: {cookie!r} is out of range")


def test_flow_cookie_as_hex_string():
    hosts, fabric = example()
    fabric["netfabric_flow_cookie"] = "0x7"
    assert validate(hosts, fabric).flow_cookie == 7


def test_relative_state_dir():
    hosts, fabric = example()
    fabric["netfabric_state_dir"] = "netfabric"
    assert only_problem(hosts, fabric).startswith("fabric: netfabric_state_dir 'netfabric'")


def test_tenant_defined_twice():
    hosts, fabric = example()
    fabric["netfabric_tenants"].append({"name": "red", "tunnel_id": 7})
    assert only_problem(hosts, fabric) == "tenant red: defined more than once"


def test_unknown_keys_are_typos():
    hosts, fabric = example()
    tenant(fabric, "red")["tunel_id"] = 5
    port(hosts, "hv1", "tap-blue-1")["tennant"] = "blue"
    found = problems(hosts, fabric)
    assert any(p.startswith("tenant red: unknown key 'tunel_id'") for p in found)
    assert any(p.startswith("host hv1 port tap-blue-1: unknown key 'tennant'") for p in found)


def test_every_problem_is_reported_at_once():
    hosts, fabric = example()
    fabric["netfabric_mode"] = "flood"
    del hosts["hv1"]["netfabric_underlay_ip"]
    port(hosts, "hv2", "tap-red-2")["tenant"] = "green"
    hosts["hv3"]["netfabric_provider_vlans"] = [9999]
    found = problems(hosts, fabric)
    assert len(found) == 4
    for culprit in ("netfabric_mode", "host hv1:", "host hv2 port tap-red-2:", "host hv3:"):
        assert any(culprit in p for p in found), culprit


# ---------------------------------------------------------------- provider-VLAN tenants


def netdev_everywhere():
    """The example with hv3 on the userspace datapath too, so provider-VLAN tenants are allowed."""
    hosts, fabric = example()
    hosts["hv3"]["netfabric_datapath_type"] = "netdev"
    return hosts, fabric


def test_provider_vlan_tenant_on_netdev_hosts_is_valid():
    hosts, fabric = netdev_everywhere()
    tenant(fabric, "red")["provider_vlan"] = 300
    assert validate(hosts, fabric).tenants["red"].provider_vlan == 300


def test_provider_vlan_tenant_on_a_system_host_names_host_and_tenant():
    hosts, fabric = example()  # hv3 runs the kernel datapath: its uplink is not on br-phy
    tenant(fabric, "red")["provider_vlan"] = 300
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv3: tenant red has provider_vlan 300")
    assert "need a provider NIC or the uplink on br-phy" in message and "netfabric_datapath_type netdev" in message
    assert "set netfabric_provider_nic on hv3" in message


def test_system_host_without_the_provider_tenant_is_fine():
    hosts, fabric = example()
    tenant(fabric, "red")["provider_vlan"] = 300
    hosts["hv3"]["netfabric_ports"] = [p for p in hosts["hv3"]["netfabric_ports"] if p["tenant"] != "red"]
    validate(hosts, fabric)


def test_two_tenants_on_one_provider_vlan():
    hosts, fabric = netdev_everywhere()
    tenant(fabric, "red")["provider_vlan"] = 300
    tenant(fabric, "blue")["provider_vlan"] = 300
    message = only_problem(hosts, fabric)
    assert message.startswith("tenants ") and "red" in message and "blue" in message and "provider_vlan 300" in message


def test_provider_vlan_that_is_also_a_host_vlan():
    hosts, fabric = netdev_everywhere()
    tenant(fabric, "red")["provider_vlan"] = 200  # hv1 has its own VLAN 200 interface
    message = only_problem(hosts, fabric)
    assert message.startswith("host hv1: netfabric_provider_vlans lists VLAN 200") and "tenant red" in message


@pytest.mark.parametrize(("mtu", "ok"), [(1500, True), (1501, False)])
def test_provider_vlan_tenant_has_no_encapsulation_overhead(mtu, ok):
    hosts, fabric = netdev_everywhere()
    tenant(fabric, "red").update(provider_vlan=300, mtu=mtu)
    if ok:
        validate(hosts, fabric)
        return
    assert only_problem(hosts, fabric).startswith(f"tenant red: mtu {mtu} (provider VLAN 300) exceeds netfabric_underlay_mtu 1500")


@pytest.mark.parametrize("name", ["int-br-phy", "phy-br-int"])
def test_vm_ports_cannot_take_the_br_phy_patch_names(name):
    hosts, fabric = example()
    port(hosts, "hv2", "tap-blue-2")["name"] = name
    assert only_problem(hosts, fabric).startswith(f"host hv2 port {name}: name clashes")


@pytest.mark.parametrize("name", ["eth0.100", "uplink.7", "bond0.4094", "en#p1.20"])
def test_port_names_of_vlan_subinterfaces_are_host_interfaces(name):
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")["name"] = name
    assert only_problem(hosts, fabric).startswith(f"host hv1 port {name}: name looks like a VLAN subinterface")


@pytest.mark.parametrize("key", ["port_security", "take_over"])
def test_port_flags_must_be_booleans(key):
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")[key] = "maybe"
    message = only_problem(hosts, fabric)
    assert message.startswith(f"host hv1 port tap-red-1: argument '{key}' is of type str and we were unable to convert to bool")
    assert "'maybe' is not a valid boolean" in message


@pytest.mark.parametrize(("key", "text", "value"), [("port_security", "no", False), ("take_over", "yes", True), ("port_security", "false", False)])
def test_port_flags_read_as_ansible_reads_booleans(key, text, value):
    """As every Ansible option does: a quoted "no" is false, never a truthy string."""
    hosts, fabric = example()
    port(hosts, "hv1", "tap-red-1")[key] = text
    assert getattr(validate(hosts, fabric).hosts["hv1"].ports[1], key) is value  # ports sorted by name: tap-blue-1, tap-red-1


@pytest.mark.parametrize("limit", [0, 65536])
def test_mac_limit_range(limit):
    hosts, fabric = example()
    fabric["netfabric_mac_limit"] = limit
    assert only_problem(hosts, fabric) == f"fabric: netfabric_mac_limit: {limit!r} is out of range (allowed 1-65535)"


def test_mac_limit_must_be_a_number():
    hosts, fabric = example()
    fabric["netfabric_mac_limit"] = "many"
    assert only_problem(hosts, fabric).startswith("fabric: argument 'netfabric_mac_limit' is of type str and we were unable to convert to int")
