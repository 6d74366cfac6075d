"""Linked Git worktrees: a Draft's folder is a real worktree of its branch, outside ``.git``.

Git's own behaviour is the point here (what an agent sees with ``git status``, what ``.gitignore`` and the global
excludes ignore, clean filters, modes, symlinks, any byte-string file name), so this module drives the ``git``
CLI. Every call names the worktree explicitly (``GIT_DIR`` and ``GIT_WORK_TREE``): a job that replaces the
folder's ``.git`` file cannot point our own Git calls at another repository. Our calls run no hooks.

A worktree can be *sparse*: a cone-mode sparse checkout with a sparse index (``git sparse-checkout``'s own
format, written by us into the worktree's private ``info/sparse-checkout``). The settings that make Git honour
it are passed in the environment (``GIT_CONFIG_COUNT``), never written into the repository's shared config.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from gitbench import errors
from gitbench.git.objects import Entry, Mode
from gitbench.lazy_dataclass import dataclass
from gitbench.model import GONE as GONE  # a removed worktree's folder, renamed aside while it is deleted

# Variables that point Git at a repository (``git rev-parse --local-env-vars``): never inherited.
LOCAL_ENV = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_QUARANTINE_PATH",
)
SPARSE_CONFIG = (("core.sparseCheckout", "true"), ("core.sparseCheckoutCone", "true"), ("index.sparse", "true"))
# Our own calls: no hooks, no pager, no advice, no automatic maintenance.
OWN = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "gc.auto=0",
    "-c",
    "maintenance.auto=false",
    "-c",
    "advice.updateSparsePath=false",
    "-c",
    "core.quotePath=false",
)


class GitFailed(Exception):
    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])} failed ({code}): {stderr.strip()[:500]}")
        self.code, self.stderr = code, stderr


def clean_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the variables that would point Git at another repository."""
    env = dict(os.environ if base is None else base)
    for key in LOCAL_ENV:
        env.pop(key, None)
    return env


def with_config(env: dict[str, str], pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``env`` plus Git settings through ``GIT_CONFIG_COUNT`` (added to any the caller already passes)."""
    env = dict(env)
    try:
        n = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        n = 0
    for key, value in pairs:
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
        n += 1
    env["GIT_CONFIG_COUNT"] = str(n)
    return env


@dataclass
class Linked:
    """One linked worktree, as its administrative folder ``<common>/worktrees/<id>`` describes it."""

    id: str
    admin: str
    path: str  # the worktree's folder (where its ``.git`` file is)
    head: str  # what HEAD holds: "ref: refs/heads/..." or a commit id

    @property
    def branch(self) -> str | None:
        return self.head[5:].strip() if self.head.startswith("ref: ") else None

    @property
    def present(self) -> bool:
        return os.path.isfile(os.path.join(self.path, ".git"))

    @property
    def sparse(self) -> bool:
        return os.path.isfile(os.path.join(self.admin, "info", "sparse-checkout"))

    def git_file(self) -> bytes:
        """What the folder's ``.git`` file must say to point at this worktree's own administrative folder."""
        return f"gitdir: {self.admin}\n".encode()


def read_head(gitdir: str) -> str | None:
    """What a Git folder's HEAD holds ("ref: refs/heads/main", or a commit id), read, not run."""
    head = _read(os.path.join(gitdir, "HEAD"))
    return head.strip() if head is not None else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError:
        return None


def linked(common: str) -> list[Linked]:
    """Every linked worktree of the repository whose common Git folder is ``common`` (read, not run: cheap)."""
    folder = os.path.join(common, "worktrees")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        admin = os.path.join(folder, name)
        gitdir = _read(os.path.join(admin, "gitdir"))
        head = _read(os.path.join(admin, "HEAD"))
        if gitdir is None or head is None:
            continue
        where = gitdir.strip()
        if not os.path.isabs(where):
            where = os.path.normpath(os.path.join(admin, where))
        out.append(Linked(name, admin, os.path.dirname(where), head.strip()))
    return out


def find(common: str, *, branch: str | None = None, path: str | None = None) -> Linked | None:
    real = os.path.realpath(path) if path else None
    for lk in linked(common):
        if branch is not None and lk.branch == branch:
            return lk
        if real is not None and os.path.realpath(lk.path) == real:
            return lk
    return None


def run(
    args: list[str],
    *,
    git_dir: str | None = None,
    work_tree: str | None = None,
    cwd: str | None = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    sparse: bool = False,
    check: bool = True,
    index_file: str | None = None,
) -> bytes:
    """Run ``git`` for gitbench itself; its stdout. GitFailed (with Git's message) when it fails.
    ``index_file``: the index to use instead of the repository's own (``env`` cannot name one: it is cleaned)."""
    full = clean_env(env)
    if git_dir is not None:
        full["GIT_DIR"] = git_dir
    if work_tree is not None:
        full["GIT_WORK_TREE"] = work_tree
    if index_file is not None:
        full["GIT_INDEX_FILE"] = index_file
    if sparse:
        full = with_config(full, SPARSE_CONFIG)
    import subprocess  # here, not at the top: `status` reads worktrees without running git

    full.setdefault("LC_ALL", "C")
    full["GIT_TERMINAL_PROMPT"] = "0"
    argv = ["git", *OWN, *args]
    try:
        proc = subprocess.run(
            argv, cwd=cwd or work_tree or git_dir, input=input, capture_output=True, env=full, check=False
        )
    except FileNotFoundError as exc:
        raise errors.UsageError(
            "Git is not installed (no `git` on PATH); gitbench's Draft worktrees need it.",
            [errors.Action("Install Git 2.28 or newer")],
        ) from exc
    if check and proc.returncode != 0:
        raise GitFailed(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def in_tree(
    lk: Linked, args: list[str], input: bytes | None = None, check: bool = True, env: dict[str, str] | None = None
) -> bytes:
    """Run ``git`` in the worktree ``lk``, naming it explicitly. A worktree that is not sparse is never sparse,
    even where the repository's shared config says ``core.sparseCheckout=true`` (the user's own checkout is)."""
    if not lk.sparse:
        env = with_config(clean_env(env), (("core.sparseCheckout", "false"),))
    return run(args, git_dir=lk.admin, work_tree=lk.path, input=input, sparse=lk.sparse, check=check, env=env)


def cone(dirs: Iterable[str]) -> str:
    """The cone-mode sparse-checkout file for ``dirs`` (``git sparse-checkout set --cone`` writes the same):
    every top-level file, each folder named and everything below it, and the files of the folders above it."""
    wanted = sorted({d.strip("/") for d in dirs if d.strip("/")})
    lines = ["/*", "!/*/"]
    parents: set[str] = set()
    for d in wanted:
        parts = d.split("/")
        for i in range(1, len(parts)):
            parents.add("/".join(parts[:i]))
    for p in sorted(parents):
        if not any(p == w or p.startswith(w + "/") for w in wanted):
            lines += [f"/{_escape(p)}/", f"!/{_escape(p)}/*/"]
    for d in wanted:
        if not any(d.startswith(w + "/") for w in wanted):
            lines.append(f"/{_escape(d)}/")
    return "\n".join(lines) + "\n"


def _escape(path: str) -> str:
    """As `git sparse-checkout` escapes a folder's name (its ``escaped_pattern``: the glob characters only; a
    cone line starts with ``/`` or ``!/`` and ends with ``/``, so ``#``, ``!`` and spaces need none)."""
    return "".join("\\" + c if c in "*?[\\" else c for c in path)


def add(
    common: str, folder: str, branch: str | None, commit: str | None = None, sparse_dirs: list[str] | None = None
) -> Linked:
    """A new linked worktree at ``folder`` on ``branch`` (or detached at ``commit``), its files checked out;
    only the cone of ``sparse_dirs`` (plus every top-level file) when that is given."""
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    target = ["--detach", str(commit)] if branch is None else [branch[len("refs/heads/") :]]
    run(["worktree", "add", "--quiet", "--no-checkout", folder, *target], git_dir=common, cwd=os.path.dirname(folder))
    lk = find(common, path=folder)
    if lk is None:  # pragma: no cover - git just made it
        raise GitFailed(["worktree", "add"], 0, f"the new worktree {folder} is not listed")
    info = os.path.join(lk.admin, "info")
    if sparse_dirs is not None:
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "sparse-checkout"), "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(cone(sparse_dirs))
    elif os.path.exists(os.path.join(info, "sparse-checkout")):
        # `git worktree add` copies the user's own sparse checkout (a Workbench checked out with `git
        # sparse-checkout set src`): the job would not see the files of its scope outside that cone. A job's
        # worktree holds the Draft's files; only a sparse job worktree of our own (above) leaves some out.
        os.unlink(os.path.join(info, "sparse-checkout"))
    in_tree(lk, ["read-tree", "-m", "-u", "HEAD"])
    return lk


def remove(common: str, lk: Linked) -> None:
    """Remove a worktree: its administrative entry, and its folder. The folder is first renamed aside (one
    rename, so the command that removes it returns at once: deleting 100k files takes seconds), then deleted by
    a process of its own; ``sweep`` finishes what a crash left."""

    folder = lk.path
    if lk.present:
        aside = os.path.join(os.path.dirname(folder), f"{GONE}{os.path.basename(folder)}-{os.getpid()}")
        try:
            os.rename(folder, aside)
            folder = aside
        except OSError:  # another file system or a busy folder: delete it where it is
            pass
    _remove_admin(lk.admin)
    if os.path.isdir(folder):
        _delete_later(folder)


def _remove_admin(admin: str) -> None:
    """Remove a worktree's administrative folder (``.git/worktrees/<name>``), its ``gitdir`` and then its ``HEAD``
    last: a failure part way (an I/O error) leaves an entry Git still reads (``git worktree prune`` and the next
    gitbench command remove it), never one whose HEAD is gone, which `git fsck` reports as broken."""
    import contextlib
    import shutil

    try:
        names = os.listdir(admin)
    except OSError:
        return
    for name in names:
        path = os.path.join(admin, name)
        if name in ("HEAD", "gitdir"):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
    for name in ("gitdir", "HEAD"):
        try:
            os.unlink(os.path.join(admin, name))
        except FileNotFoundError:
            continue
        except OSError:
            return
    with contextlib.suppress(OSError):
        os.rmdir(admin)


def _delete_later(folder: str) -> None:
    """``rm -rf`` in a process of its own that outlives us (started through a shell that leaves at once, so no
    child of ours is left running)."""
    import subprocess

    try:
        subprocess.run(
            ["sh", "-c", 'rm -rf -- "$1" </dev/null >/dev/null 2>&1 &', "sh", folder],
            check=False,
            start_new_session=True,
        )
    except OSError:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def sweep(home: str) -> list[str]:
    """Folders of removed worktrees that a crash left half deleted: delete them."""
    try:
        names = [n for n in os.listdir(home) if n.startswith(GONE)]
    except OSError:
        return []
    for name in names:
        _delete_later(os.path.join(home, name))
    return names


def write_head(lk: Linked, value: str) -> None:
    """Point the worktree's HEAD at a branch (``ref: refs/heads/...``) or a commit, atomically (a crash never
    leaves it empty: Git would call the repository broken)."""
    path = os.path.join(lk.admin, "HEAD")
    tmp = f"{path}.gitbench-{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)
    lk.head = value


def split_z(data: bytes) -> list[bytes]:
    return [p for p in data.split(b"\0") if p]


@dataclass
class Change:
    """One path the worktree's ``git status`` shows: ``xy`` as Git prints it, the path as Git's bytes."""

    xy: str
    path: bytes

    @property
    def folder(self) -> bool:
        return self.path.endswith(b"/")  # an untracked folder Git did not go into: a nested repository


def status(lk: Linked) -> list[Change]:
    """What changed in the worktree against its HEAD (staged or not, new files included, ignored ones not)."""
    out = in_tree(
        lk, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=none"]
    )
    return [Change(item[:2].decode("ascii", "replace"), item[3:]) for item in split_z(out)]


def pathspec_input(paths: Iterable[bytes]) -> bytes:
    return b"".join(p + b"\0" for p in paths)


def stage(lk: Linked, paths: list[bytes]) -> None:
    """``git add -A`` of exactly these paths (literal: no glob in a file name is ever expanded). A path that is
    neither in the folder nor in the index is left out: its deletion is staged already (the command ran ``git rm``
    or ``git mv``), and ``git add`` would refuse the whole list for it ("did not match any files")."""
    root = os.fsencode(lk.path)
    gone = [p for p in paths if not os.path.lexists(os.path.join(root, p.rstrip(b"/")))]
    if gone:
        known = index_entries(lk, gone)
        drop = {p for p in gone if p not in known}
        paths = [p for p in paths if p not in drop]
    if paths:
        in_tree(
            lk,
            ["--literal-pathspecs", "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul"],
            input=pathspec_input(paths),
        )


def unstage(lk: Linked, commit: str, paths: list[bytes]) -> None:
    """Set these paths in the worktree's index back to ``commit``'s (removed if it has none); files untouched."""
    if paths:
        in_tree(
            lk,
            ["--literal-pathspecs", "reset", "-q", "--pathspec-from-file=-", "--pathspec-file-nul", commit],
            input=pathspec_input(paths),
            check=False,
        )


def write_tree(lk: Linked) -> str:
    """The tree the worktree's index describes. (With a sparse index, Git 2.39 expands the whole index for this:
    ~200 ms at 300k files. ``index_entries`` and an in-memory tree are the fast way when the paths are known.)"""
    return in_tree(lk, ["write-tree"]).decode().strip()


def index_entries(lk: Linked, paths: list[bytes]) -> dict[bytes, Entry]:
    """The worktree index's entries at these paths; a path with none is left out. ``--sparse``
    keeps Git from expanding a sparse index to read a few entries."""
    if not paths:
        return {}
    out = in_tree(lk, ["--literal-pathspecs", "ls-files", "--sparse", "-z", "-s", "--", *map(os.fsdecode, paths)])
    found: dict[bytes, Entry] = {}
    for item in split_z(out):
        meta, _, path = item.partition(b"\t")
        mode, oid, _stage = meta.split()
        found[path] = Entry(oid.decode(), Mode.of(int(mode, 8)))
    return found


def edit_tree(common: str, tree: str, entries: dict[bytes, Entry | None], scratch: str) -> str:
    """``tree`` with some paths set or removed (None), written by Git: any byte-string name."""
    index = os.path.join(scratch, "edit-index")
    os.makedirs(scratch, exist_ok=True)
    try:  # a scratch index of its own: never the repository's (the user's staging area)
        run(["read-tree", tree], git_dir=common, index_file=index)
        lines = b"".join(
            (f"{e.mode:o} {e.oid}\t".encode() if e is not None else b"0 " + b"0" * 40 + b"\t") + p + b"\0"
            for p, e in entries.items()
        )
        run(["update-index", "-z", "--index-info"], git_dir=common, index_file=index, input=lines)
        return run(["write-tree"], git_dir=common, index_file=index).decode().strip()
    finally:
        if os.path.exists(index):
            os.unlink(index)


def tree_entries(common: str, tree: str, paths: list[bytes]) -> dict[bytes, Entry]:
    """The entries of ``tree`` at these paths (absent paths are left out); byte-string names."""
    if not paths:
        return {}
    out = run(
        ["--literal-pathspecs", "ls-tree", "-z", "--full-tree", tree, "--", *map(os.fsdecode, paths)], git_dir=common
    )
    found: dict[bytes, Entry] = {}
    for item in split_z(out):
        meta, _, path = item.partition(b"\t")
        mode, _kind, oid = meta.split()
        found[path] = Entry(oid.decode(), Mode.of(int(mode, 8)))
    return found


def escaping_links(lk: Linked) -> list[bytes]:
    """Tracked symlinks of the worktree's HEAD whose target leaves the worktree (absolute, or climbing above
    its top with ``..``): written through, they would change files outside it."""
    found = []
    for mode, oid, path in _index(lk):
        if mode != Mode.SYMLINK:
            continue
        target = (
            os.readlink(os.path.join(lk.path.encode(), path))
            if os.path.islink(os.path.join(lk.path.encode(), path))
            else None
        )
        if target is None:
            target = in_tree(lk, ["cat-file", "blob", oid])
        if leaves(path, target):
            found.append(path)
    return found


SMALL_INDEX = 500  # entries: an index this small is read here, quicker than starting `git ls-files`


def small_index(index: str) -> list[tuple[int, str, bytes]] | None:
    """(mode, oid, path) of every entry of the index file ``index``, read by libgit2 in this process when it has at
    most SMALL_INDEX entries; None for anything else (big, missing, or in a form libgit2 does not read: a split
    index), which Git's own ``ls-files`` lists. A sparse index's folder entries (mode 040000) are returned as
    they are: the caller that needs the files under them asks Git."""
    try:
        with open(index, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return None
    if head[:4] != b"DIRC" or int.from_bytes(head[8:12], "big") > SMALL_INDEX:
        return None
    import pygit2
    from pygit2.ffi import ffi

    class _Index(pygit2.Index):
        # pygit2 sets ``_index`` only once the file is open: without this, a failed open (a split index) makes
        # its ``__del__`` raise, and Python prints "Exception ignored in: ... Index.__del__" on our stderr.
        _index = ffi.NULL

    try:
        return [(int(e.mode), str(e.id), os.fsencode(e.path)) for e in _Index(index)]
    except (pygit2.GitError, ValueError, OSError):
        return None


def _index(lk: Linked) -> list[tuple[int, str, bytes]]:
    """(mode, oid, path) of every entry of the worktree's index. A small one that is not sparse is read by
    libgit2 in this process (``small_index``); anything else is listed by ``git ls-files``, ``--sparse`` so
    that a sparse index is read as it is."""
    if not lk.sparse:
        found = small_index(os.path.join(lk.admin, "index"))
        if found is not None:
            return found
    out = []
    for item in split_z(in_tree(lk, ["ls-files", "--sparse", "-z", "-s"])):
        meta, _, path = item.partition(b"\t")
        mode, oid, _stage = meta.split()
        out.append((int(mode, 8), oid.decode(), path))
    return out


def leaves(path: bytes, target: bytes) -> bool:
    """Does a symlink at ``path`` (relative to the top of its tree) pointing at ``target`` leave that tree?"""
    if target.startswith(b"/"):
        return True
    depth = path.count(b"/")
    for part in target.split(b"/"):
        if part == b"..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (b"", b"."):
            depth += 1
    return False


HIDDEN = "gitbench-hidden"  # in the worktree's administrative folder: the paths kept out of its folder


def hide(lk: Linked, paths: list[bytes]) -> None:
    """Keep these tracked paths out of the folder: skip-worktree in the index, removed from disk, and noted
    (Git's status does not show what is written at a skip-worktree path; capture looks there itself)."""
    with open(os.path.join(lk.admin, HIDDEN), "wb") as fh:
        fh.write(pathspec_input(paths))
    if not paths:
        return
    in_tree(lk, ["update-index", "-z", "--skip-worktree", "--stdin"], input=pathspec_input(paths))
    for p in paths:
        full = os.path.join(lk.path.encode(), p)
        if os.path.islink(full) or os.path.isfile(full):
            os.unlink(full)


def hidden(lk: Linked) -> list[bytes]:
    """The paths ``hide`` kept out of the worktree's folder."""
    try:
        with open(os.path.join(lk.admin, HIDDEN), "rb") as fh:
            return split_z(fh.read())
    except FileNotFoundError:
        return []
