# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lock per host, held by a module from its read to the end of its write.

Two runs against one host then interleave only between module calls, and every write is planned
from a read no other netfabric module can invalidate before it lands. It is an flock(2): the
kernel drops it when the holder exits, so a run killed with SIGKILL cannot leave it held.

"Host" is the network namespace the module runs in (the lab's namespace hypervisors share one
/run but not one namespace), so the lock file is named after the namespace's inode.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time

LOCK_DIR = "/run/lock"
LOCK_WAIT = 120  # seconds: longer than any single module write, so only a wedged holder fails us


class LockTimeout(Exception):
    """Another run kept the host's lock for longer than we wait."""


def lock_path(directory=LOCK_DIR):
    """The lock of the network namespace this process runs in."""
    try:
        inode = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        inode = 0
    return os.path.join(directory if os.path.isdir(directory) else "/tmp", f"netfabric-net{inode}.lock")


def _holder(fd):
    try:
        return os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def host_lock(wait=LOCK_WAIT, path=None):
    """Hold the host's lock; raise LockTimeout naming the holder's pid after `wait` seconds."""
    path = path or lock_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another netfabric run (pid {_holder(fd)}) has held this host's lock {path} "
                        f"for more than {wait} s; nothing was read or written"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)  # closing the last descriptor releases the flock
