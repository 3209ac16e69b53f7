#!/usr/bin/env python3
"""How long does the site playbook take on a namespace fabric, next to the Ansible floor?

For each size N: N netdev hypervisors in namespaces (lab/fabric.py), two tenants (red on VXLAN,
blue on VXLAN) with one VM of each on every host, converged by `playbooks/site.yml` twice (a
first run on empty hosts, then a rerun that must change nothing), and a one-task playbook
(`ansible.builtin.ping` over the same inventory: what any play costs before it does work). Prints
seconds, tasks per host, the owned flows per bridge of one host, and the ratios to the floor.
It prints numbers; it is not a test.

Tasks per host are read from the PLAY RECAP: the most any host ran, counting every task that ran
on it (`ok`, which includes `changed`; a `run_once` task counts on the one host it ran on, an
include counts as a task). Skipped tasks (a `when` that was false, a loop over an empty list) are
shown apart, after a `+`: Ansible still evaluates them per host, but they run no module.

    python3 bench/site.py --sizes 3,4 [--vms 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)
import netns  # noqa: E402

PREFIX = os.environ.get("NETFABRIC_TEST_PREFIX", "nfbsite")  # a lab of its own, cleaned by prefix
WORK = REPO / ".cache" / "bench" / "site"
COOKIE = "cookie=0x4e46"


def inventory(size: int, vms: int) -> Path:
    """An example-shaped inventory: N hosts, red and blue, `vms` VMs of each tenant per host."""
    folder = WORK / f"inventory-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "group_vars").mkdir(parents=True)
    hosts = {}
    for h in range(1, size + 1):
        ports = []
        for t, tenant in enumerate(("red", "blue"), start=1):
            for v in range(vms):
                index = h * 10 + v
                ports.append({"name": f"tap-{tenant}-{index}", "tenant": tenant, "mac": f"52:54:00:0{t}:{index // 256:02x}:{index % 256:02x}",
                              "ip": f"10.0.{v}.{h}/16"})
        hosts[f"hv{h}"] = {"netfabric_underlay_ip": f"172.31.0.{h}/24", "netfabric_ports": ports}
    (folder / "hosts.yml").write_text(yaml.safe_dump({"hypervisors": {"hosts": hosts}}))
    group = {
        "netfabric_overlay": "vxlan", "netfabric_uplink": "uplink", "netfabric_datapath_type": "netdev",
        "netfabric_tenant_mtu": 1400, "netfabric_underlay_mtu": 1500,
        "netfabric_tenants": [{"name": "red", "tunnel_id": 1001}, {"name": "blue", "tunnel_id": 1002}],
    }
    (folder / "group_vars" / "hypervisors.yml").write_text(yaml.safe_dump(group))
    return folder


def cpu_seconds() -> float:
    """User + system time of every finished child (ansible-playbook, its workers, the modules and the
    tools they ran): on two cores a CI stage is bound by this, not by one run's wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def play(argv: list[str], log: Path) -> tuple[float, dict, float]:
    start, cpu = time.monotonic(), cpu_seconds()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed, cpu = time.monotonic() - start, cpu_seconds() - cpu
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"bench/site.py: {' '.join(argv[-1:])} failed, see {log}")
    recap = {}
    for line in proc.stdout.split("PLAY RECAP")[-1].splitlines()[1:]:
        if ":" in line:
            host, counters = line.split(":", 1)
            recap[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in counters.split())}
    return elapsed, recap, cpu


def measure(size: int, vms: int) -> dict:
    example = inventory(size, vms)
    lab = fabric.up(PREFIX, example)
    try:
        base = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(example), "-i", str(lab)]
        floor_book = WORK / "floor.yml"
        floor_book.write_text(yaml.safe_dump([{"name": "The Ansible floor", "hosts": "hypervisors", "gather_facts": False,
                                               "tasks": [{"name": "One task", "ansible.builtin.ping": None}]}]))
        floor, _, _ = play([*base, str(floor_book)], WORK / f"floor-{size}.log")
        first, first_recap, first_cpu = play([*base, str(REPO / "playbooks" / "site.yml")], WORK / f"site-first-{size}.log")
        rerun, rerun_recap, rerun_cpu = play([*base, str(REPO / "playbooks" / "site.yml")], WORK / f"site-rerun-{size}.log")
        hv1 = netns.Hypervisor(PREFIX, "hv1")
        flows = {bridge: sum(COOKIE in line for line in hv1.ofctl("-O", "OpenFlow14", "dump-flows", bridge).splitlines())
                 for bridge in ("br-int", "br-tun", "br-phy")}
    finally:
        netns.down(PREFIX)
    return {
        "hosts": size, "vms_per_host": 2 * vms, "floor_s": round(floor, 1), "first_s": round(first, 1), "rerun_s": round(rerun, 1),
        "first_cpu_s": round(first_cpu, 1), "rerun_cpu_s": round(rerun_cpu, 1),
        "first_per_floor": round(first / floor, 1), "rerun_per_floor": round(rerun / floor, 1),
        "first_tasks_per_host": tasks(first_recap), "rerun_tasks_per_host": tasks(rerun_recap),
        "first_skipped_per_host": skipped(first_recap), "rerun_skipped_per_host": skipped(rerun_recap),
        "rerun_changed": sum(c["changed"] for c in rerun_recap.values()),
        "first_changed": sum(c["changed"] for c in first_recap.values()), "owned_flows_hv1": flows,
    }


def tasks(recap: dict) -> int:
    """Tasks that ran on the busiest host (ok includes changed)."""
    return max(counts["ok"] for counts in recap.values())


def skipped(recap: dict) -> int:
    return max(counts.get("skipped", 0) for counts in recap.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3,4")
    parser.add_argument("--vms", type=int, default=1, help="VMs of each tenant per host")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    results = [measure(int(size), args.vms) for size in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("tasks/host: tasks that ran on the busiest host (+ skipped); the floor is one task")
    print("CPU s: user + system time of ansible-playbook and everything it ran (both cores)")
    print("hosts  VMs/host  floor s  site 1st s (x floor)  CPU s  tasks/host  rerun s (x floor)  CPU s  tasks/host  rerun changed  owned flows on hv1")
    for r in results:
        flows = ", ".join(f"{k} {v}" for k, v in r["owned_flows_hv1"].items())
        first_tasks = f"{r['first_tasks_per_host']} +{r['first_skipped_per_host']}"
        rerun_tasks = f"{r['rerun_tasks_per_host']} +{r['rerun_skipped_per_host']}"
        print(f"{r['hosts']:>5}  {r['vms_per_host']:>8}  {r['floor_s']:>7}  {r['first_s']:>9} ({r['first_per_floor']:>4})  {r['first_cpu_s']:>5}"
              f"  {first_tasks:>10}  {r['rerun_s']:>8} ({r['rerun_per_floor']:>4})  {r['rerun_cpu_s']:>5}  {rerun_tasks:>10}"
              f"  {r['rerun_changed']:>13}  {flows}")
    if any(r["rerun_changed"] for r in results):
        print("WARNING: a rerun changed something")


if __name__ == "__main__":
    main()
