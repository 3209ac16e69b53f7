"""ovs_bridge against a real ovsdb-server/ovs-vswitchd: check mode, apply, idempotence, change, delete."""

import json

from conftest import run_module

BRIDGE = {"name": "br-tun", "datapath_type": "netdev", "fail_mode": "secure", "protocols": ["OpenFlow10", "OpenFlow14"]}


def bridge_row(hv, name):
    out = hv.vsctl("--format=json", "--data=json", "--columns=name,datapath_type,fail_mode,protocols,external_ids,other_config", "list", "Bridge")
    table = json.loads(out)
    rows = [dict(zip(table["headings"], row)) for row in table["data"]]
    return next((row for row in rows if row["name"] == name), None)


def test_check_apply_idempotent_change_delete(hv):
    checked = run_module(hv, "ovs_bridge", BRIDGE, check=True, diff=True)
    assert checked["changed"] and checked["diff"]["before"] is None
    assert bridge_row(hv, "br-tun") is None, "check mode must not create the bridge"

    created = run_module(hv, "ovs_bridge", BRIDGE, diff=True)
    assert created["changed"]
    row = bridge_row(hv, "br-tun")
    assert row["datapath_type"] == "netdev" and row["fail_mode"] == "secure"
    assert row["protocols"] == ["set", ["OpenFlow10", "OpenFlow14"]]
    assert ["netfabric_owner", "ansible"] in row["external_ids"][1], "the module default owner is not a fabric owner"
    assert created["diff"]["after"]["fail_mode"] == "secure"

    again = run_module(hv, "ovs_bridge", BRIDGE)
    assert again["changed"] is False and again["commands"] == []
    again_checked = run_module(hv, "ovs_bridge", BRIDGE, check=True)
    assert again_checked["changed"] is False

    changed = run_module(hv, "ovs_bridge", dict(BRIDGE, fail_mode="standalone", other_config={"hwaddr": "02:00:00:00:00:01"}))
    assert changed["changed"]
    assert changed["before"]["fail_mode"] == "secure" and changed["after"]["fail_mode"] == "standalone"
    row = bridge_row(hv, "br-tun")
    assert row["fail_mode"] == "standalone"
    assert row["other_config"] == ["map", [["hwaddr", "02:00:00:00:00:01"]]]
    assert len(changed["commands"]) == 1, "one transaction"

    removed_key = run_module(hv, "ovs_bridge", dict(BRIDGE, other_config={"hwaddr": None}))
    assert removed_key["changed"] and bridge_row(hv, "br-tun")["other_config"] == ["map", []]

    hv.vsctl("add-port", "br-tun", "p1", "--", "set", "Interface", "p1", "type=internal")
    deleted = run_module(hv, "ovs_bridge", {"name": "br-tun", "state": "absent"}, diff=True)
    assert deleted["changed"] and deleted["diff"]["before"]["ports"] == ["p1"] and deleted["diff"]["after"] is None
    assert bridge_row(hv, "br-tun") is None
    assert run_module(hv, "ovs_bridge", {"name": "br-tun", "state": "absent"})["changed"] is False


def test_mtu_request_of_the_bridges_own_port(hv):
    """Requested on creation in the same transaction, applied by OVS (the kernel device follows), compared
    with the request on the next run; --check writes nothing."""
    def mtu(name):
        return {k: int(hv.vsctl("get", "Interface", name, k).strip()) for k in ("mtu_request", "mtu")}

    want = {"name": "br-m", "datapath_type": "netdev", "mtu_request": 1600}
    created = run_module(hv, "ovs_bridge", want, diff=True)
    assert created["changed"] and len(created["commands"]) == 1 and created["diff"]["after"]["mtu_request"] == 1600, created
    assert mtu("br-m") == {"mtu_request": 1600, "mtu": 1600}
    assert json.loads(hv.exec("ip", "-j", "link", "show", "br-m"))[0]["mtu"] == 1600
    assert run_module(hv, "ovs_bridge", want)["changed"] is False
    assert run_module(hv, "ovs_bridge", {"name": "br-m"})["changed"] is False  # omitted: left as it is
    checked = run_module(hv, "ovs_bridge", dict(want, mtu_request=1500), check=True)
    assert checked["changed"] and mtu("br-m")["mtu_request"] == 1600, "check mode wrote the MTU"
    assert run_module(hv, "ovs_bridge", dict(want, mtu_request=1500))["changed"] and mtu("br-m") == {"mtu_request": 1500, "mtu": 1500}


def test_fake_bridge(hv):
    run_module(hv, "ovs_bridge", {"name": "br-phy", "datapath_type": "netdev"})
    fake = {"name": "br-v100", "parent": "br-phy", "vlan": 100}
    assert run_module(hv, "ovs_bridge", fake)["changed"]
    assert hv.vsctl("br-to-vlan", "br-v100").strip() == "100"
    assert hv.vsctl("br-to-parent", "br-v100").strip() == "br-phy"
    assert run_module(hv, "ovs_bridge", fake)["changed"] is False
    assert run_module(hv, "ovs_bridge", dict(fake, vlan=200))["changed"]
    assert hv.vsctl("br-to-vlan", "br-v100").strip() == "200"


def test_bad_input_changes_nothing(hv):
    before = hv.vsctl("show")
    for args, field in [
        ({"name": "br/bad"}, "name"),
        ({"name": "a-name-longer-than-15"}, "name"),
        ({"name": "br0", "protocols": ["OpenFlow99"]}, "protocols"),
        ({"name": "br0", "parent": "br-phy", "vlan": 5000}, "vlan"),
        ({"name": "br0", "fail_mode": "open"}, "fail_mode"),
    ]:
        result = run_module(hv, "ovs_bridge", args)
        assert result.get("failed"), args
        assert field in result["msg"], result["msg"]
    assert hv.vsctl("show") == before


def test_dead_ovsdb_fails_fast_with_a_clear_error(hv):
    result = run_module(hv, "ovs_bridge", {"name": "br0", "db": "unix:/nonexistent/db.sock", "timeout": 2})
    assert result.get("failed")
    assert "ovs-vsctl" in result["msg"] and result["rc"] != 0 and result["cmd"][1] == "--db=unix:/nonexistent/db.sock"


def test_only_if_empty_deletes_only_a_bridge_without_ports(hv):
    hv.vsctl("add-br", "br-t", "--", "set", "Bridge", "br-t", "datapath_type=netdev", "external_ids:netfabric_owner=ansible",
             "--", "add-port", "br-t", "foreign", "--", "set", "Interface", "foreign", "type=internal")
    args = {"name": "br-t", "state": "absent", "only_if_empty": True}
    kept = run_module(hv, "ovs_bridge", args)
    assert not kept.get("failed") and kept["changed"] is False, kept
    assert kept["kept_by"] == ["foreign"] and "foreign" in kept["msg"], kept
    assert "br-t" in hv.vsctl("list-br").split() and hv.vsctl("list-ports", "br-t").split() == ["foreign"]

    hv.vsctl("del-port", "br-t", "foreign")
    assert run_module(hv, "ovs_bridge", args, check=True)["changed"]
    gone = run_module(hv, "ovs_bridge", args, diff=True)
    assert gone["changed"] and gone["after"] is None and gone["diff"]["before"]["name"] == "br-t", gone
    assert "br-t" not in hv.vsctl("list-br").split()
    assert run_module(hv, "ovs_bridge", args)["changed"] is False

    # an empty bridge without the owner's mark (another tool's) is never deleted
    hv.vsctl("add-br", "br-u", "--", "set", "Bridge", "br-u", "datapath_type=netdev")
    foreign = run_module(hv, "ovs_bridge", {"name": "br-u", "state": "absent", "only_if_empty": True})
    assert foreign["changed"] is False and "owner mark" in foreign["msg"], foreign
    assert "br-u" in hv.vsctl("list-br").split()

    refused = run_module(hv, "ovs_bridge", {"name": "br-t", "only_if_empty": True})
    assert refused.get("failed") and refused["msg"].startswith("only_if_empty: "), refused


def test_a_module_from_a_module_utils_package_runs_on_the_host(hv):
    """ovs_flows imports plugins/module_utils/_flows/, a package: Ansible must ship all of it to the host."""
    hv.vsctl("add-br", "br-p", "--", "set", "Bridge", "br-p", "datapath_type=netdev")
    result = run_module(hv, "ovs_flows", {"bridge": "br-p", "cookie": 5, "flows": ["priority=3,actions=drop"]})
    assert not result.get("failed") and result["changed"] and result["after"] == ["table=0,priority=3,actions=drop"], result
