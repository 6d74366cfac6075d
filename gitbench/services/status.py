"""Status: Published, the open Draft, the last job, reminders — and a running operation, if any."""

from __future__ import annotations

from gitbench import errors, trailers
from gitbench.model import DraftInfo, JobRecord, JobStatus, Published, Status, Storage
from gitbench.services import checkpoints, drafts
from gitbench.services.workbench import Workbench


def last_job(wb: Workbench) -> JobRecord | None:
    names = wb.records.list("jobs")
    if not names:
        return None
    return drafts.job_record(wb, sorted(names)[-1].removesuffix(".json"))


def status(wb: Workbench) -> Status:
    wb.recover_if_idle()
    head = wb.published()
    reminders: list[str] = [wb.deferred] if wb.deferred else []
    reminders += _cannot_write(wb) + _disk_full(wb)
    info = wb.git.commit(head)
    cp = checkpoints.newest_of(wb, head, float(info.time))
    published = Published(
        branch=wb.branch,
        ref=wb.published_ref,
        commit=head,
        subject=trailers.subject(info.message),
        date=float(info.time),
        checkpoint=cp.name if cp else None,
    )
    refs = wb.draft_refs()
    ref = refs[0] if refs else None
    infos: list[DraftInfo] = []
    draft_problem = None
    for r in refs:
        which = f" --draft {r.rsplit('/', 1)[-1]}" if len(refs) > 1 else ""
        try:
            d = drafts.info(wb, r)
            infos.append(d)
            text = drafts.reminder(d, several=len(refs) > 1)
            if text:
                reminders.append(text)
        except errors.DraftCorrupt as exc:
            draft_problem = f"{r.rsplit('/', 1)[-1]}: unreadable"
            reminders.append(
                exc.message + f" Run `gitbench discard --yes{which}` (what can be kept goes to the trash)."
            )
        except errors.FileIOError as exc:  # unreadable records: say so, status must still work
            reminders.append(exc.message)
    _worktrees(wb, infos, reminders)
    draft = infos[0] if infos else None
    local = wb.git.status_changes() if wb.files_checked_out() else []
    if not wb.git.bare and not wb.files_checked_out():
        reminders.append(
            f"The checked-out folder is not on Published ({wb.branch}); "
            "gitbench moves the branch but leaves these files alone."
        )
    try:
        job = last_job(wb)
    except errors.FileIOError as exc:
        job = None
        if exc.message not in reminders:
            reminders.append(exc.message)
    if (
        job is not None
        and ref is None
        and job.status
        in (JobStatus.RUNNING, JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED)
        and not wb.git.ref_exists(job.draft)
    ):
        # The seed's "Draft missing": its branch was deleted outside gitbench. Say where its work still is.
        last = wb.git.reflog_last(job.draft) or (job.head if job.head and wb.git.exists(job.head) else None)
        how = (
            f" Its last commit is {last[:12]}: bring it back with `git update-ref {job.draft} {last}`."
            if last
            else " No record of its commits is left; restore a checkpoint if you need to go back."
        )
        reminders.append(f"The Draft of job {job.id} is missing: its branch was deleted outside gitbench.{how}")
    return Status(
        workbench=wb.root,
        bare=wb.git.bare,
        published=published,
        draft=draft,
        last_job=job,
        reminders=reminders,
        busy=wb.busy(),
        recovered=list(wb.recovered),
        local_changes=local,
        draft_problem=draft_problem,
        drafts=infos,
        server=_server(wb, head),
        storage=_storage(wb),
    )


def _cannot_write(wb: Workbench) -> list[str]:
    """gitbench's own folder read-only (a read-only mount, permissions): reads work, changes cannot."""
    import os

    folder = wb.layout.root if os.path.isdir(wb.layout.root) else wb.git.gitdir
    if os.access(folder, os.W_OK):
        return []
    return [
        f"gitbench cannot write in {folder} (read-only): reading works, but every command that changes the "
        "Workbench (a job, publish, discard, checkpoint, restore) will fail until it is writable again."
    ]


def _disk_full(wb: Workbench) -> list[str]:
    """On a (nearly) full disk: where gitbench's space went and what frees it."""
    from gitbench.store import storage

    if not storage.nearly_full(wb.git.gitdir):
        return []
    from gitbench.services import space  # only then: its classes and walks are for a full disk

    text, actions = space.explain(space.measure(wb))
    frees = "; ".join(f"`{a.command}`" for a in actions if a.command)
    return [f"The disk is (nearly) full. {text}" + (f" What frees it: {frees}." if frees else "")]


def _server(wb: Workbench, head: str) -> str | None:
    """Where Published stands against the Git server's, as this clone last saw it (no network: a few refs)."""
    if not wb.git.remote_names():
        return None
    from gitbench.services import remote

    try:
        r = remote.resolve(wb, None)
    except errors.GitbenchError:
        return None
    seen = wb.git.ref(r.published)
    if seen is None and wb.git.ref(r.records) is None:
        return f"{r.name}: not shared yet (`gitbench push` shares this Workbench)"
    if seen is None:
        what = "has no Published yet (`gitbench push`)"
    elif remote.unfollowed(wb, r) is not None:
        what = "its Published was moved back, a restore there (`gitbench pull` follows it)"
    elif seen == head:
        what = "same Published as here"
    elif wb.git.is_ancestor(seen, head):
        what = "your Published is ahead (`gitbench push`, or publish with --remote)"
    elif wb.git.is_ancestor(head, seen):
        what = "has newer publishes (`gitbench pull`)"
    else:
        what = "Published went two ways (`gitbench pull --keep-mine`)"
    records, seen_records = wb.records.head(), wb.git.ref(r.records)
    if (
        records is not None
        and records != seen_records
        and not (seen_records is not None and wb.git.is_ancestor(records, seen_records))
    ):
        what += "; records to push"
    moved = remote.drafts_changed_there(wb, r)
    if moved:
        what += f"; Draft {', '.join(moved)} changed there (`gitbench pull --drafts` follows it)"
    return f"{r.name}: {what}, as last seen"


def _storage(wb: Workbench) -> Storage | None:
    """What .git takes, from the file system alone (a sample of the loose objects): status stays fast."""
    from gitbench.store import storage

    try:
        return storage.measure(wb.git.gitdir)
    except OSError:
        return None


def _worktrees(wb: Workbench, infos: list[DraftInfo], reminders: list[str]) -> None:
    """Each Draft's worktree and the job running in it, if any."""
    if not infos:  # no Draft: nothing to annotate, and the worktree service need not be imported (start-up)
        return
    from gitbench.services import worktrees
    from gitbench.store import running

    by_label = {w.label: w for w in worktrees.listing(wb)}
    live = {info.get("draft"): job for job, info in running.live(wb.layout.running).items()}
    for d in infos:
        w = by_label.get(d.label)
        if w is not None:
            d.worktree, d.worktree_missing = w.path, not w.present
            if not w.present:
                reminders.append(
                    f"The worktree of the Draft {d.label} is gone ({w.path}): `gitbench recover` "
                    "drops its entry; the next job on the Draft makes it again."
                )
        d.running = live.get(d.ref)
        if d.running is None and drafts.sessions_kept(wb):
            from gitbench.integrations.core import open_sessions

            for session in open_sessions(wb.git.gitdir, d.ref):  # an agent working in it through its hooks
                if d.status != "session":
                    continue
                reminders.append(
                    f"A {session.get('agent')} session (pid {session.get('agent_pid')}) works in the Draft {d.label}: "
                    "each turn is a step as it ends; publish or discard it once the session is over."
                )
