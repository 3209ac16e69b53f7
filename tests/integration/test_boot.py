"""netfabric-boot.py, the boot unit's script, on a converged namespace fabric: what a reboot takes from
the kernel (the underlay address on br-phy; the OS's network configuration puts it back on the
uplink) comes back without Ansible, and the tenants with it. The reboot itself is proven in the
molecule scenario `reboot` (systemd containers restarted).
"""

from __future__ import annotations

import json
import time

from test_site import assert_isolated_tenants


def ipv4(hv, dev):
    return [a["local"] for link in json.loads(hv.exec("ip", "-j", "-4", "addr", "show", "dev", dev)) for a in link.get("addr_info", [])]


def test_boot_script_puts_the_underlay_back_on_br_phy(lab_factory):
    lab = lab_factory("vxlan")
    lab.playbook()
    hv2 = lab.hv("hv2")
    cidr = lab.hosts()["hv2"]["netfabric_underlay_ip"]
    address = cidr.split("/")[0]
    uplink = lab.group()["netfabric_uplink"]
    boot = ("python3", str(hv2.dir / "state" / "netfabric-boot.py"))
    underlay = json.loads((hv2.dir / "state" / "boot.json").read_text())["underlay"]
    assert {key: underlay[key] for key in ("address", "prefix", "uplink", "bridge")} == {
        "address": address, "prefix": int(cidr.split("/")[1]), "uplink": uplink, "bridge": "br-phy"}
    assert hv2.exec(*boot, "--check") == "", "converge left nothing for the boot script to do"

    # What a reboot leaves: br-phy (made again by ovs-vswitchd) down and without the address, which
    # the OS's own network configuration put back on the uplink.
    hv2.exec("ip", "addr", "del", cidr, "dev", "br-phy")
    hv2.exec("ip", "link", "set", "br-phy", "down")
    hv2.exec("ip", "addr", "add", cidr, "dev", uplink)
    time.sleep(1)  # ovs-vswitchd reads the kernel's routes from netlink
    assert not lab.reaches("tap-red-1", "tap-red-2"), "the tunnel has no route from br-phy"

    out = hv2.exec(*boot)
    assert "address add" in out and "address del" in out, out
    assert address in ipv4(hv2, "br-phy") and address not in ipv4(hv2, uplink)
    time.sleep(1)
    assert_isolated_tenants(lab)
    assert hv2.exec(*boot, "--check") == "", "a second run has nothing to do"
