"""Bad input against real iproute2 and Open vSwitch, property-based (hypothesis), and the flows
restore file's order (written only after the switch took the bundle).

Each drawn case runs the module through ansible-playbook in a hypervisor namespace, several tasks per
playbook to keep the count affordable. Every task is either refused with a message naming the field
while the host stays byte-identical (`ip -j link`, `ovs-vsctl show`, dump-flows), or applied, and a
rerun of the same tasks changes nothing.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import yaml
from conftest import REPO, ansible_bin, ansible_env, run_module
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# A few dozen cases in all: each costs two ansible-playbook runs.
REAL = settings(max_examples=4, deadline=None, database=None, derandomize=True, phases=(Phase.explicit, Phase.generate),  # no shrinking: too slow here
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NASTY = ["#", "--", "-", '"', "'", "\\", " ", "\n", "\x00", ":", "/", "%", "$", ",", "@", "+", ".", "_", "\u00e9", "\u00a0"]
names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_.+@-]{0,12}", fullmatch=True),
    st.lists(st.sampled_from(list("abcxyz0123456789-") + NASTY), min_size=1, max_size=16).map("".join),
    st.sampled_from(["--", "-x", "en#1", "tap-" + "\u00e9" * 9, "tap-\u00e9", "a\x00b", "123", "a'b", 'a"b']),
)


_unique = itertools.count(1)  # peers and cookies never reused across the examples on one hypervisor


def run_tasks(host, tasks):
    """Run [(module, args), ...] on `host` in one ansible-playbook; the list of results."""
    with tempfile.TemporaryDirectory(prefix="nf-run-") as tmp:
        out = Path(tmp) / "results.json"
        play = [{
            "hosts": "target",
            "gather_facts": False,
            "tasks": [{"name": f"case {n}", f"netfabric.ovs.{module}": args, "register": f"r{n}", "ignore_errors": True}
                      for n, (module, args) in enumerate(tasks)] + [
                {"name": "save", "ansible.builtin.copy": {"content": "{{ [" + ",".join(f"r{n}" for n in range(len(tasks))) + "] | to_json }}",
                                                          "dest": str(out)}}],
        }]
        (Path(tmp) / "play.yml").write_text(yaml.safe_dump(play))
        argv = [ansible_bin("ansible-playbook"), "-i", "target,", "-c", "local",
                "-e", f"ansible_python_interpreter={host.python}", str(Path(tmp) / "play.yml")]
        proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), check=False)
        if not out.exists():
            raise AssertionError(f"ansible-playbook did not run:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(out.read_text())


def snapshot(hv):
    links = json.loads(hv.exec("ip", "-j", "link", "show"))
    return ({e["ifname"]: (e["flags"], e["mtu"], e.get("master"), e.get("link")) for e in links},
            hv.vsctl("show"), hv.ofctl("-O", "OpenFlow14", "dump-flows", "br0", "--no-stats") if "br0" in hv.vsctl("list-br") else "")


def check_refused_or_idempotent(hv, tasks, fields, untouched):
    """Refused tasks name their field and leave no trace (`untouched(args)`); the accepted ones
    converge: a rerun changes nothing. When all are refused the host is byte-identical."""
    before = snapshot(hv)
    results = run_tasks(hv, tasks)
    accepted = []
    for (module, args), result in zip(tasks, results):
        assert "Traceback" not in json.dumps(result), result
        if result.get("failed"):
            assert result["msg"].startswith(fields), (args, result["msg"])
            assert untouched(args), (args, result["msg"])
        else:
            accepted.append((module, args))
    if not accepted:
        assert snapshot(hv) == before, "a refused task changed the host"
        return 0
    for (_module, args), result in zip(accepted, run_tasks(hv, accepted)):
        assert not result.get("failed") and result["changed"] is False, (args, result)
    return len(accepted)


def link_names(hv):
    return {e["ifname"] for e in json.loads(hv.exec("ip", "-j", "link", "show"))}


@REAL
@given(st.lists(names, min_size=4, max_size=6, unique=True))
def test_ip_link_names_refused_untouched_or_applied_once(hv, drawn):
    tasks = [("ip_link", {"name": name, "kind": "veth", "peer": f"peer{next(_unique)}", "state": "up"}) for name in drawn]
    check_refused_or_idempotent(hv, tasks, "name: ", lambda args: args["peer"] not in link_names(hv))
    # the same names as a parent and as an address's device, where '#' used to cut the `ip -batch` line
    missing = [name for name in drawn if name not in link_names(hv)]
    tasks = [("ip_link", {"name": f"mv{next(_unique)}", "kind": "macvlan", "link": name}) for name in missing]
    tasks += [("ip_address", {"dev": name, "addresses": ["192.0.2.1/24"]}) for name in missing]
    before = snapshot(hv)
    for (module, _args), result in zip(tasks, run_tasks(hv, tasks)):
        assert result.get("failed") and result["msg"].startswith("link: " if module == "ip_link" else "dev: "), result
    assert snapshot(hv) == before


@REAL
@given(st.lists(names, min_size=3, max_size=5, unique=True), names)
def test_ovs_port_and_bridge_names_refused_untouched_or_applied_once(hv, drawn, bridge):
    hv.vsctl("--may-exist", "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
    check_refused_or_idempotent(hv, [("ovs_bridge", {"name": bridge, "owner": "nf-prop", "datapath_type": "netdev"})], "name: ",
                                lambda args: args["name"] not in hv.vsctl("list-br").split())
    tasks = [("ovs_port", {"bridge": "br0", "name": name, "type": "internal", "owner": "nf-prop"}) for name in drawn]
    check_refused_or_idempotent(hv, tasks, "name: ", lambda args: args["name"] not in hv.vsctl("list-ports", "br0").split())


MATCHES = ["in_port=LOCAL", "dl_vlan=5", "ip", "arp", "tcp,tp_dst=80", "nw_src=10.0.0.0/24", "dl_src=52:54:00:00:00:01", "reg1=3",
           "priority=7"]
ACTIONS = ["drop", "normal", "resubmit(,1)", "mod_vlan_vid:5", "strip_vlan", "set_field:1->reg1", "LOCAL"]
INJECT = ["\n", "#", "\x00", "\nflow delete cookie=0/0", " # x", "\r"]


@st.composite
def flow_lists(draw, table):
    """Flows of one owner in a table of its own: owners sharing a table, priority and match replace
    each other's flow (OpenFlow keeps one), so a rerun would change again."""
    flows = []
    for _flow in range(draw(st.integers(1, 3))):
        match = draw(st.lists(st.sampled_from(MATCHES), max_size=3, unique=True))
        text = ",".join([f"table={table}"] + match + ["actions=" + draw(st.sampled_from(ACTIONS))])
        if draw(st.booleans()):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(INJECT)) + text[at:]
        flows.append(text)
    return flows


@REAL
@given(st.tuples(flow_lists(10), flow_lists(11), flow_lists(12), flow_lists(13)))
def test_ovs_flows_refused_untouched_or_applied_once(hv, drawn):
    hv.vsctl("--may-exist", "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
    hv.ofctl("add-flow", "br0", "cookie=0x99,priority=1,actions=drop")  # another owner's flow, never touched
    tasks = [("ovs_flows", {"bridge": "br0", "cookie": 0x1000 + next(_unique), "flows": flows, "rundir": str(hv.dir)}) for flows in drawn]

    def untouched(args):
        return not hv.ofctl("dump-flows", "br0", f"cookie={args['cookie']:#x}/-1", "--no-stats").strip().count("cookie=")

    # refused by the module (the field named) or by the switch (the bundle is all or nothing)
    check_refused_or_idempotent(hv, tasks, ("flows[", "the flow bundle failed and nothing was applied"), untouched)
    assert "cookie=0x99" in hv.ofctl("dump-flows", "br0")


# ---------------------------------------------------------------- the restore file (section 2)

GOOD = ["table=0,priority=5,dl_vlan=5,actions=drop", "table=0,priority=6,arp,actions=normal"]


def test_restore_file_is_written_only_after_the_switch_took_the_bundle(hv, tmp_path):
    hv.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
    restore = tmp_path / "state" / "flows" / "br0.flows"
    args = {"bridge": "br0", "cookie": 0x7, "rundir": str(hv.dir), "restore_file": str(restore)}
    flows_before = hv.ofctl("-O", "OpenFlow14", "dump-flows", "br0", "--no-stats")

    r = run_module(hv, "ovs_flows", {**args, "flows": GOOD + ["table=0,priority=7,in_port=no-such-port,actions=drop"]})
    assert r.get("failed") and "nothing was applied" in r["msg"], r
    assert not restore.exists(), "a restore file holds flows the switch refused"
    assert hv.ofctl("-O", "OpenFlow14", "dump-flows", "br0", "--no-stats") == flows_before

    r = run_module(hv, "ovs_flows", {**args, "flows": GOOD})
    assert r["changed"] and not r.get("failed"), r
    assert restore.read_text().splitlines()[0] == "flow delete cookie=0x7/-1"
    assert len(restore.read_text().splitlines()) == 3
    assert stat.S_IMODE(restore.stat().st_mode) == 0o600
    assert stat.S_IMODE(restore.parent.stat().st_mode) == 0o700
    assert not [p for p in restore.parent.iterdir() if p.name != "br0.flows"], "a temporary file was left behind"
    assert run_module(hv, "ovs_flows", {**args, "flows": GOOD})["changed"] is False

    # a refused change leaves the file as it was, with the flows the switch still has
    content = restore.read_text()
    r = run_module(hv, "ovs_flows", {**args, "flows": ["table=0,priority=9,in_port=no-such-port,actions=drop"]})
    assert r.get("failed") and restore.read_text() == content

    r = run_module(hv, "ovs_flows", {**args, "state": "absent"})
    assert r["changed"] and not r.get("failed"), r
    assert not restore.exists(), "state absent left the restore file for the next restart to replay"
    assert run_module(hv, "ovs_flows", {**args, "state": "absent"})["changed"] is False


# ---------------------------------------------------------------- the state directory (tenants role)

def run_tenants_role(hv, state_dir):
    with tempfile.TemporaryDirectory(prefix="nf-run-") as tmp:
        play = [{"hosts": "target", "gather_facts": False,
                 "roles": [{"role": "netfabric.ovs.tenants", "tenants_state_dir": str(state_dir), "tenants_systemd_unit": False,
                            "tenants_ports": [], "tenants_flows": {}, "tenants_verify_ports": [], "tenants_ovs_db": ""}]}]
        (Path(tmp) / "play.yml").write_text(yaml.safe_dump(play))
        argv = [ansible_bin("ansible-playbook"), "-i", "target,", "-c", "local",
                "-e", f"ansible_python_interpreter={hv.python}", str(Path(tmp) / "play.yml")]
        return subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), check=False, cwd=REPO)


def test_tenants_role_makes_the_state_dir_roots_alone_and_refuses_one_others_can_write(hv, tmp_path):
    fresh = tmp_path / "fresh" / "netfabric"
    proc = run_tenants_role(hv, fresh)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in (fresh, fresh / "flows"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700 and path.stat().st_uid == 0
    assert (fresh / "restore-flows").exists()

    for mode, owner in ((0o777, 0), (0o775, 0), (0o755, 65534)):
        shared = tmp_path / f"shared-{mode:o}-{owner}"
        shared.mkdir()
        os.chmod(shared, mode)
        os.chown(shared, owner, -1)
        proc = run_tenants_role(hv, shared)
        assert proc.returncode != 0
        assert f"tenants_state_dir: {shared} is" in proc.stdout, proc.stdout
        assert list(shared.iterdir()) == [], "files were written into a directory others can write to"
