"""``gitbench gc``: bounded storage. Remove what the retention policy (``services/retention.py``) lets go,
then let Git drop the objects nothing reaches any more.

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
from dataclasses import field

from gitbench import clock, errors
from gitbench.git import maintenance
from gitbench.git import worktrees as wt
from gitbench.lazy_dataclass import dataclass
from gitbench.model import Storage
from gitbench.providers.sections import GcSettings
from gitbench.services import retention
from gitbench.services.retention import GoneCheckpoint, GoneFile, GoneRef
from gitbench.services.workbench import Workbench
from gitbench.store import running, storage
from gitbench.store.journal_entries import Gc

# Unreachable objects younger than this stay: a Git command running beside gc (the user's own in the checkout,
# an agent's in a Draft's worktree) may have written objects it has not referenced yet.
PRUNE_GRACE = 3600.0


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
                    errors.Action("See what runs", "status"),
                    errors.Action("Run gc again once it has ended", "gc"),
                    errors.Action("See what gc would remove", "gc", ("--dry-run",)),
                ],
                {"jobs": live},
            )
        before = storage.measure(wb.git.gitdir, exact=True)
        report, targets = _plan(wb)
        outside = sum(f.bytes for f in report.files if not _inside(f.path, wb.git.gitdir))
        wb.journal.write(Gc(wb.new_id(), report.now))
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
    policy = policy or retention.settings(wb)
    now = clock.now()
    report = GcReport(dry_run=True, policy=policy, now=now)
    from gitbench.services import drafts

    jobs = {j.id: j for j in drafts.all_jobs(wb)}
    live = running.live(wb.layout.running)
    report.running = sorted(live)
    open_drafts = set(wb.draft_refs())
    targets = wb.git.ref_targets("refs/")

    entries = retention.checkpoints(wb, targets)
    needed = retention.needed_checkpoints(jobs, open_drafts, live)
    gone, kept = retention.apply_policy(entries, policy, now, needed)
    report.checkpoints = [GoneCheckpoint(e.name, e.kind, e.date, e.commit, e.job) for e in gone]
    report.kept_checkpoints = len(kept)
    report.refs = retention.aged_refs(wb, targets, now - policy.trash_days * retention.DAY)
    report.files = retention.logs(wb, now - policy.logs_days * retention.DAY) + retention.job_folders(
        wb, jobs, open_drafts, live, now - policy.logs_days * retention.DAY
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


def _inside(path: str, folder: str) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder).rstrip("/") + "/")


def _detached_heads(wb: Workbench) -> list[str]:
    """Commits a worktree has checked out without a branch (Git's gc keeps them too)."""
    heads = [wt.read_head(wb.git.gitdir) or ""] + [lk.head for lk in wt.linked(wb.git.gitdir)]
    return [h for h in heads if re.fullmatch(r"[0-9a-f]{40}", h)]


def _safety(
    wb: Workbench, report: GcReport, kept: list[retention.Entry], targets: dict[str, str], stay: list[str]
) -> None:
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
