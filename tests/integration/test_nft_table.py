"""netfabric.ovs.nft_table against the real kernel: SNAT and a floating IP (DNAT) in a router namespace
between a tenant and an outside network, proven with packets; a foreign table beside it stays as it was."""

from __future__ import annotations

import pytest
from conftest import run_module
from routerlab import Namespace, forward, link
import netns

EXTERNAL = "203.0.113.10"  # the router's address on the outside network
FLOATING = "203.0.113.20"  # the tenant VM's floating IP
OUTSIDE = "203.0.113.1"
VM = "10.72.0.5"  # has the floating IP
OTHER_VM = "10.72.0.6"  # has none: leaves as the router's external address
TABLE = "netfabric_qrouter_t"


@pytest.fixture
def natlab():
    """tenant (10.72.0.5) -- qr | router | qg (203.0.113.10, .20) -- outside (203.0.113.1).
    The outside has no route to 10.72.0.0/24: only NAT lets the tenant's packets get an answer."""
    tenant, router, outside = (Namespace(n).start() for n in ("ntt", "ntr", "nto"))
    link(tenant, "eth0", f"{VM}/24", router, "qr", "10.72.0.1/24")
    link(router, "qg", f"{EXTERNAL}/24", outside, "eth0", f"{OUTSIDE}/24")
    router.exec("ip", "address", "add", f"{FLOATING}/32", "dev", "qg")
    tenant.exec("ip", "address", "add", f"{OTHER_VM}/24", "dev", "eth0")
    tenant.exec("ip", "route", "add", "default", "via", "10.72.0.1")
    forward(router)
    netns.sh("ip", "netns", "exec", router.netns, "nft", "add", "table", "ip", "foreign")
    netns.sh("ip", "netns", "exec", router.netns, "nft", "add", "chain", "ip", "foreign", "keep",
             "{ type filter hook forward priority 10; policy accept; }")
    netns.sh("ip", "netns", "exec", router.netns, "nft", "add", "rule", "ip", "foreign", "keep", "ip", "saddr",
             "198.51.100.0/24", "counter", "accept", "comment", '"not the fabric\'s"')
    yield tenant, router, outside
    for ns in (tenant, router, outside):
        ns.stop()


def nat_chains():
    return [
        {"name": "prerouting", "type": "nat", "hook": "prerouting", "priority": "dstnat",
         "rules": [f"ip daddr {FLOATING} dnat ip to {VM}"]},
        {"name": "postrouting", "type": "nat", "hook": "postrouting", "priority": "srcnat", "policy": "accept",
         "rules": [f'ip saddr {VM} oifname "qg" snat ip to {FLOATING}',
                   f'ip saddr 10.72.0.0/24 oifname "qg" snat ip to {EXTERNAL}']},
    ]


def foreign(router):
    return router.exec("nft", "-s", "list", "table", "ip", "foreign")


def tables(router):
    return router.exec("nft", "list", "tables").split()


def test_snat_dnat_with_packets_and_foreign_table_untouched(natlab):
    tenant, router, outside = natlab
    other = foreign(router)
    assert not tenant.ping(OUTSIDE, source=OTHER_VM), "the outside answered without NAT: the test proves nothing"
    args = {"netns": router.netns, "name": TABLE, "chains": nat_chains()}

    r = run_module(router, "nft_table", args, check=True, diff=True)
    assert r["changed"] is True, r
    assert r["commands"] == [["ip", "netns", "exec", router.netns, "nft", "-f", "-"]]
    assert r["diff"]["before"] == "" and f"snat ip to {EXTERNAL}" in r["diff"]["after"]
    assert TABLE not in tables(router), "check mode created the table"

    r = run_module(router, "nft_table", args, diff=True)
    assert r["changed"] is True and r["exists"] is True, r
    assert r["after"] == r["diff"]["after"].splitlines()
    assert foreign(router) == other, "the foreign table changed"

    for check in (True, False):
        again = run_module(router, "nft_table", args, check=check)
        assert again["changed"] is False and again["commands"] == [], again

    # SNAT: the outside sees the router's external address, never the tenant's
    with netns.tcpdump(outside.netns, "icmp") as seen:
        assert tenant.ping(OUTSIDE, source=OTHER_VM)
    requests = [line for line in seen if "echo request" in line]
    assert requests and all(f"{EXTERNAL} > {OUTSIDE}" in line for line in requests), seen

    # DNAT: the floating IP reaches the VM, and the VM sees the outside's real address
    with netns.tcpdump(tenant.netns, "icmp") as seen:
        assert outside.ping(FLOATING)
    requests = [line for line in seen if "echo request" in line]
    assert requests and all(f"{OUTSIDE} > {VM}" in line for line in requests), seen
    # and what the VM starts leaves as its floating IP
    with netns.tcpdump(outside.netns, "icmp") as seen:
        assert tenant.ping(OUTSIDE, source=VM)
    assert any(f"{FLOATING} > {OUTSIDE}" in line for line in seen), seen


def test_text_spelling_drift_and_absent(natlab):
    tenant, router, outside = natlab
    other = foreign(router)
    args = {"netns": router.netns, "name": TABLE, "chains": nat_chains()}
    assert run_module(router, "nft_table", args)["changed"] is True

    # the same table written as text, in other spellings: nft's canonical form makes them equal
    text = (
        "chain prerouting {\n  type nat hook prerouting priority -100\n"
        f"  ip daddr {FLOATING} dnat to {VM}\n}}\n"
        "chain postrouting {\n  type nat hook postrouting priority 100; policy accept\n"
        f'  ip saddr {VM} oifname qg snat to {FLOATING}\n'
        f'  ip saddr 10.72.0.0/24 oifname "qg" snat to {EXTERNAL}  # the tenant\n}}\n'
    )
    same = run_module(router, "nft_table", {"netns": router.netns, "name": TABLE, "text": text})
    assert same["changed"] is False, same

    # drift: a rule added by hand is found and removed
    router.exec("nft", "add", "rule", "inet", TABLE, "postrouting", "ip", "saddr", "10.99.0.0/16", "masquerade")
    r = run_module(router, "nft_table", args, diff=True)
    assert r["changed"] is True and "10.99.0.0/16" in r["diff"]["before"] and "10.99.0.0/16" not in r["diff"]["after"]
    assert "10.99.0.0/16" not in router.exec("nft", "list", "table", "inet", TABLE)

    # a rule nft refuses: nothing is applied, the table stays as it was
    table_before = router.exec("nft", "-s", "list", "table", "inet", TABLE)
    bad = run_module(router, "nft_table", dict(args, chains=[{"name": "x", "rules": ["ip saddr 10.0.0.0/33 accept"]}]))
    assert bad.get("failed") and "nft refused" in bad["msg"], bad
    assert router.exec("nft", "-s", "list", "table", "inet", TABLE) == table_before
    # input that would close the chain and reach another table never gets to nft
    bad = run_module(router, "nft_table", dict(args, chains=[{"name": "x", "rules": ["accept; }; delete table ip foreign"]}]))
    assert bad.get("failed") and "chains[0].rules[0]" in bad["msg"], bad

    gone = {"netns": router.netns, "name": TABLE, "state": "absent"}
    r = run_module(router, "nft_table", gone, check=True)
    assert r["changed"] is True and TABLE in tables(router)
    r = run_module(router, "nft_table", gone)
    assert r["changed"] is True and r["exists"] is False and TABLE not in tables(router)
    assert run_module(router, "nft_table", gone)["changed"] is False
    assert foreign(router) == other, "absent touched the foreign table"
    assert not tenant.ping(OUTSIDE, source=OTHER_VM), "the NAT is gone, yet the outside still answers"
