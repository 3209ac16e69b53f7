# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nft_table: one nftables table the fabric owns, replaced whole in one transaction.

    validate  table_want: names, chains and rules checked; nothing in a rule or text can close the table
    read      `nft -s list table F N` (one call: nft's own canonical text, counters without their numbers)
    compare   both sides made canonical by nft itself: loaded with `nft -s -e -f -` into a throwaway
              network namespace (`unshare --net`), whose echo prints every object as `add ...` lines,
              so `ip saddr 10.0.0.0/24 snat to 1.2.3.4` and nft's own spelling compare equal
    write     one `nft -f -` transaction: create the table if missing, delete it, define it again; the
              kernel applies all of it or nothing, and no packet sees the table half-built
    check     the same transaction through `nft -c -f -` in the real namespace (validated, not applied)

Only the named table is ever written or deleted; no other table is read or listed.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError, int_range, netns_name

FAMILIES = ("inet", "ip", "ip6", "arp", "bridge", "netdev")
CHAIN_TYPES = ("filter", "nat", "route")
HOOKS = ("prerouting", "input", "forward", "output", "postrouting", "ingress", "egress")
POLICIES = ("accept", "drop")
STATES = ("present", "absent")
NAME_MAX = 64
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = f"1-{NAME_MAX} characters A-Z a-z 0-9 _, not starting with a digit"
PRIORITY = re.compile(r"-?[0-9]+|(raw|mangle|dstnat|filter|security|srcnat|out)([+-][0-9]+)?")
# Matches on an interface index, resolved when the rule is loaded: they cannot be made canonical in
# an empty namespace, and break when a link is recreated; the name matches (iifname, oifname) do neither.
BY_INDEX = re.compile(r"(?<![A-Za-z0-9_])(iif|oif)(?![A-Za-z0-9_])")
MISSING = "No such file or directory"  # what `nft list table` says of a table that does not exist

CHAIN_OPTIONS = dict(
    name=dict(type="str", required=True),
    type=dict(type="str", choices=list(CHAIN_TYPES)),
    hook=dict(type="str", choices=list(HOOKS)),
    priority=dict(type="str"),
    policy=dict(type="str", choices=list(POLICIES)),
    rules=dict(type="list", elements="str", default=[]),
)
ARGUMENT_SPEC = dict(
    family=dict(type="str", default="inet", choices=list(FAMILIES)),
    name=dict(type="str", required=True),
    chains=dict(type="list", elements="dict", options=CHAIN_OPTIONS),
    text=dict(type="str"),
    state=dict(type="str", default="present", choices=list(STATES)),
    netns=dict(type="str"),
    **TIMEOUT_ARGS,
)
RULES = dict(
    mutually_exclusive=[("chains", "text")],
    required_if=[("state", "present", ("chains", "text"), True)],
    supports_check_mode=True,
)


def nft_name(field, value):
    if not isinstance(value, str) or len(value) > NAME_MAX or not NAME.fullmatch(value):
        raise ValidationError(f"{field}: {value!r} is not an nftables name ({NAME_RULE})")
    return value


def text_problem(text, *, one_rule):
    """Why `text` could reach outside its block (or, for one rule, outside its line), or None.

    Outside double quotes (and, in a block, `#` comments), braces must nest and never close more than
    they opened, so nothing given can end the chain or the table and write anywhere else.
    """
    depth, quoted, comment = 0, False, False
    for ch in text:
        if ch == "\n":
            if one_rule:
                return "contains a line break (one rule per list item)"
            if quoted:
                return "has a quote left open at the end of a line"
            comment = False
            continue
        if (ch < " " and ch != "\t") or ch == "\x7f":
            return f"contains the control character {ch!r}"
        if comment:
            continue
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "#":
            if one_rule:
                return "contains '#' outside quotes (a comment would hide the rest: use comment \"...\")"
            comment = True
        elif ch == ";" and one_rule:
            return "contains ';' outside quotes (one rule per list item)"
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return "closes a '}' it did not open"
    if quoted:
        return "has a quote left open"
    if depth:
        return "leaves a '{' open"
    if BY_INDEX.search(_unquoted(text)):
        return "matches iif/oif (an interface index fixed at load time): use iifname/oifname"
    return None


def _unquoted(text):
    return re.sub(r'"[^"\n]*"', '""', text)


def _check_text(field, text, *, one_rule):
    if not isinstance(text, str):
        raise ValidationError(f"{field}: must be a string")
    problem = text_problem(text, one_rule=one_rule)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}")
    return text.strip()


def _chain(index, given):
    at = f"chains[{index}]"
    chain = {"name": nft_name(f"{at}.name", given.get("name")), "rules": []}
    base = [key for key in ("type", "hook", "priority") if given.get(key) is not None]
    if base and len(base) != 3:
        raise ValidationError(f"{at}: a base chain needs type, hook and priority together (given: {', '.join(base)})")
    if given.get("policy") is not None and not base:
        raise ValidationError(f"{at}.policy: only a base chain (type, hook, priority) has a policy")
    if base:
        priority = str(given["priority"]).strip()
        if not PRIORITY.fullmatch(priority):
            raise ValidationError(f"{at}.priority: {given['priority']!r} is not a number or one of raw, mangle, dstnat, "
                                  "filter, security, srcnat, out (optionally +N or -N)")
        chain.update(type=given["type"], hook=given["hook"], priority=priority, policy=given.get("policy"))
    for number, rule in enumerate(given.get("rules") or []):
        text = _check_text(f"{at}.rules[{number}]", rule, one_rule=True)
        if not text:
            raise ValidationError(f"{at}.rules[{number}]: empty")
        chain["rules"].append(text)
    return chain


def table_want(params):
    """Check every parameter; the table body comes back as nft text."""
    want = {
        "family": params.get("family") or "inet",
        "name": nft_name("name", params.get("name")),
        "state": params.get("state") or "present",
        "netns": None if params.get("netns") is None else netns_name("netns", params["netns"]),
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
        "body": None,
    }
    if want["state"] == "absent":
        return want
    if params.get("text") is not None:
        want["body"] = _check_text("text", params["text"], one_rule=False)
    else:
        chains, seen = [], {}
        for index, given in enumerate(params.get("chains") or []):
            chain = _chain(index, given)
            if chain["name"] in seen:
                raise ValidationError(f"chains[{index}].name: {chain['name']!r} is also chains[{seen[chain['name']]}]")
            seen[chain["name"]] = index
            chains.append(chain)
        want["body"] = render_chains(chains)
    return want


def render_chains(chains):
    """The table body for `chains` as nft text."""
    blocks = []
    for chain in chains:
        lines = [f"\tchain {chain['name']} {{"]
        if chain.get("type"):
            head = f"\t\ttype {chain['type']} hook {chain['hook']} priority {chain['priority']};"
            if chain.get("policy"):
                head += f" policy {chain['policy']};"
            lines.append(head)
        lines += [f"\t\t{rule}" for rule in chain["rules"]]
        lines.append("\t}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def table_text(want):
    """The wanted table as one nft definition."""
    head = f"table {want['family']} {want['name']} {{"
    return f"{head}\n{want['body']}\n}}\n" if want["body"] else f"{head}\n}}\n"


def transaction(want, exists):
    """The one `nft -f -` file: only ever names this table. Present: create it if missing (so the
    delete cannot fail), delete it, define it again; absent: delete it if it exists."""
    ident = f"{want['family']} {want['name']}"
    if want["state"] == "absent":
        return f"delete table {ident}\n" if exists else ""
    return f"table {ident} {{}}\ndelete table {ident}\n" + table_text(want)


def canonical_lines(echo):
    """`nft -e` output as the list of `add ...` lines that define the table (nft's own comments dropped)."""
    return [line.rstrip() for line in echo.splitlines() if line.strip() and not line.startswith("#")]


def plan_table(want, have, wanted):
    """(changed, before_lines, after_lines): `have` is the table's canonical lines or None when it does not
    exist, `wanted` the canonical lines of the wanted table (None for absent)."""
    if want["state"] == "absent":
        return have is not None, have or [], []
    return have != wanted, have or [], wanted


class Nft:
    """nft in the managed namespace, and nft in a throwaway one that only makes text canonical."""

    def __init__(self, module, want):
        self.host = Runner(module, "nft", netns=want["netns"], timeout=want["timeout"])
        unshare = module.get_bin_path("unshare", required=True)
        self.scratch = Runner(module, "nft", timeout=want["timeout"])
        self.scratch.prefix = [unshare, "--net", "--"]
        self.shown_prefix = ["ip", "netns", "exec", want["netns"]] if want["netns"] else []

    def read(self, want):
        """The table as `nft -s list table` prints it, or None when it does not exist."""
        try:
            return self.host.run(["-s", "list", "table", want["family"], want["name"]])
        except CommandError as exc:
            if exc.rc == 1 and MISSING in (exc.stderr or ""):
                return None
            raise

    def canonical(self, text, what="the table"):
        """nft's own `add ...` lines for a table definition, made in an empty namespace."""
        try:
            return canonical_lines(self.scratch.run(["-s", "-e", "-f", "-"], data=text))
        except CommandError as exc:
            raise ValidationError(f"nft refused {what}: {' '.join((exc.stderr or exc.stdout).split())}") from None

    def command(self, check=False):
        return self.shown_prefix + ["nft"] + (["-c"] if check else []) + ["-f", "-"]


def run_table(module):
    """nft_table: the named table as the parameters say."""
    ctx = {}

    def validate(params):
        want = table_want(params)
        ctx.update(want=want, nft=Nft(module, want))
        return want

    def read(want):
        text = ctx["nft"].read(want)
        what = "the table as the host holds it (iif/oif matches cannot be compared: replace them with iifname/oifname)"
        return None if text is None else ctx["nft"].canonical(text, what)

    def plan(want, have):
        nft = ctx["nft"]
        wanted = None if want["state"] == "absent" else nft.canonical(table_text(want))
        changed, before, after = plan_table(want, have, wanted)
        script = transaction(want, have is not None) if changed else ""
        ctx["script"] = script
        return Change(
            commands=[nft.command()] if changed else [], before=before, after=after,
            extra={"transaction": script, "exists": bool(after)},
            diff={"before": "\n".join(before) + ("\n" if before else ""), "after": "\n".join(after) + ("\n" if after else ""),
                  "before_header": f"table {want['family']} {want['name']}",
                  "after_header": f"table {want['family']} {want['name']}"},
        )

    def offer(change):
        ctx["nft"].host.run(["-c", "-f", "-"], data=ctx["script"])

    def apply(change):
        nft = ctx["nft"]
        nft.host.run(["-f", "-"], data=ctx["script"])
        after = read(ctx["want"]) or []
        change.after = after
        change.extra["exists"] = bool(after)
        change.diff["after"] = "\n".join(after) + ("\n" if after else "")

    run(module, validate=validate, read=read, plan=plan, apply=apply, offer=offer)
