#!/usr/bin/env python3
"""Does `site` stay flat per host as the fabric grows? Wall time, controller memory, real pings.

For each size N: N netdev hypervisors in namespaces (lab/fabric.py), hosts paired in a ring
(hv1-hv2, hv2-hv3, ..., hvN-hv1), two tenants per pair on the same subnet with the same
addresses, a VM of each on both hosts of its pair (4 VMs and 2 VXLAN peers per host whatever N
is). `playbooks/site.yml` converges it on empty hosts, then a rerun must change nothing. At the
largest size, real pings prove every tenant reaches its own VMs and never the other tenants'.
It prints numbers; nothing about time is asserted. `load` is the machine's 1-minute load average
when the size finished: on a shared machine it says how much of the time was other work.

    python3 bench/scale.py --sizes 5,10,20 [--forks 5,10] [--json]

Controller memory, two ways, both over every ansible-playbook run (main process and workers;
the modules run "on the hypervisors" and are left out):
- peak RSS: `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper process that only runs
  ansible-playbook: the largest single process, in MiB;
- peak PSS: the sum of `Pss` (`/proc/PID/smaps_rollup`, shared pages split between the processes
  sharing them) over the ansible-playbook process tree in the controller's own network namespace,
  sampled every 0.25 s: what the whole controller costs, forks included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402  (the shared lab, not an installed package)
import netns  # noqa: E402

PREFIX = os.environ.get("NETFABRIC_BENCH_PREFIX", "nfbscale")  # a lab prefix no test session cleans
WORK = REPO / ".cache" / "bench" / "scale"
SAMPLE = 0.25  # seconds between /proc samples

# Runs ansible-playbook and reports, on its last stderr line, the largest RSS of any process it waited for.
WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "sys.stderr.write('\\nMAXRSS_KIB %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


def inventory(size: int) -> tuple[Path, list[tuple[str, str]], list[tuple[str, str]]]:
    """The ring-paired inventory, the VM pairs that must reach each other and those that must not."""
    folder = WORK / f"inventory-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "group_vars").mkdir(parents=True)
    hosts = {f"hv{h}": {"netfabric_underlay_ip": f"172.31.0.{h}/24", "netfabric_ports": []} for h in range(1, size + 1)}
    tenants, reach, apart = [], [], []
    for p in range(1, size + 1):
        ends = (f"hv{p}", f"hv{p % size + 1}")
        names = {}
        for t, side in enumerate("ab"):
            tenant = f"p{p}{side}"
            tenants.append({"name": tenant, "tunnel_id": 2000 + 2 * p + t, "subnets": ["10.0.0.0/24"]})
            for end, host in enumerate(ends):
                port = f"vm{p}{side}-{end + 1}"
                names[(side, end)] = port
                hosts[host]["netfabric_ports"].append(
                    {"name": port, "tenant": tenant, "mac": f"52:54:{p // 256:02x}:{p % 256:02x}:0{t}:0{end + 1}",
                     "ip": f"10.0.0.{end + 1}/24"})
        reach += [(names[("a", 0)], names[("a", 1)]), (names[("b", 1)], names[("b", 0)])]
        # Same address, other tenant, across the tunnel and on the same host's br-int.
        apart += [(names[("a", 0)], names[("b", 1)]), (names[("b", 0)], names[("a", 1)])]
    for p in range(1, size + 1):  # hv(p+1) carries pair p's .2 VMs and pair p+1's .1 VMs
        nxt = p % size + 1
        apart.append((f"vm{p}a-2", f"vm{nxt}a-1"))
    (folder / "hosts.yml").write_text(yaml.safe_dump({"hypervisors": {"hosts": hosts}}))
    group = {
        "netfabric_overlay": "vxlan", "netfabric_mode": "learning", "netfabric_uplink": "uplink",
        "netfabric_datapath_type": "netdev", "netfabric_underlay_mtu": 1500, "netfabric_tenant_mtu": 1400,
        "netfabric_tenants": tenants,
    }
    (folder / "group_vars" / "hypervisors.yml").write_text(yaml.safe_dump(group))
    return folder, reach, apart


def tree(root: int) -> list[int]:
    """root and its descendants."""
    return [root] + netns.descendants(root)


def controller_pss_kib(root: int, own_netns: str) -> int:
    """Sum of Pss over root's tree, counting only processes in the controller's network namespace."""
    total = 0
    for pid in tree(root):
        try:
            if os.readlink(f"/proc/{pid}/ns/net") != own_netns:
                continue  # a module running on a hypervisor
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total


def play(argv: list[str], log: Path, forks: int) -> dict:
    """One ansible-playbook run: wall seconds, recap, peak RSS and peak controller PSS."""
    env = dict(os.environ, ANSIBLE_FORKS=str(forks), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(WORK / "ansible-home"), ANSIBLE_LOCAL_TEMP=str(WORK / "ansible-home" / "tmp"))
    own_netns = os.readlink("/proc/self/ns/net")
    peak = [0]
    with open(log, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *argv], stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        done = threading.Event()

        def sample():
            while not done.wait(SAMPLE):
                peak[0] = max(peak[0], controller_pss_kib(proc.pid, own_netns))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stderr = proc.communicate()[1]
        elapsed = time.monotonic() - start
        done.set()
        sampler.join()
    stdout = log.read_text()
    with open(log, "a") as out:
        out.write(stderr)
    if proc.returncode != 0:
        sys.exit(f"bench/scale.py: ansible-playbook failed (rc={proc.returncode}), see {log}")
    maxrss = int(stderr.rsplit("MAXRSS_KIB", 1)[1].split()[0])
    recap = {}
    for line in stdout.split("PLAY RECAP")[-1].splitlines()[1:]:
        if ":" in line:
            host, counters = line.split(":", 1)
            recap[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in counters.split())}
    return {"seconds": elapsed, "recap": recap, "maxrss_mib": maxrss / 1024, "pss_mib": peak[0] / 1024}


def pings(example: Path, reach: list, apart: list) -> dict:
    """Real pings between VM namespaces (fabric.ping: the target itself must answer, by its MAC)."""
    vms = {vm["name"]: vm for vm in fabric.vms(example)}
    reached = [(s, t) for s, t in reach if fabric.ping(PREFIX, vms[s], vms[t])]
    leaked = [(s, t) for s, t in apart if fabric.ping(PREFIX, vms[s], vms[t])]
    return {"same_tenant": len(reach), "same_tenant_reached": len(reached), "missed": [f"{s}->{t}" for s, t in reach if (s, t) not in reached],
            "other_tenant": len(apart), "other_tenant_reached": len(leaked), "leaked": [f"{s}->{t}" for s, t in leaked]}


def measure(size: int, forks: int, prove: bool) -> dict:
    example, reach, apart = inventory(size)
    start = time.monotonic()
    lab = fabric.up(PREFIX, example)
    built = time.monotonic() - start
    try:
        argv = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(example), "-i", str(lab), str(REPO / "playbooks" / "site.yml")]
        first = play(argv, WORK / f"site-{size}-f{forks}-first.log", forks)
        rerun = play(argv, WORK / f"site-{size}-f{forks}-rerun.log", forks)
        proof = pings(example, reach, apart) if prove else None
    finally:
        netns.down(PREFIX)
    return {
        "hosts": size, "forks": min(forks, size), "vms": len(fabric.vms(example)),
        "lab_build_s": round(built, 1),
        "first_s": round(first["seconds"], 1), "first_per_host_s": round(first["seconds"] / size, 2),
        "rerun_s": round(rerun["seconds"], 1), "rerun_per_host_s": round(rerun["seconds"] / size, 2),
        "first_changed": sum(c["changed"] for c in first["recap"].values()),
        "rerun_changed": sum(c["changed"] for c in rerun["recap"].values()),
        "peak_rss_mib": round(max(first["maxrss_mib"], rerun["maxrss_mib"]), 1),
        "peak_pss_mib": round(max(first["pss_mib"], rerun["pss_mib"]), 1),
        "pings": proof, "load_1min": round(os.getloadavg()[0], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5,10,20")
    parser.add_argument("--forks", default="5", help="comma-separated; each forks value is measured at every size on a fresh lab")
    parser.add_argument("--prove-at", type=int, help="size at which real pings prove reachability (default: the largest)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    forks_values = [int(f) for f in args.forks.split(",")]
    prove_at = args.prove_at or max(sizes)
    WORK.mkdir(parents=True, exist_ok=True)
    netns.down(PREFIX)
    results = []
    header = ("hosts  VMs  forks  1st run s  s/host  rerun s  s/host  1st changed  rerun changed  "
              "peak RSS MiB (ru_maxrss)  peak PSS MiB (/proc)  load")
    if not args.json:
        print(header, flush=True)
    for size in sizes:
        measured = set()
        for forks in forks_values:
            if min(forks, size) in measured:
                continue  # Ansible never runs more workers than hosts: the same run again
            measured.add(min(forks, size))
            r = measure(size, forks, prove=size == prove_at and forks == forks_values[0])
            results.append(r)
            if not args.json:
                print(f"{r['hosts']:>5}  {r['vms']:>3}  {r['forks']:>5}  {r['first_s']:>9}  {r['first_per_host_s']:>6}  {r['rerun_s']:>7}  "
                      f"{r['rerun_per_host_s']:>6}  {r['first_changed']:>11}  {r['rerun_changed']:>13}  "
                      f"{r['peak_rss_mib']:>24}  {r['peak_pss_mib']:>20}  {r['load_1min']:>4}", flush=True)
    ok = True
    for r in results:
        proof = r["pings"]
        if proof is None:
            continue
        ok = proof["same_tenant_reached"] == proof["same_tenant"] and proof["other_tenant_reached"] == 0
        if not args.json:
            print(f"reachability at {r['hosts']} hosts (real pings, the target's own MAC resolved): "
                  f"same tenant {proof['same_tenant_reached']}/{proof['same_tenant']} reached, "
                  f"other tenant on the same address {proof['other_tenant_reached']}/{proof['other_tenant']} reached"
                  + ("" if ok else f"; MISSED {proof['missed']} LEAKED {proof['leaked']}"))
    if args.json:
        print(json.dumps(results, indent=2))
    if any(r["rerun_changed"] for r in results):
        print("WARNING: a rerun changed something")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
