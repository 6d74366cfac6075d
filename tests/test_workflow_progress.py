"""A long workflow run on a terminal shows a live progress bar: modules complete of all, and what is running."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import check_invariants
from tests.terminal import Terminal
from tests.workflow_helpers import workflow_bench

WORKFLOW = "max_parallel: 2\nmodules:\n" + "".join(
    f'  - id: m{i}\n    outputs: [out/m{i}.txt]\n    run: {{command: "sleep 0.2; echo {i} > out/m{i}.txt"}}\n'
    for i in range(6)
)


def test_a_run_on_a_terminal_shows_modules_complete_of_all_and_what_is_running(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "wb", WORKFLOW)
    term = Terminal(wb, ["workflow", "run"], {"COLUMNS": "100"})
    code = term.finish()
    screen = term.raw.replace("\r", "\n")
    assert code == 0, screen
    bars = re.findall(r"running: ([^\n]*?) .*?(\d+)/6", screen)
    assert bars, screen
    assert any(names.startswith("m") for names, _ in bars), bars  # the modules running are named
    assert {int(done) for _, done in bars} >= {0}  # the count starts at 0 of 6 ...
    assert max(int(done) for _, done in bars) >= 2, bars  # ... and moves as modules finish
    assert "Status: complete" in screen
    check_invariants(wb)


def test_without_a_terminal_the_run_prints_plain_lines_and_no_bar(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "wb", WORKFLOW)
    res = subprocess.run(
        [sys.executable, "-m", "gitbench", "workflow", "run"], cwd=wb, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "· m0: running (command)" in res.stdout
    assert "running: " not in res.stdout and "━" not in res.stdout
