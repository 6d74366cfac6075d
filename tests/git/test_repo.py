"""gitbench/git/repo.py in-process, against real repositories made with the git CLI: what the Git layer reads
is what `git` says, and what it writes is what `git` then sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbench import errors
from gitbench.git.repo import GitRepo, RefMoved, translate
from tests.conftest import git, make_project


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(str(make_project(tmp_path / "p")))


def head(path: str | None) -> str:
    assert path is not None
    return git(path, "rev-parse", "HEAD").strip()


def test_outside_a_repository_is_not_a_workbench_and_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(errors.NotAWorkbench) as info:
        GitRepo(str(tmp_path))
    assert "gitbench init" in " ".join(a.command or "" for a in info.value.actions)


def test_a_subfolder_opens_its_repository_and_names_its_gitdir_and_workdir(repo: GitRepo) -> None:
    assert repo.workdir is not None
    sub = GitRepo(str(Path(repo.workdir) / "src"))
    assert sub.gitdir == repo.gitdir == str(Path(repo.workdir) / ".git")
    assert sub.workdir == repo.workdir


def test_a_linked_worktree_keeps_its_state_in_the_common_gitdir(repo: GitRepo, tmp_path: Path) -> None:
    assert repo.workdir is not None
    git(repo.workdir, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    assert GitRepo(str(tmp_path / "wt")).gitdir == repo.gitdir


def test_refs_and_commits_read_as_git_reads_them(repo: GitRepo) -> None:
    oid = head(repo.workdir)
    assert repo.ref("refs/heads/main") == oid
    assert repo.head_branch() == "refs/heads/main"
    assert repo.resolve("main") == oid
    assert repo.resolve("no-such-rev") is None
    info = repo.commit(oid)
    assert info.oid == oid and info.parents == () and info.message.strip() == "initial"
    assert info.tree == git(repo.workdir or "", "rev-parse", "HEAD^{tree}").strip()
    assert info.author == "Test Author"


def test_set_ref_is_a_compare_and_swap(repo: GitRepo) -> None:
    oid = head(repo.workdir)
    repo.set_ref("refs/heads/draft", oid, None, "create")  # None: must not exist yet
    assert git(repo.workdir or "", "rev-parse", "refs/heads/draft").strip() == oid
    with pytest.raises(RefMoved) as moved:
        repo.set_ref("refs/heads/draft", oid, None, "create again")
    assert moved.value.actual == oid
    with pytest.raises(RefMoved):
        repo.set_ref("refs/heads/draft", None, "0" * 40, "delete from a value it does not have")
    repo.set_ref("refs/heads/draft", None, oid, "delete")
    assert not repo.ref_exists("refs/heads/draft")
    assert git(repo.workdir or "", "for-each-ref", "refs/heads/draft") == ""


def test_refs_lists_a_prefix_loose_and_packed(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    oid = head(wd)
    for name in ("a", "b", "c"):
        git(wd, "update-ref", f"refs/heads/gitbench/draft/{name}", oid)
    git(wd, "pack-refs", "--all")
    git(wd, "update-ref", "refs/heads/gitbench/draft/d", oid)  # loose beside the packed ones
    names = repo.refs("refs/heads/gitbench/draft/")
    assert sorted(names) == [f"refs/heads/gitbench/draft/{n}" for n in "abcd"]
    assert repo.ref_targets("refs/heads/gitbench/draft/") == {n: oid for n in names}


def test_a_commit_built_in_memory_changes_only_the_given_paths(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    base = head(wd)
    tree = repo.commit(base).tree
    readme = repo.tree_entry(tree, "README.md")
    assert readme is not None
    changed = repo.tree_with_changes(tree, {"docs/copy.md": readme, "src/app.py": None})
    oid = repo.create_commit(changed, [base], "edit\n")
    assert repo.commit(oid).parents == (base,)
    assert git(wd, "ls-tree", "-r", "--name-only", oid).split() == ["README.md", "docs/copy.md", "docs/guide.md"]
    assert git(wd, "show", f"{oid}:docs/copy.md") == "# project\n"
    assert git(wd, "status", "--porcelain") == ""  # the working tree was never touched
    emptied = repo.tree_with_changes(tree, {"src/app.py": None})
    assert "src" not in git(wd, "ls-tree", "--name-only", emptied).split()


def test_diff_trees_lists_what_git_diff_lists(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    old = head(wd)
    (Path(wd) / "src" / "app.py").write_text("print('bye')\n")
    (Path(wd) / "docs" / "guide.md").unlink()
    (Path(wd) / "new.txt").write_text("new\n")
    git(wd, "add", "-A")
    git(wd, "commit", "-q", "-m", "change")
    new = head(wd)
    changes = repo.diff_trees(repo.commit(old).tree, repo.commit(new).tree)
    expected = git(wd, "diff", "--name-status", "--no-renames", old, new).splitlines()
    assert [(c.path, c.old is None, c.new is None) for c in changes] == [
        (line.split("\t")[1], line[0] == "A", line[0] == "D") for line in expected
    ]
    assert repo.diff_trees(repo.commit(old).tree, repo.commit(old).tree) == []


def test_ancestry_and_history_follow_git(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    first = head(wd)
    for n in range(3):
        (Path(wd) / f"f{n}").write_text(f"{n}\n")
        git(wd, "add", "-A")
        git(wd, "commit", "-q", "-m", f"c{n}")
    last = head(wd)
    assert repo.is_ancestor(first, last) and not repo.is_ancestor(last, first)
    assert repo.merge_base(first, last) == first
    between = git(wd, "rev-list", "--reverse", "--topo-order", f"{first}..{last}").split()
    assert [c.oid for c in repo.commits_between(first, last)] == between  # oldest first
    assert [c.oid for c in repo.first_parent_chain(last, first)] == between[::-1]  # newest first
    assert [c.oid for c in repo.log(last, 2)] == git(wd, "rev-list", "-n", "2", last).split()


def test_an_annotated_tag_keeps_its_message(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    oid = head(wd)
    repo.create_tag("checkpoint/test", oid, "a checkpoint\n\nGitbench-Kind: manual\n")
    assert git(wd, "rev-parse", "checkpoint/test^{commit}").strip() == oid
    assert git(wd, "cat-file", "-t", "checkpoint/test").strip() == "tag"
    found = repo.tag_message("refs/tags/checkpoint/test")
    assert found is not None and "Gitbench-Kind: manual" in found[0]


def test_blobs_written_are_the_objects_git_would_write(repo: GitRepo, tmp_path: Path) -> None:
    wd = repo.workdir or ""
    oid = repo.create_blob(b"hello\n")
    assert oid == repo.hash_bytes(b"hello\n")
    assert git(wd, "cat-file", "-p", oid) == "hello\n"
    assert repo.blob(oid) == b"hello\n" and repo.blob_size(oid) == 6
    (tmp_path / "f").write_bytes(b"hello\n")
    assert repo.hash_file(str(tmp_path / "f")) == oid == git(wd, "hash-object", str(tmp_path / "f")).strip()


def test_config_set_and_read_back(repo: GitRepo) -> None:
    repo.config_set("gitbench.test", "yes")
    assert repo.config_get("gitbench.test") == "yes"
    assert git(repo.workdir or "", "config", "gitbench.test").strip() == "yes"
    assert repo.config_get("gitbench.absent") is None


# -- error paths: what a user meets when Git's files are locked, damaged or missing ---------------------------


def test_a_stale_ref_lock_refuses_the_write_as_git_locked_and_says_how_to_clear_it(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    oid = head(wd)
    lock = Path(repo.gitdir) / "refs" / "heads" / "main.lock"
    lock.write_text("")  # a crashed `git commit` left it
    with pytest.raises(errors.GitLocked) as info:
        repo.set_ref("refs/heads/main", oid, oid, "move")
    assert "Git is locked while updating refs/heads/main" in info.value.message
    assert [a.command for a in info.value.actions if a.command] == ["gitbench recover"]
    assert info.value.exit_code == 8
    assert git(wd, "rev-parse", "main").strip() == oid and lock.exists()  # nothing moved, the lock is Git's


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (OSError(28, "No space left on device"), errors.DiskFull, "No space left on the device while writing"),
        (Exception("failed to write out file: No space left on device"), errors.DiskFull, "No space left"),
        (Exception("no error"), errors.DiskFull, "No space left"),  # libgit2 lost an injected ENOSPC
        (Exception("failed to write: Input/output error"), errors.FileIOError, "could not be written while"),
        (Exception("failed to create locked file 'x': Permission denied"), errors.FileIOError, "Could not write"),
        (Exception("failed to lock file 'x.lock' for writing"), errors.GitLocked, "Another Git process"),
        (OSError(2, "No such file or directory"), errors.FileIOError, "Could not write while writing"),
        (Exception("object not found"), errors.InternalError, "Git error while writing"),
    ],
)
def test_a_git_error_becomes_the_gitbench_error_that_names_its_cause(
    exc: BaseException, kind: type[errors.GitbenchError], words: str
) -> None:
    err = translate(exc, "writing")
    assert type(err) is kind and words in err.message
    assert err.actions, "every translated error says what to do next"


def test_a_detached_head_has_no_branch_and_an_option_is_never_a_revision(repo: GitRepo) -> None:
    wd = repo.workdir or ""
    git(wd, "checkout", "-q", "--detach")
    assert repo.head_branch() is None
    assert repo.resolve("--all") is None and repo.resolve("") is None


def test_a_garbage_ref_file_is_unreadable_yet_can_be_deleted_and_its_reflog_rescues_its_commit(
    repo: GitRepo,
) -> None:
    wd = repo.workdir or ""
    oid = head(wd)
    git(wd, "update-ref", "refs/heads/gitbench/draft/x", oid)
    loose = Path(repo.gitdir) / "refs" / "heads" / "gitbench" / "draft" / "x"
    loose.write_text("not an object id\n")  # a torn write
    assert repo.ref_raw("refs/heads/gitbench/draft/x") is None
    assert repo.reflog_last("refs/heads/gitbench/draft/x") == oid
    assert repo.reflog_last("refs/heads/never-written") is None
    repo.delete_ref_force("refs/heads/gitbench/draft/x")
    assert not loose.exists()
    repo.delete_ref_force("refs/heads/gitbench/draft/x")  # already gone: nothing to do, no error


def test_deleting_a_ref_that_does_not_exist_is_a_no_op_and_a_taken_tag_name_is_refused(repo: GitRepo) -> None:
    oid = head(repo.workdir)
    repo.set_ref("refs/heads/none", None, None, "nothing to do")
    assert not repo.ref_exists("refs/heads/none")
    repo.create_tag("checkpoint/t", oid, "first\n")
    with pytest.raises(RefMoved):
        repo.create_tag("checkpoint/t", oid, "second\n")
    found = repo.tag_message("refs/tags/checkpoint/t")
    assert found is not None and found[0] == "first\n"
    assert repo.tag_message("refs/heads/main") is None  # a branch is not an annotated tag
    assert repo.tag_message("refs/tags/none") is None
    assert not (Path(repo.gitdir) / "refs" / "tags" / "checkpoint" / "t.lock").exists()
