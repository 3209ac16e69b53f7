#!/usr/bin/env python3
"""The example fabric in network namespaces: hypervisors, underlay, VMs, and what a user looks at.

    python3 lab/fabric.py up     --prefix nfdemo examples/vxlan   # hosts + VMs + lab inventory
    python3 lab/fabric.py matrix --prefix nfdemo examples/vxlan   # who reaches whom (real pings)
    python3 lab/fabric.py tunnels --prefix nfdemo examples/vxlan  # tunnel ports per host
    python3 lab/fabric.py picture --prefix nfdemo examples/vxlan OUT.svg
    python3 lab/fabric.py down   --prefix nfdemo

`up` writes ROOT/PREFIX/inventory.yml, an inventory layered over the example one (`-i EXAMPLE -i
that`): each hypervisor becomes a local host whose Python runs inside its namespace, with its own
state directory, so Ansible treats every namespace as a real host.
"""

from __future__ import annotations

import argparse
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
    for name in hosts:
        netns.Hypervisor(prefix, name).start()
    netns.wire(prefix, list(hosts), uplink=group.get("netfabric_uplink", "uplink"))
    mtu = int(group.get("netfabric_tenant_mtu", 1400))
    lab_hosts = {}
    for name, hostvars in hosts.items():
        hv = netns.Hypervisor(prefix, name)
        uplink = hostvars.get("netfabric_uplink", group.get("netfabric_uplink", "uplink"))
        # Where a real host starts: the underlay address on its NIC; the bridges role moves it.
        netns.sh("ip", "-n", hv.netns, "addr", "add", hostvars["netfabric_underlay_ip"], "dev", uplink)
        for port in hostvars.get("netfabric_ports", []):
            netns.add_vm(prefix, name, port["name"], port["name"], port.get("ip"), port.get("mac"), mtu=mtu)
        state = hv.dir / "state"
        state.mkdir(exist_ok=True)
        lab_hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(hv.python),
            "netfabric_state_dir": str(state),
            "tenants_systemd_unit": False,  # the namespaces share this machine's /etc
        }
    inventory = netns.lab_root(prefix) / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"hypervisors": {"hosts": lab_hosts}}))
    return inventory


def vms(example: Path) -> list[dict]:
    hosts, _ = load_inventory(example)
    return [dict(port, host=host) for host, hv in hosts.items() for port in hv.get("netfabric_ports", [])]


def ping(prefix: str, source: dict, target: dict) -> bool:
    """True when `target` itself answers: tenants reuse addresses, so a reply alone proves nothing;
    the source's ARP entry must hold the target's own MAC."""
    address = str(ipaddress.ip_interface(target["ip"]).ip)
    ns = vm_netns(prefix, source["name"])
    netns.sh("ip", "-n", ns, "neigh", "flush", "all", check=False)
    proc = netns.sh("ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", address, check=False)
    return proc.returncode == 0 and arp_mac(prefix, source, target) == target["mac"].lower()


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
    """Print the matrix; True when exactly same-tenant pairs reach each other."""
    machines = vms(example)
    result = matrix(prefix, example)
    tenant = {m["name"]: m["tenant"] for m in machines}
    names = [m["name"] for m in machines]
    width = max(len(n) for n in names) + 2
    print("reachability (rows ping columns; Y = the target itself answered, . = it did not, - = same address):")
    print(" " * width + "".join(n.rjust(width) for n in names))
    ok = True
    for source in names:
        cells = []
        for target in names:
            if (source, target) not in result:
                cells.append("-")
                continue
            reached = result[(source, target)]
            ok &= reached == (tenant[source] == tenant[target])
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


def picture(prefix: str, example: Path, out: Path):
    """An SVG of hosts (with their VMs, coloured by tenant) and the tunnels between them."""
    hosts, group = load_inventory(example)
    names = sorted(hosts)
    found = tunnels(prefix, example)
    address = {str(ipaddress.ip_interface(hosts[n]["netfabric_underlay_ip"]).ip): n for n in names}
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    colours = {t["name"]: palette[i % len(palette)] for i, t in enumerate(group.get("netfabric_tenants", []))}
    width, box_w, box_h, gap = 220 * len(names) + 40, 180, 150, 40
    xs = {n: 20 + i * (box_w + gap) for i, n in enumerate(names)}
    y = 200
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="440" font-family="sans-serif" font-size="12">',
             f'<text x="20" y="24" font-size="16">netfabric: {len(names)} hypervisors, overlay '
             f'{group.get("netfabric_overlay", "vxlan")}, mode {group.get("netfabric_mode", "learning")}</text>']
    drawn = set()
    for host in names:
        for port in found[host]:
            peer = address.get(port["remote_ip"])
            if peer is None or (peer, host) in drawn:
                continue
            drawn.add((host, peer))
            x1, x2 = xs[host] + box_w / 2, xs[peer] + box_w / 2
            top = 60 + 25 * (len(drawn) % 5)
            parts.append(f'<path d="M{x1},{y} C{x1},{top} {x2},{top} {x2},{y}" fill="none" stroke="#555" stroke-width="2"/>')
            parts.append(f'<text x="{(x1 + x2) / 2 - 40}" y="{top + 30}" fill="#333">{port["type"]} {host} - {peer}</text>')
    for host in names:
        x = xs[host]
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="8" fill="#f4f4f4" stroke="#333"/>')
        parts.append(f'<text x="{x + 10}" y="{y + 20}" font-weight="bold">{host}</text>')
        parts.append(f'<text x="{x + 10}" y="{y + 38}">{hosts[host]["netfabric_underlay_ip"]}</text>')
        for i, port in enumerate(hosts[host].get("netfabric_ports", [])):
            colour = colours.get(port["tenant"], "#777")
            parts.append(f'<rect x="{x + 10}" y="{y + 50 + i * 28}" width="{box_w - 20}" height="22" rx="4" fill="{colour}" opacity="0.85"/>')
            parts.append(f'<text x="{x + 16}" y="{y + 65 + i * 28}" fill="white">{port["name"]} {port.get("ip", "")}</text>')
    legend_y = y + box_h + 40
    for i, (tenant, colour) in enumerate(colours.items()):
        parts.append(f'<rect x="{20 + i * 120}" y="{legend_y}" width="14" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{40 + i * 120}" y="{legend_y + 12}">tenant {tenant}</text>')
    parts.append("</svg>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts) + "\n")
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
        print(picture(opts.prefix, example, Path(opts.args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
