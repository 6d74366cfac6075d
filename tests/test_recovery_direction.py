"""Recovery runs in one direction (issue 15): the Workbench runs it once each time it takes its lock, and recovery
never calls back into the operations' entry points (``changing``, ``released``, ``recover_if_idle``).

Counted in-process, as tests/test_workflow_full_resolve.py counts resolve calls: the count is the same on a busy
machine as on an idle one.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gitbench.services import publish
from gitbench.services.workbench import Workbench
from tests.conftest import git, gitbench, run_job

RECOVERY = Path(__file__).resolve().parent.parent / "gitbench" / "services" / "recovery.py"
ENTRY_POINTS = {"changing", "released", "recover_if_idle"}


def _count(run: Any) -> tuple[Counter[str], list[str]]:
    """Calls into recovery.py's functions while ``run()`` runs, and each entry point entered during recovery."""
    calls: Counter[str] = Counter()
    climbs: list[str] = []
    depth = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal depth
        code = frame.f_code
        if code.co_filename == str(RECOVERY) and code.co_name == "recover_journal":
            depth += 1 if event == "call" else -1 if event == "return" else 0
        if event != "call":
            return
        if code.co_filename == str(RECOVERY):
            calls[code.co_name] += 1
        elif depth > 0 and code.co_name in ENTRY_POINTS and code.co_filename.endswith("workbench.py"):
            climbs.append(code.co_name)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls, climbs


def test_one_publish_runs_recovery_once_and_recovery_calls_no_entry_point(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_job(workbench, "open('src/app.py', 'w').write('changed\\n')")
    monkeypatch.chdir(workbench)
    wb = Workbench(str(workbench))
    calls, climbs = _count(lambda: publish.publish(wb))
    assert wb.recoveries == 1
    assert calls["recover_journal"] == 1
    # Before issue 15 the same publish ran recovery from a module that imported the Workbench back; now: a few
    # calls of recovery's own (the journal, the dead jobs, a lost journal's scratch), none up again.
    assert sum(calls.values()) <= 5, calls
    assert climbs == []


def test_recovery_of_an_interrupted_publish_finishes_it_without_calling_back_up(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, head = run_job(workbench, "open('src/app.py', 'w').write('changed\\n')")
    res = gitbench(workbench, "publish", env={"GITBENCH_FAULT": "publish.after-ref:kill"})
    assert res.returncode != 0
    assert (workbench / ".git" / "gitbench" / "journal.json").exists()
    monkeypatch.chdir(workbench)
    wb = Workbench(str(workbench))

    def change() -> None:
        with wb.changing("status"):
            pass

    calls, climbs = _count(change)
    assert wb.recoveries == 1 and calls["recover_journal"] == 1 and calls["_published_move"] == 1
    assert climbs == []
    assert any("Finished an interrupted publish" in n for n in wb.recovered)
    assert git(workbench, "rev-parse", "main").strip() == head
    assert git(workbench, "for-each-ref", ref).strip() == ""  # the Draft was closed
    assert not (workbench / ".git" / "gitbench" / "journal.json").exists()


def test_recovery_imports_no_workbench_at_run_time_and_names_no_entry_point() -> None:
    tree = ast.parse(RECOVERY.read_text())
    runtime_imports = [
        node.module
        for node in tree.body  # module level, outside `if TYPE_CHECKING:`
        if isinstance(node, ast.ImportFrom) and node.module is not None
    ]
    assert "gitbench.services.workbench" not in runtime_imports
    assert not [m for m in runtime_imports if m.startswith("gitbench.services")]
    named = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
    }
    assert not named & ENTRY_POINTS
