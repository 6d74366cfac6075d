"""A Draft's worktree: where it lives, how a job gets one, and how it goes away without losing work.

Each Draft that a command works on has a real linked Git worktree on its Draft branch, made when a job first
needs it, used again by ``resume`` and by later jobs that continue the Draft, listed by ``status``, and
removed by publish and discard. It lives outside the Workbench's ``.git`` and outside its checked-out folder
(docs/concepts.md says where and why): by default ``$XDG_STATE_HOME/gitbench/worktrees/<name>-<id>/<label>``
(``~/.local/state/...``), or under ``[job] worktrees`` in the user's config, or ``$GITBENCH_WORKTREES``.

Removing a worktree never loses work: what is in its folder and not on the Draft (an interrupted job's
writes, changes a job was refused) is first kept as a commit under ``refs/gitbench/trash/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from gitbench import clock, errors, faults
from gitbench.git import worktrees as wt
from gitbench.lazy_dataclass import dataclass
from gitbench.model import DRAFT_PREFIX, LEFTOVERS_PREFIX
from gitbench.scope import Scope
from gitbench.services.workbench import Workbench


def default_base() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "gitbench", "worktrees")


def home(wb: Workbench, base: str | None = None) -> str:
    """The folder holding this Workbench's Draft worktrees: one per Workbench under the base folder, named
    after the project and a hash of where its repository is (two projects called ``app`` never meet)."""
    base = os.path.abspath(base or default_base())
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", os.path.basename(wb.root.rstrip("/")) or "workbench").strip("-.")
    import hashlib  # here: only a job's worktree folder needs a digest (~1.4 ms to import OpenSSL's)

    digest = hashlib.sha256(os.path.realpath(wb.git.gitdir).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    folder = os.path.join(base, f"{name or 'workbench'}-{digest}")
    _check_outside(wb, folder)
    return folder


def _check_outside(wb: Workbench, folder: str) -> None:
    real = os.path.realpath(folder)
    for inside, what in ((wb.git.gitdir, "its .git folder"), (wb.git.workdir, "its checked-out folder")):
        if inside and (real + "/").startswith(os.path.realpath(inside).rstrip("/") + "/"):
            raise errors.UsageError(
                f"Draft worktrees cannot go in {folder}: that is inside the Workbench ({what}), where tools that "
                "look for a repository or walk up for their config would find the Workbench instead of the Draft.",
                [
                    errors.Action(
                        "Choose a folder outside the Workbench: [job] worktrees in your config, or GITBENCH_WORKTREES"
                    )
                ],
            )


def modules_folder(wb: Workbench, job_id: str) -> str:
    """Where a workflow job's modules get their input files, each in a folder of its own: beside the Draft
    worktrees, outside the Workbench (a tool that walks up for its config must not find the user's)."""
    from gitbench.providers import sections

    return os.path.join(home(wb, sections.job(wb.git.workdir).worktrees), f"{job_id}.modules")


def folder_for(wb: Workbench, label: str, base: str | None = None) -> str:
    return os.path.join(home(wb, base), label.replace("/", "-"))


def of_draft(wb: Workbench, ref: str) -> wt.Linked | None:
    """The worktree that has the Draft ``ref`` checked out, if there is one."""
    return wt.find(wb.git.gitdir, branch=ref)


def sparse_dirs(scope: Scope) -> list[str] | None:
    """The folders a sparse checkout of ``scope`` needs (None: the scope can reach any folder)."""
    if scope.everything:
        return None
    dirs = []
    for pattern in scope.patterns:
        head = pattern.strip("/")
        cut = min((i for i in (head.find(c) for c in "*?[") if i != -1), default=-1)
        if cut != -1:
            head = head[:cut]
            folder = head.rsplit("/", 1)[0] if "/" in head else ""
        else:  # a plain path: a file (its folder) or a folder (itself)
            folder = head
        if not folder:
            return None  # a top-level glob (``*.py``, ``**``) can reach every folder
        dirs.append(folder)
    return dirs


@dataclass
class Prepared:
    """A Draft's worktree, ready for a job."""

    linked: wt.Linked
    created: bool  # a new worktree (copy and setup ran), or the Draft's existing one
    notes: list[str]


def prepare(
    wb: Workbench, ref: str, scope: Scope, sparse: bool, copy: tuple[str, ...], base: str | None = None
) -> Prepared:
    """The Draft's worktree, made if it has none: checked out (only the scope's folders and the top-level files
    when ``sparse``), symlinks that would lead out of it kept out of the folder, ``copy`` files copied in."""
    label = ref[len(DRAFT_PREFIX) :]
    existing = of_draft(wb, ref)
    notes: list[str] = []
    if existing is not None and existing.present:
        return Prepared(existing, False, notes)
    if existing is not None and os.path.isdir(existing.path):
        # Its folder is there but its link to the repository (the ``.git`` file) is gone (deleted by the agent, or
        # by a tool that cleans folders): the folder still holds the Draft's work, uncommitted files too. Put the
        # link back, never make the worktree again (that would delete the folder and that work with it).
        dot = os.path.join(existing.path, ".git")
        if not os.path.lexists(dot):
            try:
                with open(dot, "wb") as fh:
                    fh.write(existing.git_file())
            except OSError as exc:
                raise errors.file_error(exc, f"putting back the link of the Draft's worktree in {dot}") from exc
            notes.append(
                f"The worktree of the Draft {label} ({existing.path}) had lost its .git file; it was put back "
                "(its files are as they were)."
            )
        return Prepared(existing, False, notes)
    if existing is not None:  # its folder was deleted or moved: drop the stale entry, make it again
        wt.remove(wb.git.gitdir, existing)
        notes.append(f"The worktree of the Draft {label} was gone ({existing.path}); it was made again.")
    folder = folder_for(wb, label, base)
    if os.path.lexists(folder):
        folder = _free(folder)
    dirs = sparse_dirs(scope) if sparse else None
    try:
        linked = wt.add(wb.git.gitdir, folder, ref, sparse_dirs=dirs)
    except wt.GitFailed as exc:
        raise git_error(exc, f"making the Draft's worktree in {folder}") from exc
    except OSError as exc:
        raise errors.file_error(exc, f"making the Draft's worktree in {folder}") from exc
    faults.point("worktree.after-add")
    hidden = wt.escaping_links(linked)
    wt.hide(linked, hidden)
    if hidden:
        notes.append(
            "Symlinks that point outside the Draft were left out of its worktree (a write through them "
            "would change files elsewhere): " + ", ".join(os.fsdecode(p) for p in hidden[:10]) + "."
        )
    notes += copy_files(wb, linked, copy)
    return Prepared(linked, True, notes)


@contextmanager
def scratch(wb: Workbench, commit: str, name: str, settings: Any) -> Iterator[wt.Linked]:
    """A throw-away worktree of ``commit`` (detached: no branch), prepared as a job's would be (symlinks out of
    it kept out, ``[job] copy`` files copied in), removed when done."""
    folder = os.path.join(home(wb, settings.worktrees), name)
    if os.path.lexists(folder):
        folder = _free(folder)
    try:
        linked = wt.add(wb.git.gitdir, folder, None, commit=commit)
    except wt.GitFailed as exc:
        raise git_error(exc, f"making a worktree in {folder}") from exc
    try:
        wt.hide(linked, wt.escaping_links(linked))
        copy_files(wb, linked, settings.copy)
        yield linked
    finally:
        wt.remove(wb.git.gitdir, linked)


def command_env(wb: Workbench, linked: wt.Linked, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A command's environment in a worktree: ours, without anything that would point Git elsewhere; Git's
    discovery cannot climb out of the worktree (every folder above it is a ceiling); a sparse worktree's
    settings for Git."""
    env = wt.clean_env()
    above = []
    folder = os.path.dirname(linked.path)
    while True:
        above.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    env["GIT_CEILING_DIRECTORIES"] = os.pathsep.join(above)
    env.update(extra or {})
    if linked.sparse:
        env = wt.with_config(env, wt.SPARSE_CONFIG)
    return env


def _free(folder: str) -> str:
    n = 2
    while os.path.lexists(f"{folder}-{n}"):
        n += 1
    return f"{folder}-{n}"


def copy_files(wb: Workbench, linked: wt.Linked, patterns: tuple[str, ...]) -> list[str]:
    """``[job] copy``: untracked files of the checked-out folder copied into the worktree (never captured)."""
    if not patterns or not wb.git.workdir:
        return []
    import glob  # here, as below: only `[job] copy` patterns are globbed (~0.3 ms of every job's start-up)

    copied, missing = [], []
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(wb.git.workdir, pattern), recursive=True))
        if not found:
            missing.append(pattern)
        for src in found:
            rel = os.path.relpath(src, wb.git.workdir)
            if rel.startswith("..") or rel.split(os.sep)[0] == ".git":
                continue
            dest = os.path.join(linked.path, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dest, follow_symlinks=False)
            copied.append(rel)
    notes = [f"Copied into the worktree (never part of the Draft): {', '.join(copied)}."] if copied else []
    if missing:
        notes.append(f"[job] copy: nothing matches {', '.join(missing)} in {wb.git.workdir}.")
    return notes


def copied_paths(linked: wt.Linked, patterns: tuple[str, ...]) -> set[bytes]:
    """The paths in the worktree that ``[job] copy`` put there (they are never captured)."""
    out: set[bytes] = set()
    if not patterns:
        return out
    import glob

    for pattern in patterns:
        for path in glob.glob(os.path.join(linked.path, pattern), recursive=True):
            rel = os.fsencode(os.path.relpath(path, linked.path))
            if os.path.isdir(path) and not os.path.islink(path):
                for dirpath, _, names in os.walk(path):
                    out |= {os.fsencode(os.path.relpath(os.path.join(dirpath, n), linked.path)) for n in names}
            else:
                out.add(rel)
    return out


def remove(wb: Workbench, ref: str, head: str | None, *, clean: bool = False) -> list[str]:
    """Remove the Draft's worktree (publish, discard). What its folder holds that is not on the Draft is kept
    first, as a commit on top of ``head`` under ``refs/gitbench/leftovers/`` (the notes say where). ``clean``:
    the caller has just seen Git's status of the folder show nothing (a job that changed nothing), so there is
    nothing to keep and Git is not asked again."""
    linked = of_draft(wb, ref) or _by_folder(wb, ref)
    if linked is None:
        return []
    notes = []
    if linked.present and head is not None and linked.branch and wb.git.ref(linked.branch) is None:
        # Its branch is gone already (deleted outside gitbench): Git's status would compare the folder with nothing.
        wt.write_head(linked, head)
    if linked.present and head is not None and not clean:
        kept = keep_leftovers(wb, linked, head, ref[len(DRAFT_PREFIX) :])
        if kept:
            notes.append(
                f"Its worktree held changes that were not in the Draft; they are kept as {kept} "
                f"(`git show --stat {kept}`)."
            )
    faults.point("worktree.before-remove")
    wt.remove(wb.git.gitdir, linked)
    return notes


def _by_folder(wb: Workbench, ref: str) -> wt.Linked | None:
    try:
        return wt.find(wb.git.gitdir, path=folder_for(wb, ref[len(DRAFT_PREFIX) :]))
    except errors.UsageError:
        return None


def keep_leftovers(wb: Workbench, linked: wt.Linked, head: str | None, label: str) -> str | None:
    """If the worktree's folder holds files (not ignored by Git) that differ from ``head`` (None: from what its
    index last held), commit what it holds, on top of ``head``, and keep it under
    ``refs/gitbench/leftovers/<time>/<label>``; that ref, or None when there was nothing to keep.
    Called just before the worktree goes: its own index is used (and spent)."""
    try:
        if head is not None and not wt.status(linked):
            return None  # the usual case, and a cheap one: the folder holds the Draft, nothing more
        base = wb.git.commit(head).tree if head is not None else wt.write_tree(linked)
        wt.in_tree(linked, ["add", "-A", "--sparse"], check=False)  # hidden symlinks stay hidden
        copied = copied_paths(linked, _copy_patterns(wb))  # `[job] copy` files (a .env) are never kept
        tracked = wt.tree_entries(wb.git.gitdir, base, sorted(copied))
        wt.unstage(linked, head or "HEAD", [p for p in copied if p not in tracked])
        tree = wt.write_tree(linked)
    except (wt.GitFailed, OSError, KeyError):
        return None
    if tree == base:
        return None
    from gitbench import trailers

    message = trailers.build_message(f"gitbench: what the worktree of {label} held that was not in the Draft")
    commit = wb.git.create_commit(tree, [head] if head else [], message)
    ref = f"{LEFTOVERS_PREFIX}{int(clock.now())}/{label}"
    wb.git.set_ref(ref, commit, None, "gitbench: worktree leftovers")
    return ref


def _copy_patterns(wb: Workbench) -> tuple[str, ...]:
    from gitbench.providers import sections

    try:
        return sections.job(wb.git.workdir).copy
    except errors.GitbenchError:
        return ()


def sync(wb: Workbench, ref: str, old: str, new: str) -> list[str]:
    """The Draft ``ref`` moved from ``old`` to ``new`` without its worktree (a model's step, a rebase): bring the
    worktree's files and index along, keeping its local changes where they do not meet the move."""
    linked = of_draft(wb, ref)
    if linked is None or not linked.present or old == new:
        return []
    try:
        wt.in_tree(linked, ["read-tree", "-m", "-u", old, new])
        return []
    except wt.GitFailed:
        kept = keep_leftovers(wb, linked, old, ref[len(DRAFT_PREFIX) :])
        wt.in_tree(linked, ["read-tree", "--reset", "-u", new])
        wt.hide(linked, wt.escaping_links(linked))
        return [f"The worktree's own changes met the Draft's new steps; they are kept as {kept}."] if kept else []


@dataclass
class Listed:
    """A Draft's worktree as `status` lists it."""

    label: str
    path: str
    present: bool
    sparse: bool


def listing(wb: Workbench) -> list[Listed]:
    """The Draft worktrees (``status``)."""
    out = []
    for lk in wt.linked(wb.git.gitdir):
        if lk.branch and lk.branch.startswith(DRAFT_PREFIX):
            out.append(Listed(lk.branch[len(DRAFT_PREFIX) :], lk.path, lk.present, lk.sparse))
    return out


@dataclass
class Orphan:
    """A linked worktree nothing uses any more: ``why`` is ``check`` (a check whose process is gone),
    ``missing`` (a Draft worktree's folder was deleted or moved) or ``no-draft`` (its Draft no longer exists)."""

    linked: wt.Linked
    why: Literal["check", "missing", "no-draft"]


def orphans(wb: Workbench) -> list[Orphan]:
    """The worktrees ``repair`` removes (``gitbench recover``, ``gitbench gc``); the user's own are never among
    them."""
    out = []
    drafts = set(wb.draft_refs())
    for lk in wt.linked(wb.git.gitdir):
        branch = lk.branch
        if branch is None and _abandoned_check(lk):
            out.append(Orphan(lk, "check"))
        elif branch is None or not branch.startswith(DRAFT_PREFIX):
            continue  # the user's own worktree: not ours to touch
        elif not lk.present:
            out.append(Orphan(lk, "missing"))
        elif branch not in drafts:
            out.append(Orphan(lk, "no-draft"))
    return out


def repair(wb: Workbench) -> list[str]:
    """``gitbench recover``: worktrees whose folder was deleted or moved, and worktrees of Drafts that are gone."""
    notes = []
    try:
        gone = wt.sweep(home(wb))
    except errors.UsageError:
        gone = []
    if gone:
        notes.append(f"Deleting {len(gone)} folder(s) of removed worktrees that an interruption left behind.")
    drafts = set(wb.draft_refs())
    for orphan in orphans(wb):
        lk = orphan.linked
        if orphan.why == "check":
            wt.remove(wb.git.gitdir, lk)
            notes.append(f"Removed the worktree of a check that was interrupted ({lk.path}).")
            continue
        branch = lk.branch or ""
        label = branch[len(DRAFT_PREFIX) :]
        if orphan.why == "missing":
            wt.remove(wb.git.gitdir, lk)
            notes.append(
                f"Dropped the entry of the Draft worktree {lk.path}, whose folder is gone"
                + ("; the next job on the Draft makes it again." if branch in drafts else ".")
            )
        else:
            kept = keep_leftovers(wb, lk, None, label)
            wt.remove(wb.git.gitdir, lk)
            notes.append(
                f"Removed the worktree of the Draft {label}, which no longer exists"
                + (f"; what it held that was not in the Draft is kept as {kept}." if kept else ".")
            )
    return notes


# A check's worktree: its id, the pid running it. A pattern, compiled at its first use (re's cache): most processes
# that import this module never look for a check's worktree (~0.1 ms of a job's start-up).
CHECK_FOLDER = r"check-\d{8}-\d{6}-[0-9a-f]{4}-(\d+)"


def check_folder(check_id: str) -> str:
    """The name of a check's throw-away worktree (``checks.run``): the pid says whether its check still runs."""
    return f"check-{check_id}-{os.getpid()}"


def _abandoned_check(lk: wt.Linked) -> bool:
    """A check's worktree whose gitbench process is gone (killed while the check ran; the check holds no lock,
    so a running one is told by its pid)."""
    m = re.fullmatch(CHECK_FOLDER, os.path.basename(lk.path))
    if m is None:
        return False
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def git_error(exc: wt.GitFailed, what: str) -> errors.GitbenchError:
    """A git command that failed while ``what``, as an error a user can act on (Git's own words in it)."""
    if errors.says_disk_full(exc.stderr):
        return errors.disk_full(what)
    return errors.FileIOError(f"Git could not finish {what}: {exc.stderr.strip()[:400]}", [errors.RECOVER])
