"""Agent sessions at their edges (from a review of the hook integration; each test failed before its fix): a
session whose start failed, two starts of one session at once, a moved gitbench, the shell guard's misses and
false alarms, the agent publishing by itself, publish while the session is open, a deleted worktree or Draft,
repeated refusals, another session's worktree, `ask` with a hooked agent.

Driven like tests/test_agent_hooks.py: the real `gitbench hook claude-code EVENT` with a JSON payload on stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, gitbench, make_project, run_hook

APP = 'def greet():\n    return "hello"\n'
DRAFTS = "refs/heads/gitbench/draft/"


def _hook(cwd: Path, event: str, payload: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return run_hook(cwd, "claude-code", event, payload)


def _hook_async(cwd: Path, event: str, payload: dict[str, object]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "hook", "claude-code", event],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload))
    proc.stdin.close()
    return proc


def _drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split()


def _job(repo: Path, job_id: str) -> dict[str, object]:
    return json.loads(git(repo, "show", f"refs/gitbench/records:jobs/{job_id}.json"))


def _denied(res: subprocess.CompletedProcess[str]) -> bool:
    if not res.stdout.strip():
        return False
    out = json.loads(res.stdout)
    return out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


def _session(bench: Path, sid: str = "s1") -> tuple[dict[str, object], Path]:
    payload = {"session_id": sid, "cwd": str(bench)}
    res = _hook(bench, "SessionStart", payload)
    assert res.returncode == 0, res.stderr
    # The session's own worktree, as its hook told the agent (Draft labels made in one second sort at random).
    context = json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"]
    tree = Path(context.split("Its worktree is ", 1)[1].split(": make every edit", 1)[0])
    assert tree.is_dir()
    return payload, tree


# 1. Two SessionStart hooks of one session at once (a --user and a project install of two gitbench paths both
#    fire; Claude Code runs matching hooks in parallel) -> several Drafts, all but one orphaned in "session".
def test_concurrent_session_start_of_one_session_makes_one_draft(bench: Path) -> None:
    payload = {"session_id": "same", "cwd": str(bench)}
    procs = [_hook_async(bench, "SessionStart", payload) for _ in range(3)]
    for p in procs:
        p.wait(timeout=60)
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        p.stderr.close()
    assert len(_drafts(bench)) == 1, _drafts(bench)


# 2. `gitbench agent install` after gitbench moved (docs: "Install again after you move gitbench") keeps the old,
#    dead path: is_ours() matches any .../gitbench, so install() skips every event.
def test_install_again_after_gitbench_moved_updates_the_command(bench: Path) -> None:
    assert gitbench(bench, "agent", "install", "claude-code").returncode == 0
    settings = bench / ".claude" / "settings.local.json"
    data = json.loads(settings.read_text())
    for groups in data["hooks"].values():
        for group in groups:
            for hook in group["hooks"]:
                hook["command"] = "/old/venv/bin/gitbench hook claude-code " + hook["command"].rsplit(" ", 1)[-1]
    settings.write_text(json.dumps(data))
    res = gitbench(bench, "agent", "install", "claude-code")
    assert res.returncode == 0, res.stderr
    assert "/old/venv/bin/gitbench" not in settings.read_text(), res.stdout


# 3. Shell guard misses: git commands that overwrite the user's uncommitted lines in the checkout are allowed.
@pytest.mark.parametrize(
    "command,where",
    [
        ("git -C {root} checkout -- app.py", "tree"),  # agent cd'd into its worktree, as it was told to
        ("cd {root} && git reset --hard", "tree"),
        ("git --no-pager reset --hard", "root"),
        ("git --work-tree=. checkout -- app.py", "root"),
        ("git reset --hard && ls {tree}", "root"),  # any mention of the worktree path disables the check
        ("/usr/bin/git checkout -- app.py", "root"),
    ],
)
def test_shell_guard_refuses_git_commands_that_overwrite_the_checkout(bench: Path, command: str, where: str) -> None:
    payload, tree = _session(bench)
    cmd = command.format(root=bench, tree=tree)
    cwd = str(tree if where == "tree" else bench)
    res = _hook(bench, "PreToolUse", {**payload, "cwd": cwd, "tool_name": "Bash", "tool_input": {"command": cmd}})
    assert _denied(res), f"allowed: {cmd} (cwd {cwd})"


# 4. Shell guard false positives: read-only git commands in the checkout are denied.
@pytest.mark.parametrize("command", ["git branch", "git branch --show-current", "git tag -l", "git stash list"])
def test_shell_guard_allows_read_only_git_commands(bench: Path, command: str) -> None:
    payload, _tree = _session(bench)
    res = _hook(bench, "PreToolUse", {**payload, "tool_name": "Bash", "tool_input": {"command": command}})
    assert not _denied(res), f"denied: {command}"


# 5. `gitbench publish` (or discard) of a Draft whose hook session is still open: no running marker, so it is
#    not refused as an `agent run` Draft is; the live agent's worktree is removed under it, and the session's
#    next edits (allowed by the guard: they are "in the worktree") land in a plain folder that no Git knows.
def test_publish_refuses_or_warns_while_the_drafts_session_is_open(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "t1.txt").write_text("turn 1\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    res = gitbench(bench, "publish")
    assert res.returncode != 0 or "session" in (res.stdout + res.stderr).lower(), res.stdout


# 6. A session whose worktree folder was deleted: every Stop says "run `gitbench recover`", recover drops the
#    worktree entry, and Stop still says the same; a resumed SessionStart points the agent at the missing folder.
def test_session_whose_worktree_was_deleted_recovers(bench: Path) -> None:
    import shutil

    payload, tree = _session(bench)
    (tree / "new.txt").write_text("x\n")
    shutil.rmtree(tree)
    first = _hook(bench, "Stop", payload)  # the worktree is made again from the Draft (what was only in it is lost)
    assert first.returncode == 0 and "error" not in first.stdout.lower(), first.stdout
    assert tree.is_dir() and (tree / "app.py").exists()
    shutil.rmtree(tree)
    _hook(bench, "SessionStart", {**payload, "source": "resume"})
    assert tree.is_dir(), "a resumed session is told to work in a folder that does not exist"


# 7. SessionEnd twice (or a Stop after SessionEnd): the message says the Draft "was published or discarded",
#    which is false: the Draft is there, complete.
def test_second_session_end_does_not_claim_the_draft_was_published(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "new.txt").write_text("x\n")
    assert _hook(bench, "SessionEnd", payload).returncode == 0
    again = _hook(bench, "SessionEnd", payload)
    assert len(_drafts(bench)) == 1
    assert "published or discarded" not in (again.stdout + again.stderr)


# 8. A Draft deleted with plain git (`git update-ref -d`): the job record stays "session" for ever (status shows
#    "Last job ... session"), and the hook says it was "published or discarded".
def test_draft_deleted_with_plain_git_ends_the_sessions_job(bench: Path) -> None:
    payload, tree = _session(bench)
    label = _drafts(bench)[0].rsplit("/", 1)[-1]
    git(bench, "update-ref", "-d", _drafts(bench)[0])
    res = _hook(bench, "Stop", payload)
    assert "published or discarded" not in res.stdout
    gitbench(bench, "recover")
    assert _job(bench, label)["status"] != "session"


# 9. A refused path (a symlink out of the Workbench) left in the worktree: every Stop appends it to the job's
#    `refused` again and writes a records commit, and the user is never told.
def test_refused_path_is_recorded_once_and_said(bench: Path) -> None:
    payload, tree = _session(bench)
    label = _drafts(bench)[0].rsplit("/", 1)[-1]
    os.symlink("/etc/passwd", tree / "pw")
    said = [_hook(bench, "Stop", payload).stdout for _ in range(3)]
    assert len(_job(bench, label)["refused"]) == 1  # type: ignore[arg-type]
    assert any("pw" in s for s in said), said


# 10. One session's agent may write into another session's Draft worktree (the guard knows only its own).
def test_session_may_not_write_into_another_sessions_worktree(bench: Path) -> None:
    a, _tree_a = _session(bench, "A")
    _b, tree_b = _session(bench, "B")
    res = _hook(bench, "PreToolUse", {**a, "tool_name": "Write", "tool_input": {"file_path": str(tree_b / "app.py")}})
    assert _denied(res)


# 11. `gitbench ask --model 'command:claude -p {prompt}'` with the hooks installed (the hooks run as that job):
#     the prompt is recorded twice (turn 1 by ask, turn 2 by the UserPromptSubmit hook), the steps are named
#     "turn 2"/"turn 3", and ask's final conversation entry (chat.assistant_turn drops every assistant line of
#     the job) deletes the hooks' per-turn lines with "commits", which `why` (chat.turn_of) relies on.
FAKE = """
import json, os, subprocess, sys
def hook(ev, **kw):
    p = {"session_id": "fake", "cwd": os.getcwd(), **kw}
    subprocess.run([sys.executable, "-m", "gitbench", "hook", "claude-code", ev], input=json.dumps(p),
                   capture_output=True, text=True, check=True)
hook("SessionStart")
hook("UserPromptSubmit", prompt=sys.argv[1])
open("a.txt", "w").write("turn1\\n")
hook("Stop")
hook("SessionEnd")
"""


def test_ask_with_a_hooked_command_agent_keeps_one_prompt_and_the_turns_commits(bench: Path, tmp_path: Path) -> None:
    agent = tmp_path / "fake_claude.py"
    agent.write_text(FAKE)
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = gitbench(bench, "ask", "first prompt", "--model", f"command:{sys.executable} {agent} {{prompt}}", env=env)
    assert res.returncode == 0, res.stderr
    names = git(bench, "ls-tree", "-r", "--name-only", "refs/gitbench/records").split()
    conv = next(n for n in names if n.startswith("chat/") and n.endswith(".jsonl"))
    lines = [json.loads(x) for x in git(bench, "show", f"refs/gitbench/records:{conv}").splitlines()]
    prompts = [m for m in lines if m.get("role") == "user"]
    assert len(prompts) == 1, prompts
    assert any(m.get("commits") for m in lines if m.get("role") == "assistant"), lines


# 12. SessionStart that fails (here: the Workbench lock held > GITBENCH_LOCK_WAIT, as by another gitbench command
#     or another session starting) leaves the session with no Draft AND no guard: the agent then edits the
#     user's checkout (Published) directly for the whole session. Fail-open on the one thing the hooks protect.
def test_session_whose_start_failed_still_may_not_edit_the_checkout(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SessionStart waits for the lock (GITBENCH_SESSION_WAIT, 90 s by default, within the agent's 120 s timeout);
    # here it gives up after 1 s, so the start fails.
    monkeypatch.setenv("GITBENCH_SESSION_WAIT", "1")
    holder = subprocess.Popen(["flock", str(bench / ".git" / "gitbench" / "lock"), "sleep", "4"])
    try:
        import time

        time.sleep(0.5)
        payload = {"session_id": "s1", "cwd": str(bench)}
        start = _hook(bench, "SessionStart", payload)
        assert "busy" in start.stdout.lower()
    finally:
        holder.wait()
    res = _hook(
        bench, "PreToolUse", {**payload, "tool_name": "Write", "tool_input": {"file_path": str(bench / "app.py")}}
    )
    assert _denied(res), "no Draft and no guard: the agent writes Published's files"
    assert "could not give this session its Draft" in res.stdout
    # Started again (the user fixed it): the session gets its Draft.
    again = _hook(bench, "SessionStart", {**payload, "source": "resume"})
    assert again.returncode == 0 and "works in its own Draft" in again.stdout and len(_drafts(bench)) == 1


# 13. A SessionStart whose worktree cannot be made (worktrees folder configured inside the checkout) leaves an
#     empty Draft and a job that the next command reports as "interrupted ... killed or crashed"; the hook's
#     message drops the error's only advice (an Action without a command: entry._said keeps commands only).
def test_failed_session_start_leaves_no_draft_and_says_what_to_do(bench: Path) -> None:
    payload = {"session_id": "s1", "cwd": str(bench)}
    res = subprocess.run(
        [sys.executable, "-m", "gitbench", "hook", "claude-code", "SessionStart"],
        cwd=bench,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "GITBENCH_WORKTREES": str(bench / "wt")},
    )
    assert "GITBENCH_WORKTREES" in res.stdout or "[job] worktrees" in res.stdout, res.stdout
    assert _drafts(bench) == [], _drafts(bench)


# 14. The agent publishes by itself: `gitbench publish` in its Bash (its worktree as cwd, the GITBENCH_* variables
#     the SessionStart hook exported through CLAUDE_ENV_FILE) is not denied by the PreToolUse guard, and the CLI
#     does not refuse it either: Published moves without the user (DESIGN §4: only with the user's approval).
def test_agent_shell_may_not_publish(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "x.txt").write_text("x\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    res = _hook(
        bench,
        "PreToolUse",
        {**payload, "cwd": str(tree), "tool_name": "Bash", "tool_input": {"command": "gitbench publish"}},
    )
    label = _drafts(bench)[0].rsplit("/", 1)[-1]
    env = {"GITBENCH_JOB": label, "GITBENCH_DRAFT": _drafts(bench)[0], "GITBENCH_WORKTREE": str(tree)}
    before = git(bench, "rev-parse", "main")
    if not _denied(res):
        gitbench(tree, "publish", env=env)
    assert git(bench, "rev-parse", "main") == before, "the agent's shell published"


# From a new user's trial: `gitbench exec --on-draft publish` (or discard), and `ask` likewise, run from an agent's
# shell published (or discarded) another, idle Draft: only `gitbench publish` and `discard` refused it.
@pytest.mark.parametrize(
    "how",
    [
        ("exec", "--on-draft", "publish", "--", "true"),
        ("exec", "--on-draft", "discard", "--", "true"),
        ("ask", "--on-draft", "discard", "Say hi", "--model", "command:true"),
        ("workflow", "run", "--on-draft", "publish"),
    ],
)
def test_agent_shell_may_not_publish_or_discard_through_on_draft(bench: Path, how: tuple[str, ...]) -> None:
    assert gitbench(bench, "exec", "--", "sh", "-c", "echo idle > idle.txt").returncode == 0
    (idle,) = _drafts(bench)
    head, main = git(bench, "rev-parse", idle), git(bench, "rev-parse", "main")
    env = {"GITBENCH_JOB": "20261204-000000-abcd", "GITBENCH_DRAFT": "refs/heads/gitbench/draft/20261204-000000-abcd"}
    res = (
        gitbench(bench, *how, "--json", env=env)
        if how[0] == "workflow"
        else gitbench(bench, how[0], "--json", *how[1:], env=env)
    )
    err = json.loads(res.stdout)["error"]
    assert res.returncode == 17 and err["code"] == "approval-required", res.stdout
    assert err["actions"][0]["command"] == f"gitbench {how[how.index('--on-draft') + 1]}"
    assert _drafts(bench) == [idle] and git(bench, "rev-parse", idle) == head
    assert git(bench, "rev-parse", "main") == main


# From a new user's trial: the agent ran `gitbench agent uninstall claude-code` in its shell, and took out the hooks
# that keep its sessions out of the user's checkout (the next session was not guarded at all).
def test_agent_shell_may_not_uninstall_the_hooks(bench: Path) -> None:
    assert gitbench(bench, "agent", "install", "claude-code").returncode == 0
    settings = bench / ".claude" / "settings.local.json"
    before = settings.read_text()
    env = {"GITBENCH_JOB": "20261204-000000-abcd", "GITBENCH_DRAFT": "refs/heads/gitbench/draft/20261204-000000-abcd"}
    res = gitbench(bench, "agent", "uninstall", "claude-code", "--json", env=env)
    err = json.loads(res.stdout)["error"]
    assert res.returncode == 17 and err["code"] == "approval-required", res.stdout
    assert err["actions"][0]["command"] == "gitbench agent uninstall claude-code"
    assert settings.read_text() == before
    assert gitbench(bench, "agent", "uninstall", "claude-code").returncode == 0  # the user may


# From a new user's trial: after the session ended (its agent lives on: /clear), the Draft is free to publish.
def test_a_session_that_ended_does_not_hold_its_draft(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "t.txt").write_text("t\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    assert gitbench(bench, "publish", "--json").returncode == 8  # the agent (this test) runs: busy
    assert _hook(bench, "SessionEnd", payload).returncode == 0
    res = gitbench(bench, "publish", "--json")
    assert res.returncode == 0, res.stdout


# A session whose Draft was published goes on in a new Draft at its next prompt, still guarded meanwhile.
def test_a_session_whose_draft_was_published_gets_a_new_one_at_its_next_prompt(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "t.txt").write_text("t\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    assert _hook(bench, "SessionEnd", payload).returncode == 0
    assert gitbench(bench, "publish").returncode == 0 and _drafts(bench) == []
    write = {**payload, "tool_name": "Write", "tool_input": {"file_path": str(bench / "app.py")}}
    assert _denied(_hook(bench, "PreToolUse", write))  # still no edits in the checkout
    res = _hook(bench, "SessionStart", {**payload, "source": "resume"})
    assert res.returncode == 0 and "works in its own Draft" in res.stdout
    (draft,) = _drafts(bench)
    tree2 = Path(
        json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"].split("Its worktree is ")[1].split(":")[0]
    )
    assert tree2 != tree and tree2.is_dir()
    res = _hook(bench, "UserPromptSubmit", {**payload, "prompt": "more"})
    assert res.returncode == 0 and _drafts(bench) == [draft]


def test_agent_run_of_a_program_that_is_not_there_makes_nothing(bench: Path) -> None:
    tags = git(bench, "tag", "-l")
    res = gitbench(bench, "agent", "run", "--json", "no-such-agent-xyz", "--flag")
    assert res.returncode == 2 and "'no-such-agent-xyz' was not found" in json.loads(res.stdout)["error"]["message"]
    assert _drafts(bench) == [] and git(bench, "tag", "-l") == tags


def test_the_next_prompt_after_a_publish_starts_a_new_draft_and_tells_the_agent(bench: Path) -> None:
    payload, tree = _session(bench)
    (tree / "t.txt").write_text("t\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    assert _hook(bench, "SessionEnd", payload).returncode == 0
    assert gitbench(bench, "publish").returncode == 0
    res = _hook(bench, "UserPromptSubmit", {**payload, "prompt": "and now this"})
    context = json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "no longer open" in context and "works in its own Draft" in context
    (draft,) = _drafts(bench)
    chat = git(bench, "show", f"refs/gitbench/records:jobs/{draft.rsplit('/', 1)[1]}.json")
    assert json.loads(chat)["status"] == "session"


def test_a_turn_that_ends_after_its_draft_was_published_says_the_next_prompt_gets_a_new_one(bench: Path) -> None:
    """The agent published its Draft through gitbench mcp, or the user did from another terminal: the turn's end
    says what the session does next, which is a new Draft at its next prompt (it said "Start a new session for a new
    Draft", which the user need not do)."""
    payload, tree = _session(bench)
    (tree / "t.txt").write_text("t\n")
    assert _hook(bench, "Stop", payload).returncode == 0
    assert _hook(bench, "SessionEnd", payload).returncode == 0
    assert gitbench(bench, "publish").returncode == 0
    said = json.loads(_hook(bench, "Stop", payload).stdout)["systemMessage"]
    assert "was published" in said and "next prompt gets a new Draft" in said, said
    assert "Start a new session" not in said


def test_git_in_another_sessions_worktree_is_refused(bench: Path) -> None:
    a, _tree_a = _session(bench, "A")
    _b, tree_b = _session(bench, "B")
    cmd = f"cd {tree_b} && git reset --hard HEAD"
    res = _hook(bench, "PreToolUse", {**a, "tool_name": "Bash", "tool_input": {"command": cmd}})
    assert _denied(res)


# A session known only by its folder (Claude Code's --worktree made it under another session id) that ends with no
# changes: its Draft is gone, and so must be the file that tied the folder to it, or a later session started in a
# folder of that name would be taken for it.
def test_a_session_found_by_its_folder_is_forgotten_when_it_ends_with_no_changes(bench: Path) -> None:
    made = {"session_id": "maker", "cwd": str(bench), "hook_event_name": "WorktreeCreate", "name": "feature-y"}
    res = _hook(bench, "WorktreeCreate", made)
    assert res.returncode == 0, res.stderr
    folder = Path(res.stdout.strip())
    sessions = Path(git(bench, "rev-parse", "--absolute-git-dir").strip()) / "gitbench" / "sessions"
    assert len(list(sessions.iterdir())) == 1
    payload = {"session_id": "other", "cwd": str(folder)}
    assert _hook(folder, "SessionStart", {**payload, "source": "startup"}).returncode == 0
    assert _hook(folder, "SessionEnd", payload).returncode == 0
    assert _drafts(bench) == []  # nothing was changed: no Draft kept
    assert list(sessions.iterdir()) == []


def test_a_session_started_in_an_exec_jobs_draft_worktree_is_told_its_edits_would_not_be_recorded(
    bench: Path,
) -> None:
    # The folder `gitbench status` names for a Draft an exec job left: no session records it, so the agent and
    # the user are told where to start instead (before, nothing was said: the edits became none of its steps,
    # review did not show them, and a publish set them aside).
    res = gitbench(bench, "exec", "--json", "--", sys.executable, "-c", "open('new.txt', 'w').write('x')")
    assert res.returncode == 0, res.stderr
    tree = Path(json.loads(gitbench(bench, "status", "--json").stdout)["result"]["draft"]["worktree"])
    label = _drafts(bench)[0][len(DRAFTS) :]
    out = _hook(tree, "SessionStart", {"session_id": "s9", "cwd": str(tree)})
    assert out.returncode == 0, out.stderr
    said = json.loads(out.stdout)
    context = said["hookSpecificOutput"]["additionalContext"]
    assert f"the worktree of the Draft {label}, which no agent session records" in context
    assert f"start the agent in the project folder, {bench}" in context
    assert said["systemMessage"] == context  # the user sees it too
    assert _drafts(bench) == [DRAFTS + label]  # no Draft made, none changed
    # The user's own worktree of another branch is still none of gitbench's business.
    other = bench.parent / "other"
    git(bench, "worktree", "add", "-q", "-b", "mine", str(other))
    assert _hook(other, "SessionStart", {"session_id": "s10", "cwd": str(other)}).stdout.strip() == ""
