"""The in-process runner (tests/inprocess.py) answers as the subprocess does, and leaves the test's process as
it found it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests import inprocess
from tests.conftest import gitbench_subprocess


def test_in_process_and_subprocess_give_the_same_answer(workbench: Path, tmp_path: Path) -> None:
    for args in (["status", "--json"], ["checkpoints"], ["restore", "checkpoint/99", "--yes"], ["log", "--bogus"]):
        there = gitbench_subprocess(workbench, *args)
        here = inprocess.run(workbench, args, {}, None)
        assert (here.returncode, here.stdout, here.stderr) == (there.returncode, there.stdout, there.stderr), args
    outside = tmp_path / "outside"
    outside.mkdir()
    there = gitbench_subprocess(outside, "status", "--json")
    here = inprocess.run(outside, ["status", "--json"], {}, None)
    assert (here.returncode, here.stdout) == (there.returncode, there.stdout) and here.returncode == 3


def test_the_process_is_put_back_as_it_was(workbench: Path) -> None:
    cwd, env, argv, streams = os.getcwd(), dict(os.environ), list(sys.argv), (sys.stdin, sys.stdout, sys.stderr)
    res = inprocess.run(workbench, ["-C", str(workbench), "status", "--json"], {"GITBENCH_EXTRA": "1"}, "y\n")
    assert res.returncode == 0, res.stderr
    assert (os.getcwd(), dict(os.environ), sys.argv, (sys.stdin, sys.stdout, sys.stderr)) == (cwd, env, argv, streams)


def test_jobs_terminals_and_killing_faults_stay_in_a_subprocess(tmp_path: Path) -> None:
    env = dict(os.environ)
    assert inprocess.suitable(tmp_path, ["publish", "--json"], env)
    assert inprocess.suitable(tmp_path, ["workflow", "status"], env)
    assert inprocess.suitable(tmp_path, ["publish"], {**env, "GITBENCH_FAULT": "publish.after-ref:enospc"})
    for args in (
        ["exec", "--", "true"],
        ["-C", "x", "ask", "hi"],
        ["tui"],
        ["workflow", "run"],
        ["publish", "--check", "x"],
    ):
        assert not inprocess.suitable(tmp_path, args, env), args
    assert not inprocess.suitable(tmp_path, ["publish"], {**env, "GITBENCH_FAULT": "publish.after-ref:kill"})
    assert not inprocess.suitable(tmp_path, ["publish"], {**env, "GITBENCH_FAULT": "publish.after-ref"})
    (tmp_path / ".gitbench").mkdir()
    (tmp_path / ".gitbench" / "config.toml").write_text('[publish]\ncheck = "make test"\n')
    assert not inprocess.suitable(tmp_path, ["publish"], env)  # the configured check runs under the supervisor
