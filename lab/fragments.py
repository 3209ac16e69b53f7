#!/usr/bin/env python3
"""A changelog fragment per change: every commit that touches plugins/ or roles/ adds or edits a file
in changelogs/fragments/ (a change not worth a line in the changelog still gets a `trivial:` one).

    python3 lab/fragments.py          # check the history from the first commit with changelogs/config.yaml on,
                                      # and uncommitted changes in the work tree; exit 1 naming offenders

The rule starts at the commit that brought changelogs/config.yaml, so it holds on a clean checkout of
main: older commits predate fragments, and every later one can be checked from git alone. The lint
stage runs it after `antsibull-changelog lint`, which checks that each fragment is valid.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = "changelogs/config.yaml"
FRAGMENTS = "changelogs/fragments/"
CHANGED = ("plugins/", "roles/")  # what the collection ships to users: changes here need a fragment


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def needs_fragment(paths: list[str]) -> bool:
    """True when the paths touch shipped code and no fragment among them."""
    return any(p.startswith(CHANGED) for p in paths) and not any(p.startswith(FRAGMENTS) for p in paths)


def commits_without_fragment(repo: Path) -> list[str]:
    """'sha subject' of every commit since fragments began that changes plugins/ or roles/ without one."""
    start = git(repo, "log", "--diff-filter=A", "--format=%H", "--", CONFIG).split()
    if not start:
        return []  # no changelogs/ in the history yet: nothing is held to the rule
    first = start[-1]  # the oldest commit that added the config
    offenders = []
    shas = [first, *reversed(git(repo, "rev-list", "--no-merges", f"{first}..HEAD").split())]
    for sha in shas:
        subject = git(repo, "show", "-s", "--format=%s", sha).strip()
        # fragments deleted by `antsibull-changelog release` do not count: only added or modified ones
        paths = git(repo, "show", "--format=", "--name-only", "--diff-filter=AMR", sha).splitlines()
        if needs_fragment(paths):
            offenders.append(f"{sha[:10]} {subject}")
    return offenders


def uncommitted_without_fragment(repo: Path) -> list[str]:
    """Changed shipped files in the work tree when no fragment is added or changed alongside them."""
    paths = []
    for line in git(repo, "status", "--porcelain", "--untracked-files=all").splitlines():
        if line[:2].strip() != "D":
            paths.append(line[3:].split(" -> ")[-1])
    return sorted(p for p in paths if p.startswith(CHANGED)) if needs_fragment(paths) else []


def main() -> int:
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    if subprocess.run(["git", "-C", str(repo), "rev-parse", "--git-dir"], capture_output=True, check=False).returncode:
        print("fragments: not a git checkout, only the fragments' syntax was checked")
        return 0
    if git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        print("fragments: shallow clone, checking the commits it has")
    commits = commits_without_fragment(repo)
    work = uncommitted_without_fragment(repo)
    for commit in commits:
        print(f"fragments: commit {commit} changes plugins/ or roles/ without a changelog fragment")
    if work:
        print(f"fragments: uncommitted changes to {', '.join(work[:5])}{' ...' if len(work) > 5 else ''} "
              f"need a file in {FRAGMENTS} (see README, Contributing)")
    if commits or work:
        return 1
    print("fragments: every change to plugins/ or roles/ since changelogs/ began has a fragment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
