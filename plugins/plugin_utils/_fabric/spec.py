# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory's declared schema: the netfabric role's meta/argument_specs.yml, run on the controller.

That file is the one description of every netfabric_* variable (types, choices, defaults, docs:
`ansible-doc -t role netfabric.ovs.netfabric`). It is loaded once, relative to the collection,
and checked with Ansible's own ArgumentSpecValidator: the variables of each host, the fabric-wide
ones, and each tenant and port on its own, so every error names its host, tenant or port.
inventory.py adds only what a spec cannot say.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

SPEC_FILE = Path(__file__).resolve().parents[3] / "roles" / "netfabric" / "meta" / "argument_specs.yml"
# Read from each hypervisor's own variables; every other option is fabric-wide.
HOST_VARS = (
    "netfabric_underlay_ip",
    "netfabric_uplink",
    "netfabric_datapath_type",
    "netfabric_backend",
    "netfabric_provider_vlans",
    "netfabric_provider_nic",
    "netfabric_ports",
    "netfabric_external",
    "netfabric_libvirt",
    "netfabric_dpdk",
    "netfabric_netns_prefix",
    "netfabric_ovs_db",
    "netfabric_state_dir",  # per host too: hosts that share a filesystem (the namespace lab) need their own
)
# Per host these fall back to the fabric-wide value, not to the spec's default.
_HOST_DEFAULT_IS_FABRIC = ("netfabric_state_dir",)


@lru_cache(maxsize=1)
def options() -> dict[str, dict]:
    """The role's options, as written in the file (descriptions included)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: this file is large
    return yaml.load(SPEC_FILE.read_text(encoding="utf-8"), Loader=loader)["argument_specs"]["main"]["options"]  # noqa: S506 (a safe loader)


def _flat(spec: dict[str, dict]) -> dict[str, dict]:
    """Options without docs and without nested `options` (lists of dicts are checked one element at a time)."""
    keep = ("type", "elements", "required", "default", "choices")
    return {name: {k: v for k, v in option.items() if k in keep} for name, option in spec.items()}


class Validators:
    """One ArgumentSpecValidator per level: host, fabric, tenant, port, and the dicts inside them."""

    def __init__(self, spec: dict[str, dict]):
        flat = _flat(spec)
        host = {name: dict(flat[name]) for name in HOST_VARS}
        for name in _HOST_DEFAULT_IS_FABRIC:
            host[name].pop("default", None)
        self.host = ArgumentSpecValidator(host)
        self.fabric = ArgumentSpecValidator({name: option for name, option in flat.items() if name not in HOST_VARS or name in _HOST_DEFAULT_IS_FABRIC})
        self.tenant = ArgumentSpecValidator(_flat(spec["netfabric_tenants"]["options"]))
        self.port = ArgumentSpecValidator(_flat(spec["netfabric_ports"]["options"]))
        tenant = spec["netfabric_tenants"]["options"]
        self.subnet = ArgumentSpecValidator(_flat(tenant["subnets"]["options"]))
        self.floating_ip = ArgumentSpecValidator(_flat(tenant["floating_ips"]["options"]))
        self.external = ArgumentSpecValidator(_flat(spec["netfabric_external"]["options"]))
        self.libvirt = ArgumentSpecValidator(_flat(spec["netfabric_libvirt"]["options"]))
        self.dpdk = ArgumentSpecValidator(_flat(spec["netfabric_dpdk"]["options"]))
        self.bond = ArgumentSpecValidator(_flat(spec["netfabric_uplink"]["options"]))  # a bonded NIC (nic.py)
        self.fabric_vars = tuple(name for name in spec if name not in HOST_VARS or name in _HOST_DEFAULT_IS_FABRIC)
        self.defaults = {name: option.get("default") for name, option in flat.items()}


@lru_cache(maxsize=1)
def validators() -> Validators:
    return Validators(options())


def check(validator: ArgumentSpecValidator, params: dict[str, Any], where: str, problems: list[str], *, variables: bool = False) -> dict[str, Any] | None:
    """`params` typed and with defaults, or None after adding each problem (prefixed by `where`) to `problems`.

    None values count as not given, as in the roles' defaults. Unknown keys are typos, reported with
    the allowed ones, except at the top (`variables`): a host has many variables that are not ours.
    """
    given = {key: value for key, value in params.items() if value is not None and (not variables or key in validator.argument_spec)}
    # Lists of dicts are checked here as lists of dicts only (each element gets its own check next):
    # empty stand-ins spare the validator copying every tenant and port.
    nested = {key: value for key, value in given.items() if validator.argument_spec.get(key, {}).get("elements") == "dict" and isinstance(value, list)}
    result = validator.validate({**given, **{key: [{} if isinstance(e, dict) else e for e in value] for key, value in nested.items()}})
    found = [f"{where}: {error.msg}" for error in result.errors.errors if not isinstance(error, UnsupportedError)]
    allowed = ", ".join(validator.argument_spec)
    found += [f"{where}: unknown key {key!r} (allowed: {allowed})" for key in sorted(map(str, result.unsupported_parameters))]
    problems.extend(found)
    if found:
        return None
    validated = result.validated_parameters
    for key, value in nested.items():  # the elements themselves; strings Ansible read as key=value stay converted
        validated[key] = [element if isinstance(element, dict) else converted for element, converted in zip(value, validated[key])]
    return validated


def check_each(validator: ArgumentSpecValidator, params: dict[str, Any], where: str, problems: list[str]) -> tuple[dict[str, Any], set[str]]:
    """Variables typed and with defaults, and the names of those that failed (problems added), which
    are left at their default (None when required): the other checks still run on the rest."""
    validated = check(validator, params, where, problems, variables=True)
    if validated is not None:
        return validated, set()
    spec = validator.argument_spec
    values = {name: option.get("default") for name, option in spec.items()}
    bad = set()
    for name in spec:
        alone = check(_alone(validator, name), params, where, [], variables=True)
        if alone is None:
            bad.add(name)
        elif params.get(name) is not None:
            values[name] = alone[name]
    return values, bad


_ALONE: dict[tuple[int, str], ArgumentSpecValidator] = {}


def _alone(validator: ArgumentSpecValidator, name: str) -> ArgumentSpecValidator:
    """A validator of one option (without its default, so a missing required one is noticed)."""
    key = (id(validator), name)
    if key not in _ALONE:
        _ALONE[key] = ArgumentSpecValidator({name: {k: v for k, v in validator.argument_spec[name].items() if k != "default"}})
    return _ALONE[key]
