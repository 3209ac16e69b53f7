# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ethtool_features: offload features of one interface, optionally in a named namespace, through the one
module flow.

    validate  features_want: dev, netns, every feature name and value checked before the host is touched
    read      `ethtool --json -k DEV` (ethtool 5.17 and later print features as JSON; Debian 12 has 6.1),
              run as `ip netns exec NS ethtool ...` when netns is given
    plan      plan_features: pure; refuses names the device does not have (naming close ones) and
              features the driver keeps fixed at the other value; the features that differ, in order
    write     one `ethtool -K DEV NAME on|off ...`, then a read back: ethtool exits 0 when it changed only
              some of them, so what the kernel kept is found there and fails the task

Why the module exists: on Open vSwitch's userspace (netdev) datapath a packet a namespace sends over a
veth with TX checksum offload on leaves with its checksum unfinished, and receivers drop it (DHCP
offers never accepted), so the namespace ends of those veths need `tx-checksumming` off.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import difflib
import os
import re

from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner, warn_assumed
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, ifname, int_range, netns_name

# Feature names as the kernel and ethtool spell them (`tx-checksum-ip-generic`, `tx-udp_tnl-segmentation`).
FEATURE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
FEATURE_RULE = "1-64 characters a-z 0-9 _ -, starting with a letter or digit, as `ethtool -k` prints it"
VALUE_RULE = "a boolean or on/off"
_WORDS = {"on": True, "off": False}
# ethtool -K's short names (ethtool(8)), each for the name `ethtool -k` prints. The module takes either
# and reports the long one; -K itself takes both, so the long name is what it is given.
ALIASES = {
    "rx": "rx-checksumming",
    "tx": "tx-checksumming",
    "sg": "scatter-gather",
    "tso": "tcp-segmentation-offload",
    "ufo": "udp-fragmentation-offload",
    "gso": "generic-segmentation-offload",
    "gro": "generic-receive-offload",
    "lro": "large-receive-offload",
    "rxvlan": "rx-vlan-offload",
    "txvlan": "tx-vlan-offload",
    "ntuple": "ntuple-filters",
    "rxhash": "receive-hashing",
}
# What ethtool or `ip netns exec` say when the device or the namespace is not there.
NO_DEVICE = ("no device matches name", "No such device")
NO_NETNS = "Cannot open network namespace"
# What ethtool -K says, exiting 1, when the driver refused every change (after some, it exits 0).
NONE_CHANGED = "Could not change any device features"

ARGUMENT_SPEC = dict(
    dev=dict(type="str", required=True),
    netns=dict(type="str"),
    features=dict(type="dict", required=True),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True)


def feature_value(field, value):
    """True or False from a boolean or the words ethtool prints (YAML already reads bare on/off as booleans)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _WORDS:
        return _WORDS[value.lower()]
    raise ValidationError(f"{field}: {value!r} is not {VALUE_RULE}")


def features_want(params):
    """Check every parameter; features come back as {long name: bool} in the order given."""
    given = params.get("features")
    if not isinstance(given, dict):
        raise ValidationError("features: must be a dictionary of feature names to booleans (or on/off)")
    features, named = {}, {}
    for key, value in given.items():
        if not isinstance(key, str) or not FEATURE_NAME.fullmatch(key):
            raise ValidationError(f"features: {key!r} is not a feature name ({FEATURE_RULE})")
        name = ALIASES.get(key, key)
        if name in named:
            raise ValidationError(f"features: {named[name]!r} and {key!r} name the same feature ({name}); give it once")
        named[name] = key
        features[name] = feature_value(f"features.{key}", value)
    netns = params.get("netns")
    return {
        "dev": ifname("dev", params.get("dev")),
        "netns": None if netns is None else netns_name("netns", netns),
        "features": features,
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
    }


def parse_features(raw):
    """`ethtool --json -k DEV` as {name: {"on": bool, "fixed": bool}}.

    A group (`tx-checksumming`, `scatter-gather`, `tcp-segmentation-offload`) is on when any of its
    features is; ethtool gives it no fixed flag (null), so it counts as changeable and -K decides.
    """
    entry = raw[0] if isinstance(raw, list) and raw else {}
    return {name: {"on": bool(state.get("active")), "fixed": state.get("fixed") is True}
            for name, state in entry.items() if isinstance(state, dict)}


def where(want):
    return f"{want['dev']!r}" + (f" in network namespace {want['netns']!r}" if want["netns"] else "")


def _words(features):
    return [word for name, on in features.items() for word in (name, _word(on))]


def plan_features(want, have):
    """The -K arguments (`[NAME, on|off, ...]`, empty when nothing differs) and before/after of the asked
    features. Raises ValidationError for what only the read shows: names the device lacks, fixed features."""
    unknown = [name for name in want["features"] if name not in have]
    if unknown:
        raise ValidationError("; ".join(_unknown(name, have, where(want)) for name in unknown))
    before = {name: have[name]["on"] for name in want["features"]}
    differ = {name: on for name, on in want["features"].items() if before[name] != on}
    fixed = [name for name in differ if have[name]["fixed"]]
    if fixed:
        raise ValidationError("features: " + ", ".join(f"{name} is fixed {_word(before[name])}" for name in fixed)
                              + f" on {where(want)}: the driver does not let {'it' if len(fixed) == 1 else 'them'} change")
    return _words(differ), before, dict(before, **differ)


def _unknown(name, have, place):
    close = difflib.get_close_matches(name, list(have), n=5, cutoff=0.6)
    hint = f"; close names: {', '.join(close)}" if close else ""
    return f"features: {name!r} is not a feature of {place} (names as `ethtool -k` prints them{hint})"


def not_taken(want, now):
    """The asked features the kernel does not show as asked after the write."""
    return {name: now[name]["on"] for name, on in want["features"].items() if name in now and now[name]["on"] != on}


def also_changed(want, have, now):
    """Features not asked for that the write changed too (turning tx-checksumming off takes TSO along)."""
    return {name: state["on"] for name, state in now.items()
            if name not in want["features"] and name in have and have[name]["on"] != state["on"]}


class Device:
    """The read and the write of one device's features, in its namespace."""

    def __init__(self, module, want):
        self.want = want
        self.said = ""  # what ethtool or `ip netns exec` said when the read found nothing
        self.ethtool = Runner(module, "ethtool", netns=want["netns"], timeout=want["timeout"])

    def read(self):
        """Every feature of the device, or None when the device (or its namespace) is not there."""
        try:
            return parse_features(self.ethtool.run_json(["--json", "-k", self.want["dev"]]))
        except CommandError as exc:
            said = f"{exc.stderr}\n{exc.stdout}"
            if exc.rc is not None and any(text in said for text in NO_DEVICE + (NO_NETNS,)):
                self.said = said
                return None
            raise

    def missing(self):
        return (f"netns: no network namespace {self.want['netns']!r}" if NO_NETNS in self.said
                else f"dev: no interface {where(self.want)}")

    def write(self, words):
        """One -K call; its report of what it changed (`Actual changes:`) is returned for the messages."""
        return self.ethtool.run(["-K", self.want["dev"]] + words)

    def shown(self, words):
        """The write as the user would type it: `[ip netns exec NS] ethtool -K DEV ...`."""
        prefix = ["ip", "netns", "exec", self.want["netns"]] if self.want["netns"] else []
        return [prefix + [os.path.basename(self.ethtool.binary), "-K", self.want["dev"]] + words]


def run_features(module):
    """ethtool_features: the asked offload features of one interface as the parameters say."""
    ctx = {}

    def validate(params):
        want = features_want(params)
        ctx.update(device=Device(module, want))
        return want

    def read(want):
        return ctx["device"].read()

    def plan(want, have):
        device = ctx["device"]
        ctx["have"] = have
        if have is None:
            if not module.check_mode:
                raise ValidationError(device.missing())
            warn_assumed(module, device.missing())
            words = _words(want["features"])
            ctx["words"] = words
            return Change(commands=device.shown(words), before=None, after=dict(want["features"]),
                          extra={"also_changed": {}})
        words, before, after = plan_features(want, have)
        ctx["words"] = words
        return Change(commands=device.shown(words) if words else [], before=before, after=after,
                      extra={"also_changed": {}})

    def apply(change):
        device = ctx["device"]
        try:
            ctx["said"] = device.write(ctx["words"])
        except CommandError as exc:
            said = " ".join(f"{exc.stdout} {exc.stderr}".split())
            if exc.rc is not None and NONE_CHANGED in said:
                exc.args = (f"features: the kernel took none of {', '.join(ctx['words'][::2])} on "
                            f"{where(device.want)} (ethtool said: {said})",)
            raise
        ctx["change"] = change

    def reread(want):
        """The asked features as read back; ethtool exits 0 when it changed only some, so this decides."""
        now = ctx["device"].read()
        if now is None:
            raise Unhealthy(ctx["device"].missing() + " after the write (removed meanwhile?)")
        ctx["change"].extra["also_changed"] = also_changed(want, ctx["have"], now)
        kept = not_taken(want, now)
        if kept:
            said = " ".join((ctx.get("said") or "").split())
            reads = ", ".join(f"{name} reads {_word(on)}" for name, on in kept.items())
            raise Unhealthy(f"features: after `ethtool -K` on {where(want)}, {reads}, not as asked: the kernel did not "
                            f"take {'it' if len(kept) == 1 else 'them'} (ethtool said: {said or 'nothing'})")
        return {name: now[name]["on"] for name in want["features"]}

    run(module, validate=validate, read=read, plan=plan, apply=apply, reread=reread)


def _word(on):
    return "on" if on else "off"
