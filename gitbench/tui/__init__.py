"""The terminal UI (`gitbench tui`): Workshop, Review, Draft actions, Checkpoints and the workflow view.

Textual lives only here and is imported only by `gitbench tui`. The TUI has no logic and no Git access of its
own: every screen calls the same services the CLI calls (each call on a Workbench of its own, in a thread:
pygit2 objects are not shared across threads) and shows their results and their errors.
"""

from __future__ import annotations


def run(root: str) -> None:
    """Run the app on the Workbench at ``root`` until the user quits."""
    from gitbench.tui.app import GitbenchApp

    GitbenchApp(root).run()
