"""ask, resume, report, jobs, models, chat: Workshop jobs on model providers."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from gitbench import clock, errors
from gitbench.cli import render
from gitbench.cli.opening import open_workbench, progress, read_only, shown
from gitbench.cli.prompts import choose_on_draft, interactive

if TYPE_CHECKING:
    import typer


def ask(
    prompt: str,
    files: list[str] | None = None,
    model: str | None = None,
    new: bool = False,
    on_draft: str | None = None,
    draft: str | None = None,
    json: bool = False,
) -> int:
    """Ask a model to edit files: a job into a new Draft, one step per batch of files."""
    from gitbench.services import ask as ask_service

    wb = open_workbench()
    if draft is not None and on_draft != "continue":
        raise errors.UsageError("--draft goes with --on-draft continue: the open Draft the job continues.")
    choice = choose_on_draft(wb, on_draft, json, kind="ask")
    res = ask_service.ask(
        wb,
        prompt,
        list(files or []),
        model,
        new,
        choice,
        progress(json),
        command_stdout=sys.stderr.fileno() if json else None,
        draft=draft,
    )
    return shown(res, json)


def resume(job: str | None = None, model: str | None = None, json: bool = False) -> int:
    """Continue a failed, paused or cancelled job from its last completed step, with any model."""
    from gitbench.services import ask as ask_service

    wb = open_workbench()
    res = ask_service.resume(wb, job, model, progress(json), command_stdout=sys.stderr.fileno() if json else None)
    return shown(res, json)


def report(job: str | None = None, json: bool = False) -> int:
    """A job's report: why it stopped, the last completed step, what changed, usage, attempts, next actions."""
    from gitbench.services import reports

    return read_only(lambda wb: reports.report(wb, job), json, _render_report)


def jobs(json: bool = False) -> int:
    """Every job: when, what kind, its status, model(s), steps and files."""
    from gitbench.services import reports

    return read_only(reports.jobs, json, _render_jobs)


def _render_jobs(items: list[dict[str, Any]]) -> None:
    if not items:
        render.out("No jobs yet. Start one: gitbench ask \"...\" --files 'GLOB'  or  gitbench exec -- CMD")
        return
    for j in items:
        models = ",".join(j["models"])
        render.out(
            f"{j['job']}  {clock.iso(j['created'])}  {j['kind']:<4} {j['status']:<11} "
            f"{j['steps']} step(s) {j['files']} file(s)  {models}"
        )
    render.out("details: gitbench report JOB")


def models(json: bool = False, check: bool = True) -> int:
    """The configured providers and models, and whether each answers."""
    from gitbench.services import models as models_service

    return shown(models_service.models(open_workbench(), check), json, _render_models)


def _render_models(data: dict[str, Any]) -> None:
    render.out(f"default model: {data['default_model'] or '(none: pass --model, or set one)'}")
    for f in data["config_files"]:
        render.out(f"config: {f}")
    for p in data["providers"]:
        state = p["answer"] if p["checked"] else ("not configured" if not p["configured"] else "not checked")
        mark = "ok " if p["ok"] else "-- " if p["checked"] else "   "
        render.out(f"{mark}{p['name']:<12} {p['kind']:<9} {p['base_url']:<40} {state}")
    for alias, target in data["aliases"].items():
        render.out(f"   alias {alias} = {target}")
    for c in data["commands"]:  # agents named by the default model or an alias: is the program there?
        found = f"found: {c['found']}" if c["found"] else "not found on PATH"
        render.out(f"{'ok ' if c['found'] else '-- '}command {c['program']:<12} {found}")
    render.out('use one: gitbench ask "..." --files GLOB --model PROVIDER:MODEL   (docs/providers.md)')


def chat(
    conversation: str | None = None, files: list[str] | None = None, model: str | None = None, json: bool = False
) -> int:
    """The Workshop conversation with its publish checkpoints inline; on a terminal, take prompts."""
    from gitbench.services import chat as chat_service

    wb = open_workbench()
    data = chat_service.show(wb, conversation)
    if json:
        render.ok_json(data)
        return 0
    _render_chat(data)
    if interactive() and sys.stdin.isatty():
        from gitbench.cli import chat_session

        chat_session.run(wb, list(files or []), model)
    return 0


def declare(app: typer.Typer) -> None:
    """The options and help of the commands the table does not declare (cli/table.py), for typer (imported
    only when one of these commands is parsed)."""
    import typer

    @app.command("ask", help=ask.__doc__)
    def _ask(
        prompt: str = typer.Argument(..., help="What the model should do."),
        files: list[str] = typer.Option(
            None,
            "--files",
            "-f",
            help="Glob of files the model may read and change (repeatable; required except for command: agents).",
        ),
        model: str = typer.Option(
            None, "--model", "-m", help="provider:model, e.g. ollama:qwen2.5-coder (default: the configured one)."
        ),
        new: bool = typer.Option(False, "--new", help="Start a new conversation."),
        on_draft: str = typer.Option(
            None,
            "--on-draft",
            help="If a Draft is open: continue it, fork a new Draft beside it, or publish or discard it first.",
        ),
        draft: str = typer.Option(
            None, "--draft", help="With --on-draft continue: the Draft to continue, when several are open."
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return ask(prompt, files, model, new, on_draft, draft, json)

    @app.command("resume", help=resume.__doc__)
    def _resume(
        job: str = typer.Argument(None, help="The job to resume (default: the open Draft's, or the last stopped)."),
        model: str = typer.Option(None, "--model", "-m", help="Resume with another model (provider:model)."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return resume(job, model, json)

    @app.command("report", help=report.__doc__)
    def _report(
        job: str = typer.Argument(None, help="The job (default: the last one)."),
        json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> int:
        return report(job, json)

    @app.command("models", help=models.__doc__)
    def _models(
        json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
        check: bool = typer.Option(True, "--check/--no-check", help="Ask each configured provider if it answers."),
    ) -> int:
        return models(json, check)

    @app.command("chat", help=chat.__doc__)
    def _chat(
        conversation: str = typer.Argument(None, help="The conversation (default: the current one)."),
        files: list[str] = typer.Option(
            None, "--files", "-f", help="For an interactive session: the files prompts may change."
        ),
        model: str = typer.Option(None, "--model", "-m", help="For an interactive session: the model."),
        json: bool = typer.Option(False, "--json", help="Print the conversation as JSON."),
    ) -> int:
        return chat(conversation, files, model, json)


def _render_report(data: dict[str, Any]) -> None:
    out = render.out
    out(f"Job {data['job']} ({data['kind']}): {data['status']}")
    if data.get("reason"):
        out(f"  reason:     {data['reason']} [{data.get('class')}]")
    out(
        f"  steps:      {data['last_completed_step']}/{data['steps_total']} done"
        f" ({data['steps_completed']} commit(s) on the Draft)"
    )
    out(f"  model(s):   {', '.join(data['models'])}")
    out(
        f"  files:      {len(data['files_changed'])} changed"
        + (": " + ", ".join(data["files_changed"][:8]) if data["files_changed"] else "")
    )
    out(f"  checkpoints: {', '.join(data['checkpoints_created']) or 'none'}")
    usage = data["usage"]
    out(
        f"  usage:      estimate {usage['estimate'] if usage['estimate'] is not None else '?'} tokens, "
        f"actual {usage['actual'] if usage['actual'] is not None else '?'}"
    )
    out(f"  attempts:   {data['attempts']}")
    for r in data.get("refused", [])[:20]:
        out(f"  refused:    {r['path']}: {r['reason']}")
    for s in data.get("skipped", [])[:20]:
        out(f"  skipped:    {s['path']}: {s['reason']}")
    partial = data.get("partial_results", {})
    if partial.get("draft"):
        out(f"  Draft:      {partial['draft']}")
    if data.get("next_actions"):
        out("  next:")
        for a in data["next_actions"]:
            out(f"    • {a['label']}" + (f": {a['command']}" if a.get("command") else ""))


def _render_chat(data: dict[str, Any]) -> None:
    if not data["items"]:
        render.out("No conversation yet. Start one: gitbench ask \"...\" --files 'GLOB'")
        return
    render.out(f"Conversation {data['conversation']}")
    for item in data["items"]:
        when = clock.iso(float(item.get("time") or 0))
        if item["type"] == "checkpoint":
            render.out(f"  ── {item['name']} published ({when}) · restore: {item['restore']}")
            continue
        who = "you" if item.get("role") == "user" else item.get("model") or "model"
        render.out(f"[{when}] {who}: {item.get('text', '')}")
        if item.get("role") == "assistant":
            files = item.get("files") or []
            render.out(
                f"    job {item.get('job')} {item.get('status')}; {len(files)} file(s) changed"
                + (f"; report: gitbench report {item.get('job')}" if item.get("status") != "complete" else "")
            )
