# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory and the files the roles keep in it, in one module call.

Root replays what is kept there (flow bundles, the boot scripts and their state), so the directory
is root's alone: made 0700 when missing; one that exists is used only if root owns it and no one
else can write to it, nor to its parent (which could swap it) unless that is sticky like /tmp.
Nothing is written into a directory that fails the check. Files are replaced atomically, and only
when their content or mode differs; a run that finds everything in place writes nothing. The same
call reads what the roles decide on (is systemd running, is a unit installed, which servers' or
tables' files an earlier run left), so a host with nothing to change costs one module execution.

Private to the collection: the API may change without notice.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat

from ansible_collections.netfabric.ovs.plugins.module_utils import _validate as v
from ansible_collections.netfabric.ovs.plugins.module_utils._files import write_atomically
from ansible_collections.netfabric.ovs.plugins.module_utils._module import Change, run
from ansible_collections.netfabric.ovs.plugins.module_utils._runner import CommandError

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    subdirs=dict(type="list", elements="str", default=[]),
    files=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(name=dict(type="str", required=True), content=dict(type="str", required=True), mode=dict(type="str", default="0600")),
    ),
    purge=dict(type="list", elements="str", default=[]),
    stat=dict(type="list", elements="str", default=[]),
    list=dict(type="list", elements="str", default=[]),
)
DIR_MODE = 0o700
PARENT_MODE = 0o755  # parents the module makes (only where none exists)
NAME_RULE = "a relative path inside the directory: no leading '/', no '.', '..' or empty parts"


def _relative(field, value):
    problem = v.path_problem("/" + value) if isinstance(value, str) else "not a string"
    if problem is not None or value.startswith("/"):
        raise v.ValidationError(f"{field}: {value!r} is not {NAME_RULE}")
    return value


def _mode(field, value):
    try:
        mode = int(value, 8)
    except (TypeError, ValueError):
        mode = None
    if mode is None or not 0 <= mode <= 0o7777:
        raise v.ValidationError(f"{field}: {value!r} is not an octal file mode (allowed 0000-7777, such as '0600')")
    return mode


def validate(params):
    """Every name inside the directory, every mode octal, every stat path absolute: before any read."""
    root = v.abs_path("path", params["path"])
    files = {}
    for i, item in enumerate(params["files"]):
        name = _relative(f"files[{i}].name", item["name"])
        if name in files:
            raise v.ValidationError(f"files[{i}].name: {name!r} is listed twice")
        files[name] = {"content": item["content"], "mode": _mode(f"files[{i}].mode", item["mode"])}
    subdirs = [_relative(f"subdirs[{i}]", name) for i, name in enumerate(params["subdirs"])]
    clash = sorted(set(subdirs) & set(files))
    if clash:
        raise v.ValidationError(f"files: {clash[0]!r} is also in subdirs (allowed: a name in one of them)")
    return {
        "path": root,
        "state": params["state"],
        "subdirs": subdirs,
        "files": files,
        "purge": [_relative(f"purge[{i}]", pattern) for i, pattern in enumerate(params["purge"])],
        "stat": [v.abs_path(f"stat[{i}]", path) for i, path in enumerate(params["stat"])],
        "list": [_relative(f"list[{i}]", pattern) for i, pattern in enumerate(params["list"])],
    }


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _file(path):
    """A regular file as {sha1, mode}; 'other' for a link, directory or device; None when missing."""
    st = _lstat(path)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "other"
    with open(path, "rb") as handle:
        return {"sha1": hashlib.sha1(handle.read()).hexdigest(), "mode": f"{stat.S_IMODE(st.st_mode):04o}"}  # noqa: S324 (a checksum)


def read(want):
    """One pass over the directory: its safety, the files named, purge candidates, the stats and lists asked for."""
    root = want["path"]
    dirs = {"parent": os.path.dirname(root), "path": root, **{"sub:" + name: os.path.join(root, name) for name in want["subdirs"]}}
    purge = set()
    for pattern in want["purge"]:
        purge.update(glob.glob(os.path.join(glob.escape(root), pattern)))
    return {
        "dirs": {key: (path, _lstat(path)) for key, path in dirs.items()},
        "entries": {name: sorted(os.listdir(path)) for name in want["subdirs"] if os.path.isdir(path := os.path.join(root, name))},
        "files": {name: _file(os.path.join(root, name)) for name in want["files"]},
        "purge": {os.path.relpath(path, root): _file(path) for path in sorted(purge)},
        "stat": {path: {"exists": _lstat(path) is not None, "isdir": os.path.isdir(path)} for path in want["stat"]},
        "listed": {pattern: sorted(glob.glob(os.path.join(glob.escape(root), pattern))) for pattern in want["list"]},
    }


def unsafe(key, path, st):
    """Why root must not use this directory, or None (the parent may be writable by others when sticky)."""
    if st is None:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != 0:
        return f"{path} is owned by uid {st.st_uid}, not root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (key == "parent" and st.st_mode & stat.S_ISVTX):
        return f"{path} is writable by its group or by anyone (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _view(entry):
    return entry if entry in (None, "other") else f"{entry['mode']} sha1:{entry['sha1']}"


def plan(want, have):
    """Steps: make missing directories, write files that differ, remove what purge matched (or, absent,
    every file named and then the subdirectories left empty). Fails on an unsafe directory first."""
    for key, (path, st) in have["dirs"].items():
        problem = unsafe(key, path, st)
        if problem is not None:
            raise v.ValidationError(
                f"{problem}; root replays the files kept there, so it must be a directory that root owns and no one "
                "else can write to. Fix or remove it, or choose another state directory")
    root, steps = want["path"], []
    before = {name: _view(entry) for name, entry in {**have["files"], **have["purge"]}.items()}
    after = dict(before)
    if want["state"] == "present":
        for key in ["path", *("sub:" + name for name in want["subdirs"])]:
            path, st = have["dirs"][key]
            if st is None:
                steps.append(("mkdir", path))
                before[os.path.relpath(path, root) + "/"], after[os.path.relpath(path, root) + "/"] = None, "directory"
        for name, spec in want["files"].items():
            wanted = {"sha1": hashlib.sha1(spec["content"].encode("utf-8")).hexdigest(), "mode": f"{spec['mode']:04o}"}  # noqa: S324
            if have["files"][name] != wanted:
                steps.append(("write", os.path.join(root, name), spec))
                after[name] = _view(wanted)
        gone = [name for name in have["purge"] if name not in want["files"]]
    else:
        gone = sorted({*(name for name, entry in have["files"].items() if entry is not None), *have["purge"]})
    for name in gone:
        steps.append(("remove", os.path.join(root, name)))
        after[name] = None
    if want["state"] == "absent":  # a subdirectory only when nothing but what goes now is in it
        going = {os.path.join(root, name) for name in gone}
        for name in reversed(want["subdirs"]):
            path = have["dirs"]["sub:" + name][0]
            if name in have["entries"] and all(os.path.join(path, entry) in going for entry in have["entries"][name]):
                steps.append(("rmdir", path))
                going.add(path)
                before[name + "/"], after[name + "/"] = "directory", None
    extra = {"stat": have["stat"], "listed": have["listed"], "path": root}
    return Change(before=before, after=after, changed=bool(steps), extra=extra), steps


def apply(steps):
    for step in steps:
        kind, path = step[0], step[1]
        try:
            if kind == "mkdir":
                os.makedirs(os.path.dirname(path), mode=PARENT_MODE, exist_ok=True)
                os.mkdir(path, DIR_MODE)
                os.chmod(path, DIR_MODE)  # whatever the umask
            elif kind == "write":
                write_atomically(path, step[2]["content"], step[2]["mode"])
            elif kind == "remove":
                os.unlink(path)
            elif kind == "rmdir":
                os.rmdir(path)  # planned only when empty by now: fails rather than take what appeared since
        except OSError as exc:
            raise CommandError([kind, path], 1, "", str(exc)) from None


def main(module):
    """state_dir: validate, read once, one pass of writes (none when everything is in place)."""
    planned = {}

    def plan_change(want, have):
        change, planned["steps"] = plan(want, have)
        change.commands = [[step[0], step[1]] for step in planned["steps"]]
        return change

    run(module, validate=validate, read=read, plan=plan_change, apply=lambda change: apply(planned["steps"]), lock=False)
