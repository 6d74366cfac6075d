"""Publish gated on a check (`[publish] check`, `publish --check`, `--no-check`): real Workbenches, the real CLI.

The check runs in a clean, throw-away worktree of the Draft's tip before Published moves; a failure (or a check
that runs past `check_timeout`) refuses the publish with `check-failed` (exit 16), its last lines, and leaves
Published, the user's files and the Draft as they were. Every result (passed, failed, skipped) is on the records
ref, and the publish checkpoint's message carries `Gitbench-Check` and `Gitbench-Check-Result`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import alive, git, gitbench, make_project, nth_checkpoint, worktrees_home
from tests.invariants import Snapshot, assert_same, check_invariants, fingerprint

RECORDS = "refs/gitbench/records"
# A check that passes only when the Draft's src/app.py says "good"; it prints 30 lines first.
CHECK = (
    'for i in $(seq 1 30); do echo "line $i"; done; '
    'grep -q good src/app.py || { echo "FAILED: src/app.py is not good"; exit 3; }'
)


def write(text: str) -> str:
    """A job's command (Python) that writes ``text`` into src/app.py."""
    return f"import pathlib; pathlib.Path('src/app.py').write_text({text!r})"


def gated(tmp_path: Path, check: str | None = CHECK, timeout: str | None = None) -> Path:
    """A Workbench whose committed .gitbench/config.toml sets the check."""
    files = {"README.md": "# project\n", "src/app.py": "print('hello')\n"}
    if check is not None:
        files[".gitbench/config.toml"] = f"[publish]\ncheck = {json.dumps(check)}\n" + (
            f'check_timeout = "{timeout}"\n' if timeout else ""
        )
    path = make_project(tmp_path / "project", files)
    assert gitbench(path, "init").returncode == 0
    return path


def job(wb: Path, code: str) -> tuple[str, str]:
    """`gitbench exec` a Python command; (Draft ref, its head)."""
    res = gitbench(wb, "exec", "--files", "src/**", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stderr
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    return ref, git(wb, "rev-parse", ref).strip()


def rev(wb: Path, name: str) -> str:
    return git(wb, "rev-parse", name).strip()


def record(wb: Path, path: str) -> Any:
    return json.loads(git(wb, "show", f"{RECORDS}:{path}"))


def checkpoint_trailers(wb: Path, name: str) -> dict[str, str]:
    """The trailers of a checkpoint's tag message, as Git itself parses them."""
    message = git(wb, "tag", "-l", "--format=%(contents)", name)
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"], cwd=wb, input=message, capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split(": ", 1) for line in parsed.splitlines())


def latest_checkpoint(wb: Path) -> str:
    return nth_checkpoint(wb, -1)


def check_worktrees(wb: Path) -> list[str]:
    """Worktrees other than the user's folder and Drafts' (a check's is detached), and check folders left."""
    listed = git(wb, "worktree", "list", "--porcelain").split("\n\n")
    detached = [block for block in listed if "detached" in block]
    folders = [str(p) for p in worktrees_home().glob("*/check-*")]
    return detached + folders


def json_of(res: Any) -> Any:
    return json.loads(res.stdout)


# -- passing, and what is recorded -------------------------------------------------------------------------------
def test_a_passing_check_runs_in_a_clean_worktree_of_the_draft_tip_then_publishes_and_records_the_result(
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen"
    check = (
        f"{CHECK}; pwd > {seen}/cwd; env > {seen}/env; ls -a > {seen}/files; "
        f"git rev-parse HEAD > {seen}/head; cat src/app.py > {seen}/app"
    )
    wb = gated(tmp_path, check)
    seen.mkdir()
    ref, head = job(wb, write("print('good')\n"))
    (wb / "notes.txt").write_text("the user's own untracked file\n")  # never in the check's tree
    (wb / "README.md").write_text("# project, edited by hand and not committed\n")

    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    label = ref.rsplit("/", 1)[1]
    assert f"· Running the check `{check}` in a clean worktree of the Draft {label} ({head[:12]}) …" in res.stdout
    assert f"Published {head[:12]} to main." in res.stdout
    assert rev(wb, "main") == head and (wb / "src/app.py").read_text() == "print('good')\n"

    # The check saw the Draft's tip, committed, and nothing of the user's folder.
    cwd = Path((seen / "cwd").read_text().strip())
    assert not str(cwd).startswith(str(wb)) and (seen / "head").read_text().strip() == head
    assert (seen / "app").read_text() == "print('good')\n"
    files = (seen / "files").read_text().split()
    assert "notes.txt" not in files and "README.md" in files and "src" in files
    env = dict(line.split("=", 1) for line in (seen / "env").read_text().splitlines() if "=" in line)
    assert env["GITBENCH_CHECK"] == "1" and env["GITBENCH_COMMIT"] == head
    assert not cwd.exists() and check_worktrees(wb) == []  # the check's worktree is gone
    assert (wb / "README.md").read_text().startswith("# project, edited by hand")  # the user's edit kept

    # The publish checkpoint's message, and the records: the result, the Draft's tip, the log.
    cp = latest_checkpoint(wb)
    trailers = checkpoint_trailers(wb, cp)
    assert trailers["Gitbench-Checkpoint-Kind"] == "publish"
    assert trailers["Gitbench-Check"] == check
    assert trailers["Gitbench-Check-Result"].startswith("passed (exit 0, ")
    job_record = record(wb, f"jobs/{label}.json")
    assert job_record["status"] == "published"
    assert job_record["check"]["status"] == "passed" and job_record["check"]["commit"] == head
    doc = record(wb, job_record["check"]["record"])
    assert doc["status"] == "passed" and doc["passed"] is True and doc["exit_code"] == 0
    assert doc["command"] == check and doc["commit"] == head and doc["draft"] == ref and doc["job"] == label
    assert doc["tail"].splitlines()[-1] == "line 30" and len(doc["tail"].splitlines()) == 20
    assert Path(doc["log"]).read_text().splitlines()[:2] == ["line 1", "line 2"]
    check_invariants(wb, allow_local_edits=True)


# -- failing: refused, nothing changed ---------------------------------------------------------------------------
def test_a_failing_check_refuses_the_publish_with_exit_16_and_its_last_lines_keeps_everything_then_a_fix_publishes(
    tmp_path: Path,
) -> None:
    wb = gated(tmp_path)
    ref, head = job(wb, write("print('bad')\n"))
    label = ref.rsplit("/", 1)[1]
    before, files = Snapshot.take(wb), fingerprint(wb)

    res = gitbench(wb, "publish")
    assert res.returncode == 16, res.stderr
    assert "error: check-failed (exit 16)" in res.stderr
    banner = " ".join(res.stderr.replace("│", " ").split())  # the banner wraps lines
    assert f"The check `{CHECK}` failed in a clean worktree of the Draft {label} ({head[:12]}): exit status 3" in (
        banner
    )
    assert "Nothing was published: Published and the Draft are as they were." in banner
    assert "FAILED: src/app.py is not good" in res.stderr and "line 30" in res.stderr
    assert "line 10 " not in banner  # only the last lines (20)
    assert "gitbench publish --no-check" in banner
    assert_same(files, fingerprint(wb), "the user's checkout and Published")
    check_invariants(wb, before, published_may_change=False)
    assert rev(wb, ref) == head and check_worktrees(wb) == []

    out = gitbench(wb, "publish", "--json")
    assert out.returncode == 16
    error = json_of(out)["error"]
    assert error["code"] == "check-failed" and error["exit_code"] == 16
    check = error["details"]["check"]
    assert check["status"] == "failed" and check["exit_code"] == 3 and check["commit"] == head
    assert check["tail"].splitlines()[-2:] == ["line 30", "FAILED: src/app.py is not good"]
    assert [a["command"] for a in error["actions"]] == [
        "gitbench review",
        "gitbench publish",
        "gitbench publish --no-check",
    ]
    # A failed check is recorded too: in the Draft's job record and under checks/.
    job_record = record(wb, f"jobs/{label}.json")
    assert job_record["status"] == "complete" and job_record["check"]["id"] == check["id"]
    assert record(wb, f"checks/{check['id']}.json")["status"] == "failed"
    assert Path(check["log"]).read_text().endswith("FAILED: src/app.py is not good\n")
    assert_same(files, fingerprint(wb), "the user's checkout and Published")

    # Fixed in the Draft (a commit in its worktree): the next publish passes the check and goes through.
    folder = Path(record(wb, f"jobs/{label}.json")["worktree"])
    (folder / "src/app.py").write_text("print('good')\n")
    git(folder, "commit", "-q", "-am", "fix")
    fixed = rev(wb, ref)
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert rev(wb, "main") == fixed and (wb / "src/app.py").read_text() == "print('good')\n"
    assert checkpoint_trailers(wb, latest_checkpoint(wb))["Gitbench-Check-Result"].startswith("passed")
    check_invariants(wb)


def test_a_check_that_hangs_is_stopped_at_check_timeout_with_every_process_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    wb = gated(tmp_path, f"sleep 600 & echo $! > {pids}; echo $$ >> {pids}; echo started; sleep 600", "1s")
    ref, head = job(wb, write("print('good')\n"))
    before, files = Snapshot.take(wb), fingerprint(wb)
    started = time.monotonic()
    res = gitbench(wb, "publish", "--json", timeout=60)
    assert time.monotonic() - started < 20
    assert res.returncode == 16, res.stderr
    error = json_of(res)["error"]
    assert error["code"] == "check-failed"
    assert "ran longer than its time limit" in error["message"] and "stopped after 1 s" in error["message"]
    assert "started" in error["message"]  # what it printed before it was stopped
    check = error["details"]["check"]
    assert check["status"] == "timed-out" and check["exit_code"] is None
    assert check["result"] == "timed out (stopped after 1 s)"
    procs = [int(p) for p in pids.read_text().split()]
    assert len(procs) == 2
    deadline = time.monotonic() + 5
    while any(alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in procs), "a process of the check outlived it"
    assert_same(files, fingerprint(wb), "the user's checkout and Published")
    check_invariants(wb, before, published_may_change=False)
    assert rev(wb, ref) == head and check_worktrees(wb) == []


# -- --check, --no-check, compare ----------------------------------------------------------------------------------
def test_check_overrides_the_config_no_check_skips_it_and_is_recorded_and_both_together_are_refused(
    tmp_path: Path,
) -> None:
    wb = gated(tmp_path, "echo configured; exit 1")
    ref, head = job(wb, write("print('good')\n"))
    both = gitbench(wb, "publish", "--check", "true", "--no-check")
    assert both.returncode == 2 and "--check and --no-check" in both.stderr

    res = json_of(gitbench(wb, "publish", "--check", "test -f src/app.py", "--json"))["result"]
    assert res["published"] == head
    assert res["data"]["check"]["command"] == "test -f src/app.py" and res["data"]["check"]["status"] == "passed"
    trailers = checkpoint_trailers(wb, res["checkpoints"][0])
    assert trailers["Gitbench-Check"] == "test -f src/app.py"

    ref, head = job(wb, write("print('second')\n"))
    label = ref.rsplit("/", 1)[1]
    res = gitbench(wb, "publish", "--no-check")
    assert res.returncode == 0, res.stderr
    assert "The check `echo configured; exit 1` was skipped (--no-check); that is recorded" in res.stdout
    assert rev(wb, "main") == head
    trailers = checkpoint_trailers(wb, latest_checkpoint(wb))
    assert trailers["Gitbench-Check"] == "echo configured; exit 1"
    assert trailers["Gitbench-Check-Result"] == "skipped (--no-check)"
    skipped = record(wb, record(wb, f"jobs/{label}.json")["check"]["record"])
    assert skipped["status"] == "skipped" and skipped["commit"] == head and skipped["exit_code"] is None
    assert check_worktrees(wb) == []
    check_invariants(wb)


def test_compare_runs_the_configured_check_by_the_same_runner_unless_no_check(tmp_path: Path) -> None:
    wb = gated(tmp_path)
    ref, head = job(wb, write("print('bad')\n"))
    card = json_of(gitbench(wb, "compare", "--json"))["result"]
    assert card["check"] == CHECK
    (row,) = card["drafts"]
    assert row["check"]["status"] == "failed" and row["check"]["exit_code"] == 3 and row["check"]["commit"] == head
    assert row["check"]["output"].splitlines()[-1] == "FAILED: src/app.py is not good"
    card = json_of(gitbench(wb, "compare", "--no-check", "--json"))["result"]
    assert card["check"] is None and "check" not in card["drafts"][0]
    assert check_worktrees(wb) == []


def test_a_draft_that_moves_while_its_check_runs_is_not_published(tmp_path: Path) -> None:
    wb = gated(tmp_path, 'git -C "$DRAFT_FOLDER" commit -q --allow-empty -m "added while the check ran"')
    ref, head = job(wb, write("print('good')\n"))
    folder = record(wb, f"jobs/{ref.rsplit('/', 1)[1]}.json")["worktree"]
    before = Snapshot.take(wb)
    res = gitbench(wb, "publish", "--json", env={"DRAFT_FOLDER": folder})
    assert res.returncode == 8
    error = json_of(res)["error"]
    assert error["code"] == "busy" and "changed while its check ran" in error["message"]
    assert rev(wb, "main") == before.published and rev(wb, ref) != head
    check_invariants(wb, published_may_change=False, before=before)


def test_the_workbench_lock_is_let_go_of_while_the_check_runs(tmp_path: Path) -> None:
    wb = tmp_path / "project"
    # The check itself changes the Workbench (a manual checkpoint): that waits for the lock, so it would fail
    # with `busy` if the publish held it.
    wb = gated(tmp_path, f"{sys.executable} -m gitbench -C {wb} checkpoint -m during-the-check")
    ref, head = job(wb, write("print('good')\n"))
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert rev(wb, "main") == head
    subjects = git(wb, "tag", "-n1", "-l", "checkpoint/*").splitlines()  # in the order taken
    assert subjects[-2].split(None, 1)[1] == "manual checkpoint: during-the-check"
    assert subjects[-1].split(None, 1)[1].startswith("publish checkpoint")


# -- crashes ----------------------------------------------------------------------------------------------------------
def test_gitbench_killed_while_its_check_runs_changes_nothing_and_recover_removes_the_check_worktree(
    tmp_path: Path,
) -> None:
    wb = gated(tmp_path, "true")
    ref, head = job(wb, write("print('good')\n"))
    before, files = Snapshot.take(wb), fingerprint(wb)
    res = gitbench(wb, "publish", env={"GITBENCH_FAULT": "check.after-command:kill"})
    assert res.returncode == -9
    assert len(check_worktrees(wb)) == 2  # its worktree entry and folder, left by the kill
    assert_same(files, fingerprint(wb), "the user's checkout and Published")
    res = gitbench(wb, "recover")
    assert res.returncode == 0, res.stderr
    assert "Removed the worktree of a check that was interrupted" in res.stdout
    assert check_worktrees(wb) == []
    check_invariants(wb, before, published_may_change=False)
    assert gitbench(wb, "publish").returncode == 0 and rev(wb, "main") == head


def test_a_publish_killed_after_published_moved_is_finished_with_the_check_in_its_checkpoint(tmp_path: Path) -> None:
    wb = gated(tmp_path, "true")
    ref, head = job(wb, write("print('good')\n"))
    res = gitbench(wb, "publish", env={"GITBENCH_FAULT": "publish.after-ref:kill"})
    assert res.returncode == -9 and rev(wb, "main") == head
    assert gitbench(wb, "status").returncode == 0  # finishes the publish: records, checkpoint, Draft removal
    trailers = checkpoint_trailers(wb, latest_checkpoint(wb))
    assert trailers["Gitbench-Checkpoint-Kind"] == "publish" and trailers["Gitbench-Check"] == "true"
    assert trailers["Gitbench-Check-Result"].startswith("passed (exit 0, ")
    check_invariants(wb)


# -- the configuration -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("check = 3", "publish.check in {path} must be a shell command (a string)"),
        ('check_timeout = "soon"', "publish.check_timeout in {path} must be a duration above 0"),
        ("check_timeout = 0", "publish.check_timeout in {path} must be a duration above 0"),
        ('chek = "pytest"', "Unknown setting publish.chek in {path}."),
    ],
)
def test_bad_publish_settings_are_named_with_the_file(tmp_path: Path, toml: str, message: str) -> None:
    from gitbench import errors
    from gitbench.providers import config

    path = tmp_path / ".gitbench" / "config.toml"
    path.parent.mkdir()
    path.write_text(f"[publish]\n{toml}\n")
    with pytest.raises(errors.UsageError) as info:
        config.load(str(tmp_path))
    assert message.format(path=path) in info.value.message


def test_publish_settings_defaults_and_durations(tmp_path: Path) -> None:
    from gitbench.providers import config

    assert config.load(str(tmp_path)).publish == config.PublishSettings(None, 600.0)
    path = tmp_path / ".gitbench" / "config.toml"
    path.parent.mkdir()
    for value, seconds in (('"10m"', 600.0), ('"90s"', 90.0), ("45", 45.0), ('"1.5h"', 5400.0)):
        path.write_text(f'[publish]\ncheck = " pytest -q "\ncheck_timeout = {value}\n')
        assert config.load(str(tmp_path)).publish == config.PublishSettings("pytest -q", seconds)
    assert os.environ.get("GITBENCH_CHECK") is None


# -- the TUI ---------------------------------------------------------------------------------------------------------
def test_the_tui_publish_shows_a_failing_check_in_the_error_banner_and_skips_it_only_after_a_second_confirmation(
    tmp_path: Path,
) -> None:
    from textual.pilot import Pilot

    from gitbench.tui.app import GitbenchApp
    from tests.test_tui import drive, error_buttons, press, prompt, settle, text

    wb = gated(tmp_path)
    ref, head = job(wb, write("print('bad')\n"))
    published = rev(wb, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "p")
        assert text(app, "#error-title") == "error: check-failed (exit 16)"
        message = text(app, "#error-message")
        assert f"The check `{CHECK}` failed in a clean worktree of the Draft" in message
        assert "\nline 12\n" in message and "\nline 11\n" not in message  # its last 20 lines
        assert "line 30\nFAILED: src/app.py is not good" in message
        assert error_buttons(app) == [
            "Review the Draft",
            "Fix the Draft (or the check), then publish again",
            "Publish without the check (recorded in the audit)",
        ]
        assert rev(wb, "main") == published
        await pilot.click("#error-action-2")
        await settle(pilot)
        question, buttons = prompt(app, "confirm-no-check")
        assert question.startswith("Publish without running the check?")
        assert buttons == ["Publish without the check (p)", "Cancel (c)"]
        await press(pilot, "c")
        assert text(app, "#message") == "Cancelled: nothing was changed; the Draft is as it was."
        assert rev(wb, "main") == published
        await pilot.click("#error-action-2")
        await settle(pilot)
        await press(pilot, "p")
        assert text(app, "#message").startswith(f"Published {head[:12]} to main.")
        assert "was skipped (--no-check)" in text(app, "#message")

    drive(wb, scenario)
    assert rev(wb, "main") == head
    assert checkpoint_trailers(wb, latest_checkpoint(wb))["Gitbench-Check-Result"] == "skipped (--no-check)"
    assert check_worktrees(wb) == []
    check_invariants(wb)


def test_the_tui_publish_lets_go_of_the_lock_while_the_check_runs_and_says_so(tmp_path: Path) -> None:
    from textual.pilot import Pilot

    from gitbench.tui.app import GitbenchApp
    from tests.test_tui import drive, press, text

    wb = gated(tmp_path, f"{sys.executable} -m gitbench -C {tmp_path / 'project'} checkpoint -m during-the-check")
    ref, head = job(wb, write("print('good')\n"))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await press(pilot, "p")
        assert text(app, "#message").startswith(f"Published {head[:12]} to main.")
        assert "passed (exit 0, " in text(app, "#message")

    drive(wb, scenario)
    assert rev(wb, "main") == head
    assert "manual checkpoint: during-the-check" in git(wb, "tag", "-n1", "-l", "checkpoint/*")
    check_invariants(wb)


def test_a_check_that_changes_the_workbench_refs_or_git_settings_is_refused_and_the_settings_put_back(
    tmp_path: Path,
) -> None:
    # The check runs the Draft's own code (its tests) in a linked worktree: it can reach the repository.
    first = "$(git tag -l 'checkpoint/*' | head -n 1)"  # the Workbench's first checkpoint
    wb = gated(tmp_path, f'git tag -f "{first}" HEAD && git config gitbench.published elsewhere')
    ref, head = job(wb, write("print('good')\n"))
    moved = "refs/tags/" + nth_checkpoint(wb, 1)
    tag = rev(wb, moved)
    config = (wb / ".git/config").read_bytes()
    before = Snapshot.take(wb)
    res = gitbench(wb, "publish", "--json")
    assert res.returncode == 7, res.stderr
    error = json_of(res)["error"]
    assert error["code"] == "publish-conflict"
    assert error["message"].startswith(f'The check `git tag -f "{first}" HEAD && git config gitbench.published')
    assert moved in error["message"] and ".git/config (put back as it was" in error["message"]
    assert (wb / ".git/config").read_bytes() == config
    assert rev(wb, "main") == before.published and rev(wb, ref) == head
    git(wb, "update-ref", moved, tag)  # the user puts the tag back
    check_invariants(wb, before, published_may_change=False)
