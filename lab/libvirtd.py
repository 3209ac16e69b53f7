#!/usr/bin/env python3
"""A private libvirtd inside a lab hypervisor namespace, and the LXC domains and QEMU guests it starts.

One place for what it takes to run a real libvirtd here (no systemd, no D-Bus, no KVM), shared by the
tests and by hand:

    python3 lab/libvirtd.py up   --prefix nf hv1     # after `lab/netns.py up --prefix nf hv1`; --qemu: QEMU too
    virsh -c "$(python3 lab/libvirtd.py uri --prefix nf hv1)" list --all
    python3 lab/libvirtd.py down --prefix nf hv1

- It runs in the hypervisor's network namespace with the hypervisor's OVS_RUNDIR: libvirt plugs
  domains in by running `ovs-vsctl` itself, which then reaches this hypervisor's Open vSwitch.
- Its state is its own: a private mount namespace binds the lab's directories over /etc/libvirt,
  /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt, and its socket sits in the
  lab directory (unix_sock_dir), reached as lxc+unix:///system?socket=PATH (qemu+unix:// for the QEMU
  driver). Several run side by side, each with a host_uuid of its own (from its namespace's name), so
  that a QEMU guest live-migrates from one to another (migrate): libvirt refuses a migration between
  two daemons that report the same host UUID, and on one machine both would read the same SMBIOS.
- Only the LXC and network drivers are loaded (LIBVIRT_DRIVER_DIR names a directory holding just them),
  and the QEMU driver when asked (qemu=True). That driver looks up its built-in user libvirt-qemu
  before it reads qemu.conf and refuses to start without it: the daemon's mount namespace gets a copy
  of /etc/passwd and /etc/group naming it. Its qemu.conf (QEMU_CONF): QEMU's output goes to a file,
  not through virtlogd, which does not run here (without stdio_handler no guest starts: "Failed to
  connect socket to '/run/libvirt/virtlogd-sock'"); no cgroups, or libvirt makes machine/qemu-*
  groups in the host's hierarchies and a killed run leaves them; QEMU runs as root like libvirtd, not
  as that placeholder account; no AppArmor/SELinux labelling, whatever the host has.
- The namespace gets a sysfs of its own (its interfaces), with the host's cgroup hierarchies moved
  back under it. On a hybrid cgroup layout the cgroup2 mount at /sys/fs/cgroup/unified is hidden from
  libvirtd: libvirt_lxc bind-mounts every hierarchy into the container and tries to create that
  directory on the container's read-only sysfs first, failing every start ("Unable to create directory
  /sys/fs/cgroup/unified"); with the v1 hierarchies alone it starts.
- Domains are LXC containers sharing the host's root file system and running `sleep infinity`, with
  one interface in a libvirt network's portgroup; libvirt sets its address inside (`<ip>`). A QEMU
  guest is diskless under TCG (no KVM needed): its firmware network-boots, so it sends real DHCP
  DISCOVERs from its MAC, again and again (define_qemu).
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import time
import uuid
from pathlib import Path

import netns

DRIVERS = ("lxc", "network")  # always; "qemu" too when asked (Libvirtd(hv, qemu=True))
DRIVER_GLOB = "/usr/lib/*/libvirt/connection-driver/libvirt_driver_{}.so"
# Mount points libvirtd writes to, each bound to a directory of the lab.
STATE = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt", "log": "/var/log/libvirt",
         "cache": "/var/cache/libvirt"}
NEEDS = {"libvirtd": "libvirt-daemon", "virsh": "libvirt-clients", "/usr/lib/libvirt/libvirt_lxc": "libvirt-daemon-driver-lxc"}
QEMU_NEEDS = {"qemu-system-x86_64": "qemu-system-x86", "/usr/share/seabios/bios-256k.bin": "seabios",
              "/usr/lib/ipxe/qemu/pxe-virtio.rom": "ipxe-qemu"}
QEMU_ACCOUNT = "libvirt-qemu"  # Debian's build default for qemu.conf's user and group
PACKAGE = {"lxc": "libvirt-daemon-driver-lxc", "network": "libvirt-daemon", "qemu": "libvirt-daemon-driver-qemu"}
# The QEMU driver's settings for the lab (see the docstring; each was tried without).
QEMU_CONF = """user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
"""
# An LXC container's processes sit in a cgroup named ...-DOMAIN.libvirt-lxc.
CGROUP_SUFFIX = ".libvirt-lxc"


def missing(qemu: bool = False):
    """What a lab libvirtd (with its QEMU driver and guests when qemu) lacks on this machine, as the Debian
    packages to install; [] when nothing."""
    import shutil

    needs = {**NEEDS, **(QEMU_NEEDS if qemu else {})}
    lacking = [package for tool, package in needs.items() if not (shutil.which(tool) or os.path.exists(tool))]
    lacking += [PACKAGE[name] for name in (*DRIVERS, *(["qemu"] if qemu else [])) if not glob.glob(DRIVER_GLOB.format(name))]
    return list(dict.fromkeys(lacking))  # a package once, whatever needs it


class Libvirtd:
    """One libvirtd for one netns.Hypervisor."""

    def __init__(self, hv: netns.Hypervisor, qemu: bool = False):
        self.hv = hv
        self.dir = hv.dir / "libvirt"
        self.sock = self.dir / "sock" / "libvirt-sock"
        self.pidfile = self.dir / "libvirtd.pid"
        self.drivers = (*DRIVERS, "qemu") if qemu else DRIVERS
        self.uri = f"lxc+unix:///system?socket={self.sock}"
        self.qemu_uri = f"qemu+unix:///system?socket={self.sock}"

    def virsh(self, *args, check=True, uri=None):
        """virsh against this daemon (its LXC driver unless uri); returns stdout (raises with stderr when check and it fails)."""
        return netns.sh("virsh", "-q", "-c", uri or self.uri, *args, check=check, capture=True)

    def qemu(self, *args, check=True):
        """virsh against this daemon's QEMU driver."""
        return self.virsh(*args, check=check, uri=self.qemu_uri)

    def start(self):
        d = self.dir
        for sub in [*STATE, "sock", "drivers", "cgroup"]:
            (d / sub).mkdir(parents=True, exist_ok=True)
        for name in self.drivers:
            link = d / "drivers" / f"libvirt_driver_{name}.so"
            if not link.exists():
                link.symlink_to(glob.glob(DRIVER_GLOB.format(name))[0])
        accounts = ""
        if "qemu" in self.drivers:  # the QEMU driver resolves its built-in user before it reads qemu.conf
            (d / "etc" / "qemu.conf").write_text(QEMU_CONF)
            for table, line in (("passwd", f"{QEMU_ACCOUNT}:x:64055:64055::/nonexistent:/usr/sbin/nologin"),
                                ("group", f"{QEMU_ACCOUNT}:x:64055:")):
                have = Path(f"/etc/{table}").read_text()
                if not any(row.startswith(f"{QEMU_ACCOUNT}:") for row in have.splitlines()):
                    have = have.rstrip("\n") + f"\n{line}\n"
                (d / table).write_text(have)
                accounts += f"mount --bind {d / table} /etc/{table}\n"
        (d / "etc" / "libvirtd.conf").write_text(
            f'unix_sock_dir = "{self.sock.parent}"\n'
            f'host_uuid = "{uuid.uuid5(uuid.NAMESPACE_DNS, self.hv.netns)}"\n'  # one of its own: migration refuses the "same host"

            'unix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
            'log_outputs = "2:file:/var/log/libvirt/libvirtd.log"\n'
        )
        binds = "\n".join(f"mkdir -p {target}; mount --bind {d / source} {target}" for source, target in STATE.items())
        script = d / "start.sh"
        script.write_text(
            "#!/bin/sh\nset -e\n"
            "mount --make-rprivate /\n"
            f"mount --rbind /sys/fs/cgroup {d}/cgroup\n"
            "mount -t sysfs sysfs /sys\n"
            f"mount --move {d}/cgroup /sys/fs/cgroup\n"
            "if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi\n"
            f"{binds}\n{accounts}"
            f"exec libvirtd -d -f /etc/libvirt/libvirtd.conf -p {self.pidfile}\n"
        )
        env = dict(self.hv.env, LIBVIRT_DRIVER_DIR=str(d / "drivers"))
        netns.sh("nsenter", f"--net=/run/netns/{self.hv.netns}", "unshare", "--mount", "sh", script, env=env)
        deadline = time.monotonic() + 20
        while True:
            probe = netns.sh("virsh", "-c", self.uri, "version", check=False)
            if probe.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvirtd in {self.hv.netns} did not answer: {probe.stderr.strip()}; "
                                   f"see {d}/log/libvirtd.log")
            time.sleep(0.1)

    def stop(self):
        """Destroy every domain (containers and QEMU processes outlive a killed libvirtd), then end libvirtd."""
        if self.sock.exists():
            for uri in [self.uri] + ([self.qemu_uri] if "qemu" in self.drivers else []):
                for name in self.virsh("list", "--name", check=False, uri=uri).split():
                    self.virsh("destroy", name, check=False, uri=uri)
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while netns.running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            netns.kill([pid])

    def define_lxc(self, name, mac, network, portgroup, address):
        """Define (not start) an LXC domain with one interface in NETWORK's PORTGROUP at ADDRESS (a.b.c.d/len)."""
        ip, prefix = address.split("/")
        xml = (f"<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>"
               "<os><type>exe</type><init>/bin/sleep</init><initarg>infinity</initarg></os>"
               "<devices><filesystem type='mount'><source dir='/'/><target dir='/'/></filesystem>"
               f"<interface type='network'><mac address='{mac}'/><source network='{network}' portgroup='{portgroup}'/>"
               f"<ip address='{ip}' prefix='{prefix}'/></interface><console type='pty'/></devices></domain>")
        self.define(name, xml, self.uri)

    def define_qemu(self, name, mac, network, portgroup):
        """Define (not start) a diskless TCG guest with one virtio NIC in NETWORK's PORTGROUP.

        It has nothing to boot but the network: SeaBIOS runs the NIC's iPXE ROM, which sends DHCP
        DISCOVERs from MAC, and with rebootTimeout 0 SeaBIOS starts again when no boot device
        worked, so the guest keeps sending them for as long as it runs.
        """
        xml = (f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
               "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><bios rebootTimeout='0'/></os>"
               "<features><acpi/></features>"  # without ACPI, QEMU refuses PCI hot-plug ("Bus 'pci.0' does not support hotplugging")
               "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
               f"<interface type='network'><mac address='{mac}'/><source network='{network}' portgroup='{portgroup}'/>"
               "<model type='virtio'/></interface><serial type='pty'/><memballoon model='none'/></devices></domain>")
        self.define(name, xml, self.qemu_uri)

    def define(self, name, xml, uri):
        """Define a domain from its XML through URI's driver (the file stays in the lab directory to read)."""
        path = self.dir / f"{name}.xml"
        path.write_text(xml)
        self.virsh("define", path, uri=uri)

    def migrate(self, domain, other: Libvirtd, address: str):
        """Live-migrate a running QEMU guest to OTHER's QEMU driver, its memory over TCP to ADDRESS (OTHER's
        hypervisor address; the destination's QEMU listens in that namespace). virsh drives both daemons."""
        self.qemu("migrate", "--live", domain, other.qemu_uri, "--migrateuri", f"tcp://{address}")

    def hot_plug(self, domain, mac, network, portgroup):
        """Add a virtio NIC in NETWORK's PORTGROUP to a running QEMU guest (`attach-device --live`: attach-interface has no portgroup)."""
        path = self.dir / f"{domain}-{mac.replace(':', '')}.xml"
        path.write_text(f"<interface type='network'><mac address='{mac}'/><source network='{network}' portgroup='{portgroup}'/>"
                        "<model type='virtio'/></interface>")
        self.qemu("attach-device", domain, path, "--live")

    def port(self, domain, uri=None):
        """The OVS port libvirt made for the domain's interface: its name (from the live XML)."""
        import xml.etree.ElementTree as ET

        target = ET.fromstring(self.virsh("dumpxml", domain, uri=uri)).find("devices/interface/target")
        return None if target is None else target.get("dev")

    def ping(self, domain, address, count=2):
        """ping from inside the domain; True when a reply came back."""
        proc = netns.sh("virsh", "-q", "-c", self.uri, "lxc-enter-namespace", domain, "--noseclabel",
                        "/usr/bin/ping", "-c", count, "-W", "1", "-i", "0.2", address, check=False)
        return proc.returncode == 0


def down(prefix: str):
    """Kill LXC containers and QEMU processes of domains named PREFIX... that a killed run left (nothing else ends them)."""
    pids = []
    for cgroup in glob.glob("/proc/[0-9]*/cgroup"):
        try:
            text = Path(cgroup).read_text()
            argv = Path(cgroup).with_name("cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        container = any(CGROUP_SUFFIX in line and f"-{prefix}" in line.rsplit("/", 1)[-1] for line in text.splitlines())
        guest = os.path.basename(argv[0]).startswith(b"qemu-system") and any(arg.startswith(f"guest={prefix}-".encode()) for arg in argv)
        if container or guest:
            pids.append(cgroup.split("/")[2])
    netns.kill(pids)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "uri"])
    parser.add_argument("--prefix", default="nf")
    parser.add_argument("--qemu", action="store_true", help="also load the QEMU driver (uri then prints its URI)")
    parser.add_argument("host")
    opts = parser.parse_args()
    daemon = Libvirtd(netns.Hypervisor(opts.prefix, opts.host), qemu=opts.qemu)
    if opts.action == "up":
        daemon.start()
    elif opts.action == "down":
        daemon.stop()
        down(opts.prefix)
    print(daemon.qemu_uri if opts.qemu else daemon.uri)


if __name__ == "__main__":
    main()
