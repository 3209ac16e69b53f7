"""state_dir on real directories under tmp_path: what it refuses, writes, keeps and removes."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.netfabric.ovs.plugins.module_utils import _state_dir as sd
from ansible_collections.netfabric.ovs.plugins.module_utils._validate import ValidationError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the directory must be root's: these tests chown and check uid 0")


def params(path, **given):
    base = {"path": str(path), "state": "present", "subdirs": [], "files": [], "purge": [], "stat": [], "list": []}
    result = {**base, **given}
    result["files"] = [{"mode": "0600", **item} for item in result["files"]]  # AnsibleModule's default
    return result


def converge(**given):
    """validate, read, plan, apply: the module's flow without AnsibleModule; returns (change, steps)."""
    want = sd.validate(params(**given))
    change, steps = sd.plan(want, sd.read(want))
    sd.apply(steps)
    return change, steps


@pytest.fixture
def root(tmp_path):
    os.chmod(tmp_path, 0o755)
    return tmp_path / "state"


FILES = [{"name": "boot.json", "content": "{}\n", "mode": "0600"}, {"name": "restore-flows", "content": "#!/bin/sh\n", "mode": "0755"}]


def test_makes_the_directory_roots_alone_writes_once_and_reports_reads(root):
    change, steps = converge(path=root, subdirs=["flows"], files=FILES, stat=[str(root.parent), "/no/such/path"], list=["dhcp-*"])
    assert change.any and [s[0] for s in steps] == ["mkdir", "mkdir", "write", "write"]
    for path in (root, root / "flows"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700 and path.stat().st_uid == 0
    assert (root / "boot.json").read_text() == "{}\n" and stat.S_IMODE((root / "restore-flows").stat().st_mode) == 0o755
    assert change.extra["stat"] == {str(root.parent): {"exists": True, "isdir": True}, "/no/such/path": {"exists": False, "isdir": False}}
    (root / "dhcp-red-a").mkdir()
    again, steps = converge(path=root, subdirs=["flows"], files=FILES, list=["dhcp-*"])
    assert not again.any and steps == [] and again.before == again.after
    assert again.extra["listed"] == {"dhcp-*": [str(root / "dhcp-red-a")]}


def test_rewrites_only_what_differs_in_content_or_mode(root):
    converge(path=root, files=FILES)
    os.chmod(root / "restore-flows", 0o777)
    change, steps = converge(path=root, files=[FILES[0], {**FILES[1]}, {"name": "new", "content": "x"}])
    assert [(s[0], os.path.basename(s[1])) for s in steps] == [("write", "restore-flows"), ("write", "new")]
    assert stat.S_IMODE((root / "restore-flows").stat().st_mode) == 0o755
    assert change.before["restore-flows"].startswith("0777 ") and change.after["new"].startswith("0600 ")
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == [], "a temporary file was left"


def test_purge_removes_matches_not_listed_and_absent_leaves_the_directory(root):
    converge(path=root, subdirs=["nft"], files=[{"name": "nft/a.nft", "content": "a"}, {"name": "nft/b.nft", "content": "b"}])
    (root / "other").write_text("not ours")
    change = converge(path=root, subdirs=["nft"], files=[{"name": "nft/a.nft", "content": "a"}], purge=["nft/*.nft"])[0]
    assert sorted(p.name for p in (root / "nft").iterdir()) == ["a.nft"] and change.after["nft/b.nft"] is None
    change = converge(path=root, state="absent", subdirs=["nft"], files=[{"name": "netns.json", "content": ""}], purge=["nft/*.nft"])[0]
    assert change.any and sorted(p.name for p in root.iterdir()) == ["other"], "only what it names or matches"
    assert not converge(path=root, state="absent", subdirs=["nft"], purge=["nft/*.nft"])[0].any


def test_absent_keeps_a_subdirectory_holding_what_it_does_not_name_and_says_so_once(root):
    converge(path=root, subdirs=["nft"], files=[{"name": "nft/a.nft", "content": "a"}])
    (root / "nft" / "README").write_text("someone else's")
    change, steps = converge(path=root, state="absent", subdirs=["nft"], purge=["nft/*.nft"])
    assert [s[0] for s in steps] == ["remove"] and "nft/" not in change.after
    assert sorted(p.name for p in (root / "nft").iterdir()) == ["README"]
    assert not converge(path=root, state="absent", subdirs=["nft"], purge=["nft/*.nft"])[0].any, "the second run changes nothing"


@pytest.mark.parametrize(("mode", "owner", "why"), [(0o777, 0, "writable by its group or by anyone"), (0o775, 0, "writable"),
                                                    (0o755, 65534, "owned by uid 65534, not root")])
def test_refuses_a_directory_others_can_write_and_writes_nothing(tmp_path, mode, owner, why):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(shared, mode)
    os.chown(shared, owner, -1)
    want = sd.validate(params(shared, files=FILES))
    with pytest.raises(ValidationError, match=f"{shared} is {why}"):
        sd.plan(want, sd.read(want))
    assert list(shared.iterdir()) == []


def test_a_sticky_parent_is_accepted_a_link_is_not_a_directory(tmp_path):
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(sticky, 0o1777)
    assert converge(path=sticky / "state", files=FILES)[0].any
    (tmp_path / "link").symlink_to(sticky / "state")
    want = sd.validate(params(tmp_path / "link", files=FILES))
    with pytest.raises(ValidationError, match="link is not a directory"):
        sd.plan(want, sd.read(want))


@pytest.mark.parametrize(("given", "words"), [
    ({"path": "relative"}, "path: 'relative' is not an absolute path"),
    ({"files": [{"name": "../escape", "content": "", "mode": "0600"}]}, "files[0].name: '../escape' is not a relative path"),
    ({"files": [{"name": "/abs", "content": "", "mode": "0600"}]}, "files[0].name: '/abs' is not a relative path"),
    ({"files": [{"name": "a", "content": "", "mode": "rw"}]}, "files[0].mode: 'rw' is not an octal file mode (allowed 0000-7777"),
    ({"files": [{"name": "a", "content": "", "mode": "0600"}] * 2}, "files[1].name: 'a' is listed twice"),
    ({"subdirs": ["x"], "files": [{"name": "x", "content": "", "mode": "0600"}]}, "files: 'x' is also in subdirs"),
    ({"purge": ["a/../../b"]}, "purge[0]: 'a/../../b' is not a relative path"),
    ({"stat": ["etc/x"]}, "stat[0]: 'etc/x' is not an absolute path"),
])
def test_bad_input_is_named_before_any_read(tmp_path, given, words):
    with pytest.raises(ValidationError) as info:
        sd.validate({**params(tmp_path / "s"), **given})
    assert words in str(info.value)
