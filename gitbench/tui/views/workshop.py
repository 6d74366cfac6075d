"""The Workshop: the conversation (`gitbench chat`) with each publish checkpoint inline and its Restore button;
a prompt box that sends a job (`gitbench ask`) with the files it may change and a model from the configured
providers; the job's progress while it runs."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Log, Select, Static

from gitbench import clock
from gitbench.tui import calls, flows
from gitbench.tui.text import plain
from gitbench.tui.views import app_of


class WorkshopView(Vertical):
    HELP_TITLE: ClassVar[str] = "Workshop"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "focus_prompt", "Go to the prompt box"),
        Binding("escape", "leave_input", "Leave the box you type in (then the letter keys work); again: menu"),
    ]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [
        ("enter", "In the prompt box: send the prompt as a job into a new Draft"),
        ("tab / shift+tab", "Between the conversation's Restore buttons, the files, the model and the prompt"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.blocked: str | None = None
        self.models_checked = False
        self.restore_names: dict[str, str] = {}  # Restore button id → its checkpoint
        self.model_options: list[tuple[str, str]] = []  # the picker's (label, provider:model)

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="conversation")
        yield Static("", id="restore-hint")
        yield Log(id="job-progress", auto_scroll=True)
        with Horizontal(id="ask-settings"):
            yield Input(placeholder="Files the model may read and change, e.g. src/**/*.py docs/*.md", id="files")
            yield Select([("(default model)", "")], allow_blank=False, id="model")
        with Horizontal(id="ask-row"):
            yield Input(placeholder="Ask the model to change the files…", id="prompt")
            yield Button("Send", id="send", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#job-progress").display = False
        self.query_one("#restore-hint").display = False

    def opened(self) -> None:
        self.action_focus_prompt()
        app_of(self).start(self.load(), "workshop")

    def action_focus_prompt(self) -> None:
        self.query_one("#prompt").focus()

    def action_leave_input(self) -> None:
        if isinstance(self.app.focused, Input):
            self.query_one("#conversation").focus()
        else:
            app_of(self).action_menu()

    async def load(self) -> None:
        app = app_of(self)
        await self.show_conversation(await app.call(calls.conversation))
        files = self.query_one("#files", Input)
        last = app.overview.status.last_job if app.overview else None
        if not files.value and last is not None and last.kind == "ask" and last.scope:
            files.value = " ".join(last.scope)  # as the last prompt had them
        if not self.models_checked:
            self.show_models(await app.call(lambda wb: calls.models(wb, False)))
            app.start(self.check_models(), "models")

    async def check_models(self) -> None:
        """Ask the configured providers which models they serve (as `gitbench models`), for the picker."""
        self.models_checked = True
        self.show_models(await app_of(self).call(lambda wb: calls.models(wb, True)))

    def show_models(self, options: list[tuple[str, str]]) -> None:
        select: Select[str] = self.query_one("#model", Select)
        chosen = select.value
        select.set_options(options)
        self.model_options = options
        values = [v for _, v in options]
        select.value = chosen if isinstance(chosen, str) and chosen in values else values[0]

    async def show_conversation(self, data: dict[str, Any]) -> None:
        box = self.query_one("#conversation", VerticalScroll)
        await box.remove_children()
        items: list[Widget] = []
        if not data["items"]:
            items.append(
                Static(
                    "No conversation yet: write a prompt below, name the files it may change, and send it (enter).",
                    id="chat-empty",
                )
            )
        for n, item in enumerate(data["items"]):
            when = clock.iso(float(item.get("time") or 0))
            if item["type"] == "checkpoint":
                name = str(item["name"])
                button_id = f"restore-{name.replace('/', '-')}"
                self.restore_names[button_id] = name
                restore = Button(
                    "Restore",
                    id=button_id,
                    classes="restore",
                    disabled=self.blocked is not None,
                    tooltip=self.blocked or f"gitbench restore {name}",
                )
                items.append(
                    Horizontal(
                        Static(plain(f"── {name} published ({when})"), classes="checkpoint-text"),
                        restore,
                        id=f"chat-{n}",
                        classes="chat-checkpoint",
                    )
                )
                continue
            user = item.get("role") == "user"
            who = "you" if user else item.get("model") or "model"
            lines = [f"[{when}] {who}: {item.get('text', '')}"]
            if not user:
                files = item.get("files") or []
                lines.append(f"    job {item.get('job')} {item.get('status')}; {len(files)} file(s) changed")
            items.append(Static(plain("\n".join(lines)), id=f"chat-{n}", classes="chat-user" if user else "chat-model"))
        await box.mount_all(items)
        box.scroll_end(animate=False)
        self.show_blocked(self.blocked)  # the reason shows under the Restore buttons just mounted

    def show_blocked(self, reason: str | None) -> None:
        """Restore is blocked while a Draft is open: the buttons are disabled, the reason shown."""
        self.blocked = reason
        hint = self.query_one("#restore-hint", Static)
        hint.display = reason is not None and bool(self.query(".restore"))
        hint.update(plain(reason or ""))
        for button in self.query(".restore").results(Button):
            button.disabled = reason is not None
            button.tooltip = reason or f"gitbench restore {self.restore_names.get(button.id or '', '')}"

    def job_started(self, prompt: str) -> None:
        log = self.query_one("#job-progress", Log)
        log.display = True
        log.clear()
        log.write_line(f"› {prompt}")

    def add_progress(self, text: str) -> None:
        log = self.query_one("#job-progress", Log)
        log.display = True
        log.write_line(f"· {text}")

    def send(self) -> None:
        prompt_box = self.query_one("#prompt", Input)
        prompt = prompt_box.value
        files = self.query_one("#files", Input).value.split()
        model = self.query_one("#model", Select).value
        prompt_box.value = ""
        app_of(self).start(
            flows.ask(app_of(self), prompt, files, model if isinstance(model, str) and model else None), "ask"
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "prompt":
            self.send()
        elif event.input.id == "files":
            self.action_focus_prompt()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            event.stop()
            self.send()
        elif "restore" in event.button.classes:
            event.stop()
            name = self.restore_names[event.button.id or ""]
            app_of(self).start(flows.restore(app_of(self), name), "restore")
