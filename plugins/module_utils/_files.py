# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a file that a daemon, a boot unit or the restore hook may read at any moment.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(target, text, mode=0o600):
    """A reader (dnsmasq on SIGHUP, systemd, a boot script) sees the old file or the new one, never a
    part: a temporary file beside it, synced, given its mode, then renamed over it. The directory is
    made (0700) when missing."""
    directory = os.path.dirname(target)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
