"""netfabric.ovs.ip_address against the real kernel, inside a hypervisor namespace."""

from __future__ import annotations

import json

import pytest
from conftest import run_module


def addresses(hv, dev):
    """Every address on dev as 'ip/prefix', in the kernel's order."""
    entry = json.loads(hv.exec("ip", "-j", "address", "show", "dev", dev))[0]
    return [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])]


def all_addresses(hv):
    """Every address of every link but IPv6 link-local ones, which the kernel adds on its own
    moments after a link comes up (a fresh veth would otherwise differ between two reads)."""
    return {e["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in e.get("addr_info", []) if not a["local"].startswith("fe80:")]
            for e in json.loads(hv.exec("ip", "-j", "address", "show"))}


def link_local(hv, dev):
    return [a for a in addresses(hv, dev) if a.startswith("fe80:")]


@pytest.fixture
def veth(hv):
    """An up veth pair, so IPv6 gives it a link-local address."""
    hv.exec("ip", "link", "add", "a0", "type", "veth", "peer", "name", "a0x")
    hv.exec("ip", "link", "set", "a0", "up")
    hv.exec("ip", "link", "set", "a0x", "up")
    return "a0"


def test_present_check_apply_idempotent(hv, veth):
    args = {"dev": veth, "addresses": ["10.1.0.1/24", "2001:DB8::1/64"]}
    before = addresses(hv, veth)

    r = run_module(hv, "ip_address", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["commands"] == [["ip", "address", "add", "10.1.0.1/24", "dev", veth],
                             ["ip", "address", "add", "2001:db8::1/64", "dev", veth]]
    assert r["diff"]["before"] == {"dev": veth, "addresses": before}
    assert set(r["diff"]["after"]["addresses"]) == set(before) | {"10.1.0.1/24", "2001:db8::1/64"}
    assert addresses(hv, veth) == before, "check mode changed the host"

    r = run_module(hv, "ip_address", args, diff=True)
    assert r["changed"] is True
    assert {"10.1.0.1/24", "2001:db8::1/64"} <= set(addresses(hv, veth))
    assert sorted(r["addresses"]) == sorted(addresses(hv, veth))

    for check in (True, False):
        again = run_module(hv, "ip_address", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again

    # Same IP, new prefix: replaced, not added beside.
    r = run_module(hv, "ip_address", {"dev": veth, "addresses": ["2001:db8::1/56"]})
    assert r["commands"] == [["ip", "address", "del", "2001:db8::1/64", "dev", veth],
                             ["ip", "address", "add", "2001:db8::1/56", "dev", veth]]
    assert "2001:db8::1/56" in addresses(hv, veth) and "2001:db8::1/64" not in addresses(hv, veth)


def test_absent(hv, veth):
    hv.exec("ip", "address", "add", "10.2.0.1/24", "dev", veth)
    hv.exec("ip", "address", "add", "10.3.0.1/24", "dev", veth)
    args = {"dev": veth, "addresses": ["10.2.0.1/24", "10.9.9.9/24"], "state": "absent"}

    r = run_module(hv, "ip_address", args, check=True)
    assert r["changed"] is True and r["commands"] == [["ip", "address", "del", "10.2.0.1/24", "dev", veth]]
    assert "10.2.0.1/24" in addresses(hv, veth)

    r = run_module(hv, "ip_address", args)
    assert r["changed"] is True
    assert "10.2.0.1/24" not in addresses(hv, veth) and "10.3.0.1/24" in addresses(hv, veth)
    again = run_module(hv, "ip_address", args)
    assert again["changed"] is False and again["commands"] == []


def test_exact_keeps_link_local_and_secondaries(hv, veth):
    # 10.4.0.1 is primary, 10.4.0.2 its secondary; removing the primary must not lose the secondary.
    for address in ("10.4.0.1/24", "10.4.0.2/24", "10.5.0.1/16", "2001:db8::5/64"):
        hv.exec("ip", "address", "add", address, "dev", veth)
    kept_ll = link_local(hv, veth)
    assert kept_ll, "the up veth should have an IPv6 link-local address"
    args = {"dev": veth, "addresses": ["10.4.0.2/24", "192.0.2.7/24"], "state": "exact"}

    snapshot = addresses(hv, veth)
    r = run_module(hv, "ip_address", args, check=True, diff=True)
    assert r["changed"] is True
    assert sorted(r["diff"]["after"]["addresses"]) == sorted(["10.4.0.2/24", "192.0.2.7/24", *kept_ll])
    assert addresses(hv, veth) == snapshot

    r = run_module(hv, "ip_address", args)
    assert r["changed"] is True, r
    assert ["ip", "address", "replace", "10.4.0.2/24", "dev", veth] in r["commands"]
    assert sorted(addresses(hv, veth)) == sorted(["10.4.0.2/24", "192.0.2.7/24", *kept_ll])

    again = run_module(hv, "ip_address", args)
    assert again["changed"] is False and again["commands"] == [], again

    r = run_module(hv, "ip_address", {"dev": veth, "addresses": [], "state": "exact"})
    assert r["changed"] is True and addresses(hv, veth) == kept_ll


def test_move_underlay_address_onto_ovs_bridge(hv):
    """The br-phy layout: the uplink's address moves to the OVS bridge that holds the uplink."""
    hv.exec("ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplinkx")
    hv.exec("ip", "address", "add", "172.31.0.1/24", "dev", "uplink")
    hv.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "--",
             "add-port", "br-phy", "uplink")
    r = run_module(hv, "ip_address", {"dev": "br-phy", "addresses": ["172.31.0.1/24"], "state": "exact"})
    assert r["changed"] is True, r
    r = run_module(hv, "ip_address", {"dev": "uplink", "addresses": ["172.31.0.1/24"], "state": "absent"})
    assert r["changed"] is True, r
    assert "172.31.0.1/24" in addresses(hv, "br-phy")
    assert "172.31.0.1/24" not in addresses(hv, "uplink")
    assert run_module(hv, "ip_address", {"dev": "br-phy", "addresses": ["172.31.0.1/24"], "state": "exact"})["changed"] is False


def test_netns_option(hv, veth):
    """The module reaches another namespace with ip -n."""
    r = run_module(hv, "ip_address", {"dev": veth, "addresses": ["10.6.0.1/24"], "netns": hv.netns})
    assert r["commands"] == [["ip", "-n", hv.netns, "address", "add", "10.6.0.1/24", "dev", veth]], r
    assert "10.6.0.1/24" in addresses(hv, veth)


@pytest.mark.parametrize("args, words", [
    ({"dev": "a0", "addresses": ["10.0.0.1"]}, ["addresses[0]", "with prefix"]),
    ({"dev": "a0", "addresses": ["10.0.0.1/24", "10.0.0.300/24"]}, ["addresses[1]", "10.0.0.300/24"]),
    ({"dev": "a0", "addresses": ["10.0.0.1/24"], "state": "merged"}, ["state", "present, absent, exact"]),
    ({"dev": "a0:1", "addresses": ["10.0.0.1/24"]}, ["dev", "interface name"]),
    ({"dev": "nosuch0", "addresses": ["10.0.0.1/24"]}, ["dev", "nosuch0", "does not exist"]),
])
def test_bad_input_is_rejected_and_host_untouched(hv, veth, args, words):
    snapshot = all_addresses(hv)
    r = run_module(hv, "ip_address", args)
    assert r.get("failed") is True, r
    assert all(word in r["msg"] for word in words), r["msg"]
    assert all_addresses(hv) == snapshot
