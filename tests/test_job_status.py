"""Job statuses as a ``StrEnum`` (gitbench/model.py): records written by any earlier gitbench load with every
status they can hold, and write back the same strings."""

from __future__ import annotations

import json

import pytest

from gitbench.model import STOPPED, JobRecord, JobStatus, to_json
from gitbench.services import jobs

OLD = ["running", "session", "complete", "no-changes", "paused", "failed", "cancelled", "interrupted", "published",
       "discarded"]  # fmt: skip


def record(status: object, kind: str = "ask") -> dict[str, object]:
    """A job record as an earlier gitbench wrote it (JSON on the records ref)."""
    return {
        "id": "20261203-101010-abcd",
        "kind": kind,
        "status": status,
        "created": 1.0,
        "updated": 2.0,
        "draft": "refs/heads/gitbench/draft/x",
        "base": "0" * 40,
        "checkpoint": "checkpoint/1",
        "no_longer_a_field": True,
    }


@pytest.mark.parametrize("status", OLD)
def test_an_old_record_with_each_status_loads_and_writes_back_the_same_string(status: str) -> None:
    job = JobRecord.from_dict(json.loads(json.dumps(record(status))))
    assert type(job.status) is JobStatus and job.status == status
    assert json.loads(json.dumps(to_json(job)))["status"] == status
    assert f"{job.status}" == status and str(job.status) == status  # as the CLI prints and logs it


def test_every_status_is_one_an_old_record_could_hold() -> None:
    assert sorted(s.value for s in JobStatus) == sorted(OLD)


def test_the_stopped_states_are_those_a_resume_goes_on_from() -> None:
    assert {s for s in JobStatus if s.stopped} == STOPPED == {"failed", "cancelled", "interrupted", "paused"}
    assert jobs.STOPPED is STOPPED


def test_a_status_written_by_a_newer_gitbench_loads_as_itself() -> None:
    job = JobRecord.from_dict(record("queued"))
    assert job.status == "queued" and not job.status.stopped
    assert json.loads(json.dumps(to_json(job)))["status"] == "queued"


@pytest.mark.parametrize(
    ("status", "first"),
    [
        ("paused", "Resume later, from the last completed step (the job is paused)"),
        ("failed", "Retry from the last completed step"),
        ("complete", "Review the Draft"),
    ],
)
def test_the_next_actions_follow_the_status(status: str, first: str) -> None:
    job = JobRecord.from_dict(record(status))
    assert jobs.next_actions(job)[0].label == first
    assert jobs.next_actions(JobRecord.from_dict(record("running"))) == []


@pytest.mark.parametrize(
    ("kind", "status", "review"),
    [
        ("ask", "failed", "Review the partial work (or publish it)"),
        ("ask", "paused", "Review the partial work (or publish it)"),
        ("workflow", "failed", "Review the finished modules (or publish them)"),
        ("workflow", "cancelled", "Review the finished modules (or publish them)"),
    ],
)
def test_reviewing_or_publishing_the_partial_work_is_offered_only_when_a_step_is_on_the_draft(
    kind: str, status: str, review: str
) -> None:
    job = JobRecord.from_dict(record(status, kind))
    assert review not in [a.label for a in jobs.next_actions(job)]  # no step: nothing to review or publish
    job.steps_completed = 1
    assert review in [a.label for a in jobs.next_actions(job)]
