"""The in-process runner (tests/inprocess.py) answers as the subprocess does, and leaves the test's process as
it found it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_forked_call_answers_as_the_subprocess_does_and_the_jobs_output_goes_where_gitbench_writes(
    workbench: Path,
) -> None:
    code = "import sys; print('to stdout'); print('to stderr', file=sys.stderr); open('src/new.py', 'w').write('x')"
    there = gitbench_subprocess(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", code)
    assert there.returncode == 0, there.stderr
    assert gitbench_subprocess(workbench, "discard", "--yes").returncode == 0
    here = inprocess.forked(workbench, ["exec", "--files", "src/**", "--", sys.executable, "-c", code], {}, None)
    assert here.returncode == 0, here.stderr
    assert "to stdout" in here.stdout and "to stderr" in here.stderr
    job_id = re.compile(r"\b\d{8}-\d{6}-\w+\b")
    same = [job_id.sub("JOB", re.sub(r"checkpoint/\S+", "CP", text)) for text in (here.stdout, there.stdout)]
    assert same[0] == same[1]
    usage = inprocess.forked(workbench, ["log", "--bogus"], {}, None)
    there = gitbench_subprocess(workbench, "log", "--bogus")
    assert (usage.returncode, usage.stdout, usage.stderr) == (there.returncode, there.stdout, there.stderr)


def test_a_forked_call_is_a_process_of_its_own(workbench: Path, tmp_path: Path) -> None:
    """A killing fault point kills the fork alone; the supervisor's subreaper there never touches this process's
    own children; stdin reaches it; a time limit kills it as subprocess.run does."""
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed = inprocess.forked(
            workbench, ["checkpoint", "-m", "x"], {"GITBENCH_FAULT": "checkpoint.before-tag"}, None
        )
        assert killed.returncode == -signal.SIGKILL
        job = inprocess.forked(workbench, ["exec", "--files", "src/**", "--", sys.executable, "-c", "pass"], {}, None)
        assert job.returncode == 0, job.stderr
        assert mine.poll() is None, "the job's supervisor stopped a process of the test's own"
    finally:
        mine.kill()
        mine.wait()
    echoed = inprocess.forked(workbench, ["hook", "claude", "pre-tool-use"], {}, "{}")
    assert echoed.returncode in (0, 2) and "Traceback" not in echoed.stderr
    with pytest.raises(subprocess.TimeoutExpired):
        inprocess.forked(
            workbench,
            ["exec", "--files", "src/**", "--", sys.executable, "-c", "import time; time.sleep(30)"],
            {},
            None,
            1,
        )


def test_forks_started_together_run_at_once_each_with_its_own_pipes(workbench: Path) -> None:
    """``inprocess.start`` returns at once: a fork waiting for its start time (in a session of its own) holds none
    of an earlier fork's pipes, so that one's stdin ends when the test has written it, not when the later one
    exits."""
    import time

    reads = inprocess.start(workbench, ["hook", "claude-code", "pre-tool-use"], {}, "{}")  # reads stdin to its end
    waits = inprocess.start(workbench, ["status", "--json"], {}, at=time.time() + 4, new_session=True)
    started = time.monotonic()
    echoed = reads.communicate(timeout=60)
    assert echoed.returncode == 0 and "Traceback" not in echoed.stderr, echoed.stderr
    assert time.monotonic() - started < 4, "the later fork held the earlier one's stdin open"
    while os.getpgid(waits.pid) != waits.pid and time.monotonic() - started < 3:
        time.sleep(0.01)  # the child calls setsid() just after the fork
    assert os.getpgid(waits.pid) == waits.pid != os.getpgid(0), "not in a session of its own"
    status = waits.communicate(timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["ok"] is True
    assert time.monotonic() - started >= 3.5, "the fork ran before its start time"
