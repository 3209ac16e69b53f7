"""roles/network_node/files/netfabric-netns.py, the network node's boot script: what it would run, from
recorded `ip -j` output of a router namespace it made (fixtures/iproute/*router_netns*).

The script runs for real in tests/integration/test_network_node.py, after what a reboot takes (the
namespaces, their veths, tables and the DHCP servers' processes) was taken from a converged node.
"""

from __future__ import annotations

import copy
import json

from role_script import FIXTURES, load  # beside this file

boot = load("network_node", "netfabric-netns")

OWNER = "netfabric:netfabric-routers"
SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1"}
ROUTER = {
    "name": "nnxrr",
    "sysctls": SYSCTLS,
    "links": [
        {"name": "qg-aaaaaaaaaa", "mac": "0e:4e:46:00:00:01", "addresses": ["203.0.113.10/24", "203.0.113.50/32"], "features": {"tx-checksumming": False}},
        {"name": "qr-bbbbbbbbbb", "mac": "0e:4e:46:00:00:02", "mtu": 1400, "addresses": ["10.0.0.1/24"]},
    ],
    "routes": [{"dst": "default", "via": "203.0.113.1"}],
    "nft": {"family": "ip", "name": "netfabric", "file": "/etc/netfabric/nft/nnxrr.nft"},
}
STATE = {"owner": OWNER, "namespaces": [ROUTER]}


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def converged():
    """The host as the script (or Ansible) leaves it."""
    return {
        "netns": {"nnxrr"},
        "links": {link["ifname"]: link for link in fixture("link_network_node_host.json")},
        "inside": {"nnxrr": {"links": {link["ifname"]: link for link in fixture("addr_router_netns.json")},
                             "routes": fixture("route_router_netns.json"), "sysctls": dict(SYSCTLS), "table": True}},
    }


def rebooted():
    """After a reboot: no namespace, and none of the veths (they went with it)."""
    return {"netns": set(), "links": {"lo": {"ifname": "lo", "flags": ["LOOPBACK"]}}, "inside": {}}


def test_a_converged_node_needs_nothing():
    steps, problems = boot.plan(STATE, converged())
    assert (boot.commands(steps), problems) == ([], [])


def test_after_a_reboot_everything_comes_back_with_forwarding_last():
    steps, problems = boot.plan(STATE, rebooted())
    assert problems == []
    assert steps["host"] == [
        "netns add nnxrr",
        "netns exec nnxrr sysctl -q -w net.ipv4.ip_forward=0",  # closed until the NAT table is back
        "link add name qg-aaaaaaaaaa type veth peer name qg-aaaaaaaaaa netns nnxrr",
        f"link set dev qg-aaaaaaaaaa alias {OWNER}",
        "link set dev qg-aaaaaaaaaa up",
        "link add name qr-bbbbbbbbbb type veth peer name qr-bbbbbbbbbb netns nnxrr",
        f"link set dev qr-bbbbbbbbbb alias {OWNER}",
        "link set dev qr-bbbbbbbbbb mtu 1400",
        "link set dev qr-bbbbbbbbbb up",
    ]
    assert steps["netns"]["nnxrr"][-1] == "route replace default via 203.0.113.1"
    assert "address add 203.0.113.50/32 dev qg-aaaaaaaaaa" in steps["netns"]["nnxrr"]
    argvs = [argv for argv, _lines in boot.commands(steps)]
    assert argvs == [
        ["ip", "-batch", "-"],
        ["ip", "-n", "nnxrr", "-batch", "-"],
        ["ip", "netns", "exec", "nnxrr", "ethtool", "-K", "qg-aaaaaaaaaa", "tx-checksumming", "off"],  # only on a veth it made
        ["ip", "netns", "exec", "nnxrr", "nft", "-f", "/etc/netfabric/nft/nnxrr.nft"],
        ["ip", "-batch", "-"],
    ]
    assert boot.commands(steps)[-1][1] == ["netns exec nnxrr sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.ip_forward=1"]


def test_only_what_is_missing_inside_a_namespace_that_survived():
    host = converged()
    inside = host["inside"]["nnxrr"]
    qg = inside["links"]["qg-aaaaaaaaaa"]
    qg["addr_info"] = [a for a in qg["addr_info"] if a["local"] != "203.0.113.50"]
    inside["routes"] = [r for r in inside["routes"] if r["dst"] != "default"]
    inside["table"] = False
    inside["sysctls"]["net.ipv4.ip_forward"] = "0"
    steps, problems = boot.plan(STATE, host)
    assert problems == [] and steps["host"] == [] and steps["ethtool"] == []
    assert steps["netns"] == {"nnxrr": ["address add 203.0.113.50/32 dev qg-aaaaaaaaaa", "route replace default via 203.0.113.1"]}
    assert steps["nft"] == [("nnxrr", "/etc/netfabric/nft/nnxrr.nft")]
    assert steps["sysctls"] == ["netns exec nnxrr sysctl -q -w net.ipv4.ip_forward=1"]


def test_a_stranger_with_a_wanted_name_leaves_its_namespace_unmade():
    host = rebooted()
    host["links"]["qr-bbbbbbbbbb"] = {"ifname": "qr-bbbbbbbbbb", "flags": ["UP"]}  # someone else's link
    steps, problems = boot.plan(STATE, host)
    assert boot.commands(steps) == []
    assert problems == ["nnxrr: qr-bbbbbbbbbb exists outside the namespace and is not the veth into it; left alone"]


def test_a_failed_step_stops_before_the_sysctls(monkeypatch, tmp_path, capsys):
    state = tmp_path / "netns.json"
    state.write_text(json.dumps(STATE))
    ran = []

    class Proc:
        def __init__(self, rc):
            self.returncode, self.stdout, self.stderr = rc, "", "Error: syntax" if rc else ""

    def fake_run(argv, data=None):
        ran.append(argv)
        return Proc(1 if "nft" in argv else 0)

    monkeypatch.setattr(boot, "read_host", lambda _state: rebooted())
    monkeypatch.setattr(boot, "_run", fake_run)
    assert boot.main([f"--state={state}"]) == 1
    assert ran[-1][-3:] == ["nft", "-f", "/etc/netfabric/nft/nnxrr.nft"], "nothing runs after the failed table"
    assert boot.main([f"--state={tmp_path / 'none.json'}"]) == 0  # a host with no state: nothing to put back


def test_check_runs_nothing(monkeypatch, tmp_path, capsys):
    state = tmp_path / "netns.json"
    state.write_text(json.dumps(copy.deepcopy(STATE)))
    monkeypatch.setattr(boot, "read_host", lambda _state: rebooted())

    def never(*argv, **kwargs):
        raise AssertionError(f"--check ran {argv} {kwargs}")

    monkeypatch.setattr(boot, "_run", never)
    assert boot.main([f"--state={state}", "--check"]) == 0
    assert "would run ip -batch -: netns add nnxrr" in capsys.readouterr().out


def test_a_host_end_left_down_is_set_up():
    """The host ends are OVS ports: ovs-vswitchd's userspace datapath can leave one down as it takes it back."""
    host = converged()
    host["links"]["qr-bbbbbbbbbb"]["flags"] = [flag for flag in host["links"]["qr-bbbbbbbbbb"]["flags"] if flag != "UP"]
    steps, problems = boot.plan(STATE, host)
    assert problems == [] and steps["host"] == ["link set dev qr-bbbbbbbbbb up"] and steps["veths"] == []
    assert boot.plan(STATE, rebooted())[0]["veths"] == ["qg-aaaaaaaaaa", "qr-bbbbbbbbbb"]


def test_veths_made_are_set_up_again_until_they_stay_up(monkeypatch):
    """qr- found down once (ovs-vswitchd wrote back stale flags), set up again, then up for five reads."""
    links = fixture("link_network_node_host.json")
    reads = iter([[dict(link, flags=["BROADCAST"]) if link["ifname"] == "qr-bbbbbbbbbb" else link for link in links]] + [links] * 5)
    ran = []
    monkeypatch.setattr(boot, "_json", lambda argv: next(reads))
    monkeypatch.setattr(boot, "_run", lambda argv, data=None: ran.append((argv, data)))
    monkeypatch.setattr(boot.time, "sleep", lambda seconds: None)
    assert boot.settle(["qg-aaaaaaaaaa", "qr-bbbbbbbbbb"]) == []
    assert ran == [(["ip", "-batch", "-"], "link set dev qr-bbbbbbbbbb up\n")]

    monkeypatch.setattr(boot, "_json", lambda argv: [dict(link, flags=["BROADCAST"]) for link in links])
    assert boot.settle(["qr-bbbbbbbbbb"]) == ["qr-bbbbbbbbbb: does not stay up"]
