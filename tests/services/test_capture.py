"""gitbench/services/capture.py: what an agent did in its Draft's worktree becoming steps, in-process on a real
Workbench. The agent's session is started with ``core.handle`` (as its hooks do); the agent's work is done with
the real `git` CLI in the worktree (its own commits, another branch, a rewritten history, a deleted `.git` file);
each turn's end is the capture. What is checked: what the Draft holds afterwards (and its trailers), what was
refused and why, and what is left in the folder for the user.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitbench.integrations import core
from gitbench.integrations.base import HookEvent
from gitbench.services import capture
from tests.conftest import git, gitbench, make_project

APP = 'def greet():\n    return "hello"\n'
AGENT = "claude-code"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    monkeypatch.setenv("GITBENCH_WORKTREES", str(tmp_path / "trees"))
    return repo


def start(bench: Path) -> tuple[dict[str, Any], Path]:
    reply = core.handle(HookEvent(agent=AGENT, kind="session-start", session="s1", cwd=str(bench)))
    assert reply.error is None, reply
    data = core.read_session(str(bench / ".git"), AGENT, "s1")
    assert data is not None
    return data, Path(data["worktree"])


def turn(bench: Path) -> str:
    reply = core.handle(HookEvent(agent=AGENT, kind="turn-end", session="s1", cwd=str(bench), model="m-1"))
    assert reply.error is None, reply
    return reply.message or ""


def job(bench: Path, job_id: str) -> dict[str, Any]:
    return json.loads(git(bench, "show", f"refs/gitbench/records:jobs/{job_id}.json"))


def trailers(bench: Path, commit: str) -> dict[str, str]:
    out = git(bench, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def steps(bench: Path, data: dict[str, Any]) -> list[str]:
    return git(bench, "rev-list", "--reverse", f"{job(bench, data['job'])['base']}..{data['draft']}").split()


def commit(tree: Path, message: str, *paths: str) -> str:
    git(tree, "add", "-A", *paths)
    git(tree, "commit", "-q", "-m", message)
    return git(tree, "rev-parse", "HEAD").strip()


def test_a_deleted_git_file_is_put_back_and_the_turn_still_recorded(bench: Path) -> None:
    data, tree = start(bench)
    (tree / ".git").unlink()
    (tree / "new.txt").write_text("x\n")
    message = turn(bench)
    assert "step 1 on Draft" in message and "(new.txt)" in message
    assert (tree / ".git").read_text().startswith("gitdir: ")
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip() == data["draft"][len("refs/heads/") :]
    (refused,) = job(bench, data["job"])["refused"]
    assert refused == {"path": ".git", "reason": "the job replaced the worktree's link to its repository (put back)"}
    assert git(bench, "show", f"{data['draft']}:new.txt") == "x\n"


@pytest.mark.parametrize("where", ["branch", "detached"])
def test_commits_made_on_another_branch_or_detached_are_taken_onto_the_draft(bench: Path, where: str) -> None:
    data, tree = start(bench)
    if where == "branch":
        git(tree, "checkout", "-q", "-b", "side")
    else:
        git(tree, "checkout", "-q", "--detach")
    (tree / "app.py").write_text(APP.replace("hello", "bye"))
    theirs = commit(tree, "say bye")
    (tree / "notes.txt").write_text("left uncommitted\n")
    message = turn(bench)
    assert "step 2 on Draft" in message
    first, second = steps(bench, data)
    assert git(bench, "log", "-1", "--format=%s", first).strip() == "say bye"  # its message kept
    assert first != theirs and trailers(bench, first)["Gitbench-Job"] == data["job"]
    assert trailers(bench, first)["Gitbench-Model"] == "claude:m-1"
    assert git(bench, "show", f"{first}:app.py") == APP.replace("hello", "bye")
    assert git(bench, "show", f"{second}:notes.txt") == "left uncommitted\n"
    # The worktree is back on its Draft, at its new head, with nothing left over.
    assert git(tree, "symbolic-ref", "HEAD").strip() == data["draft"]
    assert git(tree, "status", "--porcelain").strip() == ""


def test_a_rewritten_history_becomes_one_step_on_top_of_the_earlier_ones(bench: Path) -> None:
    data, tree = start(bench)
    (tree / "one.txt").write_text("1\n")
    assert "step 1" in turn(bench)
    (step_one,) = steps(bench, data)
    # The agent amends gitbench's step (drops one.txt, writes two.txt): the earlier step must not be lost.
    (tree / "one.txt").unlink()
    (tree / "two.txt").write_text("2\n")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "--amend", "-m", "my own version")
    assert "step 2" in turn(bench)
    first, second = steps(bench, data)
    assert first == step_one
    assert git(bench, "log", "-1", "--format=%s", second).strip() == "my own version"
    assert git(bench, "ls-tree", "--name-only", second).split() == ["README.md", "app.py", "two.txt"]
    assert trailers(bench, second)["Gitbench-Job"] == data["job"]


def test_changes_an_agents_commits_may_not_make_are_taken_out_of_every_later_commit(bench: Path) -> None:
    data, tree = start(bench)
    os.symlink("/etc/passwd", tree / "pw")
    (tree / "README.md").unlink()
    a = commit(tree, "link and drop the readme")
    (tree / "pw").unlink()
    (tree / "pw").write_text("a plain file now\n")  # allowed in itself, but pw is held at the Draft's version
    (tree / "app.py").write_text(APP + "# two\n")
    commit(tree, "pw is a file")
    (tree / "pw").unlink()
    os.symlink("/etc/hosts", tree / "pw")  # out again, in a commit that comes after the one it was taken from
    commit(tree, "pw links out again")
    turn(bench)
    commits = steps(bench, data)
    assert len(commits) == 3
    for c in commits:
        assert "pw" not in git(bench, "ls-tree", "--name-only", c).split()
    assert "README.md" not in git(bench, "ls-tree", "--name-only", commits[0]).split()  # a deletion is kept
    assert git(bench, "show", f"{commits[1]}:app.py") == APP + "# two\n"
    assert trailers(bench, commits[1])["Gitbench-Files"] == "app.py"
    refused = job(bench, data["job"])["refused"]
    assert {
        "path": "pw",
        "reason": f"symlink pointing outside the Workbench (/etc/passwd) (in the commit {a[:12]}: taken out of it)",
    } in refused
    assert any(r["reason"].startswith("symlink pointing outside the Workbench (/etc/hosts)") for r in refused)
    # What was taken out is left in the folder for the user to look at.
    assert os.readlink(tree / "pw") == "/etc/hosts"


def test_a_committed_gitlink_a_too_large_file_and_a_copied_file_are_taken_out(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bench / ".env").write_text("SECRET=1\n")  # untracked, copied into each worktree by [job] copy
    (bench / ".gitbench").mkdir(exist_ok=True)
    (bench / ".gitbench" / "config.toml").write_text('[job]\ncopy = [".env"]\n')
    data, tree = start(bench)
    assert (tree / ".env").read_text() == "SECRET=1\n"
    monkeypatch.setattr(capture, "MAX_FILE_BYTES", 64)  # a small limit instead of a 100 MiB file
    (tree / "big.bin").write_bytes(b"x" * 65)
    (tree / "small.txt").write_text("fits\n")
    other = git(tree, "rev-parse", "HEAD").strip()
    git(tree, "update-index", "--add", "--cacheinfo", f"160000,{other},vendored")
    git(tree, "add", "-f", ".env", "big.bin", "small.txt")
    git(tree, "commit", "-q", "-m", "everything")
    turn(bench)
    (step,) = steps(bench, data)
    assert git(bench, "ls-tree", "--name-only", step).split() == ["README.md", "app.py", "small.txt"]
    reasons = {r["path"]: r["reason"] for r in job(bench, data["job"])["refused"]}
    assert reasons["vendored"].startswith("a nested Git repository (in the commit")
    assert reasons["big.bin"].startswith("too large (the limit is 64 bytes) (in the commit")
    assert reasons[".env"].startswith("copied into the worktree by [job] copy; never part of the Draft")
    assert (tree / "big.bin").stat().st_size == 65 and (tree / ".env").exists()


def test_a_gitmodules_entry_that_is_no_submodule_does_not_hold_files_back(bench: Path) -> None:
    data, tree = start(bench)
    (tree / "lib").mkdir()
    (tree / "lib" / "a.txt").write_text("a\n")
    (tree / ".gitmodules").write_text('[submodule "lib"]\n\tpath = lib\n\turl = ../lib\n[submodule "x"]\n\tpath =\n')
    commit(tree, "lib is a plain folder")
    (tree / "lib" / "b.txt").write_text("b\n")  # not inside a submodule: taken as any file
    turn(bench)
    first, second = steps(bench, data)
    assert git(bench, "show", f"{second}:lib/b.txt") == "b\n"
    assert job(bench, data["job"])["refused"] == []


def test_a_file_replaced_by_a_pipe_is_refused_and_left_there(bench: Path) -> None:
    data, tree = start(bench)
    (tree / "app.py").unlink()
    os.mkfifo(tree / "app.py")  # Git lists no new pipe, but a tracked file that became one it does
    (tree / "ok.txt").write_text("ok\n")
    message = turn(bench)
    assert "Not taken (left in the worktree): app.py (not a regular file (a pipe, socket or device))." in message
    (step,) = steps(bench, data)
    assert git(bench, "show", f"{step}:app.py") == APP  # the Draft keeps the file
    assert git(bench, "show", f"{step}:ok.txt") == "ok\n"
    assert (tree / "app.py").is_fifo()


def test_a_draft_branch_that_disappeared_during_the_job_is_a_corrupt_draft(bench: Path) -> None:
    from gitbench import errors
    from gitbench.scope import Scope
    from gitbench.services import drafts, worktrees
    from gitbench.services.workbench import Workbench

    data, tree = start(bench)
    (tree / "new.txt").write_text("x\n")
    git(bench, "update-ref", "-d", data["draft"])
    wb = Workbench(str(bench))
    record = drafts.job_record(wb, data["job"])
    assert record is not None
    linked = worktrees.of_draft(wb, data["draft"])
    assert linked is not None
    label = data["draft"].rsplit("/", 1)[-1]
    with pytest.raises(errors.DraftCorrupt) as caught:
        capture.capture(wb, record, linked, Scope.of([]), set(), "turn", "complete", "turn", ("claude", "claude"))
    assert caught.value.message == (
        f"The Draft {record.id} is missing or corrupted: its branch disappeared during the job. Publishing is "
        "blocked; Published is untouched."
    )
    assert [a.command for a in caught.value.actions][0] == "gitbench discard --yes"
    assert (tree / "new.txt").read_text() == "x\n"  # nothing in the folder is lost
    assert label == record.id


def test_a_nested_repository_made_at_a_bare_gitlink_is_refused_and_left_there(tmp_path: Path) -> None:
    # A project that records a commit at `vendored` with no .gitmodules (no submodule to check out).
    repo = make_project(tmp_path / "project", {"app.py": APP})
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{git(repo, 'rev-parse', 'HEAD').strip()},vendored")
    git(repo, "commit", "-q", "-m", "a gitlink")
    gitlink = git(repo, "ls-tree", "HEAD", "vendored")
    assert gitbench(repo, "init").returncode == 0
    data, tree = start(repo)
    git(tree / "vendored", "init", "-q")  # the agent makes a repository of its own in that (empty) folder
    (tree / "vendored" / "lib.py").write_text("x = 1\n")
    commit(tree / "vendored", "its own")
    (tree / "app.py").write_text(APP + "# more\n")
    message = turn(repo)
    assert "vendored (a nested Git repository (its files are left in the worktree))" in message
    (step,) = steps(repo, data)
    assert git(repo, "ls-tree", step, "vendored") == gitlink  # the Draft's gitlink is as it was
    assert git(repo, "show", f"{step}:app.py") == APP + "# more\n"
    assert (tree / "vendored" / "lib.py").read_text() == "x = 1\n"


def test_a_gitmodules_whose_object_is_missing_names_no_submodule(bench: Path) -> None:
    from gitbench.services.workbench import Workbench

    # A tree that names a .gitmodules blob this repository does not have (a partial clone, a damaged one).
    missing = "1" * 40
    made = subprocess.run(
        ["git", "mktree", "--missing"],
        cwd=bench,
        input=f"100644 blob {missing}\t.gitmodules\n",
        text=True,
        capture_output=True,
        check=True,
    )
    tree = made.stdout.strip()
    assert capture.submodules(Workbench(str(bench)), tree) == set()
