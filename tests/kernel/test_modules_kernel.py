"""The collection's modules on a real kernel: 802.1Q, dummy, GRE/gretap, the OVS kernel datapath.

One playbook (playbook.yml) runs twice: the first run must change things and the second
nothing. The tests then read the state back with the kernel's own tools and send traffic
between VM namespaces across two hypervisor namespaces over VXLAN and GRE.

Several ovs-vswitchd instances, one per network namespace, share the one openvswitch
kernel module: each gets its own `ovs-system` datapath and its own vxlan_sys_4789/gre_sys
vports, because the datapath is per network namespace.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import netns  # noqa: E402  (the shared lab, not an installed package)
from kernel_ansible import run_playbook  # noqa: E402  (beside this file)

PLAYBOOK = Path(__file__).with_name("playbook.yml")
PREFIX = "kern"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Underlay address and VM addresses of each side; the playbook puts vm-b's addresses on its VLAN subinterfaces.
UNDERLAY = {"hv-a": "172.31.0.1/24", "hv-b": "172.31.0.2/24"}
VMS = {  # VM namespace: (hypervisor, port on br-int, address of eth0 or None for the trunked VM)
    "vm-a1": ("hv-a", "vm-a1", "10.101.0.1/24"),
    "vm-a2": ("hv-a", "vm-a2", "10.102.0.1/24"),
    "vm-b": ("hv-b", "vm-b", None),
}


def run(*argv: str, check: bool = True) -> str:
    return netns.sh(*argv, check=check, capture=True)


def link(name: str) -> dict:
    """One link as `ip -j -d` reports it."""
    return json.loads(run("ip", "-j", "-d", "link", "show", "dev", name))[0]


@dataclass
class Run:
    rc: int
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        return {host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unr), "failed": int(failed)}
                for host, ok, changed, unr, failed in RECAP.findall(self.output)}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Hypervisor namespaces with their own OVS, the veth underlay, the VM namespaces and their veths."""
    netns.down(PREFIX)
    hvs = {name: netns.Hypervisor(PREFIX, name).start() for name in UNDERLAY}
    a, b = hvs["hv-a"], hvs["hv-b"]
    run("ip", "link", "add", "uplink", "netns", a.netns, "type", "veth", "peer", "name", "uplink", "netns", b.netns)
    for name, address in UNDERLAY.items():
        run("ip", "-n", hvs[name].netns, "address", "add", address, "dev", "uplink")
        run("ip", "-n", hvs[name].netns, "link", "set", "uplink", "up")
    for vm, (hv, port, address) in VMS.items():
        vm_ns = f"{PREFIX}-{vm}"
        run("ip", "netns", "add", vm_ns)
        run("ip", "link", "add", "eth0", "netns", vm_ns, "type", "veth", "peer", "name", port, "netns", hvs[hv].netns)
        run("ip", "-n", vm_ns, "link", "set", "eth0", "up")
        run("ip", "-n", hvs[hv].netns, "link", "set", port, "up")
        if address:
            run("ip", "-n", vm_ns, "address", "add", address, "dev", "eth0")
    work = tmp_path_factory.mktemp("ansible")
    inventory = {"all": {
        "vars": {"ansible_connection": "local"},
        "hosts": {"uml": {"ansible_python_interpreter": "/usr/bin/python3"}},
        "children": {"hypervisors": {"hosts": {
            name: {"ansible_python_interpreter": str(hv.python)} for name, hv in hvs.items()}}},
    }}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    yield {"work": work, "hvs": hvs}
    netns.down(PREFIX)
    for name in ("d0", "gre1", "gretap1"):
        run("ip", "link", "del", name, check=False)
    run("ovs-vsctl", "--if-exists", "del-br", "br-sys", check=False)


def playbook(work: Path) -> Run:
    proc = run_playbook(work, "-i", str(work / "inventory.yml"), str(PLAYBOOK))
    return Run(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def runs(lab):
    """The playbook applied, then applied again."""
    first = playbook(lab["work"])
    assert first.rc == 0, f"first run failed:\n{first.output}"
    second = playbook(lab["work"])
    return first, second


def test_first_run_changes_every_host(runs):
    recap = runs[0].recap()
    assert set(recap) == {"uml", "hv-a", "hv-b"}, runs[0].output
    for host, counts in recap.items():
        assert counts["changed"] > 0 and counts["failed"] == 0, f"{host}: {counts}\n{runs[0].output}"


def test_second_run_changes_nothing(runs):
    second = runs[1]
    assert second.rc == 0, second.output
    recap = second.recap()
    assert set(recap) == {"uml", "hv-a", "hv-b"}, second.output
    for host, counts in recap.items():
        assert counts["changed"] == 0 and counts["failed"] == 0, f"{host}: {counts}\n{second.output}"


def test_vlan_on_dummy(runs):
    assert link("d0")["linkinfo"]["info_kind"] == "dummy"
    vlan = link("d0.42")
    assert vlan["linkinfo"]["info_kind"] == "vlan"
    assert vlan["linkinfo"]["info_data"]["id"] == 42
    assert vlan["link"] == "d0"
    assert "UP" in vlan["flags"]


@pytest.mark.parametrize(("name", "kind", "remote", "key"), [
    ("gre1", "gre", "192.0.2.2", "0.0.0.42"),
    ("gretap1", "gretap", "192.0.2.3", "0.0.0.43"),
])
def test_gre_devices(runs, name, kind, remote, key):
    info = link(name)["linkinfo"]
    assert info["info_kind"] == kind
    data = info["info_data"]
    assert (data["local"], data["remote"]) == ("192.0.2.1", remote)
    assert data["ikey"] == data["okey"] == key  # ip shows GRE keys as dotted quads


def interfaces(*prefix: str) -> dict[str, dict]:
    """Interface name -> {type, options} from OVSDB, parsed from ovs-vsctl's JSON."""
    table = json.loads(run(*prefix, "ovs-vsctl", "--format=json", "--columns=name,type,options", "list", "Interface"))
    return {name: {"type": kind, "options": dict(options[1])} for name, kind, options in table["data"]}


def test_kernel_datapath_in_root_namespace(runs):
    dp = run("ovs-dpctl", "show")
    assert "system@ovs-system" in dp
    for port in ("br-sys", "vxlan_sys_4789", "gre_sys"):
        assert re.search(rf"port \d+: {port}\b", dp), dp
    ifaces = interfaces()
    assert ifaces["vx-sys"] == {"type": "vxlan", "options": {"remote_ip": "192.0.2.2", "key": "flow"}}
    assert ifaces["gre-sys"] == {"type": "gre", "options": {"remote_ip": "192.0.2.3", "key": "5000"}}


@pytest.mark.parametrize("hv", ["hv-a", "hv-b"])
def test_kernel_datapath_per_hypervisor(runs, lab, hv):
    host = lab["hvs"][hv]
    dp = host.exec("ovs-dpctl", "show")
    ports = ["br-int", "vxlan_sys_4789", "gre_sys"] + [port for (h, port, _addr) in VMS.values() if h == hv]
    for port in ports:
        assert re.search(rf"port \d+: {port}\b", dp), dp


def capture_while_pinging(hv: netns.Hypervisor, bpf: str, vm: str, target: str) -> str:
    """tcpdump on hv's underlay while vm pings target; returns tcpdump's text.

    Pings repeat until one is answered (bounded): in the first seconds after boot, OVS 3.1
    counts zero CPUs and drops upcalls until it counts again.
    """
    with hv.tcpdump(bpf) as lines:
        answered = False
        for _try in range(30):
            ping = subprocess.run(["ip", "netns", "exec", f"{PREFIX}-{vm}", "ping", "-c", "1", "-W", "1", target],
                                  capture_output=True, text=True, check=False)
            if ping.returncode == 0:
                answered = True
                break
            time.sleep(0.5)
        assert answered, f"{vm} -> {target}: no answer\n{ping.stdout}{hv.exec('ovs-dpctl', 'dump-flows')}"
    return "\n".join(lines) + "\n"


def test_ping_over_vxlan(runs, lab):
    """VLAN 101: vm-a1 (access port) -> VXLAN VNI 1001 -> vm-b's eth0.101 (trunk port).

    vm-b has no address on eth0 itself: the answer proves its trunk port delivered the frames tagged 101.
    """
    seen = capture_while_pinging(lab["hvs"]["hv-a"], "udp port 4789", "vm-a1", "10.101.0.2")
    assert re.search(r"172\.31\.0\.1\.\d+ > 172\.31\.0\.2\.4789: VXLAN.* vni 1001\n.*10\.101\.0\.1 > 10\.101\.0\.2: ICMP echo request",
                     seen), seen
    assert re.search(r"VXLAN.* vni 1001\n.*10\.101\.0\.2 > 10\.101\.0\.1: ICMP echo reply", seen), seen


def test_ping_over_gre(runs, lab):
    """VLAN 102: vm-a2 (access port) -> GRE key 1002 -> vm-b's eth0.102 (trunk port)."""
    seen = capture_while_pinging(lab["hvs"]["hv-a"], "proto gre", "vm-a2", "10.102.0.2")
    assert re.search(r"172\.31\.0\.1 > 172\.31\.0\.2: GREv0, key=0x3ea.*10\.102\.0\.1 > 10\.102\.0\.2: ICMP echo request",
                     seen), seen
    assert re.search(r"172\.31\.0\.2 > 172\.31\.0\.1: GREv0, key=0x3ea.*10\.102\.0\.2 > 10\.102\.0\.1: ICMP echo reply",
                     seen), seen
