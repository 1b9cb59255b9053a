"""Commit messages as git expects: a subject of at most 72 characters, then a blank line and the body.

Checked for every commit after the last one written before this rule (older subjects stay as they were: history
is not rewritten). Outside a git checkout, or in a shallow clone without that commit, there is nothing to check.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULE_SINCE = "dab976d"  # the last commit before the 72-character rule


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30)


def test_every_subject_since_the_rule_fits_72_characters_and_is_followed_by_a_blank_line() -> None:
    if shutil.which("git") is None or git("cat-file", "-e", f"{RULE_SINCE}^{{commit}}").returncode != 0:
        pytest.skip("no git history with the rule's first commit here")
    log = git("log", "--format=%H%x00%B%x01", f"{RULE_SINCE}..HEAD")
    assert log.returncode == 0, log.stderr
    bad = []
    for entry in filter(None, (e.strip("\n") for e in log.stdout.split("\x01"))):
        sha, message = entry.split("\x00", 1)
        lines = message.split("\n")
        if len(lines[0]) > 72 or (len(lines) > 1 and lines[1] != ""):
            bad.append(f"{sha[:7]} {lines[0][:80]}")
    assert bad == []
