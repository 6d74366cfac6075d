"""Start-up (issue 15): what the core imports. Every everyday command pays for each module its services pull in
at import, so the layers below the CLI never import the terminal, network or file-format libraries at the top
(they are imported inside the functions that use them), and the most frequent command, a bare `status`,
imports none of them nor the costly standard modules it does not need. Each check runs in a fresh interpreter:
this test process has long imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import gitbench, without_coverage

# Third-party libraries a core module must never import at the top: only cli/, tui/ and the providers' network
# code use them, inside the functions that do.
HEAVY = ("typer", "click", "rich", "textual", "httpx", "yaml", "mcp", "pygments", "markdown_it", "pydantic")
# Modules that cost ~2-4 ms each and that a `status` without a Draft has no use for (the events: its progress).
NOT_FOR_STATUS = (
    "tomllib",
    "secrets",
    "subprocess",
    "shlex",
    "glob",  # only `[job] copy` patterns are globbed
    "signal",
    "gitbench.services.worktrees",
    "gitbench.events",
    "gitbench.scope",  # path safety and job scopes: trailers need it only to quote an unusual path
    "gitbench.services.space",  # where the space went: only on a (nearly) full disk
)
# What a job, a publish and a discard read of the config comes from providers/sections.py: with no config file, the
# providers' configuration (its classes, the files' schema) is never imported; nor secrets, hashlib or shlex.
NOT_FOR_A_DRAFT = (
    "gitbench.providers.config",
    "gitbench.schema",
    "tomllib",
    "secrets",
    "hashlib",
    "shlex",
    "glob",  # only `[job] copy` patterns are globbed
    "gitbench.services.retention",  # the policy of `gitbench gc`: a discard reads only its trash_days
    "gitbench.services.checks",  # a publish without a check runs none
)
CORE = [  # what the everyday commands (status, log, checkpoints, checkpoint, review, publish, discard, exec) use
    "gitbench.errors",
    "gitbench.model",
    "gitbench.git.repo",
    "gitbench.store.records",
    "gitbench.services.status",
    "gitbench.services.audit_trail",
    "gitbench.services.checkpoints",
    "gitbench.services.review",
    "gitbench.services.publish",
    "gitbench.services.discard",
    "gitbench.services.restore",
    "gitbench.services.commands",
    "gitbench.services.recover",
    "gitbench.services.recovery",
    "gitbench.store.journal_entries",
    "gitbench.providers.config",
]


def imported_by(code: str, cwd: Path | None = None) -> set[str]:
    """The modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120, env=without_coverage()
    )
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_imports_no_terminal_network_or_format_library(module: str) -> None:
    assert not heavy(imported_by(f"import {module}")), module


def test_a_bare_status_run_imports_no_heavy_library_nor_what_it_does_not_need(workbench: Path) -> None:
    code = (
        "import contextlib, io\n"
        "from gitbench.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['status']) == 0\n"
    )
    modules = imported_by(code, cwd=workbench)
    assert "gitbench.services.status" in modules  # it did run
    assert not heavy(modules)
    assert not modules & set(NOT_FOR_STATUS), sorted(modules & set(NOT_FOR_STATUS))


def test_a_read_only_service_call_imports_nothing_more_than_its_module(workbench: Path) -> None:
    code = (
        "from gitbench.services.workbench import Workbench\n"
        "from gitbench.services import audit_trail, checkpoints, status\n"
        "wb = Workbench('.')\n"
        "status.status(wb); audit_trail.audit_log(wb); checkpoints.history_page(wb)\n"
    )
    modules = imported_by(code, cwd=workbench)
    assert not heavy(modules)
    assert not modules & set(NOT_FOR_STATUS), sorted(modules & set(NOT_FOR_STATUS))


@pytest.mark.parametrize("args", [["exec", "--", "true"], ["publish"], ["discard", "--yes"]])
def test_a_job_publish_or_discard_without_a_config_file_imports_no_provider_configuration(
    workbench: Path, args: list[str]
) -> None:
    if args[0] != "exec":  # a Draft to publish or discard
        assert gitbench(workbench, "exec", "--", "sh", "-c", "echo more >> README.md").returncode == 0
    code = (
        "import contextlib, io\n"
        "from gitbench.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    assert main({args!r}) == 0\n"
    )
    modules = imported_by(code, cwd=workbench)
    assert "gitbench.providers.sections" in modules  # it did read the settings
    assert not heavy(modules)
    # A job names its Draft worktree's folder by a digest (hashlib) and quotes the next actions it shows (shlex).
    allowed = {"hashlib", "shlex"} if args[0] == "exec" else set()
    assert not modules & (set(NOT_FOR_A_DRAFT) - allowed), sorted(modules & set(NOT_FOR_A_DRAFT))
    if args != ["exec", "--", "true"]:  # a job reports its progress and guards refs and .git while its command runs
        assert not modules & {"gitbench.events", "gitbench.store.gitguard", "gitbench.store.refguard"}
