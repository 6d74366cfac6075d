"""gitbench/services/worktrees.py in-process: which folders a sparse Draft worktree needs for a scope, and where
Draft worktrees may go (never inside the Workbench)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from gitbench import errors
from gitbench.git import worktrees as wt
from gitbench.scope import Scope
from gitbench.services import worktrees
from gitbench.services.workbench import Workbench
from gitbench.services.worktrees import home, sparse_dirs
from tests.conftest import git


@pytest.mark.parametrize(
    ("patterns", "dirs"),
    [
        (["src/**"], ["src"]),
        (["src/app/*.py", "docs/guide.md", "lib/"], ["src/app", "docs/guide.md", "lib"]),
        (["src/a[bc]/x.py", "tools/gen?.sh"], ["src", "tools"]),
        (["*.py"], None),  # a top-level glob can reach every folder
        (["src/**", "**/*.md"], None),
    ],
)
def test_a_sparse_worktree_checks_out_the_folders_the_scope_can_reach(patterns: list[str], dirs: list[str]) -> None:
    assert sparse_dirs(Scope.of(patterns)) == dirs


def test_everything_in_scope_needs_the_whole_checkout() -> None:
    assert sparse_dirs(Scope.of(["**"])) is None


@pytest.mark.parametrize("inside", [".git/gitbench/worktrees", "build/drafts"])
def test_draft_worktrees_cannot_go_inside_the_workbench(workbench: Path, inside: str) -> None:
    wb = Workbench(str(workbench))
    with pytest.raises(errors.UsageError) as info:
        home(wb, str(workbench / inside))
    assert info.value.message.startswith(f"Draft worktrees cannot go in {workbench / inside}")
    assert "GITBENCH_WORKTREES" in info.value.actions[0].label
    assert home(wb, str(workbench.parent / "elsewhere")).startswith(str(workbench.parent / "elsewhere") + "/")


def draft(wb_path: Path, label: str = "t1") -> str:
    git(wb_path, "branch", f"gitbench/draft/{label}", "HEAD")
    return f"refs/heads/gitbench/draft/{label}"


def test_a_scope_of_everything_needs_no_sparse_checkout() -> None:
    assert sparse_dirs(Scope.of([])) is None


def test_a_draft_worktree_goes_beside_what_already_holds_its_folder_and_gets_the_copy_files(
    workbench: Path, tmp_path: Path
) -> None:
    wb = Workbench(str(workbench))
    ref = draft(workbench)
    base = tmp_path / "wt"
    taken = Path(worktrees.folder_for(wb, "t1", str(base)))
    taken.mkdir(parents=True)
    (taken / "mine.txt").write_text("not the Draft's")
    Path(f"{taken}-2").write_text("a file in the way")
    (workbench / ".env").write_text("SECRET=1\n")
    (workbench / "data" / "sub").mkdir(parents=True)
    (workbench / "data" / "a.txt").write_text("a\n")
    (workbench / "data" / "sub" / "b.txt").write_text("b\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    copy = (".env", "data", "nothing-*.cfg", "../outside.txt", ".git/config")
    prepared = worktrees.prepare(wb, ref, Scope.of([]), False, copy, str(base))
    assert prepared.created and prepared.linked.path == f"{taken}-3"
    assert (taken / "mine.txt").read_text() == "not the Draft's"  # what was there is left alone
    folder = Path(prepared.linked.path)
    assert (folder / "src" / "app.py").read_text() == "print('hello')\n"
    assert (folder / ".env").read_text() == "SECRET=1\n" and (folder / "data" / "sub" / "b.txt").read_text() == "b\n"
    assert not (folder / "config").exists() and not (tmp_path / "wt" / "outside.txt").exists()
    assert prepared.notes == [
        "Copied into the worktree (never part of the Draft): .env, data.",
        f"[job] copy: nothing matches nothing-*.cfg in {workbench}.",
    ]
    assert worktrees.copied_paths(prepared.linked, (".env", "data")) == {b".env", b"data/a.txt", b"data/sub/b.txt"}
    again = worktrees.prepare(wb, ref, Scope.of([]), False, copy, str(base))
    assert not again.created and again.linked.path == prepared.linked.path


def test_a_draft_worktree_git_cannot_make_is_a_file_error_with_gits_words(workbench: Path, tmp_path: Path) -> None:
    wb = Workbench(str(workbench))
    ref = "refs/heads/gitbench/draft/never-made"  # no such branch
    with pytest.raises(errors.FileIOError) as info:
        worktrees.prepare(wb, ref, Scope.of([]), False, (), str(tmp_path / "wt"))
    assert info.value.message.startswith("Git could not finish making the Draft's worktree in ")
    assert "never-made" in info.value.message and info.value.actions == [errors.RECOVER]
    assert worktrees.listing(wb) == []


def test_a_draft_worktree_whose_folder_cannot_be_made_is_a_file_error(workbench: Path, tmp_path: Path) -> None:
    wb = Workbench(str(workbench))
    ref = draft(workbench)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(errors.FileIOError) as info:
        worktrees.prepare(wb, ref, Scope.of([]), False, (), str(tmp_path / "a-file" / "wt"))
    assert info.value.message.startswith("File error while making the Draft's worktree in ")
    assert worktrees.listing(wb) == []


def test_a_scratch_worktree_goes_beside_a_leftover_and_is_removed_when_done(workbench: Path, tmp_path: Path) -> None:
    wb = Workbench(str(workbench))
    head = git(workbench, "rev-parse", "HEAD").strip()
    settings = SimpleNamespace(worktrees=str(tmp_path / "wt"), copy=())
    leftover = Path(worktrees.home(wb, settings.worktrees)) / "check-x"
    leftover.mkdir(parents=True)
    with worktrees.scratch(wb, head, "check-x", settings) as linked:
        assert linked.path == f"{leftover}-2" and linked.branch is None
        assert (Path(linked.path) / "README.md").read_text() == "# project\n"
    assert wt.find(wb.git.gitdir, path=f"{leftover}-2") is None
    with pytest.raises(errors.FileIOError) as info, worktrees.scratch(wb, "0" * 40, "check-y", settings):
        pass
    assert info.value.message.startswith("Git could not finish making a worktree in ")


def test_removing_a_draft_worktree_when_the_worktrees_home_is_refused_finds_none(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = Workbench(str(workbench))
    monkeypatch.setenv("XDG_STATE_HOME", str(workbench / "state"))  # inside the Workbench: refused
    assert worktrees.remove(wb, "refs/heads/gitbench/draft/none", None) == []
    assert worktrees.repair(wb) == []


def test_leftovers_are_kept_even_when_the_projects_config_cannot_be_read(workbench: Path, tmp_path: Path) -> None:
    wb = Workbench(str(workbench))
    ref = draft(workbench)
    head = git(workbench, "rev-parse", ref).strip()
    linked = worktrees.prepare(wb, ref, Scope.of([]), False, (), str(tmp_path / "wt")).linked
    (Path(linked.path) / "src" / "app.py").write_text("print('interrupted')\n")
    (workbench / ".gitbench").mkdir(exist_ok=True)
    (workbench / ".gitbench" / "config.toml").write_text("[job\nbroken = \n")
    kept = worktrees.keep_leftovers(wb, linked, head, "t1")
    assert kept is not None and kept.startswith("refs/gitbench/leftovers/") and kept.endswith("/t1")
    assert git(workbench, "show", f"{kept}:src/app.py") == "print('interrupted')\n"
    assert git(workbench, "rev-parse", f"{kept}^").strip() == head


def test_a_draft_that_moves_under_local_changes_it_meets_keeps_them_and_takes_the_new_steps(
    workbench: Path, tmp_path: Path
) -> None:
    wb = Workbench(str(workbench))
    ref = draft(workbench)
    old = git(workbench, "rev-parse", ref).strip()
    linked = worktrees.prepare(wb, ref, Scope.of([]), False, (), str(tmp_path / "wt")).linked
    app = Path(linked.path) / "src" / "app.py"
    app.write_text("print('local')\n")
    # The Draft moves without its worktree (a model's step): src/app.py changes there too.
    scratch_index = tmp_path / "index"
    env = {"GIT_INDEX_FILE": str(scratch_index)}
    git(workbench, "read-tree", old, env=env)
    (tmp_path / "step.py").write_text("print('step')\n")
    oid = git(workbench, "hash-object", "-w", str(tmp_path / "step.py")).strip()
    git(workbench, "update-index", "--cacheinfo", f"100644,{oid},src/app.py", env=env)
    tree = git(workbench, "write-tree", env=env).strip()
    new = git(workbench, "commit-tree", "-p", old, "-m", "step", tree).strip()
    git(workbench, "update-ref", ref, new, old)
    notes = worktrees.sync(wb, ref, old, new)
    assert len(notes) == 1 and notes[0].startswith("The worktree's own changes met the Draft's new steps; ")
    kept = notes[0].rsplit(" ", 1)[1].rstrip(".")
    assert git(workbench, "show", f"{kept}:src/app.py") == "print('local')\n"  # nothing lost
    assert app.read_text() == "print('step')\n"  # the worktree holds the Draft's new steps
    assert wt.status(linked) == []
    assert worktrees.sync(wb, ref, new, new) == []


def test_the_users_own_worktrees_and_a_running_checks_are_never_orphans(
    workbench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = Workbench(str(workbench))
    head = git(workbench, "rev-parse", "HEAD").strip()
    git(workbench, "worktree", "add", "--detach", str(tmp_path / "mine"), head)  # the user's own, detached
    running = tmp_path / worktrees.check_folder("20260101-000000-abcd")  # this process runs it
    git(workbench, "worktree", "add", "--detach", str(running), head)
    assert worktrees.orphans(wb) == []

    def not_ours(pid: int, sig: int) -> None:  # a check run by another user: it cannot be signalled
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(worktrees.os, "kill", not_ours)
    assert worktrees.orphans(wb) == []
    monkeypatch.undo()
    assert (tmp_path / "mine").is_dir() and running.is_dir()


def test_recover_finishes_deleting_the_folders_an_interruption_left(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    home_dir = Path(worktrees.home(wb))
    gone = home_dir / f"{wt.GONE}t1-123"
    (gone / "src").mkdir(parents=True)
    (gone / "src" / "app.py").write_text("half deleted\n")
    notes = worktrees.repair(wb)
    assert notes == ["Deleting 1 folder(s) of removed worktrees that an interruption left behind."]
    deadline = time.monotonic() + 10
    while gone.exists() and time.monotonic() < deadline:  # deleted by a process of its own
        time.sleep(0.02)
    assert not gone.exists()


def test_a_drafts_worktree_that_lost_its_git_file_is_linked_again_with_its_files_kept(workbench: Path) -> None:
    from gitbench.services.worktrees import of_draft, prepare
    from tests.conftest import git, run_job

    ref, head = run_job(workbench, "open('src/app.py', 'a').write('# more\\n')")
    wb = Workbench(str(workbench))
    linked = of_draft(wb, ref)
    assert linked is not None and linked.present
    folder = Path(linked.path)
    (folder / ".git").unlink()  # an agent (or a cleaning tool) deleted it
    (folder / "notes.txt").write_text("not committed yet\n")  # the work in the folder
    prepared = prepare(wb, ref, Scope.of(["**"]), False, ())
    assert prepared.linked.path == str(folder) and not prepared.created
    assert prepared.notes == [
        f"The worktree of the Draft {ref.rsplit('/', 1)[-1]} ({folder}) had lost its .git file; it was put back "
        "(its files are as they were)."
    ]
    assert (folder / "notes.txt").read_text() == "not committed yet\n"
    assert (folder / ".git").read_bytes() == linked.git_file()
    # Git sees the folder as the Draft's worktree again: on its branch, the uncommitted file as new
    assert git(folder, "rev-parse", "HEAD").strip() == head
    assert git(folder, "status", "--porcelain").splitlines() == ["?? notes.txt"]
