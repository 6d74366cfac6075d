"""What a command did in its Draft's worktree, made into steps on the Draft: Git's own view of the folder.

* The worktree's link to the repository (its ``.git`` file) and its HEAD are checked first and put back if the
  job changed them; our own Git calls name the worktree explicitly, so they never follow a planted link.
* The command's own commits (an agent that commits, such as aider) are kept, with their messages, authors and
  dates, each given gitbench's audit trailers (they are not published yet, so rewriting them is fine). A change
  in them that the job may not make is taken back out of the commit and reported.
* What is left uncommitted becomes one gitbench step, as for any command: Git's ``status`` says what changed
  (modes, symlinks, deletions, any byte-string name; ignored files never count), the paths the job may change
  are staged, the others refused and left in the folder for the user to look at.

A job may change a path when it is inside its scope (``--files``) and is not: a nested repository, a symlink
that leads out of the worktree, a special file, a file over 100 MiB, or a file ``[job] copy`` put there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import field

from gitbench import faults, trailers
from gitbench.git import worktrees as wt
from gitbench.git.objects import Entry, Mode
from gitbench.lazy_dataclass import dataclass
from gitbench.model import JobRecord
from gitbench.scope import Scope
from gitbench.services import jobs
from gitbench.services.workbench import Workbench

MAX_FILE_BYTES = 100 * 1024 * 1024


@dataclass
class Captured:
    """What capture made of a job's worktree: its commits on the Draft, the paths they change, what was refused."""

    commits: list[str] = field(default_factory=list)  # the job's new commits on the Draft, oldest first
    files: list[str] = field(default_factory=list)  # every path they change
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: str | None = None  # the Draft's head afterwards
    taken_out: list[bytes] = field(default_factory=list)  # paths taken back out of the job's own commits
    clean: bool = False  # Git's status of the worktree showed nothing at all: its folder holds its Draft exactly


def name(path: bytes) -> str:
    return os.fsdecode(path)


def repair_link(wb: Workbench, linked: wt.Linked, ref: str, out: Captured) -> str | None:
    """Put the worktree's ``.git`` file and HEAD back as gitbench made them. Returns the commit the worktree's
    HEAD was on when that was another branch or a detached commit (the job's work may be there)."""
    dot = os.path.join(linked.path, ".git")
    try:
        with open(dot, "rb") as fh:
            ok = fh.read() == linked.git_file() and not os.path.islink(dot)
    except OSError:
        ok = False
    if not ok:
        if os.path.isdir(dot) and not os.path.islink(dot):
            import shutil

            shutil.rmtree(dot, ignore_errors=True)
        elif os.path.lexists(dot):
            os.unlink(dot)
        with open(dot, "wb") as fh:
            fh.write(linked.git_file())
        out.refused.append((".git", "the job replaced the worktree's link to its repository (put back)"))
    other: str | None = None
    want = f"ref: {ref}"
    if linked.head != want:
        if linked.branch is None:
            other = linked.head if wb.git.exists(linked.head) else None
        elif linked.branch is not None:
            other = wb.git.ref(linked.branch)
        where = "a detached commit" if linked.branch is None else linked.branch
        out.notes.append(
            f"The job left its worktree on {where}; it was put back on its Draft"
            + (", and the commits made there were taken onto it." if other else ".")
        )
        # Until those commits are on the Draft, HEAD stays on them (detached), so Git's status compares the
        # folder with them; ``attach`` puts it back on the Draft.
        _write_head(linked, other if other else want)
    return other


def _write_head(linked: wt.Linked, value: str) -> None:
    wt.write_head(linked, value)


def _refusal(
    wb: Workbench, scope: Scope, path: str, entry: Entry | None, copied: set[bytes], new_gitlink: bool
) -> str | None:
    """Why a committed change may not be kept (None: it may)."""
    if os.fsencode(path) in copied:
        return "copied into the worktree by [job] copy; never part of the Draft"
    if not scope.allows(path):
        return "outside the job's scope (--files)"
    if entry is None:
        return None
    oid, mode = entry
    if mode == Mode.GITLINK and new_gitlink:
        return "a nested Git repository"
    if mode == Mode.SYMLINK and wt.leaves(os.fsencode(path), wb.git.blob(oid)):
        return f"symlink pointing outside the Workbench ({os.fsdecode(wb.git.blob(oid))})"
    if mode.is_file and wb.git.blob_size(oid) > MAX_FILE_BYTES:
        return f"too large (the limit is {MAX_FILE_BYTES} bytes)"
    return None


def keep_commits(
    wb: Workbench,
    job: JobRecord,
    linked: wt.Linked,
    known: str,
    tip: str,
    scope: Scope,
    copied: set[bytes],
    who: tuple[str, str],
    out: Captured,
    scratch: str,
    more: int = 0,
) -> str:
    """Give the job's own commits (``known..tip``) their trailers, taking out changes it may not make; the new
    tip. A history that no longer starts at ``known`` (the job rewrote or dropped steps) becomes one step with the
    tree the job left, on top of ``known``, so no earlier step is lost."""
    if tip == known:
        return known
    if not wb.git.is_ancestor(known, tip):
        out.notes.append(
            "The job rewrote the Draft's history; what its commits left is kept as one step on top "
            "of the earlier steps (none of them is lost)."
        )
        commits = [(tip, [known])]  # its tree, its message and author, on top of the earlier steps
    else:
        commits = [(c.oid, list(c.parents)) for c in wb.git.commits_between(known, tip)]
    mapping = {known: known}
    new_tip = known
    total = len(commits) + more  # ``more``: the step that what is left uncommitted will make
    # Paths taken out of an earlier commit stay out of every later one (a later commit carries them along even
    # when it does not touch them): each is held at the Draft's version from before the job's commits.
    held: dict[bytes, Entry | None] = {}
    for i, (oid, parents) in enumerate(commits, 1):
        info = wb.git.commit(oid)
        new_parents = [mapping.get(p, p) for p in parents] or [known]
        first_old = wb.git.commit(parents[0]).tree if parents else wb.git.commit(known).tree
        files = []
        refused_here: list[bytes] = []
        for change in wb.git.diff_trees(first_old, info.tree):
            path = change.path
            why = _refusal(wb, scope, path, change.new, copied, change.old is None or change.old.mode != Mode.GITLINK)
            if why is None:
                if os.fsencode(path) not in held:
                    files.append(path)
                continue
            out.refused.append((path, why + f" (in the commit {oid[:12]}: taken out of it)"))
            out.taken_out.append(os.fsencode(path))
            if os.fsencode(path) not in held:
                refused_here.append(os.fsencode(path))
        if refused_here:
            before = wt.tree_entries(wb.git.gitdir, wb.git.commit(known).tree, refused_here)
            held.update({p: before.get(p) for p in refused_here})
        tree = info.tree if not held else wt.edit_tree(wb.git.gitdir, info.tree, held, scratch)
        step = f"{job.steps_completed + i}/{job.steps_completed + total} commit"
        message = trailers.append(
            info.message, jobs.step_trailers(job, step, sorted(files), "complete", model=who[0], agent=who[1])
        )
        new = wb.git.rewrite_commit(oid, tree, new_parents, message)
        mapping[oid] = new
        new_tip = new
        out.files.extend(files)
        out.commits.append(new)
    return new_tip


def submodules(wb: Workbench, tree: str) -> set[bytes]:
    """The submodules of ``tree``: the paths ``.gitmodules`` names that are gitlinks there (read from those two
    places only, never by walking the tree)."""
    entry = wb.git.tree_entry(tree, ".gitmodules")
    if entry is None or entry.mode == Mode.SYMLINK:
        return set()
    try:
        text = wb.git.blob(entry.oid).decode("utf-8", "surrogateescape")
    except (KeyError, ValueError):
        return set()
    out: set[bytes] = set()
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "path":
            path = value.strip().strip('"').strip("/")
            found = wb.git.tree_entry(tree, path) if path else None
            if found is not None and found.mode == Mode.GITLINK:
                out.add(os.fsencode(path))
    return out


def _submodule_of(path: bytes, subs: set[bytes]) -> bytes | None:
    return next((s for s in subs if path == s or path.startswith(s + b"/")), None)


def submodule_reason(sub: bytes, gitlink: bool) -> str:
    """Why a change at or inside a submodule is not taken, and how to make it."""
    name_ = os.fsdecode(sub)
    what = (
        f"the commit the Git submodule {name_} points at: a job changes it only in a commit of its own (git commit)"
        if gitlink
        else f"inside the Git submodule {name_}: gitbench does not manage a submodule's files (left in the worktree)"
    )
    return (
        f"{what}. To change the submodule, commit inside it in your checkout (cd {name_} && git add -A && git commit), "
        f"then record its new commit in the Workbench (git add {name_} && git commit)"
    )


def submodule_writes(linked: wt.Linked, subs: set[bytes]) -> list[tuple[bytes, str]]:
    """Files written into a submodule's folder: Git does not show them (a submodule's folder is another
    repository; in a job's worktree it is never checked out, so anything there is the job's)."""
    root = os.fsencode(linked.path)
    out: list[tuple[bytes, str]] = []
    for sub in sorted(subs):
        folder = os.path.join(root, sub)
        if os.path.isdir(folder) and not os.path.islink(folder) and any(os.scandir(folder)):
            out.append((sub + b"/", submodule_reason(sub, False)))
    return out


def classify(
    wb: Workbench,
    linked: wt.Linked,
    changes: list[wt.Change],
    scope: Scope,
    copied: set[bytes],
    subs: set[bytes] | None = None,
) -> tuple[list[bytes], list[tuple[bytes, str]]]:
    """Uncommitted changes: the paths to stage, and the refused ones with the reason."""
    allowed: list[bytes] = []
    refused: list[tuple[bytes, str]] = []
    root = os.fsencode(linked.path)
    for ch in changes:
        path = ch.path.rstrip(b"/")
        if path in copied:
            continue
        sub = _submodule_of(path, subs or set())
        if sub is not None:
            refused.append((path, submodule_reason(sub, path == sub)))
            continue
        if ch.folder:
            refused.append((ch.path, "a nested Git repository (its files are left in the worktree)"))
            continue
        text = name(path)
        if not scope.allows(text):
            refused.append((path, "outside the job's scope (--files)"))
            continue
        full = os.path.join(root, path)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            allowed.append(path)  # deleted
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(full)
            if wt.leaves(path, target):
                refused.append((path, f"symlink pointing outside the Workbench ({os.fsdecode(target)})"))
                continue
        elif stat.S_ISDIR(st.st_mode):
            refused.append((ch.path, "a nested Git repository (its files are left in the worktree)"))
            continue
        elif not stat.S_ISREG(st.st_mode):
            refused.append((path, "not a regular file (a pipe, socket or device)"))
            continue
        elif st.st_size > MAX_FILE_BYTES:
            refused.append((path, f"too large ({st.st_size} bytes; the limit is {MAX_FILE_BYTES})"))
            continue
        allowed.append(path)
    return allowed, refused


def hidden_writes(linked: wt.Linked) -> list[tuple[bytes, str]]:
    """Writes at the paths of symlinks that were kept out of the worktree: Git does not show them (the index
    marks those paths skip-worktree), so they are looked at one by one."""
    paths = wt.hidden(linked)
    root = os.fsencode(linked.path)
    return [
        (p, "written at the path of a symlink that points outside the Draft (kept out of its worktree)")
        for p in paths
        if os.path.lexists(os.path.join(root, p))
    ]


def capture(
    wb: Workbench,
    job: JobRecord,
    linked: wt.Linked,
    scope: Scope,
    copied: set[bytes],
    subject: str,
    status: str,
    step_name: str,
    who: tuple[str, str],
) -> Captured:
    """Everything the job did in ``linked``, as commits on its Draft (compare-and-swap on the Draft ref)."""
    out = Captured()
    ref = job.draft
    known = job.head or job.base
    other = repair_link(wb, linked, ref, out)
    branch_tip = wb.git.ref(ref)
    if branch_tip is None:
        from gitbench.services import drafts

        raise drafts.corrupt(wb, job.id, "its branch disappeared during the job")
    tip = other or branch_tip
    changes = wt.status(linked)
    subs = submodules(wb, wb.git.commit(tip).tree)
    allowed, refused = classify(wb, linked, changes, scope, copied, subs)
    refused += hidden_writes(linked)
    refused += [w for w in submodule_writes(linked, subs) if not any(r[0].rstrip(b"/") == w[0][:-1] for r in refused)]
    scratch = wb.layout.txn_scratch(f"capture-{job.id}")
    new_tip = keep_commits(wb, job, linked, known, tip, scope, copied, who, out, scratch, 1 if allowed else 0)
    if new_tip != branch_tip:
        wb.git.set_ref(ref, new_tip, branch_tip, "gitbench: the job's commits")
    if other is not None:
        _write_head(linked, f"ref: {ref}")
    faults.point("capture.after-commits")
    # The worktree's HEAD is the Draft again, at new_tip. Changes taken out of the job's commits are still in
    # its folder: the index says the Draft's version, so they show as uncommitted changes, left there.
    wt.unstage(linked, new_tip, out.taken_out)
    wt.unstage(linked, new_tip, [p.rstrip(b"/") for p, _ in refused])
    wt.stage(linked, allowed)
    tree = _tree_after(wb, linked, new_tip, allowed)
    out.refused += [(name(p), why) for p, why in refused if not any(r[0] == name(p) for r in out.refused)]
    head = new_tip
    if out.refused and status == "complete":
        status = f"partial (refused {len(out.refused)} paths)"
    if tree != wb.git.commit(new_tip).tree:
        paths = [c.path for c in wb.git.diff_trees(wb.git.commit(new_tip).tree, tree)]
        step_no = job.steps_completed + len(out.commits) + 1
        pairs = jobs.step_trailers(job, f"{step_no}/{step_no} {step_name}", paths, status, model=who[0], agent=who[1])
        message = trailers.build_message(subject, "", pairs)
        head = wb.git.create_commit(tree, [new_tip], message)
        faults.point("step.before-ref")
        wb.git.set_ref(ref, head, new_tip, f"gitbench step {step_no}")
        faults.point("step.after-ref")
        out.commits.append(head)
        out.files.extend(paths)
    out.head = head
    out.files = sorted(set(out.files))
    out.clean = not changes and other is None and not out.refused and head == branch_tip
    return out


def _tree_after(wb: Workbench, linked: wt.Linked, head: str, staged: list[bytes]) -> str:
    """The tree of ``head`` with the entries Git just staged at these paths (none: deleted), built in memory: the
    cost follows the change, not the repository (``git write-tree`` would expand a sparse index). A name that is not
    UTF-8 is left to Git's own write-tree."""
    if not staged:
        return wb.git.commit(head).tree
    try:
        paths = [p.decode("utf-8") for p in staged]
    except UnicodeDecodeError:
        return wt.write_tree(linked)
    entries = wt.index_entries(linked, staged)
    changes = {path: entries.get(raw) for raw, path in zip(staged, paths, strict=True)}
    return wb.git.tree_with_changes(wb.git.commit(head).tree, changes)
