"""Job reports and the list of jobs, read from the records ref (so Restore takes them back in time too)."""

from __future__ import annotations

from typing import Any

from gitbench import errors
from gitbench.services import drafts
from gitbench.services import jobs as job_service
from gitbench.services.workbench import Workbench


def report(wb: Workbench, job_id: str | None = None) -> dict[str, Any]:
    """The stored report of a job (default: the last one); for a running job, its report as of now."""
    if job_id is None:
        found = drafts.all_jobs(wb)
        if not found:
            raise errors.UsageError(
                "There are no jobs yet, so there is no report.",
                [
                    errors.Action(
                        "Start one", "ask", (errors.Placeholder('"..."'), "--files", errors.Placeholder("'GLOB'"))
                    )
                ],
            )
        job_id = found[-1].id
    job = drafts.require_job(wb, job_id)
    stored = wb.records.read(f"reports/{job.id}.json")
    data = job_service.report(job)  # the record is the newest word (a publish or discard after the report)
    if isinstance(stored, dict):
        data = {**stored, **{k: data[k] for k in ("status", "next_actions")}}
    return data


def jobs(wb: Workbench) -> list[dict[str, Any]]:
    return [
        {
            "job": j.id,
            "kind": j.kind,
            "status": j.status,
            "created": j.created,
            "updated": j.updated,
            "models": j.models or [j.shown_model],
            "steps": j.steps_completed,
            "files": len(j.files_changed),
            "class": (j.error or {}).get("class"),
            "draft": j.draft,
            "checkpoint": j.checkpoint,
        }
        for j in drafts.all_jobs(wb)
    ]
