"""The example fabric in namespaces, with the inventory files the playbooks run on.

Shared by the end-to-end tests (test_site, test_provider_vlan, test_isolation); the fixture
`lab_factory` is in conftest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO, ansible_bin, ansible_env

sys.path.insert(0, str(REPO / "lab"))
import fabric  # noqa: E402
import netns  # noqa: E402


class Lab:
    """An example fabric built in namespaces, with the inventory files the playbooks run on."""

    def __init__(self, prefix: str, example: str, tmp: Path, host_overrides=None, **group_overrides):
        self.prefix = prefix
        self.example = tmp / "inventory"
        shutil.copytree(REPO / "examples" / example, self.example)
        if group_overrides:
            self.edit_group(**group_overrides)
        for host, values in (host_overrides or {}).items():
            self.edit_host(host, **values)
        self.lab_inventory = fabric.up(prefix, self.example)

    def edit_group(self, **values):
        path = self.example / "group_vars" / "hypervisors.yml"
        data = yaml.safe_load(path.read_text())
        data.update(values)
        path.write_text(yaml.safe_dump(data))

    def group(self):
        return yaml.safe_load((self.example / "group_vars" / "hypervisors.yml").read_text())

    def edit_host(self, name, **values):
        path = self.example / "hosts.yml"
        data = yaml.safe_load(path.read_text())
        data["hypervisors"]["hosts"][name].update(values)
        path.write_text(yaml.safe_dump(data))

    def hosts(self):
        return yaml.safe_load((self.example / "hosts.yml").read_text())["hypervisors"]["hosts"]

    def remove_host(self, name):
        path = self.example / "hosts.yml"
        data = yaml.safe_load(path.read_text())
        del data["hypervisors"]["hosts"][name]
        path.write_text(yaml.safe_dump(data))
        lab = yaml.safe_load(self.lab_inventory.read_text())
        del lab["hypervisors"]["hosts"][name]
        self.lab_inventory.write_text(yaml.safe_dump(lab))

    def playbook_argv(self, name="site"):
        return [ansible_bin("ansible-playbook"), "-i", str(self.example), "-i", str(self.lab_inventory), str(REPO / "playbooks" / f"{name}.yml")]

    @staticmethod
    def env():
        return ansible_env()

    def playbook(self, name="site", *extra):
        proc = subprocess.run([*self.playbook_argv(name), *extra], capture_output=True, text=True, env=ansible_env(), check=False)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        return recap(proc.stdout)

    def hv(self, name):
        return netns.Hypervisor(self.prefix, name)

    def vm(self, port):
        return next(dict(p, host=h) for h, v in self.hosts().items() for p in v["netfabric_ports"] if p["name"] == port)

    def reaches(self, source, target):
        return fabric.ping(self.prefix, self.vm(source), self.vm(target))

    def capture(self, host, source, target, pattern):
        """tcpdump's text on the host's underlay while source pings target."""
        with self.hv(host).tcpdump(pattern) as lines:
            self.reaches(source, target)
        return "\n".join(lines) + "\n"

    def snapshot(self, flows=False):
        """What a host looks like from outside: bridges/ports, the addresses of its links and,
        with flows=True, the flows of br-tun (learned ones and counters left out)."""
        def host(name):
            hv = self.hv(name)
            seen = (hv.vsctl("show").split("\n", 1)[1], hv.exec("ip", "-br", "addr"))
            if flows:
                dump = hv.ofctl("-O", "OpenFlow14", "--no-stats", "dump-flows", "br-tun")
                seen += (sorted(line for line in dump.splitlines() if "table=20" not in line or "cookie=0x4e46" in line),)
            return seen

        return {name: host(name) for name in self.hosts()}


def recap(stdout):
    """{host: {"changed": n, "failed": n}} from the PLAY RECAP."""
    result = {}
    for line in stdout.split("PLAY RECAP")[-1].splitlines()[1:]:
        if ":" not in line:
            continue
        host, counters = line.split(":", 1)
        values = dict(item.split("=") for item in counters.split())
        result[host.strip()] = {k: int(v) for k, v in values.items()}
    return result
