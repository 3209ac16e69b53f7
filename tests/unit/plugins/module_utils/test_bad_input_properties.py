"""Property-based bad input for every module's pure layer (hypothesis).

Each module's arguments are drawn from names and flows that mix valid values with what breaks the
tools underneath: '#' (a comment in `ip -batch` lines and ovs-ofctl bundle files), newlines, NUL,
quotes, a leading '-' or `--` (ovs-vsctl options and command separators), non-ASCII names longer
than 15 bytes but not 15 characters. Every case is either rejected with a ValidationError/FlowError
whose message starts with the field, or accepted; and what is accepted reaches the tool exactly as
meant: each `ip -batch` line reads back as the argv planned, each ovs-vsctl transaction splits into
the commands planned, each bundle line is one whole line that ovs-ofctl keeps entire.
Never another exception.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.netfabric.ovs.plugins.module_utils import _flows as F
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import address as IA
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import link as IL
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute import spec as I
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_bridge as B
from ansible_collections.netfabric.ovs.plugins.module_utils import _ovs_port as P
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import OvsState, transaction_argv
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, ifname

# Deterministic (CI reruns the same cases) and no example database written into the work tree.
PROPERTY = settings(max_examples=600, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

NASTY = ["#", "--", "-", '"', "'", "\\", " ", "\t", "\n", "\r", "\x00", "\x7f", ":", "/", "%", "$", ",", "=",
         "(", ")", "@", "+", ".", "_", "\u00e9", "\u00e0", "\u00a0", "\u2028", "\U0001f600"]
PLAIN = list("abcdefxyz0123456789-")

names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,14}", fullmatch=True),  # valid
    st.lists(st.sampled_from(PLAIN + NASTY), min_size=0, max_size=18).map("".join),
    st.sampled_from(["--", "-x", "-", ".", "..", "en#1", "tap-" + "\u00e9" * 9, "tap-\u00e9", "a\x00b", "123", "#a",
                     "a" * 15, "a" * 16, "br-int", "eth0.100", "a b", "x\ny"]),
    st.text(max_size=20),
)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


def field_of(message):
    """The field a validation message starts with: `ports[0].name: ...` -> ports[0].name."""
    return message.split(":", 1)[0]


# ---------------------------------------------------------------- models of the tools' parsers

def ip_batch_words(line):
    """How `ip -batch` reads one line: getcmdline() cuts at the first '#', makeargs() splits on
    blanks, a word that starts with a quote runs to the same quote."""
    line = line.split("#", 1)[0]
    words, i = [], 0
    while i < len(line):
        while i < len(line) and line[i] in " \t\r\n":
            i += 1
        if i >= len(line):
            break
        if line[i] in "'\"":
            end = line.find(line[i], i + 1)
            if end < 0:
                raise ValueError("unterminated quote")
            words.append(line[i + 1:end])
            i = end + 1
        else:
            end = i
            while end < len(line) and line[end] not in " \t\r\n":
                end += 1
            words.append(line[i:end])
            i = end
    return words


def vsctl_commands(argv):
    """How ovs-vsctl splits its arguments: `--` separates commands; a command's leading words that
    start with '-' are its options, the next word is the command."""
    commands, current = [], None
    for word in argv:
        if word == "--":
            current = []
            commands.append(current)
        else:
            current.append(word)
    return commands


VSCTL_VERBS = {"add-br", "del-br", "set", "remove", "add-port", "add-bond", "del-port", "create", "destroy", "clear"}


def assert_vsctl_safe(commands):
    assert vsctl_commands(transaction_argv(commands)) == commands
    for command in commands:
        options = [w for w in command[:2] if w.startswith("-")]
        verb = command[len(options)]
        assert all(o.startswith("--id=@") for o in options), command
        assert verb in VSCTL_VERBS, command
        assert "\x00" not in "".join(command)


def ofctl_bundle_line(line):
    """How ovs-ofctl reads a bundle file line: one line per flow, cut at the first '#'."""
    assert "\n" not in line and "\r" not in line and "\x00" not in line, line
    return line.split("#", 1)[0]


# ---------------------------------------------------------------- ip_link / ip_address

link_params = st.fixed_dictionaries({
    "name": names,
    "state": st.sampled_from(I.LINK_STATES),
    "kind": st.sampled_from(I.KINDS),
    "link": maybe(names),
    "vlan_id": st.integers(1, 4094),
    "vni": st.integers(0, 100),
    "peer": maybe(names),
    "peer_netns": maybe(names),
    "netns": maybe(names),
    "master": maybe(st.one_of(st.just(""), names)),
    "mtu": maybe(st.integers(60, 9000)),
})


def _link(params):
    kind = params["kind"]
    allowed = set(I.KIND_OPTIONS[kind])
    out = {k: v for k, v in params.items() if k in ("name", "state", "kind", "netns", "master", "mtu") or k in allowed}
    if kind == "vlan":
        out.setdefault("link", None)
        out["link"] = out["link"] or "eth0"
    if kind == "veth":
        out["peer"] = out.get("peer") or "peer0"
    if kind == "macvlan":
        out["link"] = out.get("link") or "eth0"
    if kind != "veth":
        out.pop("peer_netns", None)
    elif out.get("peer_netns") is not None and out["peer"] is None:
        out.pop("peer_netns")
    return out


@PROPERTY
@given(link_params)
def test_ip_link_rejects_by_field_or_plans_lines_ip_reads_back_exactly(raw):
    params = _link(raw)
    try:
        want = I.link_want(params)
    except ValidationError as err:
        assert field_of(str(err)) in params or field_of(str(err)) == "local, remote, group", str(err)
        return
    for field in ("name", "link", "peer", "master"):
        if want.get(field):
            assert len(want[field].encode()) <= 15
    have = {"name": want["name"], "kind": "dummy", "state": "up", "mtu": 1500, "address": "02:00:00:00:00:01", "master": None}
    for before in (None, have):
        try:
            lines = IL.plan_link(want, before)
        except IL.PlanError as err:
            assert field_of(str(err)) in ("name", "kind")
            continue
        for line in lines:
            assert ip_batch_words(" ".join(line)) == line


@settings(PROPERTY, max_examples=300)
@given(names, st.lists(st.sampled_from(["10.0.0.1/24", "2001:db8::1/64", "10.0.0.1", "x#1/24", "10.0.0.2/24\n"]), max_size=3),
       maybe(names))
def test_ip_address_rejects_by_field_or_plans_lines_ip_reads_back_exactly(dev, addresses, netns):
    params = {"dev": dev, "addresses": addresses, "state": "present", "netns": netns}
    try:
        want = I.address_want(params)
    except ValidationError as err:
        assert re.fullmatch(r"dev|netns|addresses\[\d+\]", field_of(str(err))), str(err)
        return
    have = [{"address": "192.0.2.9/24", "family": "inet", "scope": "global", "secondary": False}]
    for state in ("present", "exact", "absent"):
        for line in IA.plan_addresses(dict(want, state=state), have):
            assert ip_batch_words(" ".join(line)) == line


# ---------------------------------------------------------------- ovs_bridge / ovs_port / ovs_ports

def empty_state(*bridges):
    """OVSDB with these bridges, empty (every column a bridge row has)."""
    rows = {f"uuid-{n}": {"_uuid": f"uuid-{n}", "name": name, "ports": [], "datapath_type": "", "fail_mode": [], "protocols": [],
                          "other_config": {}, "external_ids": {}} for n, name in enumerate(bridges)}
    return OvsState([rows, {}, {}, {}, {}])


@settings(PROPERTY, max_examples=300)
@given(names, maybe(names), st.integers(0, 4095), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2), names)
def test_ovs_bridge_rejects_by_field_or_plans_one_clean_transaction(name, parent, vlan, external_ids, owner):
    params = {"name": name, "state": "present", "parent": parent, "vlan": vlan if parent else None,
              "external_ids": external_ids, "owner": owner}
    try:
        want = B.want_bridge(params)
    except ValidationError as err:
        assert field_of(str(err)) in ("name", "parent"), str(err)
        return
    state = empty_state(parent) if parent else empty_state()
    commands, _before, _after = B.plan_bridge(want, state)
    assert_vsctl_safe(commands)
    assert_vsctl_safe(B.plan_bridge(dict(want, state="absent"), empty_state(want["name"]))[0])


port_specs = st.fixed_dictionaries(
    {"name": names, "type": st.sampled_from(["system", "internal", "patch", "vxlan"])},
    optional={
        "state": st.sampled_from(["present", "absent"]),
        "interfaces": st.lists(names, min_size=2, max_size=3),
        "tag": st.integers(-1, 4096),
        "options": st.fixed_dictionaries({"peer": names, "remote_ip": st.sampled_from(["10.0.0.1", "flow", "x#"])}),
        "external_ids": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    },
)


@settings(PROPERTY, max_examples=300)
@given(names, st.lists(port_specs, min_size=1, max_size=3), st.booleans())
def test_ovs_ports_rejects_by_field_or_plans_one_clean_transaction(bridge, specs, purge):
    for spec in specs:
        if spec.get("interfaces") is not None:
            spec["type"] = "system"
    try:
        ifname("bridge", bridge)
        wants = P.want_ports(specs, "netfabric-test")
    except ValidationError as err:
        assert re.fullmatch(r"bridge|ports\[\d+\]\.[a-z_]+(\[\d+\])?(\.[a-z_]+)?", field_of(str(err))), str(err)
        return
    commands, _before, _after = P.plan_ports(bridge, wants, empty_state(bridge), purge=purge, owner="netfabric-test")
    assert_vsctl_safe(commands)


# ---------------------------------------------------------------- ovs_flows

MATCHES = ["in_port=1", "in_port=tap1", "dl_vlan=5", "vlan_tci=0x1005/0x1fff", "vlan_vid=zz", "ip", "arp", "tcp,tp_dst=80",
           "nw_src=10.0.0.0/24", "dl_src=52:54:00:00:00:01", "reg1=3", "tun_id=0x10", "dl_type=0x800", "nw_proto=6",
           "metadata=1", 'in_port="a,b"', "priority=5", "table=3", "cookie=1", "n_packets=1", "idle_timeout=10"]
ACTIONS = ["drop", "normal", "output:2", "output:tap1", "resubmit(,1)", "mod_vlan_vid:5", "strip_vlan", "set_field:1->reg1",
           "load:0x1->NXM_NX_REG0[]", "learn(table=20,NXM_OF_VLAN_TCI[0..11])", "set_tunnel:0x10", "push_vlan:0x8100",
           "note:01.02", "ct(commit)", "controller", "mod_nw_tos:8", "mod_tp_src:99", "LOCAL"]
INJECT = ["\n", "\r", "#", "\x00", "\nflow delete cookie=0/0", " # x", "\t", ",", "=", "(", '"', "\u2028", "\x1b"]


@st.composite
def flow_texts(draw):
    match = draw(st.lists(st.sampled_from(MATCHES), max_size=4))
    actions = draw(st.lists(st.sampled_from(ACTIONS), max_size=3))
    text = ",".join(match + ["actions=" + ",".join(actions)])
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(INJECT)) + text[at:]
    return draw(st.one_of(st.just(text), st.just(text), st.text(max_size=30)))


@settings(PROPERTY, max_examples=1200)
@given(names, st.integers(0, 2**64), st.lists(flow_texts(), max_size=4),
       maybe(st.sampled_from(["/etc/netfabric/flows/br-tun.flows", "rel/x.flows", "/a/../b.flows", "/a\nb.flows", "/x/y z.flows"])))
def test_ovs_flows_rejects_by_field_or_builds_bundle_lines_ofctl_keeps_whole(bridge, cookie, flows, restore_file):
    params = {"bridge": bridge, "cookie": cookie, "flows": flows, "state": "present", "restore_file": restore_file}
    try:
        want = F.want_flows(params)
    except (ValidationError, F.FlowError) as err:
        assert re.match(r"(bridge|cookie|restore_file): |flows\[\d+\] \(", str(err)), str(err)
        return
    lines = F.bundle_lines(F.diff(want, []), cookie) + F.restore_lines(want, cookie)
    for line in lines:
        assert ofctl_bundle_line(line) == line
    # what is accepted is read back the same: a second parse of each flow is the same flow
    assert [F.parse_flow(f.raw, declared=True) for f in want] == want


# ---------------------------------------------------------------- the cases named in the issue, one by one

def test_a_newline_in_a_flow_cannot_inject_a_bundle_line():
    params = {"bridge": "br-tun", "cookie": 7, "state": "present", "flows": ["table=0,actions=drop\nflow delete cookie=0/0"]}
    try:
        F.want_flows(params)
    except F.FlowError as err:
        assert str(err).startswith("flows[0] (") and "control character '\\n'" in str(err)
    else:
        raise AssertionError("a newline in a flow was accepted")


def test_a_hash_in_a_flow_cannot_cut_its_bundle_line():
    params = {"bridge": "br-tun", "cookie": 7, "state": "present", "flows": ["in_port=en#1,actions=drop"]}
    try:
        F.want_flows(params)
    except F.FlowError as err:
        assert str(err).startswith("flows[0] (") and "'#'" in str(err)
    else:
        raise AssertionError("'#' in a flow was accepted")


def test_a_non_numeric_vlan_match_is_refused_not_a_traceback():
    try:
        F.declared_flows(["vlan_tci=zz/0x1fff,actions=drop"])
    except F.FlowError as err:
        assert str(err).startswith("flows[0] (") and "vlan_tci='zz/0x1fff' is not a number" in str(err)
    else:
        raise AssertionError("accepted")


def test_a_bridges_own_local_port_is_refused_by_name_not_by_ovs_vsctl():
    """Port `a` of bridge `a` cannot move to br0: ovs-vsctl would fail the whole transaction naming no field."""
    state = empty_state("br0", "a")
    state.bridges["a"]["port_names"] = ["a"]
    state.ports["a"] = {"name": "a", "bridge": "a", "interface_names": ["a"], "tag": [], "trunks": [], "vlan_mode": [],
                        "external_ids": {}, "other_config": {}, "bond_mode": [], "lacp": [], "qos": []}
    state.interfaces["a"] = {"name": "a", "type": "internal", "options": {}}
    for aggregate, field in ((False, "name"), (True, "ports[0].name")):
        try:
            P.plan_ports("br0", P.want_ports([{"name": "a", "type": "internal"}], "o"), state, aggregate=aggregate)
        except ValidationError as err:
            assert str(err).startswith(f"{field}: 'a' is the local port of bridge 'a'"), str(err)
        else:
            raise AssertionError("moving a bridge's local port was planned")
