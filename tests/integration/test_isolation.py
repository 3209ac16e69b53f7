"""Isolation that never fails open, proven with attacks in the namespace lab.

Each test converges the example fabric (three hypervisors, red and blue on the same subnet with
the same addresses), then does what a fleet lives with every day: a port nobody declared on
br-int, a tenant port switched to trunk by hand, a VM forging another's MAC and IP, a VM flooding
source MACs, a tenant whose preferred VLAN collides with a live one added and removed under a
continuous ping. Sniffers in the other tenants' VMs must see none of it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

from conftest import REPO

sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402
import netns  # noqa: E402

ATTACK = str(REPO / "lab" / "attack.py")
INTRUDER = {"name": "vnet-x", "ip": "10.0.0.9/24", "mac": "52:54:00:99:00:09"}


def ns(lab, port):
    return fabric.vm_netns(lab.prefix, port)


def attack(lab, port, *args):
    netns.sh("ip", "netns", "exec", ns(lab, port), "/usr/bin/python3", ATTACK, *args)


def tag(lab, host, port):
    return lab.hv(host).vsctl("get", "Port", port, "tag").strip()


def learned(lab, host, bridge, table, match):
    """Flows the switch learned in one table (they carry a hard_timeout) that contain `match`."""
    dump = lab.hv(host).ofctl("-O", "OpenFlow14", "--no-stats", "dump-flows", bridge, f"table={table}")
    return [line for line in dump.splitlines() if "hard_timeout" in line and match in line]


def add_intruder(lab, host="hv1"):
    """A tap plugged into br-int by hand with no tag, as libvirt does when a VM restarts."""
    netns.add_vm(lab.prefix, host, INTRUDER["name"], INTRUDER["name"], INTRUDER["ip"], INTRUDER["mac"])
    lab.hv(host).vsctl("add-port", "br-int", INTRUDER["name"])


def test_a_port_nobody_declared_is_dark_both_ways_and_left_alone(lab_factory):
    lab = lab_factory("vxlan")
    lab.playbook()
    add_intruder(lab)

    def assert_dark():
        with netns.tcpdump(ns(lab, INTRUDER["name"]), "not ip6") as heard:
            assert lab.reaches("tap-red-1", "tap-red-2") and lab.reaches("tap-blue-1", "tap-blue-3")
            assert lab.reaches("tap-red-2", "tap-red-1") and lab.reaches("tap-blue-3", "tap-blue-1")
        assert heard == [], "the undeclared port received tenant frames:\n" + "\n".join(heard)
        with netns.tcpdump(ns(lab, "tap-red-1"), "arp or icmp") as red, netns.tcpdump(ns(lab, "tap-blue-1"), "arp or icmp") as blue:
            netns.sh("ip", "netns", "exec", ns(lab, INTRUDER["name"]), "ping", "-c", "2", "-W", "1", "10.0.0.1", check=False)
        assert [line for line in red + blue if "10.0.0.9" in line] == [], red + blue

    assert_dark()
    rerun = lab.playbook()
    assert rerun["hv1"]["changed"] == 0, rerun
    assert INTRUDER["name"] in lab.hv("hv1").vsctl("list-ports", "br-int").split(), "a rerun must not remove a port it does not own"
    assert tag(lab, "hv1", INTRUDER["name"]) == "[]", "nor retag it"
    assert_dark()


def test_a_tenant_port_turned_trunk_is_repaired_and_its_tagged_frames_reach_nobody(lab_factory):
    lab = lab_factory("vxlan")
    lab.playbook()
    hv1 = lab.hv("hv1")
    blue_vlan = int(tag(lab, "hv1", "tap-blue-1"))
    hv1.vsctl("set", "Port", "tap-red-1", "vlan_mode=trunk")
    red1 = lab.vm("tap-red-1")
    with netns.tcpdump(ns(lab, "tap-blue-1"), "arp") as blue1, netns.tcpdump(ns(lab, "tap-blue-2"), "arp") as blue2:
        attack(lab, "tap-red-1", "arp", "eth0", "--sender-mac", red1["mac"], "--sender-ip", "10.0.0.77",
               "--target-ip", "10.0.0.1", "--vlan", str(blue_vlan))
        attack(lab, "tap-red-1", "arp", "eth0", "--sender-mac", red1["mac"], "--sender-ip", "10.0.0.77",
               "--target-ip", "10.0.0.2", "--vlan", str(blue_vlan))
    assert [line for line in blue1 + blue2 if "10.0.0.77" in line] == [], blue1 + blue2

    rerun = lab.playbook()
    assert rerun["hv1"]["changed"] >= 1, rerun
    assert hv1.vsctl("get", "Port", "tap-red-1", "vlan_mode").strip() == "access"
    again = lab.playbook()
    assert again["hv1"]["changed"] == 0, again


def test_a_vm_forging_another_vms_mac_or_address_reaches_nobody_and_poisons_nothing(lab_factory):
    lab = lab_factory("vxlan")
    lab.playbook()
    red1, red2, red3 = (lab.vm(f"tap-red-{n}") for n in (1, 2, 3))
    assert lab.reaches("tap-red-3", "tap-red-2")  # red-3 now holds red-2's MAC for 10.0.0.2

    # ARP spoofing: red-1 claims red-2's address with its own MAC (gratuitous replies, broadcast)
    attack(lab, "tap-red-1", "arp", "eth0", "--reply", "--sender-mac", red1["mac"], "--sender-ip", "10.0.0.2",
           "--target-ip", "10.0.0.2", "--count", "5")
    time.sleep(0.5)
    assert fabric.arp_mac(lab.prefix, red3, red2) == red2["mac"], "red-3's ARP cache was poisoned"

    # MAC spoofing: red-1 takes red-2's MAC and talks to red-3
    red1_ns = ns(lab, "tap-red-1")
    netns.sh("ip", "-n", red1_ns, "link", "set", "eth0", "address", red2["mac"])
    try:
        with netns.tcpdump(ns(lab, "tap-red-3"), "icmp or arp") as heard:
            netns.sh("ip", "netns", "exec", red1_ns, "ping", "-c", "3", "-i", "0.3", "-W", "1", "10.0.0.3", check=False)
        assert [line for line in heard if "10.0.0.1" in line] == [], heard
        red1_port = int(lab.hv("hv1").vsctl("get", "Interface", "tap-red-1", "ofport"))
        owned_by_red1 = [line for line in learned(lab, "hv1", "br-int", 2, red2["mac"]) if f"load:{red1_port:#x}->" in line]
        assert owned_by_red1 == [], "br-int learned red-2's MAC on red-1's port"
    finally:
        netns.sh("ip", "-n", red1_ns, "link", "set", "eth0", "address", red1["mac"])
    assert lab.reaches("tap-red-3", "tap-red-2") and lab.reaches("tap-red-2", "tap-red-3")


def test_mac_flooding_fills_only_the_flooding_tenants_bounded_share(lab_factory):
    lab = lab_factory("vxlan", netfabric_mac_limit=32)
    ports = lab.hosts()["hv1"]["netfabric_ports"]
    for port in ports:
        if port["name"] == "tap-blue-1":
            port["port_security"] = False  # a VM allowed to send from any MAC
    lab.edit_host("hv1", netfabric_ports=ports)
    lab.playbook()
    blue_vlan, red_vlan = tag(lab, "hv1", "tap-blue-1"), tag(lab, "hv1", "tap-red-1")

    attack(lab, "tap-blue-1", "flood", "eth0", "--count", "3000")
    attack(lab, "tap-red-1", "flood", "eth0", "--count", "3000")  # port security on: dropped at the port
    time.sleep(1)
    blue_local = learned(lab, "hv1", "br-int", 2, f"vlan_tci=0x{int(blue_vlan):04x}/0x0fff")
    assert 0 < len(blue_local) <= 32, len(blue_local)
    red_local = learned(lab, "hv1", "br-int", 2, f"vlan_tci=0x{int(red_vlan):04x}/0x0fff")
    assert len(red_local) <= 3, red_local  # at most red's own VMs, none of the forged MACs
    blue_remote = learned(lab, "hv2", "br-tun", 20, "tun_id=0x3ea")
    assert 0 < len(blue_remote) <= 32, len(blue_remote)
    # the other tenant keeps working, and so does blue for MACs it had room for
    assert lab.reaches("tap-red-1", "tap-red-2") and lab.reaches("tap-red-3", "tap-red-1")


def test_a_colliding_tenant_added_and_removed_moves_no_live_tenant(lab_factory):
    """vxlan 50000 and 99 prefer the same local VLAN: adding 99 once moved 50000 (and its VMs
    into 99's VNI). Red is 50000; green (99) comes and goes while red-1 pings red-2."""
    lab = lab_factory("vxlan")
    tenants = [{"name": "red", "tunnel_id": 50000, "subnets": ["10.0.0.0/24"]}, {"name": "blue", "tunnel_id": 1002, "subnets": ["10.0.0.0/24"]}]
    lab.edit_group(netfabric_tenants=tenants)
    lab.playbook()
    red_tags = {h: tag(lab, h, f"tap-red-{h[-1]}") for h in ("hv1", "hv2")}

    green = {h: {"name": f"tap-green-{h[-1]}", "tenant": "green", "mac": f"52:54:00:03:00:0{h[-1]}", "ip": f"10.0.0.{h[-1]}/24"} for h in ("hv1", "hv2")}
    for host, port in green.items():
        netns.add_vm(lab.prefix, host, port["name"], port["name"], port["ip"], port["mac"])

    ping = subprocess.Popen(["ip", "netns", "exec", ns(lab, "tap-red-1"), "ping", "-i", "0.2", "-W", "1", "10.0.0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with netns.tcpdump(ns(lab, "tap-green-1"), "-e", "not ip6") as green_heard, \
                netns.tcpdump(ns(lab, "tap-green-2"), "-e", "not ip6") as green2_heard:
            lab.edit_group(netfabric_tenants=[*tenants, {"name": "green", "tunnel_id": 99, "subnets": ["10.0.0.0/24"]}])
            for host, port in green.items():
                lab.edit_host(host, netfabric_ports=[*lab.hosts()[host]["netfabric_ports"], port])
            lab.playbook()
            assert {h: tag(lab, h, f"tap-red-{h[-1]}") for h in red_tags} == red_tags, "adding green moved red"
            assert tag(lab, "hv1", "tap-green-1") not in red_tags.values()
            assert lab.reaches("tap-green-1", "tap-green-2")

            for host in green:
                lab.edit_host(host, netfabric_ports=[p for p in lab.hosts()[host]["netfabric_ports"] if p["tenant"] != "green"])
            lab.edit_group(netfabric_tenants=tenants)
            lab.playbook()
            assert {h: tag(lab, h, f"tap-red-{h[-1]}") for h in red_tags} == red_tags, "removing green moved red"
    finally:
        ping.send_signal(signal.SIGINT)  # ping prints its summary on SIGINT
        out = ping.communicate(timeout=10)[0]
    red_macs = ("52:54:00:01:00:01", "52:54:00:01:00:02")
    leaked = [line for line in green_heard + green2_heard if any(mac in line for mac in red_macs)]
    assert leaked == [], "green saw red's frames:\n" + "\n".join(leaked)
    sent, received = (int(n) for n in re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())
    print(f"red-1 -> red-2 through both runs: {received}/{sent} replies")
    assert sent > 20 and sent - received <= 2, out[-500:]


def test_a_vm_port_that_is_on_another_bridge_is_left_there_unless_the_inventory_says_take_over(lab_factory):
    """The inventory names a port that sits on a bridge the fabric does not own (a storage NIC): the
    tenants role refuses to move it, naming it; with `take_over: true` it is moved."""
    lab = lab_factory("vxlan")
    hv1 = lab.hv("hv1")
    hv1.vsctl("add-br", "br-storage", "--", "set", "Bridge", "br-storage", "datapath_type=netdev", "--", "add-port", "br-storage", "tap-red-1")
    argv = [*lab.playbook_argv(), "--limit", "hv1"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=lab.env(), check=False)
    assert proc.returncode != 0
    assert "from_other_bridge: port 'tap-red-1' is on bridge 'br-storage'" in proc.stdout, proc.stdout[-3000:]
    assert hv1.vsctl("port-to-br", "tap-red-1").strip() == "br-storage"

    ports = lab.hosts()["hv1"]["netfabric_ports"]
    next(p for p in ports if p["name"] == "tap-red-1")["take_over"] = True
    lab.edit_host("hv1", netfabric_ports=ports)
    lab.playbook()
    assert hv1.vsctl("port-to-br", "tap-red-1").strip() == "br-int"
    assert lab.reaches("tap-red-1", "tap-red-2")
