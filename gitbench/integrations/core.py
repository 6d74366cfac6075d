"""What gitbench does at each point of an agent's session, whichever agent it is (``base.KINDS``).

A session started in the user's checkout gets its own job: a checkpoint, a Draft beside any other, and the
Draft's worktree (made at ``session-start``, or at ``worktree-create`` when the agent asks for a worktree, as
Claude Code's ``--worktree`` does). The job stays open (status ``session``) for the whole session; each turn the
agent ends is captured as a step on the Draft, with the audit trailers and ``Assisted-by``; ``session-end``
takes the last step and ends the job. A session that ``gitbench agent run`` (or ``exec``) started is already a
job (``GITBENCH_JOB`` in its environment): its turns become that job's steps the same way.

While a session has a Draft, a tool call that would write into the user's checkout (which shows Published) or
into ``.git`` is refused, with the worktree path to use instead. ``pre-edit`` and ``pre-shell`` run before every
tool call, so they import nothing heavy and read one small file (the session's) to decide.

Which session is which job: ``.git/gitbench/sessions/<agent>-<hash of the session id>.json`` (local state, like
the lock; the job itself is on the records ref).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import TYPE_CHECKING, Any

from gitbench.integrations.base import HookEvent, HookReply
from gitbench.model import JobStatus
from gitbench.store.layout import Layout

if TYPE_CHECKING:
    from gitbench.model import JobRecord
    from gitbench.services.workbench import Workbench

SESSION = JobStatus.SESSION  # the status of a job whose agent session is still open
PROGRAM = {"claude-code": "claude", "codex": "codex", "cursor": "cursor-agent", "gemini": "gemini"}
# Shell commands that move the user's branch or rewrite its files through Git; refused in the user's checkout
# while a session has a Draft (the git hooks refuse moving Published too, but not `checkout -- file` or `stash`).
_GIT_WRITES = re.compile(
    r"(?:^|[;&|(]\s*|\s)git(?:\s+-C\s+\S+|\s+-c\s+\S+)*\s+"
    r"(commit|merge|rebase|reset|checkout|switch|restore|stash|pull|cherry-pick|revert|am|apply|push|tag|branch|"
    r"update-ref|clean|rm|mv)\b"
)


# -- where: the repository of a folder, without opening it ------------------------------------------------------


def locate(cwd: str) -> tuple[str, str] | None:
    """(common git folder, top folder) of the repository ``cwd`` is in; None outside one. Reads ``.git`` files
    only: this runs before every tool call."""
    here = os.path.abspath(cwd or ".")
    while True:
        dot = os.path.join(here, ".git")
        if os.path.isdir(dot):
            return dot, here
        if os.path.isfile(dot):
            gitdir = _linked_gitdir(here)
            if gitdir is None:
                return None
            common = gitdir
            try:
                with open(os.path.join(gitdir, "commondir")) as fh:
                    common = os.path.normpath(os.path.join(gitdir, fh.read().strip()))
            except OSError:
                pass
            return common, here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _has_checkpoints(gitdir: str) -> bool:
    """Does the repository hold gitbench checkpoints (``refs/tags/checkpoint/*``, loose or packed)?"""
    try:
        if os.listdir(os.path.join(gitdir, "refs", "tags", "checkpoint")):
            return True
    except OSError:
        pass
    try:
        with open(os.path.join(gitdir, "packed-refs"), "rb") as fh:
            return any(b" refs/tags/checkpoint/" in line for line in fh)
    except OSError:
        return False


def _linked_gitdir(top: str) -> str | None:
    """The git folder a linked worktree's ``.git`` file at ``top`` names, or None."""
    try:
        with open(os.path.join(top, ".git")) as fh:
            line = fh.read().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    return os.path.normpath(os.path.join(top, line[len("gitdir:") :].strip()))


def _top(gitdir: str) -> str:
    """The folder of the checkout whose git folder is ``gitdir`` (a bare repository: the git folder itself)."""
    return os.path.dirname(gitdir) if os.path.basename(gitdir) == ".git" else gitdir


def session_file(gitdir: str, agent: str, session: str) -> str:
    digest = hashlib.sha256(session.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return Layout(gitdir).session(f"{agent}-{digest}.json")


def read_session(gitdir: str, agent: str, session: str) -> dict[str, Any] | None:
    if not session:
        return None
    try:
        with open(session_file(gitdir, agent, session)) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_session(gitdir: str, agent: str, session: str, data: dict[str, Any]) -> None:
    from gitbench.store import atomic

    path = session_file(gitdir, agent, session)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic.write_json(path, data)


def _drop_sessions(gitdir: str, job: str) -> None:
    """Forget every session of the job ``job``, whose Draft is gone: its own file, and that of a session known by
    its folder (Claude Code's --worktree made the folder under one session id and works in it under another)."""
    where = Layout(gitdir).sessions
    try:
        names = os.listdir(where)
    except OSError:
        return
    for name in names:
        path = os.path.join(where, name)
        try:
            with open(path) as fh:
                data = json.load(fh)
            if isinstance(data, dict) and data.get("job") == job:
                os.unlink(path)
        except (OSError, ValueError):
            continue  # unreadable, or gone already: another hook of the session dropped it


def _by_worktree(gitdir: str, folder: str) -> dict[str, Any] | None:
    """The session whose worktree holds ``folder`` (a session that Claude Code's --worktree started there)."""
    where = Layout(gitdir).sessions
    real = os.path.realpath(folder)
    try:
        names = os.listdir(where)
    except OSError:
        return None
    for name in names:
        try:
            with open(os.path.join(where, name)) as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        tree = data.get("worktree") if isinstance(data, dict) else None
        if isinstance(tree, str) and _inside(real, os.path.realpath(tree)):
            return dict(data)
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _context(event: HookEvent) -> dict[str, Any] | None:
    """The job this event belongs to: the one ``gitbench agent run``/``exec`` runs the agent as (its
    environment says), or the session's own."""
    job = os.environ.get("GITBENCH_JOB")
    tree = os.environ.get("GITBENCH_WORKTREE")
    bench = os.environ.get("GITBENCH_WORKBENCH")
    if job and tree and bench:
        found = locate(bench)
        if found is not None:
            return {"job": job, "worktree": tree, "root": found[1], "gitdir": found[0], "run": True}
    found = locate(event.cwd)
    if found is None or not os.path.isdir(os.path.join(found[0], "gitbench")):
        return None  # not a Workbench: the hooks of a user-level install stay out of other repositories
    data = read_session(found[0], event.agent, event.session) or _by_worktree(found[0], event.cwd)
    if data is None:
        return None
    data.setdefault("gitdir", found[0])
    return data


# -- the decisions before a tool call (fast: no Git, no gitbench services) --------------------------------------


def _guard_reason(target: str, ctx: dict[str, Any]) -> str | None:
    tree = os.path.realpath(ctx["worktree"]) if ctx.get("worktree") else ""
    root = os.path.realpath(ctx.get("root") or "")
    gitdir = os.path.realpath(ctx["gitdir"])
    real = os.path.realpath(target)
    if tree and _inside(real, tree):
        return None
    if ctx.get("failed") and (_inside(real, gitdir) or (root and _inside(real, root))):
        return (
            f"gitbench could not give this session its Draft ({ctx['failed']}), so the user's checkout ({root}) is "
            "not yours to edit. Tell the user, and ask them to fix that and start the session again."
        )
    if _inside(real, gitdir):
        return (
            f"gitbench: {target} is inside the repository's .git folder, which an agent session may not change. "
            f"Work on the files of this session's Draft worktree, {tree}; gitbench records your steps itself."
        )
    if root and _inside(real, root):
        rel = os.path.relpath(real, root)
        return (
            f"gitbench: {target} is in the user's checkout, which shows Published and changes only when the user "
            f"publishes. This session's edits go to its Draft worktree: write {os.path.join(tree, rel)} instead "
            f"(and run commands there: cd {tree})."
        )
    if tree and _inside(real, os.path.dirname(tree)):
        return (
            f"gitbench: {target} is in another Draft's worktree (another job or session works there). This "
            f"session's edits go to its own: {tree}."
        )
    return None


def guard_edit(event: HookEvent, ctx: dict[str, Any]) -> HookReply:
    for path in event.paths:
        target = path if os.path.isabs(path) else os.path.join(event.cwd or ".", path)
        reason = _guard_reason(target, ctx)
        if reason:
            return HookReply(deny=reason)
    return HookReply()


def guard_shell(event: HookEvent, ctx: dict[str, Any]) -> HookReply:
    from gitbench.integrations import shellguard

    tree = os.path.realpath(ctx["worktree"]) if ctx.get("worktree") else ""
    root = os.path.realpath(ctx.get("root") or "")
    gitdir = os.path.realpath(ctx["gitdir"])

    def checkout(folder: str) -> bool:
        """The user's checkout, .git, or another Draft's worktree (another job's or session's)."""
        if tree and _inside(folder, tree):
            return False
        others = bool(tree) and _inside(folder, os.path.dirname(tree))
        return others or _inside(folder, gitdir) or bool(root) and _inside(folder, root)

    reason = shellguard.refusal(event.command or "", event.cwd or ".", checkout, root)
    if reason and tree and "`git " in reason:
        reason += f" (cd {tree} first.)"
    return HookReply(deny=reason) if reason else HookReply()


def agent_process() -> tuple[int, int | None]:
    """The agent that runs this hook (pid, start time): the parent, past a shell that only ran the hook."""
    pid = os.getppid()
    for _ in range(3):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            break
        name = os.path.basename(argv[0]).decode("utf-8", "replace") if argv and argv[0] else ""
        if name in ("sh", "bash", "dash", "zsh") and b"hook" in b" ".join(argv):
            pid = int(stat[stat.rfind(b")") + 2 :].split()[1])
            continue
        break
    from gitbench.services.supervisor import start_time

    return pid, start_time(pid)


def session_alive(data: dict[str, Any]) -> bool:
    """Is the agent of a session (its file's ``agent_pid``) still running?"""
    pid = data.get("agent_pid")
    if not isinstance(pid, int) or pid <= 1:
        return False
    from gitbench.services.supervisor import start_time

    started = start_time(pid)
    return started is not None and started == data.get("agent_start")


def open_sessions(gitdir: str, ref: str | None = None, agent: int | None = None) -> list[dict[str, Any]]:
    """The agent sessions whose agent is still running: those working in the Draft ``ref``, or (``agent``) those of
    the agent with that pid."""
    folder = Layout(gitdir).sessions
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        try:
            with open(os.path.join(folder, name)) as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or (ref is not None and data.get("draft") != ref):
            continue
        if (agent is None or data.get("agent_pid") == agent) and session_alive(data):
            out.append(data)
    return out


# -- the session's job: start, step, end --------------------------------------------------------------------------


def _open(gitdir: str) -> Workbench:
    from gitbench.services.workbench import Workbench

    return Workbench(_top(gitdir))


def _start(event: HookEvent, gitdir: str) -> dict[str, Any]:
    """A new job for the session: a checkpoint, a Draft beside any other, its worktree. If that cannot be done,
    the session's file says so (``failed``): its edits to the checkout are refused all the same."""
    from gitbench import errors
    from gitbench.scope import Scope
    from gitbench.services import commands, drafts, jobs, worktrees

    wb = _open(gitdir)
    program = PROGRAM.get(event.agent, event.agent)
    pid, started = agent_process()
    # The agent waits for this hook (Claude Code: up to its timeout, 120 s): wait for the lock as long as that.
    wait = float(os.environ.get("GITBENCH_SESSION_WAIT", "90"))
    job = None
    try:
        with wb.changing("session", wait=wait):
            again = read_session(wb.git.gitdir, event.agent, event.session)
            if again is not None and not again.get("failed") and os.path.isdir(again.get("worktree") or ""):
                earlier = _job(wb, again)
                if earlier is not None and earlier.status in (SESSION, JobStatus.RUNNING):
                    return again  # the same session's other hook made it meanwhile (two installs fire together)
            settings = commands.job_settings(wb)
            message = f"{event.agent} session" + (f" ({event.name})" if event.name else "")
            job, _notes = jobs.start_job(wb, "agent", Scope.of([]), [program], message, "beside")
            job.agent, job.agent_model = program, _model(event)
            job.conversation = f"{event.agent}-{job.id}"
            prep = worktrees.prepare(wb, job.draft, Scope.of([]), False, settings.copy, base=settings.worktrees)
            job.worktree = prep.linked.path
            job.head = wb.git.ref(job.draft)
            job.status, job.pid = SESSION, None
            drafts.save_job(wb, job, note="session started")
            wb.journal.clear()  # the session is open from now on; nothing is half-done
            data = {
                "job": job.id,
                "draft": job.draft,
                "worktree": job.worktree,
                "root": wb.root,
                "gitdir": wb.git.gitdir,
                "agent": event.agent,
                "session": event.session,
                "copy": list(settings.copy),
                "agent_pid": pid,
                "agent_start": started,
            }
            _write_session(wb.git.gitdir, event.agent, event.session, data)
            return data
    except (errors.GitbenchError, OSError) as exc:
        err = exc if isinstance(exc, errors.GitbenchError) else errors.file_error(exc, "starting the session's Draft")
        if job is not None:
            _undo_start(wb, job, err)
        failed = {
            "failed": said(err),
            "root": wb.root,
            "gitdir": wb.git.gitdir,
            "agent": event.agent,
            "session": event.session,
        }
        _write_session(wb.git.gitdir, event.agent, event.session, failed)
        return failed


def _undo_start(wb: Workbench, job: JobRecord, err: Exception) -> None:
    """A session start that failed half-way: its empty Draft goes, its job is recorded as failed."""
    from gitbench import errors
    from gitbench.services import drafts

    try:
        with wb.changing("session"):
            if wb.git.ref(job.draft) == job.base:
                wb.git.set_ref(job.draft, None, job.base, "gitbench: the session could not start")
            job.status = JobStatus.FAILED
            job.error = {"code": getattr(err, "code", "error"), "class": "session", "message": str(err)}
            drafts.save_job(wb, job, note="failed")
            wb.journal.clear()
    except (errors.GitbenchError, OSError) as exc:
        # The journal is left: the next command marks the job interrupted. The log says why it was not undone.
        from gitbench.store.logs import Log

        Log(wb.layout.logs).event("session.undo-failed", job=job.id, error=f"{type(exc).__name__}: {exc}")


def said(exc: BaseException) -> str:
    """An error in one line for an agent or its user: the message and what to do next (commands or steps)."""
    from gitbench import errors

    if isinstance(exc, errors.GitbenchError):
        actions = "; ".join(f"{a.label}: {a.command}" if a.command else a.label for a in exc.actions)
        return exc.message + (f" Next: {actions}." if actions else "")
    return f"{type(exc).__name__}: {exc}"


def _model(event: HookEvent) -> str | None:
    if event.model:
        return event.model
    return transcript_model(event.transcript) if event.transcript else None


def transcript_model(path: str) -> str | None:
    """The model of the last assistant message in a JSON-lines transcript (Claude Code's, Codex's)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            tail = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        for holder in (item.get("message"), item.get("payload"), item):
            if isinstance(holder, dict) and isinstance(holder.get("model"), str) and holder["model"]:
                return str(holder["model"])
    return None


def _job(wb: Workbench, ctx: dict[str, Any]) -> JobRecord | None:
    from gitbench.services import drafts

    job = drafts.job_record(wb, ctx["job"])
    if job is None or wb.git.ref(job.draft) is None:
        return None
    return job


def step(event: HookEvent, ctx: dict[str, Any], final: bool = False, during: str = "") -> HookReply:
    """What the agent changed since the last step, as a step on its Draft (``final``: and the job's end)."""
    from gitbench import errors
    from gitbench.scope import Scope
    from gitbench.services import capture, drafts, worktrees

    wb = _open(ctx["gitdir"])
    if ctx.get("failed"):
        return HookReply(error=f"gitbench: this session has no Draft: {ctx['failed']}")
    with wb.changing("step"):
        job = drafts.job_record(wb, ctx["job"])
        gone = _gone(wb, job, ctx)
        if gone is not None:
            # The session's file stays (its guard with it): the next prompt starts a new Draft for it, or a
            # resumed session reopens this one.
            return HookReply(message=gone)
        assert job is not None
        try:
            linked = _worktree(wb, job, ctx, event)
        except (errors.GitbenchError, OSError) as exc:
            return HookReply(
                error=f"gitbench: the worktree of the Draft {_label(job)} is gone and could not be "
                f"made again: {said(exc)}"
            )
        stored_model = job.agent_model
        model = _model(event) or job.agent_model
        if model and not job.agent_model:
            job.agent_model = model
        program = job.agent or PROGRAM.get(event.agent, event.agent)
        who = (f"{program}:{model}" if model else program, program)
        patterns = ctx.get("copy")  # as the session started (reading the config again costs ~20 ms a turn)
        copy = tuple(patterns) if isinstance(patterns, list) else worktrees._copy_patterns(wb)
        copied = worktrees.copied_paths(linked, copy)
        turn = max(_turns(job), 1)
        # ``during``: a step taken inside the turn (the agent's publish through MCP): its end makes another
        subject = f"{event.agent}: turn {turn}" + (f" ({during})" if during else "")
        try:
            cap = capture.capture(wb, job, linked, Scope.of(job.scope), copied, subject, "complete", "turn", who)
        except (errors.GitbenchError, OSError) as exc:
            return HookReply(error=f"gitbench could not record this turn as a step: {exc}")
        job.steps_completed += len(cap.commits)
        job.steps_total = max(job.steps_total, job.steps_completed)
        if cap.head:
            job.head = cap.head
        job.files_changed = sorted(set(job.files_changed) | set(cap.files))
        known = {(r.get("path"), r.get("reason")) for r in job.refused}
        new_refused = [(p, r) for p, r in cap.refused if (p, r) not in known]
        job.refused = [*job.refused, *({"path": p, "reason": r} for p, r in new_refused)]
        extra = _turn_record(wb, job, cap.commits, turn) if cap.commits else None
        label = _label(job)
        if final and not ctx.get("run"):
            return _end(wb, job, event, ctx, extra)
        if not cap.commits and not new_refused and model == stored_model:
            return HookReply()  # nothing to record: no records commit either
        drafts.save_job(wb, job, note=f"turn {turn}", extra=extra)
        refused = (
            f" Not taken (left in the worktree): {'; '.join(f'{p} ({r})' for p, r in new_refused[:5])}."
            if new_refused
            else ""
        )
        if not cap.commits:
            return HookReply(message=f"gitbench: nothing new on Draft {label}.{refused}") if refused else HookReply()
        return HookReply(
            message=f"gitbench: step {job.steps_completed} on Draft {label}: {len(cap.files)} file(s) "
            f"({', '.join(cap.files[:5])}{'…' if len(cap.files) > 5 else ''}).{refused} "
            f"Review: gitbench review --draft {label}; publish: gitbench publish --draft {label}."
        )


def _gone(wb: Workbench, job: JobRecord | None, ctx: dict[str, Any]) -> str | None:
    """Why the session's job can take no more steps (None: it can), as the user should read it. A Draft deleted
    outside gitbench ends its job (it would otherwise stay open for ever)."""
    from gitbench.services import drafts

    if job is None:
        return f"gitbench: the record of this session's job ({ctx.get('job')}) is not there; nothing is recorded."
    label = _label(job)
    if job.status in (JobStatus.PUBLISHED, JobStatus.DISCARDED):
        then = (
            "Start a new session for a new Draft."
            if ctx.get("run")  # `gitbench agent run`: one Draft for the run
            else "The session's next prompt gets a new Draft."
        )
        said = f"gitbench: this session's Draft {label} was {job.status}; what the agent does now is not recorded."
        return f"{said} {then}"
    if wb.git.ref(job.draft) is None:
        if job.status in (SESSION, JobStatus.RUNNING) and not ctx.get("run"):
            job.status = JobStatus.INTERRUPTED
            job.error = {"code": "draft-missing", "class": "draft", "message": "its Draft was deleted outside gitbench"}
            drafts.save_job(wb, job, note="interrupted")
        return (
            f"gitbench: this session's Draft {label} was deleted outside gitbench, so its job ended; "
            f"its last step is kept as {job.head or job.base} (git branch {label}-back {job.head or job.base})."
        )
    if job.status not in (SESSION, JobStatus.RUNNING):
        return (
            None
            if ctx.get("reopen")
            else (
                f"gitbench: this session's job already ended ({job.status}); its Draft {label} is kept. "
                f"Review: gitbench review --draft {label}."
            )
        )
    return None


def _worktree(wb: Workbench, job: JobRecord, ctx: dict[str, Any], event: HookEvent) -> Any:
    """The Draft's worktree, made again if its folder was deleted (the Draft holds every step)."""
    from gitbench.scope import Scope
    from gitbench.services import worktrees

    linked = worktrees.of_draft(wb, job.draft)
    if linked is None and job.worktree:  # the agent put its worktree on another branch, or detached it
        from gitbench.git import worktrees as wt

        linked = wt.find(wb.git.gitdir, path=job.worktree)
    if linked is not None and (linked.present or os.path.isdir(linked.path)):
        # A folder whose .git file the agent deleted or replaced is still its worktree, with the turn's work in
        # it: capture puts the link back (made again, the old folder and that work would be deleted).
        return linked
    from gitbench.services import commands

    copy = tuple(ctx.get("copy") or ())
    # Where the user's config puts Draft worktrees, as at the session's start (read only now: this is rare).
    base = commands.job_settings(wb).worktrees
    prep = worktrees.prepare(wb, job.draft, Scope.of(job.scope), job.sparse, copy, base=base)
    if prep.linked.path != job.worktree:
        job.worktree = prep.linked.path
        if not ctx.get("run") and event.session:
            _write_session(ctx["gitdir"], event.agent, event.session, {**ctx, "worktree": prep.linked.path})
    return prep.linked


def _label(job: JobRecord) -> str:
    from gitbench.model import DRAFT_PREFIX

    return job.draft[len(DRAFT_PREFIX) :]


def _turns(job: JobRecord) -> int:
    return job.turn or 0


def _turn_record(wb: Workbench, job: JobRecord, commits: list[str], turn: int) -> dict[str, Any]:
    """The conversation's record of this turn: which step commits its prompt led to."""
    from gitbench import clock
    from gitbench.services import chat
    from gitbench.store.records import Lines

    conv = job.conversation or f"agent-{job.id}"
    job.conversation = conv
    lines = chat.messages(wb, conv)
    lines.append(
        {
            "role": "assistant",
            "job": job.id,
            "turn": turn,
            "commits": commits,
            "files": job.files_changed,
            "time": clock.now(),
            "model": job.agent_model,
        }
    )
    return {chat.path(conv): Lines(lines)}


def prompt(event: HookEvent, ctx: dict[str, Any]) -> HookReply:
    """The user's prompt, into the session's conversation record (never into a trailer)."""
    from gitbench import clock
    from gitbench.services import chat, drafts
    from gitbench.store.records import Lines

    if not event.prompt:
        return HookReply()
    wb = _open(ctx["gitdir"])
    if ctx.get("failed"):
        return HookReply()
    with wb.changing("prompt"):
        job = _job(wb, ctx)
        if job is not None and job.kind == "ask":
            return HookReply()  # an `ask` job recorded its prompt itself (the agent is its command: model)
        fresh = None
        if (job is None or job.status in (JobStatus.PUBLISHED, JobStatus.DISCARDED)) and not ctx.get("run"):
            # Its Draft was published or discarded while the session went on: a new Draft for what comes next.
            found = locate(event.cwd) or (ctx["gitdir"], ctx.get("root") or "")
            with wb.released("a new Draft for the session"):
                fresh = _start(event, found[0])
            if fresh.get("failed"):
                return HookReply(context=f"gitbench could not give this session a new Draft: {fresh['failed']}")
            job = _job(wb, fresh)
        if job is None:
            return HookReply()
        conv = job.conversation or f"agent-{job.id}"
        job.conversation = conv
        lines = chat.messages(wb, conv)
        turn = job.turn = _turns(job) + 1
        lines.append(
            {"role": "user", "text": event.prompt, "job": job.id, "turn": turn, "time": clock.now(), "model": None}
        )
        drafts.save_job(wb, job, note="prompt", extra={chat.path(conv): Lines(lines)})
    if fresh is not None:
        return HookReply(context="The Draft of this session's earlier turns is no longer open. " + _welcome(fresh))
    return HookReply()


def _end(
    wb: Workbench, job: JobRecord, event: HookEvent, ctx: dict[str, Any], extra: dict[str, Any] | None
) -> HookReply:
    from gitbench.services import jobs

    job.status = JobStatus.RUNNING  # complete() records the end
    result = jobs.complete(wb, job, [], (lambda _job: extra) if extra else None)
    if job.status == JobStatus.NO_CHANGES:  # no Draft was kept: a resumed session starts a new one
        _drop_sessions(ctx["gitdir"], job.id)
    # Otherwise the session's file stays: resumed (`claude --continue`), it goes on in the same Draft.
    label = _label(job)
    if job.status == JobStatus.NO_CHANGES:
        return HookReply(message=f"gitbench: {result.summary}")
    files = ", ".join(job.files_changed[:8]) + ("…" if len(job.files_changed) > 8 else "")
    return HookReply(
        message=f"gitbench: the session's Draft {label} holds {job.steps_completed} step(s), "
        f"{len(job.files_changed)} file(s): {files}. Review: gitbench review --draft {label}; publish: "
        f"gitbench publish --draft {label}; undo: gitbench discard --draft {label}."
    )


def _welcome(data: dict[str, Any]) -> str:
    return (
        f"gitbench: this session works in its own Draft. Its worktree is {data['worktree']}: make every edit "
        f"there (absolute paths under it) and run commands there (cd {data['worktree']}). The user's checkout, "
        f"{data['root']}, shows Published: edits to it are refused, and only the user publishes. gitbench records "
        "each of your turns as a step on the Draft; do not commit, branch or push yourself."
    )


def _env(data: dict[str, Any]) -> dict[str, str]:
    """For the agent's shell commands: the git hooks then refuse any ref move but the Draft's."""
    return {"GITBENCH_JOB": data["job"], "GITBENCH_DRAFT": data["draft"], "GITBENCH_WORKTREE": data["worktree"]}


def handle(event: HookEvent) -> HookReply:
    kind = event.kind
    if kind in ("pre-edit", "pre-shell"):
        ctx = _context(event)
        if ctx is None:
            return HookReply()
        return guard_edit(event, ctx) if kind == "pre-edit" else guard_shell(event, ctx)
    if kind in ("session-start", "worktree-create"):
        ctx = _context(event)
        if ctx is not None and not ctx.get("failed"):
            if ctx.get("run"):
                _note_model(event, ctx)
                return HookReply(context=_welcome(ctx))
            if kind == "worktree-create":
                return HookReply(worktree=ctx["worktree"])
            reopened = _still_open(ctx, event)
            if reopened is not None:
                _note_model(event, reopened)
                return HookReply(context=_welcome(reopened), env=_env(reopened))
        found = locate(event.cwd)
        if found is None:
            return HookReply()
        if not os.path.isdir(os.path.join(found[0], "gitbench")):
            if kind == "session-start" and _has_checkpoints(found[0]):
                # A clone of a shared Workbench (its checkpoints came with `git clone`) that nobody adopted here:
                # the hooks guard nothing, so the agent edits the checkout itself. Said once, to both.
                said = (
                    f"gitbench: {found[1]} is a clone of a gitbench Workbench (it has its checkpoints) that is not "
                    "adopted here yet, so this session has no Draft: its edits go straight into the checked-out "
                    "files. Run `gitbench init` there, then start the session again."
                )
                return HookReply(context=said, message=said)
            return HookReply()
        if kind == "session-start" and _in_other_worktree(found):
            label = _draft_of_worktree(found[1])
            if label is None:
                return HookReply()  # the user's own worktree of another branch: not Published, not ours to guard
            # The worktree of a Draft that no session records (an exec job's, a finished session's): edits here
            # would become none of its steps, and a publish would set them aside. Said to both, guarded by none.
            root = _top(found[0])
            said = (
                f"gitbench: this folder is the worktree of the Draft {label}, which no agent session records: "
                "what this session edits here becomes none of its steps, and publishing the Draft would set it "
                f"aside. For a session whose turns are recorded, start the agent in the project folder, {root} "
                "(it gets a Draft of its own)."
            )
            return HookReply(context=said, message=said)
        data = _start(event, found[0])
        if data.get("failed"):
            if kind == "worktree-create":
                return HookReply(error=f"gitbench could not make the session's Draft: {data['failed']}")
            return HookReply(
                error=f"gitbench could not make this session's Draft: {data['failed']}",
                context=(
                    f"gitbench could not give this session a Draft ({data['failed']}). Edits to the user's "
                    f"checkout, {data['root']}, are refused: tell the user, and ask them to fix it and start again."
                ),
            )
        if kind == "worktree-create":
            return HookReply(worktree=data["worktree"])
        return HookReply(context=_welcome(data), env=_env(data))
    ctx = _context(event)
    if ctx is None:
        return HookReply()
    if kind == "prompt":
        return prompt(event, ctx)
    if kind == "turn-end":
        return step(event, ctx)
    if kind == "session-end":
        return step(event, ctx, final=True)
    if kind == "worktree-remove":
        return HookReply()  # the Draft outlives the agent's worktree: publish or discard it
    return HookReply()


def _in_other_worktree(found: tuple[str, str]) -> bool:
    """A linked worktree that is not gitbench's: the user's own checkout of another branch."""
    gitdir, top = found
    return os.path.isfile(os.path.join(top, ".git"))


def _draft_of_worktree(top: str) -> str | None:
    """The label of the gitbench Draft whose worktree ``top`` is (its HEAD names the Draft's branch), or None."""
    from gitbench.model import DRAFT_PREFIX

    gitdir = _linked_gitdir(top)
    if gitdir is None:
        return None
    try:
        with open(os.path.join(gitdir, "HEAD")) as fh:
            head = fh.read().strip()
    except OSError:
        return None
    ref = head[len("ref: ") :] if head.startswith("ref: ") else ""
    return ref[len(DRAFT_PREFIX) :] if ref.startswith(DRAFT_PREFIX) else None


def _still_open(ctx: dict[str, Any], event: HookEvent) -> dict[str, Any] | None:
    """The session's job, going on (its Draft is there: not published, discarded or deleted): a session that
    ended and is resumed reopens its job; a worktree folder that was deleted is made again. None: start anew."""
    from gitbench import errors
    from gitbench.services import drafts

    wb = _open(ctx["gitdir"])
    with wb.changing("session"):
        job = drafts.job_record(wb, ctx["job"])
        if _gone(wb, job, {**ctx, "reopen": True}) is not None or job is None:
            return None
        if job.status not in (SESSION, JobStatus.RUNNING):
            job.status, job.finished = SESSION, None
            drafts.save_job(wb, job, note="session resumed")
        try:
            linked = _worktree(wb, job, ctx, event)
        except (errors.GitbenchError, OSError):
            return None
        pid, started = agent_process()
        data = {**ctx, "worktree": linked.path, "session": event.session, "agent_pid": pid, "agent_start": started}
        data.pop("reopen", None)
        if event.session:
            _write_session(ctx["gitdir"], event.agent, event.session, data)
        return data


def _note_model(event: HookEvent, ctx: dict[str, Any]) -> None:
    model = _model(event)
    if not model:
        return
    from gitbench.services import drafts

    wb = _open(ctx["gitdir"])
    with wb.changing("session"):
        job = drafts.job_record(wb, ctx["job"])
        if job is not None and job.agent_model != model:
            job.agent_model = model
            drafts.save_job(wb, job, note="model")
