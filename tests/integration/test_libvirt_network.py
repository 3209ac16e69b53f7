"""netfabric.ovs.libvirt_network against a real libvirtd and real LXC domains.

Each test gets a hypervisor namespace with its own Open vSwitch (br-int, NORMAL) and its own libvirtd
(lab/libvirtd.py). Domains are started with `virsh start`, so the port, its tag and its external_ids
come from libvirt itself, never from the test. Without libvirt installed the tests fail, naming the
packages: they are never skipped.
"""

from __future__ import annotations

import json

import pytest
from conftest import PREFIX, run_module

import libvirtd

NET = "netfabric"
RED, BLUE = 101, 102


@pytest.fixture
def lv(hv):
    """The hypervisor's libvirtd, with br-int on its OVS; domains destroyed and libvirtd stopped after."""
    lacking = libvirtd.missing()
    if lacking:
        pytest.fail("libvirt is not installed; install: " + ", ".join(lacking))
    hv.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev")
    daemon = libvirtd.Libvirtd(hv).start()
    yield daemon
    daemon.stop()
    libvirtd.down(PREFIX)


def args(daemon, red=RED, **extra):
    given = {"name": NET, "bridge": "br-int", "uri": daemon.uri,
             "portgroups": [{"name": "red", "vlan": red, "profileid": "red"}, {"name": "blue", "vlan": BLUE}]}
    given.update(extra)
    return given


def networks(daemon):
    return daemon.virsh("net-list", "--all", "--name").split()


def port(hv, daemon, domain):
    """The domain's OVS port as OVSDB has it: (tag, Interface external_ids)."""
    name = daemon.port(domain)
    tag = hv.vsctl("get", "Port", name, "tag").strip()
    table = json.loads(hv.vsctl("--format=json", "--columns=external_ids", "list", "Interface", name))
    return int(tag) if tag != "[]" else None, dict(table["data"][0][0][1])


def domain(daemon, name, portgroup, address):
    """A domain named after the lab (libvirtd.down finds what a killed run left), MAC from its address."""
    full = f"{daemon.hv.netns}-{name}"
    last = int(address.split("/")[0].rsplit(".", 1)[1])
    daemon.define_lxc(full, f"52:54:00:00:00:{last:02x}", NET, portgroup, address)
    daemon.virsh("start", full)
    return full


def test_network_check_diff_idempotent_absent(hv, lv):
    r = run_module(hv, "libvirt_network", args(lv), check=True, diff=True)
    assert r["changed"] is True, r
    assert [c[4:] for c in r["commands"]] == [["net-define", "/dev/stdin"], ["net-start", NET], ["net-autostart", NET]]
    assert "<tag id=\"101\" />" in r["diff"]["after"] and r["diff"]["before"] == ""
    assert networks(lv) == [], "check mode defined the network"

    r = run_module(hv, "libvirt_network", args(lv), diff=True)
    assert r["changed"] is True, r
    assert r["after"] == {"exists": True, "active": True, "autostart": True, "forward": "bridge", "bridge": "br-int",
                          "virtualport": "openvswitch",
                          "portgroups": {"red": {"vlan": RED, "profileid": "red"}, "blue": {"vlan": BLUE, "profileid": None}}}
    info = lv.virsh("net-info", NET)
    assert "Active:         yes" in info and "Autostart:      yes" in info and "Persistent:     yes" in info

    for check in (True, False):
        r = run_module(hv, "libvirt_network", args(lv), check=check, diff=True)
        assert r["changed"] is False and r["commands"] == [], r
        assert r["diff"]["before"] == r["diff"]["after"]

    r = run_module(hv, "libvirt_network", args(lv, portgroups=[{"name": "red", "vlan": 4095}]))
    assert r.get("failed") and "portgroups[0].vlan: 4095 is out of range (allowed 1-4094)" in r["msg"], r
    assert "<tag id='102'/>" in lv.virsh("net-dumpxml", NET), "bad input changed the network"

    r = run_module(hv, "libvirt_network", args(lv, autostart=False, bridge="br-other"))
    assert r["changed"] is True, r
    assert [c[4] for c in r["commands"]] == ["net-define", "net-destroy", "net-start", "net-autostart"], r["commands"]
    assert r["after"]["bridge"] == "br-other" and r["after"]["autostart"] is False

    r = run_module(hv, "libvirt_network", {"name": NET, "state": "absent", "uri": lv.uri}, diff=True)
    assert r["changed"] is True and [c[4] for c in r["commands"]] == ["net-destroy", "net-undefine"], r
    assert networks(lv) == []
    r = run_module(hv, "libvirt_network", {"name": NET, "state": "absent", "uri": lv.uri})
    assert r["changed"] is False, r


def test_domains_land_in_their_portgroup(hv, lv):
    assert run_module(hv, "libvirt_network", args(lv))["changed"] is True

    vm1 = domain(lv, "vm1", "red", "10.9.0.1/24")
    vm2 = domain(lv, "vm2", "red", "10.9.0.2/24")
    vm3 = domain(lv, "vm3", "blue", "10.9.0.3/24")
    tag1, ids1 = port(hv, lv, vm1)
    assert tag1 == RED
    dumped = lv.virsh("dumpxml", vm1)
    assert ids1["attached-mac"] == "52:54:00:00:00:01" and ids1["port-profile"] == "red", ids1
    assert f"<uuid>{ids1['vm-id']}</uuid>" in dumped and f"interfaceid='{ids1['iface-id']}'" in dumped, (ids1, dumped)
    assert port(hv, lv, vm3)[0] == BLUE
    assert lv.ping(vm2, "10.9.0.1"), "red could not reach red across br-int"
    assert not lv.ping(vm3, "10.9.0.1"), "blue reached red"

    lv.virsh("destroy", vm1)
    lv.virsh("start", vm1)
    assert port(hv, lv, vm1)[0] == RED, "a restarted red domain came back outside red"
    assert lv.ping(vm2, "10.9.0.1")

    r = run_module(hv, "libvirt_network", args(lv, red=201), diff=True)
    assert r["changed"] is True, r
    assert [c[4:] for c in r["commands"]] == [
        ["net-update", NET, "modify", "portgroup",
         '<portgroup name="red"><vlan><tag id="201" /></vlan><virtualport type="openvswitch">'
         '<parameters profileid="red" /></virtualport></portgroup>', "--live", "--config"]]
    assert "net-destroy" not in str(r["commands"]), "the network was restarted under running domains"
    assert lv.virsh("domstate", vm2).strip() == "running"
    assert run_module(hv, "libvirt_network", args(lv, red=201))["changed"] is False

    for vm in (vm1, vm2):
        lv.virsh("destroy", vm)
        lv.virsh("start", vm)
        assert port(hv, lv, vm)[0] == 201, f"{vm} restarted did not get red's new tag"
    assert lv.ping(vm2, "10.9.0.1"), "red lost its reach after the tag change"
    assert not lv.ping(vm3, "10.9.0.1"), "blue reached red after the tag change"

    r = run_module(hv, "libvirt_network", {"name": NET, "state": "absent", "uri": lv.uri})
    assert r["changed"] is True and NET not in networks(lv)
