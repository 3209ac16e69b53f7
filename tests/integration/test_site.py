"""The site playbook over three namespace hypervisors, proven with real packets.

Each hypervisor is a network namespace with its own Open vSwitch (userspace datapath); Ansible
reaches it through an interpreter wrapper, so the playbook treats it as a real host.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time

import yaml
from conftest import REPO, ansible_env

sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402


def assert_isolated_tenants(lab):
    assert lab.reaches("tap-red-1", "tap-red-2")
    assert lab.reaches("tap-red-1", "tap-red-3")
    assert lab.reaches("tap-blue-2", "tap-blue-3")
    # Same subnet, same addresses: the other tenant's VM never answers, nor resolves.
    assert not lab.reaches("tap-red-1", "tap-blue-2")
    assert not lab.reaches("tap-blue-3", "tap-red-1")
    assert fabric.arp_mac(lab.prefix, lab.vm("tap-red-1"), lab.vm("tap-blue-2")) in (None, lab.vm("tap-red-2")["mac"])


def test_vxlan_learning_fabric_idempotent_restart_prune_teardown(lab_factory):
    lab = lab_factory("vxlan")
    before = lab.snapshot()
    first = lab.playbook()
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in first.values())
    assert_isolated_tenants(lab)

    seen = lab.capture("hv1", "tap-red-1", "tap-red-2", "udp port 4789")
    assert re.search(r"VXLAN.* vni 1001\n.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", seen), seen

    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second

    # ovs-vswitchd restarts: flows are gone, br-tun (fail_mode secure) drops; the hook restores them.
    hv2 = lab.hv("hv2")
    hv2.restart_vswitchd()
    time.sleep(1)
    assert "resubmit" not in hv2.ofctl("-O", "OpenFlow14", "dump-flows", "br-tun")
    assert not lab.reaches("tap-red-1", "tap-red-2"), "fail closed while the flows are missing"
    hv2.exec(str(hv2.dir / "state" / "restore-flows"))
    assert lab.reaches("tap-red-1", "tap-red-2"), "the restore hook brings the tenant back without Ansible"
    assert not lab.reaches("tap-red-1", "tap-blue-2")

    # hv3 leaves the inventory: every remaining host loses its tunnel and its flows to hv3.
    lab.remove_host("hv3")
    lab.playbook()
    for name in ("hv1", "hv2"):
        ports = lab.hv(name).vsctl("list-ports", "br-tun").split()
        assert "vxlan-ac1f0003" not in ports and len(ports) == 2, ports
        assert "vxlan-ac1f0003" not in lab.hv(name).ofctl("-O", "OpenFlow14", "--names", "dump-flows", "br-tun")
    assert lab.reaches("tap-red-1", "tap-red-2")

    lab.playbook("teardown")
    after = lab.snapshot()
    for name in ("hv1", "hv2"):
        assert after[name] == before[name], f"{name} is not as it was"


def test_gre_fabric(lab_factory):
    lab = lab_factory("gre")
    lab.playbook()
    assert_isolated_tenants(lab)
    seen = lab.capture("hv2", "tap-blue-2", "tap-blue-3", "proto gre")
    assert re.search(r"GREv0, key=0x7d2,.*10\.0\.0\.2 > 10\.0\.0\.3: ICMP echo request", seen), seen
    assert not re.search(r"key=0x7d1,.*ICMP echo", seen), f"red's key carried blue's ping:\n{seen}"
    ports = lab.hv("hv1").vsctl("list-ports", "br-tun").split()
    assert sorted(ports) == ["gre-ac1f0002", "gre-ac1f0003", "patch-int"]


def test_check_mode_changes_nothing_on_new_hosts_nor_when_a_host_leaves(lab_factory):
    """`--check` predicts, never writes: on hosts without any fabric, and on a converged fabric whose
    inventory lost a host (the prune is reported, not done)."""
    lab = lab_factory("vxlan")
    before = lab.snapshot()
    dry = lab.playbook("site", "--check", "--diff")
    assert all(counts["failed"] == 0 and counts["changed"] > 0 for counts in dry.values()), dry
    assert lab.snapshot() == before

    lab.playbook()
    converged = lab.snapshot(flows=True)
    red3 = lab.vm("tap-red-3")
    lab.remove_host("hv3")
    dry = lab.playbook("site", "--check", "--diff")
    assert dry["hv1"]["changed"] > 0 and dry["hv2"]["changed"] > 0, dry
    after = lab.snapshot(flows=True)
    assert after["hv1"] == converged["hv1"] and after["hv2"] == converged["hv2"]
    assert "vxlan-ac1f0003" in lab.hv("hv1").vsctl("list-ports", "br-tun").split()
    assert fabric.ping(lab.prefix, lab.vm("tap-red-1"), red3), "hv1 still tunnels to hv3"


def test_one_host_at_a_time_builds_the_fabric_a_full_run_builds(lab_factory):
    """`--limit HOST` per host, the whole inventory loaded (as a workflow of limited jobs runs; AWX job
    slicing pares the inventory down and is not this): each host plans from inventory variables alone,
    so three single-host runs make the whole fabric, and a full run after them changes nothing."""
    lab = lab_factory("vxlan")
    for host in lab.hosts():
        counts = lab.playbook("site", "--limit", host)
        assert list(counts) == [host] and counts[host]["changed"] > 0, counts
    assert_isolated_tenants(lab)
    full = lab.playbook()
    assert all(counts["changed"] == 0 for counts in full.values()), full


def test_vxlan_over_an_ipv6_underlay(lab_factory):
    """IPv6 tunnel endpoints: hashed tunnel names, VXLAN in IPv6 on the wire, tenants still isolated."""
    lab = lab_factory("vxlan", host_overrides={f"hv{n}": {"netfabric_underlay_ip": f"fd00:31::{n}/64"} for n in (1, 2, 3)})
    first = lab.playbook()
    assert all(counts["failed"] == 0 for counts in first.values()), first
    tunnels = json.loads(lab.hv("hv1").vsctl("--format=json", "--columns=name,options", "find", "Interface", "type=vxlan"))
    remotes = sorted(dict(options[1])["remote_ip"] for _name, options in tunnels["data"])
    assert remotes == ["fd00:31::2", "fd00:31::3"], tunnels
    assert all(re.fullmatch(r"vxlan-[0-9a-f]{8}", name) for name, _options in tunnels["data"]), tunnels
    assert_isolated_tenants(lab)
    seen = lab.capture("hv1", "tap-red-1", "tap-red-2", "udp port 4789")
    assert re.search(r"IP6 fd00:31::1\.\d+ > fd00:31::2\.4789: VXLAN.* vni 1001\n.*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", seen), seen
    second = lab.playbook()
    assert all(counts["changed"] == 0 for counts in second.values()), second


def test_vxlan_l2pop_answers_arp_locally_and_does_not_flood_known_macs(lab_factory):
    lab = lab_factory("vxlan", netfabric_mode="l2pop")
    lab.playbook()
    assert_isolated_tenants(lab)
    flows = lab.hv("hv1").ofctl("-O", "OpenFlow14", "dump-flows", "br-tun", "table=22")
    assert "arp_tpa=10.0.0.2" in flows
    # The ARP responder answers on hv1: the request for a remote VM never reaches the underlay.
    seen = lab.capture("hv1", "tap-red-1", "tap-red-3", "udp port 4789 and not icmp")
    assert "ARP" not in seen, seen
    assert fabric.arp_mac(lab.prefix, lab.vm("tap-red-1"), lab.vm("tap-red-3")) == lab.vm("tap-red-3")["mac"]


def test_bad_inventory_changes_nothing(lab_factory):
    lab = lab_factory("vxlan")
    before = lab.snapshot()
    tenants = copy.deepcopy(yaml.safe_load((lab.example / "group_vars" / "hypervisors.yml").read_text())["netfabric_tenants"])
    tenants[1]["tunnel_id"] = tenants[0]["tunnel_id"]
    lab.edit_group(netfabric_tenants=tenants)
    proc = subprocess.run(lab.playbook_argv(), capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode != 0
    assert "tunnel" in proc.stdout and "blue" in proc.stdout and "red" in proc.stdout
    assert lab.snapshot() == before
