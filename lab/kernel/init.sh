#!/bin/sh
# PID 1 inside User-Mode Linux: a bare system gets proc, sys, /run, /dev/shm (Ansible needs it)
# and devpts, then guest.sh runs the tests, then power off. The root filesystem is the host's
# (hostfs), so the repository sits at the same path. run-tests passes NETFABRIC_* on the kernel
# command line: the kernel hands unknown NAME=VALUE parameters to init as environment.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs run /run
mkdir -p /dev/shm /dev/pts
mount -t tmpfs shm /dev/shm
mount -t devpts devpts /dev/pts
hostname uml
ip link set lo up

sh "$(dirname "$0")/guest.sh"
# The exit status does not leave UML; what matters is in the result file already. If init
# exited instead of powering off, UML would panic.
sync
exec /usr/bin/python3 -c 'import ctypes, os; os.sync(); ctypes.CDLL(None).reboot(0x4321FEDC)'
