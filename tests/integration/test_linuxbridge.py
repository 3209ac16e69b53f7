"""The linuxbridge backend end to end, with real packets: three hosts without Open vSwitch
(examples/linuxbridge: red unicast VXLAN, blue multicast VXLAN, both on 10.0.0.0/24), and a mixed
fabric (examples/vxlan with hv3 on linuxbridge) where OVS and kernel VTEPs carry one tenant; a reboot
(the kernel's links gone) is put back by the boot unit's script without Ansible."""

from __future__ import annotations

import json
import re
import subprocess

import yaml
from conftest import ansible_bin, ansible_env
from sitelab import fabric, netns, recap

GROUP = "239.1.1.2"  # blue's multicast_group in examples/linuxbridge


def reaches(lab, source, target):
    """Same-subnet reachability proven by the target's own MAC in the source's ARP entry (fabric.ping's
    rule, without its router branch)."""
    src, dst = lab.vm(source), lab.vm(target)
    ns = fabric.vm_netns(lab.prefix, source)
    netns.sh("ip", "-n", ns, "neigh", "flush", "all", check=False)
    address = dst["ip"].split("/")[0]
    proc = netns.sh("ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False)
    return proc.returncode == 0 and fabric.arp_mac(lab.prefix, src, dst) == dst["mac"].lower()


def capture(lab, host, source, target, pattern):
    with lab.hv(host).tcpdump(pattern) as lines:
        reaches(lab, source, target)
    return "\n".join(lines) + "\n"


def links(lab, host):
    """What teardown must give back: each link's kind, master, alias, up/down, and its addresses
    (IPv6 link-local ones aside, which follow the MAC)."""
    ns = lab.hv(host).netns
    seen = {}
    for link in json.loads(netns.sh("ip", "-n", ns, "-j", "-d", "address", "show", capture=True)):
        addresses = sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if not a["local"].startswith("fe80:"))
        seen[link["ifname"]] = ((link.get("linkinfo") or {}).get("info_kind"), link.get("master"), link.get("ifalias"), "UP" in link["flags"], addresses)
    return seen


def fdb(lab, host, dev):
    """`bridge fdb show dev DEV` as (mac, dst) pairs, learned and static alike."""
    out = netns.sh("bridge", "-n", lab.hv(host).netns, "-j", "fdb", "show", "dev", dev, capture=True)
    return {(e["mac"], e.get("dst")) for e in json.loads(out or "[]")}


def reboot(lab, host):
    """What a reboot does to a Linux-bridge host, then its boot unit's script: every link the fabric made
    is kernel state and goes (with its forwarding and neighbour entries, and the VM ports out of their
    bridges); netfabric-boot.py makes them again from boot.json, without Ansible. Returns its output."""
    hv = lab.hv(host)
    boot = ("python3", str(hv.dir / "state" / "netfabric-boot.py"))
    assert hv.exec(*boot, "--check") == "", "converge left nothing for the boot script to do"
    made = [name for name, (_kind, _master, alias, _up, _addresses) in links(lab, host).items() if alias == "netfabric:netfabric-linuxbridge"]
    for name in sorted(made, key=lambda name: name.startswith("brq-")):  # devices first, then their bridges
        hv.exec("ip", "link", "del", name)
    assert not set(made) & set(links(lab, host))
    out = hv.exec(*boot)
    assert hv.exec(*boot, "--check") == "", "a second run has nothing to do"
    return out


def test_linuxbridge_hosts_unicast_and_multicast_tenants_prune_and_teardown(lab_factory):
    lab = lab_factory("linuxbridge")
    before = {host: links(lab, host) for host in lab.hosts()}

    lab.playbook("site", "--check", "--diff")  # on new hosts: runs clean, writes nothing
    assert {host: links(lab, host) for host in lab.hosts()} == before

    first = lab.playbook("site")
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values()), first
    assert not (lab.hv("hv1").dir / "db.sock").exists()  # no Open vSwitch on these hosts

    # red: unicast head-end replication, one all-zero entry per peer; VMs of red reach red only
    assert {dst for mac, dst in fdb(lab, "hv1", "vxlan-1001") if mac == "00:00:00:00:00:00"} == {"172.31.0.2", "172.31.0.3"}
    assert reaches(lab, "tap-red-1", "tap-red-2") and reaches(lab, "tap-red-3", "tap-red-1")
    assert not reaches(lab, "tap-red-1", "tap-blue-2") and not reaches(lab, "tap-blue-3", "tap-red-1")

    # blue: the first ARP goes to the group, the rest unicast between the VTEPs that learned each other
    text = capture(lab, "hv1", "tap-blue-1", "tap-blue-2", "udp port 4789")
    packets = text.split("\n")
    # each packet is two lines (outer header, inner payload); other VMs' IPv6 router solicitations go to the group too
    to_group = [i for i, line in enumerate(packets[:-1]) if f"> {GROUP}.4789" in line and "ARP, Request" in packets[i + 1]]
    unicast = [i for i, line in enumerate(packets) if re.search(r"172\.31\.0\.[12]\.\d+ > 172\.31\.0\.[12]\.4789", line)]
    assert to_group and "vni 1002" in packets[to_group[0]], text
    assert unicast and max(unicast) > to_group[0] and "ICMP echo" in text, text
    learned = fdb(lab, "hv1", "vxlan-1002")
    assert ("52:54:00:02:00:02", "172.31.0.2") in learned, learned
    assert not any(mac == "00:00:00:00:00:00" and dst != GROUP for mac, dst in learned), learned  # the group, no head-end list
    assert reaches(lab, "tap-blue-3", "tap-blue-1") and not reaches(lab, "tap-blue-2", "tap-red-3")

    again = lab.playbook("site")
    assert all(counts["changed"] == 0 for counts in again.values()), again

    # hv2 rebooted: its bridges, VXLAN devices (red's flood list, blue's group) and VM ports come back as converge left them
    converged = links(lab, "hv2")
    out = reboot(lab, "hv2")
    assert "link add name brq-red type bridge" in out and "fdb append 00:00:00:00:00:00 dev vxlan-1001 dst 172.31.0.1" in out, out
    assert links(lab, "hv2") == converged
    assert {dst for mac, dst in fdb(lab, "hv2", "vxlan-1001") if mac == "00:00:00:00:00:00"} == {"172.31.0.1", "172.31.0.3"}
    assert reaches(lab, "tap-red-2", "tap-red-1") and reaches(lab, "tap-blue-2", "tap-blue-3")
    assert not reaches(lab, "tap-red-2", "tap-blue-1") and not reaches(lab, "tap-blue-3", "tap-red-2")

    # hv3 leaves red: its bridge and device go, its tap leaves the bridge, the others stop flooding red to it;
    # and a link some other tool put into red's bridge on hv1 (no VM port of the inventory) is taken out
    hv3 = lab.hosts()["hv3"]["netfabric_ports"]
    lab.edit_host("hv3", netfabric_ports=[p for p in hv3 if p["tenant"] != "red"])
    ns1 = lab.hv("hv1").netns
    netns.sh("ip", "-n", ns1, "link", "add", "stray0", "type", "veth", "peer", "name", "stray1")
    netns.sh("ip", "-n", ns1, "link", "set", "stray0", "master", "brq-red")
    lab.playbook("site")
    assert links(lab, "hv1")["stray0"][1] is None
    netns.sh("ip", "-n", ns1, "link", "del", "stray0")
    assert {dst for mac, dst in fdb(lab, "hv1", "vxlan-1001") if mac == "00:00:00:00:00:00"} == {"172.31.0.2"}
    left = links(lab, "hv3")
    assert "brq-red" not in left and "vxlan-1001" not in left and left["tap-red-3"][1] is None, left
    assert reaches(lab, "tap-red-1", "tap-red-2") and reaches(lab, "tap-blue-3", "tap-blue-2")

    lab.playbook("teardown")
    after = {host: links(lab, host) for host in lab.hosts()}
    assert after == before
    assert all(counts["changed"] == 0 for counts in lab.playbook("teardown").values())


def test_mixed_fabric_ovs_and_linuxbridge_hosts_carry_one_tenant(lab_factory):
    lab = lab_factory("vxlan", host_overrides={"hv3": {"netfabric_backend": "linuxbridge", "netfabric_datapath_type": "system"}})
    result = lab.playbook("site")
    assert all(counts["failed"] == 0 for counts in result.values()), result
    assert not (lab.hv("hv3").dir / "db.sock").exists() and (lab.hv("hv1").dir / "db.sock").exists()
    # OVS -> kernel and kernel -> OVS, over VXLAN 1001 on UDP 4789 both ways
    text = capture(lab, "hv3", "tap-red-3", "tap-red-1", "udp port 4789")
    assert "vni 1001" in text and "172.31.0.1" in text, text
    assert reaches(lab, "tap-red-1", "tap-red-3") and reaches(lab, "tap-red-3", "tap-red-2") and reaches(lab, "tap-blue-2", "tap-blue-3")
    assert not reaches(lab, "tap-red-3", "tap-blue-1") and not reaches(lab, "tap-blue-1", "tap-red-3")


def test_l2pop_answers_arp_on_the_host_and_sends_unicast_only(lab_factory):
    lab = lab_factory("linuxbridge", netfabric_mode="l2pop")
    lab.playbook("site")
    neighbours = json.loads(netns.sh("ip", "-n", lab.hv("hv1").netns, "-j", "neigh", "show", "dev", "vxlan-1001", capture=True))
    assert {(n["dst"], n["lladdr"]) for n in neighbours} == {("10.0.0.2", "52:54:00:01:00:02"), ("10.0.0.3", "52:54:00:01:00:03")}
    assert ("52:54:00:01:00:03", "172.31.0.3") in fdb(lab, "hv1", "vxlan-1001")
    # the VM's ARP request is answered by hv1's vxlan-1001 (proxy): only the echo crosses the underlay
    text = capture(lab, "hv1", "tap-red-1", "tap-red-2", "udp port 4789")
    assert "ICMP echo request" in text and "who-has 10.0.0.2" not in text, text
    assert reaches(lab, "tap-red-3", "tap-red-1") and not reaches(lab, "tap-red-1", "tap-blue-2")

    # rebooted, hv1 gets its static entries and neighbours back with its devices: ARP is still answered on the host
    reboot(lab, "hv1")
    neighbours = json.loads(netns.sh("ip", "-n", lab.hv("hv1").netns, "-j", "neigh", "show", "dev", "vxlan-1001", capture=True))
    assert {(n["dst"], n["lladdr"]) for n in neighbours} == {("10.0.0.2", "52:54:00:01:00:02"), ("10.0.0.3", "52:54:00:01:00:03")}
    text = capture(lab, "hv1", "tap-red-1", "tap-red-2", "udp port 4789")
    assert "ICMP echo request" in text and "who-has 10.0.0.2" not in text, text
    assert not reaches(lab, "tap-red-1", "tap-blue-2")


def run_role(host, tmp_path, variables, *flags):
    """The linuxbridge role imported by name (its argument spec checked) into a plain play on `host`."""
    play = [{"hosts": "target", "gather_facts": False,
             "tasks": [{"name": "role", "ansible.builtin.import_role": {"name": "netfabric.ovs.linuxbridge"}, "vars": variables}]}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    proc = subprocess.run([ansible_bin("ansible-playbook"), "-i", "target,", "-c", "local", "-e", f"ansible_python_interpreter={host.python}",
                           str(path), *flags], capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return recap(proc.stdout)["target"]


def test_role_alone_isolates_the_ports_it_is_told_to_and_removes_only_its_links(hv, tmp_path):
    """Split horizon (a gretap's `isolated`, shown on a veth: this kernel has no gretap), idempotence,
    and the absent path, with the role's variables given directly."""
    netns.sh("ip", "-n", hv.netns, "link", "add", "theirs", "type", "bridge")
    links_ = [{"name": "brq-t", "kind": "bridge", "mtu": 1450, "state": "up"},
              {"name": "gt0", "kind": "veth", "peer": "gt0p", "master": "brq-t", "mtu": 1450, "isolated": True, "state": "up"}]
    variables = {"linuxbridge_links": links_, "linuxbridge_ports": [], "linuxbridge_fdb": [], "linuxbridge_owner": "hlbtest"}
    assert run_role(hv, tmp_path, variables)["changed"] > 0
    gt0 = json.loads(netns.sh("ip", "-n", hv.netns, "-j", "-d", "link", "show", "gt0", capture=True))[0]
    assert gt0["master"] == "brq-t" and gt0["linkinfo"]["info_slave_data"]["isolated"] is True and gt0["ifalias"] == "netfabric:hlbtest"
    assert run_role(hv, tmp_path, variables)["changed"] == 0
    assert run_role(hv, tmp_path, {**variables, "linuxbridge_state": "absent"})["changed"] > 0
    names = {link["ifname"] for link in json.loads(netns.sh("ip", "-n", hv.netns, "-j", "link", "show", capture=True))}
    assert "brq-t" not in names and "gt0" not in names and "theirs" in names
