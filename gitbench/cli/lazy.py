"""The `gitbench` command group, lazily: which command lives in which module is a static table, so
`gitbench --help` lists every command without importing one, and `gitbench X` imports only X's module (and
typer, which declares its options, only then). Subcommand groups (`workflow`, `agent`, `remote`, `export`)
are one entry each: their module declares the whole group."""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple

import click


class Entry(NamedTuple):
    module: str  # under gitbench.cli; it has ``declare(app: typer.Typer)`` and one plain function per command
    summary: str  # the one line `gitbench --help` shows (tests check it against the command's own help)


# In the order `gitbench --help` lists them: the everyday loop first.
COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "workbench_cmds",
        "Adopt (or create) a Git repository as a Workbench; install the hooks; take the first checkpoint.",
    ),
    "status": Entry("workbench_cmds", "Published, the open Draft, the last job, and reminders."),
    "exec": Entry(
        "draft_cmds", "Run CMD as a job in a new Draft's worktree; its commits and changes become the Draft's steps."
    ),
    "ask": Entry("model_cmds", "Ask a model to edit files: a job into a new Draft, one step per batch of files."),
    "review": Entry("draft_cmds", "What the Draft changes against Published: files, diffstat, diff."),
    "publish": Entry(
        "draft_cmds", "Apply the Draft to Published atomically, take a publish checkpoint, remove the Draft."
    ),
    "discard": Entry("draft_cmds", "Remove the Draft (kept recoverable for 14 days); Published is untouched."),
    "keep": Entry("workbench_cmds", "Keep a stale Draft: no stale-Draft prompt for another 7 days."),
    "checkpoint": Entry("checkpoint_cmds", "Take a manual checkpoint of Published and the records."),
    "checkpoints": Entry("checkpoint_cmds", "The checkpoint history, oldest first: kind, date, job, message."),
    "restore": Entry(
        "checkpoint_cmds", "Go back in time: Published and the job records as they were at CHECKPOINT (undoable)."
    ),
    "log": Entry("checkpoint_cmds", "The audit trail: gitbench's step commits and their trailers."),
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
    "jobs": Entry("model_cmds", "Every job: when, what kind, its status, model(s), steps and files."),
    "models": Entry("model_cmds", "The configured providers and models, and whether each answers."),
    "chat": Entry(
        "model_cmds", "The Workshop conversation with its publish checkpoints inline; on a terminal, take prompts."
    ),
    "try": Entry(
        "attempt_cmds", "Run a Workshop job again with other models, each into its own Draft labeled by model."
    ),
    "drafts": Entry(
        "attempt_cmds", "The open Drafts, side by side: label, model, base, age, steps, files, tokens, status."
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
        "remote_cmds", "Share Published, checkpoints and records (and Drafts) with a Git server, in one atomic push."
    ),
    "pull": Entry("remote_cmds", "Bring a Git server's checkpoints, records and Published (fast-forward) here."),
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


def module_commands(module: str) -> click.Group:
    """The click commands one ``gitbench.cli.<module>`` declares (typer builds them: imported here, not before)."""
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    importlib.import_module(f"gitbench.cli.{module}").declare(app)
    return typer.main.get_group(app)


class LazyGroup(click.Group):
    """A click group whose commands are the static table's; each is built from its module when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        return module_commands(entry.module).get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table: `--help` imports no command module (and no rich)."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _short(e.summary, limit)) for name, e in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _short(text: str, limit: int) -> str:
    """A summary cut to ``limit`` characters at a word, as click shortens a command's help."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."


def _root(directory: str | None, debug: bool) -> None:
    """The options before the command: where to run, and debug logging."""
    if debug:
        os.environ["GITBENCH_DEBUG"] = "1"
    if directory:
        try:
            os.chdir(directory)
        except OSError as exc:
            from gitbench import errors

            raise errors.UsageError(f"Cannot enter {directory}: {exc.strerror}.") from exc


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from gitbench import __version__

        click.echo(f"gitbench {__version__}")
        ctx.exit(0)


def group() -> LazyGroup:
    """The `gitbench` command."""

    def callback(directory: str | None, debug: bool, **_: Any) -> None:
        _root(directory, debug)

    return LazyGroup(
        name="gitbench",
        help=HELP,
        no_args_is_help=True,
        callback=callback,
        params=[
            click.Option(["-C", "directory"], default=None, help="Run as if gitbench was started in this folder."),
            click.Option(
                ["--debug"],
                is_flag=True,
                default=False,
                help="Debug logging: prompt and answer excerpts go to the logs in .git/gitbench/logs (keys are "
                "still redacted).",
            ),
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_version,
                help="Print gitbench's version and exit.",
            ),
        ],
    )
