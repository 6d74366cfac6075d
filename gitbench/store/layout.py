"""Where gitbench keeps local, unversioned state: ``.git/gitbench/``.

The one place that names a path under it: every other module asks a ``Layout`` (built from the repository's
common Git directory) instead of joining ``"gitbench"`` onto a gitdir itself, so a folder moved or added here is
moved or added everywhere (recovery, retention and ``gc`` look in the same places the writers wrote).

    .git/gitbench/
        lock                      the Workbench lock (store/lock.py)
        journal.json              the journal of an unfinished operation (store/journal.py)
        state.json, checkpoint-stamp
        txn/<operation id>/       backups of a move of Published's files (git/checkout.py)
        logs/                     operation logs (store/logs.py), crash logs (crash-*.log)
        logs/checks/<id>.log      the full output of a check
        running/<job>.json        markers of jobs whose command runs without the lock (store/running.py)
        changed-by-jobs/<job>/    Git settings a job's command changed, kept aside (store/gitguard.py)
        sessions/<agent>-<h>.json an agent's hook sessions (integrations/core.py)
        agents/                   what ``gitbench agent run`` gives the agents it starts
        workflow/engine/          the workflow engine's state (workflow/state.py): state.json (claims, gates,
                                  ...), runs.log (each module's last run, appended), definition.json
        workflow/cache/           the workflow engine's caches
        worktrees/<label>/        job folders of Workbenches from before Draft worktrees
"""

from __future__ import annotations

import os


class Layout:
    def __init__(self, gitdir: str) -> None:
        self.gitdir = gitdir
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

    def txn_scratch(self, op_id: str) -> str:
        """The scratch folder (backups) of one move of Published's files."""
        return os.path.join(self.root, "txn", op_id)

    @property
    def logs(self) -> str:
        return os.path.join(self.root, "logs")

    def crash_log(self, stamp: str, pid: int) -> str:
        """The traceback of an unexpected error (``logs/crash-<stamp>-<pid>.log``), beside the operation logs:
        the logs' retention and ``gc`` treat it as one of them."""
        return os.path.join(self.root, "logs", f"crash-{stamp}-{pid}.log")

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

    @property
    def changed_by_jobs(self) -> str:
        """What a job's command changed in the Workbench's Git settings, kept aside per job (store/gitguard.py)."""
        return os.path.join(self.root, "changed-by-jobs")

    @property
    def sessions(self) -> str:
        """An agent's hook sessions, one file each (integrations/core.py)."""
        return os.path.join(self.root, "sessions")

    def session(self, name: str) -> str:
        return os.path.join(self.root, "sessions", name)

    @property
    def agents(self) -> str:
        """What ``gitbench agent run`` gives the agent it starts (its settings, hooks)."""
        return os.path.join(self.root, "agents")

    @property
    def workflow_state(self) -> str:
        """The workflow engine's state: claims, gates, skips, overrides, the job (small: rewritten whole)."""
        return os.path.join(self.root, "workflow", "engine", "state.json")

    @property
    def workflow_runs(self) -> str:
        """The workflow engine's last runs: one line appended per run that ends (the last line of a module wins)."""
        return os.path.join(self.root, "workflow", "engine", "runs.log")

    @property
    def workflow_definition(self) -> str:
        """The workflow definition the engine's runs go by (written when it changes)."""
        return os.path.join(self.root, "workflow", "engine", "definition.json")

    def workflow_cache(self, name: str) -> str:
        """One of the workflow engine's caches (``workflow/cache/<name>``)."""
        return os.path.join(self.root, "workflow", "cache", name)

    def temp_files_of(self, pid: int) -> list[str]:
        """The temp files a process's atomic writes left directly under the root (``<name>.tmp-<pid>``)."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return [os.path.join(self.root, n) for n in names if n.endswith(f".tmp-{pid}")]
