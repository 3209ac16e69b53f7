"""A libvirt domain on the fabric's network is plugged into its tenant by libvirt itself, at every start.

The example fabric (examples/vxlan, three netdev hypervisors in namespaces) with a real libvirtd on
hv1 (lab/libvirtd.py, LXC and QEMU drivers) and hv1's inventory naming two libvirt ports in red by MAC:
one for LXC domains, one for a QEMU guest. `site` defines the network and installs the hook; the
domains are started with `virsh start`, so the port, its tag and its OpenFlow port number come from
libvirt and the hook, never from the test or Ansible. br-int admits only the planned port numbers
(fail_mode secure), so a domain whose port kept the number OVS gave it would be dark: the
unknown-MAC domain shows exactly that.

hv2 runs a libvirtd too: the QEMU guest's inventory entry lets it live-migrate there (migrate_to), a
second QEMU guest's does not, and both are migrated with `virsh migrate --live` and no Ansible run.
"""

from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from conftest import PREFIX
from sitelab import Lab

import fabric
import libvirtd
import netns

NET = "netfabric"
MAC = "52:54:00:0a:00:0a"  # the inventory's libvirt port, red, 10.0.0.10
STRANGER = "52:54:00:0a:00:0b"  # not in the inventory, asks for red all the same
ADDRESS = "10.0.0.10/24"
QEMU_MAC = "52:54:00:0a:00:0c"  # the inventory's second libvirt port, red, 10.0.0.12: a QEMU (TCG) guest, may migrate to hv2
PINNED_MAC = "52:54:00:0a:00:0d"  # the third, red, 10.0.0.13: a QEMU guest the inventory keeps on hv1 (no migrate_to)
HOTPLUG_MAC = "52:54:00:0a:00:0e"  # hv2's libvirt port, red, 10.0.0.14: a NIC hot-plugged into the migrated guest


def discover(mac):
    """What a QEMU guest sends: it has no disk, so its firmware network-boots and asks for DHCP from its MAC."""
    return f"ether src {mac} and udp dst port 67"


@pytest.fixture
def lab(tmp_path):
    lacking = libvirtd.missing(qemu=True)
    if lacking:
        pytest.fail("libvirt is not installed; install: " + ", ".join(lacking))
    made = Lab(f"{PREFIX}lv", "vxlan", tmp_path / "lab")
    hv1, hv2 = made.hv("hv1"), made.hv("hv2")
    daemon = libvirtd.Libvirtd(hv1, qemu=True).start()
    ports = made.hosts()["hv1"]["netfabric_ports"] + [{"libvirt": True, "mac": MAC, "tenant": "red", "ip": ADDRESS},
                                                      {"libvirt": True, "mac": QEMU_MAC, "tenant": "red", "ip": "10.0.0.12/24", "migrate_to": ["hv2"]},
                                                      {"libvirt": True, "mac": PINNED_MAC, "tenant": "red", "ip": "10.0.0.13/24"}]
    made.edit_host("hv1", netfabric_ports=ports, **libvirt_host(daemon))
    made.daemon = daemon
    made.daemon2 = libvirtd.Libvirtd(hv2, qemu=True).start()  # where the QEMU guest may migrate to
    hot = {"libvirt": True, "mac": HOTPLUG_MAC, "tenant": "red", "ip": "10.0.0.14/24"}
    made.edit_host("hv2", netfabric_ports=made.hosts()["hv2"]["netfabric_ports"] + [hot], **libvirt_host(made.daemon2))
    yield made
    made.daemon2.stop()
    daemon.stop()
    libvirtd.down(made.prefix)
    netns.down(made.prefix)


def libvirt_host(daemon):
    """The host variables that point the fabric at a lab libvirtd."""
    return {"netfabric_libvirt": {"uri": daemon.uri, "hooks_dir": str(daemon.dir / "etc" / "hooks"), "pidfiles": [str(daemon.pidfile)]},
            "libvirt_ovs_db": f"unix:{daemon.hv.dir}/db.sock"}  # libvirt runs hooks without the lab's OVS_RUNDIR


def vm(lab, name):
    """An inventory VM port as lab/fabric.py's ping takes it (the libvirt port has no name)."""
    return next(dict(p, host=h) for h, v in lab.hosts().items() for p in v["netfabric_ports"] if p.get("name") == name)


def reaches(lab, source, target):
    """source (an inventory VM) pings target's address and resolved it to target's own MAC (tenants reuse addresses)."""
    ns = fabric.vm_netns(lab.prefix, source["name"])
    netns.sh("ip", "-n", ns, "neigh", "flush", "all", check=False)
    address = target["ip"].split("/")[0]
    proc = netns.sh("ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False)
    return proc.returncode == 0 and fabric.arp_mac(lab.prefix, source, target) == target["mac"]


def domain(lab, name, mac, address):
    full = f"{lab.daemon.hv.netns}-{name}"
    lab.daemon.define_lxc(full, mac, NET, "red", address)
    lab.daemon.virsh("start", full)
    return full


def ofport(lab, dom, uri=None, daemon=None):
    """(OVS port name, OpenFlow port number, Port external_ids) of the domain's interface on its daemon's host (hv1's)."""
    daemon = daemon or lab.daemon
    hv = daemon.hv
    name = daemon.port(dom, uri=uri)
    number = int(hv.vsctl("get", "Interface", name, "ofport").strip())
    table = json.loads(hv.vsctl("--format=json", "--columns=external_ids", "list", "Port", name))
    return name, number, dict(table["data"][0][0][1])


def test_libvirt_domains_land_in_their_tenant_at_every_start(lab):
    recap = lab.playbook("site")
    assert all(host["failed"] == 0 for host in recap.values()), recap
    daemon, hv1 = lab.daemon, lab.hv("hv1")
    hooks = daemon.dir / "etc" / "hooks"
    assert NET in daemon.virsh("net-list", "--name").split()
    assert "<tag id='" in daemon.virsh("net-dumpxml", NET) and "portgroup name='red'" in daemon.virsh("net-dumpxml", NET)
    for driver in ("qemu", "lxc"):
        assert "netfabric.ovs libvirt hook" in (hooks / driver).read_text()
    qemu_guest_lands_in_red(lab)
    port_map = json.loads((hv1.dir / "state" / "libvirt-ports.json").read_text())
    planned = port_map["ports"][MAC]["ofport"]
    assert planned >= 10001 and port_map["ports"][MAC]["tenant"] == "red"
    assert f"in_port={planned}," in hv1.ofctl("dump-flows", "br-int"), "br-int has no admission flows for the libvirt port"
    red2, blue2 = vm(lab, "tap-red-2"), vm(lab, "tap-blue-2")
    target = {"name": "domain", "ip": ADDRESS, "mac": MAC}

    dom = domain(lab, "red", MAC, ADDRESS)
    name, number, ids = ofport(lab, dom)
    assert number == planned, f"the hook did not give {name} the plan's OpenFlow port ({number} != {planned})"
    assert ids.get("netfabric_tenant") == "red", ids
    mtu = lab.group()["netfabric_tenant_mtu"]  # red's: it sets no mtu of its own
    assert port_map["ports"][MAC]["mtu"] == mtu and hv1.vsctl("get", "Interface", name, "mtu_request").strip() == str(mtu), \
        "the hook did not request the tenant's MTU on the domain's port"
    assert reaches(lab, red2, target), "red on hv2 could not reach the red libvirt domain on hv1"
    assert daemon.ping(dom, "10.0.0.2"), "the red libvirt domain could not reach red on hv2"
    assert not reaches(lab, blue2, target), "blue on hv2 reached the red libvirt domain"

    stranger = domain(lab, "stranger", STRANGER, "10.0.0.11/24")
    _port, number, ids = ofport(lab, stranger)
    assert number < 10001 and "netfabric_tenant" not in ids, (number, ids)
    assert not reaches(lab, red2, {"name": "stranger", "ip": "10.0.0.11/24", "mac": STRANGER}), \
        "a domain whose MAC the inventory does not name reached red"
    assert not daemon.ping(stranger, "10.0.0.2"), "a domain whose MAC the inventory does not name reached red"

    # Restarted with no Ansible run: libvirt deletes the port and adds it again, the hook renumbers it.
    daemon.virsh("destroy", dom)
    assert name not in hv1.vsctl("list-ports", "br-int").split(), "libvirt left the stopped domain's port"
    daemon.virsh("start", dom)
    _port, number, _ids = ofport(lab, dom)
    assert number == planned, f"after a restart the port has OpenFlow port {number}, not the plan's {planned}"
    assert reaches(lab, red2, target), "the restarted red domain is dark"
    assert not reaches(lab, blue2, target), "blue reached the restarted red domain"

    moved = qemu_guest_migrates_in(lab)  # left running on hv2 for the next run
    hot_plug_is_followed(lab, moved)
    recap = lab.playbook("site")
    assert all(host["changed"] == 0 and host["failed"] == 0 for host in recap.values()), recap
    assert ofport(lab, dom)[1] == planned
    assert ofport(lab, moved, lab.daemon2.qemu_uri, lab.daemon2)[1] == planned_there(lab), "site renumbered the migrated guest's port"
    lab.daemon2.qemu("destroy", moved)

    # The stranger's MAC joins the inventory while it runs: site plugs it as the hook would have, no restart
    # (--check first: it says so and changes nothing).
    ports = lab.hosts()["hv1"]["netfabric_ports"] + [{"libvirt": True, "mac": STRANGER, "tenant": "red", "ip": "10.0.0.11/24"}]
    lab.edit_host("hv1", netfabric_ports=ports)
    recap = lab.playbook("site", "--check")
    assert recap["hv1"]["failed"] == 0 and recap["hv1"]["changed"] > 0, recap
    assert ofport(lab, stranger)[1] < 10001, "--check plugged a port"
    recap = lab.playbook("site")
    assert recap["hv1"]["failed"] == 0 and recap["hv1"]["changed"] > 0, recap
    planned_stranger = json.loads((hv1.dir / "state" / "libvirt-ports.json").read_text())["ports"][STRANGER]["ofport"]
    assert ofport(lab, stranger)[1] == planned_stranger
    assert reaches(lab, red2, {"name": "stranger", "ip": "10.0.0.11/24", "mac": STRANGER}), "the running domain was not plugged"
    assert ofport(lab, dom)[1] == planned, "plugging the stranger moved the other domain's port"

    for each in (dom, stranger):
        daemon.virsh("destroy", each)
    recap = lab.playbook("teardown")
    assert all(host["failed"] == 0 for host in recap.values()), recap
    assert NET not in daemon.virsh("net-list", "--all", "--name").split()
    assert not (hooks / "qemu").exists() and not (hooks / "lxc").exists()
    assert not (hv1.dir / "state" / "libvirt-ports.json").exists()


def heard(lab, mac=QEMU_MAC, on="2", listen=None):
    """What red's and blue's VMs on hv<on> captured of a QEMU guest's DHCP DISCOVERs over one window.

    The window ends when red (or `listen`, argv of a capture elsewhere) has heard two, or after 60 s:
    the firmware sends four within ~7 s of starting, gives up, reboots (rebootTimeout 0) and sends
    again, about every 22 s under TCG. The other captures run from before it starts until after it
    ends. Returns (the window's lines, red's lines, blue's lines).
    """
    red = ["ip", "netns", "exec", fabric.vm_netns(lab.prefix, f"tap-red-{on}"), "tcpdump", "-n", "-l", "-e", "-c", "2", "-i", "eth0"]
    with netns.tcpdump(fabric.vm_netns(lab.prefix, f"tap-blue-{on}"), discover(mac), "-e") as blue:
        if listen is None:
            seen = subprocess.run(["timeout", "60", *red, *discover(mac).split()], capture_output=True, text=True, check=False)
            return [line for line in seen.stdout.splitlines() if line.strip()], None, blue
        with netns.tcpdump(fabric.vm_netns(lab.prefix, f"tap-red-{on}"), discover(mac), "-e") as red_lines:
            seen = subprocess.run(["timeout", "60", *listen, "-n", "-l", "-e", "-c", "2", *discover(mac).split()],
                                  capture_output=True, text=True, check=False)
    return [line for line in seen.stdout.splitlines() if line.strip()], red_lines, blue


def qemu_guest_lands_in_red(lab):
    """A real QEMU guest (TCG: no KVM needed) started by `virsh start`, and restarted with no Ansible run,
    after `site` (part of the LXC test, to share its lab and its playbook runs)."""
    daemon, hv1 = lab.daemon, lab.hv("hv1")
    entry = json.loads((hv1.dir / "state" / "libvirt-ports.json").read_text())["ports"][QEMU_MAC]
    assert entry["tenant"] == "red" and entry["ofport"] >= 10001, entry
    tag = ET.fromstring(daemon.virsh("net-dumpxml", NET)).find("portgroup[@name='red']/vlan/tag").get("id")
    dom = f"{hv1.netns}-qemu"
    daemon.define_qemu(dom, QEMU_MAC, NET, "red")

    for start in ("first start", "restart"):
        daemon.qemu("start", dom)
        name, number, ids = ofport(lab, dom, uri=daemon.qemu_uri)
        assert number == entry["ofport"], f"{start}: the hook did not give {name} the plan's OpenFlow port ({number} != {entry['ofport']})"
        assert ids.get("netfabric_tenant") == "red", (start, ids)
        assert hv1.vsctl("get", "Port", name, "tag").strip() == tag, f"{start}: {name} is not on red's portgroup tag {tag}"
        red, _red, blue = heard(lab)
        assert len(red) == 2 and all(f"{QEMU_MAC} > ff:ff:ff:ff:ff:ff" in line and ".67:" in line for line in red), \
            f"{start}: red on hv2 did not hear the QEMU guest's DHCP DISCOVERs: {red}"
        assert blue == [], f"{start}: blue on hv2 heard the red QEMU guest: {blue}"
        daemon.qemu("destroy", dom)
        assert name not in hv1.vsctl("list-ports", "br-int").split(), f"{start}: libvirt left the stopped guest's port"


def planned_there(lab):
    """The OpenFlow port number hv2's plan keeps for the QEMU guest that may migrate there."""
    return json.loads((lab.hv("hv2").dir / "state" / "libvirt-ports.json").read_text())["ports"][QEMU_MAC]["ofport"]


def qemu_guest_migrates_in(lab):
    """Two QEMU guests live-migrate from hv1 to hv2 (`virsh migrate --live`), with no Ansible run after.

    libvirt runs hv2's hook at `started` on the incoming side: the guest whose inventory entry says
    migrate_to hv2 gets hv2's planned number and is heard in red on hv3 (through the tunnels, from
    its new host), never in blue; the guest the inventory keeps on hv1 arrives dark: it sends on its
    hv2 port all the same, but nothing of it reaches red. Returns the first, left running on hv2.
    """
    d1, d2, hv2 = lab.daemon, lab.daemon2, lab.hv("hv2")
    there = json.loads((hv2.dir / "state" / "libvirt-ports.json").read_text())["ports"]
    assert sorted(there) == [QEMU_MAC, HOTPLUG_MAC], f"hv2's port map: its own port and the guest that may migrate there only: {sorted(there)}"
    tag = ET.fromstring(d2.virsh("net-dumpxml", NET)).find("portgroup[@name='red']/vlan/tag").get("id")
    address = lab.hosts()["hv2"]["netfabric_underlay_ip"].split("/")[0]
    mover, pinned = f"{lab.hv('hv1').netns}-qemu", f"{lab.hv('hv1').netns}-pinned"  # the first is defined by qemu_guest_lands_in_red
    d1.define_qemu(pinned, PINNED_MAC, NET, "red")
    for dom in (mover, pinned):
        d1.qemu("start", dom)
        d1.migrate(dom, d2, address)
        assert dom in d2.qemu("list", "--name").split() and dom not in d1.qemu("list", "--name").split(), f"{dom} did not migrate"
    name, number, ids = ofport(lab, mover, d2.qemu_uri, d2)
    assert number == planned_there(lab), f"hv2's hook did not give the migrated {name} hv2's planned OpenFlow port ({number})"
    assert ids.get("netfabric_tenant") == "red" and hv2.vsctl("get", "Port", name, "tag").strip() == tag, (ids, tag)
    red, _red, blue = heard(lab, QEMU_MAC, on="3")
    assert len(red) == 2, f"red on hv3 did not hear the guest that migrated to hv2: {red}"
    assert blue == [], f"blue on hv3 heard the migrated red guest: {blue}"
    name, number, ids = ofport(lab, pinned, d2.qemu_uri, d2)
    assert number < 10001 and "netfabric_tenant" not in ids, (name, number, ids)
    sent, red, blue = heard(lab, PINNED_MAC, on="3", listen=["ip", "netns", "exec", hv2.netns, "tcpdump", "-i", name])
    assert len(sent) == 2, f"the guest kept on hv1 sent nothing on its hv2 port {name}: {sent}"
    assert red == [] and blue == [], f"a guest the inventory does not let onto hv2 was heard there: red {red}, blue {blue}"
    d2.qemu("destroy", pinned)
    return mover


def hot_plug_is_followed(lab, dom):
    """A NIC hot-plugged into a running guest runs no hook; the hook's --follow (what the role's systemd
    unit runs; the lab has no systemd) sees libvirt's device-added event and plugs it with hv2's plan."""
    d2, hv2 = lab.daemon2, lab.hv("hv2")
    map_file = hv2.dir / "state" / "libvirt-ports.json"
    planned = json.loads(map_file.read_text())["ports"][HOTPLUG_MAC]["ofport"]
    argv = ["python3", str(d2.dir / "etc" / "hooks" / "qemu"), "--follow", str(map_file), d2.qemu_uri]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as follower:
        try:
            time.sleep(2)  # virsh event says nothing when it listens; an attach before that waits for the next listen (60 s)
            started = time.monotonic()
            d2.hot_plug(dom, HOTPLUG_MAC, NET, "red")
            name = next(dev for dev in (iface.find("target").get("dev") for iface in ET.fromstring(d2.qemu("dumpxml", dom)).findall("devices/interface")
                                        if iface.find("mac").get("address") == HOTPLUG_MAC))
            while int(hv2.vsctl("get", "Interface", name, "ofport").strip()) != planned and time.monotonic() - started < 75:
                time.sleep(0.5)
            took = time.monotonic() - started
        finally:
            follower.terminate()
        out, err = follower.communicate()
    number = int(hv2.vsctl("get", "Interface", name, "ofport").strip())
    assert number == planned, f"the hot-plugged {name} kept OpenFlow port {number}, not hv2's planned {planned}; follower said {out!r} {err!r}"
    print(f"hot-plugged {name} plugged {took:.1f} s after attach-device")
    # The guest's firmware never sends from a NIC added after it booted: frames to it show where it is.
    red, blue = (delivered(lab, hv2, name, vm_name, HOTPLUG_MAC, "10.0.0.14") for vm_name in ("tap-red-3", "tap-blue-3"))
    assert red, "red on hv3 could not reach the hot-plugged NIC on hv2"
    assert blue == [], f"blue on hv3 reached the hot-plugged red NIC: {blue}"


def delivered(lab, hv, dev, source, mac, address):
    """What reached port DEV on HV of the pings VM SOURCE sent to ADDRESS at MAC (a static neighbour entry,
    so the frames go whether or not anyone answers ARP)."""
    ns = fabric.vm_netns(lab.prefix, source)
    netns.sh("ip", "-n", ns, "neigh", "replace", address, "lladdr", mac, "dev", "eth0", "nud", "permanent")
    try:
        with netns.tcpdump(hv.netns, f"ether dst {mac} and icmp", "-e", iface=dev) as seen:
            netns.sh("ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", address, check=False)
            time.sleep(0.5)
    finally:
        netns.sh("ip", "-n", ns, "neigh", "del", address, "dev", "eth0", check=False)
    return seen


def test_a_hook_the_fabric_did_not_write_is_refused(lab):
    hooks = lab.daemon.dir / "etc" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "qemu").write_text("#!/bin/sh\nexit 0\n")
    proc = subprocess.run(lab.playbook_argv("site"), capture_output=True, text=True, env=lab.env(), check=False)
    assert proc.returncode != 0
    assert f"{hooks / 'qemu'} is a libvirt hook the fabric did not write" in proc.stdout, proc.stdout[-3000:]
    assert (hooks / "qemu").read_text() == "#!/bin/sh\nexit 0\n"
    assert not (hooks / "lxc").exists()
