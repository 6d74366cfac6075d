"""gitbench/tui/views/, in the real app headless on real Workbenches: what a view lists and what its buttons do."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from gitbench.services import checkpoints as cps
from gitbench.services.checkpoints import PAGE
from gitbench.services.workbench import Workbench
from gitbench.tui.app import GitbenchApp
from tests.conftest import checkpoint_names, git
from tests.test_tui import drive, rows, settle, text

pytestmark = pytest.mark.filterwarnings("ignore:'click.utils.get_[a-z_]*' is deprecated:DeprecationWarning")


def test_checkpoints_lists_the_newest_page_then_every_older_one_and_the_button_takes_one(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    for n in range(PAGE + 2):  # more than a page: the older ones come after the first rows
        with wb.changing("checkpoint"):
            cps.create(wb, "manual", f"note {n}")
    names = checkpoint_names(workbench)

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        app.show_view("checkpoints")
        await settle(pilot)
        assert sorted(rows(app, "#checkpoint-table")) == sorted(names) and len(names) == PAGE + 3
        app.query_one("#checkpoint-message", Input).value = "by the button"
        await pilot.click("#take-checkpoint")
        await settle(pilot)
        assert text(app, "#message").startswith("Took checkpoint/")
        assert app.query_one("#checkpoint-message", Input).value == ""
        assert len(rows(app, "#checkpoint-table")) == PAGE + 4

    drive(workbench, scenario)
    newest = checkpoint_names(workbench)[-1]
    assert "by the button" in git(workbench, "tag", "-n1", "-l", newest)
