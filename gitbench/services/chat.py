"""Workshop conversations: transcripts on the records ref, so Restore takes them back in time too.

``chat/<conversation>.jsonl`` holds one line per turn: ``{"role": "user", "text": prompt, "job", "turn",
"time", "model"}`` when a prompt is sent, and ``{"role": "assistant", "text": the model's summary, "job",
"turn", "status", "files", "time"}`` when its job ends. ``chat/current.json`` names the conversation ``gitbench
ask`` continues. The transcript is the conversation itself, so it holds the prompts; job records, reports,
trailers and logs never do.
"""

from __future__ import annotations

from typing import Any

from gitbench import clock
from gitbench.model import CheckpointKind, JobRecord, JobStatus
from gitbench.services import checkpoints, drafts
from gitbench.services.workbench import Workbench
from gitbench.store.records import Lines

CURRENT = "chat/current.json"
HISTORY_TURNS = 6  # earlier turns sent with a new prompt, so the model knows what was asked and done


def path(conversation: str) -> str:
    return f"chat/{conversation}.jsonl"


def current(wb: Workbench) -> str | None:
    data = wb.records.read(CURRENT)
    conv = data.get("conversation") if isinstance(data, dict) else None
    return conv if isinstance(conv, str) and conv else None


def messages(wb: Workbench, conversation: str) -> list[dict[str, Any]]:
    return [m for m in wb.records.read_lines(path(conversation)) if isinstance(m, dict)]


def conversations(wb: Workbench) -> list[str]:
    return sorted(p[: -len(".jsonl")] for p in wb.records.list("chat") if p.endswith(".jsonl"))


def user_turn(wb: Workbench, conversation: str, job: JobRecord, prompt: str) -> tuple[int, dict[str, Any]]:
    """The records files that add a prompt to the conversation (and make it the current one), and its turn."""
    lines = messages(wb, conversation)
    turn = sum(1 for m in lines if m.get("role") == "user") + 1
    lines.append({"role": "user", "text": prompt, "job": job.id, "turn": turn, "time": clock.now(), "model": job.model})
    return turn, {path(conversation): Lines(lines), CURRENT: {"conversation": conversation}}


def summaries_of(wb: Workbench, job: JobRecord) -> list[str]:
    """What the model said in the batches a job has done so far (a resumed job goes on from them)."""
    if not job.conversation:
        return []
    for m in messages(wb, job.conversation):
        if m.get("role") == "assistant" and m.get("job") == job.id and isinstance(m.get("summaries"), list):
            return [str(s) for s in m["summaries"]]
    return []


def assistant_turn(wb: Workbench, job: JobRecord, summaries: list[str]) -> dict[str, Any]:
    """The records files that add the job's outcome (the model's summaries) to its conversation."""
    if not job.conversation:
        return {}
    lines = [
        m
        for m in messages(wb, job.conversation)
        if not (m.get("role") == "assistant" and m.get("job") == job.id and "commits" not in m)
    ]  # a resumed job: its last word (an agent's hooks' record of each turn's commits stays)
    summary = " ".join(s for s in summaries if s)
    if job.status not in (JobStatus.COMPLETE, JobStatus.NO_CHANGES):
        summary = (summary + " " if summary else "") + f"[{job.status}: {(job.error or {}).get('message', '')}]"
    lines.append(
        {
            "role": "assistant",
            "text": summary or "(no summary)",
            "summaries": summaries,
            "job": job.id,
            "turn": job.turn,
            "time": clock.now(),
            "status": job.status,
            "files": job.files_changed,
            "model": job.model,
            "error": (job.error or {}).get("message"),
        }
    )
    return {path(job.conversation): Lines(lines)}


def prompt_of(wb: Workbench, job: JobRecord, commit: str | None = None) -> str | None:
    """The job's prompt; an attempt of `gitbench try` has no turn of its own: its prompt is its source job's.

    An agent session's job has a prompt per turn: with ``commit`` (one of its steps), the prompt of the turn
    whose step it is (the session's record of that turn names its commits: ``integrations/core.py``)."""
    if not job.conversation:
        return None
    asked = job.tried_from or job.id
    lines = messages(wb, job.conversation)
    turn = turn_of(lines, job, commit) if commit is not None else None
    for m in lines:
        if m.get("role") == "user" and m.get("job") == asked and isinstance(m.get("text"), str):
            if turn is None or m.get("turn") == turn:
                return str(m["text"])
    return None


def turn_of(lines: list[dict[str, Any]], job: JobRecord, commit: str) -> int | None:
    """The turn of an agent session whose step ``commit`` is (its record of the turn names its commits)."""
    for m in lines:
        if m.get("role") == "assistant" and m.get("job") == job.id and commit in (m.get("commits") or []):
            turn = m.get("turn")
            return turn if isinstance(turn, int) else None
    return None


def history(wb: Workbench, conversation: str, before_job: str) -> list[dict[str, Any]]:
    """The last turns before ``before_job``: what the model is told about the conversation so far."""
    out: list[dict[str, Any]] = []
    for m in messages(wb, conversation):
        if m.get("job") == before_job:
            break
        out.append(m)
    return out[-2 * HISTORY_TURNS :]


def show(wb: Workbench, conversation: str | None = None) -> dict[str, Any]:
    """A conversation with each publish checkpoint of its jobs inline, and the command that restores it."""
    conv = conversation or current(wb)
    if conv is None:
        return {"conversation": None, "items": []}
    lines = messages(wb, conv)
    last: dict[Any, float] = {}  # each job's last message
    for m in lines:
        last[m.get("job")] = max(last.get(m.get("job"), 0.0), float(m.get("time") or 0))
    keyed: list[tuple[float, int, dict[str, Any]]] = [
        (float(m.get("time") or 0), 0, {"type": "message", **m}) for m in lines
    ]
    first = min((float(m.get("time") or 0) for m in lines), default=0.0)
    for cp in checkpoints.since(wb, first):  # its publishes come after its first message: not every checkpoint
        asked = _asked_in(wb, cp.job, last) if cp.kind == CheckpointKind.PUBLISH else None
        if asked is not None:
            # A tag's date has whole seconds: a publish in the same second as its job still comes after it.
            keyed.append(
                (
                    max(cp.date, last[asked]),
                    1,
                    {
                        "type": "checkpoint",
                        "name": cp.name,
                        "job": cp.job,
                        "time": cp.date,
                        "commit": cp.commit,
                        "message": cp.message,
                        "restore": f"gitbench restore {cp.name}",
                    },
                )
            )
    keyed.sort(key=lambda k: (k[0], k[1]))
    return {"conversation": conv, "items": [item for _, _, item in keyed]}


def _asked_in(wb: Workbench, job: str | None, last: dict[Any, float]) -> str | None:
    """The conversation's job a publish belongs to: its own job, or for an attempt of `gitbench try` (which has
    no turn of its own: it answers its source job's) the job it was tried from."""
    if job is None:
        return None
    if job in last:
        return job
    record = drafts.job_record(wb, job)
    tried_from = record.tried_from if record is not None else None
    return tried_from if tried_from in last else None
