"""The network node's inventory rules and plan: examples/network_node, one bad change at a time;
every message names its culprit, and nothing is planned from a bad inventory."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.netfabric.ovs.plugins.module_utils import _nft
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError, validate

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "network_node"
NODES = ("net1",)


def example():
    hosts = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())["hypervisors"]["hosts"]
    group = yaml.safe_load((EXAMPLE / "group_vars" / "hypervisors.yml").read_text())
    host_vars = {"netfabric_uplink", "netfabric_datapath_type"}
    hosts = {name: {**{k: v for k, v in group.items() if k in host_vars}, **(values or {})} for name, values in hosts.items()}
    fabric = {k: v for k, v in group.items() if k not in host_vars}
    return copy.deepcopy(hosts), copy.deepcopy(fabric)


def tenant(fabric, name):
    return next(t for t in fabric["netfabric_tenants"] if t["name"] == name)


def problems(hosts, fabric, nodes=NODES):
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric, nodes)
    return info.value.problems


def only_problem(hosts, fabric, nodes=NODES):
    found = problems(hosts, fabric, nodes)
    assert len(found) == 1, found
    return found[0]


def test_example_plans_routers_dhcp_and_node_ports():
    topology = plan.build(*example(), network_nodes=NODES)
    node = plan.host_plan(topology, "net1")
    names = [p["name"] for p in node["ports"]["tenants"]["ports"]]
    assert sum(n.startswith("qr-") for n in names) == 4 and sum(n.startswith("qd-") for n in names) == 2
    assert [n["name"] for n in node["network_node"]["namespaces"]] == ["nfrouter-blue", "nfrouter-red", *sorted(
        n["name"] for n in node["network_node"]["namespaces"] if n["name"].startswith("nfdhcp-"))]
    external = {link["netns"]: link["addresses"] for link in node["network_node"]["links"] if link["name"].startswith("qg-")}
    # blue comes first in name order and takes the first free pool address; each keeps its floating IP
    assert external == {"nfrouter-blue": ["203.0.113.10/24", "203.0.113.51/32"], "nfrouter-red": ["203.0.113.11/24", "203.0.113.50/32"]}
    red = next(d for d in node["network_node"]["dhcp"] if d["netns"].startswith("nfdhcp-red-"))
    assert red["hosts"] == [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.11"}] and red["router"] == "10.0.0.1"
    assert red["dns"] == ["192.0.2.53"] and red["mtu"] == 1400
    assert [b["name"] for b in node["bridges"]] == ["br-int", "br-tun", "br-phy", "br-ex"]
    # the network node carries both tenants because of its own ports; a hypervisor gets no network node part
    assert {t["name"] for t in node["tenants"]} == {"red", "blue"}
    hv1 = plan.host_plan(topology, "hv1")
    assert hv1["network_node"]["namespaces"] == [] and hv1["network_node"]["dhcp"] == []
    assert "net1" in next(t for t in hv1["tenants"] if t["name"] == "red")["peers"]


def test_boot_state_names_every_namespace_with_what_a_reboot_takes():
    """netns.json (netfabric-netns.py's input) is the role's own namespaces, links, routes and sysctls, and
    each router's NAT table file is the transaction the nft_table module applies for that router."""
    node = plan.host_plan(plan.build(*example(), network_nodes=NODES), "net1")["network_node"]
    boot = node["boot"]
    assert (boot["file"], boot["nft_dir"], boot["unit"]) == ("/etc/netfabric/netns.json", "/etc/netfabric/nft", "netfabric-netns.service")
    state = boot["state"]
    assert state["owner"] == "netfabric:netfabric-routers"
    assert [(n["name"], n["sysctls"]) for n in state["namespaces"]] == [(n["name"], n["sysctls"]) for n in node["namespaces"]]
    for ns in state["namespaces"]:
        assert ns["links"] == [{k: v for k, v in link.items() if k != "netns"} for link in node["links"] if link["netns"] == ns["name"]]
        assert ns["routes"] == next((r["routes"] for r in node["routes"] if r["netns"] == ns["name"]), [])
    routers = [n for n in state["namespaces"] if n["name"].startswith("nfrouter-")]
    assert [n["nft"] for n in routers] == [{"family": "ip", "name": "netfabric", "file": f"/etc/netfabric/nft/{n['name']}.nft"} for n in routers]
    assert all(n["nft"] is None for n in state["namespaces"] if n not in routers)
    assert boot["dir"] == "/etc/netfabric" and [t["name"] for t in boot["nft"]] == [f"nft/{n['name']}.nft" for n in routers]
    for table in boot["nft"]:
        netns = table["name"][len("nft/"):-len(".nft")]
        chains = next(item["chains"] for item in node["nat"] if item["netns"] == netns)
        want = _nft.table_want({"family": "ip", "name": "netfabric", "chains": chains})
        assert table["content"] == _nft.transaction(want, True) and table["mode"] == "0600"
        assert table["content"].startswith("table ip netfabric {}\ndelete table ip netfabric\ntable ip netfabric {")
    # a host with no router or DHCP server: nothing to put back (the role removes the unit and files)
    assert plan.host_plan(plan.build(*example(), network_nodes=NODES), "hv1")["network_node"]["boot"]["state"]["namespaces"] == []


def test_router_ports_skip_port_security_dhcp_ports_keep_it():
    topology = plan.build(*example(), network_nodes=NODES)
    flows = plan.host_plan(topology, "net1")["flows"]["br-int"]
    # a router forwards for other addresses: its port admits any source; a DHCP server sends only as itself
    assert any("arp_spa=10.0.0.2" in f for f in flows)
    assert not any("arp_spa=10.0.0.1," in f for f in flows)


def test_l2pop_entries_answer_for_gateways():
    hosts, fabric = example()
    fabric["netfabric_mode"] = "l2pop"
    flows = plan.host_plan(plan.build(hosts, fabric, network_nodes=NODES), "hv1")["flows"]["br-tun"]
    assert any("arp_tpa=10.0.0.1" in f for f in flows)


def test_gateway_outside_its_subnet():
    hosts, fabric = example()
    tenant(fabric, "red")["subnets"][0]["gateway"] = "10.9.0.1"
    assert "tenant red subnet 10.0.0.0/24: gateway 10.9.0.1 is outside 10.0.0.0/24" in problems(hosts, fabric)


def test_two_tenants_claim_one_external_address():
    hosts, fabric = example()
    tenant(fabric, "blue")["external_ip"] = "203.0.113.50"
    message = only_problem(hosts, fabric)
    assert "tenant red" in message and "203.0.113.50" in message and "already claimed by tenant blue" in message


def test_floating_ip_outside_the_pool():
    hosts, fabric = example()
    tenant(fabric, "red")["floating_ips"][0]["external_ip"] = "203.0.113.200"
    assert only_problem(hosts, fabric) == "tenant red: floating IP for port tap-red-2 203.0.113.200 is not in the pool of network node net1"


def test_dhcp_range_overlapping_a_static_address():
    hosts, fabric = example()
    tenant(fabric, "red")["subnets"][0]["dhcp_range"] = "10.0.0.10-10.0.0.20"
    message = only_problem(hosts, fabric)
    assert message == "host hv1 port tap-red-1: ip 10.0.0.11 is inside the dhcp_range 10.0.0.10-10.0.0.20 of subnet 10.0.0.0/24"


def test_dhcp_range_holding_the_gateway():
    hosts, fabric = example()
    tenant(fabric, "red")["subnets"][0]["dhcp_range"] = "10.0.0.1-10.0.0.9"
    found = problems(hosts, fabric)
    assert any("dhcp_range 10.0.0.1-10.0.0.9 holds the gateway 10.0.0.1" in p for p in found)
    assert any("holds the dhcp_ip 10.0.0.2" in p for p in found)


def test_router_without_a_network_node():
    hosts, fabric = example()
    found = problems(hosts, fabric, nodes=())
    assert any(p.startswith("tenant red: needs a network node") and "group network_nodes is empty" in p for p in found)
    assert any("host net1: netfabric_external is set but the host is not in group network_nodes" in p for p in found)


def test_a_vm_on_the_gateway_address():
    hosts, fabric = example()
    hosts["hv1"]["netfabric_ports"][0]["ip"] = "10.0.0.1/24"
    message = only_problem(hosts, fabric)
    assert message.startswith("host net1 port qr-") and "ip 10.0.0.1 is already used in tenant red by host hv1 port tap-red-1" in message


def test_vm_port_named_like_a_node_port():
    hosts, fabric = example()
    hosts["hv1"]["netfabric_ports"][0]["name"] = "qr-mine"
    assert any("host hv1 port qr-mine: name clashes with a port the fabric creates" in p for p in problems(hosts, fabric))


def test_floating_ip_needs_a_router_and_a_known_port():
    hosts, fabric = example()
    tenant(fabric, "red")["router"] = False
    tenant(fabric, "blue")["floating_ips"][0]["port"] = "tap-nobody"
    found = problems(hosts, fabric)
    assert "tenant red: floating_ips need router: true" in found
    assert any("no port 'tap-nobody' of tenant blue" in p for p in found)


def test_external_network_is_checked():
    hosts, fabric = example()
    hosts["net1"]["netfabric_external"].update(gateway="203.0.114.1", pool=["203.0.113.90-203.0.113.80"])
    found = problems(hosts, fabric)
    assert any("gateway 203.0.114.1 is outside 203.0.113.0/24" in p for p in found)
    assert any("pool '203.0.113.90-203.0.113.80' is not FIRST-LAST" in p for p in found)


def test_unknown_subnet_key_names_the_allowed_ones():
    hosts, fabric = example()
    tenant(fabric, "red")["subnets"][0]["dchp"] = True
    assert "tenant red subnet 10.0.0.0/24: unknown key 'dchp' (allowed: cidr, gateway, dhcp, dhcp_ip, dhcp_range, dns, routes)" in problems(hosts, fabric)


def test_pool_exhausted():
    hosts, fabric = example()
    hosts["net1"]["netfabric_external"]["pool"] = ["203.0.113.50-203.0.113.51"]
    assert "tenant red: no free address left in the pool of network node net1 for its router" in problems(hosts, fabric)


def test_golden_plan():
    """The whole plan of examples/network_node; regenerate with NETFABRIC_REGEN_GOLDEN=1 and review the diff."""
    got = plan.fabric_plan(plan.build(*example(), network_nodes=NODES))
    golden = Path(__file__).parent / "fixtures" / "plan_network_node.json"
    if os.environ.get("NETFABRIC_REGEN_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(golden.read_text())
