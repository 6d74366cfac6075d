"""Module runners, one file per kind (``run:`` in the workflow file: docs/workflow.md).

``prepare`` does what needs Git in the engine's thread (the module's folder, exported from the Draft's tree) and
returns the run itself, a call for a worker thread that touches no Git object (pygit2 objects are not shared
across threads). What the call returns says what happened, as data the engine records in its own thread:

- ``Ran``: the module ran in its folder (a command, a Python module, a model's edits); its outputs are captured
  from the folder;
- ``Provided``: an input module's files, put in the Workbench's folder by the operator;
- ``Result``: nothing to capture (an input module still waiting).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitbench.git import export
from gitbench.git.repo import Entry
from gitbench.scope import Scope
from gitbench.services.workbench import Workbench
from gitbench.workflow import spec
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.resolver import STALE, ModuleStatus
from gitbench.workflow.state import RunStatus

if TYPE_CHECKING:
    from gitbench.executors import Executor


@dataclass
class Result:
    """What one module run produced (built in the main thread from what its process did)."""

    status: RunStatus
    changes: dict[str, Entry | None] = field(default_factory=dict)
    error: str | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    lost: bool = False  # its run was lost with a cluster's worker or scheduler: the next run runs it again
    transient: bool = False  # its model provider failed it (unavailable, rate limit, timeout, network): run again


@dataclass
class Ran:
    """A module ran in its folder: its outputs are to be captured from there (``snap``: the folder as exported)."""

    folder: str
    snap: export.Snapshot
    status: RunStatus
    error: str | None
    seconds: float
    # files not taken: a cluster's worker did not send them back, or a model proposed them outside the outputs
    refused: list[tuple[str, str]] = field(default_factory=list)
    lost: bool = False  # the run was lost with a cluster's worker or scheduler (runners/remote.py)
    transient: bool = False  # its model provider failed it for now (runners/model.py)


@dataclass
class Provided:
    """An input module's outputs, as the operator put them in the Workbench's folder."""

    files: dict[str, bytes]


Outcome = Result | Ran | Provided


def prepare(
    wb: Workbench,
    wf: spec.Workflow,
    m: spec.ModuleSpec,
    head: str,
    st: ModuleStatus,
    config: dict[str, Any],
    home: str,
    executor: Executor | None = None,
) -> Callable[[], Outcome]:
    """Prepare a module's run in this thread (Git access); return the call for a worker thread. ``home``: the
    folder the job's modules get their folders in; ``config``: the module's settings with the run's overrides;
    ``executor``: a cluster's, where command and model modules run (``remote.py``; None: here)."""
    if m.kind == ModuleKind.INPUT:
        from gitbench.workflow.runners import input as input_runner

        return functools.partial(input_runner.check, m, wb.root if wb.git.workdir else None)
    folder = os.path.join(home, m.id)
    scope = Scope((*m.inputs, *[o for n in m.needs for o in wf.modules[n].outputs], *m.outputs))
    snap = export.export(wb.git, wb.git.commit(head).tree, folder, scope)
    for out in m.outputs:  # the folders its outputs go in exist, as they would in the project
        os.makedirs(os.path.dirname(os.path.join(folder, out)), exist_ok=True)
    if executor is not None and m.kind in (ModuleKind.COMMAND, ModuleKind.MODEL):
        from gitbench.workflow.runners import remote

        if m.kind == ModuleKind.COMMAND:
            return functools.partial(remote.call, executor, m, folder, snap, config)
        return functools.partial(remote.call_model, executor, m, folder, snap, config, wb.git.workdir)
    if m.kind == ModuleKind.COMMAND:
        from gitbench.workflow.runners import command

        return functools.partial(command.run, m, folder, snap, config)
    if m.kind == ModuleKind.MODULE:
        from gitbench.workflow.runners import python

        stale = [(a.path, a.klass, a.reason) for a in st.artifacts if a.klass in STALE]
        return functools.partial(python.run, m, folder, snap, config, sorted(snap), stale)
    from gitbench.workflow.runners import model

    return functools.partial(model.run, m, folder, snap, config, wb.git.workdir, wb.layout.logs)
