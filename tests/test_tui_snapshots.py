"""`gitbench tui`, screen by screen: SVG snapshots (pytest-textual-snapshot) of each screen in its main states.

Each test builds a real Workbench (the real CLI in a subprocess, the scripted provider on 127.0.0.1), opens the
real app on it, drives it with the pilot as a user would, and compares the screen with the SVG kept in
``tests/__snapshots__/test_tui_snapshots/``. A changed screen fails the test; when the change is meant, look at
the report, then run ``pytest tests/test_tui_snapshots.py --snapshot-update`` and commit the new SVGs.

Everything that would change from run to run is pinned: gitbench's clock (``GITBENCH_NOW``, which also dates
gitbench's own commits and tags, and names its checkpoints), the random part of ids (job ids, Draft labels,
conversations) and of checkpoint names (the clone id, ``GITBENCH_CLONE``), Git's author and committer dates for the
setup commits (tests/conftest.py's seal), the file contents, the blinking cursors.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from gitbench.services import workbench as workbench_service
from gitbench.tui.app import GitbenchApp
from tests import provider_server as ps
from tests.conftest import git, make_project
from tests.invariants import check_invariants
from tests.provider_server import ProviderServer
from tests.test_tui import press, settle, type_into

SNAPSHOTS = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
GUIDE = Path(__file__).parent.parent / "docs"
T0 = 1_767_344_400  # 2026-01-02 09:00 UTC, a day after the seal's commit dates; setup steps are minutes after it
SIZE = (120, 34)
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
EDIT = "printf 'print(\"edited by the job\")\\n' > src/app.py; printf 'X = 1\\n' > src/new.py"
OTHER = "printf 'Y = 2\\n' > src/other.py"
# The real entry point with the random part of ids pinned (a counter per process; each setup step runs at its
# own minute of the frozen clock, so ids never collide across processes).
PINNED_CLI = (
    "import itertools, sys\n"
    "import gitbench.services.workbench as workbench\n"
    "count = itertools.count(1)\n"
    "workbench.random_hex = lambda nbytes: f'{next(count):04x}'\n"
    "from gitbench.cli.app import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)
Compare = Callable[..., bool]
Before = Callable[[GitbenchApp, Pilot[None]], Awaitable[None]]


# -- a deterministic Workbench ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def pinned(hermetic: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app runs in this process: its clock is frozen at T0 + 1 h, its ids count up, its clone id (the end of
    every checkpoint's name) is fixed."""
    monkeypatch.setenv("GITBENCH_NOW", str(T0 + 3600))
    monkeypatch.setenv("GITBENCH_CLONE", "snap")
    count = itertools.count(0x100)
    monkeypatch.setattr(workbench_service, "random_hex", lambda nbytes: f"{next(count):04x}")  # the random part of ids
    yield


def now(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Set the app's frozen clock to ``seconds`` after T0."""
    monkeypatch.setenv("GITBENCH_NOW", str(T0 + seconds))


def cli(wb: Path, *args: str, minute: int, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`gitbench ARGS` through the real entry point in a subprocess, at ``minute`` minutes after T0."""
    res = subprocess.run(
        [sys.executable, "-c", PINNED_CLI, *args],
        cwd=wb,
        capture_output=True,
        text=True,
        env={**os.environ, "GITBENCH_NOW": str(T0 + 60 * minute)},
        timeout=120,
    )
    if ok:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def bench(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    """A project (fixed files, sealed commit dates) adopted with `gitbench init` at T0."""
    wb = make_project(tmp_path / "project", files)
    cli(wb, "init", minute=0)
    return wb


def job(wb: Path, shell: str, minute: int) -> str:
    """`gitbench exec` of a shell command into a Draft; its label."""
    cli(wb, "exec", "--files", "src/**", "--", "sh", "-c", shell, minute=minute)
    return labels(wb)[-1]


def labels(wb: Path) -> list[str]:
    refs = git(wb, "for-each-ref", "--format=%(refname)", "--sort=creatordate", "refs/heads/gitbench/draft/")
    return [ref.rsplit("/", 1)[1] for ref in refs.split()]


# -- taking the snapshot --------------------------------------------------------------------------------------------
def snap(
    snap_compare: Compare, wb: Path, before: Before | None = None, size: tuple[int, int] = SIZE, intact: bool = True
) -> bool:
    """Open the app on ``wb``, let it settle, run ``before``, settle again, stop the cursors blinking, compare;
    then check DESIGN.md's invariants (``intact``: unless the test broke the Workbench on purpose)."""
    app = GitbenchApp(str(wb))
    app.REFRESH_SECONDS = 3600  # type: ignore[misc]  # the screen changes by acting, not by the clock

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if before is not None:
            await before(app, pilot)
            await settle(pilot)
        for screen in app.screen_stack:
            for box in screen.query(Input).results(Input):
                box.cursor_blink = False
        await pilot.pause()

    same = snap_compare(app, run_before=run_before, terminal_size=size)
    if intact:
        check_invariants(wb)
    return same


def pressing(*pressed: str) -> Before:
    async def before(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, *pressed)

    return before


# -- the main menu and the status bar ---------------------------------------------------------------------------
def test_main_menu_without_a_draft(snap_compare: Compare, tmp_path: Path) -> None:
    wb = bench(tmp_path)
    assert snap(snap_compare, wb)


def test_main_menu_with_a_draft_three_hours_old(
    snap_compare: Compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    now(monkeypatch, 60 + 3 * 3600 + 120)
    assert snap(snap_compare, wb, pressing("escape"))  # the app opens on Review; escape: the menu


def test_status_bar_with_a_draft_older_than_a_day_shows_the_reminder(
    snap_compare: Compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    now(monkeypatch, 60 + 30 * 3600)
    assert snap(snap_compare, wb, pressing("escape"))


def test_status_bar_with_several_drafts_lists_them_and_review_picks_one(
    snap_compare: Compare, tmp_path: Path, provider: ProviderServer
) -> None:
    wb = bench(tmp_path)
    cli(wb, "ask", "Add a line", "--files", "src/**", minute=1)
    cli(
        wb,
        "ask",
        "Add another line",
        "--files",
        "src/**",
        "--on-draft",
        "fork",
        "--model",
        "fake:other-model",
        minute=2,
    )
    assert len(labels(wb)) == 2
    assert snap(snap_compare, wb)  # several Drafts: Review opens with its picker of which one


# -- Review ---------------------------------------------------------------------------------------------------------
def test_review_of_a_draft_lists_its_files_and_highlights_the_diff(snap_compare: Compare, tmp_path: Path) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    assert snap(snap_compare, wb)  # a Draft is there: Review opens on it


# -- the Workshop ---------------------------------------------------------------------------------------------------
def test_workshop_conversation_with_a_publish_checkpoint_inline_and_restore_blocked_by_the_open_draft(
    snap_compare: Compare, tmp_path: Path, provider: ProviderServer
) -> None:
    wb = bench(tmp_path)
    cli(wb, "ask", "Add a line", "--files", "src/**", minute=1)
    cli(wb, "publish", minute=2)
    cli(wb, "ask", "Add another line", "--files", "src/**", minute=3)
    assert snap(snap_compare, wb, pressing("w"))


def test_workshop_conversation_with_restore_enabled_after_publishing(
    snap_compare: Compare, tmp_path: Path, provider: ProviderServer
) -> None:
    wb = bench(tmp_path)
    cli(wb, "ask", "Add a line", "--files", "src/**", minute=1)
    cli(wb, "publish", minute=2)
    assert snap(snap_compare, wb, pressing("w", "escape"))  # escape: out of the prompt box


def test_workshop_error_banner_after_a_failing_ask_with_its_next_actions_as_buttons(
    snap_compare: Compare, tmp_path: Path, provider: ProviderServer
) -> None:
    wb = bench(tmp_path)
    provider.push(ps.status(400, body={"error": {"message": "bad request"}}))

    async def before(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")

    assert snap(snap_compare, wb, before)


# -- Checkpoints ----------------------------------------------------------------------------------------------------
def test_checkpoints_with_a_draft_open_restore_is_disabled_with_the_reason(
    snap_compare: Compare, tmp_path: Path
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    cli(wb, "publish", minute=2)
    job(wb, OTHER, minute=3)
    assert snap(snap_compare, wb, pressing("c"))


def test_checkpoints_without_a_draft_restore_is_enabled(snap_compare: Compare, tmp_path: Path) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    cli(wb, "publish", minute=2)
    cli(wb, "checkpoint", "-m", "before the big change", minute=3)
    assert snap(snap_compare, wb, pressing("c", "down"))


# -- the workflow view ----------------------------------------------------------------------------------------------
ANCHOR = """\
import json, os, pathlib, sys
cfg = json.loads(os.environ["GITBENCH_MODULE_CONFIG"])
meta = pathlib.Path(cfg["commission_meta"])
if not meta.is_file():
    sys.exit(f"anchor-docs: commission-doc metadata is missing ({meta})")
pathlib.Path("docs/anchors.md").write_text("anchors: " + pathlib.Path("docs/commission.md").read_text())
"""
# No path of this machine in it (not even the Python's): its commit id is on screen, so it must be the same on
# every checkout.
SEED_WORKFLOW = textwrap.dedent("""\
    max_parallel: 2
    phases: [research, writing]
    modules:
      - id: commission-doc
        phase: research
        run: {command: 'cat notes/*.md > docs/commission.md'}
        inputs: ["notes/*.md"]
        outputs: [docs/commission.md]
      - id: anchor-docs
        phase: writing
        needs: [commission-doc]
        inputs: [tools/anchor.py, .gitbench/meta/commission-doc.json]
        outputs: [docs/anchors.md]
        run: {command: 'python3 tools/anchor.py'}
        config: {commission_meta: .gitbench/meta/commission.json}
      - id: summary
        phase: writing
        needs: [anchor-docs]
        outputs: [docs/summary.md]
        run: {command: 'cat docs/anchors.md > docs/summary.md'}
      - id: index
        phase: writing
        needs: [summary]
        outputs: [docs/index.md]
        run: {command: 'wc -l < docs/summary.md > docs/index.md'}
      - id: figures
        phase: writing
        outputs: [docs/figures.md]
        run: {command: 'echo figures > docs/figures.md'}
      - id: glossary
        phase: writing
        outputs: [docs/glossary.md]
        run: {command: 'echo glossary > docs/glossary.md'}
      - id: bibliography
        phase: writing
        outputs: [docs/bibliography.md]
        run: {command: 'echo bibliography > docs/bibliography.md'}
      - id: translations
        phase: writing
        optional: true
        needs: [summary]
        outputs: [docs/translations.md]
        run: {command: 'echo translations > docs/translations.md'}
    """)


def seed_bench(tmp_path: Path) -> Path:
    """The seed's example: anchor-docs fails (commission-doc's metadata is not where its config looks), what needs
    it is blocked; three modules are ready with max parallel 2; an optional module is skipped."""
    wb = bench(
        tmp_path,
        {
            "README.md": "# project\n",
            ".gitbench/workflow.yaml": SEED_WORKFLOW,
            "notes/a.md": "note a\n",
            "notes/b.md": "note b\n",
            "tools/anchor.py": ANCHOR,
        },
    )
    cli(wb, "workflow", "skip", "translations", minute=1)
    res = cli(wb, "workflow", "run", "--module", "commission-doc", "--module", "anchor-docs", minute=2, ok=False)
    assert res.returncode == 12, res.stdout + res.stderr
    return wb


def test_workflow_view_of_the_seed_example_failed_module_blocked_by_and_skip_reasons(
    snap_compare: Compare, tmp_path: Path
) -> None:
    wb = seed_bench(tmp_path)

    async def before(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "f")
        app.query_one("#module-table", DataTable).move_cursor(row=1)  # anchor-docs: its detail below
        await settle(pilot)

    assert snap(snap_compare, wb, before, size=(160, 36))


def test_main_menu_offers_resume_work_with_the_phase_when_a_workflow_stopped(
    snap_compare: Compare, tmp_path: Path
) -> None:
    wb = seed_bench(tmp_path)
    assert snap(snap_compare, wb, pressing("escape"), size=(150, 34))  # the workflow's Draft: Review, then the menu


# -- help -----------------------------------------------------------------------------------------------------------
def test_help_lists_every_key(snap_compare: Compare, tmp_path: Path) -> None:
    wb = bench(tmp_path)
    assert snap(snap_compare, wb, pressing("question_mark"), size=(120, 78))  # tall enough for all of it


# -- the seeds' prompts ---------------------------------------------------------------------------------------------
def test_prompt_a_new_job_while_a_draft_is_open(
    snap_compare: Compare, tmp_path: Path, provider: ProviderServer
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)

    async def before(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "w")
        await type_into(pilot, "#files", "src/**")
        await type_into(pilot, "#prompt", "Add a line")
        await press(pilot, "enter")

    assert snap(snap_compare, wb, before)
    assert provider.posts == []  # the job waits for the answer


def test_prompt_a_draft_idle_for_seven_days_discard_or_keep(
    snap_compare: Compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    now(monkeypatch, 8 * 86400)
    assert snap(snap_compare, wb)  # asked on open


def test_prompt_a_publish_conflict_discard_or_restore_published_from_a_checkpoint(
    snap_compare: Compare, tmp_path: Path
) -> None:
    wb = bench(tmp_path)
    job(wb, EDIT, minute=1)
    (wb / "docs/guide.md").write_text("edited and committed behind gitbench's back\n")
    git(wb, *NO_HOOKS, "commit", "-q", "-am", "outside change")
    assert snap(snap_compare, wb, pressing("p"))


def test_prompt_a_corrupted_draft_discard_or_restore(snap_compare: Compare, tmp_path: Path) -> None:
    wb = bench(tmp_path)
    label = job(wb, EDIT, minute=1)
    (wb / ".git/refs/heads/gitbench/draft" / label).write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert snap(snap_compare, wb, intact=False)  # asked on open


# -- the TUI guide's screenshots ------------------------------------------------------------------------------------
GUIDE_SHOTS = {  # docs/tui/<file>: the snapshot it is a copy of
    "menu.svg": "test_main_menu_without_a_draft",
    "menu-resume-work.svg": "test_main_menu_offers_resume_work_with_the_phase_when_a_workflow_stopped",
    "status-reminder.svg": "test_status_bar_with_a_draft_older_than_a_day_shows_the_reminder",
    "several-drafts.svg": "test_status_bar_with_several_drafts_lists_them_and_review_picks_one",
    "review.svg": "test_review_of_a_draft_lists_its_files_and_highlights_the_diff",
    "workshop.svg": "test_workshop_conversation_with_a_publish_checkpoint_inline_and_restore_blocked_by_the_open_draft",
    "workshop-error.svg": "test_workshop_error_banner_after_a_failing_ask_with_its_next_actions_as_buttons",
    "checkpoints.svg": "test_checkpoints_with_a_draft_open_restore_is_disabled_with_the_reason",
    "workflow.svg": "test_workflow_view_of_the_seed_example_failed_module_blocked_by_and_skip_reasons",
    "help.svg": "test_help_lists_every_key",
    "prompt-draft-open.svg": "test_prompt_a_new_job_while_a_draft_is_open",
    "prompt-stale-draft.svg": "test_prompt_a_draft_idle_for_seven_days_discard_or_keep",
    "prompt-publish-conflict.svg": "test_prompt_a_publish_conflict_discard_or_restore_published_from_a_checkpoint",
    "prompt-corrupt-draft.svg": "test_prompt_a_corrupted_draft_discard_or_restore",
}


def test_the_tui_guide_shows_the_screens_as_they_are_now() -> None:
    """docs/tui.md's screenshots are copies of the snapshots above: when a snapshot is updated, so is its copy."""
    guide = (GUIDE / "tui.md").read_text()
    stale = []
    for name, test in GUIDE_SHOTS.items():
        assert f"](tui/{name})" in guide, f"docs/tui.md does not show tui/{name}"
        shot, copy = SNAPSHOTS / f"{test}.svg", GUIDE / "tui" / name
        if not copy.exists() or copy.read_text() != shot.read_text():
            stale.append(f"cp {shot.relative_to(GUIDE.parent)} {copy.relative_to(GUIDE.parent)}")
    assert not stale, "the guide's screenshots are out of date:\n" + "\n".join(stale)
