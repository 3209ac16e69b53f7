"""The pure half of ip_link / ip_address: parsing recorded `ip -j` output, validation, and the exact argv planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import address, batch, read, spec
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import link as iplink
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "iproute"


def load(name):
    return json.loads((FIXTURES / name).read_text())


def table(name):
    return {entry["ifname"]: entry for entry in load(name)}


HOST = table("link_host.json")
UML = table("link_uml.json")
PEER_NS = load("link_peer_netns.json")


def params(**given):
    """Module parameters as AnsibleModule hands them over: every option present, unset ones None."""
    out = {name: option.get("default") for name, option in spec.LINK_ARGUMENT_SPEC.items()}
    out.update(given)
    return out


def want(**given):
    return spec.link_want(params(**given))


# ---------------------------------------------------------------- reading recorded output

@pytest.mark.parametrize("source, name, expected", [
    (HOST, "br0", {"kind": "bridge", "state": "up", "mtu": 1400, "master": None}),
    (HOST, "v0", {"kind": "veth", "peer": "v0p", "peer_netns": None, "master": "br0", "state": "up"}),
    (HOST, "mv0", {"kind": "macvlan", "link": "v0p", "macvlan_mode": "bridge"}),
    (HOST, "vx0", {"kind": "vxlan", "vni": 1001, "local": "10.0.0.1", "remote": "10.0.0.2", "group": None,
                   "dstport": 4789, "learning": False, "ttl": 0, "link": None, "state": "down"}),
    (HOST, "vx1", {"kind": "vxlan", "vni": 42, "group": "239.1.1.1", "remote": None, "local": None,
                   "link": "v0p", "learning": True}),
    (HOST, "vx6", {"kind": "vxlan", "vni": 7, "local": "2001:db8::1", "remote": "2001:db8::2", "ttl": 10}),
    (HOST, "vx7", {"kind": "vxlan", "vni": 8, "group": "ff05::1", "dstport": 8472, "link": "v0p"}),
    (HOST, "lo", {"kind": None, "state": "up", "mtu": 65536}),
    (UML, "d0", {"kind": "dummy", "state": "up"}),
    (UML, "d1", {"kind": "dummy", "mtu": 1400, "address": "02:00:00:00:00:01", "state": "down"}),
    (UML, "d0.100", {"kind": "vlan", "link": "d0", "vlan_id": 100, "mtu": 1400, "state": "up"}),
    (UML, "gre1", {"kind": "gre", "local": "192.0.2.1", "remote": "192.0.2.2", "key": 42, "ttl": 64, "link": None}),
    (UML, "gre2", {"kind": "gre", "remote": "192.0.2.3", "key": None, "ttl": 0, "link": "d0"}),
    (UML, "gt1", {"kind": "gretap", "key": 4294967295, "ttl": 0}),
    (UML, "gre0", {"kind": "gre", "local": None, "remote": None, "key": None}),
])
def test_normalise_link(source, name, expected):
    link = read.normalise_link(source[name])
    assert link["name"] == name
    assert {key: link[key] for key in expected} == expected


def test_veth_peer_in_other_namespace_is_found_by_ifindex_pair():
    raw = HOST["vp1"]
    assert read.find_veth_peer(raw, PEER_NS) == "vp1x"
    link = read.normalise_link(raw, PEER_NS, "ns2")
    assert (link["peer"], link["peer_netns"]) == ("vp1x", "ns2")
    # Unread (or unreadable) peer namespace: nothing claimed.
    link = read.normalise_link(raw)
    assert (link["peer"], link["peer_netns"]) == (None, None)
    # A table where the ifindex pair does not match (e.g. the wrong namespace) finds nothing.
    assert read.find_veth_peer(raw, [dict(PEER_NS[1], link_index=99)]) is None
    assert read.find_veth_peer(HOST["v0"], PEER_NS) is None


def test_gre_with_different_in_and_out_keys_never_equals_a_single_key():
    raw = json.loads(json.dumps(UML["gre1"]))
    raw["linkinfo"]["info_data"]["okey"] = "0.0.0.43"
    link = read.normalise_link(raw)
    assert link["key"] == "ikey 0.0.0.42 okey 0.0.0.43"
    assert iplink.needs_recreate(want(name="gre1", kind="gre", key=42), link) == ["key"]


def test_normalise_addresses():
    addrs = read.normalise_addresses(load("addr_host.json"), "br0")
    assert [(a["address"], a["secondary"]) for a in addrs] == [
        ("10.0.0.1/24", False), ("10.0.0.3/16", False), ("10.0.0.2/24", True),
        ("2001:db8::1/64", False), ("fe80::c5a:7ff:feaf:162e/64", False),
    ]
    assert read.normalise_addresses(load("addr_host.json"), "nosuch") is None
    assert read.normalise_addresses(load("addr_host.json"), "vx0") == []


# ---------------------------------------------------------------- validation

def spec_errors(**given):
    rules = spec.LINK_RULES
    validator = ArgumentSpecValidator(spec.LINK_ARGUMENT_SPEC, mutually_exclusive=rules["mutually_exclusive"],
                                      required_if=rules["required_if"], required_by=rules["required_by"])
    return " ".join(str(e) for e in validator.validate(given).errors)


@pytest.mark.parametrize("given, words", [
    ({"name": "x", "kind": "vlan"}, ["kind is vlan", "link", "vlan_id"]),
    ({"name": "x", "kind": "vxlan"}, ["kind is vxlan", "vni"]),
    ({"name": "x", "kind": "veth"}, ["kind is veth", "peer"]),
    ({"name": "x", "kind": "macvlan"}, ["kind is macvlan", "link"]),
    ({"name": "x", "kind": "vxlan", "vni": 1, "remote": "192.0.2.1", "group": "239.1.1.1"}, ["mutually exclusive", "remote", "group"]),
    ({"name": "x", "kind": "veth", "peer": "y", "peer_netns": None}, []),
    ({"name": "x", "peer_netns": "ns"}, ["peer_netns", "peer"]),
    ({"name": "x", "kind": "ipip"}, ["kind", "vlan, vxlan, bridge, veth, dummy, macvlan, gre, gretap, bond"]),
    ({"name": "x", "state": "gone"}, ["state", "present, absent, up, down"]),
    ({"name": "x", "kind": "macvlan", "link": "e", "macvlan_mode": "x"}, ["macvlan_mode", "private, vepa, bridge, passthru, source"]),
])
def test_argument_spec_rejects(given, words):
    errors = spec_errors(**given)
    assert all(word in errors for word in words), errors
    assert bool(errors) == bool(words)


@pytest.mark.parametrize("given, message", [
    ({"name": "a" * 16}, "name: 'aaaaaaaaaaaaaaaa' is not a valid interface name (1-15 characters"),
    ({"name": "a/b"}, "name: 'a/b' is not a valid interface name"),
    ({"name": "a b"}, "name: 'a b' is not a valid interface name"),
    ({"name": "a:1"}, "name: 'a:1' is not a valid interface name"),
    ({"name": 'a"b'}, "name: 'a\"b' is not a valid interface name"),
    ({"name": "#a"}, "name: '#a' is not a valid interface name"),
    # '#' anywhere starts a comment in an `ip -batch` line: `link add link en#1 ...` would run as `link add link en`
    ({"name": "v", "kind": "vlan", "link": "en#1", "vlan_id": 5}, "link: 'en#1' is not a valid interface name"),
    ({"name": "en#1"}, "name: 'en#1' is not a valid interface name"),
    ({"name": "--"}, "name: '--' is not a valid interface name"),
    ({"name": "-x"}, "name: '-x' is not a valid interface name"),
    # the kernel's limit is 15 bytes, not characters: this is 13 characters, 22 bytes
    ({"name": "tap-" + "\u00e9" * 9}, "name: 'tap-" + "\u00e9" * 9 + "' is not a valid interface name (1-15"),
    ({"name": "a\x00b"}, "name: 'a\\x00b' is not a valid interface name"),
    ({"name": "v", "kind": "veth", "peer": "p", "peer_netns": "ns#1"}, "peer_netns: 'ns#1' is not a network namespace name"),
    ({"name": "v", "kind": "vlan", "link": "eth0", "vlan_id": 0}, "vlan_id: 0 is out of range (allowed 1-4094)"),
    ({"name": "v", "kind": "vlan", "link": "eth0", "vlan_id": 4095}, "vlan_id: 4095 is out of range (allowed 1-4094)"),
    ({"name": "v", "kind": "vlan", "link": "eth0/1", "vlan_id": 5}, "link: 'eth0/1' is not a valid interface name"),
    ({"name": "v", "kind": "vxlan", "vni": 16777216}, "vni: 16777216 is out of range (allowed 0-16777215)"),
    ({"name": "v", "kind": "vxlan", "vni": -1}, "vni: -1 is out of range (allowed 0-16777215)"),
    ({"name": "v", "kind": "gre", "key": 4294967296}, "key: 4294967296 is out of range (allowed 0-4294967295)"),
    ({"name": "v", "kind": "gre", "remote": "2001:db8::1"}, "remote: '2001:db8::1' must be an IPv4 address for kind gre"),
    ({"name": "v", "kind": "gretap", "local": "300.1.1.1"}, "local: '300.1.1.1' is not an IPv4/IPv6 address"),
    ({"name": "v", "kind": "vxlan", "vni": 1, "group": "10.0.0.1"}, "group: '10.0.0.1' is not a multicast address"),
    ({"name": "v", "kind": "vxlan", "vni": 1, "remote": "239.1.1.1"}, "remote: '239.1.1.1' is multicast; use group"),
    ({"name": "v", "kind": "vxlan", "vni": 1, "local": "10.0.0.1", "remote": "2001:db8::2"}, "local, remote, group: must all be IPv4 or all IPv6"),
    ({"name": "v", "kind": "vxlan", "vni": 1, "dstport": 0}, "dstport: 0 is out of range (allowed 1-65535)"),
    ({"name": "v", "kind": "vxlan", "vni": 1, "ttl": 256}, "ttl: 256 is out of range (allowed 0-255)"),
    ({"name": "v", "kind": "bridge", "vni": 5}, "vni: only used with kind vxlan (kind is bridge)"),
    ({"name": "v", "kind": "dummy", "link": "eth0"}, "link: only used with kind vlan, vxlan, macvlan, gre, gretap (kind is dummy)"),
    ({"name": "v", "kind": "veth", "peer": "p", "key": 1}, "key: only used with kind gre, gretap (kind is veth)"),
    ({"name": "v", "vlan_id": 5}, "vlan_id: needs kind (one of vlan, vxlan, bridge, veth, dummy, macvlan, gre, gretap, bond)"),
    ({"name": "v", "kind": "veth", "peer": "v"}, "peer: must differ from name ('v') unless peer_netns puts the peer elsewhere"),
    ({"name": "v", "kind": "veth", "peer": "p", "netns": "a", "peer_netns": "a"}, "peer_netns: must differ from netns"),
    ({"name": "v", "kind": "veth", "peer": "p", "peer_netns": "a/b"}, "peer_netns: 'a/b' is not a network namespace name"),
    ({"name": "v", "netns": ".."}, "netns: '..' is not a network namespace name"),
    ({"name": "v", "mtu": 67}, "mtu: 67 is out of range (allowed 68-65535)"),
    ({"name": "v", "address": "52:54:00:12:34"}, "address: '52:54:00:12:34' is not a MAC address"),
    ({"name": "v", "kind": "gre", "address": "52:54:00:12:34:56"}, "address: kind gre has no MAC address"),
    ({"name": "v", "master": "v"}, "master: must differ from name ('v')"),
])
def test_link_want_rejects_with_field_and_allowed_values(given, message):
    with pytest.raises(ValidationError) as err:
        want(**given)
    assert str(err.value).startswith(message)


def test_link_want_canonicalises():
    w = want(name="vx", kind="vxlan", vni=5, local="2001:DB8:0::1", group="FF05::1", address="52:54:00:AB:CD:EF")
    assert (w["local"], w["group"], w["address"]) == ("2001:db8::1", "ff05::1", "52:54:00:ab:cd:ef")


@pytest.mark.parametrize("given, message", [
    ({"dev": "eth0", "addresses": ["10.0.0.1"]}, "addresses[0]: '10.0.0.1' is not an IPv4/IPv6 address with prefix"),
    ({"dev": "eth0", "addresses": ["10.0.0.1/24", "10.0.0.1/33"]}, "addresses[1]: '10.0.0.1/33' is not"),
    ({"dev": "eth0", "addresses": ["fe80::1/129"]}, "addresses[0]: 'fe80::1/129' is not"),
    ({"dev": "bad name", "addresses": []}, "dev: 'bad name' is not a valid interface name"),
    ({"dev": "en#1", "addresses": []}, "dev: 'en#1' is not a valid interface name"),
    ({"dev": "eth0", "addresses": [], "netns": "a/b"}, "netns: 'a/b' is not a network namespace name"),
])
def test_address_want_rejects(given, message):
    given = {"state": "present", "netns": None, **given}
    with pytest.raises(ValidationError) as err:
        spec.address_want(given)
    assert str(err.value).startswith(message)


def test_address_want_canonical_and_deduplicated():
    w = spec.address_want({"dev": "br0", "addresses": ["2001:DB8::1/64", "2001:db8:0::1/64", "10.0.0.1/24"],
                          "state": "exact", "netns": None})
    assert w["addresses"] == ["2001:db8::1/64", "10.0.0.1/24"]


# ---------------------------------------------------------------- planning links: exact argv

@pytest.mark.parametrize("given, lines", [
    ({"name": "eth0.100", "kind": "vlan", "link": "eth0", "vlan_id": 100, "mtu": 1496, "state": "up"}, [
        ["link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100"],
        ["link", "set", "dev", "eth0.100", "mtu", "1496", "up"]]),
    ({"name": "d0", "kind": "dummy"}, [["link", "add", "name", "d0", "type", "dummy"]]),
    ({"name": "d1", "kind": "dummy", "address": "02:00:00:00:00:01", "master": "br0", "state": "down"}, [
        ["link", "add", "name", "d1", "type", "dummy"],
        ["link", "set", "dev", "d1", "address", "02:00:00:00:00:01", "master", "br0"]]),
    ({"name": "gre1", "kind": "gre", "local": "192.0.2.1", "remote": "192.0.2.2", "key": 42, "ttl": 64,
      "link": "eth1", "state": "up"}, [
        ["link", "add", "name", "gre1", "type", "gre", "local", "192.0.2.1", "remote", "192.0.2.2",
         "key", "42", "ttl", "64", "dev", "eth1"],
        ["link", "set", "dev", "gre1", "up"]]),
    ({"name": "gt1", "kind": "gretap", "remote": "192.0.2.2", "key": 0, "mtu": 1400}, [
        ["link", "add", "name", "gt1", "type", "gretap", "remote", "192.0.2.2", "key", "0"],
        ["link", "set", "dev", "gt1", "mtu", "1400"]]),
    ({"name": "vx1", "kind": "vxlan", "vni": 1001, "local": "10.0.0.1", "remote": "10.0.0.2", "dstport": 4789,
      "learning": False, "ttl": 5}, [
        ["link", "add", "name", "vx1", "type", "vxlan", "id", "1001", "local", "10.0.0.1", "remote", "10.0.0.2",
         "dstport", "4789", "nolearning", "ttl", "5"]]),
    ({"name": "vx2", "kind": "vxlan", "vni": 0, "group": "239.1.1.1", "link": "eth1", "learning": True}, [
        ["link", "add", "name", "vx2", "type", "vxlan", "id", "0", "group", "239.1.1.1", "dev", "eth1", "learning"]]),
    ({"name": "a", "kind": "veth", "peer": "b", "state": "up"}, [
        ["link", "add", "name", "a", "type", "veth", "peer", "name", "b"], ["link", "set", "dev", "a", "up"]]),
    ({"name": "a", "kind": "veth", "peer": "eth0", "peer_netns": "vm1", "netns": "hv1"}, [
        ["link", "add", "name", "a", "type", "veth", "peer", "name", "eth0", "netns", "vm1"]]),
    ({"name": "m", "kind": "macvlan", "link": "eth0", "macvlan_mode": "bridge"}, [
        ["link", "add", "link", "eth0", "name", "m", "type", "macvlan", "mode", "bridge"]]),
    ({"name": "br0", "kind": "bridge", "mtu": 9000, "state": "up"}, [
        ["link", "add", "name", "br0", "type", "bridge"], ["link", "set", "dev", "br0", "mtu", "9000", "up"]]),
    ({"name": "gone", "state": "absent", "kind": "dummy"}, []),
])
def test_plan_create(given, lines):
    assert iplink.plan_link(want(**given), None) == lines


def test_plan_without_kind_never_creates():
    with pytest.raises(iplink.PlanError, match="name: link 'eth9' does not exist; give kind to create it"):
        iplink.plan_link(want(name="eth9", mtu=9000), None)


def test_links_of_foreign_kinds_are_never_recreated():
    lo = normalised(HOST, "lo")
    with pytest.raises(iplink.PlanError, match="kind: 'lo' exists as a physical/unknown link, which this module never deletes"):
        iplink.plan_link(want(name="lo", kind="bridge"), lo)
    assert iplink.plan_link(want(name="lo", mtu=1500), lo) == [["link", "set", "dev", "lo", "mtu", "1500"]]
    assert iplink.plan_link(want(name="lo", state="absent"), lo) == [["link", "del", "dev", "lo"]]


def normalised(source, name):
    return read.normalise_link(source[name])


def same_as_host(link):
    """The parameters that describe a link exactly as the host has it (what a second run passes)."""
    given = {"name": link["name"], "kind": link["kind"], "state": link["state"], "mtu": link["mtu"],
             "address": None if link["kind"] == "gre" else link["address"], "master": link["master"] or ""}
    for field in spec.KIND_OPTIONS.get(link["kind"], ()):
        if link.get(field) is not None:
            given[field] = link[field]
    return given


@pytest.mark.parametrize("source, name", [
    (HOST, "br0"), (HOST, "v0"), (HOST, "v0p"), (HOST, "mv0"), (HOST, "vx0"), (HOST, "vx1"), (HOST, "vx6"),
    (HOST, "vx7"), (UML, "d0"), (UML, "d1"), (UML, "d0.100"), (UML, "gre1"), (UML, "gre2"), (UML, "gt1"),
])
def test_second_run_plans_nothing(source, name):
    have = normalised(source, name)
    assert iplink.plan_link(want(**same_as_host(have)), have) == []
    assert iplink.predict_link(want(**same_as_host(have)), have) == have


def test_second_run_with_peer_in_other_namespace_plans_nothing():
    have = read.normalise_link(HOST["vp1"], PEER_NS, "ns2")
    assert iplink.plan_link(want(name="vp1", kind="veth", peer="vp1x", peer_netns="ns2"), have) == []
    # The same link, peer namespace unreadable: recreate (the add will name the missing namespace).
    unread = read.normalise_link(HOST["vp1"])
    assert iplink.needs_recreate(want(name="vp1", kind="veth", peer="vp1x", peer_netns="ns2"), unread) == ["peer", "peer_netns"]


@pytest.mark.parametrize("source, name, given, lines", [
    (HOST, "br0", {"mtu": 1500}, [["link", "set", "dev", "br0", "mtu", "1500"]]),
    (HOST, "br0", {"state": "down"}, [["link", "set", "dev", "br0", "down"]]),
    (HOST, "br0", {"state": "up"}, []),
    (HOST, "v0", {"master": ""}, [["link", "set", "dev", "v0", "nomaster"]]),
    (HOST, "mv0", {"master": ""}, []),
    (HOST, "mv0", {"master": "br0", "address": "02:00:00:00:00:aa"},
     [["link", "set", "dev", "mv0", "address", "02:00:00:00:00:aa", "master", "br0"]]),
    (HOST, "vx0", {"learning": False, "state": "up"}, [["link", "set", "dev", "vx0", "up"]]),
    (UML, "d0.100", {"mtu": 1500, "state": "down"}, [["link", "set", "dev", "d0.100", "mtu", "1500", "down"]]),
])
def test_plan_changes_in_place(source, name, given, lines):
    have = normalised(source, name)
    kind_given = {"kind": have["kind"]}
    for field in spec.KIND_OPTIONS[have["kind"]]:
        if field in ("link", "vlan_id", "vni", "peer"):
            kind_given[field] = have[field]
    assert iplink.plan_link(want(name=name, **kind_given, **given), have) == lines


@pytest.mark.parametrize("source, name, given, reasons, lines", [
    (UML, "d0.100", {"kind": "vlan", "link": "d0", "vlan_id": 200}, ["vlan_id"], [
        ["link", "del", "dev", "d0.100"],
        ["link", "add", "link", "d0", "name", "d0.100", "type", "vlan", "id", "200"],
        ["link", "set", "dev", "d0.100", "up"]]),
    (UML, "d0.100", {"kind": "vlan", "link": "d1", "vlan_id": 100, "state": "down"}, ["link"], [
        ["link", "del", "dev", "d0.100"],
        ["link", "add", "link", "d1", "name", "d0.100", "type", "vlan", "id", "100"]]),
    (HOST, "vx0", {"kind": "vxlan", "vni": 1002}, ["vni"], [
        ["link", "del", "dev", "vx0"], ["link", "add", "name", "vx0", "type", "vxlan", "id", "1002"]]),
    (HOST, "vx1", {"kind": "vxlan", "vni": 42, "group": "239.1.1.2", "link": "v0p"}, ["group"], [
        ["link", "del", "dev", "vx1"],
        ["link", "add", "name", "vx1", "type", "vxlan", "id", "42", "group", "239.1.1.2", "dev", "v0p"]]),
    (HOST, "v0", {"kind": "veth", "peer": "other"}, ["peer"], [
        ["link", "del", "dev", "v0"], ["link", "add", "name", "v0", "type", "veth", "peer", "name", "other"],
        ["link", "set", "dev", "v0", "master", "br0", "up"]]),
    (HOST, "v0", {"kind": "veth", "peer": "v0p", "peer_netns": "vm1"}, ["peer_netns"], [
        ["link", "del", "dev", "v0"],
        ["link", "add", "name", "v0", "type", "veth", "peer", "name", "v0p", "netns", "vm1"],
        ["link", "set", "dev", "v0", "master", "br0", "up"]]),
    (HOST, "br0", {"kind": "dummy", "master": "", "mtu": 1400}, ["kind"], [
        ["link", "del", "dev", "br0"], ["link", "add", "name", "br0", "type", "dummy"],
        ["link", "set", "dev", "br0", "mtu", "1400", "up"]]),
    (HOST, "mv0", {"kind": "macvlan", "link": "v0p", "macvlan_mode": "vepa", "master": "br0"}, ["macvlan_mode"], [
        ["link", "del", "dev", "mv0"], ["link", "add", "link", "v0p", "name", "mv0", "type", "macvlan", "mode", "vepa"],
        ["link", "set", "dev", "mv0", "master", "br0", "up"]]),
    (UML, "gre1", {"kind": "gre", "key": 43}, ["key"], [
        ["link", "del", "dev", "gre1"], ["link", "add", "name", "gre1", "type", "gre", "key", "43"]]),
    (UML, "gt1", {"kind": "gre"}, ["kind"], [
        ["link", "del", "dev", "gt1"], ["link", "add", "name", "gt1", "type", "gre"]]),
    (UML, "gre2", {"kind": "gre", "remote": "192.0.2.3", "local": "192.0.2.1", "ttl": 64}, ["ttl"], [
        ["link", "del", "dev", "gre2"],
        ["link", "add", "name", "gre2", "type", "gre", "local", "192.0.2.1", "remote", "192.0.2.3", "ttl", "64"]]),
])
def test_plan_recreates_on_immutable_change(source, name, given, reasons, lines):
    have = normalised(source, name)
    w = want(name=name, **given)
    assert iplink.needs_recreate(w, have) == reasons
    assert iplink.plan_link(w, have) == lines
    after = iplink.predict_link(w, have)
    assert after["kind"] == given["kind"]
    assert after["state"] == (given.get("state") or have["state"])


def test_absent_deletes_whatever_the_kind():
    have = normalised(UML, "gre1")
    assert iplink.plan_link(want(name="gre1", state="absent"), have) == [["link", "del", "dev", "gre1"]]
    assert iplink.predict_link(want(name="gre1", state="absent"), have) is None
    assert iplink.plan_link(want(name="gre1", state="absent"), None) == []


def test_predict_new_link_leaves_kernel_choices_unknown():
    after = iplink.predict_link(want(name="a", kind="veth", peer="b", mtu=1400, state="up"), None)
    assert after == {"name": "a", "kind": "veth", "state": "up", "mtu": 1400, "address": None, "master": None,
                     "alias": None, "peer": "b", "peer_netns": None}


def test_references_to_missing_devices_are_reported():
    names = load("link_host.json")
    w = want(name="m", kind="macvlan", link="eth9", master="br9")
    assert iplink.missing_references(w, names) == ["link: parent device 'eth9' does not exist", "master: 'br9' does not exist"]
    assert iplink.missing_references(want(name="m", kind="macvlan", link="v0p", master="br0"), names) == []
    assert iplink.missing_references(want(name="a", kind="veth", peer="b", peer_netns="x"), names, peer_ok=False) == [
        "peer_netns: network namespace 'x' cannot be read (does it exist?)"]


# ---------------------------------------------------------------- planning addresses

BR0 = read.normalise_addresses(load("addr_host.json"), "br0")


def addr_want(addresses, state):
    return spec.address_want({"dev": "br0", "addresses": addresses, "state": state, "netns": None})


@pytest.mark.parametrize("addresses, state, lines", [
    (["10.0.0.1/24", "2001:db8::1/64"], "present", []),
    (["10.0.0.9/24", "10.0.0.1/24"], "present", [["address", "add", "10.0.0.9/24", "dev", "br0"]]),
    # Same IP, other prefix: the old one goes (IPv6 allows only one prefix per address).
    (["2001:db8::1/56"], "present", [
        ["address", "del", "2001:db8::1/64", "dev", "br0"],
        ["address", "add", "2001:db8::1/56", "dev", "br0"],
    ]),
    (["10.0.0.2/24", "192.0.2.1/24"], "absent", [["address", "del", "10.0.0.2/24", "dev", "br0"]]),
    (["10.0.0.2/16"], "absent", []),
    # Removing the primary 10.0.0.1/24 takes the kept secondary 10.0.0.2/24 with it: put it back.
    (["10.0.0.1/24"], "absent", [
        ["address", "del", "10.0.0.1/24", "dev", "br0"],
        ["address", "replace", "10.0.0.2/24", "dev", "br0"],
    ]),
    (["10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/16", "2001:db8::1/64"], "exact", []),
    # Link-local stays; secondaries are deleted before their primary.
    (["192.0.2.1/24"], "exact", [
        ["address", "del", "10.0.0.2/24", "dev", "br0"], ["address", "del", "10.0.0.1/24", "dev", "br0"],
        ["address", "del", "10.0.0.3/16", "dev", "br0"], ["address", "del", "2001:db8::1/64", "dev", "br0"],
        ["address", "add", "192.0.2.1/24", "dev", "br0"]]),
    ([], "exact", [
        ["address", "del", "10.0.0.2/24", "dev", "br0"], ["address", "del", "10.0.0.1/24", "dev", "br0"],
        ["address", "del", "10.0.0.3/16", "dev", "br0"], ["address", "del", "2001:db8::1/64", "dev", "br0"]]),
    (["10.0.0.2/24", "10.0.0.3/16"], "exact", [
        ["address", "del", "10.0.0.1/24", "dev", "br0"], ["address", "del", "2001:db8::1/64", "dev", "br0"],
        ["address", "replace", "10.0.0.2/24", "dev", "br0"]]),
    (["10.0.0.1/24"], "present", []),
    (["10.0.0.5/24"], "exact", None),  # checked below through predict_addresses
])
def test_plan_addresses(addresses, state, lines):
    w = addr_want(addresses, state)
    if lines is not None:
        assert address.plan_addresses(w, BR0) == lines
    after = address.predict_addresses(w, BR0)
    kept_link_local = "fe80::c5a:7ff:feaf:162e/64"
    if state == "exact":
        assert sorted(after) == sorted(addresses + [kept_link_local])
    elif state == "present":
        assert set(addresses) <= set(after)
    else:
        assert not set(addresses) & set(after)


def test_plan_addresses_on_missing_or_empty_link():
    assert address.plan_addresses(addr_want(["10.0.0.1/24"], "present"), None) == [["address", "add", "10.0.0.1/24", "dev", "br0"]]
    assert address.plan_addresses(addr_want(["10.0.0.1/24"], "absent"), []) == []


def test_batch_text_is_one_line_per_command():
    lines = [["link", "add", "name", "a", "type", "dummy"], ["link", "set", "dev", "a", "up"]]

    class Recorder:
        leading = ["-n", "hv1"]

        def run(self, args, data=None):
            self.args, self.data = args, data

    ip = Recorder()
    batch.run_batch(ip, lines)
    assert ip.args == ["-batch", "-"]
    assert ip.data == "link add name a type dummy\nlink set dev a up\n"
    assert batch.shown(ip, lines)[0] == ["ip", "-n", "hv1", "link", "add", "name", "a", "type", "dummy"]


# ---------------------------------------------------------------- bridge-port isolated

ISOLATED = table("link_isolated.json")


def test_isolated_is_read_for_bridge_ports_only():
    assert normalised(ISOLATED, "v0")["isolated"] is True
    assert normalised(ISOLATED, "v0p")["isolated"] is False
    assert "isolated" not in normalised(ISOLATED, "br0")


@pytest.mark.parametrize("name, given, lines", [
    ("v0", {"isolated": True}, []),
    ("v0p", {"isolated": False}, []),
    ("v0p", {"isolated": True}, [["link", "set", "dev", "v0p", "type", "bridge_slave", "isolated", "on"]]),
    ("v0", {"isolated": False}, [["link", "set", "dev", "v0", "type", "bridge_slave", "isolated", "off"]]),
    ("v0", {"isolated": True, "master": "br0", "mtu": 1500}, []),
])
def test_plan_isolated_in_place(name, given, lines):
    have = normalised(ISOLATED, name)
    w = want(name=name, kind="veth", peer=have["peer"], **given)
    assert iplink.plan_link(w, have) == lines
    assert iplink.predict_link(w, have)["isolated"] is given["isolated"]


def test_plan_isolated_on_a_new_link_comes_after_it_joins_its_bridge():
    w = want(name="gt1", kind="gretap", local="192.0.2.1", remote="192.0.2.2", key=42, master="br0", isolated=True, state="up")
    assert iplink.plan_link(w, None) == [
        ["link", "add", "name", "gt1", "type", "gretap", "local", "192.0.2.1", "remote", "192.0.2.2", "key", "42"],
        ["link", "set", "dev", "gt1", "master", "br0"],
        ["link", "set", "dev", "gt1", "type", "bridge_slave", "isolated", "on"],
        ["link", "set", "dev", "gt1", "up"],  # isolated before it forwards
    ]
    # false on a new port is the kernel's default: nothing to write
    assert iplink.plan_link(dict(w, isolated=False), None)[-1] == ["link", "set", "dev", "gt1", "master", "br0", "up"]


def test_plan_isolated_again_when_the_port_moves_to_another_bridge():
    have = normalised(ISOLATED, "v0")
    w = want(name="v0", master="br1", isolated=True)
    assert iplink.plan_link(w, have) == [["link", "set", "dev", "v0", "master", "br1"],
                                         ["link", "set", "dev", "v0", "type", "bridge_slave", "isolated", "on"]]


def test_isolated_needs_a_bridge():
    with pytest.raises(ValidationError, match="isolated: .*master is empty"):
        want(name="v0", master="", isolated=True)
    with pytest.raises(iplink.PlanError, match="isolated: link 'mv0' is in no bridge; give master"):
        iplink.plan_link(want(name="mv0", isolated=True), normalised(HOST, "mv0"))


def test_rollback_puts_isolated_back():
    before = [ISOLATED["v0"]]
    now = [json.loads(json.dumps(ISOLATED["v0"]).replace('"isolated": true', '"isolated": false'))]
    assert iplink.restore_lines(before, now, "v0") == [["link", "set", "dev", "v0", "type", "bridge_slave", "isolated", "on"]]
