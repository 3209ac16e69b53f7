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
