"""Output: the only place that writes to the terminal. rich is imported lazily, so `status` starts fast."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from gitbench import clock, trailers
from gitbench.errors import GitbenchError
from gitbench.model import MARKS, Checkpoint, OperationResult, Review, Status, Step, to_json
from gitbench.store.storage import human as size  # bytes for people: one spelling, for the CLI and the core

if TYPE_CHECKING:
    from gitbench.events import Event, Progress

_console = None
_err_console = None


def console(stderr: bool = False) -> Any:
    global _console, _err_console
    from rich.console import Console

    if stderr:
        if _err_console is None:
            _err_console = Console(stderr=True, highlight=False)
        return _err_console
    if _console is None:
        _console = Console(highlight=False)
    return _console


_UNPRINTABLE = None


def safe(text: str) -> str:
    """Text fit for a terminal: a byte of a file name that is not UTF-8 (os.fsdecode's surrogate) and control
    characters other than newlines and tabs are shown as git shows them, in octal (``\\377``), never raw."""
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text  # nothing to show in octal (each such character is unprintable), without compiling the regex
    global _UNPRINTABLE
    if _UNPRINTABLE is None:
        import re

        _UNPRINTABLE = re.compile("[\udc80-\udcff\x00-\x08\x0b-\x1f\x7f]")

    def octal(m: Any) -> str:
        ch = m.group(0)
        return f"\\{ord(ch) - 0xDC00:03o}" if ord(ch) >= 0xDC80 else f"\\{ord(ch):03o}"

    return str(_UNPRINTABLE.sub(octal, text))


def out(text: str = "") -> None:
    sys.stdout.write(safe(text) + "\n")


def note(text: str) -> None:
    """One line beside a command's output, on stderr (``--json`` on stdout stays parseable)."""
    sys.stderr.write("note: " + safe(text) + "\n")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_json(data), indent=2, sort_keys=True, default=str) + "\n")


def say(event: Event) -> None:
    """A progress event as a line: ``· `` and the event's sentence."""
    from gitbench.events import describe  # only commands that report progress pay for the events

    out(f"· {describe(event)}")


def progress(as_json: bool) -> Progress | None:
    """The progress a command shows: none with ``--json`` (its output is the JSON document alone)."""
    return None if as_json else say


def ok_json(data: Any) -> None:
    emit_json({"ok": True, "result": data})


def error(exc: GitbenchError, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": False, "error": exc.to_dict()})
        return
    from rich.markup import escape
    from rich.panel import Panel

    lines = [f"[bold]{escape(exc.message)}[/bold]"]
    for note in exc.details.get("notes", []) or []:
        lines.append(escape(str(note)))
    if exc.actions:
        lines.append("")
        lines.append("What you can do:")
        for a in exc.actions:
            cmd = f"  [cyan]{escape(a.command)}[/cyan]" if a.command else ""
            lines.append(f"  • {escape(a.label)}{cmd}")
    report = exc.details.get("report")
    if isinstance(report, dict) and report.get("job") and exc.details.get("report_stored", True):
        lines.append("")
        lines.append(f"Report: [cyan]git show refs/gitbench/records:reports/{report['job']}.json[/cyan]")
    title = f"error: {exc.code} (exit {exc.exit_code})"
    console(stderr=True).print(Panel(safe("\n".join(lines)), title=title, title_align="left", border_style="red"))


def result(res: OperationResult) -> None:
    out(res.summary)
    for cp in res.checkpoints:
        if cp:
            out(f"  checkpoint: {cp}")
    for note in res.notes:
        out(f"  note: {note}")
    if res.review is not None:
        out("")
        review(res.review, patch=False)


def review(rv: Review, patch: bool) -> None:
    out(
        f"Draft {rv.draft}: {len(rv.files)} file(s) changed, +{rv.insertions} -{rv.deletions}"
        f" (against Published {rv.base[:12]})"
    )
    if rv.running:
        shown = ", ".join(rv.uncommitted[:5]) + (" ..." if len(rv.uncommitted) > 5 else "")
        out(
            f"  job {rv.running} is running in this Draft; its command has changed {len(rv.uncommitted)} file(s) in "
            "its worktree so far" + (f" ({shown})" if shown else "") + ": they become steps when it ends."
        )
    elif rv.uncommitted:
        shown = ", ".join(rv.uncommitted[:5]) + (" ..." if len(rv.uncommitted) > 5 else "")
        out(
            f"  its worktree has {len(rv.uncommitted)} file(s) that are not in the Draft ({shown}): its agent's "
            "session stopped in the middle of a turn. Resume the session (e.g. `claude --continue`) and they become "
            "a step when its next turn ends; publish and discard leave them out (kept under refs/gitbench/leftovers/)."
        )
    if not rv.base_is_published:
        out("  warning: Published has moved since this Draft was made; publishing will report a conflict.")
    width = max((len(f.path) for f in rv.files), default=0)
    for f in rv.files:
        mark = MARKS.get(f.status, "T")
        stat = "binary" if f.binary else f"+{f.insertions} -{f.deletions}"
        name = f"{f.old_path} -> {f.path}" if f.old_path else f.path
        name = name if name.isprintable() else trailers.quote_path(name)
        out(f"  {mark} {name.ljust(width)}  {stat}")
    if patch and rv.patch:
        out("")
        if sys.stdout.isatty():
            from rich.syntax import Syntax

            console().print(Syntax(safe(rv.patch), "diff", theme="ansi_dark", background_color="default"))
        else:
            sys.stdout.write(safe(rv.patch))
    elif rv.files:
        out("  (full diff: gitbench review --patch)")
    if not rv.running:
        out("  next: gitbench publish | gitbench discard")


def status(st: Status) -> None:
    for note in st.recovered:
        out(f"recovered: {note}")
    p = st.published
    cp = f", {p.checkpoint}" if p.checkpoint else ""
    out(f"Workbench  {st.workbench}{' (bare)' if st.bare else ''}")
    out(f"Published  {p.branch} at {p.commit[:12]} {p.subject!r}{cp}")
    if len(st.drafts) > 1:
        out(f"Drafts     {len(st.drafts)} open (`gitbench drafts`; act on one with --draft LABEL):")
        for d in st.drafts:
            age = clock.human_age(clock.now() - d.created)
            older = "" if d.base_is_published else ", made from an older Published"
            job = f", job {d.running} running now" if d.running else f", job {d.status}" if d.status else ""
            out(
                f"           {d.label}: {d.model or 'command'}, {d.steps} step(s), {d.files_changed} file(s), "
                f"{age} old{older}{job}"
            )
            if d.worktree:
                out(f"             worktree {d.worktree}{' (missing)' if d.worktree_missing else ''}")
        if st.draft_problem:
            out(f"           {st.draft_problem} (see the reminder below)")
    elif st.draft is None:
        out(f"Draft      {st.draft_problem} (see the reminder below)" if st.draft_problem else "Draft      none")
    else:
        d = st.draft
        age = clock.human_age(clock.now() - d.created)
        out(f"Draft      {d.label}: {d.steps} step(s), {d.files_changed} file(s) changed, {age} old")
        if d.worktree:
            out(f"           worktree {d.worktree}{' (missing)' if d.worktree_missing else ''}")
        if d.running:
            out(f"           job {d.running} is running in it now; its work is recorded when its command ends")
        else:
            out("           gitbench review | gitbench publish | gitbench discard")
    if st.last_job is not None:
        j = st.last_job
        err = f": {j.error.get('message')}" if j.error else ""
        out(f"Last job   {j.id} {j.status}{err}")
        if j.status in ("failed", "paused", "cancelled", "interrupted"):
            more = "gitbench resume | gitbench resume --model PROVIDER:MODEL | " if j.kind == "ask" else ""
            out(f"           {more}gitbench report {j.id}")
    if st.server:
        out(f"Server     {st.server}")
    if st.busy:
        out(f"Busy       {st.busy} is running")
    if st.local_changes:
        shown = ", ".join(st.local_changes[:5]) + (" ..." if len(st.local_changes) > 5 else "")
        out(f"Local      {len(st.local_changes)} file(s) edited outside gitbench: {shown}")
    if st.storage is not None:
        s = st.storage
        about = "about " if s.estimate else ""
        where = "the repository" if st.bare else ".git"
        out(
            f"Storage    {where} {about}{size(s.git_bytes)} (gitbench: {size(s.gitbench_bytes)} of logs and job "
            "folders); `gitbench gc --dry-run` shows what can go"
        )
    for r in st.reminders:
        out(f"reminder: {r}")


def checkpoints(items: list[Checkpoint], older: int = 0) -> None:
    if not items:
        out("No checkpoints.")
        return
    width = max(len(cp.name) for cp in items)
    for cp in items:
        job = f" job {cp.job}" if cp.job else ""
        out(f"{cp.name:<{width}}  {cp.kind:<12} {clock.iso(cp.date)}  {cp.commit[:12]}{job}  {cp.message}")
    out("restore one: gitbench restore NAME (or a unique beginning of its name)")
    if older:
        out(f"{older} older checkpoint{'s are' if older != 1 else ' is'} not shown: gitbench checkpoints --all")


def steps(items: list[Step]) -> None:
    if not items:
        out("No gitbench steps yet.")
        return
    for s in items:
        out(f"{s.commit[:12]} [{s.branch}] {clock.iso(s.date)}  {s.subject}")
        for k, v in s.trailers.items():
            out(f"    {k}: {v}")
