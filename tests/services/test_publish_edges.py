"""gitbench/services/publish.py's less travelled paths, through the real entry point: contradictory check options,
a check that moves Published or rewrites the records while it runs, a check that is not found, the check of a
Draft made with plain Git (no job record), and a conflict whose Draft was made from no checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitbench import errors
from gitbench.services import publish
from gitbench.services.workbench import Workbench
from tests.conftest import git, gitbench
from tests.services.test_remote_edges import DRAFT, commit_on, draft


def result(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout)["result"])


def error(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, *args, "--json")
    assert res.returncode != 0, res.stdout
    return dict(json.loads(res.stdout)["error"]) | {"exit": res.returncode}


def records(wb: Path) -> str:
    return git(wb, "rev-parse", "refs/gitbench/records").strip()


def test_check_options_that_contradict_or_name_no_command_are_refused_before_anything(workbench: Path) -> None:
    draft(workbench, "fix", "src/fix.txt", "fix\n")
    before = git(workbench, "rev-parse", "main").strip()
    err = error(workbench, "publish", "--check", "true", "--no-check")
    assert err["message"] == "--check and --no-check contradict each other: give one of them." and err["exit"] == 2
    with pytest.raises(errors.UsageError, match="contradict"):  # a caller other than the CLI (the TUI)
        publish.publish(Workbench(str(workbench)), check="true", no_check=True)
    err = error(workbench, "publish", "--check", "  ")
    assert err["message"] == '--check needs a command, e.g. --check "pytest -q".'
    assert git(workbench, "rev-parse", "main").strip() == before
    assert git(workbench, "for-each-ref", DRAFT + "fix") != ""


def test_a_check_not_found_refuses_and_its_result_is_recorded_for_a_draft_without_a_job(workbench: Path) -> None:
    draft(workbench, "fix", "src/fix.txt", "fix\n")
    before = git(workbench, "rev-parse", "main").strip()
    err = error(workbench, "publish", "--check", "no-such-program-gitbench-test")
    assert err["code"] == "check-failed"
    assert err["message"].startswith(
        "The check `no-such-program-gitbench-test` exited with status 127 (command not found) in a clean worktree "
        "of the Draft fix ("
    )
    assert git(workbench, "rev-parse", "main").strip() == before
    check = err["details"]["check"]
    stored = json.loads(git(workbench, "show", f"refs/gitbench/records:checks/{check['id']}.json"))
    assert stored["status"] == "failed" and stored["exit_code"] == 127 and stored["job"] is None
    assert stored["draft"] == DRAFT + "fix"


def test_records_that_grew_during_the_check_are_not_a_change_but_rewritten_ones_are(workbench: Path) -> None:
    draft(workbench, "fix", "src/fix.txt", "fix\n")
    # Another gitbench process adds to the records while the check runs: they only grew, the publish goes on.
    grow = (
        "git update-ref refs/gitbench/records "
        "$(git commit-tree refs/gitbench/records^{tree} -p refs/gitbench/records -m grown)"
    )
    res = result(workbench, "publish", "--check", grow)
    assert res["summary"].startswith("Published ")
    assert git(workbench, "log", "-1", "--format=%s", "refs/gitbench/records").strip() != "grown"
    assert "grown" in git(workbench, "log", "--format=%s", "refs/gitbench/records")
    # A check that points the records at something that is no commit: changed outside its worktree, refused.
    draft(workbench, "two", "src/two.txt", "two\n")
    main = git(workbench, "rev-parse", "main").strip()
    blob = "$(git hash-object -w --stdin </dev/null)"
    err = error(workbench, "publish", "--check", f"git update-ref refs/gitbench/records {blob}")
    assert err["code"] == "publish-conflict"
    assert err["message"].startswith("The check `git update-ref refs/gitbench/records")
    assert "changed the repository outside its worktree: refs/gitbench/records" in err["message"]
    assert err["details"]["check"]["status"] == "passed"  # what the check did is in the error, not the records
    assert git(workbench, "rev-parse", "main").strip() == main
    assert git(workbench, "for-each-ref", DRAFT + "two") != ""


def test_a_draft_made_from_no_checkpoint_offers_no_restore_when_published_moved(workbench: Path) -> None:
    # Published moved by hand twice, no Draft open; then a Draft made (with plain Git) from the first of them.
    base = commit_on(workbench, "main", "src/base.txt", "base\n", "by hand")
    moved = commit_on(workbench, base, "src/more.txt", "more\n", "more by hand")
    git(workbench, "update-ref", "refs/heads/main", moved)
    git(workbench, "reset", "-q", "--hard")
    head = commit_on(workbench, base, "src/fix.txt", "fix\n", "fix")
    git(workbench, "update-ref", DRAFT + "fix", head)
    err = error(workbench, "publish")
    assert err["code"] == "publish-conflict"
    assert err["details"] == {"published": moved, "base": base}
    verbs = [a.get("verb") for a in err["actions"]]
    assert "restore" not in verbs and verbs[:2] == ["rebase", "discard"]
    assert git(workbench, "rev-parse", DRAFT + "fix").strip() == head
