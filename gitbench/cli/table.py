"""The command table: every `gitbench` command, the module that holds it and the line `gitbench --help` shows;
and, for the everyday commands, the one declaration of their options and arguments (names, kind, help). app.main
parses their plain forms from it without click or typer (importing those and building the parser cost more CPU
than the command itself, docs/performance.md); when click parses (`--help`, `--opt=value`, anything unusual),
its typer parameters are made from the same declaration (`cli/lazy.declare_table`), with the command function's
own defaults. So an everyday option is spelled once, here. Kept free of imports: app.main reads it for every
command."""

# No `from __future__ import annotations` here (as in events.py): typing.NamedTuple makes each annotation written
# as a string a ForwardRef, compiling it (~20 us a field, at every command's start); these evaluate as they are.
from typing import Literal, NamedTuple


class Opt(NamedTuple):
    names: tuple[str, ...]  # as typed: ("-m", "--message")
    dest: str  # the command function's argument
    kind: Literal["flag", "text", "int", "many"]  # many: a repeatable text option, a list
    help: str
    min: int | None = None  # an int's smallest value (a smaller one goes to click, which says so)
    metavar: str | None = None  # how `--help` names its value, when not by its type


class Arg(NamedTuple):
    dest: str  # the command function's argument
    help: str


class Fast(NamedTuple):
    function: str  # the command function in the entry's module (its defaults are the options' defaults)
    options: tuple[Opt, ...]
    positionals: tuple[Arg, ...] = ()  # optional arguments, in order
    rest: Arg | None = None  # the argument that takes everything from the first positional or `--` on


def json_opt(what: str = "result") -> Opt:
    """`--json`, whose help names what it prints."""
    return Opt(("--json",), "json", "flag", f"Print the {what} as JSON.")


JSON = json_opt()
DRAFT = Opt(("--draft",), "draft", "text", "Which Draft, when several are open (`gitbench drafts`).")
REMOTE = Arg("remote", "The Git remote (default: Published's upstream, else origin).")


class Entry(NamedTuple):
    module: str  # under gitbench.cli: one plain function per command, ``declare(app)`` for the others' options
    summary: str  # the one line `gitbench --help` shows (tests check it against the command's own help)
    fast: Fast | None = None  # an everyday command's options: declared here only, parsed without click


# In the order `gitbench --help` lists them: the everyday loop first.
COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "workbench_cmds",
        "Adopt (or create) a Git repository as a Workbench; install the hooks; take the first checkpoint.",
    ),
    "status": Entry(
        "workbench_cmds",
        "Published, the open Draft, the last job, and reminders.",
        Fast("status", (json_opt("status"),)),
    ),
    "exec": Entry(
        "draft_cmds",
        "Run CMD as a job in a new Draft's worktree; its commits and changes become the Draft's steps.",
        Fast(
            "exec",
            (
                Opt(("--files", "-f"), "files", "many", "Glob of files the job may change (repeatable)."),
                Opt(("-m", "--message"), "message", "text", "The step's commit subject."),
                Opt(("--on-draft",), "on_draft", "text", "If a Draft is open: publish or discard it first."),
                Opt(
                    ("--timeout",),
                    "timeout",
                    "text",
                    "Stop the command (and all it started) after this long: 90, 90s, 15m, 2h.",
                ),
                Opt(
                    ("--ok-exit",),
                    "ok_exit",
                    "many",
                    "An exit status that means success for this command (repeatable, or 1,2).",
                ),
                Opt(
                    ("--sparse",),
                    "sparse",
                    "flag",
                    "Check out only the --files folders (and the top-level files) in the Draft's worktree: faster "
                    "in big repositories; the command does not see the other files.",
                ),
                JSON,
            ),
            rest=Arg("command", "The command to run, after `--`."),
        ),
    ),
    "ask": Entry("model_cmds", "Ask a model to edit files: a job into a new Draft, one step per batch of files."),
    "review": Entry(
        "draft_cmds",
        "What the Draft changes against Published: files, diffstat, diff.",
        Fast("review", (Opt(("--patch", "-p"), "patch", "flag", "Show the full diff."), DRAFT, json_opt("review"))),
    ),
    "publish": Entry(
        "draft_cmds",
        "Apply the Draft to Published atomically, take a publish checkpoint, remove the Draft.",
        Fast(
            "publish",
            (
                DRAFT,
                Opt(
                    ("--check",),
                    "check",
                    "text",
                    "Run this shell command in a clean worktree of the Draft first; publish only if it passes "
                    "(instead of [publish] check).",
                ),
                Opt(
                    ("--no-check",),
                    "no_check",
                    "flag",
                    "Skip the configured check ([publish] check); recorded in the audit.",
                ),
                Opt(
                    ("--remote",),
                    "remote",
                    "text",
                    "Publish to this Git remote's Published first, as a compare-and-swap (refused if it moved), "
                    "then here; alone: the usual remote ([publish] remote, the branch's upstream, origin).",
                    metavar="[REMOTE]",
                ),
                Opt(("--no-remote",), "no_remote", "flag", "Publish here only, even if [publish] remote is set."),
                JSON,
            ),
        ),
    ),
    "discard": Entry(
        "draft_cmds",
        "Remove the Draft (kept recoverable for 14 days); Published is untouched.",
        Fast(
            "discard",
            (
                Opt(("--yes", "-y"), "yes", "flag", "Do not ask for confirmation."),
                DRAFT,
                Opt(("--undo",), "undo", "flag", "Bring back the last discarded Draft."),
                JSON,
            ),
        ),
    ),
    "keep": Entry(
        "workbench_cmds",
        "Keep a stale Draft: no stale-Draft prompt for another 7 days.",
        Fast("keep", (DRAFT._replace(help="Which Draft, when several are open."), JSON)),
    ),
    "checkpoint": Entry(
        "checkpoint_cmds",
        "Take a manual checkpoint of Published and the records.",
        Fast("checkpoint", (Opt(("-m", "--message"), "message", "text", "Why this checkpoint."), JSON)),
    ),
    "checkpoints": Entry(
        "checkpoint_cmds",
        "The checkpoint history, oldest first: kind, date, job, message.",
        Fast(
            "checkpoints",
            (
                Opt(("--all",), "every", "flag", "Every checkpoint, not only the newest."),
                Opt(("--limit", "-n"), "limit", "int", "How many of the newest to show.", min=1),
                json_opt("list")._replace(help="Print the list as JSON (`older`: how many are not in it)."),
            ),
        ),
    ),
    "restore": Entry(
        "checkpoint_cmds", "Go back in time: Published and the job records as they were at CHECKPOINT (undoable)."
    ),
    "log": Entry(
        "checkpoint_cmds",
        "The audit trail: gitbench's step commits and their trailers.",
        Fast("log", (Opt(("-n",), "limit", "int", "How many steps to show."), json_opt("audit trail"))),
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
        "model_cmds",
        "Every job: when, what kind, its status, model(s), steps and files.",
        Fast("jobs", (json_opt("jobs"),)),
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
        Fast("drafts", (json_opt("Drafts"),)),
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
                Opt(("--drafts",), "drafts", "flag", "Push the open Drafts too (and remove shared ones gone here)."),
                Opt(
                    ("--overwrite-published",),
                    "overwrite_published",
                    "flag",
                    "Put your Published over the server's when it is not ahead of it (after a restore); still "
                    "refused if the server moved since you last saw it.",
                ),
                JSON,
            ),
            (REMOTE,),
        ),
    ),
    "pull": Entry(
        "remote_cmds",
        "Bring a Git server's checkpoints, records and Published (fast-forward) here.",
        Fast(
            "pull",
            (
                Opt(("--drafts",), "drafts", "flag", "Bring teammates' shared Drafts too."),
                Opt(
                    ("--keep-mine",),
                    "keep_mine",
                    "flag",
                    "When both Published moved on: take the server's, and keep yours as a Draft on top (nothing lost).",
                ),
                JSON,
            ),
            (REMOTE,),
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
    left = [arg.dest for arg in fast.positionals]
    i = 0
    while i < len(args):
        arg = args[i]
        if fast.rest is not None and (arg == "--" or not arg.startswith("-")):
            kwargs[fast.rest.dest] = args[i + 1 :] if arg == "--" else args[i:]
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
        kwargs[fast.rest.dest] = []
    return kwargs
