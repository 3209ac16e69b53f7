"""netfabric.ovs.ethtool_features against the real kernel: a veth pair in a PREFIX namespace, features
read back with `ethtool -k` inside it (the way a DHCP namespace's end is fixed on netdev hosts)."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest
from conftest import PREFIX, run_module

import netns

ROOT = SimpleNamespace(python=netns.PYTHON)  # run_module's host: the machine itself; netns picks the namespace
_names = itertools.count(1)


@pytest.fixture
def veth():
    """A namespace PREFIX-ethN holding the veth pair qd-x / qd-x-peer; removed afterwards."""
    ns = f"{PREFIX}-eth{next(_names)}"
    netns.sh("ip", "netns", "add", ns)
    netns.sh("ip", "-n", ns, "link", "add", "qd-x", "type", "veth", "peer", "name", "qd-x-peer")
    yield ns
    netns.sh("ip", "netns", "del", ns, check=False)


def features(ns, dev="qd-x"):
    """{name: on} as ethtool reads them inside the namespace."""
    raw = json.loads(netns.sh("ip", "netns", "exec", ns, "ethtool", "--json", "-k", dev, capture=True))[0]
    return {name: state["active"] for name, state in raw.items() if isinstance(state, dict)}


def test_tx_checksumming_off_check_diff_idempotent(veth):
    args = {"dev": "qd-x", "netns": veth, "features": {"tx-checksumming": False}}
    start = features(veth)
    assert start["tx-checksumming"] is True and start["tx-checksum-ip-generic"] is True

    r = run_module(ROOT, "ethtool_features", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["diff"] == {"before": {"tx-checksumming": True}, "after": {"tx-checksumming": False}}
    assert r["commands"] == [["ip", "netns", "exec", veth, "ethtool", "-K", "qd-x", "tx-checksumming", "off"]]
    assert features(veth) == start, "check mode changed a feature"

    r = run_module(ROOT, "ethtool_features", args, diff=True)
    assert r["changed"] is True, r
    assert r["after"] == {"tx-checksumming": False}
    now = features(veth)
    assert now["tx-checksumming"] is False and now["tx-checksum-ip-generic"] is False
    assert now["tx-checksum-sctp"] is False
    assert features(veth, "qd-x-peer")["tx-checksumming"] is True, "the peer end changed too"
    # the kernel takes TSO along (it needs TX checksums); reported, not hidden
    assert r["also_changed"].get("tx-tcp-segmentation") is False, r["also_changed"]

    for check in (True, False):
        again = run_module(ROOT, "ethtool_features", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again

    # a short name and a string value mean the same feature; back on in one call
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": veth, "features": {"tx": "on"}})
    assert r["changed"] is True and r["after"] == {"tx-checksumming": True}, r
    assert features(veth)["tx-checksum-ip-generic"] is True


def test_several_features_in_one_write(veth):
    args = {"dev": "qd-x", "netns": veth,
            "features": {"generic-segmentation-offload": False, "generic-receive-offload": True, "tso": False}}
    r = run_module(ROOT, "ethtool_features", args)
    assert r["changed"] is True, r
    assert len(r["commands"]) == 1 and r["commands"][0][4:7] == ["ethtool", "-K", "qd-x"], r["commands"]
    words = r["commands"][0][7:]  # the play file's YAML sorts the keys, so compare the pairs, not their order
    assert dict(zip(words[::2], words[1::2])) == {
        "generic-segmentation-offload": "off", "generic-receive-offload": "on", "tcp-segmentation-offload": "off"}
    now = features(veth)
    assert (now["generic-segmentation-offload"], now["generic-receive-offload"], now["tcp-segmentation-offload"]) == (
        False, True, False)
    assert run_module(ROOT, "ethtool_features", args)["changed"] is False


def test_unknown_feature_fails_naming_it(veth):
    start = features(veth)
    r = run_module(ROOT, "ethtool_features",
                   {"dev": "qd-x", "netns": veth, "features": {"tx-checksuming": False, "gso": False}})
    assert r.get("failed") is True and r["changed"] is False, r
    assert "'tx-checksuming' is not a feature of 'qd-x'" in r["msg"], r["msg"]
    assert "tx-checksumming" in r["msg"].split("close names:")[1], r["msg"]
    assert features(veth) == start, "a failing task changed a feature"


def test_fixed_feature_fails_naming_it(veth):
    fixed_off = "large-receive-offload"
    raw = json.loads(netns.sh("ip", "netns", "exec", veth, "ethtool", "--json", "-k", "qd-x", capture=True))[0]
    assert raw[fixed_off] == {"active": False, "fixed": True, "requested": False}, "veth's LRO is no longer fixed off"
    start = features(veth)

    r = run_module(ROOT, "ethtool_features",
                   {"dev": "qd-x", "netns": veth, "features": {fixed_off: True, "tx-checksumming": False}})
    assert r.get("failed") is True and r["changed"] is False, r
    assert f"{fixed_off} is fixed off" in r["msg"], r["msg"]
    assert features(veth) == start, "nothing may change when one feature cannot"

    # already at its fixed value: nothing to do
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": veth, "features": {fixed_off: False}})
    assert r["changed"] is False and not r.get("failed"), r


def test_what_the_kernel_refuses_fails_naming_it(veth):
    """TSO needs TX checksums: with tx-checksumming off the kernel refuses it, and ethtool says so only in text."""
    assert run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": veth, "features": {"tx": False}})["changed"]

    # alone: ethtool exits 1 ("Could not change any device features"), nothing changed
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": veth, "features": {"tx-tcp-segmentation": True}})
    assert r.get("failed") is True and r["changed"] is False, r
    assert "took none of tx-tcp-segmentation" in r["msg"] and "requested on" in r["msg"], r["msg"]

    # with one the kernel takes: ethtool exits 0, the read back finds the one it kept
    r = run_module(ROOT, "ethtool_features",
                   {"dev": "qd-x", "netns": veth, "features": {"tx-tcp-segmentation": True, "generic-receive-offload": True}})
    assert r.get("failed") is True and r["changed"] is True, r
    assert "tx-tcp-segmentation reads off, not as asked" in r["msg"], r["msg"]
    now = features(veth)
    assert now["generic-receive-offload"] is True and now["tx-tcp-segmentation"] is False


def test_missing_device_and_namespace(veth):
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-nope", "netns": veth, "features": {"tx": False}})
    assert r.get("failed") is True and f"dev: no interface 'qd-nope' in network namespace '{veth}'" in r["msg"], r

    gone = f"{PREFIX}-nosuch"
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": gone, "features": {"tx": False}})
    assert r.get("failed") is True and f"netns: no network namespace '{gone}'" in r["msg"], r

    # check mode: an earlier task of the run may create them; assumed with a warning
    r = run_module(ROOT, "ethtool_features", {"dev": "qd-x", "netns": gone, "features": {"tx": False}}, check=True)
    assert r["changed"] is True and not r.get("failed"), r
    assert r["commands"] == [["ip", "netns", "exec", gone, "ethtool", "-K", "qd-x", "tx-checksumming", "off"]]
    assert any("check mode" in w for w in r.get("warnings", [])), r
