"""A table of rows whose enter key does the view's action on the highlighted row (restore, rerun)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable


class RowTable(DataTable[Any]):
    """A table whose enter key runs the view's own action (`activate`) on the highlighted row. A click only
    highlights: a second click on a row never restores or reruns anything by accident."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "activate", "Use the highlighted row", show=False)]

    class Activated(Message):
        """Enter on a row (its key: ``row_key``)."""

    def action_activate(self) -> None:
        self.post_message(self.Activated())

    @property
    def row_key(self) -> str | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None
