"""gitbench/services/checkpoints.py through the real entry point, in-process: a checkpoint named by a beginning
that several share is refused with them listed, and a tag made by hand under checkpoint/ reads as unknown."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import checkpoint_names, git, gitbench


def test_a_beginning_that_several_checkpoints_share_is_refused_with_them_listed(workbench: Path) -> None:
    assert gitbench(workbench, "checkpoint", "-m", "mine").returncode == 0
    names = checkpoint_names(workbench)
    day = names[0].removeprefix("checkpoint/")[:6]  # both taken today
    res = gitbench(workbench, "restore", day, "--yes", "--json")
    assert res.returncode == 10, res.stdout + res.stderr
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "checkpoint-not-found"
    assert err["message"] == f"{day!r} begins 2 checkpoints: {', '.join(names)}. Name one of them."
    assert err["details"]["candidates"] == names
    assert err["actions"][0]["command"] == "gitbench checkpoints --all"


def test_a_tag_made_by_hand_under_checkpoint_reads_as_a_lightweight_tag_of_unknown_kind(workbench: Path) -> None:
    git(workbench, "tag", "checkpoint/991231-235959-zzzz")  # sorts after every real one: the newest name
    res = gitbench(workbench, "checkpoints", "--all", "--json")
    assert res.returncode == 0, res.stderr
    [by_hand] = [c for c in json.loads(res.stdout)["result"] if c["name"] == "checkpoint/991231-235959-zzzz"]
    assert by_hand["kind"] == "unknown" and by_hand["message"] == "(lightweight tag)"
    git(workbench, "tag", "-d", "checkpoint/991231-235959-zzzz")  # DESIGN.md's invariants: gitbench's own only
