"""MTU end to end: what the inventory says is what a VM can send, whole, to another host.

Two netdev hypervisors of the example fabric whose underlay switch (the lab's "physical network")
carries 1600-byte frames, `netfabric_underlay_mtu: 1600`, and two tenants at `mtu: 1500`, red over
VXLAN and blue over GRE. A host's uplink starts at the kernel's 1500, like a NIC: the fabric must
raise it (and br-phy), or a full-size tenant frame, 1500 + the encapsulation, never leaves the host
and the VM's ping is silently lost. Each VM takes the MTU its host's plan offers its tenant (what
DHCP option 26 would give it). Then `ping -M do -s 1472` (1500 bytes of IP) crosses between hosts,
encapsulated in the tenant's own overlay (seen on the underlay, at the outer size the encapsulation
gives), and `-s 1473` fails at the sender with "message too long": the oversize packet is refused
where it can be told, not dropped in the tunnel.
"""

from __future__ import annotations

import ipaddress
import json

import fabric
import netns

UNDERLAY_MTU = 1600
TENANT_MTU = 1500
TENANTS = [
    {"name": "red", "tunnel_id": 1001, "overlay": "vxlan", "mtu": TENANT_MTU, "subnets": ["10.0.0.0/24"]},
    {"name": "blue", "tunnel_id": 1002, "overlay": "gre", "mtu": TENANT_MTU, "subnets": ["10.0.0.0/24"]},
]
# On the wire, what tcpdump prints of each overlay's outer packets.
WIRE = {"vxlan": "udp port 4789", "gre": "proto gre"}
ICMP_IPV4 = 28  # IPv4 header 20 + ICMP echo header 8: ping -s N sends an IP packet of N + 28 bytes


def encapsulation():
    """The collection's own count of encapsulation bytes (inventory.py), so the test and the
    validation never disagree about what fits. Call after fabric.plans, which makes the collection importable."""
    from ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric.inventory import ENCAP_OVERHEAD  # noqa: PLC0415

    return ENCAP_OVERHEAD


def vm_ping(lab, source, target, size):
    """(returncode, output) of one `ping -M do -s SIZE` (never fragment) from the source VM."""
    address = str(ipaddress.ip_interface(lab.vm(target)["ip"]).ip)
    ns = fabric.vm_netns(lab.prefix, source)
    netns.sh("ip", "-n", ns, "neigh", "flush", "all", check=False)
    proc = netns.sh("ip", "netns", "exec", ns, "ping", "-M", "do", "-s", str(size), "-c", "2", "-i", "0.3", "-W", "2", address,
                    check=False)
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def iface(hv, name):
    table = json.loads(hv.vsctl("--format=json", "--data=json", "--columns=mtu,mtu_request", "list", "Interface", name))
    return dict(zip(table["headings"], table["data"][0]))


def test_tenant_mtu_crosses_the_underlay_whole_and_one_byte_more_fails_at_the_sender(lab_factory):
    lab = lab_factory("vxlan", netfabric_underlay_mtu=UNDERLAY_MTU, netfabric_tenants=TENANTS)
    lab.remove_host("hv3")
    recap = lab.playbook()
    assert all(host["failed"] == 0 for host in recap.values()), recap
    plans = fabric.plans(lab.example)
    overhead = encapsulation()

    # The guest's business, done as a guest would: the MTU its host's plan offers the tenant.
    for host in ("hv1", "hv2"):
        offered = {t["name"]: t["mtu"] for t in plans[host]["tenants"]}
        assert offered == {"red": TENANT_MTU, "blue": TENANT_MTU}, offered
        hv = lab.hv(host)
        for port in lab.hosts()[host]["netfabric_ports"]:
            netns.sh("ip", "-n", fabric.vm_netns(lab.prefix, port["name"]), "link", "set", "eth0", "mtu", str(offered[port["tenant"]]))
            assert iface(hv, port["name"]) == {"mtu": offered[port["tenant"]], "mtu_request": offered[port["tenant"]]}
        for name in ("uplink", "br-phy"):  # OVS owns both: requested, and applied
            assert iface(hv, name) == {"mtu": UNDERLAY_MTU, "mtu_request": UNDERLAY_MTU}, (host, name, iface(hv, name))

    for tenant in TENANTS:
        source, target = f"tap-{tenant['name']}-1", f"tap-{tenant['name']}-2"
        biggest = tenant["mtu"] - ICMP_IPV4
        with lab.hv("hv1").tcpdump(WIRE[tenant["overlay"]], "-e") as wire:
            rc, out = vm_ping(lab, source, target, biggest)
        assert rc == 0, f"{tenant['name']}: ping -M do -s {biggest} across hosts failed:\n{out}"
        assert fabric.arp_mac(lab.prefix, lab.vm(source), lab.vm(target)) == lab.vm(target)["mac"], "another tenant's VM answered"
        # outer Ethernet 14 + the tenant's whole frame (14 + MTU) + the rest of the encapsulation: the
        # local VLAN tag does not travel (br-tun pops it), so nothing beyond inventory.py's count
        outer = 14 + tenant["mtu"] + overhead[tenant["overlay"]]
        assert any(f"length {outer}:" in line for line in wire), f"no {outer}-byte {tenant['overlay']} frame on hv1's uplink:\n" + "\n".join(wire)

        rc, out = vm_ping(lab, source, target, biggest + 1)
        assert rc != 0 and "message too long" in out, f"{tenant['name']}: ping -s {biggest + 1} did not fail at the sender:\n{out}"

    rerun = lab.playbook()
    assert all(host["changed"] == 0 and host["failed"] == 0 for host in rerun.values()), rerun
