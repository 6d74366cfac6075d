"""The error banner: a GitbenchError's message and its next actions, the ones the TUI can do as buttons.

The same content as the CLI's banner (message, notes, actions, where the report is); escape or Close hides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Static

from gitbench import errors
from gitbench.tui import actions
from gitbench.tui.text import plain

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp

MAX_BUTTONS = 8


class ErrorBanner(Vertical):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.error: errors.GitbenchError | None = None
        self.buttons: list[errors.Action] = []  # the actions the buttons do, in order

    def compose(self) -> ComposeResult:
        yield Static("", id="error-title")
        yield Static("", id="error-message")
        with Vertical(id="error-actions"):
            for n in range(MAX_BUTTONS):
                yield Button("", id=f"error-action-{n}")
            yield Button("Close (esc)", id="error-close")
        yield Static("", id="error-commands")

    def on_mount(self) -> None:
        self.display = False

    @property
    def shown(self) -> bool:
        return self.error is not None

    def show(self, exc: errors.GitbenchError) -> None:
        self.error = exc
        self.display = True
        self.query_one("#error-title", Static).update(plain(f"error: {exc.code} (exit {exc.exit_code})"))
        lines = [exc.message, *(str(n) for n in exc.details.get("notes", []) or [])]
        report = exc.details.get("report")
        if isinstance(report, dict) and report.get("job") and exc.details.get("report_stored", True):
            lines.append(f"Report: git show refs/gitbench/records:reports/{report['job']}.json")
        self.query_one("#error-message", Static).update(plain("\n".join(lines)))
        by_hand = []
        self.buttons = []
        for action in exc.actions:
            if actions.route(action) is not None and len(self.buttons) < MAX_BUTTONS:
                self.buttons.append(action)
            elif action.command:
                by_hand.append(f"• {action.label}: {action.command}")
            elif action != errors.CANCEL:
                by_hand.append(f"• {action.label}")
        for n, button in enumerate(self.query("#error-actions Button").results(Button)):
            if button.id == "error-close":
                continue
            button.display = n < len(self.buttons)
            if n < len(self.buttons):
                button.label = self.buttons[n].label
                button.tooltip = self.buttons[n].command
        commands = self.query_one("#error-commands", Static)
        commands.display = bool(by_hand)
        commands.update(plain("\n".join(by_hand)))
        # Keyboard first: the first next action has the focus (enter does it; tab goes to the others).
        self.query_one("#error-action-0" if self.buttons else "#error-close", Button).focus()

    def clear(self) -> None:
        self.error = None
        self.display = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button == "error-close":
            self.clear()
        elif button.startswith("error-action-"):
            # The banner stays until the action succeeds (its result replaces it) or is closed: looking at the
            # report first and retrying then is one path.
            actions.run(cast("GitbenchApp", self.app), self.buttons[int(button.removeprefix("error-action-"))])
