"""The settings sections of the config files (``[job]``, ``[publish]``, ``[gc]``, ``[workflow]``), and each one's
value for an everyday command without importing ``providers/config.py``.

With no config file (the usual case) ``config.load`` gives each of these sections its defaults; ``job``,
``publish`` and ``gc`` below give the same value after two ``stat`` calls, without the providers' classes, the
files' schema, ``shlex`` and ``re`` (~4.5 ms of every job's, publish's and discard's start-up). When either file
exists (or cannot be looked at), or an environment variable ``load`` may refuse is set, they are
``config.load``'s, its errors included. docs/providers.md is the reference.
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import os
from typing import TYPE_CHECKING

from gitbench.lazy_dataclass import dataclass

if TYPE_CHECKING:
    from gitbench.providers.config import Config


@dataclass(frozen=True)
class JobSettings:
    """``[job]`` settings for jobs that run a command in a Draft's worktree (docs/agents.md)."""

    copy: tuple[str, ...] = ()  # untracked files copied from the checked-out folder into each new worktree
    setup: str | None = None  # a shell command run in each new worktree before the job
    worktrees: str | None = None  # where Draft worktrees go (user config or GITBENCH_WORKTREES only)
    timeout: float | None = None  # seconds; a job running longer is stopped


@dataclass(frozen=True)
class PublishSettings:
    """``[publish]``: the check that gates a publish (docs/commands.md#the-check)."""

    check: str | None = None  # a shell command run in a clean worktree of the Draft's tip before Published moves
    check_timeout: float = 600.0  # seconds; a check running longer is stopped and refuses the publish
    remote: str | None = None  # publish to this Git remote's Published first, as a compare-and-swap (docs/teams.md)


@dataclass(frozen=True)
class GcSettings:
    """``[gc]``: what ``gitbench gc`` keeps (docs/concepts.md#retention). Publish, init and manual checkpoints are
    always kept; an auto or pre-restore checkpoint is kept while it is younger than ``keep_auto_days`` or among
    the newest ``keep_auto_last`` of them."""

    keep_auto_days: float = 30.0
    keep_auto_last: int = 50
    trash_days: float = 14.0  # discarded Drafts (refs/gitbench/trash) and worktree leftovers
    logs_days: float = 30.0  # .git/gitbench/logs and the folders of ended jobs


@dataclass(frozen=True)
class WorkflowSettings:
    """``[workflow]``: where workflow runs send command and model modules (docs/workflow.md, "Running on a
    cluster"); ``--executor`` beats it."""

    executor: str | None = None  # "local", "dask://local" or "dask://HOST:PORT"


def user_config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "gitbench", "config.toml")


def job(workbench_root: str | None) -> JobSettings:
    """``config.load(workbench_root).job``."""
    if _defaults(workbench_root):
        worktrees = os.environ.get("GITBENCH_WORKTREES")  # as load() reads it
        return JobSettings(worktrees=os.path.expanduser(worktrees) if worktrees else None)
    return _full(workbench_root).job


def publish(workbench_root: str | None) -> PublishSettings:
    """``config.load(workbench_root).publish``."""
    return PublishSettings() if _defaults(workbench_root) else _full(workbench_root).publish


def gc(workbench_root: str | None) -> GcSettings:
    """``config.load(workbench_root).gc``."""
    return GcSettings() if _defaults(workbench_root) else _full(workbench_root).gc


def _defaults(workbench_root: str | None) -> bool:
    """Would ``config.load`` read no file and refuse no environment variable? Neither config file is there and
    ``GITBENCH_TIMEOUT`` (the one variable it may refuse) is unset."""
    if os.environ.get("GITBENCH_TIMEOUT"):
        return False
    paths = [user_config_path()]
    if workbench_root is not None:
        paths.append(os.path.join(workbench_root, ".gitbench", "config.toml"))
    for path in paths:
        try:
            os.stat(path)
        except FileNotFoundError:
            continue  # load() opens it and finds none either
        except OSError:
            return False  # load() names what is wrong with it
        return False
    return True


def _full(workbench_root: str | None) -> "Config":
    from gitbench.providers import config

    return config.load(workbench_root)
