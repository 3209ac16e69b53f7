# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_netns: one named network namespace and the net.* sysctls inside it, through the one module flow.

    validate  netns_want: the name, every sysctl key and value checked before the host is touched
    read      `ip -j netns list`; then, when it exists, `ip netns exec N sysctl K...` (present with
              sysctls) or `ip netns pids N` (absent)
    plan      plan_netns: pure, `ip -batch` lines (`netns add`, `netns exec N sysctl -q -w K=V...`,
              `netns del`)
    write     one `ip -batch -`: ip runs `netns exec` in batch mode too (it forks for it and stops the
              batch when the command fails), so creating the namespace and setting its sysctls is one
              call; undone when it fails (a namespace this call created is deleted again, sysctls it
              changed get their old values back)

A namespace's sysctls exist only while it does, and each namespace has its own copy of net.*, so
they are set inside it, never on the host.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.batch import BatchFailed, NotApplied, run_batch, shown
from ansible_collections.netfabric.ovs.plugins.module_utils._iproute.read import ip_runner
from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, int_range, netns_name

STATES = ("present", "absent")
SYSCTL_KEY = re.compile(r"net(\.[A-Za-z0-9_-]+)+")
SYSCTL_KEY_RULE = "net. followed by dot-separated parts of A-Z a-z 0-9 _ - (like net.ipv4.ip_forward)"
# Values travel as words of `ip -batch` lines, where whitespace splits words, quotes group them, '#'
# starts a comment and '\' escapes: none of those, and nothing unprintable.
_VALUE_BAD = frozenset("\"'#\\")
SYSCTL_VALUE_RULE = "an integer or a string of printable ASCII without whitespace, quotes, '#' or '\\'"
# What sysctl(8) says of a key the kernel lacks in this namespace.
NO_KEY = re.compile(r"cannot stat /proc/sys/(\S+?):")

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(STATES)),
    sysctls=dict(type="dict", default={}),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True)


def sysctl_key(field, key):
    if not isinstance(key, str) or not SYSCTL_KEY.fullmatch(key):
        raise ValidationError(f"{field}: key {key!r} is not a network sysctl ({SYSCTL_KEY_RULE})")
    return key


def sysctl_value(field, value):
    """A value as the kernel prints it back: integers in plain decimal, so `01` and 1 both mean 1."""
    if isinstance(value, bool):
        raise ValidationError(f"{field}: {value!r} is a boolean; give the number the kernel takes (1 or 0)")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field}: {value!r} is not {SYSCTL_VALUE_RULE}")
    bad = next((ch for ch in value if not " " < ch < "\x7f" or ch in _VALUE_BAD), None)
    if bad is not None:
        raise ValidationError(f"{field}: {value!r} is not {SYSCTL_VALUE_RULE}: contains {bad!r}")
    return str(int(value)) if re.fullmatch(r"[-+]?[0-9]+", value) else value


def netns_want(params):
    """Check every parameter; sysctls come back as {key: canonical text} in the order given."""
    name = netns_name("name", params.get("name"))
    given = params.get("sysctls") or {}
    if not isinstance(given, dict):
        raise ValidationError("sysctls: must be a dictionary of sysctl keys to values")
    sysctls = {sysctl_key("sysctls", key): sysctl_value(f"sysctls.{key}", value) for key, value in given.items()}
    return {
        "name": name,
        "state": params["state"],
        # checked either way, so one dict serves both states; a namespace deleted takes its sysctls along
        "sysctls": sysctls if params["state"] == "present" else {},
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
    }


def listed(raw, name):
    """Is `name` in `ip -j netns list` (which prints nothing at all when there is no namespace)?"""
    return any(entry.get("name") == name for entry in raw or [])


def parse_sysctls(out, keys):
    """`sysctl K...` output (`key = value` lines) as ({key: value}, [keys it did not print])."""
    printed = {}
    for line in (out or "").splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            printed[key.strip()] = value.strip()
    values = {key: printed[key] for key in keys if key in printed}
    return values, [key for key in keys if key not in printed]


def missing_keys(stderr):
    """Keys sysctl(8) could not find, from its `cannot stat /proc/sys/a/b` messages, as a.b."""
    return [path.replace("/", ".") for path in NO_KEY.findall(stderr or "")]


def plan_netns(want, have, sysctl="sysctl"):
    """The `ip -batch` lines that make the namespace as `want` says, and its before/after views.

    `have` is {exists, sysctls (the asked keys that exist, as read), missing, pids: [(pid, comm)]}.
    Raises ValidationError for what only the read shows: a sysctl the kernel lacks, processes in a
    namespace to delete.
    """
    name = want["name"]
    before = {"exists": have["exists"], "sysctls": dict(have["sysctls"])}
    if want["state"] == "absent":
        if not have["exists"]:
            return [], before, before
        if have["pids"]:
            running = ", ".join(f"{pid} ({comm})" for pid, comm in have["pids"])
            raise ValidationError(f"name: network namespace {name!r} still has processes in it: {running}; "
                                  "stop them first (nothing was changed)")
        return [["netns", "del", name]], before, {"exists": False, "sysctls": {}}
    if have.get("missing"):
        raise ValidationError(_no_such_sysctls(have["missing"], name, have.get("said")))
    lines = [] if have["exists"] else [["netns", "add", name]]
    differ = {key: value for key, value in want["sysctls"].items() if have["sysctls"].get(key) != value}
    if differ:
        lines.append(["netns", "exec", name, sysctl, "-q", "-w"] + [f"{key}={value}" for key, value in differ.items()])
    return lines, before, {"exists": True, "sysctls": dict(have["sysctls"], **want["sysctls"])}


def restore_lines(want, have, now, sysctl="sysctl"):
    """Lines from the state read `now` back to `have` (both as plan_netns takes them)."""
    name = want["name"]
    if not have["exists"]:
        return [["netns", "del", name]] if now["exists"] else []
    if not now["exists"]:
        return [["netns", "add", name]]  # someone else deleted it meanwhile; its old sysctls are gone
    back = {key: value for key, value in have["sysctls"].items() if now["sysctls"].get(key) != value}
    return [["netns", "exec", name, sysctl, "-q", "-w"] + [f"{k}={v}" for k, v in back.items()]] if back else []


def _no_such_sysctls(keys, name, said=None):
    detail = f" ({' '.join(said.split())})" if said else ""
    return (f"sysctls: {', '.join(keys)} {'is not a sysctl' if len(keys) == 1 else 'are not sysctls'} of this "
            f"kernel's network namespaces (no file under /proc/sys in namespace {name!r}){detail}")


class Host:
    """The reads and the write of one namespace, with `ip` and `sysctl` resolved once."""

    def __init__(self, module, want):
        self.module = module
        self.want = want
        self.ip = ip_runner(module, None, want["timeout"])
        self.sysctl = module.get_bin_path("sysctl", required=True) if want["sysctls"] else "sysctl"

    def exists(self):
        return listed(self.ip.run_json(["-j", "netns", "list"]), self.want["name"])

    def sysctls(self, runner, prefix):
        """Read the asked keys with `prefix + [sysctl, K...]`: ({key: value}, missing keys, sysctl's stderr)."""
        keys = list(self.want["sysctls"])
        try:
            return parse_sysctls(runner.run(prefix + [self.sysctl] + keys), keys) + ("",)
        except CommandError as exc:
            values, missing = parse_sysctls(exc.stdout, keys)
            if exc.rc is None or not missing:
                raise  # killed at its deadline, or failed for another reason than a missing key
            return values, missing, exc.stderr

    def pids(self):
        """[(pid, command)] of the processes in the namespace (command from /proc/PID/comm)."""
        found = []
        for pid in self.ip.run(["netns", "pids", self.want["name"]]).split():
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
                    found.append((int(pid), comm.read().strip()))
            except OSError:
                pass  # gone since ip listed it
        return found

    def read(self):
        """What plan_netns takes; `sysctls` only for a namespace that exists (a new one starts with the
        kernel's defaults, whatever they are)."""
        want = self.want
        have = {"exists": self.exists(), "sysctls": {}, "missing": [], "said": "", "pids": []}
        if have["exists"] and want["sysctls"]:
            have["sysctls"], have["missing"], have["said"] = self.sysctls(self.ip, ["netns", "exec", want["name"]])
        if have["exists"] and want["state"] == "absent":
            have["pids"] = self.pids()
        return have

    def offer(self):
        """Check mode, for a namespace not made yet: ask a throwaway one (`unshare --net`) whether the
        kernel has every sysctl, so --check fails where the real run would."""
        scratch = Runner(self.module, "unshare", ["--net", "--"], timeout=self.want["timeout"])
        _values, missing, said = self.sysctls(scratch, [])
        if missing:
            raise ValidationError(_no_such_sysctls(missing, self.want["name"], said))

    def write(self, lines, have):
        """One `ip -batch -`. When it fails, whatever ran is undone from a fresh read: sysctl(8) goes on
        past a key it cannot set, so even a failing line may have changed something. Only a failed
        `netns add` (someone else's namespace of that name appeared meanwhile) is left alone."""
        try:
            run_batch(self.ip, lines)
            return
        except BatchFailed as exc:
            failure = exc
        rollback, problem = [], None
        if not (failure.applied == 0 and lines[0][:2] == ["netns", "add"]):
            try:
                rollback = restore_lines(self.want, have, self.now(), self.sysctl)
                if rollback:
                    run_batch(self.ip, rollback)
                problem = differs(have, self.now())
            except CommandError as exc:
                problem = f"{exc}"
        error = NotApplied(self.ip, failure, rollback, problem)
        unknown = missing_keys(failure.stderr)
        if unknown:
            error.args = (f"{_no_such_sysctls(unknown, self.want['name'])}; {error}",)
        raise error

    def now(self):
        """A fresh read of what the write touches: exists, and the asked sysctls when it does."""
        now = {"exists": self.exists(), "sysctls": {}}
        if now["exists"] and self.want["sysctls"]:
            now["sysctls"] = self.sysctls(self.ip, ["netns", "exec", self.want["name"]])[0]
        return now


def differs(have, now):
    """None when a fresh read shows the state read before the write, else what differs."""
    if have["exists"] != now["exists"]:
        return f"the namespace {'is gone' if have['exists'] else 'still exists'}"
    if have["exists"] and have["sysctls"] != now["sysctls"]:
        return f"its sysctls were {have['sysctls']} and are now {now['sysctls']}"
    return None


def run_netns(module):
    """ip_netns: one named network namespace as the parameters say."""
    ctx = {}

    def validate(params):
        want = netns_want(params)
        ctx.update(want=want, host=Host(module, want))
        return want

    def read(want):
        return ctx["host"].read()

    def plan(want, have):
        lines, before, after = plan_netns(want, have, ctx["host"].sysctl)
        ctx.update(lines=lines, have=have, after=after)
        return Change(commands=shown(ctx["host"].ip, lines), before=before, after=after)

    def offer(change):
        if not ctx["have"]["exists"] and ctx["want"]["sysctls"]:
            ctx["host"].offer()

    def apply(change):
        ctx["host"].write(ctx["lines"], ctx["have"])

    def reread(want):
        """The state read back, which must be what was asked: a sysctl the kernel keeps in another form
        than the one given would otherwise be written again on every run."""
        now = ctx["host"].now()
        wrong = [f"{key} reads back as {now['sysctls'].get(key)!r}, not {value!r}"
                 for key, value in want["sysctls"].items() if now["sysctls"].get(key) != value]
        if now["exists"] != ctx["after"]["exists"] or wrong:
            state = "; ".join(wrong) or ("does not exist" if ctx["after"]["exists"] else "still exists")
            raise Unhealthy(f"network namespace {want['name']!r} after the write: {state} "
                            "(give each sysctl in the form the kernel prints it)")
        return now

    run(module, validate=validate, read=read, plan=plan, apply=apply, offer=offer, reread=reread)
