#!/bin/sh
# PID 1 inside User-Mode Linux: prepare a bare system, start Open vSwitch on the kernel
# datapath, run the kernel test suite, leave its status in a file, power off.
# The root filesystem is the host's (hostfs), so the repository sits at the same path.
# run-tests passes NETFABRIC_VENV on the kernel command line (the kernel hands unknown
# NAME=VALUE parameters to init as environment) and pytest arguments in .cache/uml/pytest-args.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/run/home TMPDIR=/run/tmp

poweroff() {
    # The exit status does not leave UML; what matters is in the result file already.
    sync
    exec /usr/bin/python3 -c 'import ctypes, os; os.sync(); ctypes.CDLL(None).reboot(0x4321FEDC)'
}

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="$REPO/.cache/uml"
VENV="${NETFABRIC_VENV:-$REPO/.venv}"

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs run /run
mkdir -p /dev/shm /dev/pts "$HOME" "$TMPDIR"
mount -t tmpfs shm /dev/shm
mount -t devpts devpts /dev/pts
hostname uml
ip link set lo up

{
    echo "== kernel $(uname -r), repo $REPO, venv $VENV"
    modprobe -v -a -d "$CACHE/modroot" 8021q ip_gre openvswitch dummy vxlan veth bridge || echo "== modprobe failed: $?"
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

cd "$REPO" || poweroff
# Extra pytest arguments (-k, -x ...), one a line: the kernel command line would mangle them.
set --
while IFS= read -r arg; do set -- "$@" "$arg"; done <"$CACHE/pytest-args"
"$VENV/bin/python" -m pytest -p no:cacheprovider -v -rA tests/kernel "$@" >"$CACHE/output.log" 2>&1
rc=$?
# Written last and in one step: its presence means the run finished.
echo "$rc" >"$CACHE/rc.tmp" && mv "$CACHE/rc.tmp" "$CACHE/rc"
poweroff
