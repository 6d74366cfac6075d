"""agent run, agent install, agent uninstall (the agents people run, in Drafts: docs/agents.md)."""

from __future__ import annotations

import typer

from gitbench.cli import render
from gitbench.cli.common import open_workbench

AGENTS_HELP = "claude-code, codex, cursor or gemini"


def register(app: typer.Typer) -> None:
    agent = typer.Typer(help="Run an agent in a Draft, or install its hooks so it uses Drafts by itself.")
    app.add_typer(agent, name="agent")

    @agent.command("run", context_settings={"allow_interspersed_args": False})
    def run(
        command: list[str] = typer.Argument(
            None, help="The agent and its own arguments: claude, codex, aider, gemini, opencode, or any command."
        ),
        message: str = typer.Option("", "-m", "--message", help="The job's description (its steps' subject)."),
        timeout: str = typer.Option(None, "--timeout", help="Stop the agent (and all it started) after: 90s, 15m, 2h."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Checkpoint, a new Draft's worktree, and AGENT started in it; each turn (or commit) a step; review."""
        import sys

        from gitbench.integrations.run import run_agent
        from gitbench.services import commands

        limit = commands.parse_timeout(timeout)
        wb = open_workbench()
        say = render.progress(json)
        res = run_agent(
            wb,
            list(command or []),
            message,
            say,
            command_stdout=sys.stderr.fileno() if json else None,
            timeout=limit,
        )
        render.ok_json(res) if json else render.result(res)

    @agent.command("install")
    def install(
        name: str = typer.Argument(..., help=f"The agent: {AGENTS_HELP}."),
        user: bool = typer.Option(False, "--user", help="In your user settings (every project), not this project's."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Add gitbench's hooks to the agent's settings: each session a Draft, each turn a step."""
        from gitbench.integrations import install as installer

        res = installer.install(name, user)
        render.ok_json(res) if json else render.result(res)

    @agent.command("uninstall")
    def uninstall(
        name: str = typer.Argument(..., help=f"The agent: {AGENTS_HELP}."),
        user: bool = typer.Option(False, "--user", help="From your user settings, not this project's."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Take exactly gitbench's hooks out of the agent's settings."""
        from gitbench.integrations import install as installer

        res = installer.uninstall(name, user)
        render.ok_json(res) if json else render.result(res)
