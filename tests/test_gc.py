"""`gitbench gc`: the retention policy keeps exactly what it says, the dry run lists exactly what the real run
removes, nothing an open Draft, a running job, a kept checkpoint or the records need ever goes, and `git fsck`
stays clean (issue 13, bounded storage).

Time moves with GITBENCH_NOW, always ahead of the real clock: gc lets Git drop unreachable objects written more
than an hour before "now", so a test that wants them gone runs gc at least that far in the future.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import check_invariants, copy_workbench, git, gitbench, run_job, start_gitbench, worktrees_home
from tests.invariants import cat_objects

DAY = 86400


def ok(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    data = json.loads(res.stdout)
    assert data["ok"] is True, data
    return data["result"]


def at(t: float) -> dict[str, str]:
    return {"GITBENCH_NOW": str(t)}


def user_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tags(wb: Path) -> set[str]:
    return set(git(wb, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags/checkpoint/").split())


def refs(wb: Path, prefix: str) -> set[str]:
    return set(git(wb, "for-each-ref", "--format=%(refname)", prefix).split())


def tag(wb: Path, name: str, kind: str, when: float, job: str | None = None) -> None:
    """A checkpoint as gitbench writes one, made with the git CLI at a given date."""
    records = git(wb, "rev-parse", "refs/gitbench/records").strip()
    lines = [f"Gitbench-Checkpoint-Kind: {kind}", "Gitbench-Published: refs/heads/main", f"Gitbench-Records: {records}"]
    if job:
        lines.append(f"Gitbench-Job: {job}")
    message = f"{kind} checkpoint: made by the test\n\n" + "\n".join(lines) + "\n"
    git(wb, "tag", "-a", "-m", message, name, "main", env={"GIT_COMMITTER_DATE": f"@{int(when)} +0000"})


def fsck(wb: Path) -> None:
    proc = subprocess.run(["git", "fsck", "--full", "--no-progress"], cwd=wb, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "missing" not in proc.stdout + proc.stderr and "broken" not in proc.stdout + proc.stderr


def exists(wb: Path, oid: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", oid], cwd=wb, capture_output=True).returncode == 0


def names(items: list[dict[str, Any]], key: str = "name") -> list[str]:
    return [i[key] for i in items]


def restores(wb: Path, name: str) -> None:
    """`gitbench restore NAME --yes` works and Published is the checkpoint's commit again."""
    res = gitbench(wb, "restore", name, "--yes", "--json")
    assert res.returncode == 0, f"restore {name}: {res.stdout}{res.stderr}"
    assert git(wb, "rev-parse", "main").strip() == git(wb, "rev-parse", f"{name}^{{commit}}").strip()


def test_the_policy_keeps_publish_init_and_manual_checkpoints_and_auto_ones_by_days_or_among_the_last_k(
    workbench: Path,
) -> None:
    user_config("[gc]\nkeep_auto_days = 10\nkeep_auto_last = 3\n")
    [init] = tags(workbench)
    t0 = int(time.time()) + DAY
    for d in range(20):
        tag(workbench, f"checkpoint/{100 + d}", "auto", t0 + d * DAY, job=f"job-{d}")
    tag(workbench, "checkpoint/90", "pre-restore", t0 + 2.5 * DAY)
    tag(workbench, "checkpoint/91", "pre-restore", t0 + 15.5 * DAY)
    tag(workbench, "checkpoint/92", "manual", t0 + 1 * DAY)
    tag(workbench, "checkpoint/93", "publish", t0 + 3 * DAY)
    # Names are never read for their shape: a checkpoint named otherwise is judged by its kind and date alone.
    tag(workbench, "checkpoint/260101-000000-ab12", "auto", t0 + 4 * DAY)
    tag(workbench, "checkpoint/other-shape", "manual", t0)
    before = tags(workbench)

    # At t0 + 25 days, "10 days" keeps the autos of days 15..19 and the pre-restore of day 15.5; the newest three
    # are among them already.
    dry = ok(gitbench(workbench, "gc", "--dry-run", "--json", env=at(t0 + 25 * DAY)))
    gone = {f"checkpoint/{100 + d}" for d in range(15)} | {"checkpoint/90", "checkpoint/260101-000000-ab12"}
    assert set(names(dry["checkpoints"])) == gone
    assert dry["kept_checkpoints"] == len(before) - len(gone)
    by_name = {c["name"]: c for c in dry["checkpoints"]}
    assert by_name["checkpoint/100"]["kind"] == "auto" and by_name["checkpoint/100"]["job"] == "job-0"
    assert by_name["checkpoint/100"]["date"] == int(t0)
    assert by_name["checkpoint/90"]["kind"] == "pre-restore"
    assert tags(workbench) == before, "a dry run removes nothing"

    real = ok(gitbench(workbench, "gc", "--json", env=at(t0 + 25 * DAY)))
    assert real["dry_run"] is False
    assert names(real["checkpoints"]) == names(dry["checkpoints"]), "the dry run listed exactly what goes"
    assert tags(workbench) == before - gone

    # At t0 + 40 days no auto is within 10 days: the newest three (days 17, 18, 19) stay as the last K.
    again = ok(gitbench(workbench, "gc", "--json", env=at(t0 + 40 * DAY)))
    assert set(names(again["checkpoints"])) == {"checkpoint/115", "checkpoint/116", "checkpoint/91"}
    kept = tags(workbench)
    assert kept == {
        init,
        "checkpoint/92",
        "checkpoint/other-shape",  # manual
        "checkpoint/93",  # publish
        "checkpoint/117",
        "checkpoint/118",
        "checkpoint/119",  # the last three autos
    }
    fsck(workbench)
    check_invariants(workbench)
    for name in sorted(kept - {"checkpoint/other-shape"}):  # not a name gitbench makes: restore does not take it
        restores(workbench, name)
    check_invariants(workbench)


def test_trash_older_than_trash_days_goes_with_its_objects_and_younger_trash_stays(workbench: Path) -> None:
    t0 = int(time.time()) + DAY
    write = "import os, pathlib; pathlib.Path('src/{0}.bin').write_bytes(os.urandom(300_000))"
    old_ref, old_head = run_job(workbench, write.format("old"), env=at(t0))
    old_blob = git(workbench, "rev-parse", f"{old_head}:src/old.bin").strip()
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0)))
    new_ref, new_head = run_job(workbench, write.format("new"), env=at(t0 + 10 * DAY))
    new_blob = git(workbench, "rev-parse", f"{new_head}:src/new.bin").strip()
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0 + 10 * DAY)))
    trash = refs(workbench, "refs/gitbench/trash/")
    [old_trash] = [r for r in trash if r.endswith(old_ref.rsplit("/", 1)[1])]
    [new_trash] = [r for r in trash if r.endswith(new_ref.rsplit("/", 1)[1])]

    dry = ok(gitbench(workbench, "gc", "--dry-run", "--json", env=at(t0 + 20 * DAY)))
    assert names(dry["refs"], "ref") == [old_trash]
    assert dry["refs"][0]["kind"] == "trash" and dry["refs"][0]["label"] == old_ref.rsplit("/", 1)[1]
    # The discarded Draft's random file is incompressible: the estimate counts it, and not much more.
    assert 300_000 <= dry["objects_bytes"] < 400_000
    text = gitbench(workbench, "gc", "--dry-run", env=at(t0 + 20 * DAY)).stdout
    assert old_trash in text and new_trash not in text and "would be freed" in text

    real = ok(gitbench(workbench, "gc", "--json", env=at(t0 + 20 * DAY)))
    assert names(real["refs"], "ref") == [old_trash]
    assert refs(workbench, "refs/gitbench/trash/") == {new_trash}
    assert not exists(workbench, old_blob), "Git dropped the objects only the old trash reached"
    assert exists(workbench, new_blob)
    assert real["freed_bytes"] >= 300_000, "what gc frees is measured"
    assert real["before"]["git_bytes"] - real["after"]["git_bytes"] >= 300_000
    fsck(workbench)
    undo = ok(gitbench(workbench, "discard", "--undo", "--json"))
    assert undo["draft"] == new_ref
    check_invariants(workbench)


def test_an_open_draft_its_worktree_and_its_checkpoint_stay_while_ended_jobs_folders_and_old_logs_go(
    workbench: Path,
) -> None:
    user_config("[gc]\nkeep_auto_days = 0\nkeep_auto_last = 0\n")
    t0 = int(time.time()) + DAY
    edit = "import pathlib; pathlib.Path('src/app.py').write_text({!r})"
    ended_ref, _ = run_job(workbench, edit.format("print('one')\n"), env=at(t0))
    ended = ended_ref.rsplit("/", 1)[1]
    ok(gitbench(workbench, "publish", "--json", env=at(t0)))
    open_ref, open_head = run_job(workbench, edit.format("print('two')\n"), env=at(t0 + DAY))
    label = open_ref.rsplit("/", 1)[1]
    jobs = {j: json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{j}.json")) for j in (ended, label)}
    worktree = Path(git(workbench, "worktree", "list", "--porcelain").split("worktree ")[-1].splitlines()[0])
    assert (worktree / "src" / "app.py").read_text() == "print('two')\n"

    state = workbench / ".git" / "gitbench"
    home = next(p for p in worktrees_home().iterdir() if p.is_dir())
    old = t0 - 40 * DAY + 60  # older than logs_days (30) at t0 + 10 days
    made: dict[str, Path] = {}
    for job in (ended, label):
        modules = home / f"{job}.modules" / "m1"
        modules.mkdir(parents=True)
        (modules / "input.txt").write_text("x" * 5000)
        changed = state / "changed-by-jobs" / job
        changed.mkdir(parents=True)
        (changed / "config").write_text("[core]\n")
        os.utime(changed, (old, old))
        made[f"modules-{job}"], made[f"changed-{job}"] = modules.parent, changed
    stray = state / "running" / "20250101-000000-beef.lock"  # its marker was removed, the kill came before this
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("")
    sessions = state / "sessions"
    sessions.mkdir()
    over, on_open = sessions / "claude-over.json", sessions / "claude-open.json"
    over.write_text(json.dumps({"draft": ended_ref, "agent_pid": 999999999, "job": ended}))
    on_open.write_text(json.dumps({"draft": open_ref, "agent_pid": 999999999, "job": label}))
    for path in (over, on_open):
        os.utime(path, (old, old))
    legacy = state / "worktrees" / "20250101-000000-dead"
    legacy.mkdir(parents=True)
    (legacy / "file").write_text("from before Draft worktrees\n")
    old_log, new_log = state / "logs" / "gitbench-2000-01-01.jsonl", state / "logs" / "gitbench-2000-01-02.jsonl"
    for path, when in ((old_log, old), (new_log, t0 + 5 * DAY)):
        path.write_text("{}\n")
        os.utime(path, (when, when))

    dry = ok(gitbench(workbench, "gc", "--dry-run", "--json", env=at(t0 + 10 * DAY)))
    real = ok(gitbench(workbench, "gc", "--json", env=at(t0 + 10 * DAY)))
    assert names(real["files"], "path") == names(dry["files"], "path")
    assert names(real["checkpoints"]) == names(dry["checkpoints"])
    gone = set(names(real["files"], "path"))
    assert {str(made[f"modules-{ended}"]), str(made[f"changed-{ended}"]), str(legacy), str(old_log)} <= gone
    assert {str(stray), str(over)} <= gone and not stray.exists() and not over.exists()
    assert on_open.exists(), "a session file stays while its Draft is open (a resumed session goes on in it)"
    assert not made[f"modules-{ended}"].exists() and not made[f"changed-{ended}"].exists()
    assert not legacy.exists() and not old_log.exists()
    # What the open Draft's job may still need stays, however old.
    assert made[f"modules-{label}"].exists() and made[f"changed-{label}"].exists() and new_log.exists()
    assert git(workbench, "rev-parse", open_ref).strip() == open_head
    assert (worktree / "src" / "app.py").read_text() == "print('two')\n"
    # The auto checkpoint the open Draft's job started from stays (its way back); the ended job's goes.
    assert jobs[label]["checkpoint"] in tags(workbench)
    assert jobs[ended]["checkpoint"] in names(real["checkpoints"])
    assert jobs[ended]["checkpoint"] not in tags(workbench)
    fsck(workbench)
    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 0, res.stderr
    assert git(workbench, "show", "main:src/app.py") == "print('two')\n"
    check_invariants(workbench)


def test_gc_refuses_while_a_job_runs_and_the_dry_run_says_why(workbench: Path, tmp_path: Path) -> None:
    t0 = int(time.time()) + DAY
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('x')", env=at(t0))
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0)))
    trash = refs(workbench, "refs/gitbench/trash/")
    started, go = tmp_path / "started", tmp_path / "go"
    script = (
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('1')\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.05)\n"
        "pathlib.Path('src/app.py').write_text('y')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "exec", "--json", "--files", "src/**", "--", sys.executable, "-c", script],
        cwd=workbench,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists()
        later = at(t0 + 20 * DAY)
        res = gitbench(workbench, "gc", "--json", env=later)
        assert res.returncode == 8, res.stdout + res.stderr
        err = json.loads(res.stdout)["error"]
        assert err["code"] == "busy" and "running" in err["message"] and len(err["details"]["jobs"]) == 1
        assert any(a["command"] == "gitbench gc" for a in err["actions"])
        assert refs(workbench, "refs/gitbench/trash/") == trash, "nothing was removed"
        dry = ok(gitbench(workbench, "gc", "--dry-run", "--json", env=later))
        assert dry["running"] == err["details"]["jobs"] and names(dry["refs"], "ref") == sorted(trash)
        assert any("is running" in n for n in dry["notes"])
    finally:
        go.write_text("1")
        out, err_text = proc.communicate(timeout=60)
    assert proc.returncode == 0, err_text
    real = ok(gitbench(workbench, "gc", "--json", env=at(t0 + 20 * DAY)))
    assert names(real["refs"], "ref") == sorted(trash)
    check_invariants(workbench)


def test_status_reports_the_storage_used_and_points_at_gc(workbench: Path) -> None:
    res = gitbench(workbench, "status")
    assert res.returncode == 0, res.stderr
    [line] = [ln for ln in res.stdout.splitlines() if ln.startswith("Storage")]
    assert line.startswith("Storage    .git about ") and "`gitbench gc --dry-run` shows what can go" in line
    assert "of logs and job folders" in line
    st = ok(gitbench(workbench, "status", "--json"))["storage"]
    assert st["git_bytes"] >= st["objects_bytes"] + st["gitbench_bytes"] > 0
    du = subprocess.run(["du", "-sk", str(workbench / ".git")], capture_output=True, text=True, check=True)
    on_disk = int(du.stdout.split()[0]) * 1024
    assert 0.5 * on_disk <= st["git_bytes"] <= 1.5 * on_disk, (st, on_disk)


def test_the_policy_is_read_from_the_users_config_and_the_workbenchs_and_a_bad_value_names_its_file(
    workbench: Path,
) -> None:
    path = user_config("[gc]\nkeep_auto_last = 'many'\n")
    res = gitbench(workbench, "gc", "--dry-run", "--json")
    assert res.returncode == 2
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "usage" and str(path) in err["message"] and "keep_auto_last" in err["message"]
    user_config("[gc]\nkeep_forever = true\n")
    err = json.loads(gitbench(workbench, "gc", "--dry-run", "--json").stdout)["error"]
    assert err["code"] == "usage" and "gc.keep_forever" in err["message"]
    user_config("[gc]\nkeep_auto_days = 7\ntrash_days = 2\n")
    project = workbench / ".gitbench" / "config.toml"
    project.parent.mkdir()
    project.write_text("[gc]\nkeep_auto_days = 90\n")  # the Workbench's file wins, key by key
    policy = ok(gitbench(workbench, "gc", "--dry-run", "--json"))["policy"]
    assert policy == {"keep_auto_days": 90.0, "keep_auto_last": 50, "trash_days": 2.0, "logs_days": 30.0}
    text = gitbench(workbench, "gc", "--dry-run").stdout
    assert "kept 90 days or the newest 50" in text and "trash 2 days" in text


def test_trash_days_also_rules_how_long_discard_keeps_a_draft(workbench: Path) -> None:
    user_config("[gc]\ntrash_days = 3\n")
    t0 = int(time.time()) + DAY
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('x')", env=at(t0))
    res = ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0)))
    assert "for 3 days" in res["summary"]
    first = res["data"]["trash"]
    run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('y')", env=at(t0 + 4 * DAY))
    ok(gitbench(workbench, "discard", "--yes", "--json", env=at(t0 + 4 * DAY)))
    assert first not in refs(workbench, "refs/gitbench/trash/"), "the next discard removed trash past 3 days"
    check_invariants(workbench)


def test_records_rewritten_outside_gitbench_keep_gits_gc_from_dropping_what_a_kept_checkpoint_names(
    workbench: Path,
) -> None:
    t0 = int(time.time()) + DAY
    [manual] = ok(gitbench(workbench, "checkpoint", "-m", "keep me", "--json", env=at(t0)))["checkpoints"]
    named = git(workbench, "tag", "-l", "--format=%(contents)", manual).split("Gitbench-Records: ")[1][:40]
    tree = git(workbench, "rev-parse", "refs/gitbench/records^{tree}").strip()
    root = git(workbench, "commit-tree", "-m", "rewritten by hand", tree).strip()
    git(workbench, "update-ref", "refs/gitbench/records", root)
    dry = ok(gitbench(workbench, "gc", "--dry-run", "--json", env=at(t0 + DAY)))
    assert dry["git_gc"] is False and any("refs/gitbench/records" in n for n in dry["notes"])
    real = ok(gitbench(workbench, "gc", "--json", env=at(t0 + DAY)))
    assert real["git_gc"] is False
    assert exists(workbench, named), "the records commit the kept checkpoint names is still there"
    restores(workbench, manual)


def test_a_gc_killed_at_any_moment_leaves_nothing_the_next_command_cannot_settle(tmp_path: Path) -> None:
    """Kill gitbench gc and every git process it started (its process group: a crash, a power cut) at moments
    spread over its run: while it plans, while it deletes refs and files, and inside Git's gc (found from Git's
    own trace of the uninterrupted run). The next command settles it, nothing the policy keeps is lost, and a
    second gc finishes the work."""
    from tests.bench import gcgen

    now = time.time()
    made = gcgen.build(str(tmp_path / "template"), dict(os.environ), jobs=100, span_days=100, end=now)
    template = Path(made.path)
    original = tags(template)
    main, records = (git(template, "rev-parse", r).strip() for r in ("main", "refs/gitbench/records"))
    when = at(now + 2 * DAY)
    reference = copy_workbench(template, tmp_path / "reference")
    trace = tmp_path / "trace.json"
    started = time.time()
    whole = ok(gitbench(reference, "gc", "--json", env={**when, "GIT_TRACE2_EVENT": str(trace)}))
    duration = time.time() - started
    final = tags(reference)
    assert len(whole["checkpoints"]) > 100 and final == original - set(names(whole["checkpoints"]))
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    stamps = [
        datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() - started
        for e in events
        if e.get("event") == "start" and "gc" in e.get("argv", [])
    ]
    assert stamps, "Git's gc ran"
    git_gc_start = min(stamps)
    # Before the refs go (by time), then from the moment the first ref is gone (watched): deleting the refs, the
    # files, and Git's gc (packing refs, expiring reflogs, repacking, pruning).
    plan: list[tuple[str, float]] = [("time", git_gc_start * f) for f in (0.3, 0.6, 0.9)]
    plan += [("after-first-ref", d) for d in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.25)]
    loose = template / ".git" / "refs" / "tags" / "checkpoint"
    outcomes = []
    for i, (how, delay) in enumerate(plan):
        wb = copy_workbench(template, tmp_path / f"killed-{i}")
        folder = wb / loose.relative_to(template)
        count = len(os.listdir(folder))
        # A process of its own (a fork of this one running gitbench's entry point: no Python start before gc
        # begins, so the moments above are moments of gc's run), in its own process group: the kill takes git's
        # children with it.
        proc = start_gitbench(wb, "gc", "--json", env=when, new_session=True)
        if how == "after-first-ref":
            deadline = time.monotonic() + 30
            while len(os.listdir(folder)) == count and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        left = tags(wb)
        outcomes.append((how, round(delay, 2), len(original) - len(left)))
        assert final <= left <= original, "only checkpoints the policy removes went"
        res = gitbench(wb, "status", "--json", env=when)  # settles whatever the kill left
        assert res.returncode == 0, res.stdout + res.stderr
        assert not (wb / ".git" / "gitbench" / "journal.json").exists()
        assert not list((wb / ".git").glob("*.lock")) and not list((wb / ".git" / "logs").rglob("*.lock"))
        assert not list((wb / ".git" / "objects").rglob("*.lock")), "a lock of Git's gc (commit graph, packs) was left"
        fsck(wb)
        assert git(wb, "rev-parse", "main").strip() == main
        assert git(wb, "rev-parse", "refs/gitbench/records").strip() == records
        ok(gitbench(wb, "gc", "--json", env=when))
        assert tags(wb) == final, "a second gc finishes the work"
        fsck(wb)
    print(
        f"killed (when, s, checkpoints removed): {outcomes}; gc took {duration:.2f} s, Git's gc at {git_gc_start:.2f} s"
    )


@pytest.mark.slow  # ~45 s: 4-9 s to build, 1-2 s of gc, fsck, 1,389 restores in one process, 13 through the CLI
def test_5000_checkpoints_and_1000_jobs_gc_keeps_exactly_the_policys_set(tmp_path: Path) -> None:
    from tests.bench import gcgen

    now = time.time()
    made = gcgen.build(str(tmp_path / "big"), dict(os.environ), jobs=1000, span_days=200, end=now)
    wb = Path(made.path)
    assert len(made.checkpoints) == 5000 and len(tags(wb)) == 5000
    later = now + 2 * DAY
    # The policy's defaults, spelled out: publish, init, manual always; auto and pre-restore within 30 days or
    # among the newest 50 of them; the newest checkpoint of all.
    aged = sorted((c for c in made.checkpoints if c[1] in ("auto", "pre-restore")), key=lambda c: c[2])
    newest_aged = {c[0] for c in aged[-50:]}
    newest = max(made.checkpoints, key=lambda c: c[2])[0]
    expected = {
        name
        for name, kind, date in made.checkpoints
        if kind not in ("auto", "pre-restore") or date >= later - 30 * DAY or name in newest_aged or name == newest
    }
    started = time.monotonic()
    res = ok(gitbench(wb, "gc", "--json", env=at(later), timeout=300))
    took = time.monotonic() - started
    assert tags(wb) == expected
    assert len(res["checkpoints"]) == 5000 - len(expected) and res["kept_checkpoints"] == len(expected)
    assert refs(wb, "refs/gitbench/trash/") == {r for r, t in made.trash if t >= later - 14 * DAY}
    assert {r for r, t in made.trash if t < later - 14 * DAY} == set(names(res["refs"], "ref"))
    assert {p for p, _ in made.logs if os.path.exists(p)} == {p for p, t in made.logs if t >= later - 30 * DAY}
    assert all(os.path.exists(p) == (t >= later - 30 * DAY) for p, t in made.folders)
    fsck(wb)
    # Every kept checkpoint can still be restored: its commit, its tree and its records are all there.
    wanted = []
    bodies = cat_objects(wb, [f"refs/tags/{name}" for name in sorted(expected)])  # one git process for all
    for name, (_, body) in zip(sorted(expected), bodies, strict=True):
        wanted += [f"refs/tags/{name}^{{commit}}", f"refs/tags/{name}^{{tree}}"]
        wanted += [line.split(": ")[1] for line in body.decode().splitlines() if line.startswith("Gitbench-Records: ")]
    check = subprocess.run(
        ["git", "cat-file", "--batch-check"], cwd=wb, input="\n".join(wanted) + "\n", capture_output=True, text=True
    )
    assert "missing" not in check.stdout and len(check.stdout.splitlines()) == len(wanted)
    # Every kept checkpoint is restored for real, one after another, through the service `gitbench restore` calls
    # (one process: ~11 ms a restore); Published and the records are checked after each.
    from tests.bench.gc import restore_all

    restored, _ = restore_all(str(wb), sorted(expected), {**os.environ, **at(later)})
    assert restored == len(expected)
    # And a sample through the CLI itself: the oldest, a middle one and the newest kept of each kind.
    by_kind: dict[str, list[str]] = {}
    for name, kind, _ in sorted(made.checkpoints, key=lambda c: c[2]):
        if name in expected:
            by_kind.setdefault(kind, []).append(name)
    sample = [names_[i] for names_ in by_kind.values() for i in (0, len(names_) // 2, -1)]
    for name in dict.fromkeys(sample):
        restores(wb, name)
    check_invariants(wb)
    print(f"gc of 5,000 checkpoints: {took:.2f} s; {restored} kept ones restored, {len(set(sample))} by the CLI")


def test_a_dry_run_with_nothing_to_remove_says_so(workbench: Path) -> None:
    res = gitbench(workbench, "gc", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "Nothing to remove." in res.stdout and "Checkpoints: would remove 0, keeping 1." in res.stdout


def test_the_refs_go_in_one_transaction_each_only_if_it_still_holds_what_the_plan_read(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbench import errors
    from gitbench.services import gc
    from gitbench.services.workbench import Workbench

    t0 = int(time.time()) + DAY
    for d in range(3):
        tag(workbench, f"checkpoint/{10 + d}", "auto", t0 + d * DAY)
    monkeypatch.setenv("GITBENCH_NOW", str(t0 + 100 * DAY))
    user_config("[gc]\nkeep_auto_last = 0\n")
    wb = Workbench(str(workbench))
    report, targets = gc._plan(wb)
    assert {c.name for c in report.checkpoints} == {"checkpoint/10", "checkpoint/11"}  # 12 is the newest
    git(workbench, "tag", "-f", "-a", "-m", "moved by hand", "checkpoint/11", "main")
    with pytest.raises(errors.GitbenchError, match="none was deleted"):
        gc._remove(wb, report, targets)
    assert {"checkpoint/10", "checkpoint/11", "checkpoint/12"} <= tags(workbench), "nothing was deleted"
    res = ok(gitbench(workbench, "gc", "--json"))  # the moved tag is judged again: a tag by hand, kind unknown
    assert names(res["checkpoints"]) == ["checkpoint/10"]
    assert "checkpoint/11" in tags(workbench)
    fsck(workbench)


def test_gc_in_a_clone_that_shares_through_a_server_trims_here_only_and_push_and_pull_go_on(tmp_path: Path) -> None:
    """gc removes checkpoints in this clone only: the server keeps what was pushed, a pull brings it back (as
    docs/teams.md says), and neither push nor pull is refused by what gc did; the tracking refs stay."""
    from tests.conftest import make_project

    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    wb = make_project(tmp_path / "alice")
    t0 = int(time.time()) + DAY
    ok(gitbench(wb, "init", "--json", env=at(t0)))
    git(wb, "remote", "add", "origin", str(server))
    for d in range(3):
        run_job(wb, f"import pathlib; pathlib.Path('src/app.py').write_text('v{d}')", env=at(t0 + d * DAY))
        ok(gitbench(wb, "publish", "--json", env=at(t0 + d * DAY)))
    assert gitbench(wb, "push").returncode == 0
    user_config("[gc]\nkeep_auto_days = 1\nkeep_auto_last = 0\n")
    shared = tags(wb)
    res = ok(gitbench(wb, "gc", "--json", env=at(t0 + 10 * DAY)))
    gone = set(names(res["checkpoints"]))
    assert len(gone) == 3 and all(c["kind"] == "auto" for c in res["checkpoints"])
    assert tags(wb) == shared - gone
    assert git(wb, "rev-parse", "refs/gitbench/remotes/origin/records").strip()  # the tracking refs stay
    fsck(wb)
    run_job(wb, "import pathlib; pathlib.Path('src/app.py').write_text('v9')", env=at(t0 + 10 * DAY))
    ok(gitbench(wb, "publish", "--json", env=at(t0 + 10 * DAY)))
    push = gitbench(wb, "push", "--json", env=at(t0 + 10 * DAY))
    assert push.returncode == 0, push.stdout + push.stderr
    server_tags = set(git(server, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags/").split())
    assert gone <= server_tags, "the server keeps what was pushed"
    pull = gitbench(wb, "pull", "--json", env=at(t0 + 10 * DAY))
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert gone <= tags(wb), "a pull brings back what the server still has"
    check_invariants(wb)
