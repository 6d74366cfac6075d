"""gitbench/git/repo.py's edges, in-process against real repositories made with the git CLI: damaged Git files
(a malformed `.git` file, garbage packed-refs, a corrupt object, a torn reflog), held locks, a ref moved by
another process half way through a compare-and-swap, big blobs streamed from loose and packed objects, line
ending filters that refuse a file, and object writes refused by the operating system (RLIMIT_FSIZE: a real
write that fails with EFBIG, as on a full disk)."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pygit2
import pytest

from gitbench import errors
from gitbench.git import repo as repo_mod
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo, RefMoved
from tests.conftest import git, make_project


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(str(make_project(tmp_path / "p")))


def wd_of(repo: GitRepo) -> str:
    assert repo.workdir is not None
    return repo.workdir


def head(repo: GitRepo) -> str:
    return git(wd_of(repo), "rev-parse", "HEAD").strip()


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes to regular files past ``limit`` bytes fail with EFBIG (a real refusal by the kernel, which gitbench
    takes as a full disk), with SIGXFSZ ignored so that the write returns the error instead of killing us."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)


def loose_path(repo: GitRepo, oid: str) -> Path:
    return Path(repo.gitdir) / "objects" / oid[:2] / oid[2:]


def big_text(n: int = repo_mod.STREAM_BYTES + 4096) -> bytes:
    line = b"a line of a big file, repeated\n"
    return (line * (n // len(line) + 1))[:n]


# -- opening, config, signature ---------------------------------------------------------------------------


def test_a_malformed_dot_git_file_is_not_a_workbench(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ".git").write_text("garbage\n")  # libgit2 raises on it, it does not just say "none"
    with pytest.raises(errors.NotAWorkbench) as info:
        GitRepo(str(tmp_path / "broken"))
    assert "is not inside a Git repository" in info.value.message
    assert [a.command for a in info.value.actions] == [f"gitbench init {tmp_path / 'broken'}"]


def test_config_add_never_adds_a_value_twice_and_an_invalid_key_has_no_values(repo: GitRepo) -> None:
    repo.config_add("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
    repo.config_add("remote.origin.fetch", "+refs/tags/*:refs/tags/*")
    repo.config_add("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")  # already there
    listed = git(wd_of(repo), "config", "--get-all", "remote.origin.fetch").splitlines()
    assert listed == ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    assert repo.config_all("remote.origin.fetch") == listed
    assert repo.config_all("nodot") == []  # libgit2 refuses the name: no values, not a crash


def test_without_a_usable_user_name_commits_are_signed_by_gitbench(repo: GitRepo) -> None:
    git(wd_of(repo), "config", "user.name", "")  # libgit2 refuses an empty name
    sig = repo.signature()
    assert (sig.name, sig.email) == ("gitbench", "gitbench@localhost")
    oid = repo.create_commit(repo.commit(head(repo)).tree, [head(repo)], "unsigned\n")
    assert git(wd_of(repo), "log", "-1", "--format=%an <%ae>", oid).strip() == "gitbench <gitbench@localhost>"


# -- refs ---------------------------------------------------------------------------------------------------


def test_a_ref_to_an_annotated_tag_reads_as_its_commit_and_one_to_a_corrupt_object_as_none(repo: GitRepo) -> None:
    wd = wd_of(repo)
    oid = head(repo)
    git(wd, "tag", "-a", "-m", "annotated", "v1")
    assert repo.ref("refs/tags/v1") == oid
    assert repo.ref_raw("refs/tags/v1") == git(wd, "rev-parse", "v1").strip() != oid  # the tag object itself
    blob = repo.create_blob(b"soon corrupt\n")
    git(wd, "update-ref", "refs/tags/broken", blob)
    path = loose_path(repo, blob)
    path.chmod(0o644)
    path.write_bytes(b"garbage")  # libgit2 cannot inflate it
    assert repo.ref("refs/tags/broken") is None
    assert not repo.exists(blob) and not repo.exists("not-hex")


def test_pack_tags_packs_loose_tags_and_reports_false_when_git_is_locked(repo: GitRepo) -> None:
    wd = wd_of(repo)
    oid = head(repo)
    for n in range(3):
        git(wd, "tag", f"checkpoint/{n}", oid)
    git(wd, "config", "core.packedRefsTimeout", "0")  # no waiting for the lock: this test needs no second
    lock = Path(repo.gitdir) / "packed-refs.lock"
    lock.write_text("")  # another `git pack-refs` is running
    assert repo.pack_tags() is False
    assert repo.loose_refs("refs/tags/") == 3  # nothing moved
    lock.unlink()
    assert repo.pack_tags() is True
    assert repo.loose_refs("refs/tags/") == 0
    assert repo.refs("refs/tags/") == [f"refs/tags/checkpoint/{n}" for n in range(3)]
    assert repo.ref("refs/tags/checkpoint/1") == oid


def test_a_garbage_packed_refs_file_makes_listing_the_refs_fail_with_what_was_being_done(repo: GitRepo) -> None:
    (Path(repo.gitdir) / "packed-refs").write_text("garbage line\n")
    with pytest.raises(errors.GitbenchError) as info:
        repo.ref_targets("refs/")
    assert "while listing the refs" in info.value.message and "packed" in info.value.message
    assert info.value.actions


class _MovedBehind:
    """The repository's references, where another process moves ``name`` to ``to`` right after we read it: the
    race a compare-and-swap exists for (only its timing is arranged; the move is a real `git update-ref`)."""

    def __init__(self, real: Any, wd: str, name: str, to: str | None) -> None:
        self.real, self.wd, self.name, self.to = real, wd, name, to

    def get(self, name: str) -> Any:
        found = self.real.get(name)
        if name == self.name:
            if self.to is None:
                git(self.wd, "update-ref", "-d", name)
            else:
                git(self.wd, "update-ref", name, self.to)
        return found

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.real, attr)


class _RepoWithRace:
    def __init__(self, real: pygit2.Repository, references: _MovedBehind) -> None:
        self._real, self.references = real, references

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._real, attr)


@pytest.mark.parametrize("new", ["second", None], ids=["move", "delete"])
def test_a_ref_moved_by_another_process_during_the_swap_is_refmoved_and_keeps_its_value(
    repo: GitRepo, new: str | None
) -> None:
    wd = wd_of(repo)
    first = head(repo)
    second = repo.create_commit(repo.commit(first).tree, [first], "second\n")
    third = repo.create_commit(repo.commit(first).tree, [first], "third\n")
    repo.set_ref("refs/heads/gitbench/draft/x", first, None, "create")
    real = repo.repo
    repo.repo = _RepoWithRace(real, _MovedBehind(real.references, wd, "refs/heads/gitbench/draft/x", third))  # type: ignore[assignment]
    try:
        with pytest.raises(RefMoved) as info:
            repo.set_ref("refs/heads/gitbench/draft/x", second if new else None, first, "swap")
    finally:
        repo.repo = real
    assert info.value.expected == first and info.value.actual == third
    assert git(wd, "rev-parse", "refs/heads/gitbench/draft/x").strip() == third  # the other process's value kept


def test_a_lock_libgit2_could_not_remove_is_remembered_for_the_next_command(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid = head(repo)
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fsdecode(path).endswith(".lock"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    repo.create_tag("checkpoint/io", oid, "a checkpoint\n")
    monkeypatch.undo()
    lock = os.path.join(repo.gitdir, "refs", "tags", "checkpoint", "io.lock")
    assert repo.left_locks == [(lock, "Input/output error")]
    assert git(wd_of(repo), "rev-parse", "checkpoint/io^{commit}").strip() == oid  # the tag itself was made


def test_reflog_last_skips_torn_lines_zero_ids_and_lost_commits(repo: GitRepo) -> None:
    oid = head(repo)
    log = Path(repo.gitdir) / "logs" / "refs" / "heads" / "gitbench" / "draft" / "y"
    log.parent.mkdir(parents=True)
    zero, lost = "0" * 40, "1" * 40
    good = f"{zero} {oid} A <a@b> 1 +0000\tcreate\n"
    log.write_text(good + f"{oid} {zero} A <a@b> 2 +0000\tdelete\n" + f"{zero} {lost} A <a@b> 3 +0000\tx\n" + "torn\n")
    assert repo.reflog_last("refs/heads/gitbench/draft/y") == oid  # the newest line naming a commit that exists
    log.write_text(f"{oid} {zero} A <a@b> 2 +0000\tdelete\ntorn\n")
    assert repo.reflog_last("refs/heads/gitbench/draft/y") is None


def test_head_branch_of_a_garbage_or_missing_head_is_none_and_set_head_points_head(repo: GitRepo) -> None:
    wd = wd_of(repo)
    git(wd, "branch", "other")
    repo.set_head("refs/heads/other")
    assert git(wd, "symbolic-ref", "HEAD").strip() == "refs/heads/other"
    assert repo.head_branch() == "refs/heads/other"
    head_file = Path(repo.gitdir) / "HEAD"
    head_file.write_text("garbage\n")
    assert repo.head_branch() is None
    head_file.unlink()
    assert repo.head_branch() is None


# -- objects ------------------------------------------------------------------------------------------------


def test_blame_of_a_path_the_commit_lacks_names_the_path(repo: GitRepo) -> None:
    with pytest.raises(errors.GitbenchError) as info:
        repo.blame("no/such/file.py", head(repo), 1, 1)
    assert "reading the history of no/such/file.py" in info.value.message
    assert "does not exist" in info.value.message


def test_added_lines_leave_out_a_file_that_only_lost_lines(repo: GitRepo) -> None:
    wd = Path(wd_of(repo))
    (wd / "docs" / "guide.md").write_text("one\ntwo\nthree\n")
    git(wd, "commit", "-qam", "three lines")
    old = repo.commit(head(repo)).tree
    (wd / "docs" / "guide.md").write_text("one\nthree\n")  # a line removed, none added
    (wd / "src" / "app.py").write_text("print('hello')\nprint('more')\n")
    git(wd, "commit", "-qam", "edit")
    assert repo.added_lines(old, repo.commit(head(repo)).tree) == {"src/app.py": [(2, 2)]}


def test_a_tag_name_git_refuses_is_a_value_error_and_a_locked_tag_is_git_locked(repo: GitRepo) -> None:
    oid = head(repo)
    with pytest.raises(ValueError, match="is not valid"):
        repo.create_tag("bad..name", oid, "m\n")
    lock = Path(repo.gitdir) / "refs" / "tags" / "checkpoint" / "held.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")  # a crashed `git tag`
    with pytest.raises(errors.GitLocked) as info:
        repo.create_tag("checkpoint/held", oid, "m\n")
    assert "creating tag checkpoint/held" in info.value.message
    assert lock.exists() and git(wd_of(repo), "tag", "-l") == ""  # Git's lock left alone, no tag made


def test_blob_of_a_tree_is_a_key_error(repo: GitRepo) -> None:
    tree = repo.commit(head(repo)).tree
    with pytest.raises(KeyError):
        repo.blob(tree)


def test_a_commit_or_rewrite_the_os_refuses_to_write_is_reported_never_returned(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid = head(repo)
    tree = repo.commit(oid).tree
    before = set(git(wd_of(repo), "rev-list", "--all").split())
    with file_size_limit(10):  # pygit2 returns the id of a commit it never wrote
        with pytest.raises(errors.FileIOError) as made:
            repo.create_commit(tree, [oid], "never written\n")
        with pytest.raises(errors.FileIOError) as rewritten:
            repo.rewrite_commit(oid, tree, [], "never written either\n")
        monkeypatch.setattr(os, "statvfs", _statvfs_fails)
        with pytest.raises(errors.FileIOError) as unknown:
            repo.create_commit(tree, [oid], "free space unknown\n")
    assert made.value.message == "Git could not write an object while writing a commit."
    assert rewritten.value.message == made.value.message == unknown.value.message
    assert made.value.actions == [errors.RECOVER]
    assert set(git(wd_of(repo), "rev-list", "--all").split()) == before


def _statvfs_fails(path: str) -> os.statvfs_result:
    raise OSError(errno.EIO, os.strerror(errno.EIO), path)


def test_rewrite_commit_refuses_a_non_commit_and_a_missing_tree(repo: GitRepo) -> None:
    oid = head(repo)
    tree = repo.commit(oid).tree
    with pytest.raises(KeyError):
        repo.rewrite_commit(tree, tree, [], "m\n")
    with pytest.raises(errors.GitbenchError, match="writing a commit: .*1111111111"):
        repo.rewrite_commit(oid, "1" * 40, [], "m\n")
    with pytest.raises(errors.GitbenchError, match="writing a commit: .*1111111111"):
        repo.create_commit("1" * 40, [oid], "m\n")


def test_merge_base_of_a_bad_id_is_none(repo: GitRepo) -> None:
    assert repo.merge_base("not-hex", head(repo)) is None


# -- line endings -------------------------------------------------------------------------------------------


def test_info_attributes_or_an_unreadable_index_make_every_path_checked_for_filters(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "a")
    (wd / ".git" / "info").mkdir(exist_ok=True)
    (wd / ".git" / "info" / "attributes").write_text("*.txt eol=crlf\n")
    repo = GitRepo(str(wd))
    assert repo.may_filter() is True
    assert repo.create_blob_as(b"x\r\ny\r\n", "f.txt") == repo.hash_bytes(b"x\ny\n")  # stored as `git add` would
    other = make_project(tmp_path / "b")
    (other / ".git" / "index").write_bytes(b"garbage")  # `git ls-files` fails: cannot tell, so ask per path
    assert GitRepo(str(other)).may_filter() is True
    plain = make_project(tmp_path / "c")
    assert GitRepo(str(plain)).may_filter() is False


def test_core_safecrlf_refuses_an_irreversible_conversion_as_git_does(repo: GitRepo, tmp_path: Path) -> None:
    wd = wd_of(repo)
    git(wd, "config", "core.autocrlf", "true")
    git(wd, "config", "core.safecrlf", "true")
    mixed = b"one\r\ntwo\nthree\r\n"
    with pytest.raises(errors.UsageError) as info:
        repo.create_blob_as(mixed, "mixed.txt")
    assert info.value.message.startswith("Git refuses to store mixed.txt:")
    (Path(wd) / "mixed.txt").write_bytes(mixed)
    refused = subprocess.run(["git", "add", "mixed.txt"], cwd=wd, capture_output=True, text=True)
    assert refused.returncode != 0  # git refuses it too
    # Hashing the file for comparison falls back to its bytes as they are.
    assert repo.hash_workfile(os.path.join(wd, "mixed.txt"), "mixed.txt") == repo.hash_bytes(mixed)


def test_a_file_that_vanished_before_it_was_stored_names_the_file(repo: GitRepo) -> None:
    gone = os.path.join(wd_of(repo), "gone.txt")
    with pytest.raises(errors.GitbenchError) as info:
        repo.create_blob_from_file(gone, "gone.txt")
    assert "writing an object" in info.value.message and gone in info.value.message


# -- big blobs: streamed, from loose and packed objects ------------------------------------------------------


def read_written(repo: GitRepo, tmp_path: Path, oid: str, path: str | None) -> bytes:
    out = tmp_path / "out.bin"
    with open(out, "wb") as fh:
        repo.write_blob_to(fh.fileno(), oid, path)
    return out.read_bytes()


def test_a_big_packed_blob_is_written_by_git_with_and_without_line_ending_conversion(
    repo: GitRepo, tmp_path: Path
) -> None:
    wd = Path(wd_of(repo))
    data = big_text()
    (wd / ".gitattributes").write_text("*.crlf eol=crlf\n")
    (wd / "big.txt").write_bytes(data)
    (wd / "big.crlf").write_bytes(data)
    git(wd, "add", "-A")
    git(wd, "commit", "-qm", "big")
    git(wd, "gc", "-q")  # packed: no loose file to inflate here
    repo = GitRepo(str(wd))
    oid = repo.tree_entry(repo.commit(head(repo)).tree, "big.txt")
    assert oid is not None and not loose_path(repo, oid.oid).exists()
    assert read_written(repo, tmp_path, oid.oid, "big.txt") == data
    assert read_written(repo, tmp_path, oid.oid, "big.crlf") == data.replace(b"\n", b"\r\n")
    repo.check_blob(oid.oid)  # intact: no error


def test_a_big_blob_whose_checkout_filter_fails_is_a_key_error_naming_git(repo: GitRepo, tmp_path: Path) -> None:
    wd = Path(wd_of(repo))
    (wd / ".gitattributes").write_text("*.bin eol=crlf filter=boom\n")
    git(wd, "config", "filter.boom.smudge", "false")
    git(wd, "config", "filter.boom.clean", "cat")
    git(wd, "config", "filter.boom.required", "true")
    oid = repo.create_blob(big_text())
    with pytest.raises(KeyError) as info:
        read_written(repo, tmp_path, oid, "data.bin")
    assert oid in str(info.value) and "boom" in str(info.value)


def test_a_damaged_big_loose_object_is_never_written_out_as_good(repo: GitRepo, tmp_path: Path) -> None:
    data = big_text()
    oid = repo.create_blob(data)
    path = loose_path(repo, oid)
    raw = path.read_bytes()
    path.chmod(0o644)
    # 1. Garbage in the middle of the deflated stream.
    middle = len(raw) // 2
    path.write_bytes(raw[:middle] + b"\xff" * 64 + raw[middle + 64 :])
    with pytest.raises(KeyError, match="damaged"):
        repo.check_blob(oid)
    # 2. Another big blob's content under this name: it inflates, but its id is not this one.
    other = repo.create_blob(data + b"more\n")
    path.write_bytes(loose_path(repo, other).read_bytes())
    with pytest.raises(KeyError, match="damaged"):
        read_written(repo, tmp_path, oid, None)
    # 3. A big commit where a blob was expected (a corrupt Draft's tree).
    commit = repo.create_commit(repo.commit(head(repo)).tree, [], data.decode())
    with pytest.raises(KeyError, match="is not a blob"):
        repo.check_blob(commit)


# -- trees ---------------------------------------------------------------------------------------------------


def test_removing_paths_that_are_not_there_leaves_the_tree_as_it_was(repo: GitRepo) -> None:
    tree = repo.commit(head(repo)).tree
    assert repo.tree_with_changes(tree, {"nope.txt": None, "no/such/dir.txt": None}) == tree


def test_blob_map_leaves_out_submodules(repo: GitRepo) -> None:
    oid = head(repo)
    tree = repo.tree_with_changes(repo.commit(oid).tree, {"vendor/lib": Entry(oid, Mode.GITLINK)})
    assert git(wd_of(repo), "ls-tree", "-r", tree).count("commit") == 1
    found = repo.blob_map(tree)
    assert sorted(found) == ["README.md", "docs/guide.md", "src/app.py"]


# -- index and status ----------------------------------------------------------------------------------------


def test_update_index_records_an_entry_whose_file_is_not_in_the_folder(repo: GitRepo) -> None:
    wd = wd_of(repo)
    blob = repo.create_blob(b"not on disk\n")
    repo.update_index({"absent.txt": Entry(blob, Mode.REGULAR)})
    assert git(wd, "ls-files", "-s", "absent.txt").split()[:2] == ["100644", blob]
    assert not os.path.exists(os.path.join(wd, "absent.txt"))


def test_a_locked_or_unreadable_index_fails_with_what_was_being_done(repo: GitRepo) -> None:
    wd = Path(wd_of(repo))
    (wd / "new.txt").write_text("new\n")
    lock = Path(repo.gitdir) / "index.lock"
    lock.write_text("")  # a running `git add`
    with pytest.raises(errors.GitLocked) as info:
        repo.snapshot_workdir()
    assert "recording the folder's files" in info.value.message
    lock.unlink()
    assert "new.txt" not in git(wd, "ls-files")  # nothing staged
    (Path(repo.gitdir) / "index").write_bytes(b"garbage")
    with pytest.raises(errors.GitbenchError, match="while reading the index"):
        repo.index_tree()


def test_a_bare_repository_has_no_local_changes_and_ignores_nothing(repo: GitRepo, tmp_path: Path) -> None:
    git(tmp_path, "clone", "-q", "--bare", wd_of(repo), str(tmp_path / "bare.git"))
    bare = GitRepo(str(tmp_path / "bare.git"))
    assert bare.bare and bare.workdir is None
    assert bare.status_changes() == [] and bare.status_changes(untracked=True) == []
    assert bare.is_ignored("build/out.o") is False


def test_a_deleted_file_is_a_local_change_when_no_sparse_checkout_hides_it(repo: GitRepo) -> None:
    wd = Path(wd_of(repo))
    (wd / "docs" / "guide.md").unlink()
    (wd / "src" / "app.py").write_text("changed\n")
    assert repo.status_changes() == ["docs/guide.md", "src/app.py"]
    assert git(wd, "status", "--porcelain").split() == ["D", "docs/guide.md", "M", "src/app.py"]


def test_local_changes_in_an_index_libgit2_cannot_read_are_read_by_git(repo: GitRepo) -> None:
    # A split index (`core.splitIndex`, Git's option for big repositories): libgit2 refuses its "link" extension.
    # Git's own status reads it: the edits are seen, not reported as none.
    wd = Path(wd_of(repo))
    git(wd, "config", "core.splitIndex", "true")
    git(wd, "update-index", "--split-index")
    with pytest.raises(pygit2.GitError, match="extension"):
        pygit2.Repository(str(wd)).status()
    (wd / "src" / "app.py").write_text("changed\n")
    (wd / "docs" / "guide.md").unlink()
    (wd / "notes.txt").write_text("new\n")
    assert repo.status_changes() == ["docs/guide.md", "src/app.py"]
    assert repo.status_changes(untracked=True) == ["docs/guide.md", "notes.txt", "src/app.py"]


def test_an_index_neither_libgit2_nor_git_can_read_is_an_error_not_no_changes(repo: GitRepo) -> None:
    wd = Path(wd_of(repo))
    index = wd / ".git" / "index"
    index.write_bytes(b"DIRC" + b"\xff" * 64)  # a torn index: its header and checksum are garbage
    with pytest.raises(errors.GitbenchError, match=r"while reading the local changes \(git status: .*index"):
        repo.status_changes()
