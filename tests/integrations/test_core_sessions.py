"""An agent session's life, in-process: ``core.handle`` called with the events an agent's hooks send, on a real
Workbench (`gitbench init`) and its real Draft worktrees, at the edges a session meets: a session whose start
failed, a worktree folder deleted (and one that cannot be made again), a Draft published or deleted while the
session goes on, a session that changed nothing, a session that only knows its folder (no session id), the
agent's own worktree request, the user's own linked worktree.

tests/test_agent_sessions.py drives the same edges through the real `gitbench hook` entry point (a subprocess
each); here each event is a call, so the state each one leaves (the session file, the job record, the Draft ref,
the worktree) is checked right after it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitbench.integrations import core
from gitbench.integrations.base import HookEvent, HookReply
from tests.conftest import git, gitbench, make_project

APP = 'def greet():\n    return "hello"\n'
DRAFTS = "refs/heads/gitbench/draft/"
AGENT = "claude-code"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    # Draft worktrees in a folder of the test's own (outside the Workbench), as `[job] worktrees` would put them.
    monkeypatch.setenv("GITBENCH_WORKTREES", str(tmp_path / "trees"))
    return repo


def event(kind: str, cwd: Path | str, session: str = "s1", **kw: Any) -> HookEvent:
    return HookEvent(agent=AGENT, kind=kind, session=session, cwd=str(cwd), **kw)


def start(bench: Path, session: str = "s1") -> dict[str, Any]:
    reply = core.handle(event("session-start", bench, session))
    assert reply.error is None and reply.context and "works in its own Draft" in reply.context, reply
    data = core.read_session(str(bench / ".git"), AGENT, session)
    assert data is not None and os.path.isdir(data["worktree"])
    assert reply.env["GITBENCH_WORKTREE"] == data["worktree"]
    return data


def drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split()


def job(repo: Path, job_id: str) -> dict[str, Any]:
    return json.loads(git(repo, "show", f"refs/gitbench/records:jobs/{job_id}.json"))


def log_events(repo: Path) -> list[dict[str, Any]]:
    folder = repo / ".git" / "gitbench" / "logs"
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]


# -- the session's start -----------------------------------------------------------------------------------------


def test_a_session_whose_start_failed_records_nothing_and_keeps_the_checkout_guarded(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worktrees folder configured inside the checkout: the Draft's worktree cannot be made there.
    monkeypatch.setenv("GITBENCH_WORKTREES", str(bench / "wt"))
    reply = core.handle(event("session-start", bench))
    assert reply.error and "could not make this session's Draft" in reply.error
    assert reply.context and f"checkout, {bench}, are refused" in reply.context
    assert drafts(bench) == []  # the empty Draft went with the failed start
    data = core.read_session(str(bench / ".git"), AGENT, "s1")
    assert data is not None and "GITBENCH_WORKTREES" in data["failed"] and "Next:" in data["failed"]

    # Every later event says so, records nothing, and edits to the checkout stay refused.
    assert core.handle(event("prompt", bench, prompt="add a feature")) == HookReply()
    turn = core.handle(event("turn-end", bench))
    assert turn.error and turn.error.startswith("gitbench: this session has no Draft:")
    denied = core.handle(event("pre-edit", bench, paths=["app.py"]))
    assert denied.deny and "could not give this session its Draft" in denied.deny
    assert drafts(bench) == []

    # An agent's --worktree request fails as loudly: the agent must not go on without a worktree.
    asked = core.handle(event("worktree-create", bench, session="s2", name="feature"))
    assert asked.error and asked.error.startswith("gitbench could not make the session's Draft:")
    assert asked.worktree is None


def test_a_start_whose_undo_fails_too_leaves_the_journal_and_logs_why(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbench import faults

    # The worktree's files cannot be written (a full disk), nor can the failed job's record be (still full).
    monkeypatch.setenv("GITBENCH_FAULT", "worktree.after-add:enospc,records.before-ref:enospc@2")
    faults.reset()
    reply = core.handle(event("session-start", bench))
    assert reply.error and "No space left on the device while starting the session's Draft" in reply.error
    assert "Free some disk space" in reply.error
    (undo,) = [e for e in log_events(bench) if e.get("event") == "session.undo-failed"]
    assert "OSError" in undo["error"] and undo["job"]
    # The journal of the half-made start stays: the next command finds the job and marks it interrupted.
    monkeypatch.delenv("GITBENCH_FAULT")
    faults.reset()
    assert gitbench(bench, "recover").returncode == 0
    assert job(bench, undo["job"])["status"] in ("interrupted", "failed")


def test_worktree_create_gives_the_sessions_worktree_once(bench: Path) -> None:
    made = core.handle(event("worktree-create", bench, name="feature"))
    assert made.error is None and made.worktree and os.path.isdir(made.worktree)
    (draft,) = drafts(bench)
    assert job(bench, draft.rsplit("/", 1)[-1])["message"] == f"{AGENT} session (feature)"
    # Asked again (the same session's second install fires too): the same worktree, no second Draft.
    again = core.handle(event("worktree-create", bench, name="feature"))
    assert again.worktree == made.worktree and drafts(bench) == [draft]
    # The agent is done with that folder: the Draft outlives it (the user publishes or discards it).
    assert core.handle(event("worktree-remove", bench)) == HookReply()
    assert core.handle(event("other", bench)) == HookReply()
    assert drafts(bench) == [draft] and os.path.isdir(made.worktree)


def test_a_session_in_the_users_own_linked_worktree_is_left_alone(bench: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    git(bench, "worktree", "add", "-q", "-b", "other", str(mine))
    assert core.handle(event("session-start", mine)) == HookReply()
    assert drafts(bench) == [] and core.read_session(str(bench / ".git"), AGENT, "s1") is None


def test_a_session_known_only_by_its_folder_is_that_worktrees_session(bench: Path) -> None:
    data = start(bench)
    tree = Path(data["worktree"])
    sessions = bench / ".git" / "gitbench" / "sessions"
    (sessions / "broken.json").write_text("{not json")  # another session's file, half-written: skipped
    # An agent that gives no session id, started in the Draft's worktree (Claude Code's --worktree does): the
    # session is the one whose worktree holds the folder, and it goes on there.
    reply = core.handle(event("session-start", tree / "sub", session=""))
    assert reply.context and f"Its worktree is {data['worktree']}" in reply.context
    assert reply.env["GITBENCH_JOB"] == data["job"]
    assert sorted(p.name for p in sessions.iterdir()) == sorted(
        ["broken.json", Path(core.session_file("", AGENT, "s1")).name]
    )
    # Its edits are guarded as the session's: the user's checkout is refused, the worktree is not.
    denied = core.handle(event("pre-edit", tree, session="", paths=[str(bench / "app.py")]))
    assert denied.deny and f"write {tree / 'app.py'} instead" in denied.deny
    assert core.handle(event("pre-edit", tree, session="", paths=["app.py"])) == HookReply()
    # The user's checkout is no session's worktree (the broken file is read, and passed over).
    assert core._by_worktree(str(bench / ".git"), str(bench)) is None
    # It ends there too, having changed nothing: no Draft is kept.
    ended = core.handle(event("session-end", tree, session=""))
    assert ended.message == f"gitbench: Job {data['job']} finished: the job changed nothing, so no Draft was kept."
    assert drafts(bench) == [] and job(bench, data["job"])["status"] == "no-changes"


def test_git_commands_run_in_the_sessions_worktree_are_allowed_and_in_the_checkout_refused(bench: Path) -> None:
    tree = Path(start(bench)["worktree"])
    assert core.handle(event("pre-shell", tree, command="git stash && git checkout -- app.py")) == HookReply()
    refused = core.handle(event("pre-shell", bench, command="git checkout -- app.py"))
    assert refused.deny and f"(cd {tree} first.)" in refused.deny


def test_an_agent_run_job_whose_workbench_variable_is_no_repository_is_not_that_job(
    bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    monkeypatch.setenv("GITBENCH_JOB", "20260101-000000-abcd")
    monkeypatch.setenv("GITBENCH_WORKTREE", str(elsewhere))
    monkeypatch.setenv("GITBENCH_WORKBENCH", str(elsewhere))
    # Not a job: the event is the session's own (none here, and outside any Workbench nothing at all).
    assert core.handle(event("pre-edit", elsewhere, paths=["x.txt"])) == HookReply()
    assert core.handle(event("turn-end", bench)) == HookReply()
    assert drafts(bench) == []


# -- the turns -------------------------------------------------------------------------------------------------


def test_a_prompt_without_text_records_nothing(bench: Path) -> None:
    data = start(bench)
    before = git(bench, "rev-parse", "refs/gitbench/records")
    assert core.handle(event("prompt", bench, prompt="")) == HookReply()
    assert git(bench, "rev-parse", "refs/gitbench/records") == before
    assert job(bench, data["job"]).get("turn") in (None, 0)


def test_a_session_that_changed_nothing_ends_without_a_draft_and_starts_anew(bench: Path) -> None:
    data = start(bench)
    reply = core.handle(event("session-end", bench))
    assert reply.message == f"gitbench: Job {data['job']} finished: the job changed nothing, so no Draft was kept."
    assert job(bench, data["job"])["status"] == "no-changes"
    assert drafts(bench) == []
    assert core.read_session(str(bench / ".git"), AGENT, "s1") is None  # resumed, it starts a new Draft
    again = start(bench)
    assert again["job"] != data["job"] and len(drafts(bench)) == 1


def test_a_job_record_that_is_not_there_is_said_and_nothing_is_recorded(bench: Path) -> None:
    data = start(bench)
    core._write_session(str(bench / ".git"), AGENT, "s1", {**data, "job": "20200101-000000-gone"})
    (Path(data["worktree"]) / "new.txt").write_text("x\n")
    reply = core.handle(event("turn-end", bench))
    assert reply.message == (
        "gitbench: the record of this session's job (20200101-000000-gone) is not there; nothing is recorded."
    )
    assert git(bench, "rev-parse", data["draft"]).strip() == job(bench, data["job"])["base"]


def test_a_draft_deleted_after_its_session_ended_is_said_and_the_job_kept_as_it_was(bench: Path) -> None:
    data = start(bench)
    (Path(data["worktree"]) / "new.txt").write_text("x\n")
    ended = core.handle(event("session-end", bench))
    assert ended.message and "holds 1 step(s), 1 file(s): new.txt" in ended.message
    head = git(bench, "rev-parse", data["draft"]).strip()
    git(bench, "update-ref", "-d", data["draft"])
    reply = core.handle(event("turn-end", bench))
    label = data["draft"].rsplit("/", 1)[-1]
    assert reply.message and f"git branch {label}-back {head}" in reply.message
    assert job(bench, data["job"])["status"] == "complete"  # not turned into "interrupted": it had ended


def test_a_deleted_worktree_is_made_again_in_the_configured_folder(bench: Path, tmp_path: Path) -> None:
    data = start(bench)
    tree = Path(data["worktree"])
    assert tree.is_relative_to(tmp_path / "trees")
    (tree / "one.txt").write_text("1\n")
    assert core.handle(event("turn-end", bench)).message
    shutil.rmtree(tree)
    # Made again where the user's config puts Draft worktrees (not in the default place under HOME).
    assert core.handle(event("turn-end", bench)) == HookReply()  # nothing new: the Draft held every step
    assert (tree / "one.txt").read_text() == "1\n"
    assert not (Path(os.environ["HOME"]) / ".local" / "state" / "gitbench" / "worktrees").exists()
    assert core.read_session(str(bench / ".git"), AGENT, "s1") == data


def test_a_deleted_worktree_is_made_again_where_worktrees_go_now(
    bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = start(bench)
    tree = Path(data["worktree"])
    (tree / "one.txt").write_text("1\n")
    assert core.handle(event("turn-end", bench)).message
    shutil.rmtree(tree)
    monkeypatch.setenv("GITBENCH_WORKTREES", str(tmp_path / "moved"))  # the user moved the worktrees meanwhile
    reply = core.handle(event("turn-end", bench))
    assert reply == HookReply()
    now = core.read_session(str(bench / ".git"), AGENT, "s1")
    assert now is not None and Path(now["worktree"]).is_relative_to(tmp_path / "moved")
    assert (Path(now["worktree"]) / "one.txt").read_text() == "1\n"
    assert {k: v for k, v in now.items() if k != "worktree"} == {k: v for k, v in data.items() if k != "worktree"}
    # The guard follows the session's file: the new folder is the session's, the old one is no longer.
    assert core.handle(event("pre-edit", now["worktree"], paths=["two.txt"])) == HookReply()
    (Path(now["worktree"]) / "two.txt").write_text("2\n")
    step = core.handle(event("turn-end", bench))
    assert step.message and "step 2 on Draft" in step.message and "(two.txt)" in step.message


def test_a_deleted_worktree_that_cannot_be_made_again_is_said(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = start(bench)
    (Path(data["worktree"]) / "one.txt").write_text("1\n")
    assert core.handle(event("turn-end", bench)).message
    step_one = git(bench, "rev-parse", data["draft"]).strip()
    shutil.rmtree(data["worktree"])
    monkeypatch.setenv("GITBENCH_WORKTREES", str(bench / "wt"))  # now configured inside the checkout
    label = data["draft"].rsplit("/", 1)[-1]
    reply = core.handle(event("turn-end", bench))
    assert reply.error and reply.error.startswith(f"gitbench: the worktree of the Draft {label} is gone and could")
    assert "inside the Workbench" in reply.error
    assert git(bench, "rev-parse", data["draft"]).strip() == step_one  # the Draft keeps every step
    # Resumed, the session is not sent to the missing folder: it is told it has no Draft, and stays guarded.
    resumed = core.handle(event("session-start", bench))
    assert resumed.error and "could not make this session's Draft" in resumed.error
    assert data["worktree"] not in (resumed.context or "")
    denied = core.handle(event("pre-edit", bench, paths=["app.py"]))
    assert denied.deny and "could not give this session its Draft" in denied.deny
    # Configured outside the Workbench again: the resumed session gets a new Draft; the old one keeps its steps.
    monkeypatch.setenv("GITBENCH_WORKTREES", str(bench.parent / "trees"))
    again = start(bench)
    assert again["job"] != data["job"] and sorted(drafts(bench)) == sorted([data["draft"], again["draft"]])
    assert git(bench, "rev-parse", data["draft"]).strip() == step_one


def test_a_turn_that_cannot_be_recorded_says_so_and_the_next_one_takes_it(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbench import faults

    data = start(bench)
    (Path(data["worktree"]) / "new.txt").write_text("x\n")
    monkeypatch.setenv("GITBENCH_FAULT", "capture.after-commits:enospc")
    faults.reset()
    reply = core.handle(event("turn-end", bench))
    assert reply.error and reply.error.startswith("gitbench could not record this turn as a step:")
    assert "No space left on device" in reply.error
    base = job(bench, data["job"])["base"]
    assert git(bench, "rev-parse", data["draft"]).strip() == base
    monkeypatch.delenv("GITBENCH_FAULT")
    faults.reset()
    ok = core.handle(event("turn-end", bench))
    assert ok.message and "step 1 on Draft" in ok.message
    assert git(bench, "show", f"{data['draft']}:new.txt") == "x\n"


def test_a_prompt_after_the_draft_was_published_whose_new_draft_fails_says_so(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = start(bench)
    (Path(data["worktree"]) / "new.txt").write_text("x\n")
    assert core.handle(event("session-end", bench)).message
    assert gitbench(bench, "publish", "--draft", data["draft"].rsplit("/", 1)[-1]).returncode == 0
    monkeypatch.setenv("GITBENCH_WORKTREES", str(bench / "wt"))  # the new Draft's worktree cannot be made
    reply = core.handle(event("prompt", bench, prompt="and now the tests"))
    assert reply.context and reply.context.startswith("gitbench could not give this session a new Draft:")
    assert drafts(bench) == []
    assert "and now the tests" not in git(bench, "log", "--all", "--format=%B")


def test_a_prompt_of_an_agent_run_job_whose_draft_is_gone_records_nothing(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = start(bench)
    git(bench, "update-ref", "-d", data["draft"])
    monkeypatch.setenv("GITBENCH_JOB", data["job"])
    monkeypatch.setenv("GITBENCH_WORKTREE", data["worktree"])
    monkeypatch.setenv("GITBENCH_WORKBENCH", str(bench))
    before = git(bench, "rev-parse", "refs/gitbench/records")
    assert core.handle(event("prompt", data["worktree"], prompt="hello")) == HookReply()
    assert git(bench, "rev-parse", "refs/gitbench/records") == before  # no new Draft: the job is `agent run`'s
    assert drafts(bench) == []


# -- the agent's process --------------------------------------------------------------------------------------


@pytest.fixture
def shells() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def test_the_agent_is_found_past_at_most_three_shells_that_ran_the_hook(
    shells: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbench.services.supervisor import start_time

    # Four shells, each running the next, each "running the hook" (its command line names it).
    cmd = 'sh -c "sh -c \\"sh -c \'sleep 30; : hook\'; : hook\\"; : hook"; : hook'
    proc = subprocess.Popen(["sh", "-c", cmd])
    shells.append(proc)
    chain = [proc.pid]
    deadline = time.monotonic() + 5
    while len(chain) < 5 and time.monotonic() < deadline:
        kids = _children(chain[-1])
        if kids:
            chain.append(kids[0])
        else:
            time.sleep(0.01)
    assert len(chain) == 5, chain  # sh, sh, sh, sh, sleep
    innermost_shell = chain[3]
    monkeypatch.setattr(os, "getppid", lambda: innermost_shell)  # the hook's parent: the innermost shell
    # Three shells are passed; the fourth is taken as the agent (a hook is never nested deeper).
    assert core.agent_process() == (chain[0], start_time(chain[0]))


def test_an_agent_that_is_gone_has_no_start_time(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: its pid is no process now
    monkeypatch.setattr(os, "getppid", lambda: proc.pid)
    assert core.agent_process() == (proc.pid, None)
    assert core.session_alive({"agent_pid": proc.pid, "agent_start": None}) is False


# -- the readers -----------------------------------------------------------------------------------------------


def test_a_git_file_that_cannot_be_read_is_no_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import errno

    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / ".git").write_text(f"gitdir: {tmp_path}\n")
    real_open = builtins.open

    def refusing(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == str(folder / ".git"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))  # root may read any file
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    assert core.locate(str(folder)) is None


def test_no_sessions_folder_is_no_open_session(tmp_path: Path) -> None:
    assert core.open_sessions(str(tmp_path / "no-such" / ".git"), "refs/heads/gitbench/draft/x") == []
    assert core._by_worktree(str(tmp_path / "no-such" / ".git"), str(tmp_path)) is None
