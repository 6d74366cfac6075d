"""Checkpoints: the full history (`gitbench checkpoints`), a manual checkpoint, and Restore, which is disabled
with the reason shown while a Draft is open."""

from __future__ import annotations

import asyncio
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

    CHUNK: ClassVar[int] = 100  # older rows added at a time

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.blocked: str | None = None
        self.loads = 0  # each load's number: an older load stops once a newer one has begun

    def compose(self) -> ComposeResult:
        # Shown from the start, until the first rows are in: the view is never blank while the history is read.
        yield Static("Loading checkpoints…", id="checkpoint-loading")
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
        """The newest page first (on screen at once), then the older checkpoints under it, a chunk at a time so
        the window stays responsive however long the history is."""
        app = app_of(self)
        self.loads += 1
        load = self.loads
        newest, older = await app.call(calls.newest_checkpoints)
        if load != self.loads:
            return  # a later load (a reload after a change) shows the list as it is now
        chosen = self.show_checkpoints(newest)
        if older:
            every = await app.call(calls.checkpoints)
            await self.add_older(every, load, chosen)

    def show_checkpoints(self, items: list[Checkpoint]) -> str | None:
        """The list, newest first; the highlighted row stays highlighted. Returns it (it may be an older one)."""
        table = self.query_one(RowTable)
        chosen = table.row_key
        table.clear()
        for cp in reversed(items):
            self.add_row(cp)
        self.query_one("#checkpoint-loading").display = False
        self.highlight(chosen)
        return chosen

    async def add_older(self, every: list[Checkpoint], load: int, chosen: str | None) -> None:
        table = self.query_one(RowTable)
        shown = {str(key.value) for key in table.rows}
        older = [cp for cp in reversed(every) if cp.name not in shown]
        for n, cp in enumerate(older):
            if n % self.CHUNK == 0:
                await asyncio.sleep(0)  # let the screen and the keys in between chunks
                if load != self.loads:
                    return
            if cp.name not in table.rows:
                self.add_row(cp)
        self.highlight(chosen)

    def add_row(self, cp: Checkpoint) -> None:
        self.query_one(RowTable).add_row(
            *map(cell, (cp.name, cp.kind, clock.iso(cp.date), cp.commit[:12], cp.job or "", cp.message)),
            key=cp.name,
        )

    def highlight(self, name: str | None) -> None:
        table = self.query_one(RowTable)
        if name is not None and name in table.rows:
            table.move_cursor(row=table.get_row_index(name))

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
