"""gitbench/services/checks.py: the check runner behind the publish gate, through the real CLI (it runs the check
under the process supervisor, so `gitbench publish` with a check runs in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, gitbench, make_project
from tests.test_publish_check import job, record


def test_a_failing_job_setup_refuses_the_publish_without_running_the_check_and_old_check_logs_are_pruned(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "check-ran"
    config = (
        f"[publish]\ncheck = {json.dumps(f'touch {ran}')}\n"
        # The setup fails only for the check (a job's worktree runs it too, and must get its Draft).
        '[job]\nsetup = "echo preparing; if [ -n \\"$GITBENCH_CHECK\\" ]; then exit 4; fi"\n'
    )
    wb = make_project(tmp_path / "p", {"README.md": "# p\n", "src/app.py": "x\n", ".gitbench/config.toml": config})
    assert gitbench(wb, "init").returncode == 0
    ref, head = job(wb, "import pathlib; pathlib.Path('src/app.py').write_text('y\\n')")
    logs = wb / ".git" / "gitbench" / "logs" / "checks"
    logs.mkdir(parents=True, exist_ok=True)
    old = [logs / f"0000-{n:02d}.log" for n in range(60)]  # older than any check's id
    for path in old:
        path.write_text("an old check's output\n")
    published = git(wb, "rev-parse", "main").strip()

    res = gitbench(wb, "publish", "--json")
    assert res.returncode == 16, res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "check-failed"
    assert (
        "did not run: [job] setup `echo preparing;" in error["message"] and "exited with status 4" in error["message"]
    )
    check = error["details"]["check"]
    assert check["status"] == "failed" and check["exit_code"] == 4
    assert check["result"].startswith("failed (setup exit 4, ")
    assert check["tail"].splitlines()[-1] == "preparing"
    assert not ran.exists()  # the check itself never ran
    assert git(wb, "rev-parse", "main").strip() == published and git(wb, "rev-parse", ref).strip() == head
    assert record(wb, f"checks/{check['id']}.json")["setup"].startswith("echo preparing")
    # The newest 50 logs are kept (the oldest go), this check's among them.
    kept = sorted(p.name for p in logs.glob("*.log"))
    assert len(kept) == 50 and Path(check["log"]).name in kept
    assert [p.name for p in old if p.exists()] == [p.name for p in old[-49:]]


def test_each_way_a_check_ends_is_one_line_for_the_checkpoint_s_trailer() -> None:
    from gitbench.services.checks import CheckResult

    def result(status: str, **fields: object) -> str:
        return CheckResult("id", "make test", "c" * 40, status, **fields).result  # type: ignore[arg-type]

    assert result("passed", exit_code=0, seconds=1.25) == "passed (exit 0, 1.2 s)"
    assert result("failed", exit_code=3, seconds=2) == "failed (exit 3, 2.0 s)"
    assert result("failed", exit_code=4, seconds=0.5, setup="make deps") == "failed (setup exit 4, 0.5 s)"
    assert result("timed-out", timeout=600.0) == "timed out (stopped after 600 s)"
    assert result("cancelled", stopped="Ctrl-C") == "cancelled (Ctrl-C)"
    assert result("skipped") == "skipped (--no-check)"
