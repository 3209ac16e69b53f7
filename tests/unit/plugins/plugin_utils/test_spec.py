"""The inventory schema is declared once (the netfabric role's argument_specs) and the planner runs it."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _constants as C
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import spec
from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import FABRIC_VARS, HOST_VARS, FabricError, validate

EXAMPLE = json.loads((Path(__file__).parent / "fixtures" / "example_inventory.json").read_text())
REPO = Path(__file__).resolve().parents[4]


def test_every_variable_the_planner_reads_is_declared_with_docs_and_a_type():
    options = spec.options()
    assert set(HOST_VARS) | set(FABRIC_VARS) == set(options)
    nested = [options["netfabric_tenants"]["options"], options["netfabric_ports"]["options"]]
    for option in [*options.values(), *(o for group in nested for o in group.values())]:
        assert option["description"] and option["type"], option


def test_declared_defaults_are_the_collections_constants():
    defaults = spec.validators().defaults
    assert defaults["netfabric_flow_cookie"] == C.FLOW_COOKIE
    assert defaults["netfabric_mac_limit"] == C.MAC_LIMIT
    assert defaults["netfabric_state_dir"] == C.STATE_DIR


def test_defaults_come_from_the_declared_schema():
    fabric = validate(copy.deepcopy(EXAMPLE["hosts"]), {"netfabric_tenants": copy.deepcopy(EXAMPLE["fabric"]["netfabric_tenants"])})
    options = spec.options()
    assert fabric.overlay == options["netfabric_overlay"]["default"]
    assert fabric.mode == options["netfabric_mode"]["default"]
    assert fabric.underlay_mtu == options["netfabric_underlay_mtu"]["default"]
    assert fabric.tenant_mtu == options["netfabric_tenant_mtu"]["default"]
    assert fabric.flow_cookie == options["netfabric_flow_cookie"]["default"]
    assert fabric.hosts["hv1"].datapath_type == "netdev" and fabric.hosts["hv3"].datapath_type == options["netfabric_datapath_type"]["default"]
    assert fabric.hosts["hv1"].state_dir is None, "a host without its own state dir uses the fabric's"


def test_a_choice_the_schema_adds_is_enforced_by_the_planner(monkeypatch):
    """The planner has no list of its own: narrowing the declared choices narrows what it accepts."""
    options = copy.deepcopy(spec.options())
    options["netfabric_mode"]["choices"] = ["learning"]
    monkeypatch.setattr(spec, "validators", lambda: spec.Validators(options))
    with pytest.raises(FabricError) as info:
        validate(copy.deepcopy(EXAMPLE["hosts"]), {**copy.deepcopy(EXAMPLE["fabric"]), "netfabric_mode": "l2pop"})
    assert info.value.problems == ["fabric: value of netfabric_mode must be one of: learning, got: l2pop"]


def test_host_variables_that_are_not_ours_are_ignored_but_typos_inside_ours_are_not():
    hosts = copy.deepcopy(EXAMPLE["hosts"])
    hosts["hv1"]["ansible_host"] = "192.0.2.1"
    hosts["hv1"]["netfabric_ports"][0]["tennant"] = "red"
    with pytest.raises(FabricError) as info:
        validate(hosts, copy.deepcopy(EXAMPLE["fabric"]))
    assert info.value.problems == [
        "host hv1 port tap-red-1: unknown key 'tennant' (allowed: name, tenant, mac, ip, port_security, take_over, libvirt, migrate_to, vhostuser)"
    ]


def test_a_bad_fabric_variable_does_not_hide_the_others():
    hosts, fabric = copy.deepcopy(EXAMPLE["hosts"]), copy.deepcopy(EXAMPLE["fabric"])
    fabric.update(netfabric_overlay="geneve", netfabric_underlay_mtu="big", netfabric_mac_limit=0)
    with pytest.raises(FabricError) as info:
        validate(hosts, fabric)
    assert [p.split(":")[0] for p in info.value.problems] == ["fabric"] * 3
    for name in ("netfabric_overlay", "netfabric_underlay_mtu"):
        assert sum(name in p for p in info.value.problems) == 1, name
    assert "fabric: netfabric_mac_limit: 0 is out of range (allowed 1-65535)" in info.value.problems


def test_ansible_doc_shows_the_schema():
    out = subprocess.run(["ansible-doc", "-t", "role", "netfabric.ovs.netfabric"], capture_output=True, text=True, check=True, cwd=REPO).stdout
    for name in spec.options():
        assert name in out
    for nested in ("tunnel_id", "provider_vlan", "port_security", "take_over"):
        assert nested in out
