"""``gitbench why PATH[:LINE[-LINE]]``: who wrote each line, and why.

Git's blame names the commit that last wrote each line; the commit's audit trailers name the job, the step, the
model and the agent (``Assisted-by``), and the checkpoint taken before the job; the job record adds the command
and the conversation; the conversation holds the prompt that asked for it. A line whose commit no gitbench job
made was written by hand (or by some other tool): its commit, author and date are what is known.

The revision is Published by default; a Draft's label, a checkpoint or any commit-ish (``main~3``, an id, a tag)
works too (``resolve_rev``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import field
from typing import Any

from gitbench import errors, trailers
from gitbench.git.objects import Mode
from gitbench.git.repo import CommitInfo
from gitbench.lazy_dataclass import dataclass
from gitbench.model import DRAFT_PREFIX, JobRecord, to_json
from gitbench.services import attribution, checkpoints
from gitbench.services.workbench import Workbench

_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?\Z")


@dataclass
class Origin:
    """Lines ``start``..``end`` of the file, written by one commit: by a gitbench job's step, or by hand."""

    start: int
    end: int
    commit: str
    subject: str
    author: str
    author_email: str
    date: float  # the author's date
    by_hand: bool  # no gitbench job made the commit
    lines: list[str] = field(default_factory=list)
    job: str | None = None
    kind: str | None = None  # the job's kind: exec, ask, workflow
    step: str | None = None  # "1/2 batch"
    model: str | None = None  # Gitbench-Model
    agent: str | None = None  # who assisted: "claude-code", "gitbench" (a model job)...
    agent_model: str | None = None  # ...and its model, when known
    assisted_by: str | None = None  # AGENT:MODEL, as the trailer says it
    checkpoint: str | None = None  # the checkpoint taken before the job
    status: str | None = None  # Gitbench-Status of the step
    command: list[str] | None = None  # an exec job's command line
    message: str | None = None  # the job's -m message, when it had one
    conversation: str | None = None
    turn: int | None = None
    prompt: str | None = None  # the prompt that asked for the job, from the conversation records
    operation: str | None = None  # Gitbench-Operation: a `gitbench add` or `rm` (by hand too)


@dataclass
class WhyResult:
    path: str
    rev: str  # what was asked for: "Published (main)", "Draft LABEL", "checkpoint/261203-072105-k3mq", "HEAD~2"...
    commit: str  # the commit it names
    first: int
    last: int
    line_count: int  # the file's, at that commit
    origins: list[Origin]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data


def resolve_rev(wb: Workbench, rev: str | None) -> tuple[str, str]:
    """The commit ``rev`` names and how to say it: Published (None), a Draft's label or ref, a checkpoint
    (its name, a unique beginning of it, an older Workbench's ``3``: when no commit is named so), or any
    commit-ish Git understands."""
    if rev is None or rev.strip() == "":
        return wb.published(), f"Published ({wb.branch})"
    rev = rev.strip()
    for ref in (DRAFT_PREFIX + rev, rev, "refs/heads/" + rev):  # a label, the ref, or gitbench/draft/LABEL
        if ref.startswith(DRAFT_PREFIX) and len(ref) > len(DRAFT_PREFIX):
            oid = wb.git.ref(ref)
            if oid is not None:
                return oid, f"Draft {ref[len(DRAFT_PREFIX) :]}"
    if rev in (wb.branch, wb.published_ref, "published", "Published"):
        return wb.published(), f"Published ({wb.branch})"
    oid = wb.git.resolve(rev)
    if oid is not None:
        return oid, rev
    try:
        cp = checkpoints.resolve(wb, rev)  # `3`, a beginning of a name (`261203-0721`): an ambiguous one is said
        return cp.commit, cp.name
    except errors.CheckpointNotFound as exc:
        if exc.details.get("candidates"):
            raise
    raise errors.UsageError(
        f"{rev!r} names no Draft, checkpoint or commit of this Workbench.",
        [
            errors.Action("See the open Drafts (use a label)", "drafts"),
            errors.Action("See the checkpoints (use a name, or its beginning)", "checkpoints"),
            errors.Action("See commits of Published", text="git log --oneline"),
        ],
    )


def parse_target(target: str) -> tuple[str, str | None]:
    """``PATH[:LINE[-LINE]]`` split into the path and the line range's text (None: the whole file)."""
    path, sep, spec = target.rpartition(":")
    if sep and path and "/" not in spec:
        return path, spec
    return target, None


def _lines_of(spec: str, target: str) -> tuple[int, int]:
    m = _RANGE.match(spec)
    if m is None:
        raise errors.UsageError(
            f"{spec!r} in {target!r} is not a line range: write PATH, PATH:LINE or PATH:FROM-TO "
            "(e.g. src/app.py:10-20).",
            [errors.Action("Example", "why", ("src/app.py:10-20",))],
        )
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if first < 1 or last < first:
        raise errors.UsageError(
            f"{spec!r} in {target!r} is not a line range: lines count from 1, and FROM comes before TO.",
            [errors.Action("Example", "why", ("src/app.py:10-20",))],
        )
    return first, last


def _clean_path(path: str, target: str) -> str:
    norm = posixpath.normpath(path.replace("\\", "/")) if path else ""
    if not path or norm.startswith("../") or norm == ".." or norm.startswith("/") or norm in (".", ""):
        raise errors.UsageError(
            f"{target!r} names no file inside the Workbench: give a path from its top folder, e.g. src/app.py.",
            [errors.Action("Example", "why", ("src/app.py:10-20",))],
        )
    return norm


def why(wb: Workbench, target: str, rev: str | None = None) -> WhyResult:
    """For each group of consecutive lines of ``target`` (``PATH[:LINE[-LINE]]``) that one commit wrote: the
    commit, and when a gitbench job made it the job, step, agent and model, the checkpoint before the job and
    the prompt that asked for it; "by hand" otherwise. ``rev``: Published when None (see ``resolve_rev``)."""
    commit, said = resolve_rev(wb, rev)
    tree = wb.git.commit(commit).tree
    raw_path, spec = parse_target(target)
    if spec is not None and wb.git.tree_entry(tree, _clean_path(raw_path, target)) is None:
        whole = _clean_path(target, target)
        if wb.git.tree_entry(tree, whole) is not None:  # a file whose name has a colon in it
            raw_path, spec = target, None
    path = _clean_path(raw_path, target)
    entry = wb.git.tree_entry(tree, path)
    if entry is None or entry.mode in (Mode.TREE, Mode.GITLINK):
        what = (
            "no file"
            if entry is None
            else ("a folder, not a file" if entry.mode == Mode.TREE else "a submodule, not a file")
        )
        raise errors.UsageError(
            f"{path} is {what} at {said} ({commit[:12]}).",
            [
                errors.Action("See the files there", text=f"git ls-tree -r --name-only {commit[:12]}"),
                errors.Action("Ask about another revision", "why", (path, "--rev", "REV")),
            ],
        )
    data = wb.git.blob(entry.oid)
    if b"\0" in data[:8000]:
        raise errors.UsageError(
            f"{path} is a binary file at {said}: `why` follows lines of text.",
            [errors.Action("See which commits changed it", text=f"git log --oneline {commit[:12]} -- {path}")],
        )
    text = data.decode("utf-8", "replace").split("\n")  # Git's lines: only a newline ends one
    if text and text[-1] == "":
        text.pop()
    count = len(text)
    first, last = _lines_of(spec, target) if spec is not None else (1, count)
    if spec is not None and last > count:
        raise errors.UsageError(
            f"{path} has {count} line(s) at {said}; line {last} is past its end.",
            [errors.Action("Ask about the lines it has", "why", (f"{path}:1-{count}" if count else path,))],
        )
    origins: list[Origin] = []
    if count:
        hunks = sorted(wb.git.blame(path, commit, first, last), key=lambda h: h.start)
        reader = _Reader(wb)
        for h in hunks:
            start, end = max(h.start, first), min(h.start + h.count - 1, last)
            if start > end:
                continue
            if origins and origins[-1].commit == h.commit and origins[-1].end + 1 == start:
                origins[-1].end = end
                origins[-1].lines.extend(text[start - 1 : end])
                continue
            origin = reader.origin(h.commit, start, end)
            origin.lines = text[start - 1 : end]
            origins.append(origin)
    return WhyResult(path, said, commit, first if count else 0, last, count, origins)


class _Reader:
    """Commits, job records and prompts, each read once however many line groups name it."""

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self.jobs: dict[str, tuple[JobRecord | None, str | None]] = {}

    def job(self, job_id: str) -> tuple[JobRecord | None, str | None]:
        if job_id not in self.jobs:
            from gitbench.services import chat, drafts

            try:
                record = drafts.job_record(self.wb, job_id)
            except (errors.GitbenchError, KeyError, ValueError, TypeError):
                # a job record that cannot be read (KeyError: an object of the records ref is missing): the
                # trailers still say most
                record = None
            prompt = chat.prompt_of(self.wb, record) if record is not None else None
            self.jobs[job_id] = (record, prompt)
        return self.jobs[job_id]

    def origin(self, commit: str, start: int, end: int) -> Origin:
        info: CommitInfo = self.wb.git.commit(commit)
        said = trailers.parse(info.message)
        origin = Origin(
            start=start,
            end=end,
            commit=commit,
            subject=trailers.subject(info.message),
            author=info.author,
            author_email=info.author_email,
            date=float(info.author_time or info.time),
            by_hand="Gitbench-Job" not in said,
            operation=said.get("Gitbench-Operation"),
        )
        if origin.by_hand:
            return origin
        origin.job = said["Gitbench-Job"]
        origin.step = said.get("Gitbench-Step")
        origin.model = said.get("Gitbench-Model")
        origin.checkpoint = said.get("Gitbench-Checkpoint")
        origin.status = said.get("Gitbench-Status")
        helped = attribution.of_trailers(said)
        if helped is not None:
            origin.agent, origin.agent_model, origin.assisted_by = helped.agent, helped.model, helped.trailer
        record, prompt = self.job(origin.job)
        if record is not None:
            origin.kind = record.kind
            origin.checkpoint = origin.checkpoint or record.checkpoint
            origin.command = list(record.command) or None
            origin.message = record.message or None
            origin.conversation, origin.turn = record.conversation, record.turn
            origin.prompt = prompt
            if record.conversation and (record.kind == "agent" or record.kind == "exec"):
                # An agent session's job has a turn (and a prompt) per step: its record of each turn says which.
                from gitbench.services import chat

                turn = chat.turn_of(chat.messages(self.wb, record.conversation), record, commit)
                if turn is not None:
                    origin.turn = turn
                    origin.prompt = chat.prompt_of(self.wb, record, commit) or prompt
        return origin
