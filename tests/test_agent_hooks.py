"""Agents that use Drafts by themselves (issue 12): Claude Code with the hooks of `gitbench agent install
claude-code`, run as a user runs it (`claude -p` in the checkout, then `claude -p --continue`), against the
scripted model server on 127.0.0.1; `gitbench agent run claude`; and the hook protocol itself through the real
`gitbench hook` entry point.

The real agent's proof: the session lands in its own Draft, one step per turn (two turns, two steps, one Draft,
the session resumed), the steps carry the audit trailers and the agent and its model; the edit aimed at the
user's checkout was denied by the PreToolUse hook (Claude got our reason) and exists nowhere; the user's folder
and .git are byte for byte as before; nothing left 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent_server import AgentServer, create, end_turn, replace
from tests.agents import API_KEY, MODELS, binary, environment, outside_traffic, run
from tests.conftest import git, gitbench, make_project
from tests.invariants import assert_same, check_invariants, fingerprint
from tests.terminal import Terminal

APP = 'def greet():\n    return "hello"\n'
DRAFTS = "refs/heads/gitbench/draft/"


def _drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split()


def _trailers(repo: Path, commit: str) -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def _hook(repo: Path, agent: str, event: str, payload: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitbench", "hook", agent, event],
        cwd=repo,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


def test_claude_code_with_installed_hooks_lands_each_turn_as_a_step(bench: Path, tmp_path: Path) -> None:
    res = gitbench(bench, "agent", "install", "claude-code")
    assert res.returncode == 0, res.stderr
    before = fingerprint(bench)
    evil = bench / "evil.txt"
    with AgentServer() as server:
        server.script(
            create(str(evil), "written into the user's checkout\n"),  # absolute: aimed at the checkout
            replace("app.py", '"hello"', '"goodbye"'),  # relative: the session's worktree (its context says)
            end_turn("Changed greet()."),
            create("notes.txt", "notes\n"),
            say="All done.",
        )
        env = environment("claude", server)
        claude = str(binary("claude"))
        common = ["--permission-mode", "acceptEdits", "--model", MODELS["claude"]]
        first = run([claude, "-p", "Make greet() say goodbye", *common], env, bench, 120, tmp_path / "net1.strace")
        assert first.returncode == 0, first.stderr
        second = run([claude, "-p", "Now write notes.txt", "--continue", *common], env, bench, 120)
        assert second.returncode == 0, second.stderr
        results = server.tool_results()
    assert outside_traffic(tmp_path / "net1.strace") == []
    denied = [text for text, is_error in results if is_error and "user's checkout" in text]
    assert denied and "evil.txt" in denied[0] and "Draft worktree" in denied[0], results
    assert not evil.exists()
    assert_same(before, fingerprint(bench), "the user's folder and .git")

    drafts = _drafts(bench)
    assert len(drafts) == 1, drafts
    tip = git(bench, "rev-parse", drafts[0]).strip()
    steps = git(bench, "rev-list", "--reverse", f"main..{tip}").split()
    assert len(steps) == 2, "one step per turn"
    first_step, second_step = (_trailers(bench, c) for c in steps)
    assert git(bench, "show", f"{steps[0]}:app.py") == APP.replace('"hello"', '"goodbye"')
    assert git(bench, "show", f"{steps[1]}:notes.txt") == "notes\n"
    assert git(bench, "diff", "--name-only", steps[0], steps[1]).split() == ["notes.txt"]
    assert "evil.txt" not in git(bench, "ls-tree", "-r", "--name-only", tip)
    for tr in (first_step, second_step):
        assert tr["Gitbench-Agent"] == "claude"
        assert tr["Gitbench-Model"] == f"claude:{MODELS['claude']}"
        assert tr["Assisted-by"] == f"claude-code:{MODELS['claude']}"  # the model its hooks' payload named
        assert tr["Gitbench-Checkpoint"].startswith("checkpoint/")
        assert tr["Gitbench-Job"] == first_step["Gitbench-Job"]
    job = json.loads(git(bench, "show", f"refs/gitbench/records:jobs/{first_step['Gitbench-Job']}.json"))
    assert job["status"] == "complete" and job["steps_completed"] == 2
    assert job["agent"] == "claude" and job["agent_model"] == MODELS["claude"]
    # The prompts are in the session's conversation record, never in a commit.
    chat = git(bench, "show", f"refs/gitbench/records:chat/{job['conversation']}.jsonl")
    assert "Make greet() say goodbye" in chat and "Now write notes.txt" in chat
    assert "goodbye" not in git(bench, "log", "--format=%B", f"main..{tip}")
    for tr in (first_step, second_step):
        assert tr["Assisted-by"] == f"claude-code:{MODELS['claude']}"
    # `gitbench why` names each line's turn and the prompt that asked for it.
    res = gitbench(bench, "why", "app.py:2", "--rev", tip, "--json")
    (line,) = json.loads(res.stdout)["result"]["origins"]
    assert line["commit"] == steps[0] and line["turn"] == 1 and line["prompt"] == "Make greet() say goodbye"
    assert line["assisted_by"] == f"claude-code:{MODELS['claude']}" and line["checkpoint"] == job["checkpoint"]
    res = gitbench(bench, "why", "notes.txt", "--rev", tip, "--json")
    (line,) = json.loads(res.stdout)["result"]["origins"]
    assert line["commit"] == steps[1] and line["turn"] == 2 and line["prompt"] == "Now write notes.txt"

    # Publish brings it to the user's checkout; the Draft and its worktree go.
    res = gitbench(bench, "publish")
    assert res.returncode == 0, res.stderr
    assert (bench / "app.py").read_text() == APP.replace('"hello"', '"goodbye"')
    assert _drafts(bench) == []
    check_invariants(bench)


def test_agent_run_claude_makes_each_turn_a_step_and_refuses_the_checkout(bench: Path, tmp_path: Path) -> None:
    evil = bench / "evil.txt"
    with AgentServer() as server:
        server.script(create(str(evil), "x\n"), replace("app.py", '"hello"', '"goodbye"'), say="Done.")
        env = environment("claude", server)
        before = fingerprint(bench)
        argv = [str(binary("claude")), "-p", "Say goodbye", "--permission-mode", "acceptEdits"]
        res = subprocess.run(
            [sys.executable, "-m", "gitbench", "agent", "run", "--json", *argv, "--model", MODELS["claude"]],
            cwd=bench,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        results = server.tool_results()
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and out["result"]["review"]["files"], out
    assert any(err and "user's checkout" in text for text, err in results), results
    assert not evil.exists()
    assert_same(before, fingerprint(bench), "the user's folder and .git")
    (draft,) = _drafts(bench)
    steps = git(bench, "rev-list", f"main..{draft}").split()
    assert len(steps) == 1  # the turn's step, made by the Stop hook; nothing left for the job's end
    tr = _trailers(bench, steps[0])
    assert tr["Gitbench-Agent"] == "claude" and tr["Gitbench-Model"] == f"claude:{MODELS['claude']}"
    assert git(bench, "show", f"{draft}:app.py") == APP.replace('"hello"', '"goodbye"')
    check_invariants(bench)


# -- the hook protocol, event by event (payloads as Claude Code sends them: code.claude.com/docs/en/hooks) -------


def test_claude_code_in_a_clone_of_a_workbench_not_adopted_yet_is_told_to_run_init(bench: Path, tmp_path: Path) -> None:
    """A teammate clones the shared Workbench and starts Claude Code (hooks installed for the user) before
    `gitbench init`: the hooks guard nothing there, so Claude edits the checkout itself. It used to do so without a
    word; the session now starts with the reason and the command, for Claude and for the user (who sees the
    hook's systemMessage). Nothing of gitbench's is made there."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bench), str(clone))
    assert git(clone, "tag", "-l", "checkpoint/*").strip()  # the checkpoints came with the clone
    res = gitbench(bench, "agent", "install", "claude-code", "--user")
    assert res.returncode == 0, res.stderr
    with AgentServer() as server:
        server.script(replace("app.py", '"hello"', '"hi"'), say="Done.")
        env = environment("claude", server)
        argv = [str(binary("claude")), "-p", "Say hi", "--permission-mode", "acceptEdits", "--model", MODELS["claude"]]
        out = run(argv, env, clone, 120)
        assert out.returncode == 0, out.stderr
        asked = json.dumps([r.body for r in server.of_kind("anthropic/main")])
    said = f"{clone} is a clone of a gitbench Workbench (it has its checkpoints) that is not adopted here yet"
    assert said in asked and "Run `gitbench init` there" in asked, asked[:2000]
    assert not (clone / ".git" / "gitbench").exists()
    payload = {"session_id": "s0", "cwd": str(clone), "source": "startup"}
    res = _hook(clone, "claude-code", "SessionStart", payload)
    assert said in json.loads(res.stdout)["systemMessage"], res.stdout


def test_hooks_outside_a_session_or_a_workbench_allow_everything(tmp_path: Path, bench: Path) -> None:
    plain = make_project(tmp_path / "plain")
    for repo in (plain, bench):  # a repository that is not a Workbench; a Workbench with no session
        payload = {
            "session_id": "s0",
            "cwd": str(repo),
            "hook_event_name": "PreToolUse",
            "tool_name": "Write",
            "tool_input": {"file_path": str(repo / "app.py"), "content": "x"},
        }
        res = _hook(repo, "claude-code", "PreToolUse", payload)
        assert res.returncode == 0 and res.stdout.strip() == "", res
    res = _hook(plain, "claude-code", "SessionStart", {"session_id": "s0", "cwd": str(plain), "source": "startup"})
    assert res.returncode == 0 and res.stdout.strip() == ""
    assert not (plain / ".git" / "gitbench").exists()


def test_session_hooks_guard_the_checkout_git_and_branch(bench: Path) -> None:
    start = {"session_id": "s1", "cwd": str(bench), "source": "startup", "model": "claude-opus-4-1"}
    res = _hook(bench, "claude-code", "SessionStart", start)
    assert res.returncode == 0, res.stderr
    context = json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"]
    (draft,) = _drafts(bench)
    tree = git(bench, "worktree", "list", "--porcelain").split("worktree ")[-1].splitlines()[0]
    assert tree in context and str(bench) in context
    # The agent (here: this test, the hook's parent) is running: status says so, publish waits for it.
    st = gitbench(bench, "status")
    assert f"A claude-code session (pid {os.getpid()}) works in the Draft" in " ".join(st.stdout.split())
    res = gitbench(bench, "publish", "--json")
    assert res.returncode == 8 and "session" in json.loads(res.stdout)["error"]["message"]

    def pre(tool: str, **args: str) -> dict[str, object]:
        payload = {"session_id": "s1", "cwd": str(bench), "hook_event_name": "PreToolUse"}
        res = _hook(bench, "claude-code", "PreToolUse", {**payload, "tool_name": tool, "tool_input": args})
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["hookSpecificOutput"] if res.stdout.strip() else {}

    denied = pre("Edit", file_path=str(bench / "app.py"), old_string="a", new_string="b")
    assert denied["permissionDecision"] == "deny"
    assert os.path.join(tree, "app.py") in denied["permissionDecisionReason"]
    assert pre("Write", file_path="app.py", content="x")["permissionDecision"] == "deny"  # relative to the checkout
    assert pre("Write", file_path=str(bench / ".git" / "config"), content="x")["permissionDecision"] == "deny"
    assert pre("Write", file_path=os.path.join(tree, "app.py"), content="x") == {}
    assert pre("Write", file_path=str(bench.parent / "elsewhere.txt"), content="x") == {}
    assert pre("Bash", command="git commit -am wip")["permissionDecision"] == "deny"
    assert pre("Bash", command=f"cd {tree} && git status") == {}
    assert pre("Bash", command="ls -la") == {}

    # A turn that changed nothing makes no step; one that did, makes one, with the model of the session.
    stop = {"session_id": "s1", "cwd": str(bench), "hook_event_name": "Stop", "stop_hook_active": False}
    res = _hook(bench, "claude-code", "Stop", stop)
    assert res.returncode == 0 and res.stdout.strip() == ""
    Path(tree, "app.py").write_text(APP.replace("hello", "hi"))
    res = _hook(bench, "claude-code", "Stop", stop)
    assert "step 1" in json.loads(res.stdout)["systemMessage"]
    assert _trailers(bench, draft)["Gitbench-Model"] == "claude:claude-opus-4-1"
    end = {"session_id": "s1", "cwd": str(bench), "hook_event_name": "SessionEnd", "reason": "exit"}
    res = _hook(bench, "claude-code", "SessionEnd", end)
    assert res.returncode == 0
    assert "gitbench review" in res.stderr  # no terminal here: the review goes to stderr
    check_invariants(bench)


def test_review_shows_what_an_agent_gone_mid_turn_left_in_its_worktree(bench: Path) -> None:
    """An agent killed in the middle of a turn (kill -9, its terminal closed) never ends that turn: its edits are in
    the session's worktree, not a step. review and status say so, and how to record them (they said "0 file(s)
    changed", and a publish then set the edits aside under refs/gitbench/leftovers)."""
    # The hook's parent is the agent: here a process that is gone as soon as the hook has run.
    start = {"session_id": "s9", "cwd": str(bench), "source": "startup"}
    res = subprocess.run(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:], check=True)"]
        + [sys.executable, "-m", "gitbench", "hook", "claude-code", "SessionStart"],
        cwd=bench,
        input=json.dumps(start),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    (draft,) = _drafts(bench)
    tree = git(bench, "worktree", "list", "--porcelain").split("worktree ")[-1].splitlines()[0]
    Path(tree, "app.py").write_text(APP.replace("hello", "hi"))
    res = gitbench(bench, "review")
    said = " ".join(res.stdout.split())
    assert "0 file(s) changed" in said and "its worktree has 1 file(s) that are not in the Draft (app.py)" in said
    assert "refs/gitbench/leftovers" in said, said
    out = json.loads(gitbench(bench, "review", "--json").stdout)["result"]
    assert out["uncommitted"] == ["app.py"] and out["running"] is None
    assert "not in the Draft (app.py)" in " ".join(gitbench(bench, "status").stdout.split())
    # Nothing changed by looking.
    assert git(bench, "rev-list", "--count", f"main..{draft}").strip() == "0"
    check_invariants(bench)


def test_worktree_create_makes_the_sessions_folder_the_drafts_worktree(bench: Path) -> None:
    payload = {"session_id": "s2", "cwd": str(bench), "hook_event_name": "WorktreeCreate", "name": "feature-x"}
    res = _hook(bench, "claude-code", "WorktreeCreate", payload)
    assert res.returncode == 0, res.stderr
    folder = res.stdout.strip()
    assert os.path.isabs(folder) and os.path.isfile(os.path.join(folder, "app.py"))
    (draft,) = _drafts(bench)
    assert git(Path(folder), "symbolic-ref", "HEAD").strip() == draft
    # The session then starts in that folder: it is the same job, and edits there are allowed.
    start = {"session_id": "s2", "cwd": folder, "hook_event_name": "SessionStart", "source": "startup"}
    res = _hook(Path(folder), "claude-code", "SessionStart", start)
    assert res.returncode == 0 and folder in res.stdout
    assert _drafts(bench) == [draft]
    # Outside a Workbench the agent is told why it got no worktree.
    plain = make_project(bench.parent / "plain")
    res = _hook(plain, "claude-code", "WorktreeCreate", {**payload, "cwd": str(plain)})
    assert res.returncode != 0 and "gitbench init" in res.stderr


def test_install_merges_with_the_users_settings_and_uninstall_takes_out_exactly_ours(bench: Path) -> None:
    settings = bench / ".claude" / "settings.local.json"
    settings.parent.mkdir()
    mine = {
        "model": "opus",
        "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-linter"}]}],
            "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
        },
        "permissions": {"allow": ["Bash(make:*)"]},
    }
    settings.write_text(json.dumps(mine, indent=2))
    assert gitbench(bench, "agent", "install", "claude-code").returncode == 0
    once = settings.read_text()
    data = json.loads(once)
    assert data["model"] == "opus" and data["permissions"]["allow"] == ["Bash(make:*)"]
    assert data["hooks"]["PreToolUse"][0] == mine["hooks"]["PreToolUse"][0]  # theirs first, untouched
    assert data["hooks"]["Notification"] == mine["hooks"]["Notification"]
    assert {"SessionStart", "WorktreeCreate", "UserPromptSubmit", "Stop", "SessionEnd"} <= set(data["hooks"])
    res = gitbench(bench, "agent", "install", "claude-code")
    assert res.returncode == 0 and "already" in res.stdout and settings.read_text() == once
    assert gitbench(bench, "agent", "uninstall", "claude-code").returncode == 0
    assert json.loads(settings.read_text()) == mine
    # Only ours in the file: it goes.
    settings.unlink()
    assert gitbench(bench, "agent", "install", "claude-code").returncode == 0
    assert gitbench(bench, "agent", "uninstall", "claude-code").returncode == 0
    assert not settings.exists() and not settings.parent.exists()  # with the folder it was alone in
    # A broken file: a clear error, nothing written.
    settings.parent.mkdir()
    settings.write_text("{ not json")
    res = gitbench(bench, "agent", "install", "claude-code", "--json")
    assert res.returncode == 2 and "not valid JSON" in json.loads(res.stdout)["error"]["message"]
    assert settings.read_text() == "{ not json"
    res = gitbench(bench, "agent", "install", "nosuch")
    assert res.returncode == 2 and "claude-code" in (res.stdout + res.stderr)


def test_install_user_level_writes_the_users_settings(bench: Path) -> None:
    res = gitbench(bench, "agent", "install", "claude-code", "--user")
    assert res.returncode == 0, res.stderr
    path = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    assert "hook claude-code Stop" in path.read_text()
    assert not (bench / ".claude").exists()
    assert gitbench(bench, "agent", "uninstall", "claude-code", "--user").returncode == 0
    assert not path.exists()


def _wait(term: Terminal, text: str, timeout: float = 60) -> None:
    """Wait for ``text`` on a full-screen program's terminal (its redraws drop spaces: compare without them)."""
    want = text.replace(" ", "")
    deadline = time.monotonic() + timeout
    while want not in term.screen.replace(" ", ""):
        if time.monotonic() > deadline or (not term._read(0.3) and want not in term.screen.replace(" ", "")):
            raise AssertionError(f"never saw {text!r}:\n{term.screen[-3000:]}")


def test_agent_run_claude_interactive_on_a_terminal(bench: Path) -> None:
    """`gitbench agent run claude` on a terminal: Claude Code's own screen; the user types a prompt, Claude edits,
    the turn's step is announced in Claude's screen by the Stop hook; /exit; gitbench's review."""
    with AgentServer() as server:
        server.script(replace("app.py", '"hello"', '"goodbye"'), say="Done: greet says goodbye.")
        env = environment("claude", server)
        # As for a user who has used Claude Code here before: the project trusted, the API key accepted.
        state = Path(env["HOME"]) / ".claude.json"
        data = json.loads(state.read_text())
        data["projects"] = {str(bench): {"hasTrustDialogAccepted": True}}
        data["customApiKeyResponses"] = {"approved": [API_KEY[-20:]], "rejected": []}
        state.write_text(json.dumps(data))
        env["TERM"] = "xterm"
        term = Terminal(bench, ["agent", "run", str(binary("claude")), "--model", MODELS["claude"]], env)
        try:
            term.expect("Running")
            _wait(term, "❯")
            time.sleep(1)
            os.write(term.master, b"Make greet say goodbye")
            time.sleep(0.5)
            os.write(term.master, b"\r")
            _wait(term, "Stop says: gitbench: step 1 on Draft")
            os.write(term.master, b"/exit")
            time.sleep(0.5)
            os.write(term.master, b"\r")
            code = term.finish(90)
        finally:
            if term.proc.poll() is None:
                term.proc.kill()
    assert code == 0, term.screen[-3000:]
    assert "finished: 1 file(s) changed in Draft" in term.screen
    (draft,) = _drafts(bench)
    steps = git(bench, "rev-list", f"main..{draft}").split()
    assert len(steps) == 1 and git(bench, "show", f"{draft}:app.py") == APP.replace('"hello"', '"goodbye"')
    assert (bench / "app.py").read_text() == APP
    check_invariants(bench)
