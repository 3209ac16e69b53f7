#!/usr/bin/env python3
"""How long does it take to converge one bridge, and how many OVS commands does it cost?

One netdev bridge with N VLAN-tagged internal ports and T VXLAN tunnel ports (key=flow,
one remote_ip each), converged three ways on a fresh lab hypervisor each:

  netfabric      this collection: one ovs_bridge task + one ovs_ports task with the whole list
  openvswitch    openvswitch.openvswitch as documented: openvswitch_port in a loop, `set:` and `tag:`
  vsctl          one hand-written ovs-vsctl transaction (the lower bound)

Each way runs twice: on an empty host, then again on the converged bridge. A shim directory first
on PATH inside the namespace logs every ovs-vsctl / ovs-ofctl call and execs the real binary.
This is a benchmark that prints numbers, not a test.

    python3 bench/converge.py --sizes 10,100 --skip openvswitch [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
import netns  # noqa: E402  (the shared lab, not an installed package)

PREFIX = "nfbench"
BRIDGE = "br-bench"
WAYS = ("netfabric", "openvswitch", "vsctl")
TOOLS = ("ovs-vsctl", "ovs-ofctl")
CACHE = REPO / ".cache"
WORK = CACHE / "bench"
OVS_VENV = CACHE / "bench-ovs-venv"
OVS_REQUIREMENTS = REPO / "bench" / "requirements-openvswitch.txt"
TEMPLATES = REPO / "bench" / "templates"
VENV_ENV = "NETFABRIC_BENCH_VENV"


# ---------------------------------------------------------------- what to converge

def wanted(size: int, tunnels: int) -> dict:
    """The bridge's ports, as plain data every way renders from."""
    access = [{"name": f"acc{i}", "tag": 100 + i} for i in range(1, size + 1)]
    # 198.18.0.0/15 is the benchmarking range (RFC 2544); the namespace has no route anywhere anyway.
    tunnel = [{"name": f"vx{i}", "remote_ip": f"198.18.{i // 250}.{i % 250 + 1}"} for i in range(1, tunnels + 1)]
    return {"access": access, "tunnels": tunnel}


def playbook_vars(spec: dict, timeout: int | None) -> dict:
    """Variables for both playbooks: the ovs_ports list and openvswitch's two loop lists."""
    ports = [{"name": p["name"], "type": "internal", "tag": p["tag"]} for p in spec["access"]]
    ports += [{"name": t["name"], "type": "vxlan", "options": {"remote_ip": t["remote_ip"], "key": "flow"}}
              for t in spec["tunnels"]]
    result = {"bench_bridge": BRIDGE, "bench_ports": ports,
              "bench_access_ports": spec["access"], "bench_tunnels": spec["tunnels"]}
    if timeout:
        result["bench_timeout"] = timeout
    return result


def vsctl_transaction(spec: dict, may_exist: bool) -> list[str]:
    """One ovs-vsctl invocation that creates the bridge and every port (argv after the binary).

    With may_exist, add-br/add-port skip what exists and every `set` rewrites its value:
    the run converges tags, types and options, never removes extra ports and reports nothing.
    """
    exist = ["--may-exist"] if may_exist else []
    argv = [*exist, "add-br", BRIDGE, "--", "set", "Bridge", BRIDGE, "datapath_type=netdev"]
    for port in spec["access"]:
        name = port["name"]
        argv += ["--", *exist, "add-port", BRIDGE, name,
                 "--", "set", "Port", name, f"tag={port['tag']}",
                 "--", "set", "Interface", name, "type=internal"]
    for tunnel in spec["tunnels"]:
        name = tunnel["name"]
        argv += ["--", *exist, "add-port", BRIDGE, name,
                 "--", "set", "Interface", name, "type=vxlan",
                 f"options:remote_ip={tunnel['remote_ip']}", "options:key=flow"]
    return argv


# ---------------------------------------------------------------- counting shim

def make_shim(directory: Path) -> Path:
    """ovs-vsctl and ovs-ofctl wrappers that append one line per call to calls.log."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "calls.log"
    for tool in TOOLS:
        real = shutil.which(tool, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        if not real:
            sys.exit(f"{tool} not found: install openvswitch-switch")
        shim = directory / tool
        shim.write_text(f"#!/bin/sh\necho {tool} >> '{log}'\nexec '{real}' \"$@\"\n")
        shim.chmod(0o755)
    return log


def count_calls(log: Path) -> dict:
    lines = log.read_text().split() if log.exists() else []
    return {tool: lines.count(tool) for tool in TOOLS}


# ---------------------------------------------------------------- controllers

def ansible_playbook_of(venv: Path) -> Path:
    path = venv / "bin" / "ansible-playbook"
    if not path.exists():
        sys.exit(f"{path} not found: make the repository's virtualenv, or point {VENV_ENV} at one")
    return path


def ensure_ovs_venv() -> Path:
    """The comparison virtualenv, made once from the pinned requirements and reused while they match."""
    stamp = OVS_VENV / "requirements.sha256"
    digest = hashlib.sha256(OVS_REQUIREMENTS.read_bytes()).hexdigest()
    if (OVS_VENV / "bin" / "ansible-playbook").exists() and stamp.exists() and stamp.read_text() == digest:
        return OVS_VENV
    log(f"installing {OVS_REQUIREMENTS.name} into {OVS_VENV.relative_to(REPO)} (once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(OVS_VENV)], check=True)
    subprocess.run([str(OVS_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "-r", str(OVS_REQUIREMENTS)], check=True)
    stamp.write_text(digest)
    return OVS_VENV


def collections_path() -> Path:
    """A directory whose ansible_collections/netfabric/ovs links to this repository."""
    root = CACHE / "collections"
    link = root / "ansible_collections" / "netfabric" / "ovs"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)
    return root


def ansible_env(shim: Path, with_collection: bool) -> dict:
    env = dict(os.environ)
    home = WORK / "ansible-home"
    env.update(
        PATH=f"{shim}:{env.get('PATH', '/usr/bin:/bin')}",
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TMP=str(home / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    env.pop("ANSIBLE_CONFIG", None)
    if with_collection:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path())
    else:
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return env


def controllers(opts, ways: set[str]) -> dict:
    """ansible-core (and openvswitch.openvswitch) versions each way ran with."""
    result = {}
    for way, venv in (("netfabric", opts.venv), ("openvswitch", OVS_VENV)):
        if way not in ways:
            continue
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", "import ansible.release as r; print(r.__version__)"],
                              capture_output=True, text=True, check=False)
        result[way] = f"ansible-core {proc.stdout.strip() or 'unknown'}"
        for manifest in venv.glob("lib/python3*/site-packages/ansible_collections/openvswitch/openvswitch/MANIFEST.json"):
            if way == "openvswitch":
                result[way] += f", openvswitch.openvswitch {json.loads(manifest.read_text())['collection_info']['version']}"
    return result


# ---------------------------------------------------------------- one run

def recap_changed(output: str) -> int | None:
    """Sum of changed= over the PLAY RECAP lines; None when there is no recap."""
    found = re.findall(r"\bok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    if not found:
        return None
    return sum(int(changed) for changed, _, _ in found)


def run_playbook(way: str, hv: netns.Hypervisor, playbook: Path, venv: Path, shim: Path, calls: Path,
                 variables: Path, limit: float, logfile: Path) -> dict:
    inventory = variables.with_name("inventory.json")
    inventory.write_text(json.dumps({"bench": {"hosts": {"hv": {
        "ansible_connection": "local", "ansible_python_interpreter": str(hv.python)}}}}))
    argv = [str(ansible_playbook_of(venv)), "-i", str(inventory), "-e", f"@{variables}", str(playbook)]
    env = ansible_env(shim, with_collection=(way == "netfabric"))
    calls.write_text("")
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=WORK, timeout=limit, check=False)
    except subprocess.TimeoutExpired as exc:
        logfile.write_text(f"timed out after {limit} s\n{exc.stdout or ''}")
        return {"error": f"timed out after {limit:.0f} s", **count_calls(calls)}
    seconds = time.monotonic() - start
    logfile.write_text(proc.stdout + proc.stderr)
    result = {"seconds": round(seconds, 2), "changed": recap_changed(proc.stdout), **count_calls(calls)}
    if proc.returncode != 0:
        tail = [line for line in (proc.stdout + proc.stderr).splitlines() if "fatal" in line or "ERROR" in line]
        result["error"] = f"ansible-playbook rc={proc.returncode}: {(tail or ['see ' + str(logfile)])[0][:300]}"
    return result


def run_vsctl(hv: netns.Hypervisor, spec: dict, may_exist: bool, shim: Path, calls: Path, logfile: Path) -> dict:
    """The hand-written transaction, through the same shim and namespace as the modules."""
    env = dict(hv.env, PATH=f"{shim}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    argv = ["ip", "netns", "exec", hv.netns, "ovs-vsctl", "--timeout=120", *vsctl_transaction(spec, may_exist)]
    calls.write_text("")
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - start
    logfile.write_text(" ".join(argv) + "\n" + proc.stdout + proc.stderr)
    result = {"seconds": round(seconds, 3), "changed": None, **count_calls(calls)}
    if proc.returncode != 0:
        result["error"] = f"ovs-vsctl rc={proc.returncode}: {proc.stderr.strip()[:300]}"
    return result


def verify(hv: netns.Hypervisor, spec: dict) -> str | None:
    """None when the bridge holds exactly the wanted ports, tags, types and options; else what differs."""
    def table(name, columns):
        data = json.loads(hv.vsctl("--format=json", f"--columns={columns}", "list", name))
        return [dict(zip(data["headings"], row, strict=True)) for row in data["data"]]

    bridge = [b for b in table("Bridge", "name,datapath_type") if b["name"] == BRIDGE]
    if not bridge or bridge[0]["datapath_type"] != "netdev":
        return f"bridge {BRIDGE} missing or not netdev"
    ports = {p["name"]: p["tag"] for p in table("Port", "name,tag")}
    ifaces = {i["name"]: i for i in table("Interface", "name,type,options")}
    want_names = {BRIDGE} | {p["name"] for p in spec["access"]} | {t["name"] for t in spec["tunnels"]}
    if set(ports) != want_names:
        return f"ports differ: {len(ports)} present, {len(want_names)} wanted"
    for port in spec["access"]:
        if ports[port["name"]] != port["tag"] or ifaces[port["name"]]["type"] != "internal":
            return f"{port['name']}: tag {ports[port['name']]} type {ifaces[port['name']]['type']}"
    for tunnel in spec["tunnels"]:
        iface = ifaces[tunnel["name"]]
        options = dict(iface["options"][1])
        if iface["type"] != "vxlan" or options != {"remote_ip": tunnel["remote_ip"], "key": "flow"}:
            return f"{tunnel['name']}: type {iface['type']} options {options}"
    return None


def converge_once(way: str, size: int, spec: dict, opts, shim: Path, calls: Path, case: Path) -> dict:
    """Both runs of one way on a fresh hypervisor; stops after a run that failed."""
    runs = {}
    hv = netns.Hypervisor(PREFIX, f"{way[:5]}{size}").start()
    try:
        variables = case / "vars.json"
        variables.write_text(json.dumps(playbook_vars(spec, opts.module_timeout)))
        for run in ("first", "second"):
            logfile = case / f"{run}.log"
            if way == "vsctl":
                result = run_vsctl(hv, spec, run == "second", shim, calls, logfile)
            else:
                venv = opts.venv if way == "netfabric" else ensure_ovs_venv()
                result = run_playbook(way, hv, TEMPLATES / f"{way}.yml", venv, shim, calls, variables,
                                      opts.limit, logfile)
            if "error" not in result:
                problem = verify(hv, spec)
                result["converged"] = problem is None
                if problem:
                    result["error"] = f"not converged: {problem}"
            runs[run] = result
            log(f"  {way:<11} N={size:<4} {run:<6} {describe(result)}")
            if "error" in result:
                break
    finally:
        hv.stop()
    return runs


def converge(way: str, size: int, opts, shim: Path, calls: Path) -> dict:
    """`--repeat` rounds of converge_once; times are the median of the rounds, every sample kept."""
    spec = wanted(size, opts.tunnels)
    row = {"way": way, "access_ports": size, "tunnel_ports": opts.tunnels}
    case = WORK / f"{way}-{size}"
    case.mkdir(parents=True, exist_ok=True)
    rounds = []
    for _ in range(opts.repeat):
        rounds.append(converge_once(way, size, spec, opts, shim, calls, case))
        if any("error" in result for result in rounds[-1].values()):
            break
    for run in ("first", "second"):
        results = [r[run] for r in rounds if run in r]
        if not results:
            continue
        merged = dict(results[-1])
        failed = [r for r in results if "error" in r]
        if failed:
            merged = dict(failed[0])
        elif len(results) > 1:
            merged["seconds"] = round(statistics.median(r["seconds"] for r in results), 3)
            merged["samples"] = [r["seconds"] for r in results]
            for key in (*TOOLS, "changed"):
                if len({r[key] for r in results}) > 1:
                    merged[key] = max(r[key] for r in results)
                    merged["error"] = f"{key} differs between rounds: {[r[key] for r in results]}"
        row[run] = merged
    return row


# ---------------------------------------------------------------- output

def log(message: str):
    print(message, file=sys.stderr, flush=True)


def describe(result: dict) -> str:
    if "seconds" not in result:
        return f"{result.get('error')}"
    text = f"{result['seconds']:.2f} s, ovs-vsctl x{result['ovs-vsctl']}, ovs-ofctl x{result['ovs-ofctl']}"
    if result.get("changed") is not None:
        text += f", changed={result['changed']}"
    return text + (f"  ERROR {result['error']}" if "error" in result else "")


def table(rows: list[dict]) -> str:
    head = ("N", "tunnels", "way", "1st s", "vsctl", "ofctl", "2nd s", "vsctl", "ofctl", "2nd changed=0")
    lines = [head]
    for row in rows:
        cells = [str(row["access_ports"]), str(row["tunnel_ports"]), row["way"]]
        if "skipped" in row:
            lines.append((*cells, *["-"] * 6, row["skipped"]))
            continue
        for run in ("first", "second"):
            result = row.get(run, {})
            if "seconds" in result:
                cells += [f"{result['seconds']:.2f}", str(result["ovs-vsctl"]), str(result["ovs-ofctl"])]
            else:
                cells += ["-", "-", "-"]
        second = row.get("second", {})
        if any("error" in row.get(run, {}) for run in ("first", "second")) or "second" not in row:
            error = row.get("first", {}).get("error") or second.get("error") or "not run"
            cells.append(f"ERROR: {error}")
        elif row["way"] == "vsctl":
            cells.append("n/a (reports nothing)")
        else:
            cells.append("yes" if second.get("changed") == 0 else f"no (changed={second.get('changed')})")
        lines.append(tuple(cells))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    out = []
    for line in lines:
        out.append("  ".join(cell.rjust(w) if i not in (2,) else cell.ljust(w)
                             for i, (cell, w) in enumerate(zip(line[:-1], widths, strict=True))) + "  " + line[-1])
    return "\n".join(out)


NOTES = """\
1st: fresh hypervisor, empty OVS. 2nd: the same again on the converged bridge.
vsctl calls: every ovs-vsctl run, reads included (counted by a PATH shim inside the namespace).
vsctl way: one transaction; its 2nd run uses --may-exist on add-br/add-port and rewrites every tag,
type and option (converges values, never removes extra ports, cannot tell whether anything changed).
Times are wall-clock for the whole ansible-playbook process (controller start-up included)."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,500", help="access port counts N, comma separated")
    parser.add_argument("--tunnels", type=int, default=50, help="VXLAN tunnel ports (default 50)")
    parser.add_argument("--skip", default="", help=f"ways to leave out, comma separated: {', '.join(WAYS)}")
    parser.add_argument("--limit", type=float, default=900,
                        help="seconds one ansible-playbook run may take before it is stopped (default 900)")
    parser.add_argument("--module-timeout", type=int, default=None,
                        help="pass `timeout:` to the OVS modules (default: the modules' own default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds per way and size, each on a fresh hypervisor; times are medians (default 1)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    opts = parser.parse_args(argv)
    opts.sizes = [int(size) for size in opts.sizes.split(",") if size]
    if opts.repeat < 1:
        parser.error("--repeat must be at least 1")
    opts.skip = {way for way in opts.skip.split(",") if way}
    unknown = opts.skip - set(WAYS)
    if unknown:
        parser.error(f"--skip: unknown way(s) {', '.join(sorted(unknown))}; choose from {', '.join(WAYS)}")
    if opts.tunnels > 500 or any(size < 0 or size > 3900 for size in opts.sizes):
        parser.error("--tunnels at most 500 and --sizes between 0 and 3900 (tags start at 101)")
    venv = os.environ.get(VENV_ENV)
    opts.venv = Path(venv) if venv else REPO / ".venv"
    return opts


def main(argv=None) -> int:
    opts = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("needs root: it makes network namespaces")
    WORK.mkdir(parents=True, exist_ok=True)
    shim_dir = WORK / "shim"
    calls = make_shim(shim_dir)
    ours_ready = (REPO / "plugins" / "modules" / "ovs_ports.py").exists()
    rows = []
    load_start = os.getloadavg()[0]
    netns.down(PREFIX)
    try:
        for size in opts.sizes:
            for way in WAYS:
                if way in opts.skip:
                    continue
                if way == "netfabric" and not ours_ready:
                    rows.append({"way": way, "access_ports": size, "tunnel_ports": opts.tunnels,
                                 "skipped": "plugins/modules/ovs_ports.py does not exist yet"})
                    continue
                rows.append(converge(way, size, opts, shim_dir, calls))
    finally:
        netns.down(PREFIX)
    context = {
        "controllers": controllers(opts, {row["way"] for row in rows if "skipped" not in row}),
        "load_average_1min": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "repeat": opts.repeat,
    }
    if opts.json:
        print(json.dumps({"context": context, "results": rows}, indent=2))
    else:
        print(table(rows))
        print()
        print(NOTES)
        print(f"Controllers: {'; '.join(f'{way}: {text}' for way, text in context['controllers'].items())}.")
        print(f"Load average (1 min) at start {context['load_average_1min']['start']}, at end "
              f"{context['load_average_1min']['end']}, on {context['cpus']} CPUs: other work on the machine "
              f"slows every way; use --repeat for medians.")
    return 1 if any("error" in row.get(run, {}) for row in rows for run in ("first", "second")) else 0


if __name__ == "__main__":
    sys.exit(main())
