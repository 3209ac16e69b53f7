"""Two runs against the same hosts at the same time end in a state a single run would leave.

What an operator sees when two pipelines (or an AWX job and a person) converge the same fabric at
once: both runs succeed, every host's owned flows are exactly what its restore files bring back
after a restart, every declared port is on br-int, and a rerun changes nothing. At module level:
ovs_ports adding ports to a bridge while another call purges it ends as one call after the other
would have left it, never with a failed call.
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from conftest import REPO, run_module
from playrun import Run, assert_consistent
from test_site import assert_isolated_tenants

ROUNDS = 12


def test_two_site_runs_at_once_on_new_hosts(lab_factory):
    lab = lab_factory("vxlan")
    runs = [Run(lab.playbook_argv()), Run(lab.playbook_argv())]
    codes = [run.wait() for run in runs]
    assert codes == [0, 0], "\n\n".join(run.failures() for run in runs)
    assert_consistent(lab)
    rerun = lab.playbook()
    assert all(counts["changed"] == 0 for counts in rerun.values()), rerun
    assert_isolated_tenants(lab)


def test_two_runs_that_want_different_flows_leave_the_switch_and_restore_files_agreeing(lab_factory):
    """Learning and l2pop pipelines raced on a converged fabric: one of them may fail its own
    verification (the other's flows won), but no host may hold one run's flows and the other's
    restore file, and a run of either inventory afterwards converges."""
    lab = lab_factory("vxlan")
    lab.playbook()
    l2pop = lab.example.parent / "inventory-l2pop"
    subprocess.run(["cp", "-r", str(lab.example), str(l2pop)], check=True)
    group = l2pop / "group_vars" / "hypervisors.yml"
    group.write_text(yaml.safe_dump(dict(yaml.safe_load(group.read_text()), netfabric_mode="l2pop")))
    argv = lab.playbook_argv()
    runs = [Run(argv), Run([argv[0], "-i", str(l2pop), *argv[3:]])]
    codes = [run.wait() for run in runs]
    print(f"learning run rc={codes[0]}, l2pop run rc={codes[1]}\n" + "\n".join(run.failures() for run in runs))
    assert_consistent(lab)
    lab.playbook()
    assert_consistent(lab)
    rerun = lab.playbook()
    assert all(counts["changed"] == 0 for counts in rerun.values()), rerun
    assert_isolated_tenants(lab)


def ports_call(hv, args):
    """Start one ovs_ports call on the host now, as Ansible's module wrapper runs it (argument file
    in ANSIBLE_MODULE_ARGS), without the seconds of controller start-up that would keep two
    calls from ever overlapping."""
    path = hv.dir / f"args-{len(list(hv.dir.glob('args-*')))}.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(hv.env, PYTHONPATH=str(REPO / ".cache" / "collections"))
    return subprocess.Popen(["ip", "netns", "exec", hv.netns, sys.executable, "-m",
                             "ansible_collections.netfabric.ovs.plugins.modules.ovs_ports", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def result(proc):
    out, err = proc.communicate(timeout=120)
    try:
        return json.loads(out)
    except ValueError:
        return {"failed": True, "msg": f"no JSON from the module (rc={proc.returncode}): {out[-2000:]}{err[-2000:]}"}


def ports_and_tags(hv, bridge):
    table = json.loads(hv.vsctl("--format=json", "--columns=name,tag,external_ids", "list", "Port"))
    on_bridge = set(hv.vsctl("list-ports", bridge).split())
    return {name: tag for name, tag, _ids in table["data"] if name in on_bridge}


def test_ovs_ports_adding_to_a_bridge_while_a_purge_empties_it(hv):
    hv.vsctl("add-br", "br-race", "--", "set", "Bridge", "br-race", "datapath_type=netdev")
    names = ["race-1", "race-2", "race-3"]

    def wanted(tag):
        return {"bridge": "br-race", "owner": "racer", "ports": [{"name": n, "type": "internal", "tag": tag} for n in names]}

    purge = {"bridge": "br-race", "owner": "racer", "ports": [], "purge": True}
    outcomes = []
    for round_ in range(1, ROUNDS + 1):
        before = result(ports_call(hv, wanted(round_)))
        assert not before.get("failed"), before
        retag, empty = ports_call(hv, wanted(100 + round_)), ports_call(hv, purge)
        retagged, emptied = result(retag), result(empty)
        assert not retagged.get("failed") and not emptied.get("failed"), (
            f"round {round_}: retag {retagged.get('msg')!r}, purge {emptied.get('msg')!r}")
        seen = ports_and_tags(hv, "br-race")
        retag_then_purge, purge_then_retag = {}, dict.fromkeys(names, 100 + round_)
        assert seen in (retag_then_purge, purge_then_retag), f"round {round_}: {seen}"
        assert retagged["changed"] and emptied["changed"], (retagged, emptied)
        outcomes.append("retag-then-purge" if seen == {} else "purge-then-retag")
    print(f"{ROUNDS} rounds: " + ", ".join(f"{o} x{outcomes.count(o)}" for o in sorted(set(outcomes))))
    assert run_module(hv, "ovs_ports", wanted(7))["changed"]
    assert not run_module(hv, "ovs_ports", wanted(7))["changed"]
