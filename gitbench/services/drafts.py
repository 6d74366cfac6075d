"""The Draft: finding it, describing it, reminders about its age, and the job records behind it."""

from __future__ import annotations

import json
import os
from typing import Any

from gitbench import clock, errors
from gitbench.model import DRAFT_PREFIX, REMIND_AFTER, STALE_AFTER, DraftInfo, JobRecord, JobStatus
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
        raise errors.UsageError(f"There is no job {job_id}.", [errors.Action("See the jobs", "jobs")])
    return job


def all_jobs(wb: Workbench, draft: str | None = None) -> list[JobRecord]:
    """Every job on the records ref, oldest first; given ``draft``, only the jobs whose steps went on that Draft.
    A record whose text does not hold the Draft's name is not parsed: publish and discard look for the jobs of one
    Draft among every job the Workbench ever ran."""
    marks = (draft.encode(), json.dumps(draft)[1:-1].encode()) if draft is not None else ()  # as UTF-8, or escaped
    out = []
    for name, data in wb.records.documents("jobs"):
        if not name.endswith(".json") or (marks and not any(m in data for m in marks)):
            continue
        job = _job_from(data)
        if job is not None and (draft is None or job.draft == draft):
            out.append(job)
    return sorted(out, key=lambda j: (j.created, j.id))


def _job_from(data: bytes) -> JobRecord | None:
    """A job record from its JSON; None when it cannot be read as one (as ``job_record``)."""
    try:
        loaded = json.loads(data)
        return JobRecord.from_dict(loaded) if isinstance(loaded, dict) else None
    except (ValueError, TypeError):
        return None


def save_job(
    wb: Workbench,
    job: JobRecord,
    report: dict[str, Any] | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """Store the job record (and its report, and ``extra`` records files) in one records commit."""
    from gitbench.model import to_json

    job.updated = clock.now()
    files: dict[str, Any] = {f"jobs/{job.id}.json": to_json(job), **(extra or {})}
    if report is not None:
        files[f"reports/{job.id}.json"] = report
    wb.records.write(files, f"job {job.id}: {note or job.status}")


def only_draft(wb: Workbench) -> str | None:
    """An open Draft's ref, or None: for what any open Draft blocks (file operations, Restore). To act on one
    Draft, use ``require_draft``, which refuses to guess when there are several."""
    refs = wb.draft_refs()
    return refs[0] if refs else None


def label_of(ref: str) -> str:
    return ref[len(DRAFT_PREFIX) :]


def job_of(wb: Workbench, ref: str) -> JobRecord | None:
    """The job that made a Draft. A Draft's label is its job's id, except for labeled attempts (`gitbench try`),
    whose job names the Draft in its record. Jobs that continued the Draft (`ask --on-draft continue`) name it
    too, but did not make it: its base, model and age are its maker's."""
    job = job_record(wb, label_of(ref))
    if job is not None and job.draft == ref and job.continues is None:
        return job
    for j in reversed(all_jobs(wb, ref)):
        if j.continues is None:
            return j
    return job


def jobs_on(wb: Workbench, ref: str) -> list[JobRecord]:
    """Every job whose steps went on this Draft, oldest first: the one that made it, and any that continued it
    (`ask --on-draft continue`)."""
    return all_jobs(wb, ref)


def require_no_draft(wb: Workbench, doing: str) -> None:
    refs = wb.draft_refs()
    if refs:
        labels = ", ".join(label_of(r) for r in refs)
        several = len(refs) > 1
        raise errors.DraftOpen(
            f"{'Drafts are' if several else 'A Draft is'} open ({labels}): {doing} is blocked until you publish or "
            f"discard {'them' if several else 'it'}.",
            [errors.REVIEW, errors.PUBLISH, errors.DISCARD, errors.CANCEL]
            if not several
            else [
                errors.Action("See them", "drafts"),
                errors.Action("Publish one", "publish", ("--draft", label_of(refs[0]))),
                errors.Action("Discard one", "discard", ("--draft", label_of(refs[0]), "--yes")),
                errors.CANCEL,
            ],
            {"draft": label_of(refs[0]), "drafts": [label_of(r) for r in refs]},
        )


# The agent a `gitbench mcp` process serves (its parent): a publish it asks for, and the user approves, is not
# held back by that agent's own session in the Draft (mcp_server.serve sets it).
AGENT: int | None = None


def sessions_kept(wb: Workbench) -> bool:
    """Does any agent session have a file here? Looked at before the sessions' module is imported (~3 ms of
    start-up for publish, discard and every Draft's line in ``status``, in a Workbench no agent hooks ever ran in)."""
    try:
        return bool(os.listdir(wb.layout.sessions))
    except OSError:
        return False


def running_job(wb: Workbench, ref: str) -> dict[str, Any] | None:
    """The marker of a job whose command is running in the Draft ``ref`` right now, if one is; or an agent
    session working in it (its hooks' session file, the agent still running: ``integrations/core.py``)."""
    from gitbench.store import running

    for info in running.live(wb.layout.running).values():
        if info.get("draft") == ref:
            return info
    if not sessions_kept(wb):
        return None
    from gitbench.integrations.core import open_sessions

    for data in open_sessions(wb.git.gitdir, ref):
        job = job_record(wb, str(data.get("job")))
        if job is None or job.status != JobStatus.SESSION:
            continue  # the session ended (its agent may live on: /clear starts another)
        if AGENT is not None and data.get("agent_pid") == AGENT:
            continue  # asked by the session's own agent (through gitbench mcp), with the user's approval
        return {
            "session": data.get("agent"),
            "pid": data.get("agent_pid"),
            "job": data.get("job"),
            "worktree": data.get("worktree"),
        }
    return None


def require_not_running(wb: Workbench, ref: str, doing: str) -> bool:
    """Refuse to change a Draft while a job's command works in it (it would lose or mix that work). As for the
    Workbench lock, wait a little first (``GITBENCH_LOCK_WAIT`` seconds, default 5), letting go of the lock
    meanwhile so the job can record its work; True if we waited (the caller looks at the Draft again)."""
    import time

    info = running_job(wb, ref)
    if info is None:
        return False
    deadline = time.monotonic() + float(os.environ.get("GITBENCH_LOCK_WAIT", "5"))
    with wb.released():
        while info is not None and time.monotonic() < deadline:
            time.sleep(0.1)
            info = running_job(wb, ref)
    info = running_job(wb, ref)
    if info is None:
        return True
    label = label_of(ref)
    if info.get("session"):
        raise errors.Busy(
            f"A {info['session']} session (pid {info.get('pid')}) is still working in the Draft {label} (in "
            f"{info.get('worktree')}), so the Draft cannot be {doing} now: its folder would go from under the agent. "
            "Its turns are recorded as they end.",
            [
                errors.Action("End the session (exit the agent), then run this again"),
                errors.Action("See what it has done so far", "review", ("--draft", label)),
                errors.Action("Or stop the agent", text=f"kill {info.get('pid')}"),
            ],
            {"job": info.get("job"), "draft": label},
        )
    raise errors.Busy(
        f"`gitbench {info.get('operation', 'exec')}` (pid {info.get('pid')}) is running job {info.get('job')} in the "
        f"Draft {label} (in {info.get('worktree')}), so the Draft cannot be {doing} now. The job's work is recorded "
        "when its command ends.",
        [
            errors.Action("Wait for the job to finish, then run this again"),
            errors.Action("See what it has done so far", "review", ("--draft", label)),
            errors.Action("Or stop it: the agent's own exit key where it runs, or", text=f"kill {info.get('pid')}"),
        ],
        {"job": info.get("job"), "draft": label},
    )


# The command each change to a Draft is (``require_idle_draft``'s ``doing``), offered again with --draft LABEL.
_AGAIN: dict[str, tuple[errors.Verb, tuple[str, ...]]] = {
    "published": ("publish", ()),
    "discarded": ("discard", ("--yes",)),
    "rebased": ("rebase", ()),
}


def require_idle_draft(wb: Workbench, label: str | None, doing: str) -> str:
    """``require_draft``, for a change to the Draft: when a job's command is running in it, wait for it as for
    the lock (the Draft is looked at again after: which Drafts are open may have changed meanwhile)."""
    again = _AGAIN.get(doing)
    for _ in range(100):
        ref = require_draft(wb, label, again)
        if not require_not_running(wb, ref, doing):
            return ref
    return require_draft(wb, label, again)


def require_draft(
    wb: Workbench, label: str | None = None, again: tuple[errors.Verb, tuple[str, ...]] | None = None
) -> str:
    """The Draft to act on: the one named, or the only one. Several and none named is an error that lists
    them: gitbench never guesses which Draft to publish or discard. ``again``: the command (verb, its other
    arguments) each Draft's action offers with ``--draft LABEL``; without it, the option alone."""
    if label is not None:
        ref = DRAFT_PREFIX + label.removeprefix(DRAFT_PREFIX)
        if not wb.git.ref_exists(ref):
            open_ = [label_of(r) for r in wb.draft_refs()]
            raise errors.NoDraft(
                f"There is no Draft {label!r}." + (f" Open: {', '.join(open_)}." if open_ else " No Draft is open."),
                [errors.Action("See the Drafts", "drafts")],
            )
        return ref
    refs = wb.draft_refs()
    if not refs:
        raise errors.NoDraft(
            "There is no open Draft.",
            [
                errors.Action("Start a job", "exec", ("--", "COMMAND")),
                errors.Action("Bring back the last discarded Draft", "discard", ("--undo",)),
            ],
        )
    if len(refs) > 1:
        labels = [label_of(r) for r in refs]
        raise errors.DraftAmbiguous(
            f"{len(refs)} Drafts are open ({', '.join(labels)}): say which one with --draft LABEL.",
            [
                errors.Action("See them side by side", "drafts"),
                *[
                    errors.Action(f"This one: {lb}", again[0], ("--draft", lb, *again[1]))
                    if again
                    else errors.Action(f"This one: {lb}", text=f"--draft {lb}")
                    for lb in labels[:5]
                ],
            ],
            {"drafts": labels},
        )
    return refs[0]


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
    label = ref[len(DRAFT_PREFIX) :]
    head = wb.git.ref(ref)
    if head is None or not wb.git.exists(head):
        raise corrupt(wb, label, "its branch does not point at a readable commit")
    job = job_of(wb, ref)
    published = wb.git.ref(wb.published_ref) or ""
    base = job.base if job and wb.git.exists(job.base) else _base_without_record(wb, published, head)
    try:
        chain = wb.git.first_parent_chain(head, base)
        files = len(wb.git.diff_trees(wb.git.commit(base).tree, wb.git.commit(head).tree)) if base else 0
    except (KeyError, ValueError) as exc:
        raise corrupt(wb, label, f"one of its commits cannot be read ({exc})") from exc
    head_time = float(wb.git.commit(head).time)
    created = job.created if job else (float(chain[-1].time) if chain else head_time)
    last = max(head_time, job.updated if job else 0.0)
    now = clock.now()
    draft = DraftInfo(
        label=label,
        ref=ref,
        head=head,
        base=base,
        created=created,
        last_activity=last,
        steps=len(chain),
        files_changed=files,
        job=job.id if job else None,
        model=job.shown_model if job else None,
        status=job.status if job else None,
        base_is_published=base == published,
        tokens=job.usage_actual if job else None,
    )
    draft.stale = now - last >= STALE_AFTER and now >= _kept_until(wb, label)
    draft.reminder = reminder(draft)
    return draft


def reminder(draft: DraftInfo, several: bool = False) -> str | None:
    """The Draft's reminder: stale (idle 7 days, not kept), or open for a day. With ``several`` Drafts open it
    names this one, how long it has been idle, and its commands with ``--draft`` (a bare `gitbench discard`
    would be refused as ambiguous)."""
    now = clock.now()
    which = f" --draft {draft.label}" if several else ""
    if draft.stale:
        idle = f", idle {clock.human_age(now - draft.last_activity)}" if several else ""
        text = (
            f"A stale Draft was found (last modified {clock.iso(draft.last_activity)}{idle}). Discard it? "
            f"[Discard: `gitbench discard{which}` / Keep: `gitbench keep{which}`]"
        )
    elif now - draft.created >= REMIND_AFTER:
        text = (
            f"You have an open Draft from {clock.iso(draft.created)}. Review and publish or discard? "
            f"(`gitbench review{which}`, `gitbench publish{which}`, `gitbench discard{which}`)"
        )
    else:
        return None
    return f"{draft.label}: {text}" if several else text


def _base_without_record(wb: Workbench, published: str, head: str) -> str:
    """Where a Draft whose job record is gone (a Restore took the records back to before it) was made from:
    the checkpoint its last step names (taken from Published just before the job), else the merge base. The
    merge base alone is wrong after a Restore: it is the restored Published itself, and a publish would then
    silently bring back what the Restore took away."""
    from gitbench import trailers
    from gitbench.services import checkpoints

    name = trailers.parse(wb.git.commit(head).message).get("Gitbench-Checkpoint", "")
    if name.startswith("checkpoint/"):
        cp = checkpoints.named(wb, name)
        base = wb.git.merge_base(published, head)
        # The checkpoint is where the Draft started unless the Draft was since put on a later Published (a
        # rebase keeps its steps' trailers): then the merge base is newer than the checkpoint.
        if (
            cp is not None
            and wb.git.exists(cp.commit)
            and wb.git.is_ancestor(cp.commit, head)
            and (base is None or wb.git.is_ancestor(base, cp.commit))
        ):
            return cp.commit
        return base or published
    return wb.git.merge_base(published, head) or published


def corrupt(wb: Workbench, label: str, why: str) -> errors.DraftCorrupt:
    return errors.DraftCorrupt(
        f"The Draft {label} is missing or corrupted: {why}. Publishing is blocked; Published is untouched.",
        [
            errors.Action("Discard the broken Draft", "discard", ("--yes",)),
            errors.Action("Then, if you want to go back further, restore a checkpoint", "checkpoints"),
        ],
        {"draft": label},
    )
