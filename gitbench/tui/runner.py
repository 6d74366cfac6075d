"""Running service calls off the UI thread: flows as async workers, service calls and jobs in threads.

The UI thread never touches Git. ``call`` runs a service function on a Workbench of its own in a thread (pygit2
objects are not shared across threads); ``run_job`` does the same for a job (a model prompt, a workflow run),
feeds its progress back as messages, and lets ctrl+c cancel it; ``start`` runs a flow (prompt, call, show the
outcome) as an async worker, so the UI stays live while a flow waits for an answer or a thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from textual.app import App
from textual.message import Message

from gitbench import errors
from gitbench.services.workbench import Workbench

T = TypeVar("T")


class JobProgress(Message):
    """A progress line of the running job (posted from its thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ModuleProgress(Message):
    """The workflow engine's ``on_module``: a module's new state, modules complete of all."""

    def __init__(self, module: str, state: str, done: int, total: int) -> None:
        super().__init__()
        self.module, self.state, self.done, self.total = module, state, done, total


@dataclass
class RunningJob:
    """The one job this window runs at a time, and how to ask it to stop."""

    what: str
    kind: str  # ask | workflow
    cancel: threading.Event = field(default_factory=threading.Event)
    said: int = 0


def gitbench_error(exc: BaseException, root: str | None = None) -> errors.GitbenchError:
    """What the CLI's error handler makes of an exception: a typed error, or an internal one with a crash log
    (in the Workbench at ``root``, the one the window has open, whatever folder it was started from)."""
    from gitbench.services.crash import as_error

    return as_error(exc, root)


class WorkerApp(App[None]):
    """The app's way of running things; what it shows is the subclass's (``show_error``, ``show_job``)."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.running: RunningJob | None = None

    def show_error(self, exc: errors.GitbenchError) -> None:
        """Show a failure with its next actions; the app shows them as a banner with buttons, this plain
        default as a notification."""
        steps = "; ".join(a.command or a.label for a in exc.actions)
        self.notify(exc.message + (f" Next: {steps}" if steps else ""), severity="error", timeout=30)

    def show_job(self, what: str | None) -> None:
        """The running job (None: none), wherever the app shows it."""

    # -- running things -----------------------------------------------------------------------------------------
    def start(self, flow: Coroutine[Any, Any, None], name: str) -> None:
        """Run a flow as an async worker; whatever it raises is shown as the CLI would show it."""

        async def guarded() -> None:
            try:
                await flow
            except Exception as exc:  # noqa: BLE001 - every error ends in the banner, as in the CLI's handler
                self.show_error(gitbench_error(exc, self.root))

        self.run_worker(guarded(), name=name, group="flows", exit_on_error=False)

    async def call(self, fn: Callable[[Workbench], T]) -> T:
        """``fn(Workbench)`` in a thread, on a Workbench of its own."""
        root = self.root

        def run() -> T:
            try:
                return fn(Workbench(root))
            except KeyboardInterrupt as exc:  # never into asyncio, which would stop the app's loop with it
                raise errors.Cancelled("Cancelled.") from exc

        return await asyncio.to_thread(run)

    async def run_job(
        self,
        what: str,
        kind: str,
        fn: Callable[[Workbench, Callable[[str], None], Callable[[str, str, int, int], None]], T],
    ) -> T:
        """Run a job in a thread: ``fn(wb, say, on_module)``. Cancel (ctrl+c) makes the next progress report raise
        KeyboardInterrupt inside the service, which stops the job as Ctrl-C does in the CLI: cleanly, the Draft
        and every finished step kept."""
        if self.running is not None:
            raise errors.Busy(
                f"A job is running in this window ({self.running.what}): wait for it, or cancel it with ctrl+c."
            )
        job = RunningJob(what, kind)
        self.running = job
        self.show_job(what)
        root = self.root

        def say(text: str) -> None:
            job.said += 1
            self.post_message(JobProgress(text))
            # Never at the first report: it comes before the service's own Ctrl-C handling begins.
            if job.cancel.is_set() and job.said > 1 and kind == "ask":
                raise KeyboardInterrupt

        def on_module(module: str, state: str, done: int, total: int) -> None:
            self.post_message(ModuleProgress(module, state, done, total))
            if job.cancel.is_set():  # called only inside the engine's run loop, which handles Ctrl-C
                raise KeyboardInterrupt

        def run() -> T:
            wb = Workbench(root)
            try:
                return fn(wb, say, on_module)
            except KeyboardInterrupt as exc:
                # The cancel came where the service does not handle Ctrl-C (a `command:` agent starting): the
                # journal it left marks the job interrupted, as the next gitbench command would. Nothing is lost.
                with Workbench(root).changing("cancel"):
                    pass
                raise errors.Cancelled(
                    "Cancelled: the job stopped; its Draft and every finished step are kept (the job is marked "
                    "interrupted).",
                    [errors.REVIEW, errors.Action("Resume it", "gitbench resume"), errors.DISCARD],
                ) from exc

        try:
            return await asyncio.to_thread(run)
        finally:
            self.running = None
            self.show_job(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return self.running is not None  # otherwise ctrl+c copies, as everywhere in Textual
        return True

    def action_cancel_job(self) -> None:
        if self.running is not None:
            self.running.cancel.set()
            self.show_job(f"{self.running.what} (cancelling: it stops at its next step)")
