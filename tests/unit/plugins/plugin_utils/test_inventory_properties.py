"""Property-based inventories (hypothesis): the inventory check refuses everything any module would.

The example inventory gets names (uplink, VM ports, tenants) and state directories drawn from valid
values and from what breaks the tools (quotes, '#', newlines, NUL, a leading '-', UTF-8 longer than
15 bytes, relative or '..' paths). validate() either lists problems that name the culprit, or
accepts; and an accepted inventory's plan passes every module's own checks for every host, so no
role can fail on input after earlier roles changed the host. Never another exception.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.netfabric.ovs.plugins.module_utils import _flows as F
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import spec as I
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_bridge as B
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_port as P
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import abs_path, ifname
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "example_inventory.json").read_text())
PROPERTY = settings(max_examples=400, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

NASTY = ["#", "--", "-", '"', "'", "\\", " ", "\n", "\x00", ":", "/", "%", "$", ",", "=", "@", "+", ".", "_", "\u00e9", "\u00a0"]
names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,14}", fullmatch=True),
    st.lists(st.sampled_from(list("abcxyz0123456789-") + NASTY), min_size=0, max_size=18).map("".join),
    st.sampled_from(["--", "-x", "en#1", "tap-" + "\u00e9" * 9, "tap-\u00e9", "a\x00b", "123", "a'b", 'a"b', "a" * 16]),
    st.text(max_size=18),
)
paths = st.one_of(
    st.sampled_from(["/etc/netfabric", "/var/lib/nf", "netfabric", "/tmp/nf\nExecStartPre=/bin/sh", "/a/../etc", "/a//b",
                     "/a/", "/", "/srv/my flows", "/srv/%h", "/srv/$HOME", "/x\x00y", "/srv/nf-1.2_x"]),
    st.lists(st.sampled_from(["/", "a", "b", ".", "..", " ", "\n", "%", "-", "_", "\u00e9"]), max_size=8).map("".join),
)


@st.composite
def inventories(draw):
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    host = draw(st.sampled_from(sorted(hosts)))
    what = draw(st.sampled_from(["uplink", "port", "tenant", "state_dir", "host_state_dir"]))
    if what == "uplink":
        hosts[host]["netfabric_uplink"] = draw(names)
        hosts[host]["netfabric_provider_vlans"] = draw(st.sampled_from([[], [100], [4094]]))
        key = "netfabric_uplink"
    elif what == "port":
        port = draw(st.sampled_from(hosts[host]["netfabric_ports"]))
        port["name"] = draw(names)
        key = "port"
    elif what == "tenant":
        old = draw(st.sampled_from(fabric["netfabric_tenants"]))
        new = draw(names)
        for h in hosts.values():
            for port in h["netfabric_ports"]:
                if port["tenant"] == old["name"]:
                    port["tenant"] = new
        old["name"] = new
        key = "tenant"
    elif what == "state_dir":
        fabric["netfabric_state_dir"] = draw(paths)
        key = "netfabric_state_dir"
    else:
        hosts[host]["netfabric_state_dir"] = draw(paths)
        key = "netfabric_state_dir"
    return hosts, fabric, key


def modules_accept(host_plan):
    """Every module the roles run with this host's plan accepts its arguments (raises if not)."""
    for bridge in host_plan["bridges"]:
        B.want_bridge({"state": "present", "parent": None, "vlan": None, **bridge})
    groups = [*host_plan["ports"]["fabric"], *(host_plan["ports"][k] for k in ("tenants", "vxlan", "gre", "provider_vlans"))]
    for group in groups:
        ifname("bridge", group["bridge"])
        P.want_ports(group["ports"], group["owner"])
    for link in host_plan["vlan_subinterfaces"]:
        I.link_want({"state": "present", **link})
    underlay = host_plan["underlay"]
    I.link_want({"name": underlay["uplink"], "state": "present"})
    I.address_want({"dev": underlay["bridge"] or underlay["uplink"], "addresses": [f"{underlay['address']}/{underlay['prefix']}"],
                    "state": "present"})
    for bridge, flows in host_plan["flows"].items():
        restore_file = f"{host_plan['state_dir']}/flows/{bridge}.flows"
        F.want_flows({"bridge": bridge, "cookie": host_plan["flow_cookie"], "flows": flows, "state": "present", "restore_file": restore_file})
    abs_path("netfabric_state_dir", host_plan["state_dir"], strict=True)
    for name in host_plan["verify_ports"]:
        ifname("verify_ports", name)


@settings(PROPERTY, max_examples=500)
@given(inventories())
def test_inventory_refuses_by_name_or_every_module_accepts_its_plan(case):
    hosts, fabric, key = case
    try:
        topology = plan.build(hosts, fabric)
    except FabricError as err:
        assert err.problems
        assert any(key in problem for problem in err.problems), err.problems
        return
    for host_plan in plan.fabric_plan(topology).values():
        modules_accept(host_plan)


def test_the_example_plan_passes_every_module():
    for host_plan in plan.fabric_plan(plan.build(*copy.deepcopy((EXAMPLE["hosts"], EXAMPLE["fabric"])))).values():
        modules_accept(host_plan)


# ---------------------------------------------------------------- the cases named in the issue, one by one

def _refused(hosts, fabric):
    try:
        plan.build(hosts, fabric)
    except FabricError as err:
        return err.problems
    raise AssertionError("the inventory was accepted")


def test_a_quote_or_hash_in_an_inventory_name_is_refused_before_any_host_is_touched():
    for value in ('tap"1', "tap'1", "tap#1", "--", "-x", "tap-" + "\u00e9" * 9, "a\x00b"):
        hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
        hosts["hv1"]["netfabric_ports"][0]["name"] = value
        problems = _refused(hosts, fabric)
        assert any(p.startswith(f"host hv1 port {value}: {value!r} is not a valid interface name") for p in problems), problems
        hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
        hosts["hv3"]["netfabric_uplink"] = value
        assert any(p.startswith("host hv3: netfabric_uplink") for p in _refused(hosts, fabric))
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    fabric["netfabric_tenants"][0]["name"] = 'r"ed'
    assert any(p.startswith("tenant r\"ed: name") for p in _refused(hosts, fabric))


def test_state_dir_must_be_a_clean_absolute_path():
    for value in ("/tmp/nf\nExecStartPre=/bin/sh", "/etc/../tmp", "/a//b", "/a/", "/", "rel", "/srv/my flows", "/srv/%h", "/x\x00y"):
        hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
        fabric["netfabric_state_dir"] = value
        assert [p for p in _refused(hosts, fabric) if p.startswith(f"fabric: netfabric_state_dir {value!r} is not")], value
        hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
        hosts["hv2"]["netfabric_state_dir"] = value
        assert [p for p in _refused(hosts, fabric) if p.startswith(f"host hv2: netfabric_state_dir {value!r} is not")], value
