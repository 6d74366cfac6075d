"""agent run, agent install, agent uninstall (the agents people run, in Drafts: docs/agents.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench.cli.opening import open_workbench, progress, shown

if TYPE_CHECKING:
    import typer

AGENTS_HELP = "claude-code, codex, cursor or gemini"


def run(command: list[str], message: str = "", timeout: str | None = None, json: bool = False) -> int:
    """Checkpoint, a new Draft's worktree, and AGENT started in it; each turn (or commit) a step; review."""
    import sys

    from gitbench.integrations.run import run_agent
    from gitbench.services import commands

    limit = commands.parse_timeout(timeout)
    wb = open_workbench()
    res = run_agent(
        wb,
        list(command or []),
        message,
        progress(json),
        command_stdout=sys.stderr.fileno() if json else None,
        timeout=limit,
    )
    return shown(res, json)


def install(name: str, user: bool = False, json: bool = False) -> int:
    """Add gitbench's hooks to the agent's settings: each session a Draft, each turn a step."""
    from gitbench.integrations import install as installer

    return shown(installer.install(name, user), json)


def uninstall(name: str, user: bool = False, json: bool = False) -> int:
    """Take exactly gitbench's hooks out of the agent's settings."""
    from gitbench.cli.opening import users_only
    from gitbench.integrations import install as installer

    users_only("agent uninstall", name, *(("--user",) if user else ()))  # not the guarded agent's to take out

    return shown(installer.uninstall(name, user), json)


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when one of these commands is parsed)."""
    import typer

    agent = typer.Typer(help="Run an agent in a Draft, or install its hooks so it uses Drafts by itself.")
    app.add_typer(agent, name="agent")

    @agent.command("run", help=run.__doc__, context_settings={"allow_interspersed_args": False})
    def _run(
        command: list[str] = typer.Argument(
            None, help="The agent and its own arguments: claude, codex, aider, gemini, opencode, or any command."
        ),
        message: str = typer.Option("", "-m", "--message", help="The job's description (its steps' subject)."),
        timeout: str = typer.Option(None, "--timeout", help="Stop the agent (and all it started) after: 90s, 15m, 2h."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return run(command, message, timeout, json)

    @agent.command("install", help=install.__doc__)
    def _install(
        name: str = typer.Argument(..., help=f"The agent: {AGENTS_HELP}."),
        user: bool = typer.Option(False, "--user", help="In your user settings (every project), not this project's."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return install(name, user, json)

    @agent.command("uninstall", help=uninstall.__doc__)
    def _uninstall(
        name: str = typer.Argument(..., help=f"The agent: {AGENTS_HELP}."),
        user: bool = typer.Option(False, "--user", help="From your user settings, not this project's."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return uninstall(name, user, json)
