"""Claude Code itself uses `gitbench mcp`: the real `claude -p`, given the server with `--mcp-config`, against the
scripted model server on 127.0.0.1 (tests/agent_server.py). The scripted model calls gitbench's tools; the tool
results reach the model's next request, the checkpoint exists in Git, and nothing leaves this machine (strace).

A missing Claude Code fails (run `bash .ci/install-agents`); it is never skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.agent_server import AgentServer, call, replace
from tests.agents import MODELS, command, environment, outside_traffic, run
from tests.conftest import checkpoint_names, git, gitbench

# Records the question and answers yes: the user's own policy, configured in their settings, standing in for the
# user clicking "yes" in the dialog Claude Code shows (print mode shows none).
APPROVE_HOOK = """\
import json, sys
event = json.load(sys.stdin)
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(event) + "\\n")
print(json.dumps({"hookSpecificOutput": {"hookEventName": "Elicitation", "action": "accept",
                                         "content": {"approve": True}}}))
"""


def claude(
    workbench: Path, tmp_path: Path, server: AgentServer, tools: list[str], settings: dict[str, object] | None = None
) -> tuple[list[tuple[str, bool]], str]:
    """Run `claude -p` with gitbench's MCP server; return the tool results of its last request and a context."""
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gitbench": {"type": "stdio", "command": sys.executable, "args": ["-m", "gitbench", "mcp"]}
                }
            }
        )
    )
    argv = [*command("claude", "Work with gitbench."), "--mcp-config", str(config), "--strict-mcp-config"]
    if settings is not None:
        (tmp_path / "settings.json").write_text(json.dumps(settings))
        argv += ["--settings", str(tmp_path / "settings.json")]
    argv += ["--allowedTools", *[f"mcp__gitbench__{t}" for t in tools]]
    env = environment("claude", server)
    # Claude Code defers MCP tools behind its tool search by default (the model sees their names and loads a
    # schema when it wants one); off, the first request carries their schemas, which the test checks.
    env["ENABLE_TOOL_SEARCH"] = "false"
    trace = tmp_path / "network.strace"
    res = run(argv, env, cwd=workbench, timeout=120, trace=trace)
    context = f"\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}\n--- requests\n{server.summary()}"
    assert res.returncode == 0, context
    assert server.models == {MODELS["claude"]}, server.summary()
    assert outside_traffic(trace) == [], f"Claude Code or gitbench talked to the outside world{context}"
    return server.tool_results(), context


def approving(tmp_path: Path) -> tuple[dict[str, object], Path]:
    """Claude Code settings whose Elicitation hook answers yes, and the file where it records each question."""
    asked = tmp_path / "asked.jsonl"
    hook = tmp_path / "approve.py"
    hook.write_text(APPROVE_HOOK)
    hooks = [{"matcher": "gitbench", "hooks": [{"type": "command", "command": f"{sys.executable} {hook} {asked}"}]}]
    return {"hooks": {"Elicitation": hooks}}, asked


def draft(workbench: Path) -> tuple[str, str]:
    res = gitbench(workbench, "exec", "--", "sh", "-c", "echo bye > src/app.py")
    assert res.returncode == 0, res.stderr
    label = git(workbench, "for-each-ref", "--format=%(refname:strip=4)", "refs/heads/gitbench/draft/").strip()
    return label, git(workbench, "rev-parse", f"refs/heads/gitbench/draft/{label}").strip()


def test_claude_code_publishes_only_when_the_user_approves(workbench: Path, tmp_path: Path) -> None:
    label, head = draft(workbench)
    main = git(workbench, "rev-parse", "main").strip()
    with AgentServer() as server:
        # Print mode has no one to ask: Claude Code dismisses the question, and nothing moves.
        server.script(call("mcp__gitbench__publish"), say="Tried to publish.")
        [(text, is_error)], context = claude(workbench, tmp_path, server, ["publish"])
        assert is_error and json.loads(text[text.index("{") :])["error"]["code"] == "approval-declined", context
        assert git(workbench, "rev-parse", "main").strip() == main
        # The user's Elicitation hook answers yes: now it is published.
        settings, asked = approving(tmp_path)
        server.requests.clear()
        [(text, is_error)], context = claude(workbench, tmp_path, server, ["publish"], settings)
        assert not is_error and json.loads(text)["result"]["published"] == head, context
    question = json.loads(asked.read_text().splitlines()[0])
    assert question["mcp_server_name"] == "gitbench"
    assert (
        f"Publish the Draft {label}?" in question["message"]
        and f"from {main[:12]} to {head[:12]}" in question["message"]
    )
    assert git(workbench, "rev-parse", "main").strip() == head
    assert (workbench / "src/app.py").read_text() == "bye\n"


def test_claude_code_calls_gitbench_tools_over_mcp(workbench: Path, tmp_path: Path) -> None:
    with AgentServer() as server:
        server.script(
            call("mcp__gitbench__status"),
            call("mcp__gitbench__checkpoint", message="before the agent edits"),
            call("mcp__gitbench__publish"),
            say="Checked the Workbench and took a checkpoint.",
        )
        results, context = claude(workbench, tmp_path, server, ["status", "checkpoint", "publish"])
        # The model was offered gitbench's tools, with their schemas.
        offered = {t["name"]: t for t in server.of_kind("anthropic/main")[0].body["tools"]}
        assert {f"mcp__gitbench__{n}" for n in ("status", "review", "checkpoint", "publish", "restore")} <= set(
            offered
        ), sorted(offered)
        assert "message" in offered["mcp__gitbench__checkpoint"]["input_schema"]["properties"]
    # Each call ran in the one gitbench process, and its answer reached the model's next request.
    assert len(results) == 3, context
    (status, status_err), (cp, cp_err), (pub, pub_err) = results
    assert not status_err and not cp_err, results
    init, made = checkpoint_names(workbench)
    assert json.loads(status)["result"]["published"]["checkpoint"] == init, status
    assert json.loads(cp)["result"]["checkpoints"] == [made], cp
    # No Draft to publish: gitbench's own error, with its code, reaches the model as a tool error.
    assert pub_err and pub.startswith("error: no-draft (exit 5)"), pub
    assert "before the agent edits" in git(workbench, "tag", "-n9", "-l", made)


def test_a_session_publishes_the_turn_it_is_in_with_the_users_approval(workbench: Path, tmp_path: Path) -> None:
    """The hooks and the MCP server together (the README's setup): in one turn the agent edits in its session's
    Draft worktree, then asks to publish. What it changed in this turn becomes a step first, so the question names
    it and the publish takes it (it used to publish the still empty Draft, "0 file(s) change", and put the edit
    aside under refs/gitbench/leftovers)."""
    assert gitbench(workbench, "agent", "install", "claude-code").returncode == 0
    settings, asked = approving(tmp_path)
    with AgentServer() as server:
        server.script(replace("src/app.py", "hello", "bye"), call("mcp__gitbench__publish"), say="Published.")
        results, context = claude(workbench, tmp_path, server, ["publish"], settings)
    text, is_error = results[-1]
    assert not is_error, context
    question = json.loads(asked.read_text().splitlines()[0])["message"]
    assert "1 file(s) change (+1 -1): src/app.py" in question, question
    main = git(workbench, "rev-parse", "main").strip()
    assert json.loads(text)["result"]["published"] == main
    assert (workbench / "src/app.py").read_text() == "print('bye')\n"
    assert git(workbench, "for-each-ref", "refs/gitbench/leftovers/").strip() == ""
    trailers = git(workbench, "log", "-1", "--format=%(trailers:only)", main)
    assert "Gitbench-Agent: claude" in trailers and "Gitbench-Step: 1/1 turn" in trailers, trailers
    # Named as what it is: the turn up to the publish (what the agent does after it in the turn is another step).
    subject = git(workbench, "log", "-1", "--format=%s", main).strip()
    assert subject == "claude-code: turn 1 (up to the publish it asked for)", subject
