"""add / rm / extract: file operations on Published, blocked while a Draft is open.

``add`` and ``rm`` make one commit on Published (with a ``Gitbench-Operation`` trailer) through the same
journaled transaction as Publish, so they are just as crash-safe. ``extract`` copies files out of Published.
"""

from __future__ import annotations

import os
import stat

from gitbench import errors, trailers
from gitbench.git.objects import Entry, Mode
from gitbench.model import OperationResult
from gitbench.scope import UnsafePath, check_path
from gitbench.services import drafts, transaction
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move, Op


def _rel_inside(wb: Workbench, path: str) -> str | None:
    if wb.git.workdir is None:
        return None
    # Resolve the folders only: a symlink being added is recorded as itself, not under its target's path.
    absolute = os.path.abspath(path)
    full = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
    root = os.path.realpath(wb.git.workdir)
    if full == root or not full.startswith(root + os.sep):
        return None
    return os.path.relpath(full, root).replace(os.sep, "/")


def _read_entry(wb: Workbench, full: str, rel: str) -> Entry:
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        return Entry(wb.git.create_blob(os.fsencode(os.readlink(full))), Mode.SYMLINK)
    # As `git add` stores it at ``rel`` (line endings normalised), a big file streamed rather than read whole.
    return Entry.file(wb.git.create_blob_from_file(full, rel), bool(st.st_mode & 0o100))


def _commit_on_published(wb: Workbench, op: str, changes: dict[str, Entry | None]) -> OperationResult:
    published = wb.published()
    info = wb.git.commit(published)
    tree = wb.git.tree_with_changes(info.tree, changes)
    if tree == info.tree:
        return OperationResult(op, "Nothing to change: Published already holds that.", published=published)
    paths = sorted(changes)
    message = trailers.build_message(
        f"gitbench {op}: {', '.join(paths[:3])}" + (" ..." if len(paths) > 3 else ""),
        "",
        [("Gitbench-Operation", op), ("Gitbench-Files", trailers.format_paths(paths))],
    )
    commit = wb.git.create_commit(tree, [published], message)
    moves, files = transaction.plan(wb, published, commit)
    blocked = transaction.blocked_paths(wb, moves)
    if blocked:
        raise errors.LocalChanges(
            f"Cannot {op}: " + "; ".join(f"{p} ({why})" for p, why in blocked) + ". Nothing was changed.",
            [errors.Action("Commit or set aside your edits", "git stash")],
        )
    entry = Move(Op.FILEOP, wb.new_id(), published, commit, files, kind=op)
    transaction.move_published(wb, entry, moves, op)
    transaction.finish_after_commit(wb, entry, lambda: transaction.done(wb, entry))
    return OperationResult(
        op, f"{op}: {len(paths)} file(s) on Published ({commit[:12]}).", published=commit, data={"files": paths}
    )


def add(wb: Workbench, sources: list[str], to: str = "") -> OperationResult:
    """Put files on Published: files already in the Workbench as they are now, outside files copied in."""
    with wb.changing("add"):
        drafts.require_no_draft(wb, "adding files")
        changes: dict[str, Entry | None] = {}
        for src in sources:
            if not os.path.lexists(src):
                raise errors.UsageError(f"{src} does not exist.")
            if wb.git.workdir and os.path.realpath(src) == os.path.realpath(wb.git.workdir):
                # Not "outside, copy it in": that would copy the whole Workbench into a folder of itself.
                raise errors.UsageError(f"{src} is the Workbench itself; name the files or folders to add.")
            inside = _rel_inside(wb, src)
            pairs: list[tuple[str, str]] = []
            if inside is not None:
                base_rel, base_full = inside, os.path.abspath(src)
            else:
                name = os.path.basename(os.path.abspath(src).rstrip("/"))
                base_rel, base_full = (f"{to.strip('/')}/{name}" if to else name), os.path.abspath(src)
            if os.path.isdir(base_full) and not os.path.islink(base_full):
                for dirpath, dirnames, filenames in os.walk(base_full):
                    dirnames[:] = [d for d in dirnames if d != ".git"]
                    for f in filenames:
                        full = os.path.join(dirpath, f)
                        rel = base_rel + "/" + os.path.relpath(full, base_full).replace(os.sep, "/")
                        # In a folder, ignored files (build output, caches) stay out, as with `git add`; a file
                        # named on its own is added even if ignored, because the user asked for it by name.
                        if inside is not None and wb.git.is_ignored(rel):
                            continue
                        pairs.append((rel, full))
            else:
                pairs.append((base_rel, base_full))
            for rel, full in pairs:
                try:
                    rel = check_path(rel)
                except UnsafePath as exc:
                    raise errors.UsageError(f"Cannot add {rel}: {exc}.") from exc
                changes[rel] = _read_entry(wb, full, rel)
        return _commit_on_published(wb, "add", changes)


def rm(wb: Workbench, paths: list[str]) -> OperationResult:
    with wb.changing("rm"):
        drafts.require_no_draft(wb, "removing files")
        tree = wb.git.commit(wb.published()).tree
        changes: dict[str, Entry | None] = {}
        for p in paths:
            rel = _rel_inside(wb, p) if os.path.isabs(p) else p
            try:
                rel = check_path(rel or p)
            except UnsafePath as exc:
                raise errors.UsageError(f"Cannot remove {p}: {exc}.") from exc
            entry = wb.git.tree_entry(tree, rel)
            if entry is None:
                raise errors.UsageError(f"{rel} is not on Published.", [errors.Action("List files", "git ls-files")])
            if entry.mode == Mode.TREE:
                for sub, _, _ in wb.git.walk_tree(entry.oid, rel + "/"):
                    changes[sub] = None
            else:
                changes[rel] = None
        return _commit_on_published(wb, "rm", changes)


def extract(wb: Workbench, path: str, dest: str, force: bool = False) -> OperationResult:
    """Copy a file or folder of Published out to ``dest``; never overwrite a file there unless ``force``."""
    with wb.changing("extract"):
        drafts.require_no_draft(wb, "extracting files")
        try:
            rel = check_path(path)
        except UnsafePath as exc:
            raise errors.UsageError(f"Cannot extract {path}: {exc}.") from exc
        tree = wb.git.commit(wb.published()).tree
        entry = wb.git.tree_entry(tree, rel)
        if entry is None:
            raise errors.UsageError(f"{rel} is not on Published.")
        if entry.mode == Mode.TREE:
            items = [
                (os.path.join(dest, os.path.relpath(p, rel)), Entry(oid, mode), p)
                for p, oid, mode in wb.git.walk_tree(entry.oid, rel + "/")
            ]
        else:
            target = os.path.join(dest, os.path.basename(rel)) if os.path.isdir(dest) else dest
            items = [(target, entry, rel)]
        clash = [t for t, _, _ in items if os.path.lexists(t)]
        if clash and not force:
            raise errors.UsageError(
                f"Would overwrite {', '.join(clash[:5])}; nothing was written.",
                [errors.Action("Overwrite them", f"gitbench extract {path} {dest} --force")],
            )
        for target, found, source in items:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            if os.path.lexists(target):
                os.unlink(target)
            wb.git.write_entry(target, found, as_path=source)  # as `git checkout` would write it (line endings)
        return OperationResult(
            "extract", f"Extracted {len(items)} file(s) to {dest}.", data={"files": [t for t, _, _ in items]}
        )
