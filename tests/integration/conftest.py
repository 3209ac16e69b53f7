"""Fixtures that give each test a real hypervisor: a namespace with its own Open vSwitch.

Modules run through ansible-playbook exactly as a user runs them, with the namespace's
interpreter wrapper, so `ip` and `ovs-vsctl` inside the module see that namespace only.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import netns  # noqa: E402  (the shared lab, not an installed package)

# Under pytest-xdist each worker (gw0, gw1, ...) gets its own prefix: no two labs share a namespace.
PREFIX = os.environ.get("NETFABRIC_TEST_PREFIX", "nfit") + os.environ.get("PYTEST_XDIST_WORKER", "").replace("gw", "w")
_names = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def clean_lab():
    """Remove what a killed earlier run left, and everything this run made, even on failure."""
    netns.down(PREFIX, family=True)
    yield
    netns.down(PREFIX, family=True)


@pytest.fixture
def hv():
    """A fresh hypervisor namespace with ovsdb-server and ovs-vswitchd running."""
    host = netns.Hypervisor(PREFIX, f"hv{next(_names)}").start()
    yield host
    host.stop()


def ansible_env():
    env = dict(os.environ)
    home = REPO / ".cache" / "ansible-home"
    env.update(
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TMP=str(home / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    return env


def ansible_bin(name):
    return str(Path(sys.executable).with_name(name))


def run_module(host, module, args, *, check=False, diff=False):
    """Run one netfabric.ovs module on `host` through ansible-playbook; return its result dict."""
    with tempfile.TemporaryDirectory(prefix="nf-run-") as tmp:
        out = Path(tmp) / "result.json"
        play = [{
            "hosts": "target",
            "gather_facts": False,
            "tasks": [
                {"name": "module under test", f"netfabric.ovs.{module}": args, "register": "r", "ignore_errors": True},
                {"name": "save result", "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out)},
                 "check_mode": False, "diff": False},
            ],
        }]
        (Path(tmp) / "play.yml").write_text(yaml.safe_dump(play))
        argv = [ansible_bin("ansible-playbook"), "-i", "target,", "-c", "local",
                "-e", f"ansible_python_interpreter={host.python}", str(Path(tmp) / "play.yml")]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), check=False)
        if not out.exists():
            raise AssertionError(f"ansible-playbook did not run the module:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(out.read_text())


@pytest.fixture
def lab_factory(tmp_path):
    """Example fabrics in namespaces (sitelab.Lab), each with its own prefix; all removed at the end."""
    from sitelab import Lab  # imports this module: import it only once conftest is loaded

    made = []

    def make(example, **overrides):
        lab = Lab(f"{PREFIX}s{len(made)}", example, tmp_path / f"lab{len(made)}", **overrides)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        netns.down(lab.prefix)
