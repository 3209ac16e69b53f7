#!/usr/bin/env python3
"""Open vSwitch with DPDK for the namespace lab, without hardware and without installing it.

Debian's openvswitch-switch-dpdk would switch this machine's `ovs-vswitchd` alternative, which every
other test uses; so its ovs-vswitchd-dpdk and the DPDK libraries and drivers it needs are unpacked
(`apt-get download` + `dpkg-deb -x`) under .cache/dpdk and run by path with LD_LIBRARY_PATH.
No hugepages and no PCI devices: EAL runs with EAL_EXTRA, and a lab host's uplink (a veth) becomes a
DPDK port through the af_packet virtual device (DEVARGS), so real frames cross the underlay.

    python3 lab/dpdk.py unpack                      # once (lab/setup runs it); fast when done
    python3 lab/dpdk.py start --prefix nf hv1       # replace hv1's ovs-vswitchd by the DPDK build
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns  # noqa: E402  (the shared lab)

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / ".cache" / "dpdk"
TREE = ROOT / "root"
LIBS = TREE / "usr" / "lib" / "x86_64-linux-gnu"
DRIVERS = LIBS / "dpdk" / "pmds-23.0"
VSWITCHD = TREE / "usr" / "lib" / "openvswitch-switch-dpdk" / "ovs-vswitchd-dpdk"
# ovs-vswitchd-dpdk and what it links, plus the bus and drivers the lab loads (EAL's -d): the vdev
# bus with af_packet (frames through a kernel interface) and the ring mempool every port needs.
PACKAGES = (
    "openvswitch-switch-dpdk",
    "librte-eal23", "librte-ethdev23", "librte-mbuf23", "librte-mempool23", "librte-meter23", "librte-vhost23",
    "librte-kvargs23", "librte-telemetry23", "librte-ring23", "librte-net23", "librte-pci23", "librte-hash23",
    "librte-rcu23", "librte-cryptodev23", "librte-dmadev23", "librte-gso23", "librte-bus-pci23", "librte-bus-vdev23",
    "librte-mempool-ring23", "librte-net-af-packet23", "librte-net-tap23", "librte-net-null23",
)
# EAL without hugepages (plain memory, --no-huge implies --legacy-mem, which OVS must see to not add
# --in-memory), without PCI scanning, with the unpacked drivers; --file-prefix PREFIX-HOST keeps each
# lab host's runtime files (/var/run/dpdk/PREFIX-HOST) apart.
EAL_EXTRA = "--no-huge --legacy-mem --no-pci --no-telemetry -m 256 -d {drivers} --file-prefix {name}"
RUNTIME = Path("/var/run/dpdk")
# EAL loads no driver (-d) from a directory with a world-writable one on its path ("directory path
# /tmp is world-writable and insecure", even a sticky /tmp). A checkout there runs a copy of LIBS in
# a root-only directory (one per checkout), for the libraries too: a driver loaded from two paths
# registers twice and EAL panics.
SAFE_LIBS = Path("/var/run/netfabric-dpdk") / hashlib.sha1(str(LIBS).encode()).hexdigest()[:12]


def devargs(index: int, iface: str) -> str:
    """The af_packet virtual device over kernel interface `iface` (names are per ovs-vswitchd process)."""
    return f"net_af_packet{index},iface={iface}"


def insecure(path: Path) -> bool:
    """Whether EAL would refuse this directory: it, or a directory above it, is world-writable."""
    return any(part.stat().st_mode & stat.S_IWOTH for part in (path, *path.parents))


def libs() -> Path:
    """The DPDK libraries and drivers ovs-vswitchd-dpdk runs with: LIBS, or its copy when LIBS is
    insecure. The copy is made beside SAFE_LIBS and renamed into place: a concurrent test never sees half."""
    if not insecure(DRIVERS):
        return LIBS
    if not SAFE_LIBS.exists():
        SAFE_LIBS.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = SAFE_LIBS.parent / f".{SAFE_LIBS.name}.{os.getpid()}"
        shutil.copytree(LIBS, staging, symlinks=True)
        staging.chmod(0o755)
        try:
            staging.rename(SAFE_LIBS)
        except OSError:  # another process put its copy there first
            shutil.rmtree(staging, ignore_errors=True)
    return SAFE_LIBS


def eal_extra(hv: netns.Hypervisor) -> str:
    return EAL_EXTRA.format(drivers=libs() / DRIVERS.relative_to(LIBS), name=hv.netns)


def unpacked() -> bool:
    return VSWITCHD.exists() and (DRIVERS / "librte_net_af_packet.so.23").exists()


def unpack() -> Path:
    """Download the packages (apt's own client and sources) and unpack them under .cache/dpdk."""
    if unpacked():
        return VSWITCHD
    debs = ROOT / "deb"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(TREE)], check=True)
    if not unpacked():
        raise RuntimeError(f"unpacked {debs} but {VSWITCHD} or the af_packet driver is missing")
    return VSWITCHD


def start(hv: netns.Hypervisor) -> None:
    """Replace the host's ovs-vswitchd by ovs-vswitchd-dpdk on the same OVSDB. DPDK initializes when
    other_config:dpdk-init becomes true (ovs_dpdk), not before: until then it is an ordinary switch."""
    if not unpacked():
        raise RuntimeError("DPDK build not unpacked: run lab/setup (or python3 lab/dpdk.py unpack)")
    d = hv.dir
    hv.exec("ovs-appctl", "-t", f"{d}/ovs-vswitchd.ctl", "exit", check=False)
    for _ in range(100):
        if not (d / "ovs-vswitchd.pid").exists():
            break
        time.sleep(0.1)
    hv.exec("env", f"LD_LIBRARY_PATH={libs()}", VSWITCHD, hv.db, f"--pidfile={d}/ovs-vswitchd.pid", "--detach", "-vconsole:off",
            f"--log-file={d}/ovs-vswitchd.log", f"--unixctl={d}/ovs-vswitchd.ctl")


def stop(hv: netns.Hypervisor) -> None:
    """The host and EAL's runtime directory of it (PMD threads spin: never leave one running)."""
    hv.stop()
    shutil.rmtree(RUNTIME / hv.netns, ignore_errors=True)


def down(prefix: str) -> None:
    """Everything of this prefix, as netns.down, plus EAL's runtime directories of its hosts."""
    netns.down(prefix, family=True)
    if RUNTIME.exists():
        for path in RUNTIME.glob(f"{prefix}*"):
            shutil.rmtree(path, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["unpack", "start"])
    parser.add_argument("--prefix", default=os.environ.get("NETFABRIC_TEST_PREFIX", "nf"))
    parser.add_argument("hosts", nargs="*")
    args = parser.parse_args()
    if args.command == "unpack":
        print(unpack())
    else:
        for host in args.hosts:
            start(netns.Hypervisor(args.prefix, host))


if __name__ == "__main__":
    main()
