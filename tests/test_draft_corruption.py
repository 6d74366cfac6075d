"""A Draft (or the records) broken from outside: publish is blocked with the recovery actions, Published is
untouched, and the recovery the message offers works (seed 003, "Draft missing or corrupted")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import Snapshot, check_invariants, git, gitbench, run_job

EDIT = "import pathlib; pathlib.Path('src/app.py').write_text('print(\"a unique line by the job\")\\n')"


def json_error(res: subprocess.CompletedProcess[str], exit_code: int, code: str) -> dict[str, Any]:
    assert res.returncode == exit_code, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["error"]["code"] == code, data
    error: dict[str, Any] = data["error"]
    return error


def untouched(wb: Path, before: Snapshot) -> None:
    """Published and its checked-out files are as they were (checked without fsck, which a broken Draft fails)."""
    assert git(wb, "rev-parse", "main").strip() == before.published
    assert git(wb, "status", "--porcelain", "--untracked-files=no") == ""
    for name, data in before.files.items():
        assert (wb / name).read_bytes() == data, name


def assert_corrupt_publish_blocked(wb: Path, before: Snapshot, label: str) -> None:
    error = json_error(gitbench(wb, "publish", "--json"), 6, "draft-corrupt")
    assert label in str(error["message"]) and "Published is untouched" in str(error["message"])
    offered = [a["command"] for a in error["actions"]]
    assert "gitbench discard --yes" in offered and "gitbench checkpoints" in offered
    untouched(wb, before)


def test_a_draft_ref_deleted_with_git_means_no_draft_and_status_is_fine(workbench: Path) -> None:
    ref, _ = run_job(workbench, EDIT)
    git(workbench, "update-ref", "-d", ref)
    before = Snapshot.take(workbench)

    json_error(gitbench(workbench, "publish", "--json"), 5, "no-draft")
    check_invariants(workbench, before, published_may_change=False)
    res = gitbench(workbench, "status", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["result"]["draft"] is None
    untouched(workbench, before)
    check_invariants(workbench, before, published_may_change=False)


def test_a_garbage_draft_ref_blocks_publish_with_exit_6_and_discard_removes_it(workbench: Path) -> None:
    ref, _ = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    before = Snapshot.take(workbench)
    (workbench / ".git" / ref).write_text("this is not a commit id\n")

    assert_corrupt_publish_blocked(workbench, before, label)
    status = gitbench(workbench, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert any("corrupted" in r for r in json.loads(status.stdout)["result"]["reminders"])
    # The broken Draft still counts as a Draft: no second one may start beside it.
    json_error(gitbench(workbench, "exec", "--json", "--", "true"), 4, "draft-open")
    untouched(workbench, before)

    res = gitbench(workbench, "discard", "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (workbench / ".git" / ref).exists()
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""
    after = Snapshot.take(workbench)
    check_invariants(workbench, after, published_may_change=False)
    assert after.published == before.published
    assert gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", EDIT).returncode == 0
    check_invariants(workbench, after, published_may_change=False)


def test_a_draft_ref_naming_a_missing_object_blocks_publish_with_exit_6(workbench: Path) -> None:
    ref, _ = run_job(workbench, EDIT)
    before = Snapshot.take(workbench)
    (workbench / ".git" / ref).write_text("0123456789abcdef0123456789abcdef01234567\n")

    assert_corrupt_publish_blocked(workbench, before, ref.rsplit("/", 1)[1])
    assert gitbench(workbench, "status").returncode == 0
    res = gitbench(workbench, "discard", "--yes")
    assert res.returncode == 0, res.stderr
    check_invariants(workbench, Snapshot.take(workbench), published_may_change=False)
    assert git(workbench, "rev-parse", "main").strip() == before.published


def test_a_draft_whose_blob_was_deleted_blocks_publish_until_the_object_is_back(workbench: Path) -> None:
    ref, head = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    blob = git(workbench, "rev-parse", f"{ref}:src/app.py").strip()
    content = subprocess.run(["git", "cat-file", "blob", blob], cwd=workbench, capture_output=True, check=True).stdout
    before = Snapshot.take(workbench)
    (workbench / ".git" / "objects" / blob[:2] / blob[2:]).unlink()

    assert_corrupt_publish_blocked(workbench, before, label)
    json_error(gitbench(workbench, "review", "--json"), 6, "draft-corrupt")
    status = gitbench(workbench, "status")
    assert status.returncode == 0, status.stderr
    assert "corrupted" in status.stdout
    assert git(workbench, "rev-parse", ref).strip() == head, "the Draft must be kept for the user to repair"

    # The user brings the object back (from a backup or another clone): the Draft publishes.
    subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=workbench, input=content, check=True, capture_output=True
    )
    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert (workbench / "src/app.py").read_bytes() == content
    check_invariants(workbench, before)


def test_a_garbage_records_ref_is_reported_clearly_and_blocks_jobs_until_repaired(workbench: Path) -> None:
    records = git(workbench, "rev-parse", "refs/gitbench/records").strip()
    before = Snapshot.take(workbench)
    (workbench / ".git/refs/gitbench/records").write_text("garbage\n")

    status = gitbench(workbench, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert any("refs/gitbench/records" in r for r in json.loads(status.stdout)["result"]["reminders"])
    # A job needs its auto-checkpoint, which names the records: it must not run (and start no Draft).
    error = json_error(gitbench(workbench, "exec", "--json", "--", "true"), 9, "checkpoint-failed")
    assert "refs/gitbench/records" in str(error["message"])
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""
    assert {r for r in git(workbench, "for-each-ref", "--format=%(refname)", "refs/tags/").split()} == set(
        before.checkpoints
    )
    untouched(workbench, before)

    # The repair the message offers, as a user follows it: the newest checkpoint's records, written back.
    newest = git(workbench, "tag", "-n9", "--sort=-refname", "-l", "checkpoint/*")  # names sort by time
    named = next(line.split()[1] for line in newest.splitlines() if "Gitbench-Records:" in line)
    assert named == records
    repair = next(a["command"] for a in error["actions"] if "update-ref" in a["command"])
    subprocess.run(["sh", "-c", repair.replace("<commit>", named)], cwd=workbench, check=True)
    assert git(workbench, "rev-parse", "refs/gitbench/records").strip() == records
    assert gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", EDIT).returncode == 0
    check_invariants(workbench, before, published_may_change=False)
