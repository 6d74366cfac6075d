"""Claims: the running set in the engine's state, and what a later process makes of a claim it finds there.

A module joins the running set (``state.running``) before it runs, naming the process that runs it (its pid and
start time). A claim whose process is gone is ``interrupted``: it shows as such until a run (or ``gitbench
workflow resume``) settles it: a module whose step commit is on the Draft finished (it is never run twice); one
without is free to run again, once what its interrupted run left running is stopped.
"""

from __future__ import annotations

import dataclasses
import os

from gitbench import clock, events
from gitbench.events import Progress
from gitbench.services import drafts
from gitbench.services.workbench import Workbench
from gitbench.workflow import state as engine_state
from gitbench.workflow import steps
from gitbench.workflow.state import Claim, ClaimStatus, RunStatus


def current(state: engine_state.EngineState) -> dict[str, Claim]:
    """The running set as it is now: a claim whose process is gone is marked ``interrupted`` (it shows as
    such until `gitbench workflow resume` settles it). A claim waiting for input belongs to no process."""
    out = dict(state.running)
    for mid, claim in state.running.items():
        if claim.status == ClaimStatus.RUNNING and claim.pid and not claim_alive(claim):
            out[mid] = dataclasses.replace(claim, status=ClaimStatus.INTERRUPTED)
    return out


def settle(wb: Workbench, state: engine_state.EngineState, say: Progress) -> list[str]:
    """Claims left by a process that is gone: finished (its step is on the Draft) or free to run again."""
    notes: list[str] = []
    job = drafts.job_record(wb, state.job) if state.job else None
    head = wb.git.ref(job.draft) if job is not None else None
    finished = steps.finished_runs(wb, job, head) if job is not None and head else {}
    for mid, claim in list(state.running.items()):
        if claim.status == ClaimStatus.NEEDS_INPUT:
            continue  # waits for the operator, whoever claimed it
        if claim.pid != os.getpid() and claim_alive(claim):
            continue
        del state.running[mid]
        if job is not None:
            from gitbench.services import worktrees
            from gitbench.workflow.runners import command

            command.stop_orphans(worktrees.modules_folder(wb, job.id), mid)
        if (
            job is not None
            and head
            and claim.commit
            and claim.parent == head
            and claim.run not in finished
            and wb.git.exists(claim.commit)
        ):
            # Its step commit was written, the Draft had not moved yet: finish that move.
            wb.git.set_ref(job.draft, claim.commit, head, f"gitbench workflow: {mid} (resumed)")
            head = claim.commit
            finished[str(claim.run)] = head
        if claim.run is not None and claim.run in finished:
            # what the claim said, as the last run (its process and parent too, as the record always had them),
            # counted as the run after the one before it: the next run's id counts on (an id already on the Draft
            # would be taken for finished)
            before = state.last_run.get(mid)
            state.last_run[mid] = engine_state.LastRun.from_json(
                {
                    **claim.to_json(),
                    "status": RunStatus.COMPLETE,
                    "finished": clock.now(),
                    "commit": finished[claim.run],
                    "count": (before.count or 0) + 1 if before is not None else 1,
                }
            )
            notes.append(
                f"{mid} had finished before the interruption (step {finished[claim.run][:12]}); it is not run again."
            )
        else:
            notes.append(f"{mid} was interrupted before it finished; it will run again.")
    if notes:
        engine_state.save(wb.git.gitdir, state)
        for n in notes:
            say(events.Note(n))
    return notes


def cluster_capacity(state: engine_state.EngineState, claims: dict[str, Claim]) -> int | None:
    """The worker threads of the cluster a live run sends modules to (None: no such run, or it runs locally)."""
    if state.executor is None or not any(c.status == ClaimStatus.RUNNING for c in claims.values()):
        return None
    capacity = state.executor.get("capacity")
    return capacity if isinstance(capacity, int) and not isinstance(capacity, bool) else None


def release_lost(state: engine_state.EngineState, say: Progress) -> list[str]:
    """Modules whose last run failed for a reason outside them: lost with a cluster's worker or scheduler, or their
    model provider unavailable, rate-limited, timed out or unreachable. Free to run again, as a run interrupted by
    a crash is (a resume once the provider is back asks again)."""
    notes: list[str] = []
    for mid, last in list(state.last_run.items()):
        if last.status != RunStatus.FAILED or not (last.lost or last.transient):
            continue
        state.last_run[mid] = dataclasses.replace(last, status=RunStatus.LOST)
        if last.lost:
            notes.append(f"{mid} was lost with its worker or the scheduler before it finished; it will run again.")
        else:
            notes.append(f"{mid} failed for its model provider last time ({last.error}); it will run again.")
        say(events.Note(notes[-1]))
    return notes


def unclaim_all(gitdir: str, state: engine_state.EngineState) -> None:
    """A run ends without finishing (Ctrl-C): its claims go, but for modules waiting for the operator's input."""
    state.running = {k: v for k, v in state.running.items() if v.status == ClaimStatus.NEEDS_INPUT}
    engine_state.save(gitdir, state)


def claim_alive(claim: Claim) -> bool:
    pid = claim.pid
    if not isinstance(pid, int) or pid <= 0:
        return False
    from gitbench.services.supervisor import alive  # not at the top: a `workflow status` seldom needs it

    return pid == os.getpid() or alive(pid, claim.started)
