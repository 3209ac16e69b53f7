"""The network node end to end, with real packets: examples/network_node in namespaces.

Two hypervisors and a network node (net1); tenants red (VXLAN) and blue (GRE) use the same two
subnets, each with a router (SNAT, a floating IP) and DHCP on its first subnet; an "outside" host
sits at the external gateway. Once per mode (learning, l2pop; the last point, and a router switched
off, in learning mode only: they do not depend on the mode):
- a VM with no address gets its inventory address, gateway, DNS and MTU from a real DHCP client;
- it reaches its gateway, a VM of its other subnet (routed: that VM sees the packets, the other
  tenant's VM with the same address does not) and the outside, which sees the router's external
  address (SNAT); the outside reaches the floating IP and the VM sees the outside's real address;
- the outside cannot reach a private address through a router even with a route to it, and red's
  router never delivers to blue; a second run changes nothing;
- dnsmasq killed comes back and serves again; teardown leaves the network node as it was.
"""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path

import pytest
from conftest import PREFIX
from sitelab import Lab

import netns

OUTSIDE = "203.0.113.1"
GATEWAY = {"10.0.0.0/24": "10.0.0.1", "10.1.0.0/24": "10.1.0.1"}
DNS = "192.0.2.53"
FLOATING = {"red": "203.0.113.50", "blue": "203.0.113.51"}  # of tap-red-2 and tap-blue-2 (examples/network_node)
NODE = "net1"


@pytest.fixture(params=["learning", "l2pop"])
def lab(request, tmp_path):
    made = Lab(f"{PREFIX}n{request.param[0]}", "network_node", tmp_path / "lab", netfabric_mode=request.param)
    made.mode = request.param
    yield made
    netns.down(made.prefix)


def ns(lab, name):
    return f"{lab.prefix}-{name}"


def run(lab, where, *argv, check=True):
    return netns.sh("ip", "netns", "exec", ns(lab, where), *argv, check=check, capture=True)


def pings(lab, where, address):
    return netns.sh("ip", "netns", "exec", ns(lab, where), "ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False).returncode == 0


def sees(lab, where, bpf, source, target, iface="eth0"):
    """tcpdump's lines in `where` while `source` pings `target` (source may be 'outside')."""
    with netns.tcpdump(ns(lab, where), bpf, iface=iface) as lines:
        reached = pings(lab, source, target)
    return reached, lines


def router_address(lab, tenant):
    """The router's external address, as the host holds it (the first address of its qg- port)."""
    links = json.loads(netns.sh("ip", "-n", ns(lab, f"{NODE}-nfrouter-{tenant}"), "-j", "addr", "show", capture=True))
    return next(a["local"] for link in links if link["ifname"].startswith("qg-") for a in link["addr_info"] if a["prefixlen"] != 32)


def dhcp(lab, tmp_path, vm):
    """Run busybox udhcpc in the VM (address flushed first); the lease's variables, {} when none came."""
    out = tmp_path / f"lease-{vm}"
    script = tmp_path / "udhcpc.sh"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] || exit 0\nenv > {out}\n')
    script.chmod(0o755)
    out.unlink(missing_ok=True)
    run(lab, vm, "ip", "addr", "flush", "dev", "eth0")
    run(lab, vm, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script), "-O", "mtu", check=False)
    if not out.exists():
        return {}
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def configure(lab, vm, lease):
    """What a DHCP client's script does with the lease: the address and the default route."""
    run(lab, vm, "ip", "addr", "add", f"{lease['ip']}/{lease['mask']}", "dev", "eth0")
    run(lab, vm, "ip", "route", "replace", "default", "via", lease["router"])


def node_snapshot(lab):
    """What teardown must give back: the network node's links and addresses, its bridges, the
    namespaces it made, the processes running in it besides OVS and the state it keeps."""
    hv = lab.hv(NODE)
    procs = sorted(
        Path(f"/proc/{pid}/comm").read_text().strip()
        for pid in netns.sh("ip", "netns", "pids", hv.netns, capture=True).split()
        if netns.running(int(pid))
    )
    return {
        # names, admin state and addresses (not the link-local ones the kernel adds once a link is up)
        "links": sorted(
            (link["ifname"], "UP" in link["flags"], sorted(a["local"] for a in link["addr_info"] if a.get("scope") != "link"))
            for link in json.loads(hv.exec("ip", "-j", "addr"))
        ),
        "bridges": hv.vsctl("list-br"),
        "namespaces": sorted(n for n in netns.netns_list() if n.startswith(f"{hv.netns}-")),
        "processes": procs,
        "state": sorted(str(p.relative_to(hv.dir)) for p in (hv.dir / "state").glob("dhcp-*")),
    }


def reboot_network_node(lab, tmp_path):
    """What a reboot takes from the network node - the namespaces with their veths, addresses, routes,
    NAT tables and sysctls, the DHCP servers' processes, and ovs-vswitchd's run - comes back from
    netfabric-netns.py alone (no Ansible), and the tenants get leases, route, SNAT and floating IPs
    again (and the test's next site run finds nothing to change). The lab's DHCP supervisors stand in
    for the systemd units: they start dnsmasq again once its namespace is back."""
    begun = time.monotonic()
    hv = lab.hv(NODE)
    state = hv.dir / "state"
    # through the host's python wrapper, as Ansible's modules run: `ip netns exec` would hide the
    # namespaces the script makes in a private mount namespace
    script = (hv.python, state / "netfabric-netns.py", f"--state={state / 'netns.json'}")

    def boot(*args):
        return netns.sh(*script, *args, capture=True)

    assert boot("--check") == "", "converge left nothing for the boot script to do"
    owned = [n for n in netns.netns_list() if n.startswith(ns(lab, f"{NODE}-nf"))]
    assert len(owned) == 4 and sorted(p.name for p in (state / "nft").iterdir()) == sorted(
        f"{n}.nft" for n in owned if "-nfrouter-" in n), owned
    pids = [pid for name in owned for pid in netns.sh("ip", "netns", "pids", name, capture=True).split()]
    for name in owned:  # unmounted first, so a supervisor cannot start dnsmasq in the old namespace again
        netns.sh("ip", "netns", "del", name)
    for pid in pids:
        netns.sh("kill", "-9", pid, check=False)
    deadline = time.monotonic() + 30  # the namespaces die with their last process, and the veths with them
    while any(link["ifname"].startswith(("qr-", "qg-", "qd-")) for link in json.loads(hv.exec("ip", "-j", "link"))):
        assert time.monotonic() < deadline, "the veths outlived their namespaces"
        time.sleep(0.5)
    # ovs-vswitchd starts afresh at boot, before the boot step: it finds the veths' ports without a device
    # (a running one would keep reading the old devices), and the flow-restore hook gives it its flows
    hv.restart_vswitchd()
    hv.exec(str(state / "restore-flows"))
    assert not pings(lab, "tap-red-2", OUTSIDE), "the router survived the reboot it stands for"

    started = time.monotonic()
    out = boot()
    assert "netns add" in out and "nft -f" in out, out
    assert boot("--check") == "", "a second run has nothing to do"
    for vm in ("tap-red-1", "tap-blue-1"):
        deadline = time.monotonic() + 60  # dnsmasq starts again within seconds of its namespace
        while not (lease := dhcp(lab, tmp_path, vm)):
            assert time.monotonic() < deadline, f"{vm} got no lease after the boot script"
        assert lease.get("ip") == "10.0.0.11" and lease.get("router") == GATEWAY["10.0.0.0/24"], lease
        configure(lab, vm, lease)
    print(f"network node back (leases for two tenants) {time.monotonic() - started:.1f} s after the boot script started;",
          [line for line in out.splitlines() if "set up again" in line] or "no port to set up again")
    for tenant in ("red", "blue"):
        near, far = f"tap-{tenant}-1", f"tap-{tenant}-2"
        reached, seen = sees(lab, "outside", "icmp", near, OUTSIDE, iface="out0")
        assert reached and any(f"{router_address(lab, tenant)} > {OUTSIDE}: ICMP echo request" in line for line in seen), (
            seen, hv.exec("ip", "-br", "link"), boot("--check"))
        reached, seen = sees(lab, far, "icmp", "outside", FLOATING[tenant])
        assert reached and any(f"{OUTSIDE} > 10.1.0.12: ICMP echo request" in line for line in seen), seen
        assert pings(lab, near, "10.1.0.12"), f"{tenant}'s router no longer routes between its subnets"
    with netns.tcpdump(ns(lab, "tap-red-1"), "icmp") as inside:  # still no way in but the floating IPs
        assert not pings(lab, "outside", "10.0.0.11")
    assert not inside, inside
    forwarding = netns.sh("ip", "netns", "exec", ns(lab, f"{NODE}-nfrouter-red"), "sysctl", "-n", "net.ipv4.ip_forward", capture=True)
    assert forwarding.strip() == "1"
    print(f"reboot check: {time.monotonic() - begun:.0f} s")


def test_network_node_routes_nats_and_serves_dhcp(lab, tmp_path):
    # A Neutron agent's router namespace on the same host: never the fabric's to touch
    neutron = ns(lab, f"{NODE}-qrouter-0a1b2c")
    netns.sh("ip", "netns", "add", neutron)
    before = node_snapshot(lab)
    first = lab.playbook()
    assert all(counts["failed"] == 0 for counts in first.values()), first

    # DHCP: the inventory address, the gateway, DNS and the tenant's MTU, from each tenant's own server
    for vm in ("tap-red-1", "tap-blue-1"):
        lease = dhcp(lab, tmp_path, vm)
        assert {k: lease.get(k) for k in ("ip", "mask", "router", "dns", "mtu")} == {
            "ip": "10.0.0.11", "mask": "24", "router": GATEWAY["10.0.0.0/24"], "dns": DNS, "mtu": "1400"
        }, lease
        configure(lab, vm, lease)
    # tap-*-2 keep the static address and default route the lab gave them

    for tenant, other in (("red", "blue"), ("blue", "red")):
        near, far = f"tap-{tenant}-1", f"tap-{tenant}-2"
        assert pings(lab, near, GATEWAY["10.0.0.0/24"]), f"{near} cannot reach its gateway"
        # routed to the other subnet: the tenant's own VM answers; the other tenant's VM of that address sees nothing
        with netns.tcpdump(ns(lab, f"tap-{other}-2"), "icmp") as foreign:
            reached, own = sees(lab, far, "icmp", near, "10.1.0.12")
        assert reached and any("10.0.0.11 > 10.1.0.12: ICMP echo request" in line for line in own), own
        assert not foreign, f"{tenant}'s routed ping reached tap-{other}-2: {foreign}"

        # SNAT: the outside sees the router's external address, never the private one
        external = router_address(lab, tenant)
        assert ipaddress.ip_address(external) in ipaddress.ip_network("203.0.113.0/24")
        reached, seen = sees(lab, "outside", "icmp", near, OUTSIDE, iface="out0")
        assert reached and any(f"{external} > {OUTSIDE}: ICMP echo request" in line for line in seen), seen
        assert not any("10.0.0.11" in line for line in seen), seen
        # the floating IP: in with the outside's real address, out as the floating IP
        reached, seen = sees(lab, far, "icmp", "outside", FLOATING[tenant])
        assert reached and any(f"{OUTSIDE} > 10.1.0.12: ICMP echo request" in line for line in seen), seen
        reached, seen = sees(lab, "outside", "icmp", far, OUTSIDE, iface="out0")
        assert reached and any(f"{FLOATING[tenant]} > {OUTSIDE}: ICMP echo request" in line for line in seen), seen

    # The outside cannot reach a private address through a router, even with a route to it
    run(lab, "outside", "ip", "route", "add", "10.0.0.0/24", "via", router_address(lab, "red"))
    with netns.tcpdump(ns(lab, "tap-red-1"), "icmp") as inside:
        assert not pings(lab, "outside", "10.0.0.11")
    assert not inside, inside

    if lab.mode == "l2pop":  # the ARP responder on a hypervisor answers for the gateways
        responder = lab.hv("hv1").ofctl("-O", "OpenFlow14", "dump-flows", "br-tun", "arp")
        assert "arp_tpa=10.0.0.1" in responder, responder

    if lab.mode == "learning":  # the boot script is the same in both modes: once is enough
        reboot_network_node(lab, tmp_path)

    # ... and after the boot script, nothing either: it put back exactly what Ansible makes
    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second
    if lab.mode == "l2pop":
        # What follows does not depend on the mode (dnsmasq's supervision, a router switched off,
        # teardown): proven once, in learning mode, it saves four playbook runs of CI time.
        return

    # dnsmasq killed comes back and serves again
    pidfiles = sorted((lab.hv(NODE).dir / "state").glob("dhcp-*/dnsmasq.pid"))
    assert len(pidfiles) == 2, pidfiles
    old = int(pidfiles[0].read_text())
    netns.sh("kill", "-9", str(old))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = pidfiles[0].read_text().strip() if pidfiles[0].exists() else ""
        if text and int(text) != old and netns.running(int(text)):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"dnsmasq {old} was killed and no new one runs after 30 s")
    leases = [dhcp(lab, tmp_path, vm) for vm in ("tap-red-1", "tap-blue-1")]
    assert [lease.get("ip") for lease in leases] == ["10.0.0.11", "10.0.0.11"], leases
    for vm, lease in zip(("tap-red-1", "tap-blue-1"), leases):
        configure(lab, vm, lease)

    # red's router and DHCP switched off: its namespaces, server and ports go; blue's stay and work
    tenants = [dict(t, router=False, floating_ips=[], subnets=["10.0.0.0/24", "10.1.0.0/24"]) if t["name"] == "red" else t
               for t in lab.group()["netfabric_tenants"]]
    lab.edit_group(netfabric_tenants=tenants)
    assert all(counts["failed"] == 0 for counts in lab.playbook().values())
    left = sorted(n[len(ns(lab, NODE)) + 1:] for n in netns.netns_list() if n.startswith(ns(lab, f"{NODE}-nf")))
    assert len(left) == 2 and left[0].startswith("nfdhcp-blue-") and left[1] == "nfrouter-blue", left
    assert len(list((lab.hv(NODE).dir / "state").glob("dhcp-*"))) == 1
    assert [p.name for p in (lab.hv(NODE).dir / "state" / "nft").iterdir()] == [f"{ns(lab, NODE)}-nfrouter-blue.nft"]
    assert not [p for p in lab.hv(NODE).vsctl("list-ports", "br-int").split() if p.startswith(("qr-", "qd-"))
                and "red" in lab.hv(NODE).vsctl("get", "Port", p, "external_ids:netfabric_tenant")]
    assert pings(lab, "tap-blue-1", OUTSIDE) and not pings(lab, "tap-red-1", OUTSIDE)
    assert all(counts["changed"] == 0 for counts in lab.playbook().values())

    lab.playbook("teardown")
    assert node_snapshot(lab) == before
    left = [name for name in ("netns.json", "netfabric-netns.py", "nft") if (lab.hv(NODE).dir / "state" / name).exists()]
    assert not left, f"teardown left the boot step's {left}"
    assert neutron in netns.netns_list()
    assert all(counts["changed"] == 0 for counts in lab.playbook("teardown").values())
