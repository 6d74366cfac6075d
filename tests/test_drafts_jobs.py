"""services/drafts.py in-process: the jobs of one Draft are found among every job of the Workbench, whatever
their labels hold, without reading the others as records."""

from __future__ import annotations

from pathlib import Path

from gitbench.model import DRAFT_PREFIX, JobRecord, JobStatus
from gitbench.services import drafts
from gitbench.services.workbench import Workbench


def job(job_id: str, label: str, continues: str | None = None, created: float = 0.0) -> JobRecord:
    ref = DRAFT_PREFIX + label
    return JobRecord(job_id, "exec", JobStatus.COMPLETE, created, created, ref, "0" * 40, None, continues=continues)


def test_the_jobs_on_a_draft_are_its_maker_and_those_that_continued_it_whatever_its_label(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    labels = ["20261203-101010-aaaa", "claude-sonnet", "модель/ü 'q\"", "20261203-101010-aaa"]  # a prefix of the first
    made = [job(f"j{i}", label, created=i) for i, label in enumerate(labels)]
    made.append(job("j9", labels[2], continues=labels[2], created=9))
    for j in made:
        drafts.save_job(wb, j)
    every = drafts.all_jobs(wb)
    assert [j.id for j in every] == ["j0", "j1", "j2", "j3", "j9"]
    for label in labels:
        ref = DRAFT_PREFIX + label
        assert [j.id for j in drafts.jobs_on(wb, ref)] == [j.id for j in every if j.draft == ref]
    assert [j.id for j in drafts.jobs_on(wb, DRAFT_PREFIX + labels[2])] == ["j2", "j9"]
    maker = drafts.job_of(wb, DRAFT_PREFIX + labels[2])
    assert maker is not None and maker.id == "j2"
    assert drafts.jobs_on(wb, DRAFT_PREFIX + "none") == []


def test_a_record_that_cannot_be_read_is_left_out(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    drafts.save_job(wb, job("good", "x"))
    wb.records.write({"jobs/bad.json": ["not", "a", "record", DRAFT_PREFIX + "x"]}, "a broken record")
    assert [j.id for j in drafts.jobs_on(wb, DRAFT_PREFIX + "x")] == ["good"]
    assert [j.id for j in drafts.all_jobs(wb)] == ["good"]
