"""The audit trail: every step commit gitbench made, with its trailers, on Published and on the Draft."""

from __future__ import annotations

from gitbench import trailers
from gitbench.model import DRAFT_PREFIX, Step
from gitbench.services.workbench import Workbench


def audit_log(wb: Workbench, limit: int = 100) -> list[Step]:
    steps: list[Step] = []
    seen: set[str] = set()
    # Published first: a step already published is labelled with its branch, not with the Draft built on it.
    heads = [(wb.published_ref, wb.branch)] + [(r, r[len(DRAFT_PREFIX) :]) for r in wb.draft_refs()]
    for ref, name in heads:
        head = wb.git.ref(ref)
        if head is None:
            continue
        for c in wb.git.log(head, limit * 4):
            if c.oid in seen:
                continue
            seen.add(c.oid)
            t = trailers.parse(c.message)
            if any(k.startswith("Gitbench-") for k in t):
                steps.append(Step(c.oid, trailers.subject(c.message), float(c.time), t, name))
    steps.sort(key=lambda s: s.date, reverse=True)
    return steps[:limit]
