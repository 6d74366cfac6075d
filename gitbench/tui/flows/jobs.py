"""Jobs: a Workshop prompt, resume (with the same model or another), a workflow run or rerun and the workflow
view's tools, and the menu's Resume Work. Each job runs in a thread, cancellable (``GitbenchApp.run_job``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.events import Progress
from gitbench.model import OperationResult
from gitbench.services.workbench import Workbench
from gitbench.tui import calls
from gitbench.tui.flows.common import DRAFT_CHOICES, refresh, require_idle
from gitbench.tui.flows.draft import stale_drafts

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp


WORKSHOP_CHOICES = [
    ("continue", "Continue it"),
    ("fork", "Fork a new Draft beside it"),
    ("publish", "Publish it"),
    ("discard", "Discard it"),
    ("cancel", "Cancel this job"),
]


async def choose_on_draft(app: GitbenchApp) -> str | None:
    """Before a Workshop job with a Draft open: the stale Draft prompt, then the CLI's choice for an ask job (v1.5):
    Continue / Fork / Publish / Discard / Cancel. (The workflow's run asks its own, shorter, choice.)"""
    await refresh(app)
    assert app.overview is not None
    st = app.overview.status
    if any(d.stale for d in st.drafts):
        await stale_drafts(app, st.drafts)
        assert app.overview is not None
        st = app.overview.status
    if st.draft is None and not st.draft_problem:
        return None
    return await app.ask_choice(
        "A Draft is open. Continue it (this job's steps go on it), fork a new Draft "
        "beside it, publish it, discard it, or cancel this job?",
        WORKSHOP_CHOICES,
        "draft-open",
    )


async def ask(app: GitbenchApp, prompt: str, files: list[str], model: str | None, on_draft: str | None = None) -> None:
    """A Workshop prompt: `gitbench ask PROMPT --files ... [--model M]` as a job in a thread."""
    from gitbench.services import ask as ask_service

    require_idle(app, "a new job")
    app.last_ask = (prompt, files, model)
    choice = on_draft or await choose_on_draft(app)
    if choice == "cancel":
        app.say("Cancelled: the job did not run; the Draft is as it was.")
        return
    app.job_started(prompt)
    try:
        res = await app.run_job(
            "ask", "ask", lambda wb, say, _m: ask_service.ask(wb, prompt, files, model, False, choice, say)
        )
    finally:
        app.after_change()
    finished(app, res)


async def resume(app: GitbenchApp, job: str | None, model: str | None) -> None:
    """`gitbench resume [JOB] [--model M]`: the stopped job goes on from its last completed step."""
    from gitbench.services import ask as ask_service

    require_idle(app, "resuming")
    app.show_view("workshop")
    try:
        res = await app.run_job("resume", "ask", lambda wb, say, _m: ask_service.resume(wb, job, model, say))
    finally:
        app.after_change()
    finished(app, res)


async def resume_switching_model(app: GitbenchApp, job: str | None) -> None:
    from gitbench.tui.prompts import PickModelScreen

    options = await app.call(lambda wb: calls.models(wb, True))
    model = await app.push_screen_wait(PickModelScreen(options))
    if model is None:
        app.say("Cancelled: the job is as it was.")
        return
    await resume(app, job, model or None)


def finished(app: GitbenchApp, res: OperationResult) -> None:
    """A job ended: its result; Review opens when it finished with a Draft (the seed). A workflow that paused
    (a gate, input, modules left) keeps its view: the operator is not done with it."""
    app.show_result(res)
    if res.draft and res.review is not None and (res.job is None or res.job.status == "complete"):
        app.show_view("review")


def _engine_run(only: list[str] | None, on_draft: str | None) -> Callable[..., OperationResult]:
    def run(wb: Workbench, say: Progress, on_module: Callable[[str, str, int, int], None]) -> OperationResult:
        from gitbench.providers import config
        from gitbench.workflow.engine import Engine

        wb.recover_if_idle()
        engine = Engine(wb)
        engine.on_module = on_module
        # where its command and model modules run: [workflow] executor of the config, as `gitbench workflow run`
        executor = config.choose_executor(None, config.load(wb.root if wb.git.workdir else None))
        result: OperationResult = engine.run(None, only, None, say, on_draft, executor)
        return result

    return run


async def workflow_run(app: GitbenchApp, only: list[str] | None, on_draft: str | None = None) -> None:
    """`gitbench workflow run [--module M]` (or `resume`: the same run), live in the workflow view."""
    require_idle(app, "a workflow run")
    app.show_view("workflow")
    try:
        while True:
            try:
                res = await app.run_job("workflow", "workflow", _engine_run(only, on_draft))
                break
            except errors.DraftOpen:
                if on_draft is not None:
                    raise
                # Another job's Draft is open (the workflow's own is continued, never refused): the seed's choice.
                on_draft = await app.ask_choice(
                    "A Draft is open. Publish it, discard it, or cancel this job?", DRAFT_CHOICES, "draft-open"
                )
                if on_draft == "cancel":
                    app.say("Cancelled: the job did not run; the Draft is as it was.")
                    return
    finally:
        app.after_change()
    finished(app, res)


async def workflow_tool(app: GitbenchApp, tool: str, module: str, on: bool) -> None:
    """The workflow view's g (gate), a (approve) and s (skip), as `gitbench workflow gate|approve|skip`."""
    require_idle(app, f"workflow {tool}")

    def apply(wb: Workbench) -> str:
        eng = calls.engine(wb)
        if tool == "gate":
            return str(eng.set_gate(module, required=on))
        if tool == "approve":
            return str(eng.set_gate(module, approved=on))
        return str(eng.skip(module, undo=not on))

    app.say(await app.call(apply))
    app.after_change()


async def resume_work(app: GitbenchApp) -> None:
    """The menu's Resume Work: the engine's resume (then the workflow view), or the stopped Workshop job's."""
    await refresh(app)
    assert app.overview is not None
    if app.overview.resume is None:
        app.say("Nothing to resume: no workflow or job is stopped.")
        return
    kind, what = app.overview.resume
    if kind == "workflow":
        await workflow_run(app, None)
    else:
        await resume(app, what, None)
