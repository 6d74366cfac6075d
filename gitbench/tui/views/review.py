"""Review: what the Draft changes against Published (`gitbench review --patch`), one file at a time, its diff
highlighted by rich's Syntax."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Select, Static
from textual.widgets.option_list import Option

from gitbench import errors
from gitbench.model import MARKS, Review
from gitbench.tui import calls
from gitbench.tui.text import patch_per_file, plain
from gitbench.tui.views import app_of


class ReviewView(Vertical):
    HELP_TITLE: ClassVar[str] = "Review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload the review"),
    ]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [("up / down", "Choose a file: its diff shows on the right")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.review: Review | None = None
        self.patches: list[str] = []
        self.label: str | None = None  # with several Drafts open (v1.5): the one shown
        self.labels: list[str] = []

    def compose(self) -> ComposeResult:
        yield Select([], prompt="Which Draft", allow_blank=True, id="review-draft")
        yield Static("Loading the Draft's review…", id="review-summary")  # until the first load is in
        with Horizontal(id="review-body"):
            yield OptionList(id="review-files")
            with VerticalScroll(id="review-diff-scroll"):
                yield Static("", id="review-diff")
        yield Static("next: Publish (p) · Discard (d)", id="review-next")

    def opened(self) -> None:
        self.query_one("#review-files").focus()
        app_of(self).start(self.load(), "review")

    def action_reload(self) -> None:
        app_of(self).start(self.load(), "review")

    async def load(self) -> None:
        app = app_of(self)
        self.show_drafts(await app.call(calls.draft_labels))
        try:
            rv = await app.call(lambda wb: calls.review(wb, self.label))
        except errors.DraftCorrupt as exc:
            self.show_review(None, exc.message)
            raise
        self.show_review(rv, None)

    def show_drafts(self, labels: list[str]) -> None:
        """Several Drafts (v1.5): a picker of which one to review; one or none: no picker."""
        select: Select[str] = self.query_one("#review-draft", Select)
        select.display = len(labels) > 1
        if labels != self.labels:
            self.labels = labels
            select.set_options([(label, label) for label in labels])
        if self.label not in labels:
            self.label = labels[0] if labels else None
        if self.label is not None and select.value != self.label:
            select.value = self.label

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str) and event.value != self.label:
            self.label = event.value
            app_of(self).start(self.load(), "review")

    def show_review(self, rv: Review | None, problem: str | None) -> None:
        self.review = rv
        summary = self.query_one("#review-summary", Static)
        files = self.query_one("#review-files", OptionList)
        files.clear_options()
        self.query_one("#review-next").display = rv is not None
        if rv is None:
            self.patches = []
            summary.update(plain(problem or "No open Draft: nothing to review. Start a job in the Workshop (w)."))
            self.query_one("#review-diff", Static).update("")
            return
        text = (
            f"Draft {rv.draft}: {len(rv.files)} file(s) changed, +{rv.insertions} -{rv.deletions}"
            f" (against Published {rv.base[:12]})"
        )
        if not rv.base_is_published:
            text += "\nwarning: Published has moved since this Draft was made; publishing will report a conflict."
        summary.update(plain(text))
        self.patches = patch_per_file(rv.patch or "")
        for n, f in enumerate(rv.files):
            stat = "binary" if f.binary else f"+{f.insertions} -{f.deletions}"
            name = f"{f.old_path} -> {f.path}" if f.old_path else f.path
            files.add_option(Option(plain(f"{MARKS.get(f.status, 'T')} {name}  {stat}"), id=f"file-{n}"))
        if rv.files:
            files.highlighted = 0
        self.show_file(0)

    def show_file(self, n: int) -> None:
        diff = self.query_one("#review-diff", Static)
        if n >= len(self.patches):
            diff.update("")
            return
        # Wrapped at the pane's edge: a long line goes on under itself, none of it cut off.
        diff.update(Syntax(self.patches[n], "diff", theme="ansi_dark", background_color="default", word_wrap=True))
        self.query_one("#review-diff-scroll", VerticalScroll).scroll_home(animate=False)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option_list.id == "review-files" and event.option.id:
            self.show_file(int(event.option.id.removeprefix("file-")))
