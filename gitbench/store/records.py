"""Job and conversation records: JSON files on a commit chain at ``refs/gitbench/records``.

The chain only grows: even Restore appends a commit whose tree is the checkpoint's, so every records commit a
checkpoint names stays reachable (and pushable) for as long as the checkpoint exists.

Records made on several clones merge (``Records.merge``): a three-way merge per file against the chains' merge
base, in which nothing is ever lost. A file changed on one side only takes that side; a file changed on both
sides is a union: JSON lines (conversations) keep every line of both, in order; a JSON document (a job record
changed on two machines) keeps the newer one in place and the other under ``conflicts/``; a file deleted on one
side and changed on the other is kept. The caller may name documents this clone keeps as its own (the job records
of a Draft a pull keeps as it is here): a change to one from the other side goes under ``conflicts/``, ours
stays in place. Job ids and conversation names carry a time and random part, so two clones almost never write
the same file; the rules above settle the rare case without asking anyone.

A clone that puts its Published back over another clone's restore (``push --overwrite-published``) shares
``merge_over``: the same merge, less what the restores made on the other side (``restore records to …``: the
records they took back describe what this clone's Published holds) and less the files the caller leaves out.
Both chains are its parents, so nothing of the other side leaves the history.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
from collections.abc import Collection
from typing import Any

from gitbench import errors, faults
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo, RefMoved
from gitbench.model import RECORDS_REF

# Records files that point at something rather than record it: in a merge each clone keeps its own.
POINTERS = frozenset({"chat/current.json"})
# The subject of the commit a Restore appends (``set_tree``), by which ``merge_over`` knows one.
RESTORE_SUBJECT = "restore records to "


class Lines(list[Any]):
    """A records file written as JSON lines (a conversation transcript), one document per line."""


# Attempts of `gitbench try` run in threads, each with its own Records, and each writes its job record: one
# write at a time in the process, so each compare-and-swap starts from the head the last one left.
_WRITES = threading.RLock()


class Records:
    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._lock = _WRITES

    def head(self) -> str | None:
        oid = self.repo.ref(RECORDS_REF)
        if oid is None and self.repo.ref_exists(RECORDS_REF):
            # A garbage ref file: taking it as "no records yet" would start a new chain over the old one.
            raise errors.FileIOError(
                f"The job records ({RECORDS_REF}) cannot be read: its ref file holds no valid commit id. "
                "Nothing was changed.",
                [
                    errors.Action(
                        "Find the records of the newest checkpoint (its Gitbench-Records line)",
                        text="git tag -n9 --sort=-v:refname -l 'checkpoint/*'",
                    ),
                    errors.Action(
                        "Replace the broken ref file (git cannot update it) with that commit",
                        text=f"rm {os.path.join(self.repo.gitdir, *RECORDS_REF.split('/'))} && "
                        f"git update-ref {RECORDS_REF} <commit>",
                    ),
                ],
            )
        return oid

    def tree(self) -> str | None:
        head = self.head()
        return self.repo.commit(head).tree if head else None

    def read(self, path: str, at: str | None = None) -> Any | None:
        head = at or self.head()
        if head is None:
            return None
        entry = self.repo.tree_entry(self.repo.commit(head).tree, path)
        if entry is None:
            return None
        try:
            return json.loads(self.repo.blob(entry.oid))
        except (ValueError, KeyError):
            return None

    def read_lines(self, path: str, at: str | None = None) -> list[Any]:
        """A JSON-lines file: one document per line; unreadable lines are skipped."""
        head = at or self.head()
        if head is None:
            return []
        entry = self.repo.tree_entry(self.repo.commit(head).tree, path)
        if entry is None:
            return []
        out = []
        for line in self.repo.blob(entry.oid).decode("utf-8", "replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def documents(self, folder: str) -> list[tuple[str, bytes]]:
        """Every file below ``folder`` (its path under the folder, its bytes), sorted by path, all from one commit
        of the records (``list`` and then ``read`` of each would look up the ref, the commit and the path again
        for every file)."""
        tree = self.tree()
        if tree is None:
            return []
        entry = self.repo.tree_entry(tree, folder)
        if entry is None:
            return []
        return [(p, self.repo.blob(oid)) for p, oid, _ in sorted(self.repo.walk_tree(entry.oid))]

    def list(self, folder: str) -> list[str]:
        tree = self.tree()
        if tree is None:
            return []
        entry = self.repo.tree_entry(tree, folder)
        if entry is None:
            return []
        return sorted(p for p, _, _ in self.repo.walk_tree(entry.oid))

    def write(self, files: dict[str, Any], message: str) -> str:
        """Commit JSON documents (None deletes; a ``Lines`` list is JSON lines) on top of the records chain;
        compare-and-swap on the ref."""
        with self._lock:
            return self._write(files, message)

    def _write(self, files: dict[str, Any], message: str) -> str:
        old = self.head()
        changes: dict[str, Entry | None] = {}
        for path, doc in files.items():
            if doc is None:
                changes[path] = None
            elif isinstance(doc, Lines):
                data = "".join(json.dumps(d, sort_keys=True) + "\n" for d in doc).encode()
                changes[path] = Entry(self.repo.create_blob(data), Mode.REGULAR)
            else:
                data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
                changes[path] = Entry(self.repo.create_blob(data), Mode.REGULAR)
        base_tree = self.repo.commit(old).tree if old else None
        tree = self.repo.tree_with_changes(base_tree, changes)
        return self._commit(tree, old, message)

    def put(self, blobs: dict[str, str | None], message: str) -> str:
        """Commit files as they are elsewhere in the repository (path: blob id; None deletes) on top of the
        records chain, byte for byte: another clone's version of a record taken over ours."""
        with self._lock:
            old = self.head()
            changes = {path: None if oid is None else Entry(oid, Mode.REGULAR) for path, oid in blobs.items()}
            tree = self.repo.tree_with_changes(self.repo.commit(old).tree if old else None, changes)
            return self._commit(tree, old, message)

    def merge(self, theirs: str, message: str, keep: Collection[str] = ()) -> tuple[str, builtins.list[str]]:
        """Merge another clone's records chain (``theirs``, a commit already in the repository) into ours:
        fast-forward when one contains the other, else a merge commit whose tree is the union described above.
        ``keep``: documents that stay ours (a change from their side goes under ``conflicts/``), so a chain
        that changed one of them is merged, not fast-forwarded. Returns the new head and the files both sides
        had changed, or that their side changed among ``keep`` (kept as described, never lost)."""
        with self._lock:
            ours = self.head()
            if ours is None:
                self.repo.set_ref(RECORDS_REF, theirs, None, message)
                return theirs, []
            if ours == theirs or self.repo.is_ancestor(theirs, ours):
                return ours, []
            ahead = self.repo.is_ancestor(ours, theirs)
            keep = frozenset(keep)
            if ahead and not (keep and self._changes_any(ours, theirs, keep)):
                self.repo.set_ref(RECORDS_REF, theirs, ours, message)
                return theirs, []
            base = ours if ahead else self.repo.merge_base(ours, theirs)
            tree, both = self.union_tree(
                self.repo.commit(base).tree if base else None,
                self.repo.commit(ours).tree,
                self.repo.commit(theirs).tree,
                keep,
            )
            commit = self.repo.create_commit(tree, [ours, theirs], message)
            faults.point("records.before-merge-ref")
            self.repo.set_ref(RECORDS_REF, commit, ours, message.splitlines()[0])
            return commit, both

    def merge_over(
        self, theirs: str, message: str, keep: Collection[str] = (), leave: Collection[str] = ()
    ) -> tuple[str, builtins.list[str]]:
        """The records to share with a Published put back over another clone's restore: ``merge`` of ``theirs``
        (``keep`` as there), less every file whose version there a restore on their side (a commit of theirs, not
        ours, whose subject is ``RESTORE_SUBJECT``) put there, and less ``leave`` (the caller's: their records of
        publishes our Published does not hold); ours stays for those. Always a commit with both as parents when
        ``theirs`` is not in ours, so the server's records stay in the history and move forward there; it is
        not made the records head (``advance`` does, once the server took it). Returns the commit and the files
        whose version there was not taken."""
        with self._lock:
            ours = self.head()
            if ours is None or ours == theirs or self.repo.is_ancestor(theirs, ours):
                return ours or theirs, []
            ahead = self.repo.is_ancestor(ours, theirs)
            base = ours if ahead else self.repo.merge_base(ours, theirs)
            their_tree = self.repo.commit(theirs).tree
            skip = set(leave)
            for commit in self.repo.commits_between(ours, theirs):
                if not commit.message.startswith(RESTORE_SUBJECT) or len(commit.parents) != 1:
                    continue
                for change in self.repo.diff_trees(self.repo.commit(commit.parents[0]).tree, commit.tree):
                    # Only while the restore's version is theirs still: a later change there is theirs to share.
                    if self.repo.tree_entry(their_tree, change.path) == change.new:
                        skip.add(change.path)
            base_tree = self.repo.commit(base).tree if base else None
            dropped = sorted(c.path for c in self.repo.diff_trees(base_tree, their_tree) if c.path in skip)
            tree, both = self.union_tree(
                base_tree, self.repo.commit(ours).tree, their_tree, frozenset(keep), frozenset(skip)
            )
            return self.repo.create_commit(tree, [ours, theirs], message), dropped

    def advance(self, commit: str, old: str | None, message: str) -> None:
        """Make ``commit`` (made by ``merge_over`` from ``old``) the records head; compare-and-swap on ``old``."""
        with self._lock:
            self.repo.set_ref(RECORDS_REF, commit, old, message)

    def _changes_any(self, ours: str, theirs: str, paths: frozenset[str]) -> bool:
        """Does the chain ``theirs`` (which contains ``ours``) change any of ``paths``?"""
        changed = self.repo.diff_trees(self.repo.commit(ours).tree, self.repo.commit(theirs).tree)
        return any(c.path in paths for c in changed)

    def union_tree(
        self,
        base: str | None,
        ours: str,
        theirs: str,
        keep: frozenset[str] = frozenset(),
        skip: frozenset[str] = frozenset(),
    ) -> tuple[str, builtins.list[str]]:
        """Our tree with their changes (since ``base``) applied; files both changed are combined, not lost;
        files in ``keep`` stay ours, a change of theirs to one goes beside it; a change of theirs to a file in
        ``skip`` is not taken (it stays in their history)."""
        mine = {c.path: c for c in self.repo.diff_trees(base, ours)}
        changes: dict[str, Entry | None] = {}
        both: builtins.list[str] = []
        for change in self.repo.diff_trees(base, theirs):
            path, new = change.path, change.new
            if path in skip:
                continue
            if path in keep:
                old_mine = mine[path].new if path in mine else change.old
                if old_mine == new:
                    continue
                both.append(path)
                if new is not None and old_mine is not None:
                    changes.update(self._aside(path, old_mine, new))
                elif old_mine is None:  # ours is gone (never here, or deleted here): theirs is kept, not lost
                    changes[path] = new
                continue  # deleted there: ours stays
            if path not in mine:
                changes[path] = new
                continue
            old_mine = mine[path].new
            if old_mine == new:
                continue
            both.append(path)
            if new is None or old_mine is None:  # deleted on one side, changed on the other: keep the change
                changes[path] = new if new is not None else old_mine
                continue
            changes.update(self._combine(path, change.old, old_mine, new))
        if not changes:
            return ours, both
        return self.repo.tree_with_changes(ours, changes), both

    def _combine(self, path: str, base: Entry | None, ours: Entry, theirs: Entry) -> dict[str, Entry | None]:
        if path in POINTERS:  # which conversation `gitbench ask` continues here: this clone's own choice
            return {path: ours}
        if path.endswith(".jsonl"):
            seen = self.repo.blob(ours.oid).splitlines(keepends=True)
            have = set(seen)
            extra = [line for line in self.repo.blob(theirs.oid).splitlines(keepends=True) if line not in have]
            data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in seen + extra)
            return {path: Entry(self.repo.create_blob(data), Mode.REGULAR)}
        # One document changed on two machines: the newer one stays in place (by its own "updated"/"ended"/
        # "created" time, then by content, so every clone picks the same), the other goes beside it.
        a, b = self._stamp(ours), self._stamp(theirs)
        return self._aside(path, *((ours, theirs) if a >= b else (theirs, ours)))

    @staticmethod
    def _aside(path: str, keep: Entry, other: Entry) -> dict[str, Entry | None]:
        """``keep`` in place, ``other`` beside it under ``conflicts/``."""
        stem, dot, ext = path.rpartition(".")
        aside = f"conflicts/{stem if dot else path}.{other.oid[:8]}{'.' + ext if dot else ''}"
        return {path: keep, aside: other}

    def _stamp(self, entry: Entry) -> tuple[float, str]:
        try:
            doc = json.loads(self.repo.blob(entry.oid))
        except (ValueError, KeyError):
            doc = None
        when = 0.0
        if isinstance(doc, dict):
            for key in ("updated", "ended", "created"):
                value = doc.get(key)
                if isinstance(value, int | float):
                    when = float(value)
                    break
        return when, entry.oid

    def set_tree(self, tree: str, message: str) -> str:
        """Append a commit whose tree is ``tree`` (Restore: the records as they were at a checkpoint; its
        message begins with ``RESTORE_SUBJECT``)."""
        with self._lock:
            return self._commit(tree, self.head(), message)

    def _commit(self, tree: str, old: str | None, message: str) -> str:
        commit = self.repo.create_commit(tree, [old] if old else [], message)
        faults.point("records.before-ref")
        try:
            self.repo.set_ref(RECORDS_REF, commit, old, message.splitlines()[0])
        except RefMoved:
            # Only gitbench writes this ref, under the Workbench lock; a move means an outside writer.
            raise
        return commit
