"""gitbench/integrations/core.py's readers, in-process on real folders: what runs before every tool call must
never fail on what it finds (a foreign `.git` file, a broken session file, a transcript it cannot read): it
answers "not a session" or "no model" and the agent goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitbench.integrations import core
from tests.conftest import git


def test_locate_finds_the_repository_of_a_folder_a_linked_worktree_and_nothing_elsewhere(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "a" / "b").mkdir(parents=True)
    git(tmp_path, "init", "-q", str(repo))
    assert core.locate(str(repo / "a" / "b")) == (str(repo / ".git"), str(repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    git(repo, "worktree", "add", "-q", str(tmp_path / "linked"))
    assert core.locate(str(tmp_path / "linked")) == (str(repo / ".git"), str(tmp_path / "linked"))

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / ".git").write_text("not a gitdir line\n")
    assert core.locate(str(foreign)) is None
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")  # no commondir there: the gitdir itself
    assert core.locate(str(odd)) == (str(tmp_path / "gone"), str(odd))


def test_a_broken_session_file_is_no_session(tmp_path: Path) -> None:
    gitdir = str(tmp_path / ".git")
    path = Path(core.session_file(gitdir, "claude-code", "s1"))
    path.parent.mkdir(parents=True)
    for text in ("{broken", "[1, 2]"):
        path.write_text(text)
        assert core.read_session(gitdir, "claude-code", "s1") is None
    assert core.read_session(gitdir, "claude-code", "") is None  # an agent that gives no session id
    assert core.open_sessions(gitdir, "refs/heads/gitbench/draft/x") == []


def test_open_sessions_are_those_of_the_draft_whose_agent_still_runs(tmp_path: Path) -> None:
    from gitbench.services.supervisor import start_time

    gitdir = str(tmp_path / ".git")
    draft = "refs/heads/gitbench/draft/x"
    me = {"draft": draft, "agent_pid": os.getpid(), "agent_start": start_time(os.getpid())}
    sessions = {
        "alive": me,
        "other-draft": {**me, "draft": "refs/heads/gitbench/draft/y"},
        "restarted-pid": {**me, "agent_start": -1},  # the pid now belongs to another process
        "no-pid": {"draft": draft},
    }
    for name, data in sessions.items():
        path = Path(core.session_file(gitdir, "claude-code", name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    (Path(core.session_file(gitdir, "codex", "broken"))).write_text("{")
    assert core.open_sessions(gitdir, draft) == [me]


def test_the_model_is_read_from_the_last_assistant_message_of_a_transcript(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    lines = [
        json.dumps({"message": {"model": "first-model"}}),
        json.dumps({"payload": {"model": "codex-model"}}),
        "not json",
        json.dumps(["a list"]),
        json.dumps({"message": {"model": ""}}),
    ]
    transcript.write_text("\n".join(lines) + "\n")
    assert core.transcript_model(str(transcript)) == "codex-model"
    transcript.write_text(json.dumps({"model": "top-level"}) + "\n")
    assert core.transcript_model(str(transcript)) == "top-level"
    assert core.transcript_model(str(tmp_path / "missing.jsonl")) is None
    transcript.write_text("{}\n")
    assert core.transcript_model(str(transcript)) is None
