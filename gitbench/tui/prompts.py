"""Modal screens: the seeds' prompts (one button per choice), the model picker, a job report, the key help."""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from gitbench.tui.text import plain


class ChoiceScreen(ModalScreen[str | None]):
    """A question and one button per choice. The first letter of a choice's key chooses it; escape cancels."""

    HELP_TITLE: ClassVar[str] = "Prompts"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel the prompt")]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [
        ("the key in ( )", "Choose that answer"),
        ("tab / enter", "Move between the answers, choose one"),
    ]

    def __init__(self, question: str, choices: list[tuple[str, str]], id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = question
        self.choices = choices
        self.hotkeys = hotkeys([key for key, _ in choices])

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="modal-box"):
            yield Static(plain(self.question), id="prompt-question")
            # Many or long answers go one under another: a row of them would run off the box's right edge.
            wide = len(self.choices) > 3 or sum(len(label) + 10 for _, label in self.choices) > 64
            with Horizontal(id="prompt-choices", classes="stacked" if wide else ""):
                for n, (key, label) in enumerate(self.choices):
                    yield Button(
                        plain(f"{label} ({self.hotkeys[key]})"),
                        id=f"choice-{n}",
                        variant="primary" if n == 0 else "default",
                    )

    def on_mount(self) -> None:
        self.query_one("#prompt-choices Button").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.choices[int((event.button.id or "").removeprefix("choice-"))][0])

    def on_key(self, event: events.Key) -> None:
        for key, _ in self.choices:
            if event.character and event.character.lower() == self.hotkeys[key]:
                event.stop()
                self.dismiss(key)
                return

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def hotkeys(keys: list[str]) -> dict[str, str]:
    """A letter per choice: the first of its key's letters (or digits) no earlier choice took."""
    taken: dict[str, str] = {}
    for key in keys:
        free = [c for c in key.lower() if c.isalnum() and c not in taken.values()]
        taken[key] = free[0] if free else "?"
    return taken


class PickModelScreen(ModalScreen[str | None]):
    """Switch model: pick one of the configured models (enter), or escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, options: list[tuple[str, str]]) -> None:
        super().__init__(id="pick-model")
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static("Resume with which model?", id="pick-model-question")
            yield OptionList(
                *[Option(plain(label), id=value or "-") for label, value in self.options], id="pick-model-options"
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        value = event.option.id or ""
        self.dismiss("" if value == "-" else value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ReportScreen(ModalScreen[None]):
    """A job's report, as `gitbench report JOB` prints it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(id="report")
        self.data = data

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box"):
            yield Static(plain("\n".join(report_lines(self.data))), id="report-text")
            yield Button("Close (esc)", id="close-report")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def report_lines(data: dict[str, Any]) -> list[str]:
    out = [f"Job {data['job']} ({data['kind']}): {data['status']}"]
    if data.get("reason"):
        out.append(f"  reason:      {data['reason']} [{data.get('class')}]")
    out.append(
        f"  steps:       {data['last_completed_step']}/{data['steps_total']} done"
        f" ({data['steps_completed']} commit(s) on the Draft)"
    )
    out.append(f"  model(s):    {', '.join(data['models'])}")
    files = data["files_changed"]
    out.append(f"  files:       {len(files)} changed" + (": " + ", ".join(files[:8]) if files else ""))
    out.append(f"  checkpoints: {', '.join(data['checkpoints_created']) or 'none'}")
    usage = data["usage"]
    out.append(
        f"  usage:       estimate {usage['estimate'] if usage['estimate'] is not None else '?'} tokens, "
        f"actual {usage['actual'] if usage['actual'] is not None else '?'}"
    )
    out.append(f"  attempts:    {data['attempts']}")
    out += [f"  refused:     {r['path']}: {r['reason']}" for r in data.get("refused", [])[:20]]
    out += [f"  skipped:     {s['path']}: {s['reason']}" for s in data.get("skipped", [])[:20]]
    if data.get("next_actions"):
        out.append("  next:")
        out += [f"    • {a['label']}" + (f": {a['command']}" if a.get("command") else "") for a in data["next_actions"]]
    return out


class HelpScreen(ModalScreen[None]):
    """`?`: every key, from the bindings themselves."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        lines = ["Keys (the mouse works too: click any button or row)", ""]
        for title, keys in self.sections:
            lines.append(title)
            # A long description wraps under itself, not under the keys.
            lines += [f"  {key:<16} " + "\n                   ".join(textwrap.wrap(what, 64)) for key, what in keys]
            lines.append("")
        with VerticalScroll(classes="modal-box"):
            yield Static(plain("\n".join(lines)), id="help-text")
            yield Button("Close (esc)", id="close-help")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
