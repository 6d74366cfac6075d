"""``gitbench gc``: bounded storage. Remove what the retention policy (``[gc]`` in the config) does not keep,
then let Git drop the objects nothing reaches any more.

What goes: auto and pre-restore checkpoints older than ``keep_auto_days`` that are not among the newest
``keep_auto_last`` of them; trash and worktree-leftover refs older than ``trash_days``; logs older than
``logs_days``; the folders of jobs that ended (their Draft published or discarded); worktrees whose Draft is
gone (as ``gitbench recover`` removes them, what they held kept first).

What never goes: Published and every other branch, open Drafts and their worktrees, the records
(``refs/gitbench/records`` is never rewritten), publish, init and manual checkpoints (and any kind gitbench does
not know), the newest checkpoint, a checkpoint a job on an open Draft was started from, anything a running job
uses (gc refuses to run while one does), and any object something still reaches: Git decides that, from every
ref, reflog and index that stays.

Safe to interrupt: refs go in one Git transaction, each only if it still holds the value the plan read; files
and folders go one by one; Git's gc is crash-safe by itself. A journal entry lets the next command clear the
lock files a kill left behind; running ``gitbench gc`` again finishes the work.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Literal

from gitbench import clock, errors, trailers
from gitbench.git import maintenance
from gitbench.git import worktrees as wt
from gitbench.model import CHECKPOINT_PREFIX, DRAFT_PREFIX, LEFTOVERS_PREFIX, TRASH_PREFIX, JobRecord, Storage
from gitbench.providers.config import GcSettings
from gitbench.services.workbench import Workbench
from gitbench.store import running, storage

DAY = 86400.0
ALWAYS_KEPT = ("init", "publish", "manual")  # and any kind gitbench does not know
AGED = ("auto", "pre-restore")
# Unreachable objects younger than this stay: a Git command running beside gc (the user's own in the checkout,
# an agent's in a Draft's worktree) may have written objects it has not referenced yet.
PRUNE_GRACE = 3600.0


@dataclass
class GoneCheckpoint:
    name: str  # as `gitbench checkpoints` and `restore` name it: the ref without refs/tags/
    kind: str
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


@dataclass
class GcReport:
    """What gc removes (``dry_run``: would remove), and the space that frees."""

    dry_run: bool
    policy: GcSettings
    now: float
    checkpoints: list[GoneCheckpoint] = field(default_factory=list)
    kept_checkpoints: int = 0
    refs: list[GoneRef] = field(default_factory=list)
    files: list[GoneFile] = field(default_factory=list)
    objects: int = 0  # objects only the removed refs reach (an estimate: see maintenance.only_reached)
    objects_bytes: int = 0
    files_bytes: int = 0  # the logs and folders listed: exact
    estimate_bytes: int = 0  # files_bytes + objects_bytes
    running: list[str] = field(default_factory=list)  # jobs running now: gc refuses until they end
    git_gc: bool = True  # Git's own gc runs (or would run) after the removals
    notes: list[str] = field(default_factory=list)
    before: Storage | None = None  # a real run: .git measured before and after
    after: Storage | None = None
    freed_bytes: int | None = None  # a real run: measured, the folders outside .git included


def settings(wb: Workbench) -> GcSettings:
    """The retention policy: ``[gc]`` of the user's config and the Workbench's (docs/concepts.md#retention)."""
    from gitbench.providers import config

    return config.load(wb.git.workdir).gc


def trash_days(wb: Workbench) -> float | None:
    """How long discarded Drafts are kept, or None when the config cannot be read (then nothing is deleted on
    the side: a guess could throw away what the user asked to keep longer)."""
    try:
        return settings(wb).trash_days
    except errors.GitbenchError:
        return None


def run(wb: Workbench, dry_run: bool = False) -> GcReport:
    """``gitbench gc``: under the Workbench lock, refused while a job runs. ``dry_run``: only say what would go
    (read-only, no lock needed)."""
    if dry_run:
        wb.recover_if_idle()
        report = plan(wb)
        if report.running:
            report.notes.append(f"Job {', '.join(report.running)} is running: `gitbench gc` waits until no job runs.")
        return report
    with wb.changing("gc"):
        live = sorted(running.live(wb.layout.running))
        if live:
            raise errors.Busy(
                f"Job {', '.join(live)} is running; gc removes nothing while a job runs (it could still need "
                "what gc would remove). Nothing was changed.",
                [
                    errors.Action("See what runs", "gitbench status"),
                    errors.Action("Run gc again once it has ended", "gitbench gc"),
                    errors.Action("See what gc would remove", "gitbench gc --dry-run"),
                ],
                {"jobs": live},
            )
        before = storage.measure(wb.git.gitdir, exact=True)
        report, targets = _plan(wb)
        outside = sum(f.bytes for f in report.files if not _inside(f.path, wb.git.gitdir))
        wb.journal.write({"op": "gc", "id": wb.new_id(), "time": report.now})
        try:
            _remove(wb, report, targets)
        finally:
            wb.journal.clear()  # a kill leaves it: the next command clears the lock files the kill left
        report.dry_run = False
        report.before, report.after = before, storage.measure(wb.git.gitdir, exact=True)
        report.freed_bytes = before.git_bytes - report.after.git_bytes + outside
    from gitbench.store.logs import Log

    Log(wb.layout.logs).event(
        "gc",
        checkpoints=len(report.checkpoints),
        refs=len(report.refs),
        files=len(report.files),
        freed=report.freed_bytes,
        git_gc=report.git_gc,
    )
    return report


def plan(wb: Workbench, policy: GcSettings | None = None) -> GcReport:
    """What the policy removes now; nothing is changed."""
    return _plan(wb, policy)[0]


def _plan(wb: Workbench, policy: GcSettings | None = None) -> tuple[GcReport, dict[str, str]]:
    """The plan, and the value of every ref when it was made (what the removal compares and swaps against)."""
    policy = policy or settings(wb)
    now = clock.now()
    report = GcReport(dry_run=True, policy=policy, now=now)
    from gitbench.services import drafts

    jobs = {j.id: j for j in drafts.all_jobs(wb)}
    live = running.live(wb.layout.running)
    report.running = sorted(live)
    open_drafts = set(wb.draft_refs())
    targets = wb.git.ref_targets("refs/")

    entries = _checkpoints(wb, targets)
    needed = _needed_checkpoints(jobs, open_drafts, live)
    gone, kept = _apply_policy(entries, policy, now, needed)
    report.checkpoints = [GoneCheckpoint(e.name, e.kind, e.date, e.commit, e.job) for e in gone]
    report.kept_checkpoints = len(kept)
    report.refs = _aged_refs(wb, targets, now - policy.trash_days * DAY)
    report.files = _logs(wb, now - policy.logs_days * DAY) + _job_folders(
        wb, jobs, open_drafts, live, now - policy.logs_days * DAY
    )
    report.files_bytes = sum(f.bytes for f in report.files)

    removed = {"refs/tags/" + c.name for c in report.checkpoints}
    removed |= {r.ref for r in report.refs}
    tips = [targets[r] for r in sorted(removed) if r in targets]
    stay = [oid for name, oid in targets.items() if name not in removed]
    stay += _detached_heads(wb)
    report.objects, report.objects_bytes = maintenance.only_reached(wb.git.gitdir, tips, stay)
    report.estimate_bytes = report.files_bytes + report.objects_bytes
    _safety(wb, report, kept, targets, stay)
    return report, targets


# -- checkpoints ----------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    name: str
    ref: str
    kind: str
    date: float
    commit: str | None
    records: str | None
    job: str | None


def _checkpoints(wb: Workbench, targets: dict[str, str]) -> list[_Entry]:
    """Every checkpoint, its kind and date read from its tag (never from its name: names change shape)."""
    out = []
    for ref in targets:
        if not ref.startswith(CHECKPOINT_PREFIX):
            continue
        info = wb.git.tag_message(ref)
        name = ref[len("refs/tags/") :]
        if info is None:  # a lightweight tag: not made by gitbench, so not gitbench's to remove
            out.append(_Entry(name, ref, "unknown", 0.0, wb.git.ref(ref), None, None))
            continue
        message, commit, date = info
        t = trailers.parse(message)
        records = t.get("Gitbench-Records")
        out.append(
            _Entry(
                name,
                ref,
                t.get("Gitbench-Checkpoint-Kind", "unknown"),
                float(date),
                commit,
                None if records in (None, "none") else records,
                t.get("Gitbench-Job"),
            )
        )
    return out


def _needed_checkpoints(jobs: dict[str, JobRecord], open_drafts: set[str], live: dict[str, Any]) -> set[str]:
    """Checkpoints (refs) that a job on an open Draft, or a running one, was started from: its way back."""
    out = set()
    for job in jobs.values():
        if job.checkpoint and (job.draft in open_drafts or job.id in live):
            out.add(CHECKPOINT_PREFIX + job.checkpoint.removeprefix("refs/tags/").removeprefix("checkpoint/"))
    return out


def _order(e: _Entry) -> tuple[float, list[Any]]:
    """Newest last: by date, then by name with its numbers compared as numbers (``checkpoint/9`` before ``10``)."""
    return e.date, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", e.name)]


def _apply_policy(
    entries: list[_Entry], policy: GcSettings, now: float, needed: set[str]
) -> tuple[list[_Entry], list[_Entry]]:
    """(checkpoints that go, checkpoints that stay), each oldest first."""
    entries = sorted(entries, key=_order)
    aged = [e for e in entries if e.kind in AGED]
    newest_aged = {e.ref for e in aged[len(aged) - policy.keep_auto_last :]} if policy.keep_auto_last else set()
    newest = entries[-1].ref if entries else None
    limit = now - policy.keep_auto_days * DAY
    gone: list[_Entry] = []
    kept: list[_Entry] = []
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


def _aged_refs(wb: Workbench, targets: dict[str, str], limit: float) -> list[GoneRef]:
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


def _logs(wb: Workbench, limit: float) -> list[GoneFile]:
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


def _job_folders(
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
    changed = os.path.join(wb.layout.root, "changed-by-jobs")
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
    sessions = os.path.join(wb.layout.root, "sessions")  # an agent's hooks' session files (integrations/core.py)
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
    from gitbench.providers import config
    from gitbench.services import worktrees

    try:
        return worktrees.home(wb, config.load(wb.git.workdir).job.worktrees)
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


def _inside(path: str, folder: str) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder).rstrip("/") + "/")


def _detached_heads(wb: Workbench) -> list[str]:
    """Commits a worktree has checked out without a branch (Git's gc keeps them too)."""
    heads = [wt.read_head(wb.git.gitdir) or ""] + [lk.head for lk in wt.linked(wb.git.gitdir)]
    return [h for h in heads if re.fullmatch(r"[0-9a-f]{40}", h)]


def _safety(wb: Workbench, report: GcReport, kept: list[_Entry], targets: dict[str, str], stay: list[str]) -> None:
    """Git's gc drops what no ref reaches. Before letting it run, make sure that loses nothing gitbench needs:
    refs that cannot be read (a broken Draft ref: its commits would look unreachable) and records commits of kept
    checkpoints that the records chain no longer reaches (it was rewritten outside gitbench)."""
    broken = [r for r in wb.git.refs("refs/") if r not in targets and wb.git.ref_raw(r) is None]
    if broken:
        report.git_gc = False
        report.notes.append(
            f"Git's gc was not run: {', '.join(broken[:5])} cannot be read, so what only it reaches would look "
            "unreachable. `gitbench status` says what to do about it; then run `gitbench gc` again."
        )
    records = sorted({e.records for e in kept if e.records and wb.git.exists(e.records)})
    lost = maintenance.unreached(wb.git.gitdir, records, stay)
    if lost:
        names = [e.name for e in kept if e.records in lost]
        report.git_gc = False
        report.notes.append(
            f"Git's gc was not run: the records of {', '.join(names[:5])}{' ...' if len(names) > 5 else ''} "
            f"({', '.join(c[:12] for c in lost[:3])}) are no longer on refs/gitbench/records (rewritten outside "
            "gitbench?), so Git would delete them and those checkpoints could not bring their records back. "
            f"Keep them on a ref, e.g. `git update-ref refs/gitbench/kept-records/1 {lost[0]}`, then run "
            "`gitbench gc` again."
        )


# -- removing -------------------------------------------------------------------------------------------------


def _remove(wb: Workbench, report: GcReport, targets: dict[str, str]) -> None:
    refs = ["refs/tags/" + c.name for c in report.checkpoints]
    refs += [r.ref for r in report.refs]
    try:
        # Each only if it still holds what the plan read: under the lock only plain Git could have moved it.
        maintenance.delete_refs(wb.git.gitdir, [(r, targets[r]) for r in refs if r in targets])
    except maintenance.GitFailed as exc:
        from gitbench.services.worktrees import git_error

        raise git_error(exc, "deleting the refs gc removes (none was deleted)") from exc
    from gitbench.services import worktrees

    for f in report.files:
        if f.kind == "worktree" and not os.path.basename(f.path).startswith(wt.GONE):
            continue  # the worktrees of gone Drafts go through recover's repair: what they hold is kept first
        if os.path.isdir(f.path) and not os.path.islink(f.path):
            shutil.rmtree(f.path, ignore_errors=True)
        else:
            try:
                os.unlink(f.path)
            except FileNotFoundError:
                pass
    report.notes += worktrees.repair(wb)
    if report.git_gc:
        try:
            maintenance.collect(wb.git.gitdir, report.now - PRUNE_GRACE)
        except maintenance.GcRunning as exc:
            report.git_gc = False
            report.notes.append(
                f"Git's own gc is running on this repository already ({exc}); it drops the unreachable objects "
                "itself. If the space is not freed, run `gitbench gc` again once it has finished."
            )
        except maintenance.GitFailed as exc:
            from gitbench.services.worktrees import git_error

            raise git_error(exc, "running Git's gc (the refs and files listed are removed already)") from exc
