"""Publish when Published changed outside gitbench: each change is detected, with its recovery, and nothing of
the user's is lost (seed 003, "Publish conflict detected"; DESIGN.md §3 publish)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import Snapshot, check_invariants, git, gitbench, make_project, run_job

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def write(path: str, text: str) -> str:
    return (
        f"import pathlib; p = pathlib.Path({path!r}); p.parent.mkdir(parents=True, exist_ok=True); "
        f"p.write_text({text!r})"
    )


def publish_error(wb: Path) -> dict[str, Any]:
    res = gitbench(wb, "publish", "--json")
    assert res.returncode == 7, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["ok"] is False
    error: dict[str, Any] = data["error"]
    assert error["code"] == "publish-conflict"
    return error


def commands(error: dict[str, Any]) -> list[str]:
    return [a["command"] for a in error["actions"]]


def rev(wb: Path, name: str) -> str:
    return git(wb, "rev-parse", name).strip()


def test_an_outside_commit_on_published_is_a_conflict_and_restore_keep_draft_then_publish_recovers(
    workbench: Path,
) -> None:
    ref, head = run_job(workbench, write("src/app.py", "print('job')\n"))
    base = rev(workbench, "main")
    auto = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))["checkpoint"]
    (workbench / "docs/guide.md").write_text("guide, edited and committed behind gitbench's back\n")
    git(workbench, *NO_HOOKS, "commit", "-q", "-am", "outside change")
    outside = rev(workbench, "main")
    before = Snapshot.take(workbench)

    error = publish_error(workbench)
    assert "main" in str(error["message"]) and outside[:12] in str(error["message"])
    assert "gitbench discard --yes" in commands(error)
    assert f"gitbench restore {auto} --keep-draft --yes" in commands(error)
    assert rev(workbench, ref) == head and rev(workbench, "main") == outside
    check_invariants(workbench, before, published_may_change=False)

    res = gitbench(workbench, "restore", auto, "--keep-draft", "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    pre = json.loads(res.stdout)["result"]["checkpoints"][0]
    assert rev(workbench, "main") == base
    assert (workbench / "docs/guide.md").read_text() == "guide\n"
    assert rev(workbench, ref) == head, "restore --keep-draft must keep the Draft"
    # The outside change is not lost: the pre-restore checkpoint holds it.
    assert rev(workbench, f"refs/tags/{pre}^{{commit}}") == outside
    assert (
        subprocess.run(["git", "merge-base", "--is-ancestor", outside, f"refs/tags/{pre}"], cwd=workbench).returncode
        == 0
    )
    check_invariants(workbench, before)

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert rev(workbench, "main") == head
    assert (workbench / "src/app.py").read_text() == "print('job')\n"
    job = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))
    assert job["status"] == "published", "the kept Draft's job record must survive restore --keep-draft"
    check_invariants(workbench, before)


def test_published_reset_backwards_with_plain_git_is_a_conflict(workbench: Path) -> None:
    (workbench / "README.md").write_text("# project, second version\n")
    git(workbench, "commit", "-q", "-am", "second")  # no Draft yet: plain git may move Published
    second = rev(workbench, "main")
    ref, head = run_job(workbench, write("src/app.py", "print('job')\n"))
    git(workbench, *NO_HOOKS, "update-ref", "refs/heads/main", "HEAD~1")
    before = Snapshot.take(workbench)

    error = publish_error(workbench)
    assert "main" in str(error["message"])
    assert error["details"] == {"published": rev(workbench, "main"), "base": second}
    assert rev(workbench, ref) == head
    check_invariants(workbench, before, published_may_change=False, allow_local_edits=True)

    git(workbench, *NO_HOOKS, "update-ref", "refs/heads/main", second)  # the user undoes the outside move
    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert rev(workbench, "main") == head
    check_invariants(workbench, before)


def test_a_hand_edit_to_a_file_the_draft_changes_blocks_publish_and_stash_publish_pop_then_works(
    tmp_path: Path,
) -> None:
    lines = "".join(f"line {n}\n" for n in range(1, 13))
    wb = make_project(tmp_path / "wb", {"src/app.py": lines, "README.md": "# project\n"})
    assert gitbench(wb, "init").returncode == 0
    ref, head = run_job(wb, write("src/app.py", lines.replace("line 1\n", "line 1, by the job\n")))
    hand = (lines + "a hand edit\n").encode()
    (wb / "src/app.py").write_bytes(hand)
    before = Snapshot.take(wb)

    error = publish_error(wb)
    assert "src/app.py" in str(error["message"])
    assert error["details"] == {"paths": ["src/app.py"]}
    assert "git stash -u && gitbench publish && git stash pop" in commands(error)
    assert "gitbench discard --yes" in commands(error)
    assert (wb / "src/app.py").read_bytes() == hand, "the hand edit must stay byte-for-byte"
    assert rev(wb, ref) == head
    check_invariants(wb, before, published_may_change=False, allow_local_edits=True)

    # The offered recovery, as a user types it (gitbench's hooks must let `git stash` through).
    gb = f"{sys.executable} -m gitbench"
    res = subprocess.run(
        ["sh", "-c", f"git stash && {gb} publish && git stash pop"], cwd=wb, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert rev(wb, "main") == head
    assert (wb / "src/app.py").read_text() == lines.replace("line 1\n", "line 1, by the job\n") + "a hand edit\n"
    assert git(wb, "stash", "list") == ""
    check_invariants(wb, before, allow_local_edits=True)
    git(wb, "checkout", "--", "src/app.py")
    check_invariants(wb, before)


def test_hand_edits_to_files_the_draft_does_not_change_are_kept_staged_or_not(workbench: Path) -> None:
    ref, head = run_job(workbench, write("src/app.py", "print('job')\n"))
    (workbench / "README.md").write_bytes(b"# project\nmy own note\n")
    (workbench / "docs/guide.md").write_bytes(b"guide, staged\n")
    git(workbench, "add", "docs/guide.md")
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (workbench / "README.md").read_bytes() == b"# project\nmy own note\n"
    assert (workbench / "docs/guide.md").read_bytes() == b"guide, staged\n"
    assert (workbench / "src/app.py").read_text() == "print('job')\n"
    assert rev(workbench, "main") == head
    assert git(workbench, "status", "--porcelain") == " M README.md\nM  docs/guide.md\n"
    check_invariants(workbench, before, allow_local_edits=True)
    git(workbench, "reset", "-q", "--", "docs/guide.md")
    git(workbench, "checkout", "--", "README.md", "docs/guide.md")


def test_a_staged_change_to_a_file_the_draft_changes_is_a_conflict(workbench: Path) -> None:
    ref, head = run_job(workbench, write("src/app.py", "print('job')\n"))
    (workbench / "src/app.py").write_text("print('staged')\n")
    git(workbench, "add", "src/app.py")
    (workbench / "src/app.py").write_text("print('hello')\n")  # the file matches Published; the index does not
    before = Snapshot.take(workbench)

    error = publish_error(workbench)
    assert "src/app.py" in str(error["message"]) and "staged" in str(error["message"])
    assert git(workbench, "diff", "--cached", "--name-only") == "src/app.py\n", "the staged change must stay"
    assert rev(workbench, ref) == head
    check_invariants(workbench, before, published_may_change=False, allow_local_edits=True)

    git(workbench, "restore", "--staged", "src/app.py")
    assert gitbench(workbench, "publish").returncode == 0
    assert (workbench / "src/app.py").read_text() == "print('job')\n"
    check_invariants(workbench, before)


def test_an_untracked_file_where_the_draft_adds_one_is_a_conflict_and_is_kept(workbench: Path) -> None:
    ref, head = run_job(workbench, write("src/new.py", "print('new, by the job')\n"))
    (workbench / "src/new.py").write_bytes(b"mine, not tracked\n")
    before = Snapshot.take(workbench)

    error = publish_error(workbench)
    assert "src/new.py" in str(error["message"]) and "untracked" in str(error["message"])
    assert (workbench / "src/new.py").read_bytes() == b"mine, not tracked\n"
    assert rev(workbench, ref) == head
    check_invariants(workbench, before, published_may_change=False)

    (workbench / "src/new.py").rename(workbench / "mine.py")
    assert gitbench(workbench, "publish").returncode == 0
    assert (workbench / "src/new.py").read_text() == "print('new, by the job')\n"
    assert (workbench / "mine.py").read_bytes() == b"mine, not tracked\n"
    check_invariants(workbench, before)


def _listing(folder: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for dirpath, _, names in os.walk(folder):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(folder))] = (p.read_bytes(), p.lstat().st_mtime_ns)
    return out


def test_a_folder_replaced_by_a_symlink_out_of_the_workbench_is_refused_and_nothing_is_written_outside(
    workbench: Path, tmp_path: Path
) -> None:
    ref, head = run_job(
        workbench,
        write("docs/guide.md", "guide, by the job\n") + "; " + write("docs/more/new.md", "new\n"),
        files="docs/**",
    )
    outside = tmp_path / "outside"
    (outside / "more").mkdir(parents=True)
    (outside / "guide.md").write_text("guide\n")  # same content as Published: a naive check would pass it
    (outside / "more/keep.md").write_text("someone else's\n")
    seen = _listing(outside)
    for f in (workbench / "docs").iterdir():
        f.unlink()
    (workbench / "docs").rmdir()
    (workbench / "docs").symlink_to(outside, target_is_directory=True)
    before = Snapshot.take(workbench)

    error = publish_error(workbench)
    assert "symlink" in str(error["message"]) and "docs" in str(error["message"])
    assert _listing(outside) == seen, "publish wrote outside the Workbench"
    assert (workbench / "docs").is_symlink()
    assert rev(workbench, ref) == head
    check_invariants(workbench, before, published_may_change=False, allow_local_edits=True)

    (workbench / "docs").unlink()
    git(workbench, "checkout", "--", "docs")
    assert gitbench(workbench, "publish").returncode == 0
    assert (workbench / "docs/guide.md").read_text() == "guide, by the job\n"
    assert _listing(outside) == seen
    check_invariants(workbench, before)


def test_with_head_on_another_branch_publish_moves_only_the_ref(workbench: Path) -> None:
    ref, head = run_job(workbench, write("src/app.py", "print('job')\n"))
    git(workbench, "checkout", "-q", "-b", "other")
    before = Snapshot.take(workbench)

    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert rev(workbench, "main") == head
    assert git(workbench, "symbolic-ref", "HEAD").strip() == "refs/heads/other"
    assert (workbench / "src/app.py").read_text() == "print('hello')\n", "files of another branch were touched"
    assert git(workbench, "status", "--porcelain") == ""
    status = json.loads(gitbench(workbench, "status", "--json").stdout)["result"]
    assert any("not on Published" in r for r in status["reminders"])
    check_invariants(workbench, before)

    git(workbench, "checkout", "-q", "main")
    assert (workbench / "src/app.py").read_text() == "print('job')\n"
    check_invariants(workbench, before)


def test_publish_in_a_bare_workbench_moves_the_ref_and_detects_an_outside_move(project: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(project), str(bare))
    assert gitbench(bare, "init").returncode == 0
    ref, head = run_job(bare, write("src/app.py", "print('job')\n"))
    base = rev(bare, "main")
    outside = git(bare, "commit-tree", "-p", base, "-m", "outside", "main^{tree}").strip()
    git(bare, *NO_HOOKS, "update-ref", "refs/heads/main", outside)
    publish_error(bare)
    assert rev(bare, ref) == head
    check_invariants(bare)

    git(bare, *NO_HOOKS, "update-ref", "refs/heads/main", base)
    res = gitbench(bare, "publish", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert rev(bare, "main") == head
    assert git(bare, "show", "main:src/app.py") == "print('job')\n"
    assert git(bare, "for-each-ref", "refs/heads/gitbench/draft/") == ""
    assert not (bare / "gitbench" / "journal.json").exists()
    check_invariants(bare)
