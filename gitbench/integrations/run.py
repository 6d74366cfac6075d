"""``gitbench agent run AGENT [ARGS...]``: the agent started in a new Draft's worktree, as a job.

It is ``gitbench exec`` with what makes each agent at home there (the flags below, documented in
docs/agents.md): a checkpoint, a Draft beside any other, the worktree, the agent on the terminal (interactive
when gitbench is), and for agents with hooks, gitbench's hooks passed for this run only, so each turn becomes a
step as it ends and edits aimed at the user's checkout are refused. The agent's own commits are steps too.
Review at the end.
"""

from __future__ import annotations

import os
import sys

from gitbench import errors, events
from gitbench.events import Progress
from gitbench.model import OperationResult
from gitbench.scope import Scope
from gitbench.services import agents, commands, jobs
from gitbench.services.workbench import Workbench

# The program a user names -> the agent whose hooks gitbench speaks (integrations/<module>.py).
HOOKED = {"claude": "claude-code", "codex": "codex", "gemini": "gemini", "cursor-agent": "cursor"}
# Flags that make an agent behave inside a Draft's worktree, added unless the user gave them:
#   aider: it would add .aider* to .gitignore (a change to the project the user did not ask for), and check
#          PyPI for updates (network) at every start.
EXTRA = {"aider": ["--no-gitignore", "--no-check-update"]}


def executable() -> list[str]:
    """How an agent runs this gitbench: an absolute path (the agent's PATH may not have gitbench's venv)."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if argv0 and os.path.basename(argv0) == "gitbench" and os.path.exists(argv0):
        return [os.path.abspath(argv0)]
    here = os.path.join(os.path.dirname(sys.executable), "gitbench")
    if os.path.exists(here):
        return [here]
    import shutil

    found = shutil.which("gitbench")
    return [os.path.abspath(found)] if found else [sys.executable, "-m", "gitbench"]


def flags(argv: list[str], folder: str) -> list[str]:
    """The command line the agent is started with (``folder``: where a settings file for this run may go)."""
    name = agents.program(argv)
    out = list(argv)
    for flag in EXTRA.get(name, []):
        if flag not in out:
            out.append(flag)
    hooked = HOOKED.get(name)
    if hooked is None:
        return out
    from gitbench.integrations import adapter

    run_flags = getattr(adapter(hooked), "run_flags", None)  # HOOKED names only agents of MODULES
    if run_flags is not None:
        out += run_flags([*executable(), "hook", hooked], folder)
    return out


def run_agent(
    wb: Workbench,
    argv: list[str],
    message: str = "",
    progress: Progress | None = None,
    command_stdout: int | None = None,
    timeout: float | None = None,
) -> OperationResult:
    say = progress or events.ignore
    if not argv:
        raise errors.UsageError(
            "agent run needs the agent to start, e.g. `gitbench agent run claude` or `gitbench agent run aider`.",
            [errors.Action("See the agents gitbench knows", "agent run", ("--help",))],
        )
    import shutil

    if shutil.which(argv[0]) is None:  # before a checkpoint and a Draft are made for nothing
        raise errors.UsageError(
            f"{argv[0]!r} was not found (not a path to a program, and not on PATH); nothing was done.",
            [errors.Action("Install the agent, or give its full path", "agent run", (f"/path/to/{argv[0]}",))],
        )
    full = flags(argv, wb.layout.agents)
    settings = commands.job_settings(wb)
    with wb.changing("agent run"):
        job, notes = jobs.start_job(wb, "exec", Scope.of([]), full, message, "beside")
        job.timeout = timeout if timeout is not None else settings.timeout
        label = job.draft.rsplit("/", 1)[-1]
        say(events.CheckpointTaken(job.checkpoint, label, agent=agents.program(argv)))
        subject = message or f"{agents.program(argv)} session"
        return commands.command_step(
            wb, job, notes, full, Scope.of([]), subject, say, command_stdout, settings=settings
        )
