"""A long workflow run on a terminal shows a live progress bar: modules complete of all, and what is running."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import check_invariants
from tests.workflow_helpers import workflow_bench

WORKFLOW = "max_parallel: 2\nmodules:\n" + "".join(
    f"  - id: m{i}\n    outputs: [out/m{i}.txt]\n    run: {{command: \"sleep 0.2; echo {i} > out/m{i}.txt\"}}\n"
    for i in range(6))
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def run_on_a_terminal(cwd: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run gitbench with a pseudo-terminal as stdin and stdout (as a person would); return (exit, screen text)."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update({"COLUMNS": "100", "TERM": "xterm"})
    proc = subprocess.Popen([sys.executable, "-m", "gitbench", *args], cwd=cwd, stdin=follower, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    os.close(leader)
    return code, ANSI.sub("", out.decode("utf-8", "replace")).replace("\r", "\n")


def test_a_run_on_a_terminal_shows_modules_complete_of_all_and_what_is_running(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "wb", WORKFLOW)
    code, screen = run_on_a_terminal(wb, "workflow", "run")
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
    res = subprocess.run([sys.executable, "-m", "gitbench", "workflow", "run"], cwd=wb, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "· m0: running (command)" in res.stdout
    assert "running: " not in res.stdout and "━" not in res.stdout
