"""The everyday CLI through its real entry point: init in every kind of folder, status, log, checkpoints,
and the error contract (documented exit codes; with --json, {"ok": false, "error": {...}})."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    CHECKPOINT_NAME,
    Snapshot,
    check_invariants,
    checkpoint_names,
    git,
    gitbench,
    make_project,
    nth_checkpoint,
)

NOW = 1_767_225_600  # 2026-01-01 00:00 UTC
WIDE = {"COLUMNS": "250"}  # error banners are wrapped to the terminal width: keep messages on one line


def ok(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    data = json.loads(res.stdout)
    assert data["ok"] is True
    return data["result"]


def failed(res: subprocess.CompletedProcess[str], code: str, exit_code: int) -> dict[str, Any]:
    """The error contract: the documented exit code, and with --json only this object on stdout."""
    assert res.returncode == exit_code, f"exit {res.returncode}, wanted {exit_code}\n{res.stdout}\n{res.stderr}"
    data = json.loads(res.stdout)
    assert data["ok"] is False
    err = data["error"]
    assert {"code", "exit_code", "message", "actions"} <= set(err)
    assert err["code"] == code and err["exit_code"] == exit_code
    assert isinstance(err["message"], str) and err["message"].strip()
    assert isinstance(err["actions"], list)
    for action in err["actions"]:
        assert set(action) == {"label", "command", "verb", "args", "then"} and action["label"]
        assert isinstance(action["args"], list) and all(isinstance(a, str) for a in action["args"])
        if action["verb"] is not None:  # a gitbench command: the command line is the verb and its arguments
            assert action["command"].startswith(f"gitbench {action['verb']}"), action
        else:
            assert action["args"] == [], action
    return err


def edit(path: str, text: str) -> list[str]:
    """A job command (run in the Draft's folder) that writes one file."""
    return [
        sys.executable,
        "-c",
        f"import pathlib; p = pathlib.Path({path!r}); p.parent.mkdir(parents=True, exist_ok=True); "
        f"p.write_text({text!r})",
    ]


def draft_refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()


def hooks_installed(gitdir: Path) -> bool:
    return all(
        "gitbench-hook" in (gitdir / "hooks" / name).read_text() for name in ("pre-commit", "reference-transaction")
    )


# -- init -------------------------------------------------------------------------------------------------------


def test_init_creates_a_missing_folder_as_a_new_workbench(tmp_path: Path) -> None:
    target = tmp_path / "brand" / "new"
    res = ok(gitbench(tmp_path, "init", str(target), "--json"))
    assert target.is_dir() and (target / ".git").is_dir()
    assert res["checkpoints"] == checkpoint_names(target) and CHECKPOINT_NAME.fullmatch(res["checkpoints"][0])
    assert git(target, "config", "gitbench.published").strip() == "main"
    assert git(target, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(target, "ls-tree", "-r", "main") == ""
    assert git(target, "log", "--format=%(trailers:key=Gitbench-Operation,valueonly)", "main").strip() == "init"
    assert len(checkpoint_names(target)) == 1
    assert hooks_installed(target / ".git")
    check_invariants(target)


def test_init_records_a_plain_folders_files_as_the_first_published_state(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "src").mkdir(parents=True)
    (folder / "notes.txt").write_text("notes\n")
    (folder / "src" / "main.py").write_text("print(1)\n")
    (folder / ".gitignore").write_text("*.log\nbuild/\n")
    (folder / "debug.log").write_text("noise\n")
    (folder / "build").mkdir()
    (folder / "build" / "out.bin").write_text("artifact\n")
    res = gitbench(folder, "init")
    assert res.returncode == 0, res.stderr
    assert "first Published state" in res.stdout
    tracked = git(folder, "ls-tree", "-r", "--name-only", "main").split()
    assert tracked == [".gitignore", "notes.txt", "src/main.py"]
    assert git(folder, "show", "main:src/main.py") == "print(1)\n"
    assert (folder / "debug.log").read_text() == "noise\n"  # ignored files stay on disk, untouched
    assert git(folder, "status", "--porcelain") == ""
    assert git(folder, "rev-list", "--count", "main").strip() == "1"
    check_invariants(folder)


def test_init_adopts_an_existing_repo_on_its_checked_out_branch_without_a_new_commit(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "hist")
    (repo / "README.md").write_text("# v2\n")
    git(repo, "commit", "-qam", "second")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "README.md").write_text("# feature\n")
    git(repo, "commit", "-qam", "third")
    before = {b: git(repo, "rev-parse", b).strip() for b in ("main", "feature")}
    res = ok(gitbench(repo, "init", "--json"))
    assert git(repo, "config", "gitbench.published").strip() == "feature"
    assert {b: git(repo, "rev-parse", b).strip() for b in before} == before
    assert git(repo, "rev-list", "--count", "feature").strip() == "3"
    assert res["published"] == before["feature"]
    (first,) = res["checkpoints"]
    assert git(repo, "rev-parse", first + "^{commit}").strip() == before["feature"]
    assert "Gitbench-Checkpoint-Kind: init" in git(repo, "cat-file", "tag", first)
    check_invariants(repo)


def test_init_published_names_another_existing_branch(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "p")
    git(repo, "branch", "release")
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moves on")
    release = git(repo, "rev-parse", "release").strip()
    res = ok(gitbench(repo, "init", "--published", "release", "--json"))
    assert git(repo, "config", "gitbench.published").strip() == "release"
    assert res["published"] == release
    assert git(repo, "rev-parse", res["checkpoints"][0] + "^{commit}").strip() == release
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"  # the checkout is left alone
    st = ok(gitbench(repo, "status", "--json"))
    assert st["published"]["branch"] == "release"
    assert any("not on Published (release)" in r for r in st["reminders"])
    check_invariants(repo)


def test_init_published_naming_a_missing_branch_is_a_usage_error(project: Path) -> None:
    err = failed(gitbench(project, "init", "--published", "nope", "--json"), "usage", 2)
    assert "nope" in err["message"]
    assert git(project, "config", "--get", "gitbench.published", check=False) == ""
    assert checkpoint_names(project) == []


def test_init_adopts_a_bare_repository_for_headless_use(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ok(gitbench(bare, "init", "--json"))
    assert git(bare, "config", "gitbench.published").strip() == "main"
    assert hooks_installed(bare)
    st = ok(gitbench(bare, "status", "--json"))
    assert st["bare"] is True and st["published"]["branch"] == "main" and st["draft"] is None
    ok(gitbench(bare, "exec", "--json", "--", *edit("hello.txt", "hi\n")))
    ok(gitbench(bare, "publish", "--json"))
    assert git(bare, "show", "main:hello.txt") == "hi\n"
    check_invariants(bare)


def test_init_twice_is_idempotent(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    records = git(workbench, "rev-parse", "refs/gitbench/records").strip()
    res = gitbench(workbench, "init")
    assert res.returncode == 0, res.stderr
    assert "already a Workbench" in res.stdout
    assert len(checkpoint_names(workbench)) == 1
    assert git(workbench, "rev-parse", "refs/gitbench/records").strip() == records
    check_invariants(workbench, before, published_may_change=False)


def test_init_in_a_subfolder_of_a_repo_names_the_root_and_exits_2(project: Path) -> None:
    sub = project / "src"
    res = gitbench(sub, "init", ".", env=WIDE)
    assert res.returncode == 2
    assert f"inside the Git repository {project}" in res.stderr
    assert f"gitbench init {project}" in res.stderr
    err = failed(gitbench(project, "init", "src", "--json"), "usage", 2)
    assert str(project) in err["message"]
    assert err["actions"][0]["command"] == f"gitbench init {project}"
    assert git(project, "config", "--get", "gitbench.published", check=False) == ""


@pytest.mark.parametrize(
    "args", [("status",), ("exec", "--", "true"), ("publish",), ("checkpoints",), ("restore", "1", "--yes")]
)
def test_commands_outside_a_workbench_exit_3_and_say_gitbench_init(tmp_path: Path, args: tuple[str, ...]) -> None:
    folder = tmp_path / "not-a-repo"
    folder.mkdir()
    res = gitbench(folder, *args, env=WIDE)
    assert res.returncode == 3
    assert "gitbench init" in res.stderr
    err = failed(gitbench(folder, args[0], "--json", *args[1:]), "not-a-workbench", 3)
    assert any("gitbench init" in a["command"] for a in err["actions"])


def test_a_repo_not_yet_adopted_exits_3_and_offers_init(project: Path) -> None:
    err = failed(gitbench(project, "status", "--json"), "not-a-workbench", 3)
    assert "not a Workbench yet" in err["message"]
    assert err["actions"][0]["command"] == f"gitbench init {project}"


# -- status, log, checkpoints -----------------------------------------------------------------------------------


def test_status_shows_published_the_draft_and_the_last_job(workbench: Path) -> None:
    st = ok(gitbench(workbench, "status", "--json"))
    assert st["published"]["branch"] == "main" and st["published"]["checkpoint"] == nth_checkpoint(workbench, 1)
    assert st["draft"] is None and st["last_job"] is None and st["reminders"] == []
    text = gitbench(workbench, "status").stdout
    assert "Published  main at" in text and "Draft      none" in text

    job = ok(
        gitbench(
            workbench,
            "exec",
            "--json",
            "-m",
            "two files",
            "--",
            sys.executable,
            "-c",
            "import pathlib; pathlib.Path('README.md').write_text('x\\n'); pathlib.Path('new.txt').write_text('n\\n')",
        )
    )
    label = job["job"]["id"]
    st = ok(gitbench(workbench, "status", "--json"))
    assert st["draft"]["label"] == label
    assert st["draft"]["steps"] == 1 and st["draft"]["files_changed"] == 2
    assert st["draft"]["ref"] == f"refs/heads/gitbench/draft/{label}"
    assert st["last_job"]["id"] == label and st["last_job"]["status"] == "complete"
    assert st["last_job"]["files_changed"] == ["README.md", "new.txt"]
    text = gitbench(workbench, "status").stdout
    assert f"Draft      {label}: 1 step(s), 2 file(s) changed" in text
    assert f"Last job   {label} complete" in text
    assert "gitbench review | gitbench publish | gitbench discard" in text


def test_log_shows_the_step_commit_with_all_its_audit_trailers(workbench: Path) -> None:
    env = {"GITBENCH_NOW": str(NOW)}
    job = ok(
        gitbench(
            workbench,
            "exec",
            "--json",
            "--files",
            "src/**",
            "-m",
            "tweak app",
            "--",
            *edit("src/app.py", "print('tweaked')\n"),
            env=env,
        )
    )["job"]
    steps = ok(gitbench(workbench, "log", "--json"))
    assert len(steps) == 1
    step = steps[0]
    assert step["subject"] == "tweak app" and step["branch"] == job["id"]
    assert step["commit"] == git(workbench, "rev-parse", job["draft"]).strip()
    assert step["date"] == NOW
    assert step["trailers"] == {
        "Gitbench-Job": job["id"],
        "Gitbench-Step": "1/1 exec",
        "Gitbench-Model": "python",  # the program the job ran (and its model, when an agent says which)
        "Gitbench-Agent": "python",
        "Gitbench-Files": "src/app.py",
        "Gitbench-Checkpoint": nth_checkpoint(workbench, 2),
        "Gitbench-Attempts": "1",
        "Gitbench-Status": "complete",
    }
    ok(gitbench(workbench, "publish", "--json"))
    steps = ok(gitbench(workbench, "log", "--json"))
    assert [(s["commit"], s["branch"]) for s in steps] == [(step["commit"], "main")]
    text = gitbench(workbench, "log").stdout
    assert "tweak app" in text and f"Gitbench-Job: {job['id']}" in text


def test_checkpoints_list_every_kind_with_date_job_and_message(workbench: Path) -> None:
    env = {"GITBENCH_NOW": str(NOW)}
    job = ok(gitbench(workbench, "exec", "--json", "--", *edit("a.txt", "a\n"), env=env))["job"]
    ok(gitbench(workbench, "publish", "--json", env=env))
    manual = ok(gitbench(workbench, "checkpoint", "-m", "before the big change", "--json", env=env))
    assert manual["checkpoints"] == [nth_checkpoint(workbench, 4)]
    ok(gitbench(workbench, "restore", job["checkpoint"], "--yes", "--json", env=env))
    items = ok(gitbench(workbench, "checkpoints", "--json"))
    names = checkpoint_names(workbench)
    assert len(names) == 5 and names[1] == job["checkpoint"]
    assert [(c["name"], c["kind"]) for c in items] == [
        (names[0], "init"),
        (names[1], "auto"),
        (names[2], "publish"),
        (names[3], "manual"),
        (names[4], "pre-restore"),
    ]
    by = {c["kind"]: c for c in items}
    assert all(c["date"] == NOW for c in items[1:])
    assert by["auto"]["job"] == job["id"] and by["publish"]["job"] == job["id"]
    assert by["manual"]["job"] is None and by["manual"]["message"] == "manual checkpoint: before the big change"
    assert names[1] in by["pre-restore"]["message"]
    published_at = git(workbench, "rev-parse", "main").strip()
    assert by["auto"]["commit"] == published_at  # restored to the state before the job
    assert by["publish"]["commit"] == by["manual"]["commit"] == by["pre-restore"]["commit"] != published_at
    assert not (workbench / "a.txt").exists()
    text = gitbench(workbench, "checkpoints").stdout
    assert names[3] in text and "manual" in text and "before the big change" in text
    tags = git(workbench, "tag", "-n1", "-l", "checkpoint/*")
    assert "manual checkpoint: before the big change" in tags
    check_invariants(workbench)


def test_a_manual_checkpoint_tags_published_and_the_records(workbench: Path) -> None:
    res = gitbench(workbench, "checkpoint", "-m", "by hand")
    assert res.returncode == 0, res.stderr
    made = nth_checkpoint(workbench, 2)
    assert f"Took {made} of Published" in res.stdout
    body = git(workbench, "cat-file", "tag", made)
    assert "Gitbench-Checkpoint-Kind: manual" in body
    records = git(workbench, "rev-parse", "refs/gitbench/records").strip()
    assert f"Gitbench-Records: {records}" in body
    assert git(workbench, "rev-parse", made + "^{commit}") == git(workbench, "rev-parse", "main")
    check_invariants(workbench)


def test_restore_of_a_missing_checkpoint_exits_10(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    err = failed(gitbench(workbench, "restore", "checkpoint/99", "--yes", "--json"), "checkpoint-not-found", 10)
    assert "checkpoint/99" in err["message"]
    assert gitbench(workbench, "restore", "42", "--yes").returncode == 10
    assert gitbench(workbench, "restore", "not-a-name", "--yes").returncode == 10
    check_invariants(workbench, before, published_may_change=False)
    assert checkpoint_names(workbench) == [ref.removeprefix("refs/tags/") for ref in before.checkpoints]


def test_global_dash_c_runs_in_another_folder(workbench: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    st = ok(gitbench(elsewhere, "-C", str(workbench), "status", "--json"))
    assert st["workbench"] == str(workbench)
    made = ok(gitbench(elsewhere, "-C", str(workbench), "checkpoint", "-m", "from afar", "--json"))["checkpoints"]
    assert len(checkpoint_names(workbench)) == 2 and checkpoint_names(workbench)[1:] == made
    err = failed(gitbench(elsewhere, "-C", str(tmp_path / "missing"), "status", "--json"), "usage", 2)
    assert "missing" in err["message"]


def test_help_lists_every_command() -> None:
    res = gitbench(".", "--help", env=WIDE)
    assert res.returncode == 0
    for name in [
        "init",
        "status",
        "exec",
        "review",
        "publish",
        "discard",
        "keep",
        "checkpoint",
        "checkpoints",
        "restore",
        "log",
        "add",
        "rm",
        "extract",
        "recover",
        "demo",
    ]:
        assert f" {name} " in res.stdout, name


# -- the error contract -----------------------------------------------------------------------------------------


def test_publish_and_review_without_a_draft_exit_5(workbench: Path) -> None:
    for command in ("publish", "review"):
        err = failed(gitbench(workbench, command, "--json"), "no-draft", 5)
        assert err["message"] == "There is no open Draft."
        assert any(a["command"].startswith("gitbench exec") for a in err["actions"])
    failed(gitbench(workbench, "discard", "--yes", "--json"), "no-draft", 5)
    failed(gitbench(workbench, "keep", "--json"), "no-draft", 5)
    failed(gitbench(workbench, "discard", "--undo", "--json"), "no-draft", 5)


def test_exec_without_a_command_exits_2(workbench: Path) -> None:
    assert gitbench(workbench, "exec").returncode == 2
    err = failed(gitbench(workbench, "exec", "--json", "--"), "usage", 2)
    assert "needs a command" in err["message"]
    failed(gitbench(workbench, "exec", "--json", "--on-draft", "maybe", "--", "true"), "usage", 2)
    assert draft_refs(workbench) == [] and len(checkpoint_names(workbench)) == 1


def test_bad_options_are_usage_errors_in_json_too(workbench: Path) -> None:
    err = failed(gitbench(workbench, "checkpoints", "--json", "--no-such-option"), "usage", 2)
    assert "--no-such-option" in err["message"]
    failed(gitbench(workbench, "restore", "--json"), "usage", 2)
    res = gitbench(workbench, "status", "--no-such-option")
    assert res.returncode == 2 and "No such option" in res.stderr


def test_a_json_flag_meant_for_the_job_command_is_left_to_it(workbench: Path) -> None:
    res = gitbench(workbench, "exec", "--", sys.executable, "-c", "import sys; sys.exit(3)", "--json")
    assert res.returncode == 12
    assert "error: job-failed (exit 12)" in res.stderr
    assert not res.stdout.lstrip().startswith("{")


def _open_draft(repo: Path) -> None:
    ok(gitbench(repo, "exec", "--json", "--", *edit("draft.txt", "d\n")))


def _corrupt_draft(repo: Path) -> None:
    gitdir = Path(git(repo, "rev-parse", "--absolute-git-dir").strip())
    ref = gitdir / "refs/heads/gitbench/draft/broken"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text("0123456789abcdef0123456789abcdef01234567\n")  # a commit that does not exist


def _move_published_outside(repo: Path) -> None:
    _open_draft(repo)
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "outside gitbench")


FIRST = "(the first checkpoint)"  # in ERROR_CASES: the name of the Workbench's init checkpoint
ERROR_CASES: list[tuple[str, Any, tuple[str, ...], dict[str, str], str, int]] = [
    ("usage-discard-needs-yes", _open_draft, ("discard",), {}, "usage", 2),
    ("usage-restore-needs-yes", None, ("restore", FIRST), {}, "usage", 2),
    ("draft-open-exec", _open_draft, ("exec", "--", "true"), {}, "draft-open", 4),
    ("draft-open-restore", _open_draft, ("restore", FIRST, "--yes"), {}, "draft-open", 4),
    ("draft-open-add", _open_draft, ("add", "README.md"), {}, "draft-open", 4),
    ("no-draft", None, ("publish",), {}, "no-draft", 5),
    ("draft-corrupt", _corrupt_draft, ("publish",), {}, "draft-corrupt", 6),
    ("publish-conflict", _move_published_outside, ("publish",), {}, "publish-conflict", 7),
    (
        "checkpoint-failed",
        None,
        ("exec", "--", "true"),
        {"GITBENCH_FAULT": "checkpoint.before-tag:eio"},
        "checkpoint-failed",
        9,
    ),
    ("checkpoint-not-found", None, ("restore", "7", "--yes"), {}, "checkpoint-not-found", 10),
    (
        "scope-violation",
        None,
        ("exec", "--files", "docs/**", "--", *edit("README.md", "no\n")),
        {},
        "scope-violation",
        11,
    ),
    ("job-failed", None, ("exec", "--", sys.executable, "-c", "raise SystemExit(4)"), {}, "job-failed", 12),
    (
        "disk-full",
        None,
        ("exec", "--", *edit("x.txt", "x")),
        {"GITBENCH_FAULT": "step.before-ref:enospc"},
        "disk-full",
        13,
    ),
    ("file-io", None, ("exec", "--", *edit("x.txt", "x")), {"GITBENCH_FAULT": "step.before-ref:eio"}, "file-io", 14),
]


@pytest.mark.parametrize(
    ("setup", "args", "env", "code", "exit_code"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_every_error_exits_with_its_code_and_prints_it_as_json(
    workbench: Path, setup: Any, args: tuple[str, ...], env: dict[str, str], code: str, exit_code: int
) -> None:
    if setup is not None:
        setup(workbench)
    before = Snapshot.take(workbench)
    args = tuple(nth_checkpoint(workbench, 1) if a == FIRST else a for a in args)
    json_args = (args[0], "--json", *args[1:])
    err = failed(gitbench(workbench, *json_args, env=env), code, exit_code)
    assert err["actions"] or code in ("usage",), "an error a user can meet offers what to do next"
    assert Snapshot.take(workbench).published == before.published
    if setup is _corrupt_draft:
        ok(gitbench(workbench, "discard", "--yes", "--json"))  # a broken Draft can always be discarded
        assert draft_refs(workbench) == []
        return
    check_invariants(workbench, before, published_may_change=False)
    if draft_refs(workbench) != list(before.drafts):  # the failed job kept its Draft: set it aside, go again
        ok(gitbench(workbench, "discard", "--yes", "--json"))
    res = gitbench(workbench, *args, env={**env, **WIDE})
    assert res.returncode == exit_code
    assert f"error: {code} (exit {exit_code})" in res.stderr
    assert err["message"].split(":")[0].split(".")[0] in res.stderr


def test_a_held_workbench_lock_is_a_busy_error_exit_8(workbench: Path) -> None:
    lock = workbench / ".git" / "gitbench" / "lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        err = failed(gitbench(workbench, "checkpoint", "--json", env={"GITBENCH_LOCK_WAIT": "0.2"}), "busy", 8)
        assert "busy" in err["message"]
        fcntl.flock(fh, fcntl.LOCK_UN)
    assert len(checkpoint_names(workbench)) == 1
    ok(gitbench(workbench, "checkpoint", "--json"))


def test_ctrl_c_during_a_job_cancels_with_exit_130_and_keeps_the_draft(workbench: Path, tmp_path: Path) -> None:
    started = tmp_path / "started"
    script = (
        f"import pathlib, time; pathlib.Path('partial.txt').write_text('p'); "
        f"pathlib.Path({str(started)!r}).write_text('1'); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "exec", "--json", "--", sys.executable, "-c", script],
        cwd=workbench,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    err = json.loads(out)["error"]
    assert err["code"] == "cancelled" and err["exit_code"] == 130
    [draft] = draft_refs(workbench)
    assert git(workbench, "show", f"{draft}:partial.txt") == "p"
    check_invariants(workbench)


def test_a_job_that_changes_nothing_says_so_and_keeps_no_draft(workbench: Path) -> None:
    res = gitbench(workbench, "exec", "--json", "--files", "src/**", "--", sys.executable, "-c", "pass")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)["result"]
    assert result["draft"] is None
    assert "the command changed nothing, so no Draft was kept" in result["summary"]
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/").strip() == ""


@pytest.mark.parametrize("deleting", ["deleted", "still being deleted"])
def test_publish_run_in_the_drafts_worktree_says_the_folder_is_gone_and_so_does_the_next_command(
    workbench: Path, tmp_path: Path, deleting: str
) -> None:
    """`gitbench publish` run in the Draft's worktree (status names it) removes that folder from under the shell.
    It says so, with the folder to go to; a command run there afterwards says the folder no longer exists (it
    said `file-io` (exit 14), "Fix the file-system problem (permissions, space)"). The folder is renamed aside at
    once and deleted in the background: while it is still being deleted (an `rm` that takes its time here), the
    shell is in the renamed folder, and the same is said (the note was missing, and the next command offered to
    `gitbench init` it: a flaky fresh CI run)."""
    assert gitbench(workbench, "exec", "--", "sh", "-c", "echo x > x.txt").returncode == 0
    tree = json.loads(gitbench(workbench, "status", "--json").stdout)["result"]["draft"]["worktree"]
    env = {**os.environ, **WIDE}
    if deleting == "still being deleted":
        slow = tmp_path / "slow"
        slow.mkdir()
        (slow / "rm").write_text('#!/bin/sh\nsleep 2; exec /bin/rm "$@"\n')
        (slow / "rm").chmod(0o755)
        env["PATH"] = f"{slow}{os.pathsep}{env['PATH']}"
    script = 'cd "$1" && "$2" -m gitbench publish && exec "$2" -m gitbench status --json'
    res = subprocess.run(
        ["sh", "-c", script, "sh", tree, sys.executable],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    published, _, after = res.stdout.partition("\n{")
    assert f"cd {workbench}" in published, res.stdout
    err = failed(subprocess.CompletedProcess(res.args, res.returncode, "{" + after, ""), "not-a-workbench", 3)
    assert "no longer exists" in err["message"], err
    assert (workbench / "x.txt").read_text() == "x\n"
