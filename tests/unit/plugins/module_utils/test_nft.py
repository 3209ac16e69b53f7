"""nft_table's pure half: validation (nothing given can reach another table), the rendered table, the one
transaction, and nft's recorded output read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _nft as nft
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "nft"
POSTROUTING = {"name": "postrouting", "type": "nat", "hook": "postrouting", "priority": "srcnat", "policy": "accept",
               "rules": ['ip saddr 10.72.0.0/24 oifname "qg" snat ip to 203.0.113.10']}


def params(**given):
    out = {"family": "inet", "name": "netfabric_t", "state": "present", "netns": None, "timeout": 5}
    out.update(given)
    result = ArgumentSpecValidator(nft.ARGUMENT_SPEC, **{k: v for k, v in nft.RULES.items()
                                                         if k != "supports_check_mode"}).validate(out)
    if result.error_messages:
        raise ValidationError("; ".join(result.error_messages))
    return result.validated_parameters


def want(**given):
    return nft.table_want(params(**given))


def test_rendered_table_is_what_nft_was_given():
    """The fixture want.nft is what nft loaded to record echo.txt: the renderer writes exactly it."""
    assert nft.table_text(want(chains=[POSTROUTING])) == (FIXTURES / "want.nft").read_text()


def test_transaction_names_only_this_table():
    w = want(chains=[POSTROUTING])
    script = nft.transaction(w, exists=True)
    assert script.startswith("table inet netfabric_t {}\ndelete table inet netfabric_t\ntable inet netfabric_t {\n")
    assert script.count("table ") == 3 and "flush ruleset" not in script
    assert nft.transaction(want(state="absent"), exists=True) == "delete table inet netfabric_t\n"
    assert nft.transaction(want(state="absent"), exists=False) == ""
    assert nft.table_text(want(chains=[])) == "table inet netfabric_t {\n}\n"


def test_canonical_lines_and_plan():
    echo = nft.canonical_lines((FIXTURES / "echo.txt").read_text())
    assert echo == [
        "add table inet netfabric_t",
        "add chain inet netfabric_t postrouting { type nat hook postrouting priority srcnat; policy accept; }",
        'add rule inet netfabric_t postrouting ip saddr 10.72.0.0/24 oifname "qg" snat ip to 203.0.113.10',
    ]
    w = want(chains=[POSTROUTING])
    assert nft.plan_table(w, echo, echo) == (False, echo, echo)
    assert nft.plan_table(w, None, echo) == (True, [], echo)
    assert nft.plan_table(w, echo[:2], echo)[0] is True
    assert nft.plan_table(want(state="absent"), echo, None) == (True, echo, [])
    assert nft.plan_table(want(state="absent"), None, None) == (False, [], [])


def test_stateless_list_is_reloadable_text():
    """What the read gets (`nft -s list table`): counters without numbers, so traffic is no change."""
    text = (FIXTURES / "list_stateless.txt").read_text()
    assert "counter\n" in text and "packets" not in text
    assert nft.text_problem(text.split("{", 1)[1].rsplit("}", 1)[0], one_rule=False) is None


@pytest.mark.parametrize("rule, problem", [
    ("accept; }; delete table ip foreign", "';'"),
    ("accept }", "closes a '}'"),
    ("ip saddr { 10.0.0.1", "leaves a '{' open"),
    ('accept comment "open', "quote left open"),
    ("accept # and the rest", "'#'"),
    ("accept\ndrop", "line break"),
    ("accept\x00", "control character"),
    ('oif "eth0" accept', "iif/oif"),
    ("meta iif lo accept", "iif/oif"),
])
def test_a_rule_cannot_leave_its_line(rule, problem):
    assert problem in nft.text_problem(rule, one_rule=True)


@pytest.mark.parametrize("rule", [
    'ip saddr { 10.0.0.1, 10.0.0.2 } counter accept comment "a } b; # c"',
    'iifname "qr-red" oifname "qg-red" accept',
    "ip daddr 203.0.113.20 dnat ip to 10.0.0.5",
])
def test_ordinary_rules_pass(rule):
    assert nft.text_problem(rule, one_rule=True) is None


def test_text_blocks_may_nest_and_comment_but_not_escape():
    assert nft.text_problem("set s { type ipv4_addr; }  # a set }\nchain c {\n accept\n}\n", one_rule=False) is None
    assert "closes" in nft.text_problem("chain c { accept }\n}\ntable ip other {", one_rule=False)


@pytest.mark.parametrize("given, field", [
    ({"name": "bad-name", "chains": []}, "name: 'bad-name'"),
    ({"name": "9lives", "chains": []}, "name: '9lives'"),
    ({"chains": [{"name": "c", "type": "nat"}]}, "chains[0]: a base chain needs type, hook and priority"),
    ({"chains": [{"name": "c", "policy": "drop"}]}, "chains[0].policy"),
    ({"chains": [dict(POSTROUTING, priority="srcnat; flush ruleset")]}, "chains[0].priority"),
    ({"chains": [POSTROUTING, POSTROUTING]}, "chains[1].name"),
    ({"chains": [{"name": "c", "rules": [""]}]}, r"chains[0].rules[0]: empty"),
    ({"chains": [{"name": "c", "rules": ["accept", "x }"]}]}, r"chains[0].rules[1]"),
    ({"text": "} table ip x {"}, "text:"),
    ({"chains": [], "text": ""}, "mutually exclusive"),
    ({}, "chains, text"),
    ({"chains": [], "netns": "a b"}, "netns:"),
])
def test_bad_input_names_the_field(given, field):
    with pytest.raises(ValidationError) as caught:
        want(**given)
    assert field in str(caught.value)


def test_absent_needs_no_body():
    w = want(state="absent")
    assert w["body"] is None and nft.plan_table(w, None, None)[0] is False
