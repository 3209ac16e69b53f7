"""Hosts with netfabric_libvirt: the plan's libvirt part, the inventory rules, and the hook's XML handling.

The hook (roles/libvirt/files/netfabric_libvirt_hook.py) is read with the domain XML libvirt 9's LXC
driver gave a real hook at `started` (fixtures/libvirt_started_lxc.xml, recorded in the lab).
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import subprocess
from pathlib import Path

import jinja2
import pytest

from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FabricError
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.topology import seen_from_info

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
HOOK_FILE = Path(__file__).resolve().parents[4] / "roles" / "libvirt" / "files" / "netfabric_libvirt_hook.py"
RECORDED = (FIXTURES / "libvirt_started_lxc.xml").read_text()  # domain vm1, 52:54:00:aa:00:01 in portgroup red, target vnet2
MAC = "52:54:00:aa:00:01"


def hook():
    spec = importlib.util.spec_from_file_location("netfabric_libvirt_hook", HOOK_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inventory(libvirt=None, **port):
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    hosts["hv1"]["netfabric_libvirt"] = {} if libvirt is None else libvirt
    hosts["hv1"]["netfabric_ports"].append({"libvirt": True, "mac": MAC.upper(), "tenant": "red", "ip": "10.0.0.10/24", **port})
    return hosts, fabric


def host_plan(hosts, fabric, seen=None):
    return plan.host_plan(plan.build(hosts, fabric, seen), "hv1")


def test_plan_gives_the_network_and_the_port_map_but_no_tenant_port():
    got = host_plan(*inventory())
    vlans = {t["name"]: t["local_vlan"] for t in got["tenants"]}
    part = got["libvirt"]
    assert part["network"] == {"name": "netfabric", "bridge": "br-int", "uri": "qemu:///system",
                               "portgroups": [{"name": t, "vlan": vlans[t], "profileid": t} for t in sorted(vlans)]}
    entry = part["map"]["ports"][MAC]
    assert entry == {"port": "lv-525400aa0001", "dev": None, "ofport": entry["ofport"], "tenant": "red", "local_vlan": vlans["red"],
                     "mtu": next(t["mtu"] for t in got["tenants"] if t["name"] == "red")}
    assert part["map"]["tenant_key"] == "netfabric_tenant" and part["map"]["port_key"] == "netfabric_port"
    assert part["hooks_dir"] == "/etc/libvirt/hooks" and part["map_file"].endswith("/libvirt-ports.json")
    assert "lv-525400aa0001" not in [p["name"] for p in got["ports"]["tenants"]["ports"]]
    assert "lv-525400aa0001" not in got["verify_ports"]
    admission = [f for f in got["flows"]["br-int"] if f"in_port={entry['ofport']}," in f]
    assert admission and all("dl_src=52:54:00:aa:00:01" in f for f in admission if "priority=10," in f or "priority=12," in f)


def test_hosts_without_netfabric_libvirt_have_no_libvirt_part():
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    assert "libvirt" not in plan.host_plan(plan.build(hosts, fabric), "hv1")


def test_a_running_domain_keeps_its_number_across_runs():
    """The port libvirt made is named vnetN; the hook's netfabric_port mark keys it back to the plan's name."""
    hosts, fabric = inventory()
    first = host_plan(hosts, fabric)["libvirt"]["map"]["ports"][MAC]["ofport"]
    taken = 10001 if first != 10001 else 10002  # a number a newcomer would get first, held by the domain's port
    info = {"ports": {"vnet7": {"bridge": "br-int", "tag": 5, "ofport": taken, "ofport_request": taken,
                                "external_ids": {"netfabric_tenant": "red", "netfabric_port": "lv-525400aa0001"}}}}
    again = host_plan(hosts, fabric, {"hv1": seen_from_info(info, "br-int")})
    assert again["libvirt"]["map"]["ports"][MAC]["ofport"] == taken


def migrating(mode=None, target_libvirt=True, **port):
    """The example with hv1's libvirt port allowed to migrate to hv2 (and hv2 a libvirt host unless told otherwise)."""
    hosts, fabric = inventory(migrate_to=["hv2"], **port)
    if target_libvirt:
        hosts["hv2"]["netfabric_libvirt"] = {}
    if mode:
        fabric["netfabric_mode"] = mode
    return hosts, fabric


def test_a_migration_target_admits_the_port_and_its_hook_plugs_it():
    """hv2 holds the port in its map, its flows and its number allocation; hv3, not named, holds nothing."""
    hosts, fabric = migrating()
    fabric["netfabric_tenants"].append({"name": "green", "tunnel_id": 1003, "subnets": ["10.3.0.0/24"]})
    hosts["hv1"]["netfabric_ports"][-1]["tenant"] = "green"  # a tenant hv2 carries for this port alone
    hosts["hv1"]["netfabric_ports"][-1]["ip"] = "10.3.0.10/24"
    built = plan.build(hosts, fabric)
    home, there, elsewhere = (plan.host_plan(built, h) for h in ("hv1", "hv2", "hv3"))
    entry = there["libvirt"]["map"]["ports"][MAC]
    assert entry["tenant"] == "green" and entry["port"] == "lv-525400aa0001" and entry["ofport"] >= 10001
    vlans = {t["name"]: t for t in there["tenants"]}
    assert entry["local_vlan"] == vlans["green"]["local_vlan"] and "hv1" in vlans["green"]["peers"]
    assert "green" in [g["name"] for g in there["libvirt"]["network"]["portgroups"]]
    assert any(f"in_port={entry['ofport']}," in f and "dl_src=52:54:00:aa:00:01" in f for f in there["flows"]["br-int"])
    assert "lv-525400aa0001" not in [p["name"] for p in there["ports"]["tenants"]["ports"]]
    assert "hv2" in {t["name"]: t for t in home["tenants"]}["green"]["peers"], "hv1 has no tunnel to the host the domain may move to"
    assert "green" not in [t["name"] for t in elsewhere["tenants"]] and "libvirt" not in elsewhere


def test_a_migration_target_is_not_a_second_vm():
    """The MAC and address are the home's: no duplicate complaint, and one DHCP lease on the network node."""
    hosts, fabric = migrating()
    hosts["hv3"]["netfabric_external"] = {"nic": "external", "subnet": "203.0.113.0/24", "gateway": "203.0.113.1", "pool": ["203.0.113.10"]}
    next(t for t in fabric["netfabric_tenants"] if t["name"] == "red")["subnets"] = [{"cidr": "10.0.0.0/24", "dhcp": True, "dhcp_ip": "10.0.0.250"}]
    built = plan.build(hosts, fabric, network_nodes=("hv3",))
    leases = [h for d in plan.host_plan(built, "hv3")["network_node"]["dhcp"] for h in d["hosts"] if h["mac"] == MAC]
    assert leases == [{"mac": MAC, "ip": "10.0.0.10"}]


@pytest.mark.parametrize(("mode", "change", "problem"), [
    ("l2pop", None, "host hv1 port 52:54:00:aa:00:01: migrate_to needs netfabric_mode learning"),
    (None, lambda h: h["hv2"].pop("netfabric_libvirt"),
     "host hv1 port 52:54:00:aa:00:01: migrate_to names host hv2, which has no (valid) netfabric_libvirt"),
    (None, lambda h: h["hv1"]["netfabric_ports"][-1].update(migrate_to=["hv9"]),
     "host hv1 port 52:54:00:aa:00:01: migrate_to names 'hv9', which is no hypervisor of the inventory (allowed: hv1, hv2, hv3)"),
    (None, lambda h: h["hv1"]["netfabric_ports"][-1].update(migrate_to=["hv1"]),
     "host hv1 port 52:54:00:aa:00:01: migrate_to names the port's own host hv1"),
    (None, lambda h: h["hv1"]["netfabric_ports"][0].update(migrate_to=["hv2"]), "host hv1 port tap-red-1: migrate_to is for libvirt: true ports"),
])
def test_migration_rules(mode, change, problem):
    hosts, fabric = migrating(mode)
    if change:
        change(hosts)
    with pytest.raises(FabricError) as info:
        plan.build(hosts, fabric)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_l2pop_admits_migration_on_a_provider_vlan_tenant():
    hosts, fabric = migrating("l2pop")
    hosts = {h: dict(v, netfabric_datapath_type="netdev") for h, v in hosts.items()}
    next(t for t in fabric["netfabric_tenants"] if t["name"] == "red")["provider_vlan"] = 300
    built = plan.build(hosts, fabric)
    assert MAC in plan.host_plan(built, "hv2")["libvirt"]["map"]["ports"]


def test_long_tenant_names_get_no_profileid():
    hosts, fabric = inventory()
    name = "t" * 40
    fabric["netfabric_tenants"].append({"name": name, "tunnel_id": 4040, "subnets": ["10.4.0.0/24"]})
    hosts["hv1"]["netfabric_ports"].append({"libvirt": True, "mac": "52:54:00:aa:00:02", "tenant": name})
    groups = {g["name"]: g for g in host_plan(hosts, fabric)["libvirt"]["network"]["portgroups"]}
    assert "profileid" not in groups[name] and groups["red"]["profileid"] == "red"


@pytest.mark.parametrize(("change", "problem"), [
    (lambda h: h["hv1"]["netfabric_ports"][-1].pop("mac"), "host hv1 port #3: libvirt: true needs mac"),
    (lambda h: h["hv1"].pop("netfabric_libvirt"),
     "host hv1: ports 52:54:00:aa:00:01 have libvirt: true but the host has no (valid) netfabric_libvirt"),
    (lambda h: h["hv1"]["netfabric_ports"][0].pop("name"), "host hv1 port #1: name is required (only a libvirt: true port"),
    (lambda h: h["hv1"]["netfabric_libvirt"].update(hooks_dir="hooks"), "host hv1: netfabric_libvirt.hooks_dir 'hooks' is not an absolute path"),
    (lambda h: h["hv1"]["netfabric_libvirt"].update(uri="qemu"), "host hv1: netfabric_libvirt.uri 'qemu' is not a libvirt connection URI"),
    (lambda h: h["hv1"]["netfabric_libvirt"].update(netwrok="x"), "host hv1: netfabric_libvirt: unknown key 'netwrok'"),
    (lambda h: h["hv1"]["netfabric_ports"][-1].update(name="bad name"),
     "host hv1 port bad name: name (the domain's <target dev>) 'bad name' is not a valid interface name"),
])
def test_inventory_rules(change, problem):
    hosts, fabric = inventory()
    change(hosts)
    with pytest.raises(FabricError) as info:
        plan.build(hosts, fabric)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_hook_plugs_the_known_mac_with_the_plans_number_and_tenant():
    port_map = {"network": "netfabric", "tenant_key": "netfabric_tenant", "port_key": "netfabric_port", "db": "unix:/x/db.sock",
                "ports": {MAC: {"port": "lv-525400aa0001", "dev": None, "ofport": 10003, "tenant": "red", "mtu": 1450}}}
    commands, log = hook().plan("vm1", RECORDED, port_map)
    assert commands == [["ovs-vsctl", "--timeout=5", "--db=unix:/x/db.sock", "--", "set", "Interface", "vnet2", "ofport_request=10003", "mtu_request=1450",
                         "--", "set", "Port", "vnet2", "external_ids:netfabric_tenant=red", "external_ids:netfabric_port=lv-525400aa0001"]]
    assert log == ["domain vm1 interface 52:54:00:aa:00:01 (vnet2, portgroup red): tenant red, OpenFlow port 10003"]


@pytest.mark.parametrize(("entry", "why"), [
    (None, "MAC not in this host's port map"),
    ({"port": "lv-525400aa0001", "dev": None, "ofport": 10003, "tenant": "blue"}, "the inventory puts this MAC in tenant blue"),
    ({"port": "lv-525400aa0001", "dev": "vm1-eth0", "ofport": 10003, "tenant": "red"}, "the inventory names target dev vm1-eth0"),
])
def test_hook_leaves_other_interfaces_dark(entry, why):
    port_map = {"network": "netfabric", "tenant_key": "netfabric_tenant", "port_key": "netfabric_port", "ports": {MAC: entry} if entry else {}}
    commands, log = hook().plan("vm1", RECORDED, port_map)
    assert commands == [] and len(log) == 1 and why in log[0], log


def test_hook_ignores_other_networks_and_operations(tmp_path, capsys):
    module = hook()
    other = {"network": "elsewhere", "tenant_key": "k", "port_key": "p", "ports": {MAC: {"port": "x", "ofport": 1, "tenant": "red"}}}
    assert module.plan("vm1", RECORDED, other) == ([], [])
    module.MAP_FILE = str(tmp_path / "missing.json")
    assert module.main(["lxc", "vm1", "stopped", "end", "-"], None) == 0  # never reads stdin or the map
    assert module.main(["lxc", "vm1", "started", "begin", "-"], None) == 0
    assert "missing.json unreadable" in capsys.readouterr().err


# What `virsh event --loop --event device-added` printed after `virsh attach-interface --live` on a QEMU guest (libvirt 9.0).
DEVICE_ADDED = "event 'device-added' for domain 'hp-g': net1"


def test_follow_plugs_at_each_start_and_device_added_event_until_virsh_fails(tmp_path, monkeypatch):
    """Each listen plugs first (what was added before virsh listened), then at each device-added line;
    a listen that ends cleanly (its timeout) starts again; one that fails ends --follow with its status."""
    module = hook()
    runs = tmp_path / "runs"
    virsh = tmp_path / "virsh"
    virsh.write_text("#!/bin/sh\n"
                     f"echo x >> {runs}\n"
                     f"if [ $(wc -l < {runs}) -eq 1 ]; then echo \"{DEVICE_ADDED}\"; echo \"event 'lifecycle' for domain 'hp-g': Started\"; exit 0; fi\n"
                     "echo 'error: Disconnected from qemu:///system due to end of file' >&2; exit 3\n")
    virsh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    calls = []
    monkeypatch.setattr(module, "plug_running", lambda *args: calls.append(args) or [f"domain hp-g port vnet{len(calls)}: set"])
    out, err = io.StringIO(), io.StringIO()
    assert module.follow("/map.json", "qemu:///system", out, err) == 3
    assert calls == [("/map.json", "qemu:///system", False)] * 3  # first listen: start + one event; second: start
    assert out.getvalue().splitlines() == ["domain hp-g port vnet1: set", "domain hp-g port vnet2: set", "domain hp-g port vnet3: set"]
    assert "virsh event on qemu:///system ended with status 3" in err.getvalue()


def test_the_hot_plug_unit_runs_the_installed_hook_and_passes_systemd_analyze_verify(tmp_path):
    template = jinja2.Template((HOOK_FILE.parents[1] / "templates" / "netfabric-libvirt-plug.service.j2").read_text())
    text = template.render(ansible_managed="managed", libvirt_hooks_dir="/etc/libvirt/hooks", libvirt_hook_drivers=["qemu", "lxc"],
                           libvirt_map_file="/var/lib/netfabric/libvirt-ports.json", libvirt_network={"uri": "qemu:///system"})
    assert "ExecStart=/usr/bin/python3 /etc/libvirt/hooks/qemu --follow /var/lib/netfabric/libvirt-ports.json qemu:///system" in text
    unit = tmp_path / "netfabric-libvirt-plug.service"
    unit.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_hook_reload_signals_only_libvirt_daemons(tmp_path):
    pidfile = tmp_path / "not-libvirt.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    assert hook().reload([str(pidfile), str(tmp_path / "absent.pid")]) == []
