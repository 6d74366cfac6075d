"""`gitbench tui`, more of its flows with the real app under Textual's pilot (the helpers of tests/test_tui.py):
the workflow view when its file is broken and when another job's Draft is open, and the Draft's prompts."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, OptionList, Select

from gitbench.tui.app import GitbenchApp
from tests import provider_server as ps
from tests.conftest import checkpoint_names, git, gitbench, run_job
from tests.provider_server import ProviderServer
from tests.test_tui import EDIT, NO_HOOKS, drafts_of, drive, press, prompt, rows, settle, text, type_into
from tests.workflow_helpers import draft_ref, state, status_json, workflow_bench

WORKFLOW = textwrap.dedent("""\
    modules:
      - id: a
        run: {command: 'echo a > out/a.txt'}
        outputs: [out/a.txt]
      - id: extra
        optional: true
        needs: [a]
        run: {command: 'echo x > out/x.txt'}
        outputs: [out/x.txt]
    """)


def test_the_workflow_view_shows_a_broken_workflow_file_then_its_buttons_act_once_it_is_fixed(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "p", "modules: [\n")  # broken YAML, in Published

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "f")
        banner = text(app, "#workflow-banner")
        assert banner.startswith("The workflow file is not valid: .gitbench/workflow.yaml, line 2: YAML syntax error")
        assert rows(app, "#module-table") == {} and text(app, "#module-detail") == ""
        for button in ("#wf-rerun", "#wf-gate", "#wf-approve", "#wf-skip"):  # no module: nothing to act on
            await pilot.click(button)
            await settle(pilot)
        assert rows(app, "#module-table") == {}

        (wb / ".gitbench/workflow.yaml").write_text(WORKFLOW)  # the operator fixes it and commits the fix
        git(wb, *NO_HOOKS, "commit", "-qam", "fix the workflow")
        await pilot.click("#wf-refresh")
        await settle(pilot)
        assert list(rows(app, "#module-table")) == ["a", "extra"]
        assert text(app, "#module-detail").startswith("a: ready")
        table = app.query_one("#module-table", DataTable)
        table.move_cursor(row=1)
        await pilot.click("#wf-skip")
        await settle(pilot)
        assert "skipped" in rows(app, "#module-table")["extra"][5]
        await pilot.click("#wf-gate")
        await settle(pilot)
        assert "gate: waiting for approval (a)" in rows(app, "#module-table")["extra"][5]
        await pilot.click("#wf-approve")
        await settle(pilot)
        assert "gate: approved" in rows(app, "#module-table")["extra"][5]
        table.move_cursor(row=0)
        await pilot.click("#wf-rerun")
        await settle(pilot)
        assert rows(app, "#module-table")["a"][1] == "complete"

    drive(wb, scenario)
    assert git(wb, "show", f"{draft_ref(wb)}:out/a.txt") == "a\n"


def test_run_all_with_another_jobs_draft_open_asks_first_cancel_keeps_it_and_discard_runs_the_workflow(
    tmp_path: Path,
) -> None:
    wb = workflow_bench(tmp_path / "p", WORKFLOW)
    other, _ = run_job(wb, "import pathlib; pathlib.Path('notes.txt').write_text('mine\\n')", files="notes.txt")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "u")  # Resume Work with nothing stopped
        assert text(app, "#message") == "Nothing to resume: no workflow or job is stopped."
        await press(pilot, "f", "R")
        question, buttons = prompt(app, "draft-open")
        assert question == "A Draft is open. Publish it, discard it, or cancel this job?"
        assert buttons == ["Publish it (p)", "Discard it (d)", "Cancel this job (c)"]
        await press(pilot, "c")
        assert text(app, "#message") == "Cancelled: the job did not run; the Draft is as it was."
        assert drafts_of(wb) == [other]
        assert rows(app, "#module-table")["a"][1] == "ready"

        await press(pilot, "R")
        assert prompt(app, "draft-open")[0].startswith("A Draft is open.")
        await press(pilot, "d")  # discard the other job's Draft, then the workflow runs
        assert rows(app, "#module-table")["a"][1] == "complete"

    drive(wb, scenario)
    (ref,) = drafts_of(wb)
    assert ref != other and git(wb, "show", f"{ref}:out/a.txt") == "a\n"
    assert "notes.txt" not in git(wb, "ls-tree", "-r", "--name-only", ref).split()


def test_a_corrupted_draft_left_for_now_shows_in_the_banner_and_review_then_publish_offers_the_discard(
    workbench: Path,
) -> None:
    ref, _ = run_job(workbench, EDIT)
    label = ref.rsplit("/", 1)[1]
    (workbench / ".git" / ref).write_text("0123456789abcdef0123456789abcdef01234567\n")
    published = git(workbench, "rev-parse", "main").strip()

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert prompt(app, "corrupt-draft")[0].startswith(f"The Draft {label} is missing or corrupted")
        await press(pilot, "c")  # Not now: the error stays in view
        assert text(app, "#error-message").startswith(f"The Draft {label} is missing or corrupted")
        await press(pilot, "v")  # Review says what is wrong instead of a diff
        assert text(app, "#review-summary").startswith(f"The Draft {label} is missing or corrupted")
        assert not app.query_one("#review-next").display
        await press(pilot, "p")  # publishing it cannot work: the same offer
        question, _ = prompt(app, "corrupt-draft")
        assert question.startswith(f"The Draft {label} is missing or corrupted")
        await press(pilot, "d")
        assert drafts_of(workbench) == []

    drive(workbench, scenario)
    assert git(workbench, "rev-parse", "main").strip() == published


def test_with_two_drafts_review_picks_either_and_publish_or_discard_can_be_cancelled_at_which_draft(
    workbench: Path, provider: ProviderServer
) -> None:
    assert gitbench(workbench, "ask", "Add a line", "--files", "src/**").returncode == 0
    res = gitbench(workbench, "ask", "Add another", "--files", "src/**", "--on-draft", "fork")
    assert res.returncode == 0, res.stdout + res.stderr
    first, second = (r.rsplit("/", 1)[1] for r in drafts_of(workbench))
    published = git(workbench, "rev-parse", "main").strip()

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert app.current_view == "review"
        picker = app.query_one("#review-draft", Select)
        assert picker.display and picker.value == first
        picker.value = second  # the operator picks the other Draft
        await settle(pilot)
        assert text(app, "#review-summary").startswith(f"Draft {second}: ")
        app.query_one("#review-files").focus()
        await press(pilot, "r")  # Review's refresh keeps the one picked
        assert text(app, "#review-summary").startswith(f"Draft {second}: ")
        for key in ("p", "d"):
            await press(pilot, key)
            question, buttons = prompt(app, "which-draft")
            assert buttons[-1] == "Cancel (c)"
            await press(pilot, "c")
            assert text(app, "#message") == "Cancelled: nothing was changed."

    drive(workbench, scenario)
    assert [r.rsplit("/", 1)[1] for r in drafts_of(workbench)] == [first, second]
    assert git(workbench, "rev-parse", "main").strip() == published


SLOW = textwrap.dedent("""\
    modules:
      - id: slow
        run: {command: 'sleep 1; echo s > out/slow.txt'}
        outputs: [out/slow.txt]
      - id: after
        needs: [slow]
        run: {command: 'echo a > out/after.txt'}
        outputs: [out/after.txt]
    """)


async def until_running(app: GitbenchApp, pilot: Pilot[None]) -> None:
    for _ in range(500):
        if app.running is not None:
            return
        await pilot.pause(0.01)
    raise AssertionError("the run did not start")


def test_ctrl_c_cancels_a_running_workflow_at_its_next_module_and_f5_refreshes_meanwhile(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "p", SLOW)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "f")
        await pilot.press("R")
        await until_running(app, pilot)
        await pilot.press("f5")  # the status bar and the view read again while the job runs
        await pilot.press("ctrl+c")
        assert "cancelling: it stops at its next step" in text(app, "#job-indicator")
        await settle(pilot)
        assert app.running is None
        assert text(app, "#error-message").startswith("The workflow run was cancelled.")
        assert rows(app, "#module-table")["after"][1] != "complete"
        banner, modules = status_json(wb)
        assert modules["after"]["state"] != "complete" and state(wb)["running"] == {}  # nothing left claimed
        await pilot.click("#error-close")
        await settle(pilot)
        assert not app.query_one("#error-banner").display
        await press(pilot, "escape")  # the menu offers to resume the stopped workflow
        menu = app.query_one("#menu-options", OptionList)
        prompts = [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]
        resume = next(i for i, p in enumerate(prompts) if p.startswith("Resume Work"))
        menu.highlighted = resume
        await press(pilot, "enter")
        assert app.current_view == "review"  # the workflow finished with its Draft: Review opens
        assert text(app, "#engine-banner") == "Status: complete"

    drive(wb, scenario)
    assert status_json(wb)[1]["after"]["state"] == "complete"


def test_checkpoints_reload_restore_asked_then_done_help_closed_by_its_button_and_quit_from_the_menu(
    workbench: Path,
) -> None:
    published = git(workbench, "rev-parse", "main").strip()
    before = checkpoint_names(workbench)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "c")
        await pilot.press("r")
        await pilot.press("r")  # a second reload while the first reads: the first one's answer is dropped
        await settle(pilot)
        assert list(rows(app, "#checkpoint-table")) == before[::-1]
        await pilot.click("#restore")
        await settle(pilot)
        assert prompt(app, "confirm-restore")[0].startswith(f"Restore {before[-1]} (")
        await press(pilot, "escape")
        assert text(app, "#message") == "Cancelled: nothing was changed."
        assert checkpoint_names(workbench) == before
        await pilot.click("#restore")
        await settle(pilot)
        await press(pilot, "r")
        assert len(checkpoint_names(workbench)) == len(before) + 1  # the pre-restore checkpoint

        await press(pilot, "question_mark")
        assert app.screen.id == "help"
        app.screen.query_one("#close-help", Button).press()  # below the fold of the help: not clickable here
        await settle(pilot)
        assert app.screen.id != "help"

        await press(pilot, "escape")
        assert app.current_view == "menu"
        menu = app.query_one("#menu-options", OptionList)
        menu.highlighted = menu.option_count - 1
        assert str(menu.get_option_at_index(menu.option_count - 1).prompt) == "Quit  (q)"
        await pilot.press("enter")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running

    drive(workbench, scenario)
    assert git(workbench, "rev-parse", "main").strip() == published


def test_a_failed_ask_sent_by_the_button_report_closed_switch_model_cancelled_then_resumed_with_u(
    workbench: Path, provider: ProviderServer
) -> None:
    published = git(workbench, "rev-parse", "main").strip()
    provider.push(ps.status(400, body={"error": {"message": "bad request"}}))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await press(pilot, "enter")  # enter in the files box: on to the prompt box
        assert app.focused is app.query_one("#prompt")
        await type_into(pilot, "#prompt", "Add a line")
        await pilot.click("#send")
        await settle(pilot)
        assert text(app, "#error-title") == "error: model-error (exit 20)"
        job = drafts_of(workbench)[0].rsplit("/", 1)[1]
        await pilot.click("#error-action-3")  # View the report (no step to review: none), closed by its button
        await settle(pilot)
        assert text(app, "#report-text").startswith(f"Job {job} (ask): failed")
        app.screen.query_one("#close-report", Button).press()
        await settle(pilot)
        assert app.screen.id != "report" and app.query_one("#error-banner").display

        await pilot.click("#error-action-1")  # Switch model and resume: then not picking one
        await settle(pilot)
        assert app.screen.id == "pick-model"
        await press(pilot, "escape")
        assert text(app, "#message") == "Cancelled: the job is as it was."
        assert len(provider.posts) == 1

        await press(pilot, "escape")  # the banner goes
        await press(pilot, "u")  # Resume Work: the stopped job goes on with its own model
        assert text(app, "#message").startswith(f"Job {job} finished: 1 file(s) changed")
        assert app.current_view == "review"

        await press(pilot, "w")
        await press(pilot, "escape")  # out of the prompt box
        assert not isinstance(app.focused, Input)
        await press(pilot, "escape")  # then the menu
        assert app.current_view == "menu"

    drive(workbench, scenario)
    assert git(workbench, "rev-parse", "main").strip() == published
    (ref,) = drafts_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py").endswith("edited by model\n")
    assert [p["body"]["model"] for p in provider.posts] == ["test-model", "test-model"]


def test_escape_at_the_stale_prompt_then_keep_before_a_new_job_then_discard_at_a_publish_conflict(
    workbench: Path, monkeypatch: pytest.MonkeyPatch, provider: ProviderServer
) -> None:
    ref, head = run_job(workbench, EDIT)
    (workbench / "docs/guide.md").write_text("edited and committed behind gitbench's back\n")
    git(workbench, *NO_HOOKS, "commit", "-q", "-am", "outside change")
    outside = git(workbench, "rev-parse", "main").strip()
    monkeypatch.setenv("GITBENCH_NOW", str(time.time() + 8 * 86400))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert prompt(app, "stale-draft")[1] == ["Discard (d)", "Keep (k)"]
        await press(pilot, "escape")  # not now: neither discarded nor kept
        assert app.current_view == "review" and drafts_of(workbench) == [ref]
        await press(pilot, "w")  # a new job: the stale Draft is asked about first, then what to do with it
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")
        assert prompt(app, "stale-draft")[1] == ["Discard (d)", "Keep (k)"]
        await press(pilot, "k")
        assert prompt(app, "draft-open")[0].startswith("A Draft is open. Continue it")
        await press(pilot, "a")
        assert text(app, "#message") == "Cancelled: the job did not run; the Draft is as it was."
        assert provider.posts == []
        await press(pilot, "escape", "escape")
        await press(pilot, "p")
        question, buttons = prompt(app, "publish-conflict")
        assert question.startswith(f"Published changed outside gitbench: main is at {outside[:12]}")
        await press(pilot, "d")
        assert drafts_of(workbench) == []

    drive(workbench, scenario)
    assert git(workbench, "rev-parse", "main").strip() == outside  # the outside change stays Published
    state_file = workbench / ".git" / "gitbench" / "state.json"
    kept = json.loads(state_file.read_text()).get("kept", {}) if state_file.exists() else {}
    assert ref.rsplit("/", 1)[1] in kept  # the Keep answered before the new job was recorded


def test_a_draft_that_changed_no_file_reviews_as_empty_and_help_waits_while_a_prompt_is_open(workbench: Path) -> None:
    res = gitbench(
        workbench, "exec", "--files", "src/**", "--", "git", "commit", "-q", "--allow-empty", "-m", "nothing"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    (ref,) = drafts_of(workbench)
    label = ref.rsplit("/", 1)[1]

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        assert app.current_view == "review"
        assert text(app, "#review-summary").startswith(f"Draft {label}: 0 file(s) changed, +0 -0")
        assert app.query_one("#review-files", OptionList).option_count == 0
        assert text(app, "#review-diff") == ""
        await press(pilot, "d")
        assert prompt(app, "confirm-discard")[0] == f"Discard the Draft {label}? (recoverable for 14 days)"
        await press(pilot, "f1")  # the help waits: the question is still the one on screen
        assert app.screen.id == "confirm-discard"
        await press(pilot, "escape")
        assert drafts_of(workbench) == [ref]

    drive(workbench, scenario)
