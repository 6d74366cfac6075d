"""Checkpoints: the full history (`gitbench checkpoints`), a manual checkpoint, and Restore, which is disabled
with the reason shown while a Draft is open."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from gitbench import clock
from gitbench.model import Checkpoint
from gitbench.tui import calls, flows
from gitbench.tui.row_table import RowTable
from gitbench.tui.text import cell, plain
from gitbench.tui.views import app_of


class CheckpointsView(Vertical):
    HELP_TITLE: ClassVar[str] = "Checkpoints"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_checkpoint", "Manual checkpoint (with the message typed below)"),
        Binding("r", "reload", "Reload the list"),
    ]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [("enter", "Restore the highlighted checkpoint (asks first)")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.blocked: str | None = None

    def compose(self) -> ComposeResult:
        table: RowTable = RowTable(id="checkpoint-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("checkpoint", "kind", "date", "commit", "job", "message")
        yield table
        yield Static("", id="restore-reason")
        with Horizontal(id="checkpoint-actions"):
            yield Button("Restore (enter)", id="restore", variant="warning")
            yield Input(placeholder="Message for a manual checkpoint", id="checkpoint-message")
            yield Button("Take checkpoint (n)", id="take-checkpoint")

    def on_mount(self) -> None:
        self.show_blocked(None)

    def opened(self) -> None:
        self.query_one(RowTable).focus()
        app_of(self).start(self.load(), "checkpoints")

    def action_reload(self) -> None:
        app_of(self).start(self.load(), "checkpoints")

    async def load(self) -> None:
        self.show_checkpoints(await app_of(self).call(calls.checkpoints))

    def show_checkpoints(self, items: list[Checkpoint]) -> None:
        table = self.query_one(RowTable)
        chosen = table.row_key
        table.clear()
        names = [cp.name for cp in reversed(items)]  # the newest first
        for cp in reversed(items):
            table.add_row(
                *map(cell, (cp.name, cp.kind, clock.iso(cp.date), cp.commit[:12], cp.job or "", cp.message)),
                key=cp.name,
            )
        if chosen in names:
            table.move_cursor(row=names.index(str(chosen)))

    def show_blocked(self, reason: str | None) -> None:
        self.blocked = reason
        self.query_one("#restore", Button).disabled = reason is not None
        hint = self.query_one("#restore-reason", Static)
        hint.display = reason is not None
        hint.update(plain(f"Restore is disabled: {reason}" if reason else ""))

    def on_row_table_activated(self, event: RowTable.Activated) -> None:
        event.stop()
        self.restore()

    def restore(self) -> None:
        app = app_of(self)
        name = self.query_one(RowTable).row_key
        if name is None:
            return
        if self.blocked is not None:
            app.say(f"Restore is disabled: {self.blocked}")
            return
        app.start(flows.restore(app, name), "restore")

    def action_new_checkpoint(self) -> None:
        box = self.query_one("#checkpoint-message", Input)
        message = box.value
        box.value = ""
        app_of(self).start(flows.checkpoint(app_of(self), message), "checkpoint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_new_checkpoint()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "restore":
            event.stop()
            self.restore()
        elif event.button.id == "take-checkpoint":
            event.stop()
            self.action_new_checkpoint()
