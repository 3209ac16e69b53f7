"""ethtool_features's pure half: validation (each error names its field), parsing of a veth's real
`ethtool --json -k` output (recorded with ethtool 6.1 on kernel 6.18), the planned -K words, and what the
read back calls kept or also changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _ethtool as ethtool
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

VETH = json.loads((Path(__file__).parent / "fixtures" / "ethtool" / "veth-features.json").read_text())


def want(features, dev="qd-red", netns="qdhcp-red-0", **given):
    params = {"dev": dev, "netns": netns, "features": features, "timeout": 5}
    params.update(given)
    result = ArgumentSpecValidator(ethtool.ARGUMENT_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return ethtool.features_want(result.validated_parameters)


def have():
    return ethtool.parse_features(VETH)


def test_parse_recorded_veth():
    got = have()
    assert "ifname" not in got and len(got) == 63
    assert got["tx-checksumming"] == {"on": True, "fixed": False}  # a group: ethtool gives it fixed null
    assert got["tx-checksum-ip-generic"] == {"on": True, "fixed": False}
    assert got["tx-checksum-ipv4"] == {"on": False, "fixed": True}
    assert got["large-receive-offload"] == {"on": False, "fixed": True}
    assert got["generic-receive-offload"] == {"on": False, "fixed": False}
    assert ethtool.parse_features([]) == {}  # what ethtool prints for a device it cannot find


def test_want_takes_booleans_words_and_short_names():
    got = want({"tx": "off", "generic-segmentation-offload": True, "tx-udp_tnl-segmentation": "ON", "gro": False})
    assert got == {"dev": "qd-red", "netns": "qdhcp-red-0", "timeout": 5,
                   "features": {"tx-checksumming": False, "generic-segmentation-offload": True,
                                "tx-udp_tnl-segmentation": True, "generic-receive-offload": False}}
    assert want({}, netns=None)["netns"] is None


@pytest.mark.parametrize(("given", "field", "rule"), [
    ({"dev": ""}, "dev:", "empty"),
    ({"dev": "qd-red-0123456789"}, "dev:", "longer than 15 bytes"),
    ({"netns": "a/b"}, "netns:", "'/'"),
    ({"features": {"tx-checksumming": "maybe"}}, "features.tx-checksumming:", "is not a boolean or on/off"),
    ({"features": {"tx": 1}}, "features.tx:", "is not a boolean or on/off"),
    ({"features": {"Tx-Checksumming": False}}, "features:", "is not a feature name"),
    ({"features": {"-tx": False}}, "features:", "is not a feature name"),
    ({"features": {"tx on": False}}, "features:", "is not a feature name"),
    ({"features": {"tx": False, "tx-checksumming": False}}, "features:", "name the same feature (tx-checksumming)"),
    ({"timeout": 0}, "timeout:", "out of range"),
])
def test_bad_input_names_the_field(given, field, rule):
    params = {"dev": "qd-red", "netns": "qdhcp-red-0", "features": {"tx": False}, "timeout": 5}
    params.update(given)
    with pytest.raises(ValidationError) as caught:
        ethtool.features_want(params)
    assert str(caught.value).startswith(field) and rule in str(caught.value), str(caught.value)


def test_plan_only_what_differs_in_order():
    words, before, after = ethtool.plan_features(
        want({"tx": False, "generic-segmentation-offload": True, "generic-receive-offload": True}), have())
    assert words == ["tx-checksumming", "off", "generic-receive-offload", "on"]
    assert before == {"tx-checksumming": True, "generic-segmentation-offload": True, "generic-receive-offload": False}
    assert after == {"tx-checksumming": False, "generic-segmentation-offload": True, "generic-receive-offload": True}


def test_plan_nothing_when_all_agree_even_fixed_ones():
    words, before, after = ethtool.plan_features(want({"large-receive-offload": False, "rx": True}), have())
    assert words == [] and before == after == {"large-receive-offload": False, "rx-checksumming": True}


def test_unknown_feature_is_named_with_close_names():
    with pytest.raises(ValidationError) as caught:
        ethtool.plan_features(want({"tx-checksuming": False, "ufo": False}), have())
    msg = str(caught.value)
    assert "features: 'tx-checksuming' is not a feature of 'qd-red' in network namespace 'qdhcp-red-0'" in msg
    assert "close names: tx-checksumming" in msg
    # ufo's long name is gone from today's kernels: named as the module knows it
    assert "'udp-fragmentation-offload' is not a feature" in msg


def test_fixed_feature_at_the_other_value_is_refused():
    with pytest.raises(ValidationError) as caught:
        ethtool.plan_features(want({"large-receive-offload": True, "tx-checksum-ipv4": "on", "tx": False},
                                   netns=None), have())
    assert str(caught.value) == ("features: large-receive-offload is fixed off, tx-checksum-ipv4 is fixed off on "
                                 "'qd-red': the driver does not let them change")


def test_read_back_finds_kept_and_also_changed():
    asked = want({"tx": False, "gro": True})
    now = have()
    now["tx-checksumming"] = {"on": False, "fixed": False}
    now["tx-tcp-segmentation"] = {"on": False, "fixed": False}
    assert ethtool.not_taken(asked, now) == {"generic-receive-offload": False}
    assert ethtool.also_changed(asked, have(), now) == {"tx-tcp-segmentation": False}
    now["generic-receive-offload"] = {"on": True, "fixed": False}
    assert ethtool.not_taken(asked, now) == {}
