"""Discard (kept in a trash ref for 14 days, undoable) and Restore ("go back in time", itself undoable through
its pre-restore checkpoint), with the rules around them (seed 003; DESIGN.md §2 invariants 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Snapshot, check_invariants, git, gitbench, nth_checkpoint, run_job

DAY = 86400
T0 = 1_780_000_000  # a fixed clock for the trash tests (GITBENCH_NOW)


def edit(text: str, path: str = "src/app.py") -> str:
    return f"import pathlib; pathlib.Path({path!r}).write_text({text!r})"


def make_draft(wb: Path, text: str = "print('job')\n", env: dict[str, str] | None = None) -> tuple[str, str]:
    return run_job(wb, edit(text), env=env)


def ok(res_stdout: str) -> dict[str, Any]:
    data = json.loads(res_stdout)
    assert data["ok"] is True, data
    result: dict[str, Any] = data["result"]
    return result


def refs(wb: Path, prefix: str) -> dict[str, str]:
    out = git(wb, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split() for line in out.splitlines())


def records_tree(wb: Path) -> str:
    return git(wb, "ls-tree", "-r", "refs/gitbench/records")


def job_status(wb: Path, label: str) -> str | None:
    shown = git(wb, "show", f"refs/gitbench/records:jobs/{label}.json", check=False)
    return json.loads(shown)["status"] if shown else None


def test_discard_keeps_a_trash_ref_and_undo_brings_back_the_same_commit(workbench: Path) -> None:
    ref, head = make_draft(workbench)
    label = ref.rsplit("/", 1)[1]
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "discard", "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    trash = ok(res.stdout)["data"]["trash"]
    assert refs(workbench, "refs/gitbench/trash/") == {trash: head}
    assert refs(workbench, "refs/heads/gitbench/draft/") == {}
    assert job_status(workbench, label) == "discarded"
    check_invariants(workbench, before, published_may_change=False)

    res = gitbench(workbench, "discard", "--undo", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert refs(workbench, "refs/heads/gitbench/draft/") == {ref: head}
    assert refs(workbench, "refs/gitbench/trash/") == {}
    assert job_status(workbench, label) == "complete"
    check_invariants(workbench, before, published_may_change=False)
    assert gitbench(workbench, "publish").returncode == 0
    assert (workbench / "src/app.py").read_text() == "print('job')\n"
    check_invariants(workbench, before)


def test_discard_undo_is_refused_while_another_draft_exists(workbench: Path) -> None:
    first, first_head = make_draft(workbench, "print('first')\n")
    assert gitbench(workbench, "discard", "--yes").returncode == 0
    second, second_head = make_draft(workbench, "print('second')\n")
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "discard", "--undo", "--json")
    assert res.returncode == 4, res.stdout + res.stderr
    assert json.loads(res.stdout)["error"]["code"] == "draft-open"
    assert refs(workbench, "refs/heads/gitbench/draft/") == {second: second_head}
    assert list(refs(workbench, "refs/gitbench/trash/").values()) == [first_head]
    check_invariants(workbench, before, published_may_change=False)


def test_trash_older_than_14_days_is_deleted_by_the_next_recover(workbench: Path) -> None:
    make_draft(workbench, env={"GITBENCH_NOW": str(T0)})
    assert gitbench(workbench, "discard", "--yes", env={"GITBENCH_NOW": str(T0)}).returncode == 0
    trash = refs(workbench, "refs/gitbench/trash/")
    assert len(trash) == 1
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "recover", "--json", env={"GITBENCH_NOW": str(T0 + 13 * DAY)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert refs(workbench, "refs/gitbench/trash/") == trash, "trash younger than 14 days must be kept"

    res = gitbench(workbench, "recover", "--json", env={"GITBENCH_NOW": str(T0 + 15 * DAY)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert refs(workbench, "refs/gitbench/trash/") == {}
    assert any(next(iter(trash)) in n for n in ok(res.stdout)["notes"])
    check_invariants(workbench, before, published_may_change=False)
    res = gitbench(workbench, "discard", "--undo", "--json")
    assert res.returncode == 5 and json.loads(res.stdout)["error"]["code"] == "no-draft"


def test_restore_is_blocked_while_a_draft_exists_and_guides_to_publish_or_discard(workbench: Path) -> None:
    ref, head = make_draft(workbench)
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "restore", nth_checkpoint(workbench, 1), "--yes", "--json")
    assert res.returncode == 4, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "draft-open"
    assert "publish" in error["message"].lower() and "discard" in error["message"].lower()
    assert {"gitbench publish", "gitbench discard --yes"} <= {a["command"] for a in error["actions"]}
    assert refs(workbench, "refs/tags/checkpoint/") == before.checkpoints, "no pre-restore checkpoint on refusal"
    assert refs(workbench, "refs/heads/gitbench/draft/") == {ref: head}
    check_invariants(workbench, before, published_may_change=False)


def test_the_discard_restore_offers_while_a_draft_is_open_works_where_it_is_offered(workbench: Path) -> None:
    """The trial's bug: off a terminal (a script, an agent) restore offered `gitbench discard`, which there
    refuses without --yes. Offered with what it needs, it runs as given, and the restore goes on."""
    ref, head = make_draft(workbench)
    first = nth_checkpoint(workbench, 1)
    for extra in ((), ("--yes",)):  # refused by the CLI before it asks, or by the restore itself
        res = gitbench(workbench, "restore", first, *extra, "--json")
        assert res.returncode == 4, res.stdout + res.stderr
        offered = [a for a in json.loads(res.stdout)["error"]["actions"] if a["verb"] == "discard"]
        assert [a["command"] for a in offered] == ["gitbench discard --yes"], res.stdout
        text = gitbench(workbench, "restore", first, *extra, env={"COLUMNS": "200"})
        assert text.returncode == 4 and "gitbench discard --yes" in text.stderr + text.stdout, text.stderr
    before = Snapshot.take(workbench)
    (action,) = offered
    res = gitbench(workbench, *action["verb"].split(), *action["args"])  # as offered, not at a terminal
    assert res.returncode == 0, res.stdout + res.stderr
    assert refs(workbench, "refs/heads/gitbench/draft/") == {}
    assert head in refs(workbench, "refs/gitbench/trash/").values()  # recoverable
    check_invariants(workbench, before, published_may_change=False)
    res = gitbench(workbench, "restore", first, "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr


def test_restore_goes_back_with_the_records_and_its_pre_restore_checkpoint_undoes_it_exactly(workbench: Path) -> None:
    ref, head = make_draft(workbench)
    label = ref.rsplit("/", 1)[1]
    auto = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{label}.json"))["checkpoint"]
    assert gitbench(workbench, "publish").returncode == 0
    published, records, files = head, records_tree(workbench), Snapshot.take(workbench).files
    assert job_status(workbench, label) == "published"
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "restore", auto, "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    pre = ok(res.stdout)["checkpoints"][0]
    cps = json.loads(gitbench(workbench, "checkpoints", "--json").stdout)["result"]
    assert next(cp for cp in cps if cp["name"] == pre)["kind"] == "pre-restore"
    assert (workbench / "src/app.py").read_text() == "print('hello')\n"
    assert job_status(workbench, label) is None, "the job's record must go back in time with Published"
    assert (
        git(workbench, "rev-parse", f"refs/tags/{auto}^{{commit}}").strip()
        == git(workbench, "rev-parse", "main").strip()
    )
    check_invariants(workbench, before)

    res = gitbench(workbench, "restore", str(pre), "--yes")
    assert res.returncode == 0, res.stderr
    assert git(workbench, "rev-parse", "main").strip() == published
    assert records_tree(workbench) == records, "restoring the pre-restore checkpoint must undo the records too"
    assert job_status(workbench, label) == "published"
    assert Snapshot.take(workbench).files == files
    check_invariants(workbench, before)


def test_restore_refuses_to_overwrite_local_edits_and_takes_no_checkpoint(workbench: Path) -> None:
    (workbench / "src/app.py").write_text("print('second')\n")
    git(workbench, "commit", "-q", "-am", "second")  # no Draft: plain git may commit
    (workbench / "src/app.py").write_bytes(b"print('my edit')\n")
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "restore", nth_checkpoint(workbench, 1), "--yes", "--json")
    assert res.returncode == 7, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "local-changes" and error["details"]["paths"] == ["src/app.py"]
    assert (workbench / "src/app.py").read_bytes() == b"print('my edit')\n"
    assert refs(workbench, "refs/tags/checkpoint/") == before.checkpoints
    check_invariants(workbench, before, published_may_change=False, allow_local_edits=True)
    git(workbench, "checkout", "--", "src/app.py")


def test_restore_in_a_bare_workbench_moves_published_and_records_and_is_undoable(project: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(project), str(bare))
    assert gitbench(bare, "init").returncode == 0
    start = git(bare, "rev-parse", "main").strip()
    ref, head = make_draft(bare)
    assert gitbench(bare, "publish").returncode == 0
    records = records_tree(bare)

    res = gitbench(bare, "restore", nth_checkpoint(bare, 1), "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    pre = ok(res.stdout)["checkpoints"][0]
    assert git(bare, "rev-parse", "main").strip() == start
    assert "jobs/" not in records_tree(bare)
    check_invariants(bare)

    assert gitbench(bare, "restore", str(pre), "--yes").returncode == 0
    assert git(bare, "rev-parse", "main").strip() == head
    assert records_tree(bare) == records
    check_invariants(bare)


def test_a_draft_brought_back_after_a_restore_does_not_publish_over_the_restore(workbench: Path) -> None:
    """The Restore takes the records back to before the Draft's job, so its record (and the base it names) is
    gone. The Draft still knows where it was made from (the checkpoint its steps name): publishing it is a
    conflict, not a silent fast-forward that brings back what the Restore took away."""
    make_draft(workbench, "first\n")
    assert gitbench(workbench, "publish").returncode == 0
    made_from = git(workbench, "rev-parse", "main").strip()
    make_draft(workbench, "second\n")
    assert gitbench(workbench, "discard", "--yes").returncode == 0
    assert gitbench(workbench, "restore", nth_checkpoint(workbench, 2), "--yes").returncode == 0  # before the 1st job
    restored = git(workbench, "rev-parse", "main").strip()
    res = gitbench(workbench, "discard", "--undo", "--json")
    assert "publishing it will report a conflict" in ok(res.stdout)["notes"][0]
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 7, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "publish-conflict" and error["details"]["base"] == made_from
    assert git(workbench, "rev-parse", "main").strip() == restored
    check_invariants(workbench, before, published_may_change=False)
    assert gitbench(workbench, "discard", "--yes").returncode == 0
