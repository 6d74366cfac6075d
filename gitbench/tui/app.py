"""The app: the status bar (always visible), the error banner, the view the menu opened, the footer; the keys.

What runs where is ``runner.WorkerApp``'s; what the user can do is in ``flows``; this file puts them on screen.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, ContentSwitcher, DataTable, Footer

from gitbench import errors
from gitbench.model import OperationResult
from gitbench.tui import flows
from gitbench.tui.calls import Overview
from gitbench.tui.error_banner import ErrorBanner
from gitbench.tui.prompts import ChoiceScreen, HelpScreen
from gitbench.tui.runner import JobProgress, ModuleProgress, WorkerApp
from gitbench.tui.status_bar import StatusBar
from gitbench.tui.views.checkpoints import CheckpointsView
from gitbench.tui.views.menu import MenuView
from gitbench.tui.views.review import ReviewView
from gitbench.tui.views.workflow import WorkflowView
from gitbench.tui.views.workshop import WorkshopView

VIEWS = ("menu", "workshop", "review", "checkpoints", "workflow")


class GitbenchApp(WorkerApp):
    CSS_PATH = "app.tcss"
    TITLE = "gitbench"
    HELP_TITLE: ClassVar[str] = "Everywhere"
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [
        ("enter / tab", "In the error banner: do the focused next action / go to the next one")
    ]
    REFRESH_SECONDS: ClassVar[float] = 5.0  # the status bar follows changes made by other gitbench processes
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help, even while typing", show=False, priority=True),
        Binding("escape", "menu", "Menu"),
        Binding("w", "show('workshop')", "Workshop"),
        Binding("v", "show('review')", "Review"),
        Binding("c", "show('checkpoints')", "Checkpoints"),
        Binding("f", "show('workflow')", "Workflow"),
        Binding("p", "publish", "Publish"),
        Binding("d", "discard", "Discard"),
        Binding("u", "resume_work", "Resume Work", show=False),
        Binding("f5", "refresh", "Refresh", show=False),
        Binding("ctrl+c", "cancel_job", "Cancel the running job", show=False, priority=True),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.overview: Overview | None = None
        self.last_ask: tuple[str, list[str], str | None] | None = None  # to send again after a Draft prompt

    # -- layout -----------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield ErrorBanner(id="error-banner")
        with ContentSwitcher(initial="menu", id="views"):
            yield MenuView(id="menu")
            yield WorkshopView(id="workshop")
            yield ReviewView(id="review")
            yield CheckpointsView(id="checkpoints")
            yield WorkflowView(id="workflow")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = os.path.basename(self.root.rstrip("/"))
        self.start(flows.opening(self), "opening")
        self.set_interval(self.REFRESH_SECONDS, self.refresh_overview)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def banner(self) -> ErrorBanner:
        return self.query_one(ErrorBanner)

    @property
    def current_view(self) -> str:
        return self.query_one(ContentSwitcher).current or "menu"

    def show_job(self, what: str | None) -> None:
        self.status_bar.show_job(what)

    def on_job_progress(self, message: JobProgress) -> None:
        view = self.query_one(WorkflowView) if self.running and self.running.kind == "workflow" else None
        (view or self.query_one(WorkshopView)).add_progress(message.text)

    def on_module_progress(self, message: ModuleProgress) -> None:
        self.query_one(WorkflowView).module_progress(message.module, message.state, message.done, message.total)
        # While modules run the engine's banner is `Status: running`; the run's end brings the engine's own.
        self.status_bar.show_engine_progress(message.done, message.total)

    # -- what the user sees ----------------------------------------------------------------------------------------
    def show_error(self, exc: errors.GitbenchError) -> None:
        self.banner.show(exc)

    def show_result(self, res: OperationResult) -> None:
        lines = [res.summary]
        lines += [f"checkpoint: {cp}" for cp in res.checkpoints if cp]
        lines += [f"note: {n}" for n in res.notes]
        self.banner.clear()
        self.status_bar.show_message("\n".join(lines))

    def say(self, text: str) -> None:
        """A line in the status bar (a cancelled prompt, a workflow tool's answer)."""
        self.status_bar.show_message(text)

    def refresh_overview(self) -> None:
        self.start(flows.refresh(self), "overview")

    def after_change(self) -> None:
        """Something changed (or may have): the status bar and the view on screen show it as it now is."""
        self.refresh_overview()
        load = getattr(self.query_one(f"#{self.current_view}"), "load", None)
        if load is not None:
            self.start(load(), f"reload {self.current_view}")

    def prefetch(self) -> None:
        """Read the checkpoint history in the background once the window is open, so Checkpoints shows its rows the
        moment it opens (opening it reads them again)."""
        view = self.query_one(CheckpointsView)
        if not view.query_one("#checkpoint-table", DataTable).row_count:
            self.start(view.load(), "checkpoints")

    def job_started(self, prompt: str) -> None:
        self.query_one(WorkshopView).job_started(prompt)

    def apply_overview(self, overview: Overview) -> None:
        if self.running is not None:
            overview.status.busy = None  # the lock is held by this window's own job, shown as running already
        self.overview = overview
        self.status_bar.show_overview(overview)
        self.query_one(MenuView).show_resume(overview.resume)
        self.query_one(CheckpointsView).show_blocked(overview.restore_blocked)
        self.query_one(WorkshopView).show_blocked(overview.restore_blocked)

    def show_view(self, name: str) -> None:
        self.query_one(ContentSwitcher).current = name
        view = self.query_one(f"#{name}")
        if hasattr(view, "opened"):
            view.opened()

    async def ask_choice(self, question: str, choices: list[tuple[str, str]], screen_id: str = "prompt") -> str:
        """One of the seed's prompts: the key of the chosen button ("cancel" on escape)."""
        answer = await self.push_screen_wait(ChoiceScreen(question, choices, id=screen_id))
        return answer or "cancel"

    # -- actions (keys, the menu, the status bar's buttons) --------------------------------------------------------
    def action_show(self, name: str) -> None:
        if name in VIEWS:
            self.show_view(name)

    def action_menu(self) -> None:
        if self.banner.shown:
            self.banner.clear()
        else:
            self.show_view("menu")

    def action_help(self) -> None:
        if not isinstance(self.screen, ModalScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The keys, read from the bindings themselves so the help never disagrees with them."""
        sections = []
        for owner in (GitbenchApp, MenuView, WorkshopView, ReviewView, CheckpointsView, WorkflowView, ChoiceScreen):
            keys = []
            for b in owner.BINDINGS:
                if isinstance(b, Binding) and b.description:
                    keys.append((self.get_key_display(b), b.description))
            keys += list(getattr(owner, "EXTRA_KEYS", []))
            if keys:
                sections.append((str(getattr(owner, "HELP_TITLE", owner.__name__)), keys))
        return sections

    def action_refresh(self) -> None:
        self.refresh_overview()
        view = self.query_one(f"#{self.current_view}")
        if hasattr(view, "opened"):
            view.opened()

    def action_publish(self) -> None:
        self.start(flows.publish(self), "publish")

    def action_discard(self) -> None:
        self.start(flows.discard(self), "discard")

    async def action_quit(self) -> None:
        """A running job is cancelled first (it stops cleanly at its next step, as Ctrl-C does in the CLI)."""
        if self.running is not None:
            self.action_cancel_job()
        self.exit()

    def action_resume_work(self) -> None:
        self.start(flows.resume_work(self), "resume-work")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        handlers: dict[str, Callable[[], None]] = {
            "publish": self.action_publish,
            "discard": self.action_discard,
            "cancel-job": self.action_cancel_job,
        }
        if event.button.id in handlers:
            event.stop()
            handlers[event.button.id]()
