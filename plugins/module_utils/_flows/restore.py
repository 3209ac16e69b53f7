# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore file: the owned flows as a bundle a boot or restart hook replays without Ansible.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import os


def restore_content(lines: list[str] | None) -> str | None:
    """The restore file's text for these lines; None means the file must not exist (state absent)."""
    return None if lines is None else "\n".join(lines) + "\n"


def restore_file_differs(path: str, content: str | None) -> bool:
    """Whether the restore file at `path` is not already `content` (None: not already absent)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return content is None or handle.read() != content
    except FileNotFoundError:
        return content is not None


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_restore_file(module, path: str, content: str | None) -> None:
    """Make the restore file hold `content` (None removes it), durably: a reader sees the old file or
    the new one, never a part, and a crash after this returns keeps the new one.

    The new content goes to a temporary file in the same directory, is fsynced, then atomic_move
    renames it over the old file and the directory is fsynced.
    """
    import tempfile

    directory = os.path.dirname(path) or "."
    if content is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _fsync_dir(directory)
        return
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".flows-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    os.chmod(path, 0o600)  # flows are root's: atomic_move gives a new file the umask's mode
    _fsync_dir(directory)
