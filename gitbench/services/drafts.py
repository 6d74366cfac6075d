"""The Draft: finding it, describing it, reminders about its age, and the job records behind it."""

from __future__ import annotations

from typing import Any

from gitbench import clock, errors
from gitbench.model import DRAFT_PREFIX, REMIND_AFTER, STALE_AFTER, DraftInfo, JobRecord
from gitbench.services.workbench import Workbench
from gitbench.store import atomic


def job_record(wb: Workbench, job_id: str) -> JobRecord | None:
    data = wb.records.read(f"jobs/{job_id}.json")
    if not isinstance(data, dict):
        return None
    try:
        return JobRecord.from_dict(data)
    except TypeError:
        return None


def require_job(wb: Workbench, job_id: str) -> JobRecord:
    job = job_record(wb, job_id)
    if job is None:
        raise errors.UsageError(f"There is no job {job_id}.", [errors.Action("See the jobs", "gitbench jobs")])
    return job


def all_jobs(wb: Workbench) -> list[JobRecord]:
    """Every job on the records ref, oldest first."""
    out = []
    for name in wb.records.list("jobs"):
        job = job_record(wb, name[: -len(".json")]) if name.endswith(".json") else None
        if job is not None:
            out.append(job)
    return sorted(out, key=lambda j: (j.created, j.id))


def save_job(wb: Workbench, job: JobRecord, report: dict[str, Any] | None = None, note: str = "",
             extra: dict[str, Any] | None = None) -> None:
    """Store the job record (and its report, and ``extra`` records files) in one records commit."""
    from gitbench.model import to_json

    job.updated = clock.now()
    files: dict[str, Any] = {f"jobs/{job.id}.json": to_json(job), **(extra or {})}
    if report is not None:
        files[f"reports/{job.id}.json"] = report
    wb.records.write(files, f"job {job.id}: {note or job.status}")


def only_draft(wb: Workbench) -> str | None:
    """The open Draft's ref (v1: one at a time), or None."""
    refs = wb.draft_refs()
    return refs[0] if refs else None


def require_no_draft(wb: Workbench, doing: str) -> None:
    ref = only_draft(wb)
    if ref is not None:
        label = ref[len(DRAFT_PREFIX):]
        raise errors.DraftOpen(
            f"A Draft is open ({label}): {doing} is blocked until you publish or discard it.",
            [errors.REVIEW, errors.PUBLISH, errors.DISCARD, errors.CANCEL],
            {"draft": label},
        )


def require_draft(wb: Workbench) -> str:
    ref = only_draft(wb)
    if ref is None:
        raise errors.NoDraft(
            "There is no open Draft.",
            [errors.Action("Start a job", "gitbench exec -- COMMAND"),
             errors.Action("Bring back the last discarded Draft", "gitbench discard --undo")],
        )
    return ref


def _kept_until(wb: Workbench, label: str) -> float:
    state = atomic.read_json(wb.layout.state) or {}
    return float(state.get("kept", {}).get(label, 0))


def keep(wb: Workbench, label: str) -> None:
    """The user answered Keep to the stale-Draft prompt: do not ask again for another 7 days."""
    state = atomic.read_json(wb.layout.state) or {}
    state.setdefault("kept", {})[label] = clock.now() + STALE_AFTER
    atomic.write_json(wb.layout.state, state)


def info(wb: Workbench, ref: str) -> DraftInfo:
    """Describe the Draft; raises DraftCorrupt if its ref or commits cannot be read."""
    label = ref[len(DRAFT_PREFIX):]
    head = wb.git.ref(ref)
    if head is None or not wb.git.exists(head):
        raise corrupt(wb, label, "its branch does not point at a readable commit")
    job = job_record(wb, label)
    published = wb.git.ref(wb.published_ref) or ""
    base = job.base if job and wb.git.exists(job.base) else _merge_base(wb, published, head)
    try:
        chain = wb.git.first_parent_chain(head, base)
        files = len(wb.git.diff_trees(wb.git.commit(base).tree, wb.git.commit(head).tree)) if base else 0
    except (KeyError, ValueError) as exc:
        raise corrupt(wb, label, f"one of its commits cannot be read ({exc})") from exc
    head_time = float(wb.git.commit(head).time)
    created = job.created if job else (float(chain[-1].time) if chain else head_time)
    last = max(head_time, job.updated if job else 0.0)
    now = clock.now()
    draft = DraftInfo(label=label, ref=ref, head=head, base=base, created=created, last_activity=last,
                      steps=len(chain), files_changed=files, job=job.id if job else None)
    if now - last >= STALE_AFTER and now >= _kept_until(wb, label):
        draft.stale = True
        draft.reminder = (f"A stale Draft was found (last modified {clock.iso(last)}). Discard it? "
                          "[Discard: `gitbench discard` / Keep: `gitbench keep`]")
    elif now - created >= REMIND_AFTER:
        draft.reminder = (f"You have an open Draft from {clock.iso(created)}. Review and publish or discard? "
                          "(`gitbench review`, `gitbench publish`, `gitbench discard`)")
    return draft


def _merge_base(wb: Workbench, a: str, b: str) -> str:
    return wb.git.merge_base(a, b) or a


def corrupt(wb: Workbench, label: str, why: str) -> errors.DraftCorrupt:
    return errors.DraftCorrupt(
        f"The Draft {label} is missing or corrupted: {why}. Publishing is blocked; Published is untouched.",
        [errors.Action("Discard the broken Draft", "gitbench discard"),
         errors.Action("Then, if you want to go back further, restore a checkpoint", "gitbench checkpoints")],
        {"draft": label},
    )
