"""``gitbench export agent-trace``: the jobs' steps as Agent Trace records, so other tools can read them.

Agent Trace (https://github.com/cursor/agent-trace, v0.1.0) is a vendor-neutral JSON format for "which lines did
which AI write". Its unit is the trace record: one revision of the repository (``vcs.revision``) and, per file,
the line ranges a conversation produced there, with the contributor (``ai`` and its ``model_id``, or ``human``).
gitbench writes one record per step commit:

* ``id``: a UUID derived from the commit id (the same step always gets the same id, export after export);
* ``timestamp``: the step commit's date; ``vcs``: ``git`` and the step commit;
* ``files``: the lines the step added or changed (the new side of its diff against its parent, renames
  followed), in one conversation per file whose contributor is ``ai`` with the model (``Assisted-by``), or
  ``human`` for a plain command's step (``make format``); each range has a ``content_hash`` (``sha256:`` of its
  lines), so a reader can follow it when it moves;
* ``metadata["dev.gitbench"]``: the job, its kind, the step, its status, the checkpoint before the job, the
  agent, ``Gitbench-Model``, and the conversation and turn (never the prompt itself: it stays in the records).

The reference implementation stores records as JSON Lines (``.agent-trace/traces.jsonl``), one per line; so does
the export.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import gitbench
from gitbench import errors, trailers
from gitbench.git.repo import CommitInfo
from gitbench.services import attribution
from gitbench.services.why import resolve_rev
from gitbench.services.workbench import Workbench

VERSION = "0.1.0"  # of the Agent Trace specification
# Record ids: uuid5 of the step commit in this namespace (uuid5(NAMESPACE_URL, "https://agent-trace.dev/gitbench")).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://agent-trace.dev/gitbench")
VENDOR = "dev.gitbench"


def steps_in(wb: Workbench, rev: str | None) -> list[CommitInfo]:
    """The step commits (those with a ``Gitbench-Job`` trailer) in ``rev``, oldest first: ``A..B`` (in B, not in
    A; an empty side is Published), or one revision (everything reachable from it). Default: Published."""
    text = (rev or "").strip()
    if "..." in text:
        raise errors.UsageError(
            f"{text!r}: a symmetric range (A...B) is not supported; use A..B or one revision.",
            [errors.Action("Steps of a Draft not yet published", "gitbench export agent-trace --rev main..LABEL")],
        )
    if ".." in text:
        low, _, high = text.partition("..")
        hidden = [resolve_rev(wb, low or None)[0]]
        tip = resolve_rev(wb, high or None)[0]
    else:
        hidden, tip = [], resolve_rev(wb, text or None)[0]
    return [c for c in wb.git.commits_reachable(tip, hidden) if "Gitbench-Job" in trailers.parse(c.message)]


def export(wb: Workbench, rev: str | None = None) -> list[dict[str, Any]]:
    """One Agent Trace record per step commit in ``rev`` (see ``steps_in``), oldest first."""
    from gitbench.services import drafts

    records = []
    jobs: dict[str, Any] = {}
    for info in steps_in(wb, rev):
        said = trailers.parse(info.message)
        job_id = said["Gitbench-Job"]
        if job_id not in jobs:
            try:
                jobs[job_id] = drafts.job_record(wb, job_id)
            except (errors.GitbenchError, ValueError, TypeError):
                jobs[job_id] = None
        records.append(record(wb, info, said, jobs[job_id]))
    return records


def record(wb: Workbench, info: CommitInfo, said: dict[str, str], job: Any) -> dict[str, Any]:
    """The trace record of one step commit."""
    helped = attribution.of_trailers(said)
    contributor: dict[str, Any] = {"type": "ai" if helped is not None else "human"}
    if helped is not None and helped.model_id:
        contributor["model_id"] = helped.model_id
    parent_tree = wb.git.commit(info.parents[0]).tree if info.parents else None
    files = []
    for path, spans in sorted(wb.git.added_lines(parent_tree, info.tree).items()):
        lines = _lines(wb, info.tree, path)
        ranges = [{"start_line": a, "end_line": b, "content_hash": _hash(lines[a - 1 : b])} for a, b in spans if b >= a]
        if ranges:
            files.append({"path": path, "conversations": [{"contributor": dict(contributor), "ranges": ranges}]})
    extra: dict[str, Any] = {
        "job": said["Gitbench-Job"],
        "step": said.get("Gitbench-Step"),
        "status": said.get("Gitbench-Status"),
        "checkpoint": said.get("Gitbench-Checkpoint"),
        "model": said.get("Gitbench-Model"),
        "subject": trailers.subject(info.message),
    }
    if helped is not None:
        extra["agent"], extra["assisted_by"] = helped.agent, helped.trailer
        if helped.model:
            extra["agent_model"] = helped.model
    if job is not None:
        extra["kind"] = job.kind
        if job.conversation:
            extra["conversation"], extra["turn"] = job.conversation, job.turn
    return {
        "version": VERSION,
        "id": str(uuid.uuid5(NAMESPACE, info.oid)),
        "timestamp": datetime.fromtimestamp(info.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "vcs": {"type": "git", "revision": info.oid},
        "tool": {"name": "gitbench", "version": gitbench.__version__},
        "files": files,
        "metadata": {VENDOR: {k: v for k, v in extra.items() if v is not None}},
    }


def _lines(wb: Workbench, tree: str, path: str) -> list[bytes]:
    entry = wb.git.tree_entry(tree, path)
    if entry is None:
        return []
    parts = wb.git.blob(entry.oid).split(b"\n")  # lines as Git counts them: only a newline ends one
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _hash(lines: list[bytes]) -> str:
    return "sha256:" + hashlib.sha256(b"".join(lines)).hexdigest()
