"""The filters netfabric.ovs.fabric_plan and host_plan: as functions, and inside a real ansible-playbook."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.netfabric.ovs.plugins.filter import fabric
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import plan, underlay

FIXTURES = Path(__file__).parents[1] / "plugin_utils" / "fixtures"
EXAMPLE = json.loads((FIXTURES / "example_inventory.json").read_text())
HOSTS = ["hv1", "hv2", "hv3"]


def golden(variant):
    return json.loads((FIXTURES / f"plan_{variant}.json").read_text())


def hostvars(**fabric_vars):
    """What Ansible's hostvars looks like to a filter: every host sees the fabric-wide vars too."""
    shared = {**copy.deepcopy(EXAMPLE["fabric"]), **fabric_vars}
    return {name: {**copy.deepcopy(hv), **copy.deepcopy(shared), "inventory_hostname": name, "ansible_facts": {}} for name, hv in EXAMPLE["hosts"].items()}


@pytest.fixture(autouse=True)
def empty_memo():
    fabric._MEMO.clear()
    yield
    fabric._MEMO.clear()


def test_filters_are_registered():
    assert set(fabric.FilterModule().filters()) == {"fabric_plan", "host_plan"}


@pytest.mark.parametrize(("variant", "extra"), [("vxlan", {}), ("gre", {"netfabric_overlay": "gre"}), ("vxlan_l2pop", {"netfabric_mode": "l2pop"})])
def test_host_plan_matches_the_golden_plans(variant, extra):
    hv = hostvars(**extra)
    assert {name: fabric.host_plan(hv, name, HOSTS) for name in HOSTS} == golden(variant)


def test_fabric_plan_matches_the_golden_plans():
    assert fabric.fabric_plan(hostvars(), HOSTS) == golden("vxlan")


def test_fabric_plan_options_override_hostvars():
    assert fabric.fabric_plan(hostvars(), HOSTS, mode="l2pop") == golden("vxlan_l2pop")
    assert fabric.fabric_plan(hostvars(), HOSTS, overlay="gre") == golden("gre")


def test_fabric_plan_rejects_unknown_options():
    with pytest.raises(AnsibleFilterError, match="unknown option.*colour"):
        fabric.fabric_plan(hostvars(), HOSTS, colour="red")


def test_fabric_vars_come_from_the_calling_host():
    hv = hostvars()
    hv["hv2"]["netfabric_mode"] = "l2pop"
    assert fabric.host_plan(hv, "hv2", HOSTS) == golden("vxlan_l2pop")["hv2"]
    assert fabric.host_plan(hv, "hv1", HOSTS) == golden("vxlan")["hv1"]


def test_validation_errors_name_the_culprits():
    hv = hostvars()
    hv["hv3"]["netfabric_ports"][0]["tenant"] = "green"
    del hv["hv1"]["netfabric_underlay_ip"]
    with pytest.raises(AnsibleFilterError) as info:
        fabric.host_plan(hv, "hv2", HOSTS)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "host hv3 port tap-red-3: unknown tenant 'green'" in message
    assert "host hv1: missing required arguments: netfabric_underlay_ip" in message


def test_provider_vlan_through_the_filters():
    tenants = copy.deepcopy(EXAMPLE["fabric"]["netfabric_tenants"])
    tenants[0]["provider_vlan"] = 300  # red
    refused = ("host hv3: tenant red has provider_vlan 300, but provider VLAN tenants need a provider NIC or the uplink on br-phy: "
               "set netfabric_provider_nic on hv3")
    with pytest.raises(AnsibleFilterError, match=refused):
        fabric.fabric_plan(hostvars(), HOSTS, tenants=tenants)
    hv = hostvars()
    hv["hv3"]["netfabric_datapath_type"] = "netdev"
    hv1 = fabric.fabric_plan(hv, HOSTS, tenants=tenants)["hv1"]
    assert [f for f in hv1["flows"]["br-phy"] if "set_field:4396->vlan_vid" in f]
    assert not [f for f in hv1["flows"]["br-tun"] if "0x3e9" in f]


def test_the_hosts_read_of_its_uplink_gives_its_plan_the_underlay_guard():
    """netfabric_plan is a plain variable: the filter applies the uplink's MAC the role read, once."""
    hv = hostvars()
    hv["hv3"]["netfabric_datapath_type"] = "netdev"
    plain = fabric.fabric_plan(hv, HOSTS)["hv3"]
    uplink = plain["underlay"]["uplink"]
    mac = "52:54:00:aa:bb:03"
    hv["hv3"][fabric.SEEN_VAR] = {"links": {uplink: {"address": mac}}, "bridges": {"br-provider": {}}}
    fabric._MEMO.clear()
    guarded = fabric.fabric_plan(hv, HOSTS)
    assert guarded["hv3"] == plan.with_bridges_read(underlay.with_underlay_mac(plain, mac), {"br-provider": {}})
    assert guarded["hv3"]["underlay"]["mac"] == mac and guarded["hv3"]["flows"] != plain["flows"]
    assert fabric.host_plan(hv, "hv3", HOSTS) == guarded["hv3"]
    hv["hv3"][fabric.SEEN_VAR] = {"links": {}, "bridges": {}}  # the uplink was not there to read
    fabric._MEMO.clear()
    with pytest.raises(AnsibleFilterError, match="host hv3: its underlay is on br-phy, whose guard flows need the uplink's MAC"):
        fabric.fabric_plan(hv, HOSTS)


def test_a_retired_bridge_the_read_did_not_find_is_marked_so_the_roles_skip_it():
    """A host without a provider NIC removes br-provider only where its read found one."""
    plain = fabric.fabric_plan(hostvars(), HOSTS)["hv1"]
    assert plain["retired_bridges"] == [{"name": "br-provider", "owner": "netfabric"}]  # no read: removed as before
    hv = hostvars()
    links = {plain["underlay"]["uplink"]: {"address": "52:54:00:aa:bb:01"}}
    hv["hv1"][fabric.SEEN_VAR] = {"links": links, "bridges": {"br-int": {}}}
    hv["hv2"][fabric.SEEN_VAR] = {"links": links, "bridges": {"br-int": {}, "br-provider": {}}}
    hv["hv3"][fabric.SEEN_VAR] = {"skipped": True}  # a linuxbridge host's skipped read knows nothing
    plans = fabric.fabric_plan(hv, HOSTS)
    assert plans["hv1"]["retired_bridges"] == [{"name": "br-provider", "owner": "netfabric", "exists": False}]
    assert plans["hv2"]["retired_bridges"] == [{"name": "br-provider", "owner": "netfabric", "exists": True}]
    assert plans["hv3"]["retired_bridges"] == [{"name": "br-provider", "owner": "netfabric"}]
    assert plans["hv1"] == {**underlay.with_underlay_mac(plain, "52:54:00:aa:bb:01"), "retired_bridges": plans["hv1"]["retired_bridges"]}
    assert fabric.host_plan(hv, "hv1", HOSTS) == plans["hv1"]


def test_host_outside_the_hypervisor_list():
    with pytest.raises(AnsibleFilterError, match="host hv9 is not in the hypervisor list"):
        fabric.host_plan(hostvars(), "hv9", HOSTS)


def test_hypervisor_missing_from_hostvars():
    with pytest.raises(AnsibleFilterError, match="host hv9 is not in the inventory"):
        fabric.host_plan(hostvars(), "hv1", HOSTS + ["hv9"])


def test_hosts_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        fabric.host_plan(hostvars(), "hv1", "hv1")


def test_whole_fabric_is_computed_once_per_inventory(monkeypatch):
    calls = []
    real_build = plan.build

    def counting_build(*args):
        calls.append(1)
        return real_build(*args)

    monkeypatch.setattr(plan, "build", counting_build)
    hv = hostvars()
    for name in HOSTS:
        fabric.host_plan(hv, name, HOSTS)
    assert len(calls) == 1
    hv["hv2"]["netfabric_ports"].pop()  # a changed inventory is a new computation
    assert [t["name"] for t in fabric.host_plan(hv, "hv2", HOSTS)["tenants"]] == ["red"]
    assert len(calls) == 2
    # errors are memoised too: every host reports them without recomputing
    hv["hv1"]["netfabric_uplink"] = "eth/0"
    for name in HOSTS:
        with pytest.raises(AnsibleFilterError, match="host hv1: netfabric_uplink"):
            fabric.host_plan(hv, name, HOSTS)
    assert len(calls) == 3


# ---------------------------------------------------------------- through ansible-playbook

PLAYBOOK = """
- name: Plan every hypervisor
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: Plan
      ansible.builtin.debug:
        msg: "{{ hostvars | netfabric.ovs.host_plan(inventory_hostname, groups['hypervisors']) }}"

    - name: Plan everything
      ansible.builtin.debug:
        msg: "{{ hostvars | netfabric.ovs.fabric_plan(groups['hypervisors']) }}"
      run_once: true
"""


def write_inventory(path: Path, hosts: dict, fabric_vars: dict):
    """A YAML inventory; tunnel ids and one underlay address go through Jinja to exercise lazy hostvars."""
    hosts = copy.deepcopy(hosts)
    hosts["hv2"]["netfabric_underlay_ip"] = "{{ '172.31.0.' ~ 2 }}/24"
    tenants = copy.deepcopy(fabric_vars["netfabric_tenants"])
    for tenant in tenants:
        tenant["tunnel_id"] = "{{ %d + 0 }}" % tenant["tunnel_id"]
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "children": {
                "hypervisors": {
                    "hosts": {name: {**hv, **local} for name, hv in hosts.items()},
                    "vars": {**fabric_vars, "netfabric_tenants": tenants},
                }
            }
        }
    }
    path.write_text(yaml.safe_dump(inventory))


def run_playbook(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run the playbook with the json callback; return the process and each task's per-host results."""
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    argv = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(tmp_path / "inventory.yml"),
        str(tmp_path / "site.yml"),
        *extra,
    ]
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    tasks = json.loads(result.stdout)["plays"][0]["tasks"] if result.stdout.startswith("{") else []
    return result, [task["hosts"] for task in tasks]


def test_playbook_plans_equal_the_goldens_and_limit_does_not_change_them(tmp_path):
    write_inventory(tmp_path / "inventory.yml", EXAMPLE["hosts"], {**EXAMPLE["fabric"], "netfabric_mode": "l2pop"})
    want = golden("vxlan_l2pop")
    result, (per_host, once) = run_playbook(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name: per_host[name]["msg"] for name in per_host} == want
    assert [r["msg"] for r in once.values()] == [want]

    result, (per_host, _plans) = run_playbook(tmp_path, "--limit", "hv2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(per_host) == ["hv2"]
    assert per_host["hv2"]["msg"] == want["hv2"]


def test_playbook_fails_naming_the_culprit(tmp_path):
    hosts = copy.deepcopy(EXAMPLE["hosts"])
    hosts["hv3"]["netfabric_underlay_ip"] = "172.31.0.1/24"
    write_inventory(tmp_path / "inventory.yml", hosts, EXAMPLE["fabric"])
    result, (per_host, *_rest) = run_playbook(tmp_path)
    assert result.returncode != 0
    for name in HOSTS:
        assert per_host[name]["failed"] is True
        assert "hosts hv1, hv3: share underlay address 172.31.0.1" in per_host[name]["msg"]
