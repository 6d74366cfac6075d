"""store/layout.py: the one place that names a path under ``.git/gitbench/`` (in-process, no Git needed)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from gitbench.store.layout import Layout

PACKAGE = Path(__file__).resolve().parent.parent.parent / "gitbench"


def test_every_path_is_under_the_gitbench_folder_of_the_git_directory(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path / ".git"))
    root = str(tmp_path / ".git" / "gitbench")
    assert layout.root == root
    paths = {
        "lock": layout.lock,
        "journal.json": layout.journal,
        "state.json": layout.state,
        "checkpoint-stamp": layout.checkpoint_stamp,
        "txn": layout.txn,
        "txn/20261203-1": layout.txn_scratch("20261203-1"),
        "logs": layout.logs,
        "logs/crash-20261203-134500-42.log": layout.crash_log("20261203-134500", 42),
        "logs/checks": layout.checks,
        "worktrees": layout.worktrees,
        "worktrees/fix-1": layout.worktree("fix-1"),
        "running": layout.running,
        "changed-by-jobs": layout.changed_by_jobs,
        "sessions": layout.sessions,
        "sessions/claude-ab.json": layout.session("claude-ab.json"),
        "agents": layout.agents,
        "workflow/engine/state.json": layout.workflow_state,
        "workflow/engine/runs.log": layout.workflow_runs,
        "workflow/engine/definition.json": layout.workflow_definition,
        "workflow/cache/status.cache": layout.workflow_cache("status.cache"),
    }
    for rel, path in paths.items():
        assert path == os.path.join(root, *rel.split("/"))


def test_the_temp_files_of_a_process_are_those_its_atomic_writes_left_at_the_root(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    assert layout.temp_files_of(42) == []  # no folder yet: nothing
    os.makedirs(layout.root)
    for name in ("state.json.tmp-42", "journal.json.tmp-42", "state.json.tmp-420", "state.json"):
        Path(layout.root, name).write_text("")
    assert sorted(map(os.path.basename, layout.temp_files_of(42))) == ["journal.json.tmp-42", "state.json.tmp-42"]


def test_no_module_outside_the_layout_joins_a_path_into_the_gitbench_folder_by_hand() -> None:
    # os.path.join(<a gitdir>, "gitbench") or (<anything>, "gitbench", <more>) builds .git/gitbench/... by hand.
    # Allowed: the user's config and worktree folders under XDG directories (not .git/gitbench), and the modules
    # whose owners move them next.
    allowed = {"store/layout.py", "providers/sections.py", "services/worktrees.py"}
    pending: set[str] = set()  # issue 15: their owners use Layout
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed or rel in pending:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "join"
                and any(
                    isinstance(a, ast.Constant)
                    and a.value == "gitbench"
                    and (i + 1 < len(node.args) or "gitdir" in ast.unparse(node.args[0]))
                    for i, a in enumerate(node.args[1:], 1)
                )
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == []
