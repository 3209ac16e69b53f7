# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_network: one libvirt network that plugs domains into an Open vSwitch bridge, with one
portgroup (a VLAN tag) per tenant, through the one module flow.

    validate  network_want: every parameter checked before virsh runs
    read      `virsh net-info NAME` (exists, active, persistent, autostart); when it exists,
              `virsh net-dumpxml --inactive NAME` (the definition) and, when active, `virsh net-dumpxml NAME`
    plan      plan_network: pure; the semantic difference (forward mode, bridge, virtualport type,
              portgroup name -> tag and profileid; order and formatting ignored) as virsh argv lists
    write     the virsh calls in order; libvirt has no transaction across them

Why portgroups are changed with `net-update ... --live --config` and not by redefining: a new definition
of an active network takes effect only when the network restarts, and restarting it is what running
domains would notice. Only a changed bridge, forward mode or virtualport restarts it (`net-destroy`,
`net-start`); domains keep the port they have until they restart.

Why virsh and not libvirt's Python bindings (community.libvirt.virt_net uses them): modules of this
collection use the Python standard library only on the managed host.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.netfabric.ovs.plugins.module_utils._module import TIMEOUT_ARGS, Change, Unhealthy, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError, Runner
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import (
    NAME_RULE,
    VLAN_ID,
    ValidationError,
    ifname,
    int_range,
    name_problem,
)

STATES = ("present", "absent")
# What the module makes: a network in libvirt's bridge mode on an existing OVS bridge. libvirt refuses
# <mtu> in this mode ("mtu size only allowed in open, route, nat, and isolated mode"), so there is none.
FORWARD = "bridge"
VIRTUALPORT = "openvswitch"
# The default connection: the system daemon of KVM hosts. One libvirtd serves networks to every
# hypervisor driver it runs, so any of its URIs (lxc:///system, a socket= parameter) reaches the same network.
DEFAULT_URI = "qemu:///system"
# Names become file names (/etc/libvirt/qemu/networks/NAME.xml) and XML attributes: the collection's
# portable name characters keep them safe in both.
NETWORK_NAME_MAX = 64
# libvirt keeps a profileid in a 40-byte buffer with its terminating NUL.
PROFILEID_MAX = 39
# What virsh says of a network that does not exist.
NOT_FOUND = "Network not found"

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=list(STATES)),
    bridge=dict(type="str"),
    portgroups=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        vlan=dict(type="int", required=True),
        profileid=dict(type="str"),
    )),
    autostart=dict(type="bool", default=True),
    uri=dict(type="str", default=DEFAULT_URI),
    **TIMEOUT_ARGS,
)
RULES = dict(supports_check_mode=True, required_if=[("state", "present", ("bridge",))])


def _name(field, value, max_bytes):
    problem = name_problem(value, max_bytes)
    if problem is not None:
        raise ValidationError(f"{field}: {value!r} is not a valid name (1-{max_bytes} {NAME_RULE}): {problem}")
    return value


def _uri(value):
    if not isinstance(value, str) or "://" not in value or any(not " " < ch < "\x7f" for ch in value):
        raise ValidationError(f"uri: {value!r} is not a libvirt connection URI (like {DEFAULT_URI} or "
                              "lxc+unix:///system?socket=/path/libvirt-sock; printable ASCII, no whitespace)")
    return value


def network_want(params):
    """Every parameter checked; portgroups as {name: {vlan, profileid}} in the order given."""
    name = _name("name", params.get("name"), NETWORK_NAME_MAX)
    present = params["state"] == "present"
    groups = {}
    for index, group in enumerate(params.get("portgroups") or []):
        field = f"portgroups[{index}]"
        if not isinstance(group, dict):
            raise ValidationError(f"{field}: must be a dictionary with name, vlan and optionally profileid")
        gname = _name(f"{field}.name", group.get("name"), NETWORK_NAME_MAX)
        if gname in groups:
            raise ValidationError(f"{field}.name: portgroup {gname!r} is given twice")
        profile = group.get("profileid")
        groups[gname] = {
            "vlan": int_range(f"{field}.vlan", group.get("vlan"), VLAN_ID),
            "profileid": None if profile is None else _name(f"{field}.profileid", profile, PROFILEID_MAX),
        }
    bridge = params.get("bridge")
    if present and bridge is None:
        raise ValidationError("bridge: required with state=present (the Open vSwitch bridge domains are plugged into)")
    return {
        "name": name,
        "state": params["state"],
        "bridge": ifname("bridge", bridge) if present or bridge is not None else None,
        "portgroups": groups,
        "autostart": bool(params.get("autostart", True)),
        "uri": _uri(params.get("uri", DEFAULT_URI)),
        "timeout": int_range("timeout", params.get("timeout", TIMEOUT_ARGS["timeout"]["default"]), (1, 3600)),
    }


def parse_info(out):
    """`virsh net-info` lines as {active, persistent, autostart} (booleans)."""
    fields = {}
    for line in (out or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return {key: fields.get(key) == "yes" for key in ("active", "persistent", "autostart")}


def _vlan(group):
    """A portgroup's VLAN as the module compares it: the tag number when it is one plain tag, otherwise
    the element's text form (a trunk, a native mode), which no wanted tag equals; None without one."""
    vlan = group.find("vlan")
    if vlan is None:
        return None
    tags = vlan.findall("tag")
    if len(tags) == 1 and not vlan.attrib and set(tags[0].attrib) == {"id"}:
        return int(tags[0].get("id"))
    return " ".join(ET.tostring(vlan, encoding="unicode").split())


def parse_network(text):
    """`virsh net-dumpxml` as {name, uuid, forward, bridge, virtualport, portgroups: {name: {vlan, profileid}}}."""
    root = ET.fromstring(text)

    def attr(path, key):
        node = root.find(path)
        return None if node is None else node.get(key)

    groups = {}
    for group in root.findall("portgroup"):
        params = group.find("virtualport/parameters")
        groups[group.get("name")] = {"vlan": _vlan(group), "profileid": None if params is None else params.get("profileid")}
    return {
        "name": root.findtext("name"),
        "uuid": root.findtext("uuid"),
        "forward": attr("forward", "mode"),
        "bridge": attr("bridge", "name"),
        "virtualport": attr("virtualport", "type"),
        "portgroups": groups,
    }


def portgroup_xml(name, group):
    """One <portgroup> as net-define and net-update take it."""
    node = ET.Element("portgroup", name=name)
    ET.SubElement(ET.SubElement(node, "vlan"), "tag", id=str(group["vlan"]))
    if group.get("profileid") is not None:
        port = ET.SubElement(node, "virtualport", type=VIRTUALPORT)
        ET.SubElement(port, "parameters", profileid=group["profileid"])
    return ET.tostring(node, encoding="unicode")


def network_xml(want, uuid=None):
    """The whole definition; an existing network keeps its uuid (libvirt refuses another one)."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = want["name"]
    if uuid:
        ET.SubElement(root, "uuid").text = uuid
    ET.SubElement(root, "forward", mode=FORWARD)
    ET.SubElement(root, "bridge", name=want["bridge"])
    ET.SubElement(root, "virtualport", type=VIRTUALPORT)
    for name, group in want["portgroups"].items():
        root.append(ET.fromstring(portgroup_xml(name, group)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def tidy(text):
    """libvirt's XML in the layout network_xml writes, so a diff shows only what changes."""
    if not text:
        return ""
    root = ET.fromstring(text)
    for node in root.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        node.tail = None
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _shape(want):
    return {"forward": FORWARD, "bridge": want["bridge"], "virtualport": VIRTUALPORT}


def view(have):
    """before/after as the module reports them: the definition, plus whether it runs and autostarts."""
    if not have["exists"]:
        return {"exists": False}
    config = have["config"]
    return {"exists": True, "active": have["active"], "autostart": have["autostart"],
            "forward": config["forward"], "bridge": config["bridge"], "virtualport": config["virtualport"],
            "portgroups": config["portgroups"]}


def _group_updates(want_groups, have_groups):
    """[(action, name)] that turn `have_groups` into `want_groups` (net-update's words)."""
    actions = [("delete", name) for name in have_groups if name not in want_groups]
    for name, group in want_groups.items():
        if name not in have_groups:
            actions.append(("add-last", name))
        elif have_groups[name] != group:
            actions.append(("modify", name))
    return actions


def plan_network(want, have):
    """The virsh argv lists (without `virsh -c URI`) that make the network as `want` says, the XML it
    defines (or None), and the predicted after view.

    `have` is {exists, active, persistent, autostart, config: parsed inactive XML, live: parsed live XML
    or None}.
    """
    name = want["name"]
    if want["state"] == "absent":
        calls = []
        if have["exists"] and have["active"]:
            calls.append(["net-destroy", name])
        if have["exists"] and have["persistent"]:
            calls.append(["net-undefine", name])
        return calls, None, {"exists": False}
    calls, define = [], None
    config, live = have.get("config"), have.get("live")
    shape = _shape(want)
    reshaped = have["exists"] and any(config[key] != value for key, value in shape.items())
    live_reshaped = bool(have["exists"] and have["active"] and live and any(live[k] != v for k, v in shape.items()))
    if not have["exists"] or reshaped or not have["persistent"]:
        define = network_xml(want, config["uuid"] if have["exists"] else None)
        calls.append(["net-define", "/dev/stdin"])
    running = have["exists"] and have["active"]
    if running and (reshaped or live_reshaped):
        calls += [["net-destroy", name], ["net-start", name]]
    else:
        if running:
            config_updates = [] if define else _group_updates(want["portgroups"], config["portgroups"])
            live_updates = _group_updates(want["portgroups"], live["portgroups"])
            for action, group in config_updates:
                both = (action, group) in live_updates
                calls.append(_update(name, action, group, want, ["--live", "--config"] if both else ["--config"]))
            calls += [_update(name, action, group, want, ["--live"])
                      for action, group in live_updates if (action, group) not in config_updates]
        elif have["exists"] and not define:
            calls += [_update(name, action, group, want, ["--config"])
                      for action, group in _group_updates(want["portgroups"], config["portgroups"])]
        if not running:
            calls.append(["net-start", name])
    if want["autostart"] != (have["exists"] and have["autostart"]):
        calls.append(["net-autostart", name] + ([] if want["autostart"] else ["--disable"]))
    after = {"exists": True, "active": True, "autostart": want["autostart"], **shape,
             "portgroups": dict(want["portgroups"])}
    return calls, define, after


def _update(name, action, group, want, flags):
    if action == "delete":
        xml = ET.tostring(ET.Element("portgroup", name=group), encoding="unicode")
    else:
        xml = portgroup_xml(group, want["portgroups"][group])
    return ["net-update", name, action, "portgroup", xml] + flags


class Virsh:
    """The reads and writes of one network through one virsh runner."""

    def __init__(self, module, want):
        self.want = want
        self.virsh = Runner(module, "virsh", ["-q", "-c", want["uri"]], timeout=want["timeout"])

    def read(self):
        name = self.want["name"]
        try:
            info = parse_info(self.virsh.run(["net-info", name]))
        except CommandError as exc:
            if exc.rc is not None and NOT_FOUND in (exc.stderr or ""):
                return {"exists": False, "active": False, "persistent": False, "autostart": False,
                        "config": None, "live": None, "xml": None}
            raise
        have = {"exists": True, **info}
        have["xml"] = self.virsh.run(["net-dumpxml", "--inactive", name])
        have["config"] = parse_network(have["xml"])
        have["live"] = parse_network(self.virsh.run(["net-dumpxml", name])) if info["active"] else None
        return have

    def write(self, calls, define):
        for call in calls:
            self.virsh.run(call, data=define if call[0] == "net-define" else None)


def run_network(module):
    """libvirt_network: one OVS-backed libvirt network as the parameters say."""
    ctx = {}

    def validate(params):
        want = network_want(params)
        ctx.update(want=want, host=Virsh(module, want))
        return want

    def read(want):
        return ctx["host"].read()

    def plan(want, have):
        calls, define, after = plan_network(want, have)
        ctx.update(calls=calls, define=define, after=after)
        before_xml = tidy(have["xml"])
        if want["state"] == "absent":
            after_xml = ""
        elif not calls:
            after_xml = before_xml
        else:
            after_xml = define or network_xml(want, have["config"]["uuid"])
        return Change(commands=[ctx["host"].virsh.argv(call) for call in calls], before=view(have), after=after,
                      diff={"before": before_xml, "after": after_xml}, extra={"xml": define})

    def apply(change):
        ctx["host"].write(ctx["calls"], ctx["define"])

    def reread(want):
        """The network as read back, which must be what was asked, live and defined."""
        now = ctx["host"].read()
        got = view(now)
        if want["state"] == "absent":
            if now["exists"]:
                raise Unhealthy(f"libvirt network {want['name']!r} still exists after the write")
            return got
        wrong = [] if got == ctx["after"] else [f"defined: {got}"]
        if now["live"] is not None and (now["live"]["portgroups"] != want["portgroups"]
                                        or any(now["live"][k] != v for k, v in _shape(want).items())):
            wrong.append(f"live: {now['live']}")
        if wrong:
            raise Unhealthy(f"libvirt network {want['name']!r} after the write is not as asked ({'; '.join(wrong)}); "
                            f"wanted {ctx['after']}")
        return got

    run(module, validate=validate, read=read, plan=plan, apply=apply, reread=reread)
