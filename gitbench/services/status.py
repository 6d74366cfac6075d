"""Status: Published, the open Draft, the last job, reminders — and a running operation, if any."""

from __future__ import annotations

from gitbench import errors, trailers
from gitbench.model import JobRecord, Published, Status
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
    info = wb.git.commit(head)
    cp = checkpoints.latest(wb)
    published = Published(branch=wb.branch, ref=wb.published_ref, commit=head,
                          subject=trailers.subject(info.message), date=float(info.time),
                          checkpoint=cp.name if cp and cp.commit == head else None)
    ref = drafts.only_draft(wb)
    draft = None
    reminders: list[str] = []
    if ref is not None:
        try:
            draft = drafts.info(wb, ref)
            if draft.reminder:
                reminders.append(draft.reminder)
        except errors.DraftCorrupt as exc:
            reminders.append(exc.message + " Run `gitbench discard` or restore a checkpoint.")
        except errors.FileIOError as exc:  # unreadable records: say so, status must still work
            reminders.append(exc.message)
    local = wb.git.status_changes() if wb.files_checked_out() else []
    if not wb.git.bare and not wb.files_checked_out():
        reminders.append(f"The checked-out folder is not on Published ({wb.branch}); "
                         "gitbench moves the branch but leaves these files alone.")
    try:
        job = last_job(wb)
    except errors.FileIOError as exc:
        job = None
        if exc.message not in reminders:
            reminders.append(exc.message)
    return Status(workbench=wb.root, bare=wb.git.bare, published=published, draft=draft,
                  last_job=job, reminders=reminders, busy=wb.busy(),
                  recovered=list(wb.recovered), local_changes=local)
