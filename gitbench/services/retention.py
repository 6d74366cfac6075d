"""The retention policy: what ``gitbench gc`` may let go now, read from the Workbench without changing it.

``[gc]`` in the config (docs/concepts.md#retention-what-gitbench-gc-keeps): auto and pre-restore checkpoints
older than ``keep_auto_days`` and not among the newest ``keep_auto_last`` of them; trash and worktree-leftover
refs older than ``trash_days``; logs not written for ``logs_days``; what jobs that ended left behind. A
checkpoint is judged by the kind and date in its tag, never by its name (names change shape).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from gitbench import errors, trailers
from gitbench.git import worktrees as wt
from gitbench.lazy_dataclass import dataclass
from gitbench.model import CHECKPOINT_PREFIX, DRAFT_PREFIX, LEFTOVERS_PREFIX, TRASH_PREFIX, CheckpointKind, JobRecord
from gitbench.providers import sections
from gitbench.providers.sections import GcSettings
from gitbench.services.workbench import Workbench
from gitbench.store import running, storage

DAY = 86400.0
# the kinds the policy ages out; init, publish, manual and unknown ones stay
AGED = (CheckpointKind.AUTO, CheckpointKind.PRE_RESTORE)


@dataclass
class GoneCheckpoint:
    name: str  # as `gitbench checkpoints` and `restore` name it: the ref without refs/tags/
    kind: CheckpointKind
    date: float
    commit: str | None
    job: str | None = None


@dataclass
class GoneRef:
    ref: str
    kind: Literal["trash", "leftovers"]
    date: float
    label: str


@dataclass
class GoneFile:
    path: str
    kind: Literal["log", "job-folder", "worktree"]
    what: str  # why it can go, for people
    date: float  # its last change
    bytes: int


def settings(wb: Workbench) -> GcSettings:
    """The retention policy: ``[gc]`` of the user's config and the Workbench's (docs/concepts.md#retention)."""
    return sections.gc(wb.git.workdir)


# -- checkpoints ----------------------------------------------------------------------------------------------


@dataclass
class Entry:
    name: str
    ref: str
    kind: CheckpointKind
    date: float
    commit: str | None
    records: str | None
    job: str | None


def checkpoints(wb: Workbench, targets: dict[str, str]) -> list[Entry]:
    """Every checkpoint, its kind and date read from its tag (never from its name: names change shape)."""
    out = []
    for ref in targets:
        if not ref.startswith(CHECKPOINT_PREFIX):
            continue
        info = wb.git.tag_message(ref)
        name = ref[len("refs/tags/") :]
        if info is None:  # a lightweight tag: not made by gitbench, so not gitbench's to remove
            out.append(Entry(name, ref, CheckpointKind.UNKNOWN, 0.0, wb.git.ref(ref), None, None))
            continue
        message, commit, date = info
        t = trailers.parse(message)
        records = t.get("Gitbench-Records")
        out.append(
            Entry(
                name,
                ref,
                CheckpointKind(t.get("Gitbench-Checkpoint-Kind", CheckpointKind.UNKNOWN)),
                float(date),
                commit,
                None if records in (None, "none") else records,
                t.get("Gitbench-Job"),
            )
        )
    return out


def needed_checkpoints(jobs: dict[str, JobRecord], open_drafts: set[str], live: dict[str, Any]) -> set[str]:
    """Checkpoints (refs) that a job on an open Draft, or a running one, was started from: its way back."""
    out = set()
    for job in jobs.values():
        if job.checkpoint and (job.draft in open_drafts or job.id in live):
            out.add(CHECKPOINT_PREFIX + job.checkpoint.removeprefix("refs/tags/").removeprefix("checkpoint/"))
    return out


def _order(e: Entry) -> tuple[float, list[Any]]:
    """Newest last: by date, then by name with its numbers compared as numbers (``checkpoint/9`` before ``10``)."""
    return e.date, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", e.name)]


def apply_policy(
    entries: list[Entry], policy: GcSettings, now: float, needed: set[str]
) -> tuple[list[Entry], list[Entry]]:
    """(checkpoints that go, checkpoints that stay), each oldest first."""
    entries = sorted(entries, key=_order)
    aged = [e for e in entries if e.kind in AGED]
    newest_aged = {e.ref for e in aged[len(aged) - policy.keep_auto_last :]} if policy.keep_auto_last else set()
    newest = entries[-1].ref if entries else None
    limit = now - policy.keep_auto_days * DAY
    gone: list[Entry] = []
    kept: list[Entry] = []
    for e in entries:
        keep = (
            e.kind not in AGED
            or e.date >= limit
            or e.ref in newest_aged
            or e.ref == newest  # there is always a checkpoint to go back to
            or e.ref in needed
        )
        (kept if keep else gone).append(e)
    return gone, kept


# -- trash, logs, folders -------------------------------------------------------------------------------------


def aged_refs(wb: Workbench, targets: dict[str, str], limit: float) -> list[GoneRef]:
    """Trash and leftovers refs (``<prefix><unix time>/<label>``) made before ``limit``."""
    out = []
    kinds: list[tuple[str, Literal["trash", "leftovers"]]] = [(TRASH_PREFIX, "trash"), (LEFTOVERS_PREFIX, "leftovers")]
    for prefix, kind in kinds:
        for ref in sorted(targets):
            if not ref.startswith(prefix):
                continue
            stamp, _, label = ref[len(prefix) :].partition("/")
            if stamp.isdigit() and int(stamp) < limit:
                out.append(GoneRef(ref, kind, float(stamp), label))
    return sorted(out, key=lambda r: (r.date, r.ref))


def logs(wb: Workbench, limit: float) -> list[GoneFile]:
    """Log files (the daily operation logs, crash logs, the checks' output) last written before ``limit``."""
    out = []
    for folder in (wb.layout.logs, wb.layout.checks):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_file(follow_symlinks=False) and st.st_mtime < limit:
                out.append(GoneFile(entry.path, "log", "log", st.st_mtime, storage.folder_size(entry.path)))
    return out


def job_folders(
    wb: Workbench, jobs: dict[str, JobRecord], open_drafts: set[str], live: dict[str, Any], limit: float
) -> list[GoneFile]:
    """Folders of jobs that ended and that nothing will use again."""
    out: list[GoneFile] = []

    def add(path: str, kind: Literal["job-folder", "worktree"], what: str) -> None:
        try:
            date = os.lstat(path).st_mtime
        except OSError:
            return
        out.append(GoneFile(path, kind, what, date, storage.folder_size(path)))

    def ended(job_id: str) -> bool:
        """The job is not running and its Draft is gone (published or discarded): no resume can need it."""
        job = jobs.get(job_id)
        return job_id not in live and (job is None or job.draft not in open_drafts)

    # What a job's command changed in the Workbench's Git settings, kept for the user to look at: as long as
    # the logs, and while its Draft is open.
    changed = wb.layout.changed_by_jobs
    for name in _names(changed):
        path = os.path.join(changed, name)
        if ended(name) and _mtime(path) < limit:
            add(path, "job-folder", "what a job's command changed in the Git settings (.git/gitbench/changed-by-jobs)")
    # Scratch of operations: with no operation under way (gc holds the lock, the journal is settled), unused.
    if wb.journal.read() is None:
        for name in _names(wb.layout.txn):
            add(os.path.join(wb.layout.txn, name), "job-folder", "scratch of a finished operation")
    for path in running.stray_locks(wb.layout.running):
        add(path, "job-folder", "the lock file of a job that ended, left without its marker")
    sessions = wb.layout.sessions  # an agent's hooks' session files (integrations/core.py)
    for name in _names(sessions):
        path = os.path.join(sessions, name)
        if _mtime(path) < limit and _session_over(path, open_drafts):
            add(path, "job-folder", "the file of an agent session that ended (its agent is gone, its Draft too)")
    labels = {r[len(DRAFT_PREFIX) :] for r in open_drafts}
    for name in _names(wb.layout.worktrees):  # job folders inside .git, from before Draft worktrees
        if name not in labels:
            add(wb.layout.worktree(name), "job-folder", "the folder of a Draft that no longer exists")
    home = _home(wb)
    if home is not None:
        for name in _names(home):
            path = os.path.join(home, name)
            if name.endswith(".modules") and ended(name[: -len(".modules")]):
                add(path, "job-folder", f"the module folders of workflow job {name[: -len('.modules')]}, ended")
            elif name.startswith(wt.GONE):
                add(path, "worktree", "a removed worktree's folder that an interruption left half deleted")
    from gitbench.services import worktrees

    for orphan in worktrees.orphans(wb):
        lk = orphan.linked
        if orphan.why == "missing":
            what = "the entry of a Draft worktree whose folder is gone"
            out.append(GoneFile(lk.admin, "worktree", what, _mtime(lk.admin), storage.folder_size(lk.admin)))
        else:
            what = (
                "the worktree of a check whose process is gone"
                if orphan.why == "check"
                else f"the worktree of the Draft {lk.branch}, which no longer exists (what it holds that is not in "
                "the Draft is kept under refs/gitbench/leftovers first)"
            )
            add(lk.path, "worktree", what)
    return out


def _session_over(path: str, open_drafts: set[str]) -> bool:
    """An agent session whose agent is gone and whose Draft is gone: a resumed session would start afresh."""
    import json

    from gitbench.integrations.core import session_alive

    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return True  # unreadable: the hooks cannot use it either
    return not isinstance(data, dict) or (data.get("draft") not in open_drafts and not session_alive(data))


def _home(wb: Workbench) -> str | None:
    from gitbench.services import worktrees

    try:
        return worktrees.home(wb, sections.job(wb.git.workdir).worktrees)
    except errors.GitbenchError:
        return None


def _names(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0
