"""Where gitbench keeps local, unversioned state: ``.git/gitbench/``."""

from __future__ import annotations

import os


class Layout:
    def __init__(self, gitdir: str) -> None:
        self.root = os.path.join(gitdir, "gitbench")

    @property
    def lock(self) -> str:
        return os.path.join(self.root, "lock")

    @property
    def journal(self) -> str:
        return os.path.join(self.root, "journal.json")

    @property
    def state(self) -> str:
        return os.path.join(self.root, "state.json")

    @property
    def checkpoint_stamp(self) -> str:
        """The stamp (seconds) of the last checkpoint this clone took: the next one takes a later second."""
        return os.path.join(self.root, "checkpoint-stamp")

    @property
    def txn(self) -> str:
        return os.path.join(self.root, "txn")

    @property
    def logs(self) -> str:
        return os.path.join(self.root, "logs")

    @property
    def checks(self) -> str:
        """The full output of each check (``checks/<id>.log``): the publish gate's, compare's."""
        return os.path.join(self.root, "logs", "checks")

    def worktree(self, label: str) -> str:
        return os.path.join(self.root, "worktrees", label)

    @property
    def worktrees(self) -> str:
        return os.path.join(self.root, "worktrees")

    @property
    def running(self) -> str:
        """Markers of jobs whose command runs without the Workbench lock (``running/<job>.json`` and its flock)."""
        return os.path.join(self.root, "running")
