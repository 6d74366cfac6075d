"""The invariants' checker (tests/invariants.py) itself: what it reads in one batch it still refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import check_invariants, git


def test_the_checker_refuses_a_lightweight_checkpoint_a_checkpoint_of_a_tree_and_records_that_are_not_json(
    workbench: Path, tmp_path: Path
) -> None:
    check_invariants(workbench)  # a fresh Workbench passes
    git(workbench, "tag", "checkpoint/light", "main")
    with pytest.raises(AssertionError, match="checkpoint/light is not an annotated tag"):
        check_invariants(workbench)
    git(workbench, "tag", "-d", "checkpoint/light")
    git(workbench, "tag", "-a", "-m", "of a tree", "checkpoint/tree", "main^{tree}")
    with pytest.raises(AssertionError, match=r"checkpoint/tree: its commit \(\w+\) is tree, not a commit"):
        check_invariants(workbench)
    git(workbench, "tag", "-d", "checkpoint/tree")
    # A record that is not JSON, committed on the records ref with Git's plumbing.
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=workbench, input="{not json\n", capture_output=True, text=True
    ).stdout.strip()
    index = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    git(workbench, "read-tree", "refs/gitbench/records", env=index)
    git(workbench, "update-index", "--add", "--cacheinfo", f"100644,{blob},jobs/bad.json", env=index)
    tree = git(workbench, "write-tree", env=index).strip()
    commit = git(workbench, "commit-tree", tree, "-p", "refs/gitbench/records", "-m", "a bad record").strip()
    git(workbench, "update-ref", "refs/gitbench/records", commit)
    with pytest.raises(AssertionError, match="records: jobs/bad.json is not JSON"):
        check_invariants(workbench)
    git(workbench, "update-ref", "refs/gitbench/records", "refs/gitbench/records^")  # as it was, for the teardown
