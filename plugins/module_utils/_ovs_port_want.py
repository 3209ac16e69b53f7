# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports as a user asks for them: the argument specs and the validation that runs before anything
touches the host (errors name the field, with the list index for ovs_ports).

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._constants import DEFAULT_OWNER, OWNER_KEY
from ansible_collections.netfabric.ovs.plugins.module_utils._dpdk import PORT_RULES
from ansible_collections.netfabric.ovs.plugins.module_utils._module import OVSDB_ARGS

PORT_TYPES = ("system", "internal", "patch", "gre", "vxlan", "geneve", "dpdk", "dpdkvhostuserclient")
TUNNEL_TYPES = ("gre", "vxlan", "geneve")
VLAN_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")
BOND_MODES = ("active-backup", "balance-slb", "balance-tcp")
LACP_MODES = ("active", "passive", "off")
QOS_TYPES = ("linux-htb", "linux-hfsc", "egress-policer")
BOND_DELAY = (0, 2**31 - 1)  # ms; the columns are integers


PORT_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    type=dict(type="str", default="system", choices=list(PORT_TYPES)),
    options=dict(type="dict"),
    tag=dict(type="int"),
    trunks=dict(type="list", elements="int"),
    vlan_mode=dict(type="str", choices=list(VLAN_MODES)),
    external_ids=dict(type="dict"),
    other_config=dict(type="dict"),
    mtu_request=dict(type="int"),
    ofport_request=dict(type="int"),
    from_other_bridge=dict(type="str", default="move", choices=["move", "fail"]),
    interfaces=dict(type="list", elements="str"),
    bond_mode=dict(type="str", choices=list(BOND_MODES)),
    lacp=dict(type="str", choices=list(LACP_MODES)),
    bond_updelay=dict(type="int"),
    bond_downdelay=dict(type="int"),
    ingress_policing_rate=dict(type="int"),
    ingress_policing_burst=dict(type="int"),
    qos=dict(
        type="dict",
        options=dict(
            type=dict(type="str", default="linux-htb", choices=list(QOS_TYPES)),
            other_config=dict(type="dict", default={}),
            queues=dict(type="dict", default={}),
        ),
    ),
)

SINGLE_ARGUMENT_SPEC = dict(bridge=dict(type="str", required=True), owner=dict(type="str", default=DEFAULT_OWNER), **PORT_OPTIONS, **OVSDB_ARGS)
AGGREGATE_ARGUMENT_SPEC = dict(
    bridge=dict(type="str", required=True),
    ports=dict(type="list", elements="dict", required=True, options=PORT_OPTIONS),
    purge=dict(type="bool", default=False),
    owner=dict(type="str", default=DEFAULT_OWNER),
    verify=dict(type="bool", default=False),
    **OVSDB_ARGS,
)


def want_port(spec, index, owner):
    """One port's wanted state, validated; the field names carry the list index for errors."""
    field = f"ports[{index}]" if index is not None else ""

    def f(name):
        return f"{field}.{name}" if field else name

    name = v.ifname(f("name"), spec["name"])
    want = {"name": name, "state": spec.get("state") or "present", "from_other_bridge": spec.get("from_other_bridge") or "move"}
    if want["state"] == "absent":
        return want
    kind = spec.get("type") or "system"
    options = v.string_map(f("options"), spec.get("options"))
    if kind in TUNNEL_TYPES:
        if not options or not options.get("remote_ip"):
            raise v.ValidationError(f"{f('options')}.remote_ip: required for a {kind} port (an IPv4/IPv6 address or 'flow')")
        _check_tunnel_options(f("options"), kind, options)
    if kind == "patch" and (not options or not options.get("peer")):
        raise v.ValidationError(f"{f('options')}.peer: required for a patch port (the name of the peer patch port)")
    for option, (required, check) in PORT_RULES.get(kind, {}).items():
        if (options or {}).get(option) is not None:
            check(f"{f('options')}.{option}", options[option])
        elif required:
            raise v.ValidationError(f"{f('options')}.{option}: required for a {kind} port")
    if spec.get("tag") is not None:
        v.int_range(f("tag"), spec["tag"], v.OVS_TAG)
    for number, trunk in enumerate(spec.get("trunks") or []):
        v.int_range(f(f"trunks[{number}]"), trunk, v.OVS_TAG)
    members = spec.get("interfaces")
    if members is not None:
        if len(members) < 2:
            raise v.ValidationError(f"{f('interfaces')}: a bond needs at least 2 interfaces")
        members = sorted(v.ifname(f(f"interfaces[{n}]"), m) for n, m in enumerate(members))
    elif spec.get("bond_mode") or spec.get("lacp") or spec.get("bond_updelay") is not None or spec.get("bond_downdelay") is not None:
        raise v.ValidationError(f"{f('bond_mode')}/{f('lacp')}/{f('bond_updelay')}/{f('bond_downdelay')}: only for bonds (set {f('interfaces')})")
    for column in ("bond_updelay", "bond_downdelay"):
        if spec.get(column) is not None:
            v.int_range(f(column), spec[column], BOND_DELAY)
    for column in ("mtu_request", "ingress_policing_rate", "ingress_policing_burst"):
        if spec.get(column) is not None and spec[column] < 0:
            raise v.ValidationError(f"{f(column)}: {spec[column]!r} must be 0 or more")
    if spec.get("mtu_request") is not None:
        v.int_range(f("mtu_request"), spec["mtu_request"], (68, 65535))
    if spec.get("ofport_request") is not None:
        if members is not None:
            raise v.ValidationError(f"{f('ofport_request')}: not for bonds (each member interface has its own number)")
        v.int_range(f("ofport_request"), spec["ofport_request"], v.OFPORT)
    external_ids = v.string_map(f("external_ids"), spec.get("external_ids")) or {}
    want.update(
        # the owner mark goes on a port this call creates or moves here (with_owner); a port that
        # exists keeps its own mark (or none), so purge and teardown never remove what the
        # collection did not make. An explicit external_ids.netfabric_owner is applied as given.
        owner=None if OWNER_KEY in external_ids else owner,
        type=kind,
        options=options,
        tag=spec.get("tag"),
        trunks=sorted(spec["trunks"]) if spec.get("trunks") is not None else None,
        vlan_mode=spec.get("vlan_mode"),
        external_ids=external_ids,
        other_config=v.string_map(f("other_config"), spec.get("other_config")),
        mtu_request=spec.get("mtu_request"),
        ofport_request=spec.get("ofport_request"),
        interfaces=members,
        bond_mode=spec.get("bond_mode"),
        lacp=spec.get("lacp"),
        bond_updelay=spec.get("bond_updelay"),
        bond_downdelay=spec.get("bond_downdelay"),
        ingress_policing_rate=spec.get("ingress_policing_rate"),
        ingress_policing_burst=spec.get("ingress_policing_burst"),
        qos=_want_qos(f("qos"), spec.get("qos")),
    )
    return want


def _check_tunnel_options(field, kind, options):
    if options["remote_ip"] != "flow":
        options["remote_ip"] = v.ip_address(f"{field}.remote_ip", options["remote_ip"])
    if options.get("local_ip") and options["local_ip"] != "flow":
        options["local_ip"] = v.ip_address(f"{field}.local_ip", options["local_ip"])
    key = options.get("key")
    if key is not None and key != "flow":
        bounds = v.GRE_KEY if kind == "gre" else v.VNI
        options["key"] = str(v.int_range(f"{field}.key", int(key, 0) if key.startswith("0x") else key, bounds))
    if options.get("dst_port") is not None:
        options["dst_port"] = str(v.int_range(f"{field}.dst_port", options["dst_port"], (1, 65535)))


def _want_qos(field, qos):
    if qos is None:
        return None
    queues = {}
    for queue_id, config in (qos.get("queues") or {}).items():
        number = v.int_range(f"{field}.queues key", queue_id, (0, 4294967295))
        queues[number] = v.string_map(f"{field}.queues[{queue_id}]", config or {})
    return {"type": qos["type"], "other_config": v.string_map(f"{field}.other_config", qos.get("other_config")) or {}, "queues": queues}


def want_ports(specs, owner):
    """Every port of an aggregate validated before anything runs; names must be unique."""
    wants = [want_port(spec, index, owner) for index, spec in enumerate(specs)]
    seen = set()
    for index, want in enumerate(wants):
        if want["name"] in seen:
            raise v.ValidationError(f"ports[{index}].name: {want['name']!r} is listed twice")
        seen.add(want["name"])
    return wants
