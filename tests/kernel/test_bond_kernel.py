"""ip_link's kind bond on a real bonding driver, the module run directly (no playbook: each costs
seconds under UML) as Ansible runs it, with its arguments in a file.

A host namespace with three veth members (m1, m2, m3) whose peers are ports of a Linux bridge in a
"switch" namespace that holds the peer address. The bond is created as 802.3ad, then made
active-backup with other members (the change every tool applies only at creation), proven in
/proc/net/bonding and by a second run that changes nothing; then traffic survives the active
member's link going down, and teardown deletes the bond and leaves its members up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"
HOST, SWITCH = "kbnd-host", "kbnd-switch"
BOND = "bond0"
MEMBERS = ("m1", "m2", "m3")  # the switch's port of each is s1, s2, s3
ADDRESS, PEER = "192.0.2.1/24", "192.0.2.2"


def sh(*argv: str, check: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(argv)}: rc {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc.stdout


def ip_link(tmp_path: Path, check_mode: bool = False, **args) -> dict:
    """One run of plugins/modules/ip_link.py with `args`, as Ansible's module runner hands them over."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"netns": HOST, **args, "_ansible_check_mode": check_mode,
                                                             "_ansible_diff": True}}))
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.netfabric.ovs.plugins.modules.ip_link", str(args_file)],
                          capture_output=True, text=True, env=env, check=False)
    result = json.loads(proc.stdout)
    assert not result.get("failed"), result
    return result


def bonding() -> str:
    return sh("ip", "netns", "exec", HOST, "cat", f"/proc/net/bonding/{BOND}")


def slaves(text: str) -> list[str]:
    return re.findall(r"^Slave Interface: (\S+)", text, re.M)


def link(name: str) -> dict:
    return json.loads(sh("ip", "-n", HOST, "-j", "-d", "address", "show", "dev", name))[0]


def ping() -> bool:
    return subprocess.run(["ip", "netns", "exec", HOST, "ping", "-c", "1", "-W", "2", PEER], capture_output=True, check=False).returncode == 0


def ping_within(tries: int) -> bool:
    return any(ping() for attempt in range(tries) if attempt >= 0)


@pytest.fixture
def lab():
    for ns in (HOST, SWITCH):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
    sh("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
    for index, member in enumerate(MEMBERS, 1):
        sh("ip", "-n", HOST, "link", "add", member, "type", "veth", "peer", "name", f"s{index}", "netns", SWITCH)
        sh("ip", "-n", SWITCH, "link", "set", f"s{index}", "master", "br0", "up")
        sh("ip", "-n", HOST, "link", "set", member, "up")
    sh("ip", "-n", SWITCH, "address", "add", f"{PEER}/24", "dev", "br0")
    sh("ip", "-n", SWITCH, "link", "set", "br0", "up")
    yield
    for ns in (HOST, SWITCH):
        sh("ip", "netns", "del", ns, check=False)


def test_bond_mode_and_members_change_and_failover(lab, tmp_path):
    lacp = {"name": BOND, "kind": "bond", "bond_mode": "802.3ad", "miimon": 100, "lacp_rate": "fast", "lacp_active": True,
            "xmit_hash_policy": "layer3+4", "members": ["m1", "m3"], "mtu": 1600, "owner": "kbx", "state": "up"}
    r = ip_link(tmp_path, **lacp)
    assert r["changed"], r
    text = bonding()
    assert "Bonding Mode: IEEE 802.3ad Dynamic link aggregation" in text and "LACP rate: fast" in text, text
    assert "Transmit Hash Policy: layer3+4" in text and slaves(text) == ["m1", "m3"], text
    assert link("m1")["mtu"] == 1600 and link(BOND)["ifalias"] == "netfabric:kbx"
    assert ip_link(tmp_path, **lacp)["changed"] is False
    sh("ip", "-n", HOST, "address", "add", ADDRESS, "dev", BOND)
    ifindex = link(BOND)["ifindex"]

    # The change the other tools apply only at creation: another mode and other members.
    backup = {"name": BOND, "kind": "bond", "bond_mode": "active-backup", "miimon": 100, "updelay": 0, "downdelay": 200,
              "members": ["m1", "m2"], "mtu": 1600, "owner": "kbx", "state": "up"}
    r = ip_link(tmp_path, check_mode=True, **backup)
    assert r["changed"] and r["diff"]["after"]["bond_mode"] == "active-backup" and r["diff"]["before"]["members"] == ["m1", "m3"], r
    assert "802.3ad" in bonding(), "check mode changed the bond"
    r = ip_link(tmp_path, **backup)
    assert r["changed"] and r["link"]["bond_mode"] == "active-backup" and r["link"]["members"] == ["m1", "m2"], r
    text = bonding()
    assert "Bonding Mode: fault-tolerance (active-backup)" in text and slaves(text) == ["m1", "m2"], text
    assert "Down Delay (ms): 200" in text, text
    m3 = link("m3")
    assert "master" not in m3 and "UP" in m3["flags"], f"the member that left is not up and free: {m3}"
    bond = link(BOND)
    assert bond["ifindex"] == ifindex and "UP" in bond["flags"], "the bond was recreated or left down"
    assert [a["local"] for a in bond["addr_info"] if a["family"] == "inet"] == ["192.0.2.1"], "the mode change lost the address"
    assert ip_link(tmp_path, **backup)["changed"] is False

    # Traffic survives the active member's link going down (the switch's end of it: the carrier drops).
    assert ping_within(10), "no ping through the bond"
    active = re.search(r"Currently Active Slave: (\S+)", bonding()).group(1)
    sh("ip", "-n", SWITCH, "link", "set", f"s{MEMBERS.index(active) + 1}", "down")
    assert ping_within(10), f"no ping after {active} went down:\n{bonding()}"
    text = bonding()
    now = re.search(r"Currently Active Slave: (\S+)", text).group(1)
    assert now != active and now in ("m1", "m2"), text
    failed = text.split(f"Slave Interface: {active}")[1]
    assert re.search(r"MII Status: down", failed) and "Link Failure Count: 1" in failed, text

    # Teardown: the bond goes, its members stay, out of it and up.
    r = ip_link(tmp_path, name=BOND, state="absent", owner="kbx")
    assert r["changed"], r
    assert sh("ip", "-n", HOST, "link", "show", "dev", BOND, check=False) == ""
    for member in ("m1", "m2"):
        entry = link(member)
        assert "master" not in entry and "UP" in entry["flags"], entry


REBOOT = """ip link del {bond} && ip link set m1 up && ip address add {address} dev m1
ip -j -d address show > {out}/rebooted.json
python3 {script} --state={out}/boot.json --check > {out}/check.out 2>&1; echo $? > {out}/check.rc
python3 {script} --state={out}/boot.json > {out}/first.out 2>&1; echo $? > {out}/first.rc
cat /proc/net/bonding/{bond} > {out}/bonding.txt; ip -j -d address show > {out}/booted.json
for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 2 {peer} > /dev/null && echo ok > {out}/ping.out && break; done
python3 {script} --state={out}/boot.json > {out}/second.out 2>&1; echo $? > {out}/second.rc
"""


def test_roles_move_the_underlay_onto_the_kernel_bond_and_back(lab, tmp_path):
    """The bridges role's tasks (system-datapath hosts) converge the bond and move the address onto it; a
    reboot as the kernel sees it (the bond and its subinterfaces gone, the address back on a member) is
    undone by netfabric-boot.py alone, with the boot.json of the pipeline role's defaults; the Linux-bridge
    role's tasks (the same as the bridges role's) tear it down. One playbook run: each costs a minute under UML."""
    sh("ip", "-n", HOST, "address", "add", ADDRESS, "dev", "m1")  # where the operator had it
    assert ping_within(10), "no ping over m1 before the bond"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec ip netns exec {HOST} /usr/bin/python3 \"$@\"\n")
    python.chmod(0o755)
    bond = {"name": BOND, "kind": "bond", "bond_mode": "active-backup", "miimon": 100, "updelay": 0, "downdelay": 0,
            "members": ["m1", "m2"], "mtu": 1600, "owner": "netfabric", "state": "up"}
    underlay = {"address": ADDRESS.split("/", maxsplit=1)[0], "prefix": 24, "uplink": BOND, "bridge": None, "mtu": 1600,
                "links": [bond], "members": ["m1", "m2"],
                "kernel_bond": {"name": BOND, "members": ["m1", "m2"], "owner": "netfabric", "alias": "netfabric:netfabric"}}
    vlan = {"name": f"{BOND}.100", "kind": "vlan", "link": BOND, "vlan_id": 100, "state": "up"}
    plan = {"underlay": underlay, "vlan_subinterfaces": [vlan], "ports": {"provider_vlans": {"owner": "netfabric-vlans"}}}
    reboot = REBOOT.format(bond=BOND, address=ADDRESS, out=tmp_path, peer=PEER, script=REPO / "roles" / "pipeline" / "files" / "netfabric-boot.py")
    converged = tmp_path / "converged.json"
    probe = f"ip -j -d address show > {converged} && for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 2 {PEER} && exit 0; done; exit 1"
    tasks = [
        {"ansible.builtin.include_role": {"name": "netfabric.ovs.bridges", "tasks_from": "apply"},
         "vars": {"bridges_list": [], "bridges_port_sets": [], "bridges_dpdk": {}, "bridges_ovs_db": "",
                  "bridges_underlay": underlay, "bridges_state": "present"}},
        {"name": "probe", "ansible.builtin.command": {"argv": ["sh", "-c", probe]}, "changed_when": False},
        {"ansible.builtin.include_vars": {"file": str(REPO / "roles" / "pipeline" / "defaults" / "main.yml")}},
        {"ansible.builtin.copy": {"content": "{{ pipeline_boot_state | to_nice_json }}", "dest": str(tmp_path / "boot.json"), "mode": "0600"}},
        {"name": "reboot", "ansible.builtin.command": {"argv": ["sh", "-c", reboot]}},
        {"ansible.builtin.include_role": {"name": "netfabric.ovs.linuxbridge", "tasks_from": "apply"},
         "vars": {"linuxbridge_links": [], "linuxbridge_ports": [], "linuxbridge_fdb": [], "linuxbridge_uplink": [bond],
                  "linuxbridge_underlay": underlay, "linuxbridge_owner": "netfabric-linuxbridge", "linuxbridge_state": "absent"}},
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "vars": {"netfabric_plan": plan}, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "kbnd,", "-c", "local",
                           "-e", f"ansible_python_interpreter={python}", str(playbook)],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the probe's ping through the bond included

    table = {entry["ifname"]: entry for entry in json.loads(converged.read_text())}
    inet = {name: [a["local"] for a in entry.get("addr_info", []) if a["family"] == "inet"] for name, entry in table.items()}
    assert inet[BOND] == ["192.0.2.1"] and inet["m1"] == [], "the address is not on the bond alone"
    assert table["m1"]["master"] == table["m2"]["master"] == BOND and table[BOND]["ifalias"] == "netfabric:netfabric"
    assert table["m2"]["mtu"] == 1600

    # The reboot: the boot script found the bond gone and the address on m1, and made the host as converged.
    rebooted = {entry["ifname"]: entry for entry in json.loads((tmp_path / "rebooted.json").read_text())}
    assert BOND not in rebooted and "192.0.2.1" in [a["local"] for a in rebooted["m1"]["addr_info"]], "the reboot was not simulated"
    out = {name: (tmp_path / f"{name}.out").read_text() for name in ("check", "first", "second")}
    rcs = {name: (tmp_path / f"{name}.rc").read_text().strip() for name in ("check", "first", "second")}
    assert rcs == {"check": "0", "first": "0", "second": "0"}, (rcs, out)
    assert f"would run ip link add name {BOND} type bond" in out["check"] and out["first"] == out["check"].replace("would run ", ""), out
    assert out["second"] == "", f"the second run wrote: {out['second']}"
    booted = {entry["ifname"]: entry for entry in json.loads((tmp_path / "booted.json").read_text())}
    text = (tmp_path / "bonding.txt").read_text()
    assert "Bonding Mode: fault-tolerance (active-backup)" in text and slaves(text) == ["m1", "m2"], text
    inet = {name: [a["local"] for a in entry.get("addr_info", []) if a["family"] == "inet"] for name, entry in booted.items()}
    assert inet[BOND] == ["192.0.2.1"] and inet["m1"] == [], "the address is not on the bond alone after boot"
    assert booted[BOND]["ifalias"] == "netfabric:netfabric" and booted[BOND]["mtu"] == booted["m1"]["mtu"] == booted["m2"]["mtu"] == 1600
    assert "UP" in booted[BOND]["flags"] and booted[f"{BOND}.100"]["link"] == BOND and "UP" in booted[f"{BOND}.100"]["flags"]
    assert (tmp_path / "ping.out").exists(), "no ping through the bond the boot script made"

    assert sh("ip", "-n", HOST, "link", "show", "dev", BOND, check=False) == "", "teardown left the bond"
    for member in ("m1", "m2"):
        entry = link(member)
        assert "UP" in entry["flags"] and "master" not in entry, entry
    assert [a["local"] for a in link("m1")["addr_info"] if a["family"] == "inet"] == ["192.0.2.1"], "the address is not back on m1"
    assert ping_within(10), "no ping over m1 after teardown"
