#!/bin/sh
# Inside the kernel lab's guest (User-Mode Linux or QEMU): load the kernel features the host
# lacks, start Open vSwitch on the kernel datapath with its state on tmpfs, run tests/kernel,
# and leave pytest's status in CACHE/rc (written last, in one step: its presence means the run
# finished) and its output in CACHE/output.log.
#
# Environment (from run-tests): NETFABRIC_KERNEL_VM (uml|qemu, tells the tests where they are),
# NETFABRIC_MODROOT (a folder whose lib/modules/$(uname -r) holds the guest kernel's modules),
# NETFABRIC_VENV (the virtualenv), NETFABRIC_KERNEL_CACHE (where results go). Extra pytest
# arguments come one a line in CACHE/pytest-args (a kernel command line would mangle them).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/run/home TMPDIR=/run/tmp PYTHONDONTWRITEBYTECODE=1

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="${NETFABRIC_KERNEL_CACHE:-$REPO/.cache/kernel}"
VENV="${NETFABRIC_VENV:-$REPO/.venv}"
export NETFABRIC_KERNEL_VM

mkdir -p "$HOME" "$TMPDIR"
{
    echo "== $NETFABRIC_KERNEL_VM: kernel $(uname -r), repo $REPO, venv $VENV"
    modprobe -v -a -d "$NETFABRIC_MODROOT" 8021q ip_gre openvswitch dummy vxlan veth bridge bonding \
        || echo "== modprobe failed: $?"
    lsmod

    # Open vSwitch with its state on the tmpfs, found by every tool through OVS_RUNDIR.
    export OVS_RUNDIR=/run/openvswitch OVS_DBDIR=/run/ovsdb OVS_LOGDIR=/run/ovslog
    mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR"
    ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
        --pidfile --detach -vconsole:off --log-file
    ovs-vsctl --no-wait init
    ovs-vswitchd --pidfile --detach -vconsole:off --log-file
} >"$CACHE/boot.log" 2>&1

export OVS_RUNDIR=/run/openvswitch OVS_DBDIR=/run/ovsdb OVS_LOGDIR=/run/ovslog
cd "$REPO" || exit 1
set --
while IFS= read -r arg; do set -- "$@" "$arg"; done <"$CACHE/pytest-args"
"$VENV/bin/python" -m pytest -p no:cacheprovider -v -rA tests/kernel "$@" >"$CACHE/output.log" 2>&1
rc=$?
echo "$rc" >"$CACHE/rc.tmp" && mv "$CACHE/rc.tmp" "$CACHE/rc"
exit "$rc"
