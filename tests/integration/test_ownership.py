"""Touch only what is ours: a port made with a module's defaults, and a bridge another tool made.

`site` purges the fabric's own ports by their owner mark, and `teardown` deletes only bridges the
fabric marked. A port made by following ovs_port's EXAMPLES (the module's default owner) must
survive both; a br-int that existed before the fabric is used, never stamped, and teardown
leaves it with its own port.
"""

from __future__ import annotations

import json
import subprocess

from conftest import ansible_bin, ansible_env


def external_ids(hv, table, record):
    out = hv.vsctl("--format=json", "--data=json", "--columns=external_ids", "list", table, record)
    return dict(json.loads(out)["data"][0][0][1])


def test_foreign_ports_and_bridges_survive_site_and_teardown(lab_factory):
    lab = lab_factory("vxlan")
    hv1, hv2 = lab.hv("hv1"), lab.hv("hv2")
    # another tool's br-int on hv1, with a port of its own, before the fabric ever ran
    hv1.vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
              "--", "add-port", "br-int", "other0", "--", "set", "Interface", "other0", "type=internal")
    lab.playbook()
    assert "netfabric_owner" not in external_ids(hv1, "Bridge", "br-int"), "an existing bridge was adopted silently"
    assert lab.reaches("tap-red-1", "tap-red-2")

    # a port made on hv2's br-int with ovs_port's defaults, as its EXAMPLES show
    argv = [ansible_bin("ansible"), "-i", str(lab.example), "-i", str(lab.lab_inventory), "hv2",
            "-m", "netfabric.ovs.ovs_port", "-a", "bridge=br-int name=tap-extra type=internal tag=101"]
    made = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), check=False)
    assert made.returncode == 0, made.stdout[-2000:]
    assert external_ids(hv2, "Port", "tap-extra")["netfabric_owner"] == "ansible"
    rerun = lab.playbook()
    assert rerun["hv2"]["changed"] == 0, rerun
    assert "tap-extra" in hv2.vsctl("list-ports", "br-int").split(), "site purged a port it did not make"

    lab.playbook("teardown")
    assert hv1.vsctl("list-ports", "br-int").split() == ["other0"], "teardown must leave the foreign bridge and its port"
    assert hv2.vsctl("list-ports", "br-int").split() == ["tap-extra"]
    assert "br-tun" not in hv1.vsctl("list-br").split(), "what the fabric made is gone"


def test_teardown_removes_exactly_what_the_fabric_made_and_a_second_changes_nothing(lab_factory):
    """Teardown is each role's absent path, decided by the modules at the moment they run.

    hv3 is a kernel-datapath host with provider VLAN 100 (this lab has no OVS kernel module nor
    802.1Q, so it is never converged here) that already has an `uplink.100` the fabric did not make:
    teardown must leave that link. On hv1 another tool adds a port to br-tun, a bridge the fabric
    made, after the converge: the port and the bridge that holds it stay, everything else the
    fabric made goes, and the underlay address is back on the uplink. A second teardown changes nothing.
    """
    lab = lab_factory("vxlan", host_overrides={"hv3": {"netfabric_datapath_type": "system", "netfabric_provider_vlans": [100]}})
    hv1, hv3 = lab.hv("hv1"), lab.hv("hv3")
    hv3.exec("ip", "link", "add", "link", "uplink", "name", "uplink.100", "type", "macvlan")
    before = lab.snapshot()
    lab.playbook("site", "--limit", "hv1,hv2")
    assert lab.reaches("tap-red-1", "tap-red-2")
    hv1.vsctl("add-port", "br-tun", "foreign0", "--", "set", "Interface", "foreign0", "type=internal")

    lab.playbook("teardown")
    assert "uplink.100@uplink" in hv3.exec("ip", "-br", "link").split(), "teardown deleted a link the fabric did not make"
    assert hv1.vsctl("list-br").split() == ["br-tun"], "only the bridge holding the foreign port may stay"
    assert hv1.vsctl("list-ports", "br-tun").split() == ["foreign0"], "teardown must leave a port added since, and only it"
    assert "172.31.0.1/24" in hv1.exec("ip", "-br", "addr", "show", "dev", "uplink"), "the underlay address is back on the uplink"
    after = lab.snapshot()
    for name in ("hv2", "hv3"):
        assert after[name] == before[name], f"{name} is not as it was"

    again = lab.playbook("teardown")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in again.values()), again
    assert lab.snapshot() == after
