"""ip_link's owner mark against the real kernel: `state: absent` with `owner` removes only links
that call created (alias netfabric:OWNER), never a pre-existing one of the same name.

802.1Q devices are missing from this kernel, so the `eth0.100`-like subinterfaces are macvlans on a
veth named like a NIC; the rule does not depend on the kind (vlan is covered by the kernel tier).
"""

from __future__ import annotations

import json

from conftest import run_module


def links(hv):
    return {e["ifname"]: e for e in json.loads(hv.exec("ip", "-j", "-d", "link", "show"))}


def uplink(hv):
    hv.exec("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0x")


def test_an_unmarked_subinterface_survives_absent_with_owner(hv):
    uplink(hv)
    hv.exec("ip", "link", "add", "link", "up0", "name", "up0.100", "type", "macvlan")
    hv.exec("ip", "link", "set", "dev", "up0.100", "alias", "made by hand")
    args = {"name": "up0.100", "kind": "macvlan", "link": "up0", "owner": "vlans"}

    r = run_module(hv, "ip_link", {**args, "mtu": 1400})
    assert r["changed"] is True and r["commands"] == [["ip", "link", "set", "dev", "up0.100", "mtu", "1400"]], r
    assert links(hv)["up0.100"]["ifalias"] == "made by hand", "an existing link must not be marked"

    for check in (True, False):
        r = run_module(hv, "ip_link", {"name": "up0.100", "owner": "vlans", "state": "absent"}, check=check)
        assert r["changed"] is False and r["commands"] == [], r
        assert any("up0.100" in w and "netfabric:vlans" in w and "left in place" in w for w in r["warnings"]), r
    assert "up0.100" in links(hv) and links(hv)["up0.100"]["mtu"] == 1400


def test_a_marked_subinterface_is_removed_by_its_owner_only(hv):
    uplink(hv)
    args = {"name": "up0.200", "kind": "macvlan", "link": "up0", "owner": "vlans", "state": "up"}
    r = run_module(hv, "ip_link", args)
    assert r["changed"] is True, r
    assert links(hv)["up0.200"]["ifalias"] == "netfabric:vlans" and r["link"]["alias"] == "netfabric:vlans"
    assert r["before"] == {"name": "up0.200", "state": "absent"} and r["after"] == r["link"] and "diff" not in r
    assert run_module(hv, "ip_link", args)["changed"] is False

    r = run_module(hv, "ip_link", {"name": "up0.200", "owner": "other", "state": "absent"})
    assert r["changed"] is False and "up0.200" in links(hv), r

    r = run_module(hv, "ip_link", {"name": "up0.200", "owner": "vlans", "state": "absent"}, check=True, diff=True)
    assert r["changed"] is True and r["diff"]["after"] == {"name": "up0.200", "state": "absent"}
    assert "up0.200" in links(hv), "check mode removed the link"

    r = run_module(hv, "ip_link", {"name": "up0.200", "owner": "vlans", "state": "absent"})
    assert r["changed"] is True and r["commands"] == [["ip", "link", "del", "dev", "up0.200"]], r
    assert "up0.200" not in links(hv)
    r = run_module(hv, "ip_link", {"name": "up0.200", "owner": "vlans", "state": "absent"})
    assert r["changed"] is False and r["commands"] == [] and not r.get("warnings"), r
