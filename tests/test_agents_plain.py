"""The agent harness, proven on plain Git repositories (no gitbench): each real agent CLI (aider, Claude Code,
codex), run non-interactively with its default safety settings in a fresh HOME, against the scripted model server
on 127.0.0.1, makes exactly the scripted edit, and talks to nothing but that server (strace watches every
connect and send of the agent and its children).

A missing agent fails (run `bash .ci/install-agents`); it is never skipped.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_server import AgentServer
from tests.agents import COMMIT, MODELS, NOTES, PROMPT, command, environment, outside_traffic, run, scripted_server
from tests.conftest import git, make_project

APP = 'def greet():\n    return "hello"\n\n\nprint(greet())\n'
EDITED = APP.replace('"hello"', '"goodbye"')


@pytest.fixture
def server() -> Iterator[AgentServer]:
    with scripted_server() as s:
        yield s


def run_agent(agent: str, server: AgentServer, tmp_path: Path) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    repo = make_project(tmp_path / "repo", {"app.py": APP})
    head = git(repo, "rev-parse", "HEAD").strip()
    trace = tmp_path / "network.strace"
    res = run(command(agent, PROMPT), environment(agent, server), cwd=repo, timeout=90, trace=trace)
    context = f"\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}\n--- requests\n{server.summary()}"
    assert res.returncode == 0, f"{agent} exited {res.returncode}{context}"
    assert (repo / "app.py").read_text() == EDITED, context
    assert (repo / "notes.txt").read_text() == NOTES, context
    assert outside_traffic(trace) == [], f"{agent} talked to the outside world{context}"
    port = server.url.rsplit(":", 1)[1]
    assert f"htons({port})" in trace.read_text(), "strace saw no connection to the server: the check proves nothing"
    # Every request named the model the agent was told to use, and every one was understood.
    assert server.models == {MODELS[agent]}, server.summary()
    assert all(r.status == 200 and r.kind != "unknown" for r in server.requests), server.summary()
    assert not any(err for _, err in server.tool_results()), server.tool_results()
    return repo, head, res


def test_aider_edits_and_commits(server: AgentServer, tmp_path: Path) -> None:
    repo, head, _ = run_agent("aider", server, tmp_path)
    # aider committed its edit itself (git and auto-commits are on by default), with the model's message.
    assert git(repo, "rev-parse", "HEAD~1").strip() == head
    assert git(repo, "log", "-1", "--format=%s").strip() == COMMIT
    # ...and its attribution trailer (aider 0.86 default: the author stays the user's).
    assert git(repo, "log", "-1", "--format=%(trailers:key=Co-authored-by,valueonly)").strip() == (
        f"aider (openai/{MODELS['aider']}) <aider@aider.chat>"
    )
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == ["app.py", "notes.txt"]
    # Nothing left over: .gitignore untouched (the global excludes file ignores .aider*), aider's files ignored.
    assert git(repo, "status", "--porcelain").strip() == ""
    assert not (repo / ".gitignore").exists()
    kinds = [r.kind for r in server.requests]
    assert kinds == ["openai-chat/edit", "openai-chat/commit-message"], server.summary()
    edit = server.requests[0]
    assert edit.path == "/v1/chat/completions" and edit.body["stream"] is True
    assert edit.header("authorization") == "<redacted>"


def test_claude_code_edits(server: AgentServer, tmp_path: Path) -> None:
    repo, head, _ = run_agent("claude", server, tmp_path)
    # Claude Code edits the working tree and commits nothing unless asked.
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "status", "--porcelain", "--ignored").splitlines() == [" M app.py", "?? notes.txt"]
    main = server.of_kind("anthropic/main")
    calls = [b["name"] for r in main for b in json.loads(r.answer) if b["type"] == "tool_use"]
    assert calls == ["Read", "Edit", "Write"], server.summary()
    assert len(main) == 4 and all(r.body.get("stream") for r in main), server.summary()
    assert all(r.path.startswith("/v1/messages") for r in server.requests), server.summary()
    assert main[0].header("x-api-key") == "<redacted>"


def test_codex_edits(server: AgentServer, tmp_path: Path) -> None:
    repo, head, res = run_agent("codex", server, tmp_path)
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "status", "--porcelain", "--ignored").splitlines() == [" M app.py", "?? notes.txt"]
    main = server.of_kind("responses/main")
    assert len(main) == 3 and all(r.path == "/v1/responses" for r in server.requests), server.summary()
    # The sandbox it ran in: workspace-write, approvals never (nothing asked, nothing escalated).
    assert "sandbox: workspace-write" in res.stderr and "approval: never" in res.stderr, res.stderr[-2000:]
    assert any("Success" in text for text, _ in server.tool_results()), server.tool_results()


def test_server_answers_everything_at_once(server: AgentServer) -> None:
    """What no agent above asked: plain (non-streamed) answers, side requests, and requests it does not know,
    which get an immediate error naming the server, never a hang."""
    import urllib.error
    import urllib.request

    def post(path: str, body: object) -> tuple[int, str]:
        req = urllib.request.Request(
            server.url + path,
            json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "x-api-key": "secret"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    code, text = post("/v1/no/such/thing", {"model": "m"})
    assert code == 404 and "agent_server: no such endpoint" in text
    code, text = post("/v1/messages/count_tokens", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert code == 200 and json.loads(text)["input_tokens"] > 0
    code, text = post(
        "/v1/messages",
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "Write a 5-word title for this conversation. Answer in JSON with a title."}
            ],
        },
    )
    answer = json.loads(text)
    assert code == 200 and answer["stop_reason"] == "end_turn"
    assert json.loads(answer["content"][0]["text"])["title"]
    code, text = post(
        "/v1/chat/completions",
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Generate a one-line Git commit message"},
                {"role": "user", "content": "d"},
            ],
        },
    )
    assert code == 200 and json.loads(text)["choices"][0]["message"]["content"] == COMMIT
    code, text = post("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert code == 200 and "cannot tell aider's edit format" in text
    assert [r.kind for r in server.requests] == [
        "unknown",
        "anthropic/count_tokens",
        "anthropic/side",
        "openai-chat/commit-message",
        "openai-chat/edit",
    ]
    assert all(r.header("X-API-Key") == "<redacted>" for r in server.requests)
