"""The command table: every `gitbench` command, the module that holds it and the line `gitbench --help` shows;
and, for the everyday commands, their options once more in a form read without click or typer (a fast path:
importing those and building the parser cost more CPU than the command itself, docs/performance.md). A test
(tests/test_cli_functions.py) holds each fast form equal to the command's typer declaration: the same names,
kinds and destinations. Kept free of imports: app.main reads it for every command."""

from __future__ import annotations

from typing import Literal, NamedTuple


class Opt(NamedTuple):
    names: tuple[str, ...]  # as typed: ("-m", "--message")
    dest: str  # the command function's argument
    kind: Literal["flag", "text", "int", "many"]  # many: a repeatable text option, a list
    min: int | None = None  # an int's smallest value (a smaller one goes to click, which says so)


class Fast(NamedTuple):
    function: str  # the command function in the entry's module
    options: tuple[Opt, ...]
    positionals: tuple[str, ...] = ()  # optional arguments, in order
    rest: str | None = None  # the argument that takes everything from the first positional or `--` on


JSON = Opt(("--json",), "json", "flag")
DRAFT = Opt(("--draft",), "draft", "text")


class Entry(NamedTuple):
    module: str  # under gitbench.cli; it has ``declare(app: typer.Typer)`` and one plain function per command
    summary: str  # the one line `gitbench --help` shows (tests check it against the command's own help)
    fast: Fast | None = None  # the everyday commands' options, parsed without click


# In the order `gitbench --help` lists them: the everyday loop first.
COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "workbench_cmds",
        "Adopt (or create) a Git repository as a Workbench; install the hooks; take the first checkpoint.",
    ),
    "status": Entry(
        "workbench_cmds", "Published, the open Draft, the last job, and reminders.", Fast("status", (JSON,))
    ),
    "exec": Entry(
        "draft_cmds",
        "Run CMD as a job in a new Draft's worktree; its commits and changes become the Draft's steps.",
        Fast(
            "exec",
            (
                Opt(("--files", "-f"), "files", "many"),
                Opt(("-m", "--message"), "message", "text"),
                Opt(("--on-draft",), "on_draft", "text"),
                Opt(("--timeout",), "timeout", "text"),
                Opt(("--ok-exit",), "ok_exit", "many"),
                Opt(("--sparse",), "sparse", "flag"),
                JSON,
            ),
            rest="command",
        ),
    ),
    "ask": Entry("model_cmds", "Ask a model to edit files: a job into a new Draft, one step per batch of files."),
    "review": Entry(
        "draft_cmds",
        "What the Draft changes against Published: files, diffstat, diff.",
        Fast("review", (Opt(("--patch", "-p"), "patch", "flag"), DRAFT, JSON)),
    ),
    "publish": Entry(
        "draft_cmds",
        "Apply the Draft to Published atomically, take a publish checkpoint, remove the Draft.",
        Fast(
            "publish",
            (
                DRAFT,
                Opt(("--check",), "check", "text"),
                Opt(("--no-check",), "no_check", "flag"),
                Opt(("--remote",), "remote", "text"),
                Opt(("--no-remote",), "no_remote", "flag"),
                JSON,
            ),
        ),
    ),
    "discard": Entry(
        "draft_cmds",
        "Remove the Draft (kept recoverable for 14 days); Published is untouched.",
        Fast("discard", (Opt(("--yes", "-y"), "yes", "flag"), DRAFT, Opt(("--undo",), "undo", "flag"), JSON)),
    ),
    "keep": Entry(
        "workbench_cmds", "Keep a stale Draft: no stale-Draft prompt for another 7 days.", Fast("keep", (DRAFT, JSON))
    ),
    "checkpoint": Entry(
        "checkpoint_cmds",
        "Take a manual checkpoint of Published and the records.",
        Fast("checkpoint", (Opt(("-m", "--message"), "message", "text"), JSON)),
    ),
    "checkpoints": Entry(
        "checkpoint_cmds",
        "The checkpoint history, oldest first: kind, date, job, message.",
        Fast("checkpoints", (Opt(("--all",), "every", "flag"), Opt(("--limit", "-n"), "limit", "int", 1), JSON)),
    ),
    "restore": Entry(
        "checkpoint_cmds", "Go back in time: Published and the job records as they were at CHECKPOINT (undoable)."
    ),
    "log": Entry(
        "checkpoint_cmds",
        "The audit trail: gitbench's step commits and their trailers.",
        Fast("log", (Opt(("-n",), "limit", "int"), JSON)),
    ),
    "why": Entry(
        "provenance_cmds", 'Who wrote these lines: the job, agent, model, step, checkpoint and prompt, or "by hand".'
    ),
    "export": Entry("provenance_cmds", "Export gitbench's records in formats other tools read."),
    "resume": Entry(
        "model_cmds", "Continue a failed, paused or cancelled job from its last completed step, with any model."
    ),
    "report": Entry(
        "model_cmds",
        "A job's report: why it stopped, the last completed step, what changed, usage, attempts, next actions.",
    ),
    "jobs": Entry(
        "model_cmds", "Every job: when, what kind, its status, model(s), steps and files.", Fast("jobs", (JSON,))
    ),
    "models": Entry("model_cmds", "The configured providers and models, and whether each answers."),
    "chat": Entry(
        "model_cmds", "The Workshop conversation with its publish checkpoints inline; on a terminal, take prompts."
    ),
    "try": Entry(
        "attempt_cmds", "Run a Workshop job again with other models, each into its own Draft labeled by model."
    ),
    "drafts": Entry(
        "attempt_cmds",
        "The open Drafts, side by side: label, model, base, age, steps, files, tokens, status.",
        Fast("drafts", (JSON,)),
    ),
    "compare": Entry(
        "attempt_cmds",
        "The scorecard of the open Drafts (kept on the records ref): diffstat, usage, attempts, time, check.",
    ),
    "rebase": Entry(
        "attempt_cmds",
        "Put a Draft made from an older Published on top of the current one (refused if both changed a file).",
    ),
    "add": Entry("file_cmds", "Put files on Published (one commit); outside files are copied in."),
    "rm": Entry("file_cmds", "Remove files from Published (one commit)."),
    "extract": Entry("file_cmds", "Copy a file or folder of Published out of the Workbench."),
    "workflow": Entry("workflow_cmds", "Run multi-module workflows (.gitbench/workflow.yaml) as jobs into the Draft."),
    "agent": Entry("agent_cmds", "Run an agent in a Draft, or install its hooks so it uses Drafts by itself."),
    "mcp": Entry(
        "mcp_cmds",
        "Serve the Workbench to an agent over MCP (stdio): status, review, checkpoint, checkpoints, publish, "
        "discard, restore, why.",
    ),
    "push": Entry(
        "remote_cmds",
        "Share Published, checkpoints and records (and Drafts) with a Git server, in one atomic push.",
        Fast(
            "push",
            (
                Opt(("--drafts",), "drafts", "flag"),
                Opt(("--overwrite-published",), "overwrite_published", "flag"),
                JSON,
            ),
            ("remote",),
        ),
    ),
    "pull": Entry(
        "remote_cmds",
        "Bring a Git server's checkpoints, records and Published (fast-forward) here.",
        Fast(
            "pull",
            (Opt(("--drafts",), "drafts", "flag"), Opt(("--keep-mine",), "keep_mine", "flag"), JSON),
            ("remote",),
        ),
    ),
    "remote": Entry("remote_cmds", "Set up a Git remote to carry gitbench's refs."),
    "gc": Entry(
        "gc_cmds",
        "Remove old auto checkpoints, trash, logs and ended jobs' folders ([gc] in the config); Git then drops "
        "the objects nothing needs.",
    ),
    "recover": Entry(
        "workbench_cmds", "Finish or roll back an interrupted operation; clear stale locks and worktrees."
    ),
    "demo": Entry("workbench_cmds", "Run a real job end to end in a throw-away Workbench (offline, no API key)."),
    "tui": Entry("tui_cmds", "The terminal UI: Workshop, Review, Draft actions, Checkpoints and the workflow view."),
}

HELP = "Safe, reviewable, reversible AI edits, using nothing but Git."


def parse(fast: Fast, args: list[str]) -> dict[str, object] | None:
    """The command function's arguments for ``args`` (what follows the command's name), or None when they are
    anything but the plain forms (``--opt=value``, a value that looks like an option, ``--help``, an unknown
    option, a bad number): click then parses them, and says what is wrong."""
    by_name = {name: opt for opt in fast.options for name in opt.names}
    kwargs: dict[str, object] = {}
    left = list(fast.positionals)
    i = 0
    while i < len(args):
        arg = args[i]
        if fast.rest is not None and (arg == "--" or not arg.startswith("-")):
            kwargs[fast.rest] = args[i + 1 :] if arg == "--" else args[i:]
            return kwargs
        if not arg.startswith("-"):
            if not left:
                return None
            kwargs[left.pop(0)] = arg
            i += 1
            continue
        opt = by_name.get(arg)
        if opt is None:
            return None
        if opt.kind == "flag":
            kwargs[opt.dest] = True
            i += 1
            continue
        if i + 1 >= len(args) or args[i + 1].startswith("-"):
            return None
        value = args[i + 1]
        if opt.kind == "many":
            kwargs.setdefault(opt.dest, [])
            kwargs[opt.dest].append(value)  # type: ignore[attr-defined]
        elif opt.kind == "int":
            if not value.isdigit() or (opt.min is not None and int(value) < opt.min):
                return None
            kwargs[opt.dest] = int(value)
        else:
            kwargs[opt.dest] = value
        i += 2
    if fast.rest is not None:
        kwargs[fast.rest] = []
    return kwargs
