"""dhcp_server's pure half: validation, the exact files dnsmasq gets, and the steps planned from a read."""

from __future__ import annotations

import shutil
import signal
import subprocess

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.ovs.plugins.module_utils import _dhcp as dhcp
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

BINS = {"ip": "/usr/bin/ip", "dnsmasq": "/usr/sbin/dnsmasq", "kill": "/usr/bin/kill", "python": "/usr/bin/python3"}
DIR = "/etc/netfabric/dhcp/red-a"


def want(**given):
    params = {"name": "red-a", "netns": "qdhcp-red", "interface": "dhcp-red", "dir": DIR, "subnet": "10.0.0.0/24",
              "hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.11", "hostname": "vm1"},
                        {"mac": "52:54:00:01:00:02", "ip": "10.0.0.12"}],
              "router": "10.0.0.1", "supervisor": "process"}
    params.update(given)
    result = ArgumentSpecValidator(dhcp.ARGUMENT_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return dhcp.dhcp_want(result.validated_parameters, binaries=BINS)


def problem(**given):
    with pytest.raises(ValidationError) as err:
        want(**given)
    return str(err.value)


@pytest.mark.parametrize("given, words", [
    ({"range": {"start": "10.0.0.10", "end": "10.0.0.50"}}, ["range:", "hosts[0].ip 10.0.0.11", "hosts[1].ip 10.0.0.12"]),
    ({"range": {"start": "10.0.0.1", "end": "10.0.0.5"}}, ["range:", "router 10.0.0.1"]),
    ({"range": {"start": "10.0.0.50", "end": "10.0.0.40"}}, ["range:", "after end"]),
    ({"range": {"start": "10.0.0.50", "end": "10.0.1.40"}}, ["range.end:", "not a host address of subnet 10.0.0.0/24"]),
    ({"hosts": [{"mac": "01:00:5e:00:00:01", "ip": "10.0.0.11"}]}, ["hosts[0].mac:", "not a unicast MAC"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.1.11"}]}, ["hosts[0].ip:", "not a host address of subnet"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.255"}]}, ["hosts[0].ip:", "not a host address"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.11"}, {"mac": "52:54:00:01:00:01", "ip": "10.0.0.12"}]},
     ["hosts[1].mac:", "already hosts[0].mac"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.11"}, {"mac": "52:54:00:01:00:02", "ip": "10.0.0.11"}]},
     ["hosts[1].ip:", "already hosts[0].ip"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.11", "hostname": "-bad"}]}, ["hosts[0].hostname:"]),
    ({"hosts": [{"mac": "52:54:00:01:00:01", "ip": "10.0.0.1"}]}, ["router: 10.0.0.1 is also the address of a static host"]),
    ({"subnet": "10.0.0.1/24"}, ["subnet:", "host bits zero"]),
    ({"subnet": "2001:db8::/64"}, ["subnet:", "only IPv4"]),
    ({"router": "10.9.0.1"}, ["router:", "not a host address of subnet"]),
    ({"routes": [{"dst": "10.8.0.0/16", "via": "192.0.2.1"}]}, ["routes[0].via:"]),
    ({"routes": [{"dst": "10.8.0.1/16", "via": "10.0.0.254"}]}, ["routes[0].dst:"]),
    ({"dns": ["dns.example"]}, ["dns[0]:", "not an IPv4 address"]),
    ({"name": "Red"}, ["name:", "a-z 0-9 _ -"]),
    ({"dir": "relative/dir"}, ["dir:", "absolute path"]),
    ({"dir": "/etc/net fabric"}, ["dir:"]),
    ({"interface": "a-name-longer-than-15"}, ["interface:"]),
    ({"lease_time": 60}, ["lease_time:", "120-"]),
    ({"mtu": 10}, ["mtu:"]),
    ({"domain": "bad_domain"}, ["domain:"]),
])
def test_bad_input_is_named(given, words):
    text = problem(**given)
    for word in words:
        assert word in text, text


def test_absent_needs_only_name_and_dir():
    w = dhcp.dhcp_want({"name": "red-a", "dir": DIR, "state": "absent"})
    assert w["unit"] == "netfabric-dhcp-red-a.service" and "files" not in w


def test_files_as_dnsmasq_reads_them():
    w = want(dns=["192.0.2.53", "192.0.2.54"], routes=[{"dst": "10.8.0.0/16", "via": "10.0.0.254"}], mtu=1450,
             domain="red.example", lease_time=3600)
    assert w["files"]["dnsmasq.conf"] == (
        "# netfabric.ovs dhcp_server red-a: written by the module; changes are overwritten.\n"
        "# DHCP for 10.0.0.0/24 on dhcp-red in namespace qdhcp-red\n"
        "port=0\nno-resolv\nno-hosts\nuser=root\nbind-interfaces\ninterface=dhcp-red\nexcept-interface=lo\n"
        "dhcp-range=10.0.0.0,static,255.255.255.0,3600\ndhcp-authoritative\n"
        f"dhcp-leasefile={DIR}/leases\ndhcp-hostsfile={DIR}/hosts\ndhcp-optsfile={DIR}/opts\n"
        f"pid-file={DIR}/dnsmasq.pid\nlog-facility=-\n"
    )
    assert w["files"]["hosts"] == "52:54:00:01:00:01,10.0.0.11,vm1\n52:54:00:01:00:02,10.0.0.12\n"
    assert w["files"]["opts"] == (
        "option:router,10.0.0.1\noption:dns-server,192.0.2.53,192.0.2.54\n"
        "option:classless-static-route,10.8.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1\n"
        "option:mtu,1450\noption:domain-name,red.example\n"
    )
    assert w["command"] == ["/usr/bin/ip", "netns", "exec", "qdhcp-red", "/usr/sbin/dnsmasq", "--keep-in-foreground",
                            f"--conf-file={DIR}/dnsmasq.conf"]
    assert w["supervise_argv"] == ["/usr/bin/python3", f"{DIR}/supervise", DIR] + w["command"]


def test_range_and_options_left_out():
    w = want(router=None, range={"start": "10.0.0.100", "end": "10.0.0.200"}, netns=None,
             routes=[{"dst": "10.8.0.0/16", "via": "10.0.0.254"}])
    assert "dhcp-range=10.0.0.100,10.0.0.200,255.255.255.0,86400\n" in w["files"]["dnsmasq.conf"]
    # no router: sent to nobody (dnsmasq would offer itself), and no default route added to option 121
    assert w["files"]["opts"] == "option:router\noption:dns-server\noption:classless-static-route,10.8.0.0/16,10.0.0.254\n"
    assert w["command"][0] == "/usr/sbin/dnsmasq"
    given_default = want(routes=[{"dst": "default", "via": "10.0.0.254"}])
    assert "option:classless-static-route,0.0.0.0/0,10.0.0.254\n" in given_default["files"]["opts"]


def test_unit_text():
    text = want()["unit_text"]
    for line in ("ExecStart=/usr/bin/ip netns exec qdhcp-red /usr/sbin/dnsmasq --keep-in-foreground "
                 f"--conf-file={DIR}/dnsmasq.conf", "Restart=always", "RestartSec=1", "StartLimitIntervalSec=0",
                 "After=openvswitch-switch.service network-online.target", "WantedBy=multi-user.target",
                 "ExecReload=/usr/bin/kill -HUP $MAINPID"):
        assert line in text.splitlines(), line


def test_unit_requires_the_boot_step_that_puts_its_namespace_back():
    """After a reboot dnsmasq waits for its namespace, and never starts when the boot step failed."""
    lines = want(requires=["netfabric-netns.service"])["unit_text"].splitlines()
    assert "Requires=netfabric-netns.service" in lines
    assert "After=openvswitch-switch.service network-online.target netfabric-netns.service" in lines
    assert not [line for line in want()["unit_text"].splitlines() if line.startswith("Requires=")]
    with pytest.raises(dhcp.ValidationError, match=r"requires\[0\]"):
        want(requires=["netfabric-netns; rm"])


@pytest.mark.skipif(not shutil.which("systemd-analyze") or not shutil.which("dnsmasq"), reason="needs systemd-analyze and dnsmasq")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    bins = {"ip": shutil.which("ip"), "dnsmasq": shutil.which("dnsmasq"), "kill": shutil.which("kill"), "python": "/usr/bin/python3"}
    w = dhcp.dhcp_want({"name": "red-a", "netns": "qdhcp-red", "interface": "dhcp-red", "dir": DIR, "subnet": "10.0.0.0/24"},
                       binaries=bins)
    unit = tmp_path / w["unit"]
    unit.write_text(w["unit_text"])
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    unit.write_text(w["unit_text"].replace("Restart=always", "Restart=sometimes"))  # the check can fail
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert "Restart" in proc.stderr or "restart" in proc.stderr


def test_supervisor_is_valid_python():
    compile(dhcp.SUPERVISOR_TEXT, "supervise", "exec")


def have(w, *, files=None, supervisor=True, dnsmasq=4242, link=("10.0.0.2",), unit=None, enabled=False, systemd=False):
    current = dict(w["files"], supervise=dhcp.SUPERVISOR_TEXT) if files is None else files
    return {
        "supervisor": (4241, ["/usr/bin/python3"] + w["supervise_argv"][1:]) if supervisor else None,
        "dnsmasq": dnsmasq, "files": current, "present": [], "dir_exists": True,
        "unit_text": unit, "unit_enabled": enabled, "systemd": systemd, "link": list(link) if link is not None else None,
    }


def test_nothing_to_do_when_it_runs_with_these_files():
    w = want()
    change, steps, warnings = dhcp.plan_dhcp(w, have(w))
    assert not change.any and steps == [] and warnings == []


def test_fresh_start_writes_files_and_starts_the_supervisor():
    w = want()
    change, steps = dhcp.plan_dhcp(w, have(w, files={}, supervisor=False, dnsmasq=None))[:2]
    assert change.changed and change.commands == [w["supervise_argv"]]
    assert [s[1] for s in steps if s[0] == "write"] == [f"{DIR}/{n}" for n in ("dnsmasq.conf", "hosts", "opts", "supervise")]
    assert steps[-2:] == [("start",), ("wait", None)]
    assert [d["after_header"] for d in change.diff] == [f"{DIR}/{n}" for n in ("dnsmasq.conf", "hosts", "opts", "supervise")]


def test_hosts_change_is_a_sighup():
    w = want()
    old = dict(w["files"], supervise=dhcp.SUPERVISOR_TEXT, hosts="52:54:00:01:00:01,10.0.0.99\n")
    change, steps = dhcp.plan_dhcp(w, have(w, files=old))[:2]
    assert change.commands == [["kill", "-HUP", "4242"]] and change.extra["files_changed"] == ["hosts"]
    assert steps == [("write", f"{DIR}/hosts", w["files"]["hosts"], 0o600), ("signal", 4242, signal.SIGHUP)]
    assert change.diff[0]["before"] == "52:54:00:01:00:01,10.0.0.99\n"


def test_config_change_restarts_dnsmasq_under_its_supervisor():
    w = want()
    old = dict(w["files"], supervise=dhcp.SUPERVISOR_TEXT, **{"dnsmasq.conf": "port=0\n"})
    change, steps = dhcp.plan_dhcp(w, have(w, files=old))[:2]
    assert change.commands == [["kill", "-TERM", "4242"]]
    assert steps[1:] == [("signal", 4242, signal.SIGTERM), ("wait", 4242)]


def test_orphan_dnsmasq_is_stopped_before_a_new_supervisor_starts():
    w = want()
    change, steps = dhcp.plan_dhcp(w, have(w, supervisor=False))[:2]
    assert change.commands == [["kill", "-TERM", "4242"], w["supervise_argv"]]
    assert steps == [("stop", 4242), ("start",), ("wait", None)]


def test_server_address_read_from_the_link_must_stay_out_of_the_range():
    w = want(range={"start": "10.0.0.2", "end": "10.0.0.9"})
    with pytest.raises(ValidationError, match=r"the server's own address 10\.0\.0\.2"):
        dhcp.plan_dhcp(w, have(w))
    with pytest.raises(ValidationError, match=r"hosts: 10\.0\.0\.11 is the server's own address"):
        dhcp.plan_dhcp(want(), have(w, link=("10.0.0.11",)))


def test_link_without_an_address_in_the_subnet_fails_but_check_mode_warns():
    w = want()
    with pytest.raises(ValidationError, match="has no address in subnet 10.0.0.0/24"):
        dhcp.plan_dhcp(w, have(w, link=("192.0.2.1",)))
    warnings = dhcp.plan_dhcp(w, have(w, link=None), check_mode=True)[2]
    assert warnings and "check mode" in warnings[0]


def test_systemd_writes_enables_and_starts_the_unit():
    w = want(supervisor="systemd")
    change, steps = dhcp.plan_dhcp(w, have(w, supervisor=False, dnsmasq=None))[:2]
    unit = f"/etc/systemd/system/{w['unit']}"
    assert ("write", unit, w["unit_text"], 0o644) in steps
    assert change.commands == [["systemctl", "daemon-reload"], ["systemctl", "enable", w["unit"]],
                               ["systemctl", "restart", w["unit"]]]
    hosts_only = dict(w["files"], hosts="")
    change = dhcp.plan_dhcp(w, have(w, files=hosts_only, supervisor=False, unit=w["unit_text"], enabled=True))[0]
    assert change.commands == [["systemctl", "reload", w["unit"]]]


def test_absent_stops_removes_and_says_nothing_when_gone():
    w = dhcp.dhcp_want({"name": "red-a", "dir": DIR, "state": "absent"})
    h = {"supervisor": (4241, ["python3", f"{DIR}/supervise"]), "dnsmasq": 4242, "present": ["dnsmasq.conf", "leases"],
         "dir_exists": True, "unit_text": "[Unit]\n", "unit_enabled": True, "systemd": True, "files": {}}
    change, steps = dhcp.plan_dhcp(w, h)[:2]
    assert change.changed and change.commands == [
        ["systemctl", "disable", "--now", w["unit"]], ["systemctl", "daemon-reload"],
        ["kill", "-TERM", "4241"], ["kill", "-TERM", "4242"]]
    assert ("remove", f"{DIR}/leases") in steps and steps[-1] == ("rmdir", DIR)
    gone = dict(h, supervisor=None, dnsmasq=None, present=[], dir_exists=False, unit_text=None, unit_enabled=False)
    change, steps = dhcp.plan_dhcp(w, gone)[:2]
    assert not change.any and steps == []


def test_files_are_written_whole_and_a_failed_step_is_named(tmp_path):
    target = tmp_path / "inst" / "hosts"
    dhcp.apply_steps([("write", str(target), "52:54:00:01:00:01,10.0.0.11\n", 0o600)], {})
    assert target.read_text() == "52:54:00:01:00:01,10.0.0.11\n" and (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["hosts"], "a temporary file was left"
    (tmp_path / "plain").write_text("")
    with pytest.raises(dhcp.StepError, match=r"write .*plain/opts failed"):
        dhcp.apply_steps([("write", str(tmp_path / "plain" / "opts"), "", 0o600)], {})
