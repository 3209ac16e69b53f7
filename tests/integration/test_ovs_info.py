"""ovs_info reads what OVS holds and names every unhealthy port, changing nothing."""

from conftest import run_module


def test_info_reports_ports_flows_and_problems(hv):
    hv.vsctl("add-br", "br-tun", "--", "set", "Bridge", "br-tun", "datapath_type=netdev", "fail_mode=secure",
             "--", "add-port", "br-tun", "vxlan-ac1f0002", "--", "set", "Interface", "vxlan-ac1f0002", "type=vxlan",
             "options:remote_ip=172.31.0.2", "options:key=flow",
             "--", "add-port", "br-tun", "ghost")  # a system port whose device does not exist: ofport -1, error set
    hv.ofctl("add-flow", "br-tun", "cookie=0x4e46,table=0,priority=0,actions=drop")
    hv.ofctl("add-flow", "br-tun", "cookie=0x1,table=5,priority=0,actions=drop")
    before = hv.vsctl("show")

    info = run_module(hv, "ovs_info", {"flows_cookie": 0x4E46, "require_ports": ["vxlan-ac1f0002", "ghost", "missing"], "as_facts": True})
    assert info["changed"] is False and not info.get("failed")
    assert info["bridges"]["br-tun"]["fail_mode"] == "secure"
    assert info["ports"]["vxlan-ac1f0002"]["options"]["remote_ip"] == "172.31.0.2"
    assert info["ports"]["vxlan-ac1f0002"]["ofport"] > 0
    assert info["flows"]["br-tun"] == ["table=0,priority=0,reset_counts,actions=drop"], "only the flows of the cookie asked for"
    problems = "\n".join(info["problems"])
    assert "ghost" in problems and "missing: missing" in problems and "vxlan-ac1f0002" not in problems
    assert info["ansible_facts"]["netfabric_ovs"]["ports"]["ghost"]["ofport"] == -1

    failing = run_module(hv, "ovs_info", {"require_ports": ["vxlan-ac1f0002", "ghost"], "fail_on_problems": True})
    assert failing.get("failed") and "ghost" in failing["msg"]
    healthy = run_module(hv, "ovs_info", {"require_ports": ["vxlan-ac1f0002"], "fail_on_problems": True})
    assert not healthy.get("failed") and healthy["problems"] == []
    assert hv.vsctl("show") == before
