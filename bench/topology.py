#!/usr/bin/env python3
"""How long validation and planning take, from small fabrics up to 1,000 hosts and 4,000 tenants.

    python bench/topology.py                 # pure Python: build, plan every host, filter calls
    python bench/topology.py --ansible 200   # also a real ansible-playbook over 200 hypervisors

Each tenant has VMs on 3 hosts spread over the fabric (so 4,000 tenants on 1,000 hosts put about
12 tenants on each host). Each case runs in its own Python process, so its peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`: interpreter, inventory and plan together) is its
own. Goal at 1,000 hosts x 4,000 tenants: under 2 s and 500 MB. Nothing is asserted; numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".cache" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "netfabric" / "ovs"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(REPO, target_is_directory=True)
sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.netfabric.ovs.plugins.filter import fabric as filters  # noqa: E402
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan  # noqa: E402

SIZES = [(3, 2), (10, 20), (100, 400), (1000, 4000)]
VARIANTS = [("vxlan", "learning"), ("vxlan", "l2pop"), ("gre", "learning")]


def inventory(n_hosts: int, n_tenants: int, *, per_tenant: int = 3, overlay: str = "vxlan", mode: str = "learning"):
    names = [f"hv{i:04d}" for i in range(n_hosts)]
    hosts = {
        name: {
            "netfabric_underlay_ip": f"172.16.{i // 250}.{i % 250 + 1}/16",
            "netfabric_uplink": "eth0",
            "netfabric_datapath_type": "netdev",
            "netfabric_provider_vlans": [100],
            "netfabric_ports": [],
        }
        for i, name in enumerate(names)
    }
    tenants = []
    spread = random.Random(n_hosts * 7919 + n_tenants)  # fixed seed: the same fabric every run
    for t in range(n_tenants):
        tenants.append({"name": f"tenant{t}", "tunnel_id": 5000 + t, "subnets": ["10.0.0.0/16"]})
        for k, index in enumerate(spread.sample(range(n_hosts), min(per_tenant, n_hosts))):
            host = names[index]
            hosts[host]["netfabric_ports"].append(
                {
                    "name": f"vm{t}-{k}",
                    "tenant": f"tenant{t}",
                    "mac": f"52:54:{t >> 8:02x}:{t & 255:02x}:00:{k:02x}",
                    "ip": f"10.0.{k}.{t % 250 + 1}",
                }
            )
    fabric = {"netfabric_tenants": tenants, "netfabric_overlay": overlay, "netfabric_mode": mode}
    return hosts, fabric


def clock(func, *args):
    """CPU seconds of this process: the machine is shared, so wall time would measure the neighbours."""
    start = time.process_time()
    result = func(*args)
    return result, time.process_time() - start


def wall(func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def plan_every_host(topology):
    """Plan hosts one by one, keeping only counts, as one host_plan call per host would."""
    tunnels = flows = 0
    for name in topology.fabric.hosts:
        host_plan = plan.host_plan(topology, name)
        tunnels += len(host_plan["tunnels"])
        flows += len(host_plan["flows"]["br-tun"])
    return tunnels, flows


def one_case(n_hosts: int, n_tenants: int, overlay: str, mode: str) -> dict:
    """Time one case in this process; peak RSS is this process's, so run each case in its own."""
    hosts, fabric = inventory(n_hosts, n_tenants, overlay=overlay, mode=mode)
    rss_inventory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    topology, t_build = clock(plan.build, hosts, fabric)
    (tunnels, flows), t_plan = clock(plan_every_host, topology)
    # The filter path: read vars from hostvars, hash them, memo lookup, plan one host.
    hostvars = {name: {**hv, **fabric} for name, hv in hosts.items()}
    names = list(hosts)
    filters._MEMO.clear()
    _, t_first = clock(filters.host_plan, hostvars, names[0], names)
    _, t_warm = clock(filters.host_plan, hostvars, names[-1], names)
    # What the netfabric role calls once per play: every host's plan, all held in memory at once.
    filters._MEMO.clear()
    every, t_fabric = clock(filters.fabric_plan, hostvars, names)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del every
    return {"hosts": n_hosts, "tenants": n_tenants, "overlay": overlay, "mode": mode, "build_s": t_build, "plan_s": t_plan,
            "tunnels": tunnels, "flows": flows, "filter_first_s": t_first, "filter_warm_s": t_warm, "fabric_plan_s": t_fabric,
            "peak_rss_mb": peak / 1024, "inventory_rss_mb": rss_inventory / 1024}


def pure_python():
    print("CPU seconds (time.process_time), excluding the time to generate the inventory. fabric_plan: the filter the")
    print("netfabric role calls once per play (every host's plan, held at once). Peak RSS: the case's own process, all")
    print("of it included; (inventory): its RSS once the inventory was generated, before any planning.")
    print(
        f"{'hosts':>5} {'tenants':>7} {'overlay':>7} {'mode':>8} | {'validate+topology':>17} {'plan all hosts':>14} "
        f"{'total':>7} | {'tunnels':>7} {'flows':>8} | {'filter 1st call':>15} {'filter warm call':>16} | "
        f"{'fabric_plan':>11} | {'peak RSS':>9} {'(inventory)':>11}"
    )
    for n_hosts, n_tenants in SIZES:
        for overlay, mode in VARIANTS:
            argv = [sys.executable, __file__, "--case", f"{n_hosts},{n_tenants},{overlay},{mode}"]
            r = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
            print(
                f"{n_hosts:>5} {n_tenants:>7} {overlay:>7} {mode:>8} | {r['build_s']:>16.3f}s {r['plan_s']:>13.3f}s "
                f"{r['build_s'] + r['plan_s']:>6.3f}s | {r['tunnels']:>7} {r['flows']:>8} | {r['filter_first_s']:>14.3f}s "
                f"{r['filter_warm_s']:>15.4f}s | {r['fabric_plan_s']:>10.3f}s | {r['peak_rss_mb']:>5.0f} MiB {r['inventory_rss_mb']:>7.0f} MiB",
                flush=True,
            )


PLAYBOOK = """
- name: One host_plan per hypervisor
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: host_plan
      ansible.builtin.set_fact:
        __plan: "{{ hostvars | netfabric.ovs.host_plan(inventory_hostname, groups['hypervisors']) }}"
      tags: [host_plan]

- name: One fabric_plan for the play
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: fabric_plan once
      ansible.builtin.set_fact:
        __fabric: "{{ hostvars | netfabric.ovs.fabric_plan(groups['hypervisors']) }}"
      run_once: true
      tags: [fabric_plan]
    - name: index it
      ansible.builtin.set_fact:
        __plan: "{{ __fabric[inventory_hostname] }}"
      tags: [fabric_plan]
"""


def through_ansible(n_hosts: int):
    """Real ansible-playbook runs: host_plan in every host's task versus fabric_plan once."""
    hosts, fabric = inventory(n_hosts, n_hosts * 4)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    doc = {"all": {"children": {"hypervisors": {"hosts": {n: {**hv, **local} for n, hv in hosts.items()}, "vars": fabric}}}}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inventory.json").write_text(json.dumps(doc))
        (Path(tmp) / "site.yml").write_text(PLAYBOOK)
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_FORKS": "5"}
        for tag in ("host_plan", "fabric_plan"):
            argv = [
                str(Path(sys.executable).with_name("ansible-playbook")),
                "-i",
                str(Path(tmp) / "inventory.json"),
                str(Path(tmp) / "site.yml"),
                "--tags",
                tag,
            ]
            result, seconds = wall(subprocess.run, argv, capture_output=True, text=True, env=env, check=False)
            status = "ok" if result.returncode == 0 else f"rc={result.returncode}"
            print(f"ansible-playbook, {n_hosts} hypervisors, {n_hosts * 4} tenants, {tag:>11}: {seconds:7.1f}s wall ({status})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ansible", type=int, metavar="HOSTS", help="also time real ansible-playbook runs")
    parser.add_argument("--case", metavar="HOSTS,TENANTS,OVERLAY,MODE", help="one case, as JSON (what each row runs in its own process)")
    args = parser.parse_args()
    if args.case:
        n_hosts, n_tenants, overlay, mode = args.case.split(",")
        print(json.dumps(one_case(int(n_hosts), int(n_tenants), overlay, mode)))
        return
    pure_python()
    if args.ansible:
        through_ansible(args.ansible)


if __name__ == "__main__":
    main()
