"""DESIGN.md §2, checked with the real git CLI after every operation (and after every injected crash)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def _refs(cwd: Path, *prefixes: str) -> dict[str, str]:
    """Every ref under ``prefixes``: its name and the object it names."""
    out = _git(cwd, "for-each-ref", "--format=%(refname) %(objectname)", *prefixes)
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if line)  # type: ignore[misc]


@dataclass
class Snapshot:
    """What a test remembers before an operation, to check what the operation may and may not change."""

    published: str
    drafts: dict[str, str]
    checkpoints: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def take(cls, repo: Path, branch: str = "main") -> Snapshot:
        published = _git(repo, "rev-parse", f"refs/heads/{branch}").strip()
        files = {}
        for name in _git(repo, "ls-files", "-z").split("\0"):
            if name and (repo / name).is_file() and not (repo / name).is_symlink():
                files[name] = (repo / name).read_bytes()
        return cls(published, _refs(repo, "refs/heads/gitbench/draft/"), _refs(repo, "refs/tags/checkpoint/"), files)


def published_branch(repo: Path) -> str:
    return _git(repo, "config", "--get", "gitbench.published").strip()


def check_invariants(
    repo: Path, before: Snapshot | None = None, published_may_change: bool = True, allow_local_edits: bool = False
) -> None:
    """Assert the invariants that must hold whenever no gitbench command is running."""
    branch = published_branch(repo)
    # One rev-parse: Published's commit, the git folder, bare or not, and the branch HEAD is on ("HEAD": none).
    published, git_dir, is_bare, head = _git(
        repo,
        "rev-parse",
        f"refs/heads/{branch}",
        "--absolute-git-dir",
        "--is-bare-repository",
        "--symbolic-full-name",
        "HEAD",
    ).splitlines()
    gitdir, bare = Path(git_dir), is_bare == "true"
    # No operation left half-done once a command has run.
    assert not (gitdir / "gitbench" / "journal.json").exists(), "an operation journal was left behind"
    # The repository is sound.
    fsck = subprocess.run(["git", "fsck", "--no-dangling", "--no-progress"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0, f"git fsck failed: {fsck.stdout}{fsck.stderr}"
    # 1. Published changes only through Publish or Restore.
    if before is not None and not published_may_change:
        assert published == before.published, "Published changed"
    # 2. The ref and the checked-out files agree (when HEAD is on Published).
    if not bare and head == f"refs/heads/{branch}" and not allow_local_edits:
        status = _git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
        dirty = "".join(line + "\n" for line in status if not line.startswith("?? "))
        assert dirty == "", f"checked-out files disagree with Published:\n{dirty}"
        leftovers = [line[3:] for line in status if line.startswith("?? ") and ".gitbench-tmp" in line]
        assert not leftovers, f"temp files left in the Workbench: {leftovers}"
    refs = _refs(repo, "refs/tags/checkpoint/", "refs/heads/gitbench/draft/", "refs/gitbench/trash/")
    # 3. A Draft is never lost: every Draft from before still exists, or was published, or is in the trash.
    if before is not None:
        trash = {oid for ref, oid in refs.items() if ref.startswith("refs/gitbench/trash/")}
        for ref, oid in before.drafts.items():
            kept = (refs.get(ref) is not None) or oid in trash or _is_ancestor(repo, oid, published)
            assert kept, f"Draft {ref} ({oid}) was lost"
    # 4. Every checkpoint exists as an annotated tag whose commit and records commit exist. (Each object is read
    # by one `git cat-file --batch` for all of them: a git process per checkpoint made this most of a test's time.)
    checkpoints = {ref: oid for ref, oid in refs.items() if ref.startswith("refs/tags/checkpoint/")}
    must_be_commits: dict[str, str] = {}  # object -> what it is, for the message
    for ref, (kind, data) in zip(checkpoints, cat_objects(repo, list(checkpoints.values())), strict=True):
        assert kind == "tag", f"{ref} is not an annotated tag"
        body = data.decode()
        must_be_commits[body.split("\n", 1)[0].split()[1]] = f"{ref}: its commit"
        for line in body.splitlines():
            if line.startswith("Gitbench-Records: ") and line.split()[1] != "none":
                must_be_commits.setdefault(line.split()[1], f"{ref}: records lost")
    for (oid, what), kind in zip(must_be_commits.items(), _types(repo, list(must_be_commits)), strict=True):
        assert kind == "commit", f"{what} ({oid}) is {kind}, not a commit"
    if before is not None:
        for ref, oid in before.checkpoints.items():
            assert checkpoints.get(ref) == oid, f"checkpoint {ref} was lost or moved"
    # Records parse as JSON.
    records = subprocess.run(
        ["git", "ls-tree", "-r", "refs/gitbench/records"], cwd=repo, capture_output=True, text=True
    )
    blobs = [line.split("\t", 1) for line in records.stdout.splitlines()]
    blobs = [(meta.split()[2], name) for meta, name in blobs if name.endswith(".json")]
    for (_, name), (_, data) in zip(blobs, cat_objects(repo, [oid for oid, _ in blobs]), strict=True):
        try:
            json.loads(data)
        except ValueError as exc:
            raise AssertionError(f"records: {name} is not JSON ({exc})") from exc


def cat_objects(repo: Path, objects: list[str]) -> list[tuple[str, bytes]]:
    """(type, content) of each object, as `git cat-file -t` and `git cat-file TYPE` give them, by one git process."""
    if not objects:
        return []
    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo, input="\n".join(objects).encode() + b"\n", capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out, at = [], 0
    for name in objects:
        end = proc.stdout.index(b"\n", at)
        header = proc.stdout[at:end].decode().split()
        assert header[-1] != "missing", f"{name} is missing"
        size = int(header[2])
        out.append((header[1], proc.stdout[end + 1 : end + 1 + size]))
        at = end + 1 + size + 1  # the content, then a newline
    return out


def _types(repo: Path, objects: list[str]) -> list[str]:
    """Each object's type (``missing`` if there is none), by one `git cat-file --batch-check`."""
    if not objects:
        return []
    proc = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objecttype)"],
        cwd=repo,
        input="\n".join(objects) + "\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split()[-1] for line in proc.stdout.splitlines()]


def _is_ancestor(repo: Path, a: str, b: str) -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=repo).returncode == 0


def outside_untouched(root: Path, before: dict[str, float]) -> None:
    for path, mtime in before.items():
        assert os.path.getmtime(path) == mtime, f"{path} outside the Workbench was touched"


# What gitbench and Git themselves change in .git for a job: objects, the job's refs (its Draft, checkpoints,
# records, trash), reflogs, the Draft worktree's administrative folder, and gitbench's own state.
JOB_OWNED = (
    "objects/",
    "refs/heads/gitbench/",
    "refs/tags/checkpoint/",
    "refs/gitbench/",
    "logs/",
    "worktrees/",
    "gitbench/",
    "packed-refs",
    "ORIG_HEAD",
    "FETCH_HEAD",
)


def fingerprint(repo: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the user's checked-out folder and of its .git (config, hooks, index, info, HEAD...): mode and
    content (a symlink's target), byte for byte, without following symlinks; less what a job legitimately
    changes in .git (JOB_OWNED). Two fingerprints equal: nothing else was touched."""
    out: dict[str, tuple[int, bytes]] = {}
    for dirpath, dirnames, names in os.walk(repo):
        rel_dir = os.path.relpath(dirpath, repo)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if rel_dir.startswith(".git/"):
            inside = rel_dir[len(".git/") :]
            if any(inside.startswith(p) for p in JOB_OWNED if p.endswith("/")):
                dirnames[:] = []
                continue
        for n in dirnames + names:
            p = os.path.join(dirpath, n)
            rel = rel_dir + n
            if rel.startswith(".git/") and rel[len(".git/") :] in JOB_OWNED + tuple(x[:-1] for x in JOB_OWNED):
                continue
            st = os.lstat(p)
            if os.path.islink(p):
                data = os.fsencode(os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    data = fh.read()
            else:
                data = b""
            out[rel] = (st.st_mode, data)
    return out


def assert_same(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]], what: str) -> None:
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"{what} changed: {changed[:20]}"
