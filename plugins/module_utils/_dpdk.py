# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DPDK: the rules of its settings and ports, and the Open_vSwitch other_config keys that hold them.

The inventory (plugin_utils/_fabric/dpdk.py) and the modules check values with the same functions
here, so whatever the inventory accepts, ovs_dpdk and ovs_ports accept too.

ovs-vswitchd reads dpdk-init when it changes and initializes DPDK's EAL once, with dpdk-socket-mem,
dpdk-lcore-mask and dpdk-extra as they are at that moment; later changes of those three take effect
at its next start. pmd-cpu-mask is applied at once.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import json
import re

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._module import OVSDB_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._ovsdb import atom, decode, transaction_argv
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, daemon_error, vsctl_runner

# option of ovs_dpdk (and of the inventory's netfabric_dpdk) -> its Open_vSwitch other_config key
KEYS = {
    "init": "dpdk-init",
    "socket_mem": "dpdk-socket-mem",
    "lcore_mask": "dpdk-lcore-mask",
    "pmd_cpu_mask": "pmd-cpu-mask",
    "extra": "dpdk-extra",
}
EAL_KEYS = ("dpdk-socket-mem", "dpdk-lcore-mask", "dpdk-extra")  # read once, when DPDK initializes
# EAL options OVS derives from a key of its own: given in dpdk-extra as well, EAL refuses to start
EXTRA_CLASHES = {"lcore_mask": ("-c", "-l", "--lcores"), "socket_mem": ("--socket-mem", "-m")}
SOCKET_MEM_MB = (0, 1048576)  # per NUMA node
N_RXQ = (1, 1024)
SOCKET_PATH_MAX = 107
PORT_TYPE = "dpdk"
VHOST_TYPE = "dpdkvhostuserclient"  # OVS connects to the socket the VM's QEMU serves (survives a switch restart)
MASK_RULE = "a non-zero hexadecimal CPU mask like 0x6 (a string; YAML reads an unquoted 0x6 as the number 6, also accepted)"
DEVARGS_RULE = "a DPDK device: a PCI address like 0000:01:00.0 or a virtual device like net_af_packet0,iface=eth1 (no whitespace)"

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    init=dict(type="bool", default=True),
    socket_mem=dict(type="list", elements="int"),
    lcore_mask=dict(type="raw"),
    pmd_cpu_mask=dict(type="raw"),
    extra=dict(type="str"),
    **OVSDB_ARGS,
)
_HEX = re.compile(r"(0x)?([0-9a-f]+)")
# ovs-vswitchd starts DPDK's EAL inside the transaction that first sets dpdk-init true (memory, devices),
# and ovs-vsctl waits for that: this write may take at least this many seconds, whatever `timeout` says
# (a CI run saw more than 5 s without hugepages on a loaded machine; hugepages and real NICs take longer).
EAL_START_SECONDS = 120


def mask(field, value):
    """A CPU mask as OVS takes it ("0x6"); an int is a mask too (YAML's reading of 0x6)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := _HEX.fullmatch(value.strip().lower())):
        number = int(match.group(2), 16)
    else:
        number = None
    if number is None or number <= 0:
        raise v.ValidationError(f"{field}: {value!r} is not {MASK_RULE}")
    return hex(number)


def socket_mem(field, value):
    """Megabytes per NUMA node, node 0 first -> OVS's "1024,1024"."""
    if not isinstance(value, list) or not value:
        raise v.ValidationError(f"{field}: {value!r} is not a list of megabytes per NUMA node (like [1024, 1024])")
    return ",".join(str(v.int_range(f"{field}[{index}]", mb, SOCKET_MEM_MB)) for index, mb in enumerate(value))


def extra(field, value, given=()):
    """dpdk-extra: EAL arguments, split by OVS at whitespace; none that a key in `given` already makes."""
    if not isinstance(value, str) or not value.strip() or any(ch < " " or ch == "\x7f" for ch in value):
        raise v.ValidationError(f"{field}: {value!r} is not a line of EAL arguments (no control characters, not empty)")
    words = value.split()
    for option in given:
        for clash in EXTRA_CLASHES.get(option, ()):
            if any(word == clash or word.startswith(clash + "=") for word in words):
                raise v.ValidationError(f"{field}: {clash} clashes with {option} (OVS derives {clash} from {KEYS[option]}); give one of them")
    return " ".join(words)


def devargs(field, value):
    if not isinstance(value, str) or not value or any(ch <= " " or ch == "\x7f" for ch in value):
        raise v.ValidationError(f"{field}: {value!r} is not {DEVARGS_RULE}")
    return value


def n_rxq(field, value):
    return v.int_range(field, value, N_RXQ)


def vhost_server_path(field, value):
    """Where the VM's QEMU serves the vhost-user socket: a unix socket path (sun_path holds 107 bytes)."""
    v.abs_path(field, value, strict=True)
    if len(value.encode()) > SOCKET_PATH_MAX:
        raise v.ValidationError(f"{field}: {value!r} is longer than a unix socket path may be ({SOCKET_PATH_MAX} bytes)")
    return value


# port type -> {option: (required, check)}: what ovs_ports checks before a DPDK port touches OVSDB
PORT_RULES = {
    PORT_TYPE: {"dpdk-devargs": (True, devargs), "n_rxq": (False, n_rxq)},
    VHOST_TYPE: {"vhost-server-path": (True, vhost_server_path)},
}


def settings(params):
    """ovs_dpdk's parameters -> {other_config key: value or None (removed)}, checked."""
    if params.get("state") == "absent":
        return dict.fromkeys(KEYS.values())
    given = tuple(option for option in ("lcore_mask", "socket_mem") if params.get(option) is not None)
    want = {
        KEYS["init"]: "true" if params.get("init", True) else "false",
        KEYS["socket_mem"]: socket_mem("socket_mem", params["socket_mem"]) if params.get("socket_mem") is not None else None,
        KEYS["lcore_mask"]: mask("lcore_mask", params["lcore_mask"]) if params.get("lcore_mask") is not None else None,
        KEYS["pmd_cpu_mask"]: mask("pmd_cpu_mask", params["pmd_cpu_mask"]) if params.get("pmd_cpu_mask") is not None else None,
        KEYS["extra"]: extra("extra", params["extra"], given) if params.get("extra") is not None else None,
    }
    return want


def read_switch(vsctl):
    """The one read: the Open_vSwitch row's other_config and what ovs-vswitchd says of DPDK."""
    try:
        out = vsctl.run(["--format=json", "--data=json", "--columns=other_config,dpdk_initialized,dpdk_version,cur_cfg,next_cfg",
                         "list", "Open_vSwitch"])
    except CommandError as exc:
        raise daemon_error(exc, "ovsdb-server", vsctl.seconds, "nothing was read or written") from None
    table = json.loads(out)
    row = dict(zip(table["headings"], (decode(value) for value in table["data"][0]))) if table["data"] else {}
    version = row.get("dpdk_version")
    version = (version[0] if version else None) if isinstance(version, list) else version
    return {
        "other_config": row.get("other_config") or {},
        "initialized": row.get("dpdk_initialized") is True,
        "version": None if version in (None, "", "none") else version,  # a build without DPDK says "none"
    }


def plan(want, switch):
    """(commands, before, after): the difference in the five keys only; other keys stay as they are."""
    have = switch["other_config"]
    before = {key: have[key] for key in KEYS.values() if key in have}
    after = {key: value for key, value in want.items() if value is not None}
    commands = []
    sets = [f"other_config:{atom(key)}={atom(value)}" for key, value in sorted(after.items()) if have.get(key) != value]
    if sets:
        commands.append(["set", "Open_vSwitch", "."] + sets)
    removed = [atom(key) for key in sorted(want) if want[key] is None and key in have]
    if removed:
        commands.append(["remove", "Open_vSwitch", ".", "other_config"] + removed)
    return commands, before, after


def main(module):
    """ovs_dpdk: validate, read once, one transaction (waited for), then what ovs-vswitchd made of it."""
    vsctl = vsctl_runner(module)
    planned = {}

    def plan_change(want, switch):
        commands, before, after = plan(want, switch)
        planned["commands"] = commands
        planned["starts_eal"] = want[KEYS["init"]] == "true" and not switch["initialized"]
        restart = sorted(key for key in EAL_KEYS if before.get(key) != after.get(key)) if switch["initialized"] else []
        if commands and restart:
            module.warn(f"DPDK is initialized already: {', '.join(restart)} take effect when ovs-vswitchd restarts")
        extra = {"dpdk_initialized": switch["initialized"], "dpdk_version": switch["version"], "restart_needed": restart}
        if not commands:
            verify(want, switch)
        return Change(commands=[vsctl.argv(transaction_argv(commands))] if commands else [], before=before, after=after, extra=extra)

    def verify(want, switch):
        if module.check_mode or want[KEYS["init"]] != "true" or switch["initialized"]:
            return
        why = ("this ovs-vswitchd is built without DPDK (dpdk_version is empty: run the DPDK build, such as Debian's "
               "openvswitch-switch-dpdk)") if not switch["version"] else "DPDK's EAL did not start (ovs-vswitchd's log says why)"
        raise Unhealthy(f"dpdk-init is true but ovs-vswitchd reports dpdk_initialized false: {why}; DPDK ports cannot work")

    def apply(change):
        writer = vsctl_runner(module, max(module.params["timeout"], EAL_START_SECONDS)) if planned["starts_eal"] else vsctl
        try:
            writer.run(transaction_argv(planned["commands"]))
        except CommandError as exc:
            raise daemon_error(exc, "ovs-vswitchd", writer.seconds, (
                "OVSDB may hold the change (one transaction: all of it or nothing) without ovs-vswitchd having applied it; "
                "a rerun shows which")) from None
        switch = read_switch(vsctl)
        change.extra.update(dpdk_initialized=switch["initialized"], dpdk_version=switch["version"])
        verify(settings(module.params), switch)

    def offer(change):
        vsctl.run(["--dry-run", "--no-wait"] + transaction_argv(planned["commands"]))

    run(module, validate=settings, read=lambda want: read_switch(vsctl), plan=plan_change, apply=apply, offer=offer)
