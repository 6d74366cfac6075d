"""Shared by the workflow tests: a Workbench with a workflow file, the real `module-runner`, and what a run left.

Modules are shell commands that append their id to a side-channel file outside the Workbench (``$RUNLOG``), so
a test can count how many times each module really ran, whatever the engine's own state says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, make_project

MODULE_RUNNER = str(Path(sys.executable).with_name("module-runner"))


def workflow_bench(path: Path, workflow: str, files: dict[str, str] | None = None) -> Path:
    """A project with ``.gitbench/workflow.yaml`` (and ``files``) in Published, adopted with `gitbench init`."""
    make_project(path, {"README.md": "# project\n", ".gitbench/workflow.yaml": workflow, **(files or {})})
    res = gitbench(path, "init")
    assert res.returncode == 0, res.stderr
    return path


def module_runner(
    wb: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real `module-runner` console script, run from outside the Workbench (it is given --project)."""
    return subprocess.run(
        [MODULE_RUNNER, "--project", str(wb), *args],
        cwd=wb.parent,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def runs(log: Path) -> list[str]:
    """The modules that ran, in order, from the side-channel log."""
    return log.read_text().split() if log.exists() else []


def draft_ref(wb: Path) -> str:
    return git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()


def steps(wb: Path, rev: str, base: str) -> list[dict[str, str]]:
    """The trailers of each commit in base..rev, oldest first (parsed by git, not by gitbench)."""
    out = []
    for oid in git(wb, "rev-list", "--reverse", f"{base}..{rev}").split():
        text = git(wb, "log", "-1", "--format=%(trailers:only,unfold)", oid)
        pairs = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        out.append({"commit": oid, **pairs})
    return out


def state(wb: Path) -> dict[str, Any]:
    """The engine's state files as they are (not what gitbench makes of them: a claim whose run ended is still
    there): state.json, with each module's last run from runs.log (a module's last line wins, over what an older
    gitbench left in state.json) and the definition from definition.json if it is of the file state.json names."""
    folder = wb / ".git" / "gitbench" / "workflow" / "engine"
    data = json.loads((folder / "state.json").read_text())
    assert isinstance(data, dict)
    runs = folder / "runs.log"
    logged = dict(json.loads(line) for line in runs.read_text().splitlines()) if runs.exists() else {}
    data["last_run"] = {**data.get("last_run", {}), **logged}
    definition = folder / "definition.json"
    if data.get("workflow") and definition.exists():
        full = json.loads(definition.read_text())
        if {k: v for k, v in full.items() if k != "definition"} == data["workflow"]:
            data["workflow"] = full
    return data


def status_json(wb: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """`gitbench workflow status --json`: the banner, and module id → its status."""
    res = gitbench(wb, "workflow", "status", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)["result"]
    return doc["banner"], {m["id"]: m for m in doc["modules"]}


def line_of(text: str, module: str) -> str:
    """The line of `workflow status` that describes ``module``."""
    for line in text.splitlines():
        if line.strip().startswith(module + " "):
            return line
    raise AssertionError(f"no status line for {module} in:\n{text}")
