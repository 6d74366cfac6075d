"""`gitbench tui`: the real app driven headless by Textual's pilot against real Workbenches.

Each test opens the app on a Workbench made by the fixtures (jobs set up through the real CLI), presses keys or
clicks as a user would, and checks what the screen shows (widgets' text, buttons' state) and what happened to
the refs (Published, the Draft, checkpoints), with the real git CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, OptionList, Select, Static

from gitbench.tui.app import GitbenchApp
from gitbench.tui.views.workshop import WorkshopView
from tests import provider_server as ps
from tests.conftest import checkpoint_names, git, gitbench, make_project, nth_checkpoint, run_job
from tests.invariants import check_invariants
from tests.provider_server import ProviderServer, config_toml
from tests.terminal import Terminal
from tests.workflow_helpers import draft_ref, module_runner, state, workflow_bench

EDIT = "import pathlib; pathlib.Path('src/app.py').write_text('print(\"edited by the job\")\\n')"
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
Scenario = Callable[[GitbenchApp, Pilot[None]], Awaitable[None]]


# -- driving the app ------------------------------------------------------------------------------------------------
def drive(wb: Path, scenario: Scenario, size: tuple[int, int] = (130, 42)) -> None:
    """Open the app on ``wb``, let it settle (its opening prompts and loads), run the scenario."""

    async def main() -> None:
        app = GitbenchApp(str(wb))
        app.REFRESH_SECONDS = 3600  # type: ignore[misc]  # the tests refresh by acting, not by the clock
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(app, pilot)
            await settle(pilot)

    asyncio.run(main())


async def settle(pilot: Pilot[None], timeout: float = 30.0) -> None:
    """Until nothing runs any more (every flow, load and job ended) or a prompt waits for the user."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        await pilot.pause()
        busy = [w for w in app.workers if w.is_running]
        quiet = quiet + 1 if not busy or isinstance(app.screen, ModalScreen) else 0
        if quiet >= 2:  # a finished flow may start the next one (a reload): quiet for two turns
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the app did not settle: {[w.name for w in app.workers if w.is_running]}")


async def press(pilot: Pilot[None], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def type_into(pilot: Pilot[None], selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = text
    await pilot.pause()


def text(app: GitbenchApp, selector: str) -> str:
    """What a widget shows, as plain text."""
    found = app.screen.query(selector)  # a prompt's widget, else the main screen's (under the prompt)
    widget: Widget = found.first() if found else app.query_one(selector)
    if isinstance(widget, Static):
        content = widget.content
        return str(getattr(content, "code", content))  # a Syntax (the diff): its text
    if isinstance(widget, Button):
        return str(widget.label)
    raise AssertionError(f"no text in {widget!r}")


def prompt(app: GitbenchApp, screen_id: str) -> tuple[str, list[str]]:
    """The open prompt: its question and its buttons' labels."""
    assert isinstance(app.screen, ModalScreen) and app.screen.id == screen_id, app.screen
    buttons = [str(b.label) for b in app.screen.query("#prompt-choices Button").results(Button)]
    return text(app, "#prompt-question"), buttons


def shown(widget: Widget) -> bool:
    return bool(widget.display)


def error_buttons(app: GitbenchApp) -> list[str]:
    return [
        str(b.label) for b in app.query("#error-actions Button").results(Button) if b.display and b.id != "error-close"
    ]


def rows(app: GitbenchApp, selector: str) -> dict[str, list[str]]:
    table: DataTable[Any] = app.query_one(selector, DataTable)
    return {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}


def rev(wb: Path, name: str) -> str:
    return git(wb, "rev-parse", name).strip()


def drafts_of(wb: Path) -> list[str]:
    return git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()


# -- opening, Review, the status bar --------------------------------------------------------------------------
def test_opening_with_a_draft_shows_review_with_its_files_and_a_highlighted_diff_per_file(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, head = run_job(workbench, EDIT + "; pathlib.Path('src/new.py').write_text('X = 1\\n')")
    label = ref.rsplit("/", 1)[1]
    created = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{label}.json"))["created"]
    monkeypatch.setenv("GITBENCH_NOW", str(created + 3 * 3600 + 120))  # a frozen clock: the age is stable

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert app.current_view == "review"  # the seed: Review opens when the app opens with a Draft
        assert f"Draft {label}: 2 file(s) changed, +2 -1" in text(app, "#review-summary")
        files = app.query_one("#review-files", OptionList)
        assert [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)] == [
            "M src/app.py  +1 -1",
            "A src/new.py  +1 -0",
        ]
        diff = app.query_one("#review-diff", Static).content
        assert type(diff).__name__ == "Syntax" and diff.lexer is not None and diff.lexer.name == "Diff"
        assert text(app, "#review-diff").startswith("diff --git a/src/app.py b/src/app.py")
        assert '+print("edited by the job")' in text(app, "#review-diff")
        await press(pilot, "down")  # the next file's diff
        assert text(app, "#review-diff").startswith("diff --git a/src/new.py b/src/new.py")
        # The status bar: Published (short id, checkpoint) and the Draft (label, steps, files, age).
        published = rev(workbench, "main")
        assert text(app, "#published") == f"Published main {published[:12]} · {nth_checkpoint(workbench, 2)}"
        assert text(app, "#draft") == f"Draft {label} · 1 step(s) · 2 file(s) · 3h 2m old"
        assert not app.query_one("#publish", Button).disabled and not app.query_one("#discard", Button).disabled
        assert not shown(app.query_one("#engine-banner"))  # no workflow in this Workbench

    drive(workbench, scenario)
    assert rev(workbench, ref) == head  # looking changes nothing


def screen_lines(app: GitbenchApp) -> list[str]:
    """The screen as the terminal would show it, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def test_review_and_checkpoints_are_never_blank_when_opened_loading_then_their_rows_at_once(
    workbench: Path,
) -> None:
    for n in range(3):
        assert gitbench(workbench, "checkpoint", "-m", f"note {n}").returncode == 0
    names = checkpoint_names(workbench)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        # Before anything is read, each view says it is loading (never a blank view).
        assert text(app, "#review-summary") == "Loading the Draft's review…"
        assert shown(app.query_one("#checkpoint-loading")) and text(app, "#checkpoint-loading") == (
            "Loading checkpoints…"
        )
        await settle(pilot)
        assert app.current_view == "menu"
        # Read in the background once the window opened: the rows are there the moment the view opens, before
        # its own reload has had a chance to run.
        app.show_view("checkpoints")
        assert len(rows(app, "#checkpoint-table")) == len(names) == 4
        assert not shown(app.query_one("#checkpoint-loading"))

    async def main() -> None:
        app = GitbenchApp(str(workbench))
        app.REFRESH_SECONDS = 3600  # type: ignore[misc]
        async with app.run_test(size=(130, 42)) as pilot:
            await scenario(app, pilot)
            await settle(pilot)

    asyncio.run(main())


def test_a_long_diff_line_wraps_in_the_review_pane_so_none_of_it_is_cut_off(workbench: Path) -> None:
    words = [f"word{n:02d}" for n in range(60)]  # ~420 characters: several times the pane's width
    run_job(workbench, f"import pathlib; pathlib.Path('src/app.py').write_text({' '.join(words)!r} + '\\n')")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert app.current_view == "review"
        screen = "\n".join(screen_lines(app))
        assert "+word00 word01" in screen
        assert [w for w in words if w not in screen] == []  # the end of the line too, not cut at the edge

    drive(workbench, scenario)


def test_publish_by_mouse_moves_published_to_the_draft_takes_a_checkpoint_and_removes_the_draft(
    workbench: Path,
) -> None:
    ref, head = run_job(workbench, EDIT)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await pilot.click("#publish")
        await settle(pilot)
        made = nth_checkpoint(workbench, 3)
        assert text(app, "#message").splitlines() == [f"Published {head[:12]} to main.", f"checkpoint: {made}"]
        assert text(app, "#draft") == "No Draft"
        assert app.query_one("#publish", Button).disabled
        assert text(app, "#published") == f"Published main {head[:12]} · {made}"
        assert "No open Draft" in text(app, "#review-summary")

    drive(workbench, scenario)
    assert rev(workbench, "main") == head
    assert drafts_of(workbench) == []
    assert (workbench / "src/app.py").read_text() == 'print("edited by the job")\n'
    init, auto, publish = checkpoint_names(workbench)
    assert [git(workbench, "tag", "-n1", "-l", n).split()[1] for n in (init, auto, publish)] == [
        "init",
        "auto",
        "publish",
    ]


def test_discard_asks_first_then_removes_the_draft_recoverably_and_leaves_published(workbench: Path) -> None:
    ref, head = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    published = rev(workbench, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "d")
        question, buttons = prompt(app, "confirm-discard")
        assert question == f"Discard the Draft {label}? (recoverable for 14 days)"
        assert buttons == ["Discard (d)", "Cancel (c)"]
        await press(pilot, "escape")
        assert text(app, "#message") == "Cancelled: the Draft is as it was."
        assert drafts_of(workbench) == [ref]
        await press(pilot, "d", "d")
        assert text(app, "#message").startswith(f"Discarded the Draft {label}")
        assert text(app, "#draft") == "No Draft"

    drive(workbench, scenario)
    assert drafts_of(workbench) == []
    assert rev(workbench, "main") == published
    trash = git(workbench, "for-each-ref", "--format=%(objectname)", "refs/gitbench/trash/").split()
    assert trash == [head]


# -- Checkpoints ------------------------------------------------------------------------------------------------
def test_restore_is_disabled_with_the_reason_while_a_draft_is_open_then_restores_and_takes_a_manual_checkpoint(
    workbench: Path,
) -> None:
    first = rev(workbench, "main")
    run_job(workbench, EDIT)
    assert gitbench(workbench, "publish").returncode == 0
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/other.py').write_text('Y = 2\\n')")
    label = ref.rsplit("/", 1)[1]
    published = rev(workbench, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "c")
        assert app.current_view == "checkpoints"
        table = rows(app, "#checkpoint-table")
        names = checkpoint_names(workbench)
        assert list(table) == names[::-1] and len(names) == 4  # newest first
        assert table[names[2]][1] == "publish" and table[names[0]][1] == "init"
        assert app.query_one("#restore", Button).disabled
        reason = f"A Draft is open ({label}): restore is blocked until you publish or discard it."
        assert text(app, "#restore-reason") == f"Restore is disabled: {reason}"
        await press(pilot, "enter")  # enter on a row: restore, still blocked
        assert text(app, "#message") == f"Restore is disabled: {reason}"
        assert rev(workbench, "main") == published

        await press(pilot, "d", "d")  # discard: Restore is enabled again
        assert not app.query_one("#restore", Button).disabled
        assert not shown(app.query_one("#restore-reason"))
        app.query_one("#checkpoint-table", DataTable).focus()
        await press(pilot, "down", "down", "down", "enter")
        question, _ = prompt(app, "confirm-restore")
        assert question.startswith(f"Restore {names[0]} (init,")
        await press(pilot, "r")
        assert text(app, "#message").startswith(f"Restored {names[0]}: Published is {first[:12]} again")

        await type_into(pilot, "#checkpoint-message", "before the big change")
        await press(pilot, "enter")
        *_, pre, manual = checkpoint_names(workbench)
        assert text(app, "#message").startswith(f"Took {manual} of Published")
        table = rows(app, "#checkpoint-table")
        assert list(table)[:2] == [manual, pre]
        assert table[manual][1:2] + table[manual][5:] == [
            "manual",
            "manual checkpoint: before the big change",
        ]
        assert table[pre][1] == "pre-restore"

    drive(workbench, scenario)
    assert rev(workbench, "main") == first
    assert "before the big change" in git(workbench, "tag", "-n9", "-l", nth_checkpoint(workbench, 6))


# -- the Workshop -----------------------------------------------------------------------------------------------
def test_a_workshop_prompt_runs_an_ask_job_with_the_picked_model_and_review_opens_on_its_draft(
    workbench: Path, provider: ProviderServer
) -> None:
    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert app.current_view == "menu"  # no Draft: the main menu, its first item highlighted
        await press(pilot, "enter")
        assert app.current_view == "workshop"
        assert "No conversation yet" in text(app, "#chat-empty")
        select: Select[str] = app.query_one("#model", Select)
        values = [v for _, v in app.query_one(WorkshopView).model_options]
        assert values[0] == "fake:test-model" and "fake:other-model" in values  # default first, then served
        select.value = "fake:other-model"
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")
        assert app.current_view == "review"  # the job made a Draft: Review opens
        assert "1 file(s) changed" in text(app, "#review-summary")
        await press(pilot, "w")
        assert text(app, "#chat-0").endswith("you: Add a line")
        assert "fake:other-model: Edited 1 file(s)." in text(app, "#chat-1")
        assert "complete; 1 file(s) changed" in text(app, "#chat-1")
        assert "Batch 1/1 done" in "\n".join(app.query_one("#job-progress").lines)  # type: ignore[attr-defined]

    drive(workbench, scenario)
    assert [p["body"]["model"] for p in provider.posts] == ["other-model"]
    (ref,) = drafts_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py").endswith("edited by model\n")
    assert "Gitbench-Model: fake:other-model" in git(workbench, "log", "-1", "--format=%(trailers)", ref)


def test_publish_checkpoints_show_inline_in_the_conversation_and_restore_from_there_unless_a_draft_is_open(
    workbench: Path, provider: ProviderServer
) -> None:
    async def ask(pilot: Pilot[None], words: str) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", words)
        await press(pilot, "enter")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await ask(pilot, "Add a line")
        await press(pilot, "p")
        first = rev(workbench, "main")
        await ask(pilot, "Add another line")  # its Draft is open: Restore is disabled, the reason shown
        await press(pilot, "w")
        row = app.query_one("#chat-2")
        published = nth_checkpoint(workbench, 3)
        assert f"{published} published (" in str(row.query_one(".checkpoint-text", Static).content)
        button = app.query_one("#restore-" + published.replace("/", "-"), Button)
        assert button.disabled and "restore is blocked until you publish or discard it" in str(button.tooltip)
        assert "restore is blocked" in text(app, "#restore-hint")
        await press(pilot, "escape", "p")  # leave the prompt box; publish the second Draft
        await press(pilot, "w")
        assert not app.query_one("#restore-" + published.replace("/", "-"), Button).disabled
        assert app.query_one("#restore-" + nth_checkpoint(workbench, 5).replace("/", "-"), Button)
        await pilot.click("#restore-" + published.replace("/", "-"))
        await settle(pilot)
        question, _ = prompt(app, "confirm-restore")
        assert question.startswith(f"Restore {published} (publish, publish checkpoint: published ")
        await press(pilot, "r")
        assert rev(workbench, "main") == first
        # Restore takes the conversation back in time too: the second prompt is gone from it.
        assert [w.id for w in app.query("#conversation > *")] == ["chat-0", "chat-1", "chat-2"]

    drive(workbench, scenario)


def test_a_new_prompt_while_a_draft_is_open_asks_continue_fork_publish_discard_or_cancel(
    workbench: Path, provider: ProviderServer
) -> None:
    ref, head = run_job(workbench, EDIT)

    async def send(pilot: Pilot[None]) -> None:
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await send(pilot)
        question, buttons = prompt(app, "draft-open")
        assert question == (
            "A Draft is open. Continue it (this job's steps go on it), fork a new Draft beside it, "
            "publish it, discard it, or cancel this job?"
        )
        assert buttons == [
            "Continue it (c)",
            "Fork a new Draft beside it (f)",
            "Publish it (p)",
            "Discard it (d)",
            "Cancel this job (a)",
        ]
        await press(pilot, "a")
        assert text(app, "#message") == "Cancelled: the job did not run; the Draft is as it was."
        assert provider.posts == [] and drafts_of(workbench) == [ref]

        await press(pilot, "w")
        await send(pilot)
        await press(pilot, "p")  # publish the open Draft, then run the job
        assert app.current_view == "review" and rev(workbench, "main") == head
        (first,) = drafts_of(workbench)

        await press(pilot, "w")
        await send(pilot)
        await press(pilot, "f")  # v1.5: a second Draft beside the first
        assert len(drafts_of(workbench)) == 2
        assert text(app, "#draft").startswith("2 Drafts: ")
        assert app.query_one("#review-draft").display  # Review picks which Draft it shows
        await press(pilot, "d")  # Discard asks which one: gitbench never guesses
        question, buttons = prompt(app, "which-draft")
        assert question == "2 Drafts are open: which one do you want to discard?"
        assert len(buttons) == 3 and buttons[-1] == "Cancel (c)"
        label = first.rsplit("/", 1)[1]
        seen["first"] = first
        await pilot.click(f"#choice-{[b.split(' (')[0] for b in buttons].index(label)}")
        await settle(pilot)
        assert prompt(app, "confirm-discard")[0] == f"Discard the Draft {label}? (recoverable for 14 days)"
        await press(pilot, "d")

    seen: dict[str, str] = {}
    drive(workbench, scenario)
    (left,) = drafts_of(workbench)
    assert left != seen["first"] and len(provider.posts) == 2


def test_a_failing_ask_shows_the_error_banner_whose_actions_are_buttons_and_switching_model_resumes_it(
    workbench: Path, provider: ProviderServer
) -> None:
    published = rev(workbench, "main")
    provider.push(ps.status(400, body={"error": {"message": "bad request"}}))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")
        assert shown(app.query_one("#error-banner"))
        assert text(app, "#error-title") == "error: model-error (exit 20)"
        assert "bad request" in text(app, "#error-message")
        assert error_buttons(app) == [
            "Retry from the last completed step",
            "Switch model and resume",
            "Go back: discard the Draft (recoverable) and restore the checkpoint taken before the job",
            "View the report",  # (no "Review the partial work": the first batch failed, the Draft has no step)
        ]
        job = drafts_of(workbench)[0].rsplit("/", 1)[1]
        # The report, from the banner's button; the banner stays for the next action.
        await pilot.click("#error-action-3")
        await settle(pilot)
        assert app.screen.id == "report"
        assert text(app, "#report-text").startswith(f"Job {job} (ask): failed")
        await press(pilot, "escape")
        assert shown(app.query_one("#error-banner"))
        # The main menu offers to resume the stopped job.
        options = app.query_one("#menu-options", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert f"Resume Work ({job})  (u)" in labels
        # Switch model and resume: the same job goes on from its last completed step with the model picked.
        await pilot.click("#error-action-1")
        await settle(pilot)
        assert app.screen.id == "pick-model"
        await press(pilot, "down", "enter")
        assert not shown(app.query_one("#error-banner"))
        assert text(app, "#message").startswith(f"Job {job} finished: 1 file(s) changed")
        assert app.current_view == "review"
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert not any(label.startswith("Resume Work") for label in labels)

    drive(workbench, scenario)
    assert rev(workbench, "main") == published  # a failed job never changes Published
    (ref,) = drafts_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py").endswith("edited by model\n")
    assert "Gitbench-Model: fake:other-model" in git(workbench, "log", "-1", "--format=%(trailers)", ref)
    assert [p["body"]["model"] for p in provider.posts] == ["test-model", "other-model"]


def test_ctrl_c_cancels_a_running_ask_job_at_its_next_step_and_keeps_the_draft_and_the_finished_step(
    tmp_path: Path, provider: ProviderServer
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.write_text(config_toml(provider, job={"batch_files": 1}))  # two files, two batches
    wb = make_project(tmp_path / "p", {"src/a.py": "A = 1\n", "src/b.py": "B = 2\n"})
    assert gitbench(wb, "init").returncode == 0
    published = rev(wb, "main")
    provider.push(ps.slow(1.0))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while not provider.posts and time.monotonic() < deadline:  # the first batch is with the model
            await pilot.pause(0.02)
        assert text(app, "#job-indicator") == "Running: ask" and shown(app.query_one("#cancel-job"))
        await pilot.press("ctrl+c")  # while typing in the prompt box too
        assert "cancelling" in text(app, "#job-indicator")
        await settle(pilot)
        assert text(app, "#error-title") == "error: cancelled (exit 130)"
        assert "The job was cancelled (Ctrl-C) after 1 of 2 batch(es)" in text(app, "#error-message")
        assert text(app, "#job-indicator") == "" and not shown(app.query_one("#cancel-job"))
        assert len(provider.posts) == 1  # the second batch never went to the model
        (ref,) = drafts_of(wb)
        job = json.loads(git(wb, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))
        assert job["status"] == "cancelled" and job["steps_completed"] == 1
        # Retry goes on from the last completed step: only the second batch is sent.
        assert error_buttons(app)[0] == "Retry from the last completed step"
        await pilot.click("#error-action-0")
        await settle(pilot)
        assert text(app, "#message").startswith(f"Job {job['id']} finished: 2 file(s) changed")

    drive(wb, scenario)
    assert len(provider.posts) == 2
    (ref,) = drafts_of(wb)
    job = json.loads(git(wb, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))
    assert job["status"] == "complete" and job["steps_completed"] == 2
    assert rev(wb, "main") == published
    check_invariants(wb)


# -- the seeds' prompts on opening ----------------------------------------------------------------------------------
def test_a_draft_idle_for_7_days_asks_discard_or_keep_on_open_and_keep_is_remembered(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, head = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    monkeypatch.setenv("GITBENCH_NOW", str(time.time() + 8 * 86400))

    async def first(app: GitbenchApp, pilot: Pilot[None]) -> None:
        question, buttons = prompt(app, "stale-draft")
        assert question.startswith("A stale Draft was found (last modified ") and question.endswith("Discard it?")
        assert buttons == ["Discard (d)", "Keep (k)"]
        await press(pilot, "k")
        assert text(app, "#message") == f"Keeping the Draft {label}; you will not be asked for 7 days."
        assert app.current_view == "review"
        assert text(app, "#reminder").startswith("reminder: You have an open Draft from ")  # the 24 h one

    async def again(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert not isinstance(app.screen, ModalScreen)  # kept: not asked again
        assert app.current_view == "review"

    drive(workbench, first)
    drive(workbench, again)
    assert drafts_of(workbench) == [ref] and rev(workbench, ref) == head


def test_a_stale_draft_discarded_at_the_opening_prompt_is_gone_and_the_menu_shows(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_job(workbench, EDIT)
    published = rev(workbench, "main")
    monkeypatch.setenv("GITBENCH_NOW", str(time.time() + 8 * 86400))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "d")
        assert app.current_view == "menu" and text(app, "#draft") == "No Draft"

    drive(workbench, scenario)
    assert drafts_of(workbench) == [] and rev(workbench, "main") == published


@pytest.mark.slow  # three model jobs through the CLI, then two prompts: ~16 s on a loaded 2-core machine
def test_several_stale_drafts_are_each_named_with_how_stale_and_their_own_discard_or_keep(
    workbench: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ask(*extra: str, env: dict[str, str] | None = None) -> str:
        before = set(drafts_of(workbench))
        res = gitbench(workbench, "ask", "Add a line", "--files", "src/**", *extra, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        (ref,) = set(drafts_of(workbench)) - before
        return ref.rsplit("/", 1)[1]

    first = ask()
    second = ask("--on-draft", "fork")
    later = {"GITBENCH_NOW": str(time.time() + 8 * 86400)}
    fresh = ask("--on-draft", "fork", env=later)  # made 8 days on: not stale
    monkeypatch.setenv("GITBENCH_NOW", later["GITBENCH_NOW"])

    def app_of(pilot: Pilot[None]) -> GitbenchApp:
        assert isinstance(pilot.app, GitbenchApp)
        return pilot.app

    async def next_prompt(pilot: Pilot[None], answered: object = None) -> None:
        """Until a prompt other than the one answered is up (the answer's discard runs in between)."""
        for _ in range(400):
            if isinstance(pilot.app.screen, ModalScreen) and pilot.app.screen is not answered:
                return
            await pilot.pause(0.05)
        banner = pilot.app.query_one("#error-message", Static)
        raise AssertionError(f"no prompt; the banner: {banner.content}; the message: {text(app_of(pilot), '#message')}")

    asked: list[str] = []  # the two stale Drafts, in the order the prompts ask about them

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await next_prompt(pilot)
        question, buttons = prompt(app, "stale-draft")
        lines = question.splitlines()
        assert lines[0] == "2 stale Drafts were found:"
        # Listed and asked about in the order status lists Drafts (the two were made in the same second).
        one, two = (line.removeprefix("  • ").split(":")[0] for line in lines[1:3])
        assert {one, two} == {first, second}
        asked.extend([one, two])
        assert lines[1].startswith(f"  • {one}: last modified ") and ", idle 8d 0h" in lines[1]
        assert lines[1].endswith("← this one")
        assert lines[2].startswith(f"  • {two}: last modified ") and ", idle 8d 0h" in lines[2]
        assert fresh not in question
        assert lines[-1] == f"Draft {one} (1 of 2): discard it or keep it?"
        assert buttons == [f"Discard {one} (d)", f"Keep {one} (k)"]
        reminder = text(app, "#reminder")  # the status bar names each one with its own commands
        for label in (first, second):
            assert f"reminder: {label}: A stale Draft was found (last modified " in reminder
            assert f"[Discard: `gitbench discard --draft {label}` / Keep: `gitbench keep --draft {label}`]" in reminder
        answered = app.screen
        await press(pilot, "d")
        await next_prompt(pilot, answered)
        question, buttons = prompt(app, "stale-draft-2")
        assert question.splitlines()[0] == "A stale Draft was found:" and one not in question
        assert question.splitlines()[-1] == f"Draft {two} (2 of 2): discard it or keep it?"
        assert buttons == [f"Discard {two} (d)", f"Keep {two} (k)"]
        await press(pilot, "k")
        assert not isinstance(app.screen, ModalScreen)
        assert text(app, "#message") == f"Keeping the Draft {two}; you will not be asked for 7 days."

    drive(workbench, scenario)
    assert sorted(r.rsplit("/", 1)[1] for r in drafts_of(workbench)) == sorted([asked[1], fresh])


def test_a_draft_older_than_a_day_gets_the_gentle_reminder_in_the_status_bar(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, _ = run_job(workbench, EDIT)
    created = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))["created"]
    monkeypatch.setenv("GITBENCH_NOW", str(created + 30 * 3600))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        from gitbench import clock

        assert not isinstance(app.screen, ModalScreen)
        assert text(app, "#reminder") == (
            f"reminder: You have an open Draft from {clock.iso(created)}. Review and publish or discard? "
            "(`gitbench review`, `gitbench publish`, `gitbench discard`)"
        )
        assert text(app, "#draft").endswith("· 1d 6h old")

    drive(workbench, scenario)


def test_a_publish_conflict_offers_discard_or_restore_published_from_a_checkpoint_then_publishes(
    workbench: Path,
) -> None:
    ref, head = run_job(workbench, EDIT)
    (workbench / "docs/guide.md").write_text("edited and committed behind gitbench's back\n")
    git(workbench, *NO_HOOKS, "commit", "-q", "-am", "outside change")
    outside = rev(workbench, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "p")
        question, buttons = prompt(app, "publish-conflict")
        assert question.startswith(f"Published changed outside gitbench: main is at {outside[:12]}")
        assert buttons == [
            "Discard the Draft (d)",
            f"Restore Published from {nth_checkpoint(workbench, 2)}, then publish (r)",  # where the Draft started
            "Cancel (c)",
        ]
        await press(pilot, "c")
        assert text(app, "#message") == "Cancelled: nothing was changed; the Draft is as it was."
        assert rev(workbench, "main") == outside
        await press(pilot, "p", "r")
        assert text(app, "#message").startswith(f"Published {head[:12]} to main.")

    drive(workbench, scenario)
    assert rev(workbench, "main") == head and drafts_of(workbench) == []
    kept = [
        line.split()[0]
        for line in git(workbench, "tag", "-n1", "-l", "checkpoint/*").splitlines()
        if "pre-restore" in line
    ]
    assert [rev(workbench, f"{name}^{{commit}}") for name in kept] == [outside]  # the outside change is kept


def test_a_corrupted_draft_on_open_offers_discard_or_restore(workbench: Path) -> None:
    ref, _ = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    (workbench / ".git" / ref).write_text("0123456789abcdef0123456789abcdef01234567\n")
    published = rev(workbench, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        question, buttons = prompt(app, "corrupt-draft")
        assert question.startswith(f"The Draft {label} is missing or corrupted")
        assert buttons == ["Discard the broken Draft (d)", "Discard it, then restore a checkpoint (r)", "Not now (c)"]
        assert text(app, "#draft") == f"Draft {label}: unreadable"
        assert app.query_one("#publish", Button).disabled and not app.query_one("#discard", Button).disabled
        await press(pilot, "r")
        assert app.current_view == "checkpoints" and not app.query_one("#restore", Button).disabled

    drive(workbench, scenario)
    assert drafts_of(workbench) == [] and rev(workbench, "main") == published


# -- the workflow view ---------------------------------------------------------------------------------------------
WORKFLOW = """\
max_parallel: 2
phases: [build, polish]
modules:
  - id: a
    phase: build
    run: {command: 'echo a > out/a.txt'}
    outputs: [out/a.txt]
  - id: b
    phase: build
    needs: [a]
    run: {command: 'cat out/a.txt > out/b.txt; echo b >> out/b.txt'}
    outputs: [out/b.txt]
  - id: extra
    phase: polish
    optional: true
    needs: [a]
    run: {command: 'echo x > out/x.txt'}
    outputs: [out/x.txt]
"""


def test_the_workflow_view_gates_skips_runs_live_approves_and_reruns_a_module(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "p", WORKFLOW)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert text(app, "#engine-banner") == "Status: ready (phase: build)"
        await press(pilot, "f")
        table = rows(app, "#module-table")
        assert list(table) == ["a", "b", "extra"]
        assert table["a"][1] == "ready" and table["b"][1] == "blocked" and table["b"][4] == "Blocked by: a"
        assert table["extra"][5] == "optional"
        await press(pilot, "down", "g")  # b: a manual gate
        assert text(app, "#message") == "b: now needs manual approval before it runs (`gitbench workflow approve b`)."
        assert "gate: waiting for approval (a)" in rows(app, "#module-table")["b"][5]
        await press(pilot, "down", "s")  # extra: skipped
        assert "skipped (optional)" in rows(app, "#module-table")["extra"][5]

        await press(pilot, "R")  # run: a runs, b waits at its gate
        table = rows(app, "#module-table")
        assert table["a"][1] == "complete" and table["a"][2].startswith("last run: complete (")
        assert "skipped:manual-gate" in table["b"][5]
        log = "\n".join(app.query_one("#workflow-log").lines)  # type: ignore[attr-defined]
        assert "a: running (command)" in log and "a: complete" in log
        assert app.query_one("#workflow-progress").total == 3  # type: ignore[attr-defined]
        assert text(app, "#message").startswith("Status: ready. Modules left: b (manual-gate)")

        await press(pilot, "up", "a")  # approve b, then enter reruns it alone
        assert "gate: approved" in rows(app, "#module-table")["b"][5]
        await press(pilot, "enter")
        assert app.current_view == "review"  # the workflow's job finished with its Draft: Review opens
        assert text(app, "#engine-banner") == "Status: complete"
        await press(pilot, "f")
        assert rows(app, "#module-table")["b"][1] == "complete"

    drive(wb, scenario)
    ref = draft_ref(wb)
    files = git(wb, "ls-tree", "-r", "--name-only", ref).split()
    assert "out/a.txt" in files and "out/b.txt" in files and "out/x.txt" not in files  # extra never ran
    assert git(wb, "show", f"{ref}:out/b.txt") == "a\nb\n"
    check_invariants(wb)


def test_a_failed_module_shows_last_run_failed_and_its_error_then_a_headless_rerun_r_and_resume_work_recover(
    tmp_path: Path,
) -> None:
    flag, ok = tmp_path / "fixed", "echo ok > out/bad.txt"
    wb = workflow_bench(
        tmp_path / "p",
        textwrap.dedent(f"""\
        phases: [build, finish]
        modules:
          - id: bad
            phase: build
            run: {{command: 'test -f {flag} || {{ echo "bad: the flag file is missing" >&2; exit 3; }}; {ok}'}}
            outputs: [out/bad.txt]
          - id: after
            phase: finish
            needs: [bad]
            run: {{command: 'cat out/bad.txt > out/after.txt'}}
            outputs: [out/after.txt]
        """),
    )

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "f", "R")
        assert text(app, "#engine-banner") == "Status: Error · bad failed (phase: build)"
        assert text(app, "#workflow-banner").startswith("Status: Error · bad failed")
        assert text(app, "#error-title") == "error: job-failed (exit 12)"
        assert "bad: the flag file is missing" in text(app, "#error-message")
        table = rows(app, "#module-table")
        assert table["bad"][1] == "failed" and "last run: failed (" in table["bad"][2]
        assert table["bad"][2].endswith("bad: the flag file is missing")
        assert table["after"][4] == "Blocked by: bad"
        options = app.query_one("#menu-options", OptionList)
        assert "Resume Work (build)  (u)" in [
            str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
        ]
        # The operator fixes the cause, reruns the module headlessly, and refreshes the view (r).
        flag.write_text("fixed\n")
        res = module_runner(wb, "--module", "bad")
        assert res.returncode == 0, res.stdout + res.stderr
        await press(pilot, "escape")  # the banner goes
        app.query_one("#module-table", DataTable).focus()
        await press(pilot, "r")
        assert rows(app, "#module-table")["bad"][1] == "complete"
        assert text(app, "#workflow-banner") == "Status: ready  (phase: finish)"
        await press(pilot, "u")  # Resume Work: the engine goes on with the rest
        assert rows(app, "#module-table")["after"][1] == "complete"
        assert text(app, "#engine-banner") == "Status: complete"

    drive(wb, scenario)
    assert git(wb, "show", f"{draft_ref(wb)}:out/after.txt") == "ok\n"
    check_invariants(wb)


def test_enter_on_a_needs_input_module_whose_output_was_written_finishes_it_as_workflow_resume_does(
    tmp_path: Path,
) -> None:
    wb = workflow_bench(
        tmp_path / "p",
        textwrap.dedent("""\
        modules:
          - id: sign-off
            inputs: {input: "the reviewers' sign-off"}
            outputs: [review/sign-off.md]
          - id: notes
            needs: [sign-off]
            outputs: [out/notes.md]
            run: {command: 'cat review/sign-off.md > out/notes.md'}
        """),
    )

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "f", "R")
        assert rows(app, "#module-table")["sign-off"][1] == "needs-input"
        (wb / "review").mkdir()
        (wb / "review/sign-off.md").write_text("signed: ana\n")
        app.query_one("#module-table", DataTable).focus()
        await press(pilot, "enter")  # on sign-off, the first row
        table = rows(app, "#module-table")
        assert table["sign-off"][1] == "complete", table
        assert table["notes"][1] == "complete", table
        assert "sign-off" not in state(wb)["running"]

    drive(wb, scenario)
    assert git(wb, "show", f"{draft_ref(wb)}:review/sign-off.md") == "signed: ana\n"
    assert git(wb, "show", f"{draft_ref(wb)}:out/notes.md") == "signed: ana\n"
    check_invariants(wb)


# -- help, and the command ------------------------------------------------------------------------------------------
def test_question_mark_lists_every_key(workbench: Path) -> None:
    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "question_mark")
        assert app.screen.id == "help"
        help_text = text(app, "#help-text")
        for words in (
            "Publish",
            "Discard",
            "Resume Work",
            "Cancel the running job",
            "Workflow",
            "Refresh: the resolver reads the files again",
            "Require a manual gate",
            "Approve the gated module",
            "Skip the optional module",
            "Rerun the highlighted module",
            "Manual checkpoint",
            "Restore the highlighted checkpoint",
            "send the prompt as a job",
        ):
            assert words in help_text, words
        await press(pilot, "escape")
        assert app.screen.id != "help"

    drive(workbench, scenario)


def test_gitbench_tui_runs_on_a_terminal_opens_review_on_the_draft_and_q_quits(workbench: Path) -> None:
    run_job(workbench, EDIT)
    term = Terminal(workbench, ["tui"], env={"LINES": "40", "COLUMNS": "120"})
    term.expect("Publish (p)", timeout=30)
    term.expect("diff --git a/src/app.py", timeout=30)
    os.write(term.master, b"q")
    assert term.finish(timeout=30) == 0


def test_gitbench_status_and_other_commands_never_import_textual(workbench: Path) -> None:
    code = textwrap.dedent("""\
        import sys
        from gitbench.cli.app import main
        assert main(["status"]) == 0
        assert main(["log", "-n", "1"]) == 0  # through typer, with every command module registered
        assert "textual" not in sys.modules, "textual was imported"
        """)
    res = subprocess.run([sys.executable, "-c", code], cwd=workbench, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = gitbench(workbench, "tui")  # not at a terminal
    assert res.returncode == 2 and "needs a terminal" in res.stderr


def test_an_internal_error_in_the_window_writes_its_crash_log_in_the_workbench_it_has_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app was opened on a Workbench other than the current folder's (as a test or an embedding host does):
    # the crash log belongs with the Workbench the window shows, not with the repository the process is in.
    from gitbench.tui.runner import gitbench_error

    shown = make_project(tmp_path / "shown")
    elsewhere = make_project(tmp_path / "elsewhere")
    monkeypatch.chdir(elsewhere)
    err = gitbench_error(RuntimeError("boom"), str(shown))
    logs = list((shown / ".git" / "gitbench" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err.message and "boom" in logs[0].read_text()
    assert not (elsewhere / ".git" / "gitbench").exists()
