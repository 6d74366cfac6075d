"""The main menu: Workshop, Review, Checkpoints, Workflow, and Resume Work (<phase>) when something stopped."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from gitbench.tui.views import app_of

ITEMS = [
    ("workshop", "Workshop  (w)"),
    ("review", "Review  (v)"),
    ("checkpoints", "Checkpoints  (c)"),
    ("workflow", "Workflow  (f)"),
]


class MenuView(Vertical):
    HELP_TITLE: ClassVar[str] = "Main menu"
    BINDINGS: ClassVar[list[BindingType]] = []
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [("up / down, enter", "Choose an item")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.resume: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static("gitbench", id="menu-title")
        yield OptionList(*self._options(), id="menu-options")

    def _options(self) -> list[Option]:
        items = [Option(label, id=key) for key, label in ITEMS]
        if self.resume is not None:
            kind, what = self.resume
            items.append(Option(f"Resume Work ({what})  (u)", id="resume"))
        items.append(Option("Quit  (q)", id="quit"))
        return items

    def opened(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if options.highlighted is None:
            options.highlighted = 0

    def show_resume(self, resume: tuple[str, str] | None) -> None:
        if resume == self.resume:
            return
        self.resume = resume
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        if highlighted is not None:
            options.highlighted = min(highlighted, options.option_count - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        app = app_of(self)
        key = event.option.id or ""
        if key == "resume":
            app.action_resume_work()
        elif key == "quit":
            app.exit()
        else:
            app.show_view(key)
