"""The views the main menu opens (one shown at a time, under the status bar)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.widget import Widget

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp


def app_of(widget: Widget) -> GitbenchApp:
    return cast("GitbenchApp", widget.app)
