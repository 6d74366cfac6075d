"""gitbench/cli/gc_cmds.py and attempt_cmds.py: what `gitbench gc`, `drafts` and `compare` print, through the real
entry point (in this process where it may run there, else in a fork of it), on real Workbenches."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.conftest import git, gitbench, run_job, worktrees_home

DAY = 86400


def at(t: float) -> dict[str, str]:
    return {"GITBENCH_NOW": str(t)}


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.stdout + res.stderr
    return res.stdout


def test_gc_lists_what_it_removes_checkpoints_trash_folders_and_logs_then_the_space_it_freed(
    workbench: Path,
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[gc]\nkeep_auto_days = 0\nkeep_auto_last = 0\n")
    t0 = int(time.time()) + DAY
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('one\\n')", env=at(t0))
    job = ref.rsplit("/", 1)[1]
    ok(gitbench(workbench, "publish", "--json", env=at(t0)))
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('two\\n')", env=at(t0))
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0)))
    checkpoint = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{job}.json"))["checkpoint"]
    trash = git(workbench, "for-each-ref", "--format=%(refname)", "refs/gitbench/trash/").split()
    assert len(trash) == 1

    state = workbench / ".git" / "gitbench"
    old = t0 - 40 * DAY
    changed = state / "changed-by-jobs" / job  # inside .git: shown from it
    changed.mkdir(parents=True)
    (changed / "config").write_text("[core]\n")
    os.utime(changed, (old, old))
    home = next(p for p in worktrees_home().iterdir() if p.is_dir())  # this Workbench's worktrees folder
    modules = home / f"{job}.modules" / "m1"  # outside .git: shown in full
    modules.mkdir(parents=True)
    (modules / "input.txt").write_text("x" * 5000)
    log = state / "logs" / "gitbench-2000-01-01.jsonl"
    log.write_text("{}\n" * 100)
    os.utime(log, (old, old))

    later = at(t0 + 40 * DAY)
    dry = ok(gitbench(workbench, "gc", "--dry-run", env=later))
    lines = dry.splitlines()
    assert lines[0].startswith("Policy: auto and pre-restore checkpoints kept 0 days or the newest 0;")
    assert any(ln.startswith(f"  {checkpoint}") and ln.endswith(f"job {job}") and " auto " in ln for ln in lines)
    assert "Trash: would remove 1 ref(s)." in lines
    assert any(ln.startswith(f"  {trash[0]}  (discarded Draft ") for ln in lines)
    assert "Folders: would remove 2." in lines
    assert any(ln.startswith(f"  .git/gitbench/changed-by-jobs/{job}  ") for ln in lines)
    assert any(ln.startswith(f"  {modules.parent}  ") for ln in lines)
    assert any(ln.startswith("Logs: would remove ") for ln in lines)
    assert any(
        ln.startswith("  .git/gitbench/logs/gitbench-2000-01-01.jsonl  ") and "last written 20" in ln for ln in lines
    )
    assert any(ln.startswith("Space: about ") and "would be freed" in ln for ln in lines)
    assert lines[-1] == "Run `gitbench gc` to remove them."

    real = ok(gitbench(workbench, "gc", env=later)).splitlines()
    assert real[1].startswith("Checkpoints: removed ")
    assert "Trash: removed 1 ref(s)." in real and "Folders: removed 2." in real
    assert any(ln.startswith("Logs: removed ") for ln in real)
    [space] = [ln for ln in real if ln.startswith("Space: ")]
    assert space.startswith(("Space: freed ", "Space: nothing freed; ")) and "; .git went from " in space
    assert "Run `gitbench gc`" not in "\n".join(real)
    assert not changed.exists() and not modules.parent.exists() and not log.exists()
    assert checkpoint not in git(workbench, "tag", "-l").split()


def test_a_dry_run_with_nothing_to_remove_still_gives_its_notes(workbench: Path) -> None:
    broken = workbench / ".git" / "refs" / "heads" / "half-written"
    broken.write_text("not an object id\n")
    try:
        out = ok(gitbench(workbench, "gc", "--dry-run"))
        real = ok(gitbench(workbench, "gc")).splitlines()
    finally:
        broken.unlink()
    lines = out.splitlines()
    assert lines[-1] == "Nothing to remove."
    assert any(ln.startswith("note: Git's gc was not run: refs/heads/half-written cannot be read") for ln in lines)
    # The real run says the same note, after what it did.
    assert real[-1].startswith("note: Git's gc was not run: refs/heads/half-written cannot be read"), real


def test_drafts_says_when_none_is_open_and_shows_each_drafts_age(workbench: Path) -> None:
    assert ok(gitbench(workbench, "drafts")) == "No Draft is open.\n"
    t0 = int(time.time())
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('x\\n')", env=at(t0))
    label = ref.rsplit("/", 1)[1]
    for later, age in ((t0 + 2 * 3600, "2.0 h"), (t0 + 3 * DAY, "3 days"), (t0 + 600, "10 min")):
        [row] = [ln for ln in ok(gitbench(workbench, "drafts", env=at(later))).splitlines() if ln.startswith(label)]
        assert f" {age} " in row, row


def test_compare_refuses_a_timeout_of_zero_and_without_a_check_has_no_check_column(workbench: Path) -> None:
    res = gitbench(workbench, "compare", "--timeout", "0")
    assert res.returncode == 2 and "--timeout takes seconds above 0, not 0.0." in res.stdout + res.stderr
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('x\\ny\\n')")
    out = ok(gitbench(workbench, "compare", "--no-check"))
    head, row, kept = out.splitlines()
    assert head.split() == ["label", "model", "files", "+/-", "steps", "tokens", "attempts", "time", "status"]
    assert "+2/-1" in row.split() and "check" not in head
    assert kept.startswith("Scorecard ") and "kept on the records ref (scorecards/" in kept


def test_a_dry_run_while_a_job_runs_lists_what_would_go_without_offering_to_run_gc(
    workbench: Path, tmp_path: Path
) -> None:
    import sys

    t0 = int(time.time()) + DAY
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('x')", env=at(t0))
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0)))
    started, go = tmp_path / "started", tmp_path / "go"
    script = (
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('1')\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.02)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "exec", "--json", "--files", "src/**", "--", sys.executable, "-c", script],
        cwd=workbench,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = ok(gitbench(workbench, "gc", "--dry-run", env=at(t0 + 20 * DAY))).splitlines()
    finally:
        go.write_text("1")
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "Trash: would remove 1 ref(s)." in lines
    assert any(ln.startswith("note: ") and "is running" in ln for ln in lines), lines
    assert not any("Run `gitbench gc`" in ln for ln in lines)  # it would be refused while the job runs
