"""The status bar, always visible: Published, the Draft indicator with Publish and Discard, the engine banner,
the running job (with Cancel), reminders and the last result."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from gitbench import clock
from gitbench.tui.calls import Overview
from gitbench.tui.text import plain


class StatusBar(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="status-line"):
            yield Static("Published …", id="published")
            yield Static("Draft …", id="draft")
            yield Button("Publish (p)", id="publish", variant="success", disabled=True)
            yield Button("Discard (d)", id="discard", variant="error", disabled=True)
        with Horizontal(id="activity-line"):
            yield Static("", id="engine-banner")
            yield Static("", id="job-indicator")
            yield Button("Cancel job (ctrl+c)", id="cancel-job", variant="warning")
        yield Static("", id="reminder")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self.show_job(None)
        for name in ("reminder", "message", "engine-banner"):
            self.query_one(f"#{name}").display = False

    def show_overview(self, ov: Overview) -> None:
        st = ov.status
        p = st.published
        cp = f" · {p.checkpoint}" if p.checkpoint else ""
        self.query_one("#published", Static).update(plain(f"Published {p.branch} {p.commit[:12]}{cp}"))
        draft = self.query_one("#draft", Static)
        if len(st.drafts) > 1:  # v1.5: several labeled Drafts; Publish and Discard ask which one
            draft.update(
                plain(f"{len(st.drafts)} Drafts: " + " · ".join(f"{d.label} ({d.steps} step(s))" for d in st.drafts))
            )
        elif st.draft is not None:
            d = st.draft
            age = clock.human_age(clock.now() - d.created)
            draft.update(plain(f"Draft {d.label} · {d.steps} step(s) · {d.files_changed} file(s) · {age} old"))
        elif st.draft_problem:
            draft.update(plain(f"Draft {st.draft_problem}"))
        else:
            draft.update(plain("No Draft"))
        draft.set_class(st.draft is not None or bool(st.draft_problem), "open")
        has_draft = st.draft is not None or bool(st.draft_problem)
        self.query_one("#publish", Button).disabled = st.draft is None
        self.query_one("#discard", Button).disabled = not has_draft
        banner = self.query_one("#engine-banner", Static)
        wf = ov.workflow
        banner.display = wf is not None
        if wf is not None:
            text = str(wf.get("banner", ""))
            banner.update(plain(text + (f" (phase: {wf['phase']})" if wf.get("phase") else "")))
            banner.set_class(text.startswith("Status: Error"), "error")
        notes = [*(f"recovered: {r}" for r in st.recovered), *(f"reminder: {r}" for r in st.reminders)]
        if st.busy:
            notes.append(f"busy: {st.busy} is running")
        reminder = self.query_one("#reminder", Static)
        reminder.display = bool(notes)
        reminder.update(plain("\n".join(notes)))

    def show_engine_progress(self, done: int, total: int) -> None:
        banner = self.query_one("#engine-banner", Static)
        banner.display = True
        banner.remove_class("error")
        banner.update(plain(f"Status: running ({done}/{total} modules complete)"))

    def show_job(self, what: str | None) -> None:
        self.query_one("#job-indicator", Static).update(plain(f"Running: {what}" if what else ""))
        self.query_one("#cancel-job").display = what is not None

    def show_message(self, text: str) -> None:
        message = self.query_one("#message", Static)
        message.display = bool(text)
        message.update(plain(text))
