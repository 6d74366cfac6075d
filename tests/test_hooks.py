"""The Git hooks `gitbench init` installs: plain `git` cannot move Published while a Draft is open, a user's own
hook is kept and still runs first, and everything else Git does keeps working."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import Snapshot, check_invariants, git, gitbench, make_project

HOOKS = ("pre-commit", "reference-transaction")


def plain_git(cwd: Path, *args: str) -> tuple[int, str]:
    """Run git and return (exit code, stderr), without failing the test on a refusal."""
    import subprocess

    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stderr


def ours(path: Path) -> bool:
    return path.is_file() and "gitbench-hook" in path.read_text() and os.access(path, os.X_OK)


def open_draft(repo: Path) -> str:
    res = gitbench(
        repo,
        "exec",
        "--json",
        "--",
        sys.executable,
        "-c",
        "import pathlib; pathlib.Path('draft.txt').write_text('d\\n')",
    )
    assert res.returncode == 0, res.stderr
    return str(json.loads(res.stdout)["result"]["draft"])


def write_hook(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def two_commits(tmp_path: Path) -> Path:
    """A Workbench whose Published has two commits (so `reset HEAD~1` means something) and a side branch."""
    repo = make_project(tmp_path / "project")
    (repo / "README.md").write_text("# second\n")
    git(repo, "commit", "-qam", "second")
    git(repo, "branch", "side")
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


# -- installation -----------------------------------------------------------------------------------------------


def test_init_installs_both_hooks_into_git_hooks(workbench: Path) -> None:
    for name in HOOKS:
        assert ours(workbench / ".git" / "hooks" / name), name


@pytest.mark.parametrize("hooks_path", [".githooks", "ABSOLUTE"])
def test_init_installs_the_hooks_where_core_hookspath_points(project: Path, tmp_path: Path, hooks_path: str) -> None:
    target = tmp_path / "shared-hooks" if hooks_path == "ABSOLUTE" else project / hooks_path
    git(project, "config", "core.hooksPath", str(target) if hooks_path == "ABSOLUTE" else hooks_path)
    res = gitbench(project, "init")
    assert res.returncode == 0, res.stderr
    for name in HOOKS:
        assert ours(target / name), name
        assert not (project / ".git" / "hooks" / name).exists()
    open_draft(project)
    (project / "README.md").write_text("edited by hand\n")
    code, err = plain_git(project, "commit", "-qam", "by hand")
    assert code != 0 and "gitbench publish" in err  # git really runs them from there


def test_a_users_pre_commit_hook_is_kept_and_runs_first(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "hook.log"
    user_hook = project / ".git" / "hooks" / "pre-commit"
    write_hook(user_hook, f"echo user-hook-ran >> {log}\nexit 0\n")
    original = user_hook.read_text()
    res = gitbench(project, "init")
    assert res.returncode == 0, res.stderr
    assert "pre-commit.gitbench-chained" in res.stdout
    chained = project / ".git" / "hooks" / "pre-commit.gitbench-chained"
    assert chained.read_text() == original and ours(user_hook)

    (project / "README.md").write_text("change 1\n")
    git(project, "commit", "-qam", "no draft: allowed")  # the user's hook passes, ours allows it
    assert log.read_text() == "user-hook-ran\n"

    open_draft(project)
    (project / "README.md").write_text("change 2\n")
    code, err = plain_git(project, "commit", "-qam", "refused")
    assert code != 0 and "gitbench publish" in err
    assert log.read_text() == "user-hook-ran\nuser-hook-ran\n"  # it ran first, then ours refused


def test_a_failing_user_pre_commit_hook_still_blocks_the_commit(project: Path) -> None:
    write_hook(project / ".git" / "hooks" / "pre-commit", "echo 'user says no' >&2\nexit 3\n")
    assert gitbench(project, "init").returncode == 0
    before = git(project, "rev-parse", "main")
    (project / "README.md").write_text("change\n")
    code, err = plain_git(project, "commit", "-qam", "blocked by the user's hook")
    assert code != 0 and "user says no" in err
    assert git(project, "rev-parse", "main") == before


def test_a_users_reference_transaction_hook_is_chained_too(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "rt.log"
    write_hook(project / ".git" / "hooks" / "reference-transaction", f"cat >> {log}\n")
    assert gitbench(project, "init").returncode == 0
    assert (project / ".git" / "hooks" / "reference-transaction.gitbench-chained").exists()
    git(project, "branch", "topic")
    assert "refs/heads/topic" in log.read_text()  # it still sees every ref update


def test_running_init_again_does_not_chain_twice(project: Path, tmp_path: Path) -> None:
    write_hook(project / ".git" / "hooks" / "pre-commit", "exit 0\n")
    original = (project / ".git" / "hooks" / "pre-commit").read_text()
    for _ in range(2):
        assert gitbench(project, "init").returncode == 0
    hooks = sorted(p.name for p in (project / ".git" / "hooks").iterdir() if not p.name.endswith(".sample"))
    assert hooks == ["pre-commit", "pre-commit.gitbench-chained", "reference-transaction"]
    assert (project / ".git" / "hooks" / "pre-commit.gitbench-chained").read_text() == original
    assert ours(project / ".git" / "hooks" / "pre-commit")


# -- while a Draft is open --------------------------------------------------------------------------------------


def test_a_plain_git_commit_on_published_is_refused_while_a_draft_is_open(two_commits: Path) -> None:
    repo = two_commits
    draft = open_draft(repo)
    before = Snapshot.take(repo)
    (repo / "README.md").write_text("edited by hand\n")
    git(repo, "add", "README.md")
    code, err = plain_git(repo, "commit", "-qm", "sneaky")
    assert code != 0
    assert "gitbench publish" in err and "gitbench discard" in err
    assert draft.rsplit("/", 1)[-1] in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    assert "README.md" in git(repo, "diff", "--cached", "--name-only")  # still staged, nothing lost
    # --no-verify skips pre-commit, but the reference-transaction hook still refuses.
    code, err = plain_git(repo, "commit", "-q", "--no-verify", "-m", "sneakier")
    assert code != 0 and "gitbench publish" in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    git(repo, "reset", "-q", "--hard")  # same commit: allowed, and puts the files back
    check_invariants(repo, before, published_may_change=False)


def test_git_reset_hard_to_an_older_commit_is_refused_while_a_draft_is_open(two_commits: Path) -> None:
    repo = two_commits
    open_draft(repo)
    before = Snapshot.take(repo)
    code, err = plain_git(repo, "reset", "--hard", "HEAD~1")
    assert code != 0 and "gitbench publish" in err and "gitbench discard" in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    # Git rewrote the files before asking the hook; `git reset --hard` (no move) puts Published's files back.
    git(repo, "reset", "-q", "--hard")
    assert (repo / "README.md").read_text() == "# second\n"
    check_invariants(repo, before, published_may_change=False)


def test_git_merge_into_published_is_refused_while_a_draft_is_open(two_commits: Path) -> None:
    repo = two_commits
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "topic.txt").write_text("topic\n")
    git(repo, "add", "topic.txt")
    git(repo, "commit", "-qm", "topic work")
    git(repo, "checkout", "-q", "main")
    open_draft(repo)
    before = Snapshot.take(repo)
    code, err = plain_git(repo, "merge", "--ff-only", "topic")
    assert code != 0 and "gitbench publish" in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    git(repo, "reset", "-q", "--hard")  # git updated the files before the hook refused the ref
    code, err = plain_git(repo, "merge", "--no-ff", "-m", "merge topic", "topic")
    assert code != 0 and "gitbench publish" in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    code, _ = plain_git(repo, "merge", "--abort")
    git(repo, "reset", "-q", "--hard")
    check_invariants(repo, before, published_may_change=False)


def test_git_update_ref_on_published_is_refused_while_a_draft_is_open(two_commits: Path) -> None:
    repo = two_commits
    open_draft(repo)
    before = Snapshot.take(repo)
    older = git(repo, "rev-parse", "main~1").strip()
    code, err = plain_git(repo, "update-ref", "refs/heads/main", older)
    assert code != 0 and "cannot be moved" in err and "gitbench discard" in err
    code, err = plain_git(repo, "branch", "-f", "main", older)
    assert code != 0
    assert git(repo, "rev-parse", "main").strip() == before.published
    check_invariants(repo, before, published_may_change=False)


def test_other_branches_and_stash_keep_working_while_a_draft_is_open(two_commits: Path) -> None:
    repo = two_commits
    draft = open_draft(repo)
    before = Snapshot.take(repo)
    (repo / "README.md").write_text("local edit\n")
    git(repo, "stash", "-q")  # rewrites HEAD to where it already is: not a move
    git(repo, "stash", "pop", "-q")
    assert (repo / "README.md").read_text() == "local edit\n"
    git(repo, "checkout", "-q", "-b", "experiment")
    git(repo, "commit", "-qam", "on a branch of my own")
    git(repo, "checkout", "-q", "side")
    (repo / "side.txt").write_text("side\n")
    git(repo, "add", "side.txt")
    git(repo, "commit", "-qm", "side work")
    git(repo, "checkout", "-q", "main")
    git(repo, "update-ref", "refs/heads/side", "side~1")
    assert git(repo, "rev-parse", "main").strip() == before.published
    assert git(repo, "rev-parse", draft).strip() == before.drafts[draft]
    check_invariants(repo, before, published_may_change=False)


def test_without_a_draft_plain_git_commits_on_published_work(two_commits: Path) -> None:
    repo = two_commits
    open_draft(repo)
    assert gitbench(repo, "discard", "--yes").returncode == 0
    (repo / "README.md").write_text("by hand, no Draft\n")
    git(repo, "commit", "-qam", "plain commit")
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "plain commit"
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "second"
    check_invariants(repo)


def test_with_several_drafts_open_the_hooks_name_them_all(two_commits: Path) -> None:
    repo = two_commits
    draft = open_draft(repo)
    # A second Draft beside it, as `gitbench try` makes (plumbing: the hook reads only the refs).
    git(repo, "update-ref", "refs/heads/gitbench/draft/other-model", git(repo, "rev-parse", draft).strip())
    before = Snapshot.take(repo)
    (repo / "README.md").write_text("edited by hand\n")
    git(repo, "add", "README.md")
    code, err = plain_git(repo, "commit", "-qm", "sneaky")
    assert code != 0
    assert f"2 Drafts are open ({draft.rsplit('/', 1)[-1]}, other-model)" in err
    assert "gitbench drafts" in err
    code, err = plain_git(repo, "commit", "-q", "--no-verify", "-m", "sneakier")
    assert code != 0 and "2 Drafts are open" in err
    assert git(repo, "rev-parse", "main").strip() == before.published
    git(repo, "reset", "-q", "--hard")
    git(repo, "update-ref", "-d", "refs/heads/gitbench/draft/other-model")
