"""The demo's picture (lab/fabric.py picture), drawn from the plans without a lab: it shows every host's
bridges, each tenant's tunnel id and its local VLAN on each host, every tunnel, and no tunnel arc runs
through another tunnel's label."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"(-?[\d.]+)"


def load_fabric():
    spec = importlib.util.spec_from_file_location("lab_fabric", REPO / "lab" / "fabric.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def five_hosts(root: Path) -> Path:
    """A mesh of five hosts, one tenant on a provider VLAN: long arcs that cross, and br-phy translation."""
    hosts = {}
    for i in range(1, 6):
        ports = [{"name": f"tap-red-{i}", "tenant": "red", "ip": f"10.0.0.{i}/24"}]
        if i in (1, 4):
            ports.append({"name": f"tap-green-{i}", "tenant": "green", "ip": f"10.1.0.{i}/24"})
        hosts[f"hv{i}"] = {"netfabric_underlay_ip": f"172.31.0.{i}/24", "netfabric_ports": ports}
    (root / "group_vars").mkdir(parents=True)
    (root / "hosts.yml").write_text(yaml.safe_dump({"hypervisors": {"hosts": hosts}}))
    tenants = [{"name": "red", "tunnel_id": 1001, "subnets": ["10.0.0.0/24"]},
               {"name": "green", "tunnel_id": 1003, "subnets": ["10.1.0.0/24"], "provider_vlan": 100}]
    group = {"netfabric_overlay": "vxlan", "netfabric_uplink": "eth0", "netfabric_datapath_type": "netdev", "netfabric_tenants": tenants}
    (root / "group_vars" / "hypervisors.yml").write_text(yaml.safe_dump(group))
    return root


def bezier(arc, t):
    x0, y0, x1, y1, x2, y2, x3, y3 = arc
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)


def crossings(svg: str) -> list[str]:
    """Labels (white plates) that another tunnel's arc passes through, or that overlap each other."""
    arcs = [tuple(map(float, m)) for m in re.findall(rf'd="M{NUMBER},{NUMBER} C{NUMBER},{NUMBER} {NUMBER},{NUMBER} {NUMBER},{NUMBER}"', svg)]
    plates = [tuple(map(float, m)) for m in re.findall(rf'<rect x="{NUMBER}" y="{NUMBER}" width="{NUMBER}" height="{NUMBER}" rx="4" fill="white"', svg)]
    found = []
    for i, (x, y, w, h) in enumerate(plates):
        for arc in arcs:
            top = bezier(arc, 0.5)
            if abs(top[0] - (x + w / 2)) < 1 and y <= top[1] <= y + h:
                continue  # its own arc, whose top the label sits on
            if any(x - 2 <= px <= x + w + 2 and y - 2 <= py <= y + h + 2 for px, py in (bezier(arc, k / 400) for k in range(401))):
                found.append(f"label {i} at ({x:.0f},{y:.0f}) crossed by the arc from ({arc[0]:.0f},{arc[1]:.0f}) to ({arc[6]:.0f},{arc[7]:.0f})")
        found += [f"labels {j} and {i} overlap" for j, (x2, y2, w2, h2) in enumerate(plates[:i])
                  if x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h]
    return found


@pytest.mark.parametrize("example", ["examples/vxlan", "examples/gre", "five hosts"])
def test_picture_shows_bridges_ids_vlans_and_no_label_is_crossed(example, tmp_path):
    fabric = load_fabric()
    source = five_hosts(tmp_path / "five") if example == "five hosts" else REPO / example
    svg = fabric.picture(source, tmp_path / "fabric.svg").read_text()
    plans = fabric.plans(source)
    word = {"vxlan": "VNI", "gre": "GRE key"}
    for host, plan in plans.items():
        assert f">{host}<" in svg
        for tenant in plan["tenants"]:
            if tenant["provider_vlan"] is None:
                assert f"{word[tenant['overlay']]} {tenant['tunnel_id']} &lt;-&gt; vlan {tenant['local_vlan']}" in svg
            else:
                assert f"vlan {tenant['local_vlan']} &lt;-&gt; provider vlan {tenant['provider_vlan']}" in svg
        for tunnel in plan["tunnels"]:
            assert f"{tunnel['name']} -&gt; {tunnel['peer']}" in svg
    assert svg.count("br-int (secure)") == svg.count("br-tun (secure)") == svg.count("br-phy (standalone)") == len(plans)
    pairs = {tuple(sorted((host, t["peer"]))) for host, plan in plans.items() for t in plan["tunnels"]}
    assert svg.count('rx="4" fill="white"') == len(pairs), "one label per tunnel"
    assert crossings(svg) == []


def test_crossing_check_can_fail():
    """An arc drawn through a label that is not its own is reported."""
    svg = ('<path d="M0,100 C0,0 200,0 200,100"/>'
           '<rect x="-10" y="60" width="30" height="18" rx="4" fill="white" stroke="#222"/>')
    assert crossings(svg)
