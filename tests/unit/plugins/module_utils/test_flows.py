"""Flow normalisation, dump parsing, diff and bundle building, against output recorded from ovs-ofctl 3.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _flows as F

FIXTURES = Path(__file__).parent / "fixtures" / "flows"
PIPELINE = (FIXTURES / "pipeline.txt").read_text().splitlines()
COOKIE = 0x7


def fixture(name):
    return (FIXTURES / name).read_text()


def norm(text, **kw):
    return F.parse_flow(text, **kw).text


# ---------------------------------------------------------------- tokenising

@pytest.mark.parametrize("text, parts", [
    ("a,b,c", ["a", "b", "c"]),
    ("resubmit(,1),output:2", ["resubmit(,1)", "output:2"]),
    ("learn(table=20,NXM_OF_VLAN_TCI[0..11],output:OXM_OF_IN_PORT[]),output:x",
     ["learn(table=20,NXM_OF_VLAN_TCI[0..11],output:OXM_OF_IN_PORT[])", "output:x"]),
    ("ct(commit,exec(set_field:1->ct_mark)),drop", ["ct(commit,exec(set_field:1->ct_mark))", "drop"]),
    ('output:"a,b",drop', ['output:"a,b"', "drop"]),
])
def test_split_top(text, parts):
    assert F.split_top(text) == parts


@pytest.mark.parametrize("text", ["learn(table=20", "a)", 'output:"x'])
def test_split_top_rejects_unbalanced(text):
    with pytest.raises(F.FlowError):
        F.split_top(text)


# ---------------------------------------------------------------- equal after normalisation

SAME = [
    # field order
    ("priority=1,dl_vlan=1,dl_dst=52:54:00:00:00:02,actions=drop",
     "dl_dst=52:54:00:00:00:02,priority=1,dl_vlan=1,actions=drop"),
    # default priority and table
    ("actions=drop", "table=0,priority=32768,actions=drop"),
    # empty actions mean drop
    ("priority=1,actions=", "priority=1,actions=drop"),
    # hex vs decimal
    ("tun_id=0x3e9,actions=drop", "tun_id=1001,actions=drop"),
    ("dl_vlan=0x10,actions=drop", "dl_vlan=16,actions=drop"),
    ("actions=set_tunnel:0x3e9", "actions=set_tunnel:1001"),
    ("actions=set_tunnel:1001", "actions=set_field:0x3e9->tun_id"),
    ("actions=set_tunnel64:0x3e9", "actions=load:0x3e9->NXM_NX_TUN_ID[]"),
    ("reg0=5,actions=drop", "reg0=0x5,actions=drop"),
    # MAC case and masks
    ("dl_dst=AA:BB:CC:DD:EE:FF,actions=drop", "dl_dst=aa:bb:cc:dd:ee:ff,actions=drop"),
    ("eth_dst=aa:bb:cc:dd:ee:ff/ff:ff:ff:ff:ff:ff,actions=drop", "dl_dst=aa:bb:cc:dd:ee:ff,actions=drop"),
    # quotes around port names, output spellings
    ('in_port="patch-int",actions=output:"vxlan-ac1f0002"', "in_port=patch-int,actions=output:vxlan-ac1f0002"),
    ("actions=vxlan-ac1f0002", "actions=output:vxlan-ac1f0002"),
    ("actions=normal,in_port,output:LOCAL", "actions=NORMAL,IN_PORT,LOCAL"),
    ("actions=controller", "actions=CONTROLLER:65535"),
    # stats and flags printed by dump-flows
    (" cookie=0x7, duration=0.2s, table=0, n_packets=4, n_bytes=9, idle_age=1, hard_age=2, priority=1 actions=drop",
     "priority=1,actions=drop"),
    ("idle_timeout=0,priority=1,actions=drop", "priority=1,actions=drop"),
    # protocol shorthands
    ("arp,actions=drop", "dl_type=0x0806,actions=drop"),
    ("tcp,tp_dst=80,actions=drop", "eth_type=0x800,ip_proto=6,tcp_dst=80,actions=drop"),
    ("udp6,actions=drop", "ipv6,nw_proto=17,actions=drop"),
    ("icmp6,actions=drop", "dl_type=0x86dd,nw_proto=58,actions=drop"),
    ("arp,nw_dst=10.0.0.2,actions=drop", "arp,arp_tpa=10.0.0.2,actions=drop"),
    # addresses
    ("ip,nw_src=10.0.0.1/24,actions=drop", "ip,nw_src=10.0.0.0/255.255.255.0,actions=drop"),
    ("arp,arp_tpa=10.0.0.2/32,actions=drop", "arp,arp_tpa=10.0.0.2,actions=drop"),
    ("ipv6,ipv6_src=fe80::1/64,actions=drop", "ipv6,ipv6_src=fe80::/64,actions=drop"),
    # VLAN actions: OpenFlow 1.4 prints a push only when the match has no VLAN
    ("tun_id=0x3e9,actions=mod_vlan_vid:1", "tun_id=0x3e9,actions=push_vlan:0x8100,set_field:4097->vlan_vid"),
    ("dl_vlan=5,actions=mod_vlan_vid:6", "dl_vlan=5,actions=set_field:4102->vlan_vid"),
    ("dl_vlan=1,actions=strip_vlan", "dl_vlan=1,actions=pop_vlan"),
    ("vlan_tci=0x1001/0x1fff,actions=drop", "dl_vlan=1,actions=drop"),
    # legacy set actions
    ("actions=mod_dl_src:52:54:00:00:00:02", "actions=set_field:52:54:00:00:00:02->eth_src"),
    ("arp,actions=load:0x525400000002->NXM_NX_ARP_SHA[]", "arp,actions=set_field:52:54:00:00:00:02->arp_sha"),
    ("arp,actions=load:0xa000002->NXM_OF_ARP_SPA[]", "arp,actions=set_field:10.0.0.2->arp_spa"),
    ("ip,actions=mod_nw_tos:4", "ip,actions=set_field:1->ip_dscp"),
    ("udp,actions=mod_tp_src:99", "udp,actions=set_field:99->udp_src"),
    ("actions=note:0a.bb", "actions=note:0a.bb.00.00.00.00"),
]


@pytest.mark.parametrize("left, right", SAME)
def test_same_after_normalisation(left, right):
    assert norm(left) == norm(right)


DIFFERENT = [
    ("priority=1,actions=drop", "priority=2,actions=drop"),
    ("table=1,actions=drop", "actions=drop"),
    ("actions=output:a,output:b", "actions=output:b,output:a"),
    ("metadata=0x10/0xff,actions=drop", "metadata=0x10,actions=drop"),
    ("tun_id=0x3e9,actions=drop", "tun_id=0x3ea,actions=drop"),
    ("dl_vlan=1,actions=mod_vlan_vid:2", "dl_vlan=1,actions=push_vlan:0x8100,set_field:4098->vlan_vid"),
    ("hard_timeout=60,actions=drop", "actions=drop"),
    ("ip,actions=drop", "ipv6,actions=drop"),
]


@pytest.mark.parametrize("left, right", DIFFERENT)
def test_different_after_normalisation(left, right):
    assert norm(left) != norm(right)


def test_port_numbers_map_to_names():
    ports = F.parse_ports(fixture("br-tun-ports-desc-of14.txt"))
    assert ports == {1: "patch-int", 2: "vxlan-ac1f0002", 3: "vxlan-ac1f0003"}
    flow = F.parse_flow("in_port=2,actions=output:1,resubmit(3,4)", ports=ports)
    assert flow.uses_port_numbers
    assert flow.text == norm('in_port="vxlan-ac1f0002",actions=output:"patch-int",resubmit("vxlan-ac1f0003",4)')
    assert not F.parse_flow("in_port=patch-int,actions=LOCAL").uses_port_numbers


# ---------------------------------------------------------------- recorded dumps

@pytest.mark.parametrize("dump", ["pipeline-of14.txt", "pipeline-of10.txt", "pipeline-of15.txt"])
@pytest.mark.parametrize("index", range(len(PIPELINE)))
def test_pipeline_flow_equals_its_dump(dump, index):
    """Every reference flow, as the roles write it, equals what OVS prints back (under any version)."""
    declared = F.parse_flow(PIPELINE[index], declared=True)
    dumped = {f.key: f for f in F.parse_dump(fixture(dump), cookie=COOKIE)}
    assert declared.key in dumped, f"no dumped flow with key {declared.key}"
    assert dumped[declared.key].text == declared.text


def test_pipeline_dump_gives_no_change():
    want = F.declared_flows(PIPELINE)
    have = F.parse_dump(fixture("pipeline-of14.txt"), cookie=COOKIE)
    assert len(have) == len(want) == 13
    plan = F.diff(want, have)
    assert not plan.changed
    assert F.bundle_lines(plan, COOKIE) == []


VARIANTS = (FIXTURES / "variants.txt").read_text().splitlines()


@pytest.mark.parametrize("line", VARIANTS)
def test_variant_equals_its_dump(line):
    ports = F.parse_ports(fixture("br-tun-ports-desc-of14.txt"))
    declared = F.parse_flow(line, ports=ports, declared=True)
    dumped = [f for f in F.parse_dump(fixture("variants-of14.txt"), cookie=0x9)
              if (f.table, f.priority) == (declared.table, declared.priority)]
    assert len(dumped) == 1
    assert dumped[0].text == declared.text


def test_parse_dump_keeps_only_the_cookie():
    text = fixture("br-tun-all-of14.txt")
    everything = F.parse_dump(text)
    assert sorted({f.cookie for f in everything}) == [0, 0x7, 0x8]
    owned = F.parse_dump(text, cookie=COOKIE)
    assert len(owned) == 13 and all(f.cookie == COOKIE for f in owned)
    learned = [f for f in everything if f.cookie == 0]
    assert [(f.table, f.attrs) for f in learned] == [(20, (("hard_timeout", "300"),))]
    normal = F.parse_dump(fixture("br-int-all-of14.txt"))
    assert [(f.cookie, f.priority, f.actions) for f in normal] == [(0, 0, "NORMAL")]
    assert F.parse_dump(fixture("br-int-all-of14.txt"), cookie=COOKIE) == []


def test_parse_dump_of_stats_fields():
    flow = F.parse_dump(fixture("pipeline-of14.txt"))[0]
    assert flow.text == "table=0,priority=1,in_port=patch-int,actions=resubmit(,1)"
    assert flow.strict_match() == 'table=0,priority=1,in_port="patch-int"'


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("flows, message", [
    (["priority=1"], "flows[0] ('priority=1'): no 'actions='"),
    (["actions=drop", "cookie=0x5,actions=drop"], "flows[1]"),
    (["actions=drop", "cookie=0x5,actions=drop"], "the module adds its own cookie"),
    (["n_packets=3,actions=drop"], "statistic"),
    (["table=255,actions=drop"], "table='255' is not a number in 0-254"),
    (["priority=65536,actions=drop"], "priority"),
    (["priority=x,actions=drop"], "priority"),
    (["actions=learn(table=20"], "flows[0]"),
    (["dl_dst=zz:bb:cc:dd:ee:ff,actions=drop"], "is not a MAC address"),
    (["ip,nw_src=10.0.0.300,actions=drop"], "IPv4"),
    (["dl_vlan=,actions=drop"], "has no value"),
    (["actions=drop", "priority=32768,table=0,actions=NORMAL"], "same table, priority and match as flows[0]"),
    ([""], "empty flow"),
])
def test_declared_flows_rejected(flows, message):
    with pytest.raises(F.FlowError) as err:
        F.declared_flows(flows)
    assert message in str(err.value)


# ---------------------------------------------------------------- diff and bundle

def _keys(flows):
    return [f.text for f in flows]


@pytest.mark.parametrize("want, have, deleted, added", [
    # nothing present: everything is added
    (["priority=1,actions=drop"], [], [], ["priority=1,actions=drop"]),
    # equal in another spelling: nothing to do
    (["tun_id=1001,actions=set_tunnel:1001"], [" cookie=0x7, tun_id=0x3e9 actions=set_field:0x3e9->tun_id"], [], []),
    # same match, other actions: one add replaces it, no delete
    (["dl_vlan=1,actions=output:a"], [" cookie=0x7, dl_vlan=1 actions=output:b"], [], ["dl_vlan=1,actions=output:a"]),
    # not wanted any more: deleted
    (["priority=1,actions=drop"], [" cookie=0x7, priority=1 actions=drop", " cookie=0x7, priority=2 actions=drop"],
     ["priority=2,actions=drop"], []),
    # empty list: everything owned goes
    ([], [" cookie=0x7, priority=2 actions=drop"], ["priority=2,actions=drop"], []),
])
def test_diff(want, have, deleted, added):
    plan = F.diff(F.declared_flows(want), [F.parse_flow(h) for h in have])
    assert _keys(plan.delete) == [norm(d) for d in deleted]
    assert _keys(plan.add) == [norm(a) for a in added]
    assert plan.changed == bool(deleted or added)


def test_bundle_lines_change_one_flow_of_the_pipeline():
    want = list(PIPELINE)
    want[11] = "table=21,priority=0,actions=resubmit(,22)"      # changed actions
    del want[2]                                                # table=0,priority=0 no longer wanted
    have = F.parse_dump(fixture("pipeline-of14.txt"), cookie=COOKIE)
    lines = F.bundle_lines(F.diff(F.declared_flows(want), have), COOKIE)
    assert lines == [
        "flow delete_strict cookie=0x7/-1,table=0,priority=0",
        "flow add cookie=0x7,table=21,priority=0,actions=resubmit(,22)",
    ]


def test_bundle_lines_quote_ports_as_ovs_printed_them():
    have = F.parse_dump(fixture("pipeline-of14.txt"), cookie=COOKIE)
    lines = F.bundle_lines(F.diff([], have), 0xFFFFFFFFFFFFFFFF)
    assert len(lines) == 13
    assert 'flow delete_strict cookie=0xffffffffffffffff/-1,table=0,priority=1,in_port="patch-int"' in lines
    assert all("actions" not in line for line in lines)


BUNDLE = [
    "flow add cookie=0x7,table=0,priority=1,in_port=vxlan-ac1f0003,actions=resubmit(,3)",
    "flow add cookie=0x7,table=21,priority=1,dl_vlan=1,actions=output:vxlan-ac1f0009",
]


@pytest.mark.parametrize("stderr_file, lines, expected", [
    ("bundle-error-unknown-port.txt", BUNDLE, f"{BUNDLE[1]!r}: vxlan-ac1f0009: output to unknown port"),
    ("bundle-error-switch.txt", [BUNDLE[0], BUNDLE[1].replace("output:vxlan-ac1f0009", "group:5")],
     "'flow add cookie=0x7,table=21,priority=1,dl_vlan=1,actions=group:5': OFPBAC_BAD_OUT_GROUP"),
])
def test_explain_error_names_the_flow(stderr_file, lines, expected):
    assert F.explain_error(fixture(stderr_file), lines) == expected


@pytest.mark.parametrize("bridge, rundir, expected", [
    ("br-tun", None, "br-tun"),
    ("br-tun", "/run/ovs", "unix:/run/ovs/br-tun.mgmt"),
    ("br-int", "/run/ovs/", "unix:/run/ovs/br-int.mgmt"),
])
def test_target(bridge, rundir, expected):
    assert F.target(bridge, rundir) == expected


def test_dump_flags_separated_by_a_space_are_flags_not_match():
    """OpenFlow 1.0 add-flow sets reset_counts; dump-flows prints it before the match with a space."""
    line = " cookie=0x4e46, duration=2.1s, table=0, n_packets=0, n_bytes=0, reset_counts priority=0 actions=drop"
    (flow,) = F.parse_dump(line, cookie=0x4E46)
    assert (flow.table, flow.priority, flow.match, flow.actions) == (0, 0, (), "drop")
    assert flow.text == "table=0,priority=0,reset_counts,actions=drop"
