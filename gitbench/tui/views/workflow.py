"""The workflow view (seed 004): each module with its state, its last run (and error), its artifacts' classes,
`Blocked by: X`, skip reasons and gates; keys r refresh, enter rerun, g gate, a approve, s skip; live progress
of a run from the engine's ``on_module``."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Log, ProgressBar, Static

from gitbench import clock, errors
from gitbench.tui import calls, flows
from gitbench.tui.calls import WorkflowData
from gitbench.tui.row_table import RowTable
from gitbench.tui.text import cell, plain
from gitbench.tui.views import app_of
from gitbench.workflow.resolver import ModuleState
from gitbench.workflow.state import RunStatus

# (label, key, width): the two long columns are cut on screen (the row's detail below shows all of them), so
# `Blocked by` and the notes after them stay in view.
COLUMNS: list[tuple[str, str, int | None]] = [
    ("module", "module", None),
    ("state", "state", None),
    ("last run", "last", 44),
    ("artifacts", "artifacts", 24),
    ("blocked by", "blocked", None),
    ("notes", "notes", None),
]


def last_run(m: dict[str, Any]) -> str:
    last = m.get("last_run") or {}
    if not last.get("status"):
        return ""
    when = clock.iso(float(last.get("finished") or last.get("since") or 0))
    error = f": {last['error']}" if last.get("error") and last["status"] != RunStatus.COMPLETE else ""
    return f"last run: {last['status']} ({when}){error}"


def notes(m: dict[str, Any], data: WorkflowData) -> list[str]:
    out = []
    if m.get("reason") and (m["state"] != ModuleState.FAILED or str(m["reason"]).startswith("InvalidMetadata")):
        out.append(str(m["reason"]))
    if m.get("skip") and m["skip"] != "not-ready":
        out.append(f"skipped:{str(m['skip']).removeprefix('concurrency: ')}")
    gate = data.gates.get(m["id"])
    if gate and gate["required"]:
        out.append("gate: approved" if gate["approved"] else "gate: waiting for approval (a)")
    if m["id"] in data.skipped:
        if not any("skipped" in note for note in out):  # the resolver may say so already
            out.append("skipped (optional)")
    elif m["id"] in data.optional:
        out.append("optional")
    return out


class WorkflowView(Vertical):
    HELP_TITLE: ClassVar[str] = "Workflow"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh: the resolver reads the files again"),
        Binding("g", "gate", "Require a manual gate on the module (again: remove it)"),
        Binding("a", "approve", "Approve the gated module (again: withdraw the approval)"),
        Binding("s", "skip", "Skip the optional module (again: put it back)"),
        Binding("R", "run_all", "Run (or resume) the workflow: every ready module"),
    ]
    EXTRA_KEYS: ClassVar[list[tuple[str, str]]] = [
        (
            "enter",
            "Rerun the highlighted module (claimed, then run in-process); on a needs-input module whose outputs "
            "you wrote: resume the workflow (`gitbench workflow resume`), which takes them and goes on",
        )
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: WorkflowData | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="workflow-banner")
        yield Static("", id="workflow-draft")
        table: RowTable = RowTable(id="module-table", cursor_type="row")
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("", id="module-detail")
        yield ProgressBar(id="workflow-progress", show_eta=False)
        yield Log(id="workflow-log", auto_scroll=True)
        with Horizontal(id="workflow-actions"):
            yield Button("Refresh (r)", id="wf-refresh")
            yield Button("Rerun (enter)", id="wf-rerun", variant="primary")
            yield Button("Gate (g)", id="wf-gate")
            yield Button("Approve (a)", id="wf-approve")
            yield Button("Skip (s)", id="wf-skip")
            yield Button("Run all (R)", id="wf-run")

    def on_mount(self) -> None:
        self.query_one("#workflow-progress").display = False
        self.query_one("#workflow-log").display = False

    def opened(self) -> None:
        self.query_one(RowTable).focus()
        app_of(self).start(self.load(), "workflow")

    async def load(self) -> None:
        try:
            data = await app_of(self).call(calls.workflow)
        except errors.GitbenchError as exc:
            self.show_problem(exc.message)
            raise
        self.show_data(data)

    def show_problem(self, text: str) -> None:
        self.data = None
        self.query_one("#workflow-banner", Static).update(plain(text))
        self.query_one("#workflow-draft", Static).update("")
        self.query_one(RowTable).clear()
        self.query_one("#module-detail", Static).update("")

    def show_data(self, data: WorkflowData) -> None:
        self.data = data
        st = data.status
        banner = self.query_one("#workflow-banner", Static)
        banner.update(plain(str(st["banner"]) + (f"  (phase: {st['phase']})" if st.get("phase") else "")))
        banner.set_class(str(st["banner"]).startswith("Status: Error"), "error")
        draft = self.query_one("#workflow-draft", Static)
        draft.update(
            plain(
                f"Draft {str(st['draft']).rsplit('/', 1)[-1]} (job {st['job']}) · max parallel {st['max_parallel']}"
                if st.get("draft")
                else f"No workflow Draft · max parallel {st['max_parallel']}"
            )
        )
        table = self.query_one(RowTable)
        chosen = table.row_key
        table.clear()
        for m in st["modules"]:
            arts = ", ".join(f"{a['path']}={a['klass']}" for a in m["artifacts"])
            blocked = "Blocked by: " + ", ".join(m["blocked_by"]) if m.get("blocked_by") else ""
            table.add_row(
                cell(m["id"]),
                cell(m["state"]),
                cell(last_run(m)),
                cell(arts),
                cell(blocked),
                cell(" · ".join(notes(m, data))),
                key=m["id"],
            )
        ids = [m["id"] for m in st["modules"]]
        if chosen in ids:
            table.move_cursor(row=ids.index(str(chosen)))
        self.show_detail()

    def module(self) -> dict[str, Any] | None:
        key = self.query_one(RowTable).row_key
        if self.data is None or key is None:
            return None
        return next((m for m in self.data.status["modules"] if m["id"] == key), None)

    def show_detail(self) -> None:
        m = self.module()
        detail = self.query_one("#module-detail", Static)
        if m is None or self.data is None:
            detail.update("")
            return
        lines = [f"{m['id']}: {m['state']}"]
        if last_run(m):
            lines.append(last_run(m))
        for a in m["artifacts"]:
            lines.append(f"  {a['path']}: {a['klass']}" + (f" ({a['reason']})" if a.get("reason") else ""))
        if m.get("blocked_by"):
            lines.append("Blocked by: " + ", ".join(m["blocked_by"]))
        lines += notes(m, self.data)
        detail.update(plain("\n".join(lines)))

    def on_data_table_row_highlighted(self, event: RowTable.RowHighlighted) -> None:
        event.stop()
        self.show_detail()

    # -- live progress of a run ------------------------------------------------------------------------------------
    def add_progress(self, text: str) -> None:
        log = self.query_one("#workflow-log", Log)
        log.display = True
        log.write_line(f"· {text}")

    def module_progress(self, module: str, state: str, done: int, total: int) -> None:
        bar = self.query_one("#workflow-progress", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        table = self.query_one(RowTable)
        if module in [str(k.value) for k in table.rows]:
            table.update_cell(module, "state", cell(state))

    # -- the operator's tools --------------------------------------------------------------------------------------
    def on_row_table_activated(self, event: RowTable.Activated) -> None:
        event.stop()
        self.rerun()

    def rerun(self) -> None:
        m = self.module()
        if m is not None:
            app = app_of(self)
            self.query_one("#workflow-log", Log).clear()
            # A module waiting for input is finished by resuming, as `gitbench workflow resume` does: the same
            # engine call takes its outputs from the folder and goes on with what waited for it.
            only = None if m["state"] == ModuleState.NEEDS_INPUT else [m["id"]]
            app.start(flows.workflow_run(app, only), "workflow resume" if only is None else "workflow rerun")

    def tool(self, tool: str) -> None:
        m = self.module()
        if m is None or self.data is None:
            return
        gate = self.data.gates.get(m["id"], {})
        on = {
            "gate": not gate.get("required", False),
            "approve": not gate.get("approved", False),
            "skip": m["id"] not in self.data.skipped,
        }[tool]
        app_of(self).start(flows.workflow_tool(app_of(self), tool, m["id"], on), f"workflow {tool}")

    def action_reload(self) -> None:
        app_of(self).start(self.load(), "workflow")

    def action_gate(self) -> None:
        self.tool("gate")

    def action_approve(self) -> None:
        self.tool("approve")

    def action_skip(self) -> None:
        self.tool("skip")

    def action_run_all(self) -> None:
        app = app_of(self)
        self.query_one("#workflow-log", Log).clear()
        app.start(flows.workflow_run(app, None), "workflow run")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        handlers = {
            "wf-refresh": self.action_reload,
            "wf-rerun": self.rerun,
            "wf-gate": self.action_gate,
            "wf-approve": self.action_approve,
            "wf-skip": self.action_skip,
            "wf-run": self.action_run_all,
        }
        if event.button.id in handlers:
            event.stop()
            handlers[event.button.id]()
