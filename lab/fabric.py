#!/usr/bin/env python3
"""The example fabric in network namespaces: hypervisors, underlay, VMs, and what a user looks at.

    python3 lab/fabric.py up     --prefix nfdemo examples/vxlan   # hosts + VMs + lab inventory
    python3 lab/fabric.py matrix --prefix nfdemo examples/vxlan   # who reaches whom (real pings)
    python3 lab/fabric.py tunnels --prefix nfdemo examples/vxlan  # tunnel ports per host
    python3 lab/fabric.py picture examples/vxlan OUT.svg           # the fabric as planned (no lab)
    python3 lab/fabric.py down   --prefix nfdemo

`up` writes ROOT/PREFIX/inventory.yml, an inventory layered over the example one (`-i EXAMPLE -i
that`): each hypervisor becomes a local host whose Python runs inside its namespace, with its own
state directory, so Ansible treats every namespace as a real host.
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netns  # noqa: E402  (the shared lab)


def load_inventory(example: Path) -> tuple[dict, dict]:
    """Host vars and group vars of the example inventory (hosts.yml + group_vars/hypervisors.yml)."""
    hosts = yaml.safe_load((example / "hosts.yml").read_text())["hypervisors"]["hosts"]
    group = yaml.safe_load((example / "group_vars" / "hypervisors.yml").read_text())
    return hosts, group


def vm_netns(prefix: str, port: str) -> str:
    return f"{prefix}-{port}"


def up(prefix: str, example: Path) -> Path:
    """Build hypervisors, wire the underlay, give each its underlay address on the uplink, add VMs."""
    hosts, group = load_inventory(example)
    netns.down(prefix)
    for name, hostvars in hosts.items():  # a linuxbridge host runs no Open vSwitch
        netns.Hypervisor(prefix, name).start(ovs=hostvars.get("netfabric_backend", group.get("netfabric_backend", "ovs")) == "ovs")
    links = {name: uplink_links(hostvars.get("netfabric_uplink", group.get("netfabric_uplink", "uplink"))) for name, hostvars in hosts.items()}
    netns.wire(prefix, list(hosts), links=links, mtu=group.get("netfabric_underlay_mtu"))
    outside(prefix, hosts)
    mtu = int(group.get("netfabric_tenant_mtu", 1400))
    tenant_mtu = {t["name"]: int(t["mtu"]) for t in group.get("netfabric_tenants", []) if t.get("mtu")}
    lab_hosts = {}
    for name, hostvars in hosts.items():
        hv = netns.Hypervisor(prefix, name)
        uplink = links[name][0]
        # Where a real host starts: the underlay address on its NIC (a bond's first); the bridges role moves it.
        netns.sh("ip", "-n", hv.netns, "addr", "add", hostvars["netfabric_underlay_ip"], "dev", uplink)
        if hostvars.get("netfabric_backend", group.get("netfabric_backend", "ovs")) == "linuxbridge":
            # The kernel's VXLAN leaves the outer UDP checksum to the NIC; a real NIC finishes it, the
            # lab's veth does not, and OVS's userspace datapath (an OVS peer) drops what arrives unfinished.
            netns.sh("ip", "netns", "exec", hv.netns, "ethtool", "-K", uplink, "tx", "off", check=False)
        for port in hostvars.get("netfabric_ports", []):
            netns.add_vm(prefix, name, port["name"], port["name"], port.get("ip"), port.get("mac"), mtu=tenant_mtu.get(port["tenant"], mtu))
            gateway = routed(group).get(port["tenant"], {}).get(subnet_of(port, group))
            if gateway:  # as DHCP would give it
                netns.sh("ip", "-n", vm_netns(prefix, port["name"]), "route", "add", "default", "via", gateway)
        state = hv.dir / "state"
        state.mkdir(exist_ok=True)
        lab_hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(hv.python),
            "netfabric_state_dir": str(state),
            "tenants_systemd_unit": False,  # the namespaces share this machine's /etc
            "netfabric_netns_prefix": f"{prefix}-{name}-",  # routers' and DHCP namespaces share /run/netns
        }
    inventory = netns.lab_root(prefix) / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"hypervisors": {"hosts": lab_hosts}}))
    return inventory


def uplink_links(uplink) -> list[str]:
    """The NICs of a host's netfabric_uplink on the underlay switch: its own, or a bond's members."""
    return list(uplink["members"]) if isinstance(uplink, dict) else [uplink]


OUTSIDE = "outside"  # the host on the network nodes' external network, at its gateway address


def outside(prefix: str, hosts: dict) -> str | None:
    """The network nodes' external network: a Linux bridge in namespace PREFIX-outside holding the
    external gateway address, with each network node's external NIC joined to it by a veth."""
    nodes = {name: hv_vars["netfabric_external"] for name, hv_vars in hosts.items() if hv_vars.get("netfabric_external")}
    if not nodes:
        return None
    ns = f"{prefix}-{OUTSIDE}"
    netns.sh("ip", "netns", "add", ns)
    netns.sh("ip", "-n", ns, "link", "set", "lo", "up")
    netns.sh("ip", "-n", ns, "link", "add", "out0", "type", "bridge")
    netns.sh("ip", "-n", ns, "link", "set", "out0", "up")
    for index, (name, ext) in enumerate(sorted(nodes.items())):
        hv = netns.Hypervisor(prefix, name)
        peer = f"o{index}-{name}"[:15]
        netns.sh("ip", "link", "add", ext["nic"], "netns", hv.netns, "type", "veth", "peer", "name", peer, "netns", ns)
        netns.sh("ip", "-n", ns, "link", "set", peer, "master", "out0", "up")
        netns.sh("ip", "-n", hv.netns, "link", "set", ext["nic"], "up")
        netns.sh("ip", "netns", "exec", ns, "ethtool", "-K", peer, "tx", "off", check=False)
        plen = ipaddress.ip_network(ext["subnet"]).prefixlen
        if index == 0:
            netns.sh("ip", "-n", ns, "addr", "add", f"{ext['gateway']}/{plen}", "dev", "out0")
    return ns


def routed(group: dict) -> dict[str, dict[str, str]]:
    """{tenant: {subnet: gateway}} of the tenants with a router (the gateway defaults to the first address)."""
    out = {}
    for tenant in group.get("netfabric_tenants", []):
        if tenant.get("router"):
            subnets = [s if isinstance(s, dict) else {"cidr": s} for s in tenant.get("subnets", [])]
            out[tenant["name"]] = {s["cidr"]: s.get("gateway") or str(next(ipaddress.ip_network(s["cidr"]).hosts())) for s in subnets}
    return out


def subnet_of(port: dict, group: dict) -> str | None:
    if not port.get("ip"):
        return None
    address = ipaddress.ip_interface(port["ip"]).ip
    for tenant in group.get("netfabric_tenants", []):
        for subnet in tenant.get("subnets", []):
            cidr = subnet["cidr"] if isinstance(subnet, dict) else subnet
            if tenant["name"] == port["tenant"] and address in ipaddress.ip_network(cidr):
                return cidr
    return None


def vms(example: Path) -> list[dict]:
    hosts, _ = load_inventory(example)
    return [dict(port, host=host) for host, hv in hosts.items() for port in hv.get("netfabric_ports", [])]


def ping(prefix: str, source: dict, target: dict) -> bool:
    """True when `target` itself answers: tenants reuse addresses, so a reply alone proves nothing;
    on one subnet the source's ARP entry must hold the target's own MAC, and through a router
    (another subnet) the target's own count of echo requests must have grown."""
    address = str(ipaddress.ip_interface(target["ip"]).ip)
    ns = vm_netns(prefix, source["name"])
    netns.sh("ip", "-n", ns, "neigh", "flush", "all", check=False)
    same_subnet = ipaddress.ip_address(address) in ipaddress.ip_interface(source["ip"]).network
    echoes = None if same_subnet else in_echos(vm_netns(prefix, target["name"]))
    proc = netns.sh("ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False)
    if proc.returncode != 0:
        return False
    if same_subnet:
        return arp_mac(prefix, source, target) == target["mac"].lower()
    return in_echos(vm_netns(prefix, target["name"])) >= echoes + 2


def in_echos(ns: str) -> int:
    """ICMP echo requests a namespace has received (its own counter in /proc/net/snmp)."""
    lines = [line.split() for line in netns.sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp", capture=True).splitlines() if line.startswith("Icmp:")]
    return int(dict(zip(lines[0], lines[1]))["InEchos"])


def reaches_outside(prefix: str, source: dict, hosts: dict) -> bool | None:
    """Whether the VM reaches the outside host (None when the fabric has no network node)."""
    gateways = [v["netfabric_external"].get("gateway") for v in hosts.values() if v.get("netfabric_external")]
    if not gateways or not gateways[0]:
        return None
    return netns.sh("ip", "netns", "exec", vm_netns(prefix, source["name"]), "ping", "-c", "2", "-i", "0.2", "-W", "1", gateways[0],
                    check=False).returncode == 0


def arp_mac(prefix: str, source: dict, target: dict) -> str | None:
    """The MAC the source VM resolved for the target's address (None when unresolved)."""
    address = str(ipaddress.ip_interface(target["ip"]).ip)
    out = netns.sh("ip", "-n", vm_netns(prefix, source["name"]), "-j", "neigh", "show", address, capture=True, check=False)
    for entry in json.loads(out or "[]"):
        if entry.get("lladdr"):
            return entry["lladdr"]
    return None


def matrix(prefix: str, example: Path) -> dict[tuple[str, str], bool]:
    """Ping every VM from every other VM with the same address family; the real reachability."""
    machines = vms(example)
    result = {}
    for source in machines:
        for target in machines:
            if source is target or not target.get("ip"):
                continue
            if str(ipaddress.ip_interface(source["ip"]).ip) == str(ipaddress.ip_interface(target["ip"]).ip):
                continue  # same address on another tenant: pinging it would ping yourself
            if not target.get("mac"):
                continue  # who answered cannot be told without the target's MAC
            result[(source["name"], target["name"])] = ping(prefix, source, target)
    return result


def print_matrix(prefix: str, example: Path) -> bool:
    """Print the matrix; True when exactly same-tenant pairs reach each other (across subnets only
    through the tenant's router), and only tenants with a router reach the outside host."""
    machines = vms(example)
    hosts, group = load_inventory(example)
    result = matrix(prefix, example)
    by_name = {m["name"]: m for m in machines}
    names = [m["name"] for m in machines]
    routers = routed(group)
    outside_column = any(v.get("netfabric_external") for v in hosts.values())
    width = max(len(n) for n in [*names, OUTSIDE]) + 2
    print("reachability (rows ping columns; Y = the target itself answered, . = it did not, - = same address):")
    print(" " * width + "".join(n.rjust(width) for n in names) + (OUTSIDE.rjust(width) if outside_column else ""))
    ok = True
    for source in names:
        cells = []
        for target in names:
            if (source, target) not in result:
                cells.append("-")
                continue
            reached = result[(source, target)]
            a, b = by_name[source], by_name[target]
            # same tenant, and on one subnet or joined by the tenant's router
            expected = a["tenant"] == b["tenant"] and (subnet_of(a, group) == subnet_of(b, group) or a["tenant"] in routers)
            ok &= reached == expected
            cells.append("Y" if reached else ".")
        if outside_column:
            reached = reaches_outside(prefix, by_name[source], hosts)
            ok &= reached == (by_name[source]["tenant"] in routers)
            cells.append("Y" if reached else ".")
        print(source.ljust(width) + "".join(c.rjust(width) for c in cells))
    print("isolation and reachability as the inventory says" if ok else "MISMATCH: see the matrix")
    return ok


def tunnels(prefix: str, example: Path) -> dict[str, list[dict]]:
    hosts, _ = load_inventory(example)
    out = {}
    for name in hosts:
        hv = netns.Hypervisor(prefix, name)
        table = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=name,type,options,ofport", "list", "Interface"))
        rows = [dict(zip(table["headings"], row)) for row in table["data"]]
        out[name] = sorted(
            ({"name": r["name"], "type": r["type"], "remote_ip": dict(r["options"][1]).get("remote_ip"), "ofport": r["ofport"]}
             for r in rows if r["type"] in ("vxlan", "gre", "geneve")),
            key=lambda r: r["name"],
        )
    return out


def print_tunnels(prefix: str, example: Path):
    for host, ports in tunnels(prefix, example).items():
        print(f"{host}: " + (", ".join(f"{p['name']} ({p['type']} -> {p['remote_ip']}, ofport {p['ofport']})" for p in ports) or "no tunnels"))


PALETTE = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#4e342e"]
FONT = 12
CHAR_W = 7.3  # advance of one monospace character at FONT px (DejaVu Sans Mono), to size boxes
LINE = 18


def plans(example: Path) -> dict[str, dict]:
    """Every host's plan, computed from the example inventory by the collection's own filter
    (netfabric.ovs.fabric_plan, what the netfabric role runs): no lab needed."""
    collections = Path(__file__).resolve().parents[1] / ".cache" / "collections"
    link = collections / "ansible_collections" / "netfabric" / "ovs"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(collections.parents[1], target_is_directory=True)
    if str(collections) not in sys.path:
        sys.path.insert(0, str(collections))
    from ansible_collections.netfabric.ovs.plugins.filter.fabric import fabric_plan  # noqa: PLC0415

    hosts, group = load_inventory(example)
    nodes = sorted((yaml.safe_load((example / "hosts.yml").read_text()).get("network_nodes") or {}).get("hosts") or {})
    return fabric_plan({name: {**group, **hostvars} for name, hostvars in hosts.items()}, sorted(hosts), nodes)


class Svg:
    """Just enough SVG: rectangles, text that can be measured, paths."""

    def __init__(self):
        self.parts: list[str] = []

    def rect(self, x, y, w, h, fill="none", stroke="none", rx=0, **extra):
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" fill="{fill}" stroke="{stroke}"{attrs}/>')

    def text(self, x, y, words, anchor="start", **extra):
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attrs}>{html.escape(str(words))}</text>')

    def path(self, d, stroke="#555", width=2, **extra):
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
        self.parts.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}"{attrs}/>')

    def label(self, x, y, words, colour="#222"):
        """Text centred on (x, y) over a white plate, so a line under it never runs through it."""
        w = len(words) * CHAR_W + 10
        self.rect(x - w / 2, y - LINE / 2, w, LINE, fill="white", stroke=colour, rx=4)
        self.text(x, y + 4, words, anchor="middle", fill=colour)

    def render(self, width, height) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
                f'font-family="DejaVu Sans Mono, monospace" font-size="{FONT}">')
        return "\n".join([head, f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>', *self.parts, "</svg>"]) + "\n"


def text_width(lines) -> float:
    return max((len(line) for line in lines), default=0) * CHAR_W


def picture(example: Path, out: Path) -> Path:
    """An SVG of the fabric as planned: per host its three bridges (br-tun with the tunnel ports and the
    tenant id <-> local VLAN pairs, br-int with the VMs on their local VLANs, br-phy with the uplink and
    the underlay address), the tunnels between hosts as arcs with their labels on plates at the top
    of each arc, and the underlay switch below. Drawn from the plans, so it needs no lab."""
    hosts, group = load_inventory(example)
    plan = plans(example)
    names = sorted(plan)
    tenants = group.get("netfabric_tenants", [])
    colours = {t["name"]: PALETTE[i % len(PALETTE)] for i, t in enumerate(tenants)}
    overlay = group.get("netfabric_overlay", "vxlan")
    id_word = {"vxlan": "VNI", "gre": "GRE key"}

    # The lines of every bridge first, so the widest one sets the column width. A line is (text, style):
    # "" plain, "tenant" in the tenant's colour, "vm" white on a bar of the tenant's colour.
    boxes = {}
    for host in names:
        p = plan[host]
        local = {t["name"]: t["local_vlan"] for t in p["tenants"]}
        underlay = p["underlay"]
        boxes[host] = {
            "br-tun": [(f"{t['name']} -> {t['peer']} {t['remote_ip']}", "", None) for t in p["tunnels"]]
            + [(f"{id_word.get(t['overlay'], 'id')} {t['tunnel_id']} <-> vlan {t['local_vlan']}", "tenant", t["name"])
               for t in p["tenants"] if t["provider_vlan"] is None],
            "br-int": [(f"{port['name']} {port.get('ip', '')} vlan {local[port['tenant']]}", "vm", port["tenant"])
                       for port in hosts[host].get("netfabric_ports", [])],
            "br-phy": [(f"{underlay['uplink']}  {underlay['address']}/{underlay['prefix']}", "", None)]
            + [(f"vlan {t['local_vlan']} <-> provider vlan {t['provider_vlan']}", "tenant", t["name"])
               for t in p["tenants"] if t["provider_vlan"] is not None],
        }
    col_w = max(280, max(text_width([line for lines in box.values() for line, _, _ in lines]) for box in boxes.values()) + 40)
    gap = 70
    margin = 30

    # Tunnels, once per pair, as arcs over the columns: a longer span rises higher, so arcs nest and
    # every label (on its arc's top) has its own height.
    pairs = sorted({tuple(sorted((host, t["peer"]))) for host in names for t in plan[host]["tunnels"]},
                   key=lambda pair: (names.index(pair[1]) - names.index(pair[0]), names.index(pair[0])))
    max_span = max((names.index(b) - names.index(a) for a, b in pairs), default=0)
    rise = 48  # height added per host spanned
    top = 75 + rise * max_span  # where the host columns start
    xs = {host: margin + i * (col_w + gap) for i, host in enumerate(names)}

    svg = Svg()
    title = (f"netfabric: {len(names)} hypervisors, {overlay} overlay, {group.get('netfabric_mode', 'learning')} mode, "
             f"{len(tenants)} tenants (as planned from {example})")
    svg.text(margin, 26, title, font_size=15, font_weight="bold")

    # tunnel ends: spread over the top edge of each column, left peers first and the farthest peer
    # outermost on each side, so the arcs nest and never cross
    ends = {}
    for host in names:
        here = names.index(host)
        peers = sorted((t["peer"] for t in plan[host]["tunnels"]), key=lambda peer: (names.index(peer) > here, -names.index(peer)))
        for k, peer in enumerate(peers):
            ends[(host, peer)] = xs[host] + col_w * (k + 1) / (len(peers) + 1)
    labels = []
    for a, b in pairs:
        span = names.index(b) - names.index(a)
        x1, x2 = ends[(a, b)], ends[(b, a)]
        control = top - 20 - rise * span * 4 / 3  # a cubic's top is 3/4 of the way to its control points
        kind = next(t["overlay"] for t in plan[a]["tunnels"] if t["peer"] == b)
        svg.path(f"M{x1:.1f},{top} C{x1:.1f},{control:.1f} {x2:.1f},{control:.1f} {x2:.1f},{top}", stroke="#777")
        labels.append(((x1 + x2) / 2, top - 15 - rise * span, f"{kind} {a} <-> {b}"))
    for x, y, words in labels:  # after every arc, so no arc is drawn over a label
        svg.label(x, y, words)

    bottom = top
    for host in names:
        x, y, box = xs[host], top, boxes[host]
        p = plan[host]
        kinds = {b["name"]: b for b in p["bridges"]}
        heights = {"br-tun": LINE * (len(box["br-tun"]) + 1) + 10, "br-int": LINE * (len(box["br-int"]) + 1) + 14,
                   "br-phy": LINE * (len(box["br-phy"]) + 1) + 10}
        total = 50 + sum(heights.values()) + 2 * 26 + 10
        svg.rect(x, y, col_w, total, fill="#f5f5f5", stroke="#333", rx=8)
        svg.text(x + 12, y + 20, host, font_weight="bold", font_size=14)
        svg.text(x + 12, y + 38, f"{p['datapath_type']} datapath, underlay {p['underlay']['address']}", fill="#444")
        cy = y + 50
        centres = {}
        for bridge in ("br-tun", "br-int", "br-phy"):
            h = heights[bridge]
            svg.rect(x + 10, cy, col_w - 20, h, fill="white", stroke="#555", rx=6)
            mode = kinds.get(bridge, {}).get("fail_mode", "")
            svg.text(x + 20, cy + LINE, f"{bridge} ({mode})" if mode else bridge, font_weight="bold")
            ly = cy + LINE
            for line, style, tenant in box[bridge]:
                ly += LINE
                colour = colours.get(tenant, "#777")
                if style == "vm":
                    svg.rect(x + 16, ly - 13, col_w - 32, LINE - 2, fill=colour, rx=3)
                    svg.text(x + 20, ly, line, fill="white")
                elif style == "tenant":
                    svg.text(x + 20, ly, line, fill=colour, font_weight="bold")
                else:
                    svg.text(x + 20, ly, line, fill="#333")
            centres[bridge] = (cy, cy + h)
            cy += h + 26
        # patch links between the bridges, labelled by their port names
        for upper, lower, words in (("br-tun", "br-int", "patch-int | patch-tun"), ("br-int", "br-phy", "int-br-phy | phy-br-int")):
            if upper == "br-int" and not any(t["provider_vlan"] is not None for t in p["tenants"]):
                words = "(no patch: no provider VLAN)"
            y1, y2 = centres[upper][1], centres[lower][0]
            svg.path(f"M{x + 40},{y1} L{x + 40},{y2}", stroke="#999", width=2, stroke_dasharray="4 3")
            svg.text(x + 50, (y1 + y2) / 2 + 4, words, fill="#666", font_size=11)
        # br-phy's uplink down to the underlay switch
        svg.path(f"M{x + col_w / 2},{centres['br-phy'][1]} L{x + col_w / 2},{y + total + 30}", stroke="#333")
        bottom = max(bottom, y + total)

    width = margin * 2 + len(names) * col_w + (len(names) - 1) * gap
    switch_y = bottom + 30
    svg.rect(margin, switch_y, width - 2 * margin, 24, fill="#455a64", rx=4)
    subnets = sorted({str(ipaddress.ip_interface(h["netfabric_underlay_ip"]).network) for h in hosts.values()})
    svg.text(width / 2, switch_y + 16, f"underlay switch {', '.join(subnets)}", anchor="middle", fill="white")

    legend_y = switch_y + 54
    for i, tenant in enumerate(tenants):
        word = f"provider vlan {tenant['provider_vlan']}" if tenant.get("provider_vlan") else f"{id_word.get(overlay, 'id')} {tenant['tunnel_id']}"
        x = margin + i * 230
        svg.rect(x, legend_y - 12, 14, 14, fill=colours[tenant["name"]])
        svg.text(x + 20, legend_y, f"tenant {tenant['name']}: {word}")
    notes = [
        f"{id_word.get(overlay, 'id')} N: the tenant's id on the wire, the same on every host; vlan N: its local VLAN on "
        "that host's br-int (chosen per host).",
        f"Every tunnel carries each tunnelled tenant; br-tun maps its {id_word.get(overlay, 'id')} to the local VLAN and back.",
    ]
    if any(t.get("provider_vlan") for t in tenants):
        notes.append("A provider-VLAN tenant rides the underlay as 802.1Q instead, its local VLAN translated on br-phy.")
    for i, note in enumerate(notes):
        svg.text(margin, legend_y + 26 + i * LINE, note, fill="#444")
    height = legend_y + 26 + len(notes) * LINE + 10
    width = max(width, margin * 2 + max(len(n) for n in notes) * CHAR_W)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg.render(width, height))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "matrix", "tunnels", "picture"])
    parser.add_argument("--prefix", default="nfdemo")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_intermixed_args()
    if opts.action == "down":
        netns.down(opts.prefix)
        return 0
    example = Path(opts.args[0])
    if opts.action == "up":
        print(up(opts.prefix, example))
    elif opts.action == "matrix":
        return 0 if print_matrix(opts.prefix, example) else 1
    elif opts.action == "tunnels":
        print_tunnels(opts.prefix, example)
    elif opts.action == "picture":
        print(picture(example, Path(opts.args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
