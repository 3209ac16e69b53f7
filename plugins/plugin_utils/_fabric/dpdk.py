# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hosts whose Open vSwitch runs DPDK (`netfabric_dpdk`): its settings, its NICs, vhost-user VM ports.

`netdev` is OVS's userspace datapath; with DPDK, the switch polls NICs itself (PMD threads) instead of
reading them through the kernel. The inventory says which NICs (`nics`: the uplink today; each NIC's
interface is built by `nic_interface`, so a bond can make its members DPDK ports the same way) and which
VM ports are vhost-user sockets rather than taps. Values are checked with the modules' own rules
(module_utils/_dpdk.py).

    settings        netfabric_dpdk checked -> Dpdk, None when not given
    checks          across a host: netdev only, NICs the host has, vhost-user ports only with DPDK
    nic_interface   {type, options, mtu_request} of a DPDK NIC's port, or {} for a kernel NIC
    vhost_port      {type, options} of a vhost-user VM port, or {}
    host_plan       {"dpdk": ovs_dpdk arguments} on DPDK hosts, {} elsewhere (their plans stay as they were)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.netfabric.ovs.plugins.module_utils import _dpdk, _validate

NIC_KEYS = ("devargs", "n_rxq", "mtu")
MTU_RANGE = (68, 65535)


@dataclass(frozen=True)
class Nic:
    devargs: str
    n_rxq: int | None
    mtu: int | None  # None: the fabric's underlay MTU


@dataclass(frozen=True)
class Dpdk:
    """A host's netfabric_dpdk, checked; masks in OVS's form ("0x6")."""

    socket_mem: tuple[int, ...] | None
    lcore_mask: str | None
    pmd_cpu_mask: str | None
    extra: str | None
    nics: tuple[tuple[str, Nic], ...]
    vhost_socket_dir: str

    def nic(self, name: str) -> Nic | None:
        return dict(self.nics).get(name)


def settings(raw: dict | None, where: str, problems: list[str]) -> Dpdk | None:
    """netfabric_dpdk checked against its declared options and the modules' value rules; None when not given."""
    if raw is None:
        return None
    from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric import spec  # spec loads the role's file

    here = f"{where}: netfabric_dpdk"
    raw = spec.check(spec.validators().dpdk, raw, here, problems)
    if raw is None:
        return None
    before = len(problems)
    values = {}
    given = tuple(option for option in ("lcore_mask", "socket_mem") if raw[option] is not None)
    for option, check in (("socket_mem", _dpdk.socket_mem), ("lcore_mask", _dpdk.mask), ("pmd_cpu_mask", _dpdk.mask),
                          ("extra", lambda field, value: _dpdk.extra(field, value, given))):
        values[option] = _checked(check, f"{here}.{option}", raw[option], problems) if raw[option] is not None else None
    if values["socket_mem"] is not None:  # checked; ovs_dpdk takes the list
        values["socket_mem"] = tuple(int(mb) for mb in raw["socket_mem"])
    path = raw["vhost_socket_dir"]
    if (problem := _validate.path_problem(path, strict=True)) is not None:
        problems.append(f"{here}.vhost_socket_dir {path!r} is not {_validate.STRICT_PATH_RULE}: {problem}")
    nics = []
    for name, nic in sorted(raw["nics"].items(), key=lambda item: str(item[0])):
        field = f"{here}.nics.{name}"
        if (problem := _validate.ifname_problem(name)) is not None:
            problems.append(f"{field}: {name!r} is not a valid interface name ({_validate.IFNAME_RULE}): {problem}")
            continue
        if not isinstance(nic, dict):
            problems.append(f"{field}: {nic!r} is not a dict of {', '.join(NIC_KEYS)}")
            continue
        unknown = sorted(str(key) for key in nic if key not in NIC_KEYS)
        if unknown:
            problems.append(f"{field}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(NIC_KEYS)})")
            continue
        if nic.get("devargs") is None:
            problems.append(f"{field}.devargs: required ({_dpdk.DEVARGS_RULE})")
            continue
        devargs = _checked(_dpdk.devargs, f"{field}.devargs", nic["devargs"], problems)
        n_rxq = _checked(_dpdk.n_rxq, f"{field}.n_rxq", nic["n_rxq"], problems) if nic.get("n_rxq") is not None else None
        mtu = _checked(lambda f, value: _validate.int_range(f, value, MTU_RANGE), f"{field}.mtu", nic["mtu"], problems) if nic.get("mtu") is not None else None
        nics.append((name, Nic(devargs, n_rxq, mtu)))
    if len(problems) > before:
        return None
    return Dpdk(values["socket_mem"], values["lcore_mask"], values["pmd_cpu_mask"], values["extra"], tuple(nics), path)


def _checked(check, field: str, value: Any, problems: list[str]) -> Any:
    try:
        return check(field, value)
    except _validate.ValidationError as exc:
        problems.append(str(exc))
        return None


def vhost_path(dpdk: Dpdk, port: str) -> str:
    return f"{dpdk.vhost_socket_dir.rstrip('/')}/{port}"


def checks(hosts: dict[str, Any], problems: list[str]) -> None:
    """DPDK needs the userspace datapath; its NICs are NICs the host uses; vhost-user ports need DPDK."""
    for host in hosts.values():
        where = f"host {host.name}"
        vhost = [p.name for p in host.ports if p.vhostuser]
        if host.dpdk is None:
            if vhost:
                problems.append(f"{where}: ports {', '.join(vhost)} have vhostuser: true but the host has no (valid) netfabric_dpdk")
            continue
        if host.backend != "ovs" or host.datapath_type != "netdev":
            problems.append(f"{where}: netfabric_dpdk needs netfabric_datapath_type netdev (OVS's userspace datapath; "
                            f"this host has {host.datapath_type if host.backend == 'ovs' else 'netfabric_backend ' + host.backend})")
        for name, _nic in host.dpdk.nics:
            if name != host.uplink:
                problems.append(f"{where}: netfabric_dpdk.nics.{name}: not a NIC of the fabric on this host (allowed: {host.uplink}, the netfabric_uplink)")
        for port in vhost:
            path = vhost_path(host.dpdk, port)
            if len(path.encode()) > _dpdk.SOCKET_PATH_MAX:
                problems.append(f"{where} port {port}: vhost-user socket {path!r} is longer than a unix socket path may be "
                                f"({_dpdk.SOCKET_PATH_MAX} bytes): shorten netfabric_dpdk.vhost_socket_dir")


def nic_interface(host: Any, name: str, underlay_mtu: int) -> dict[str, Any]:
    """What makes NIC `name` a DPDK port (ovs_ports port keys), {} for a NIC the kernel drives."""
    nic = host.dpdk.nic(name) if host.dpdk is not None else None
    if nic is None:
        return {}
    options = {"dpdk-devargs": nic.devargs, **({"n_rxq": str(nic.n_rxq)} if nic.n_rxq is not None else {})}
    return {"type": _dpdk.PORT_TYPE, "options": options, "mtu_request": nic.mtu or underlay_mtu}


def vhost_port(host: Any, port: Any) -> dict[str, Any]:
    """What makes a VM port a vhost-user client of the VM's socket (ovs_ports port keys), {} for a tap."""
    if not port.vhostuser or host.dpdk is None:
        return {}
    return {"type": _dpdk.VHOST_TYPE, "options": {"vhost-server-path": vhost_path(host.dpdk, port.name)}}


def host_plan(host: Any) -> dict[str, Any]:
    """{"dpdk": ovs_dpdk arguments} for a DPDK host; {} for others."""
    if host.dpdk is None:
        return {}
    d = host.dpdk
    args = {"init": True, "socket_mem": list(d.socket_mem) if d.socket_mem else None, "lcore_mask": d.lcore_mask,
            "pmd_cpu_mask": d.pmd_cpu_mask, "extra": d.extra}
    return {"dpdk": {key: value for key, value in args.items() if value is not None}}
