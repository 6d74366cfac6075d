"""Recovering a Workshop job, through the real CLI against the scripted provider on 127.0.0.1.

A rate limit or a timeout pauses the job; ``gitbench resume`` continues from its last completed step, with the
same model or another (the later steps' trailers name it). A job over 40 files that fails at file 31 keeps 30
files' work and sends only the last 10 on resume. Files that cannot be sent are listed and skipped. A full disk
halts Draft writes with exit 13; a SIGKILL at the ask fault points is recovered by the next command; SIGTERM and
Ctrl-C cancel cleanly with exit 130. Each time: Published untouched, the Draft and its finished steps kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import provider_server as ps
from tests.conftest import git
from tests.invariants import Snapshot, check_invariants
from tests.provider_server import ProviderServer
from tests.test_provider_faults import (
    ANTHROPIC,
    BATCH1,
    BATCH2,
    EDITED,
    FILES,
    OPENAI,
    Bench,
    commands,
    error_of,
    open_bench,
    write_config,
)


@pytest.fixture
def bench(tmp_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    monkeypatch.setenv("FAKEANT_API_KEY", "sk-test-fakeant-0000")
    with open_bench(tmp_path / "wb", provider) as b:
        yield b


def assert_finished(b: Bench, before: str, models: list[str]) -> None:
    """The job ran to its end: every in-scope file edited once in the Draft, Published as it was."""
    report = b.report()
    assert report["status"] == "complete" and report["models"] == models
    assert report["last_completed_step"] == report["steps_total"] == 2
    draft = b.draft()
    for path in BATCH1 + BATCH2:
        assert b.show(draft, path) == FILES[path] + EDITED
    assert b.published() == before and git(b.path, "status", "--porcelain") == ""


# -- paused jobs and resume -----------------------------------------------------------------------------------
def test_a_rate_limited_job_is_paused_and_resume_continues_from_the_last_completed_step(bench: Bench) -> None:
    before = bench.published()
    bench.server.push(ps.ok(), *[ps.status(429, retry_after="0")] * 3)
    res, data = bench.ask()
    job = error_of(res, data, 22)["details"]["job"]
    assert bench.report()["status"] == "paused"
    listed = [line for line in bench.run("jobs").stdout.splitlines() if line.startswith(job)]
    assert len(listed) == 1 and "paused" in listed[0]
    res, data = bench.resume()
    assert res.returncode == 0, res.stderr
    assert data["ok"] is True
    assert bench.sent(4) == [BATCH2]  # batch 1 is not sent again
    steps = bench.steps()
    assert [s["Gitbench-Step"] for s in steps] == ["1/2 batch", "2/2 batch"]
    assert [s["Gitbench-Model"] for s in steps] == [OPENAI, OPENAI]
    assert_finished(bench, before, [OPENAI])
    assert bench.report()["attempts"] == 1 + 3 + 1


def test_a_timed_out_job_resumed_with_another_model_names_it_in_the_later_steps_and_the_report(bench: Bench) -> None:
    before = bench.published()
    bench.server.push(ps.ok(), *[ps.hang(2)] * 3)
    res, data = bench.ask()
    error_of(res, data, 23)
    assert bench.report()["status"] == "paused"
    res, data = bench.resume("--model", ANTHROPIC)
    assert res.returncode == 0, res.stderr
    resumed = bench.server.posts[4:]
    assert [p["path"] for p in resumed] == ["/v1/messages"] and bench.sent(4) == [BATCH2]
    assert resumed[0]["body"]["model"] == "test-model"
    assert [s["Gitbench-Model"] for s in bench.steps()] == [OPENAI, ANTHROPIC]
    assert_finished(bench, before, [OPENAI, ANTHROPIC])


def test_resume_can_switch_to_another_model_of_the_same_provider(bench: Bench) -> None:
    bench.server.push(ps.ok(), *[ps.status(503)] * 3)
    res, data = bench.ask()
    error_of(res, data, 21)
    res, _ = bench.resume("--model", "fake:other-model")
    assert res.returncode == 0, res.stderr
    assert bench.server.posts[-1]["body"]["model"] == "other-model"
    assert [s["Gitbench-Model"] for s in bench.steps()] == [OPENAI, "fake:other-model"]
    assert bench.report()["models"] == [OPENAI, "fake:other-model"]


# -- the example: 40 files, batches of 10, a failure at file 31 -----------------------------------------
def test_a_job_over_40_files_that_fails_at_file_31_keeps_30_files_and_resumes_at_31(
    tmp_path: Path, provider: ProviderServer
) -> None:
    files = {f"src/f{i:02}.py": f"N = {i}\n" for i in range(1, 41)}
    names = sorted(files)
    with open_bench(tmp_path / "wb", provider, files, job={"batch_files": 10}) as b:
        before = b.published()
        b.server.push(ps.ok(), ps.ok(), ps.ok(), *[ps.status(503)] * 3)
        res, data = b.ask()
        error_of(res, data, 21)
        assert b.sent() == [names[0:10], names[10:20], names[20:30]] + [names[30:40]] * 3
        report = b.report()
        assert report["last_completed_step"] == 3 and report["steps_total"] == 4
        assert report["files_changed"] == names[:30]
        steps = b.steps()
        assert [s["Gitbench-Step"] for s in steps] == ["1/4 batch", "2/4 batch", "3/4 batch"]
        draft = b.draft()
        changed = git(b.path, "diff", "--name-only", "main", draft).split()
        assert changed == names[:30]
        assert b.show(draft, "src/f30.py") == files["src/f30.py"] + EDITED
        assert b.show(draft, "src/f31.py") == files["src/f31.py"]
        assert b.published() == before
        res, _ = b.resume()
        assert res.returncode == 0, res.stderr
        assert b.sent(6) == [names[30:40]]  # only files 31..40 go out on resume
        assert "4/4 batch" == b.steps()[-1]["Gitbench-Step"]
        assert git(b.path, "diff", "--name-only", "main", draft).split() == names
        assert b.report()["status"] == "complete" and b.published() == before


# -- files that cannot be read or sent ----------------------------------------------------------------------------
def test_files_that_cannot_be_sent_are_listed_as_skipped_and_the_job_goes_on_with_the_rest(
    tmp_path: Path, provider: ProviderServer
) -> None:
    root = tmp_path / "wb"
    files = {"secret.txt": "SYMLINK-TARGET-CANARY\n", "src/a.py": "A = 1\n", "src/z.py": "Z = 26\n"}
    with open_bench(root, provider, files, job={"batch_files": 3, "max_file_bytes": 1000}) as b:
        (root / "src/blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
        (root / "src/latin1.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
        (root / "src/big.txt").write_text("x" * 2000 + "\n")
        (root / "src/link.py").symlink_to("../secret.txt")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "files a model cannot take")
        before = b.published()
        res, data = b.ask()
        assert res.returncode == 0, res.stderr
        skipped = {s["path"]: s["reason"] for s in b.report()["skipped"]}
        assert set(skipped) == {"src/big.txt", "src/blob.bin", "src/latin1.txt", "src/link.py"}
        assert "binary" in skipped["src/blob.bin"]
        assert "UTF-8" in skipped["src/latin1.txt"]
        assert "too large" in skipped["src/big.txt"] and "1000" in skipped["src/big.txt"]
        assert "symlink" in skipped["src/link.py"]
        assert any("Skipped 4 file(s)" in n for n in data["result"]["notes"])
        sent = [p for batch in b.sent() for p in batch]
        assert sorted(sent) == ["src/a.py", "src/z.py"]
        assert all("SYMLINK-TARGET-CANARY" not in str(p["body"]) for p in b.server.posts)
        report = b.report()
        assert report["status"] == "complete" and report["files_changed"] == ["src/a.py", "src/z.py"]
        draft = b.draft()
        assert git(b.path, "diff", "--name-only", "main", draft).split() == ["src/a.py", "src/z.py"]
        assert b.published() == before


# -- a full disk ---------------------------------------------------------------------------------------------
def test_a_full_disk_before_a_step_halts_draft_writes_with_exit_13_and_resume_finishes_after(bench: Bench) -> None:
    before = bench.published()
    res, data = bench.ask(env={"GITBENCH_FAULT": "ask.before-step:enospc@2"})
    err = error_of(res, data, 13)
    assert err["code"] == "disk-full"
    assert "free some space" in err["message"].lower() and "batch 1" in err["message"]
    report = bench.report()
    assert report["class"] == "disk-full" and report["status"] == "failed"
    assert report["next_actions"][0]["label"].lower().startswith("free some disk space")
    assert f"gitbench resume {report['job']}" in commands(report)
    assert report["last_completed_step"] == 1 and report["files_changed"] == BATCH1
    assert [s["Gitbench-Step"] for s in bench.steps()] == ["1/2 batch"]  # batch 2's answer was never written
    assert bench.published() == before
    res, _ = bench.resume()
    assert res.returncode == 0, res.stderr
    assert bench.sent(2) == [BATCH2]
    assert_finished(bench, before, [OPENAI])


# -- a kill at the ask fault points --------------------------------------------------------------------------
@pytest.mark.parametrize("point", ["ask.before-step:kill@2", "ask.after-batch:kill@1"])
def test_a_kill_during_a_job_is_recovered_by_the_next_command_and_resume_finishes_it(bench: Bench, point: str) -> None:
    snap = Snapshot.take(bench.path)
    res = bench.run("ask", "Add a line", "--files", "src/**", env={"GITBENCH_FAULT": point})
    assert res.returncode == -signal.SIGKILL, res.stderr
    posts = len(bench.server.posts)
    status = bench.run("status")
    assert status.returncode == 0, status.stderr
    assert "interrupted" in status.stdout
    check_invariants(bench.path, snap, published_may_change=False)
    report = bench.report()
    assert report["status"] == "interrupted"
    assert report["last_completed_step"] == 1 and report["files_changed"] == BATCH1
    assert [s["Gitbench-Step"] for s in bench.steps()] == ["1/2 batch"]
    res, _ = bench.resume()
    assert res.returncode == 0, res.stderr
    assert bench.sent(posts) == [BATCH2]
    assert_finished(bench, snap.published, [OPENAI])


# -- SIGTERM and Ctrl-C --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_while_the_provider_hangs_cancels_the_job_cleanly_with_exit_130(
    bench: Bench, sig: signal.Signals
) -> None:
    write_config(bench.server, timeouts={"read": 30})  # the provider hangs; only the signal stops the wait
    before = bench.published()
    bench.server.push(ps.ok(), ps.hang(5))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "ask", "Add a line", "--files", "src/**"],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while len(bench.server.posts) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(bench.server.posts) == 2, "batch 2 never reached the provider"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "cancelled" in err and "Traceback" not in err
    report = bench.report()
    assert report["status"] == "cancelled" and report["class"] == "user-cancel"
    assert ("SIGTERM" if sig == signal.SIGTERM else "Ctrl-C") in report["reason"]
    assert report["last_completed_step"] == 1 and report["files_changed"] == BATCH1
    assert f"gitbench resume {report['job']}" in commands(report)
    assert [s["Gitbench-Step"] for s in bench.steps()] == ["1/2 batch"]
    assert bench.published() == before and git(bench.path, "status", "--porcelain") == ""
    res, _ = bench.resume()
    assert res.returncode == 0, res.stderr
    assert bench.sent(2) == [BATCH2]
    assert_finished(bench, before, [OPENAI])
