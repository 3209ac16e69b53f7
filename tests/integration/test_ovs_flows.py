"""ovs_flows against a real Open vSwitch in a namespace: the br-tun pipeline, ownership by cookie, atomicity."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _flows as F

from conftest import run_module

PIPELINE = (Path(__file__).parents[1] / "unit" / "plugins" / "module_utils" / "fixtures" / "flows"
            / "pipeline.txt").read_text().splitlines()
COOKIE = 0x7
OTHER = "cookie=0x8,table=30,priority=5,dl_vlan=9,actions=drop"
# An ARP request from 52:54:00:00:00:02, sent through table 3 as if it came from VNI 1001: learn() adds a flow.
ARP = "".join(["ffffffffffff", "525400000002", "0806", "0001080006040001", "525400000002", "0a000002", "000000000000", "0a000001"])


@pytest.fixture
def br_tun(hv):
    """br-int and br-tun (secure) joined by patch ports, with two VXLAN ports, as the roles build them."""
    hv.vsctl(
        "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
        "--", "add-br", "br-tun", "--", "set", "bridge", "br-tun", "datapath_type=netdev", "fail_mode=secure",
        "--", "add-port", "br-int", "patch-tun", "--", "set", "interface", "patch-tun", "type=patch", "options:peer=patch-int",
        "--", "add-port", "br-tun", "patch-int", "--", "set", "interface", "patch-int", "type=patch", "options:peer=patch-tun",
        "--", "add-port", "br-tun", "vxlan-ac1f0002", "--", "set", "interface", "vxlan-ac1f0002", "type=vxlan",
        "options:key=flow", "options:remote_ip=172.31.0.2",
        "--", "add-port", "br-tun", "vxlan-ac1f0003", "--", "set", "interface", "vxlan-ac1f0003", "type=vxlan",
        "options:key=flow", "options:remote_ip=172.31.0.3",
    )
    return hv


def dump(hv, bridge="br-tun"):
    """Every flow of the bridge as OVS prints it, statistics removed, whatever its cookie."""
    return sorted((f.cookie, f.text) for f in F.parse_dump(hv.ofctl("-O", "OpenFlow14", "--names", "dump-flows", bridge)))


def owned(hv):
    return sorted(text for cookie, text in dump(hv) if cookie == COOKIE)


def others(hv):
    return [(cookie, text) for cookie, text in dump(hv) if cookie != COOKIE]


def apply(hv, flows, **kw):
    return run_module(hv, "ovs_flows", {"bridge": "br-tun", "cookie": COOKIE, "flows": flows}, **kw)


def add_other_and_learned(hv):
    hv.ofctl("-O", "OpenFlow14", "add-flow", "br-tun", OTHER)
    hv.ofctl("-O", "OpenFlow14", "packet-out", "br-tun",
             f"in_port=LOCAL packet={ARP} actions=set_field:0x3e9->tun_id,resubmit(,3)")
    found = others(hv)
    assert [c for c, _flow in found] == [0, 0x8], found
    assert found[0][1].startswith("table=20,priority=1,")  # the learned flow
    return found


def expected_pipeline():
    return sorted(F.parse_flow(line).text for line in PIPELINE)


def test_pipeline_check_apply_idempotent(br_tun):
    hv = br_tun
    checked = apply(hv, PIPELINE, check=True, diff=True)
    assert checked["changed"] and not checked.get("failed"), checked
    assert len(checked["bundle"]) == 13 and len(checked["commands"]) == 1
    assert checked["diff"] == {"before": "", "after": "".join(f"{flow}\n" for flow in expected_pipeline())}
    assert dump(hv) == [], "check mode wrote flows"

    applied = apply(hv, PIPELINE, diff=True)
    assert applied["changed"] and not applied.get("failed"), applied
    assert applied["commands"][0][-3:] == ["bundle", "br-tun", "-"]
    assert owned(hv) == expected_pipeline()
    assert len(owned(hv)) == 13

    again = apply(hv, PIPELINE, diff=True)
    assert not again["changed"], again
    assert again["commands"] == [] and again["bundle"] == []
    assert again["diff"]["before"].splitlines() == again["diff"]["after"].splitlines() == expected_pipeline()
    assert not apply(hv, PIPELINE, check=True)["changed"]


def test_change_one_flow_keeps_other_owners(br_tun):
    hv = br_tun
    assert apply(hv, PIPELINE)["changed"]
    survivors = add_other_and_learned(hv)
    before = owned(hv)

    changed = list(PIPELINE)
    changed[10] = "table=21,priority=1,dl_vlan=1,actions=strip_vlan,set_tunnel:0x3e9,output:vxlan-ac1f0003"
    result = apply(hv, changed, diff=True)
    assert result["changed"] and not result.get("failed"), result
    assert result["bundle"] == [f"flow add cookie=0x7,{changed[10]}"]
    after = owned(hv)
    assert len(set(before) - set(after)) == 1 and len(set(after) - set(before)) == 1
    assert F.parse_flow(changed[10]).text in after
    assert others(hv) == survivors
    assert not apply(hv, changed)["changed"]

    # dropping a flow from the list deletes only that owned flow
    fewer = changed[:2] + changed[3:]
    result = apply(hv, fewer)
    assert result["bundle"] == ["flow delete_strict cookie=0x7/-1,table=0,priority=0"]
    assert len(owned(hv)) == 12 and others(hv) == survivors


def test_absent_removes_only_owned(br_tun):
    hv = br_tun
    apply(hv, PIPELINE)
    survivors = add_other_and_learned(hv)
    args = {"bridge": "br-tun", "cookie": COOKIE, "state": "absent"}
    assert run_module(hv, "ovs_flows", args, check=True)["changed"]
    assert len(owned(hv)) == 13
    result = run_module(hv, "ovs_flows", args, diff=True)
    assert result["changed"] and result["diff"]["after"] == ""
    assert owned(hv) == [] and others(hv) == survivors
    again = run_module(hv, "ovs_flows", args)
    assert not again["changed"] and again["commands"] == []


def test_rundir_reaches_the_bridge_socket(br_tun):
    hv = br_tun
    args = {"bridge": "br-tun", "cookie": COOKIE, "flows": PIPELINE[:3], "rundir": str(hv.dir)}
    result = run_module(hv, "ovs_flows", args)
    assert result["changed"] and result["commands"][0][-2] == f"unix:{hv.dir}/br-tun.mgmt", result
    assert len(owned(hv)) == 3
    assert not run_module(hv, "ovs_flows", args)["changed"]


@pytest.mark.parametrize("args, message", [
    ({"flows": PIPELINE[:2] + ["table=0,priority=0,drop"] + PIPELINE[3:]}, "flows[2]"),
    ({"flows": PIPELINE + ["cookie=0x9,actions=drop"]}, "flows[13]"),
    ({"cookie": 0}, "cookie: 0 is out of range"),
    ({"cookie": 2**64}, "out of range"),
])
def test_bad_input_changes_nothing(br_tun, args, message):
    hv = br_tun
    apply(hv, PIPELINE[:5])
    before = dump(hv)
    result = run_module(hv, "ovs_flows", {"bridge": "br-tun", "cookie": COOKIE, "flows": PIPELINE, **args})
    assert result.get("failed") and message in result["msg"], result
    assert dump(hv) == before


def test_failing_bundle_applies_nothing(br_tun):
    hv = br_tun
    bad = "table=21,priority=1,dl_vlan=1,actions=strip_vlan,set_tunnel:0x3e9,output:vxlan-ac1f0009"
    flows = PIPELINE[:10] + [bad] + PIPELINE[11:]
    result = apply(hv, flows)
    assert result.get("failed"), result
    assert "nothing was applied" in result["msg"] and "vxlan-ac1f0009" in result["msg"], result["msg"]
    assert bad in result["msg"]
    assert dump(hv) == []

    # from a converged pipeline, a failing change leaves every flow as it was
    apply(hv, PIPELINE)
    before = dump(hv)
    changed = list(PIPELINE)
    changed[0] = "table=0,priority=1,in_port=patch-int,actions=resubmit(,2)"
    result = apply(hv, changed[:5] + [bad])
    assert result.get("failed") and bad in result["msg"], result
    assert dump(hv) == before


@pytest.fixture
def two_instances(hv):
    """The host's default OVS (hv: the module's OVS_RUNDIR) and a second instance with its own run
    directory; both have a bridge br0 and a port p1, so only the instance can tell them apart."""
    import netns
    from conftest import PREFIX

    other = netns.Hypervisor(PREFIX, f"{hv.name}b").start()
    for each in (hv, other):
        each.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=netdev",
                   "--", "add-port", "br0", "p1", "--", "set", "Interface", "p1", "type=internal")
    yield hv, other
    other.stop()


def owned_on(hv, bridge="br0"):
    return sorted(f.text for f in F.parse_dump(hv.ofctl("-O", "OpenFlow14", "--names", "dump-flows", bridge))
                  if f.cookie == COOKIE)


def test_db_names_the_instance_flows_land_on(two_instances, tmp_path):
    here, other = two_instances
    flows = ["table=0,priority=5,in_port=p1,actions=drop", "table=0,priority=1,actions=NORMAL"]
    args = {"bridge": "br0", "cookie": COOKIE, "flows": flows, "db": other.db}
    result = run_module(here, "ovs_flows", args)
    assert result["changed"] and not result.get("failed"), result
    assert result["commands"][0][-2] == f"unix:{other.dir}/br0.mgmt"
    assert len(owned_on(other)) == 2 and owned_on(here) == [], "the flows went to the instance db names, only"
    assert run_module(here, "ovs_flows", args)["changed"] is False
    assert run_module(here, "ovs_flows", dict(args, rundir=str(other.dir)))["changed"] is False, "a rundir that agrees"

    info = run_module(here, "ovs_info", {"flows_cookie": COOKIE, "db": other.db})
    assert len(info["flows"]["br0"]) == 2, info
    assert run_module(here, "ovs_info", {"flows_cookie": COOKIE})["flows"]["br0"] == []

    for bad, field in [({"rundir": str(here.dir)}, "rundir: "), ({"db": "tcp:192.0.2.1:6640"}, "db: ")]:
        refused = run_module(here, "ovs_flows", dict(args, flows=flows[:1], **bad))
        assert refused.get("failed") and refused["msg"].startswith(field), refused
    assert len(owned_on(other)) == 2 and owned_on(here) == []

    # the restore hook replays onto the same instance: the script gets the inventory's db
    state = tmp_path / "state"
    (state / "flows").mkdir(parents=True)
    script = Path(__file__).parents[2] / "roles" / "pipeline" / "files" / "restore-flows"
    (state / "restore-flows").write_bytes(script.read_bytes())
    (state / "restore-flows").chmod(0o755)
    (state / "flows" / "br0.flows").write_text("".join(
        f"{line}\n" for line in F.restore_lines(F.declared_flows(flows[:1]), COOKIE)))
    here.exec(str(state / "restore-flows"), f"--db={other.db}")
    assert len(owned_on(other)) == 1 and owned_on(here) == []
    refused = here.exec(str(state / "restore-flows"), f"--db={other.db}", f"--rundir={here.dir}", check=False, capture=False)
    assert refused.returncode == 2 and "is not the directory of" in refused.stderr
