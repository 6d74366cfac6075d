"""Real agents as gitbench jobs (issue 11, "Real agents in the suite"): aider, Claude Code and codex, each run
through gitbench's real entry point (``gitbench exec -- <agent>``, and aider also as ``gitbench ask --model
command:...``) with their default safety settings, against the scripted model server on 127.0.0.1
(tests/agent_server.py, tests/agents.py).

For each: the job exits 0; the scripted edit is in the Draft; the user's folder and ``.git`` are byte-for-byte as
they were (every file hashed, modes and symlinks included; only what gitbench and Git change for a job is left
out, see ``GIT_OWN``); aider's own commit and message are on the Draft with gitbench's trailers; the trailers name
the agent and the model it was told; strace, following gitbench and everything it starts (``-f``), sees no traffic
off this machine. Then ``gitbench publish``: main has the edit (and aider's message), the user's file is edited,
the Draft's worktree folder is gone, and DESIGN.md's invariants hold. And aider with ``--files app.py``: its commit
also holds a file outside the scope, which is taken out of it without touching the user's index.

A missing agent fails the test (run ``bash .ci/install-agents``); it is never skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent_server import AgentServer
from tests.agents import (
    COMMIT,
    MODELS,
    NOTES,
    PROMPT,
    command,
    command_model,
    outside_traffic,
    run,
    scripted_server,
    use,
)
from tests.conftest import git, gitbench, make_project
from tests.invariants import check_invariants

APP = 'def greet():\n    return "hello"\n\n\nprint(greet())\n'
EDITED = APP.replace('"hello"', '"goodbye"')
DRAFTS = "refs/heads/gitbench/draft/"

# What gitbench or Git may change in .git while a job runs, and nothing else: the objects of the job's commits,
# the refs gitbench owns (Drafts, checkpoints, its records and trash) and their reflogs (only theirs: logs/HEAD and
# logs/refs/heads/main are the user's and are compared), the linked worktree's administrative folder (Git's own,
# .git/worktrees/<id>: its HEAD, index, logs, COMMIT_EDITMSG) and gitbench's state folder (lock, running marker,
# journal, logs). .git/packed-refs is compared line by line without gitbench's refs (if refs get packed).
# Everything else (config, HEAD, index, hooks/*, info/*, description, refs/heads/main, ORIG_HEAD...) must stay
# byte-for-byte.
GIT_OWN = (
    "objects",
    "refs/heads/gitbench",
    "refs/tags/checkpoint",
    "refs/gitbench",
    "logs/refs/heads/gitbench",
    "logs/refs/tags/checkpoint",
    "logs/refs/gitbench",
    "worktrees",
    "gitbench",
)


def _git_own(rel: str) -> bool:
    return any(rel == p or rel.startswith(p + "/") for p in GIT_OWN)


def _packed_ref_lines(path: Path) -> str:
    """packed-refs without gitbench's own refs (a peeled ``^`` line goes with the ref above it)."""
    kept, keep = [], True
    for line in path.read_text(errors="surrogateescape").splitlines():
        if not line.startswith("^"):
            ref = line.split(" ", 1)[1] if not line.startswith("#") and " " in line else ""
            keep = not (ref.startswith("refs/") and _git_own(ref))
        if keep:
            kept.append(line)
    return "\n".join(kept)


def fingerprint(root: Path, skip: Callable[[str], bool]) -> dict[str, str]:
    """Every file, symlink and folder under ``root`` (not followed through symlinks): its mode and the SHA-256 of
    its bytes, or its link target. ``skip(relative path)`` leaves a path (and all below it) out."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        for name in sorted(dirs + files):
            rel = os.path.normpath(os.path.join(rel_folder, name))
            full = os.path.join(folder, name)
            if skip(rel):
                if name in dirs:
                    dirs.remove(name)
                continue
            st = os.lstat(full)
            kind = stat.S_IFMT(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link -> " + os.readlink(full)
            elif stat.S_ISDIR(st.st_mode):
                out[rel + "/"] = f"dir {stat.S_IMODE(st.st_mode):o}"
            elif stat.S_ISREG(st.st_mode):
                data = Path(full).read_bytes()
                if rel == "packed-refs" and root.name == ".git":
                    data = _packed_ref_lines(Path(full)).encode("utf-8", "surrogateescape")
                out[rel] = f"{stat.S_IMODE(st.st_mode):o} {hashlib.sha256(data).hexdigest()}"
            else:
                out[rel] = f"special {kind:o}"
    return out


def user_state(repo: Path) -> dict[str, dict[str, str]]:
    """The user's checked-out folder (tracked, untracked and ignored files alike) and its .git."""
    return {"checkout": fingerprint(repo, lambda rel: rel == ".git"), ".git": fingerprint(repo / ".git", _git_own)}


def differences(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    out = []
    for where in before:
        b, a = before[where], after[where]
        for path in sorted(set(b) | set(a)):
            if b.get(path) != a.get(path):
                out.append(f"{where}: {path}: {b.get(path, '(absent)')} -> {a.get(path, '(absent)')}")
    return out


@pytest.fixture
def server() -> Iterator[AgentServer]:
    with scripted_server() as s:
        yield s


def workbench(tmp_path: Path) -> Path:
    """A Workbench with what a real checkout has beside its tracked files: an untracked .env and an ignored log."""
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# greeter\n", ".gitignore": "*.log\n"})
    (repo / ".env").write_text("API_TOKEN=not-for-the-agent\n")
    (repo / "debug.log").write_text("the user's own log\n")
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


def trailer(repo: Path, rev: str, key: str) -> list[str]:
    out = git(repo, "log", "-1", f"--format=%(trailers:key={key},valueonly,separator=%x00)", rev)
    return [v for v in out.rstrip("\n").split("\0") if v]


def run_gitbench(
    agent: str, server: AgentServer, repo: Path, tmp_path: Path, args: list[str], code: int = 0
) -> tuple[dict[str, Any], str]:
    """Run ``gitbench <args> --json`` (the real entry point, as ``tests.conftest.gitbench`` does) under strace -f,
    which follows gitbench, the agent and everything they start. Asserts its exit status ``code``, that the agent
    was understood, that nothing left this machine and that the user's folder and .git are as they were. Returns
    gitbench's JSON answer and a context for failure messages."""
    before = user_state(repo)
    main = git(repo, "rev-parse", "main").strip()
    trace = tmp_path / "network.strace"
    res = run([sys.executable, "-m", "gitbench", *args], os.environ, cwd=repo, timeout=50, trace=trace)
    context = f"\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-4000:]}\n--- requests\n{server.summary()}"
    assert res.returncode == code, f"gitbench {args[0]} with {agent} exited {res.returncode}{context}"
    # The agent worked: every request named its model and was understood, no tool call failed.
    assert server.models == {MODELS[agent]}, server.summary()
    assert all(r.status == 200 and r.kind != "unknown" for r in server.requests), server.summary()
    assert not any(err for _, err in server.tool_results()), server.tool_results()
    # Nothing but 127.0.0.1 (and the check saw the connections it is about: it proves something).
    assert outside_traffic(trace) == [], f"the job talked to the outside world{context}"
    assert f"htons({server.url.rsplit(':', 1)[1]})" in trace.read_text(), "strace saw no connection to the server"
    # main, the user's folder and .git are as they were, byte for byte.
    assert git(repo, "rev-parse", "main").strip() == main
    assert differences(before, user_state(repo)) == [], context
    answer: dict[str, Any] = json.loads(res.stdout)
    return answer, context


def run_job(
    agent: str, server: AgentServer, repo: Path, tmp_path: Path, args: list[str]
) -> tuple[dict[str, Any], str, str]:
    """``run_gitbench`` for a job that succeeds, and what every such agent job must show; returns the job record,
    the Draft's ref and its worktree's folder."""
    answer, context = run_gitbench(agent, server, repo, tmp_path, args)
    job: dict[str, Any] = answer["result"]["job"]
    assert job["status"] == "complete" and job["exit_code"] == 0, context
    # The edit is in the Draft (and only there: see run_gitbench).
    drafts = git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split()
    assert drafts == [job["draft"]], drafts
    draft: str = job["draft"]
    assert git(repo, "show", f"{draft}:app.py") == EDITED, context
    assert git(repo, "show", f"{draft}:notes.txt") == NOTES, context
    assert git(repo, "diff", "--name-only", "main", draft).split() == ["app.py", "notes.txt"]
    folder = worktree_of(repo, draft)
    assert folder == job["worktree"]
    # Whatever the agent left in it (its history and caches) is ignored by Git, not work lost at publish.
    assert git(Path(folder), "status", "--porcelain").strip() == "", git(Path(folder), "status")
    # The trailers name the agent and the model it was told (its --model flag).
    model = told(agent)
    assert (job["agent"], job["agent_model"]) == (agent, model)
    steps = git(repo, "rev-list", f"main..{draft}").split()
    assert steps, "no step on the Draft"
    for step in steps:
        assert trailer(repo, step, "Gitbench-Agent") == [agent], git(repo, "log", "-1", step)
        assert trailer(repo, step, "Gitbench-Model") == [f"{agent}:{model}"], git(repo, "log", "-1", step)
        assert trailer(repo, step, "Gitbench-Job") == [job["id"]], git(repo, "log", "-1", step)
        # ...and Assisted-by says it the kernel's way, AGENT:MODEL (Claude Code is the program `claude`).
        name = "claude-code" if agent == "claude" else agent
        assert trailer(repo, step, "Assisted-by") == [f"{name}:{model}"], git(repo, "log", "-1", step)
    return job, draft, folder


def told(agent: str) -> str:
    """The model an agent is told on its command line (tests/agents.command), as it names it."""
    return f"openai/{MODELS['aider']}" if agent == "aider" else MODELS[agent]


def worktree_of(repo: Path, draft: str) -> str:
    """The Draft's worktree: a real linked worktree of the Draft branch, under the state folder of this (sealed)
    HOME, outside the repository and its .git. Returns its folder."""
    listed = [w for w in git(repo, "worktree", "list", "--porcelain").split("\n\n") if f"branch {draft}\n" in w + "\n"]
    assert len(listed) == 1, git(repo, "worktree", "list", "--porcelain")
    folder = listed[0].split("\n", 1)[0].removeprefix("worktree ")
    assert Path(folder).resolve().is_relative_to(Path(os.environ["HOME"], ".local", "state", "gitbench").resolve())
    assert not Path(folder).resolve().is_relative_to(repo.resolve())
    return folder


def publish(repo: Path, draft: str, folder: str) -> str:
    """``gitbench publish``: main fast-forwards to the Draft, the user's file is edited, the worktree is gone."""
    head = git(repo, "rev-parse", draft).strip()
    res = gitbench(repo, "publish")
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(repo, "rev-parse", "main").strip() == head
    assert (repo / "app.py").read_text() == EDITED
    assert (repo / "notes.txt").read_text() == NOTES
    assert git(repo, "for-each-ref", DRAFTS).strip() == ""
    assert not os.path.lexists(folder), f"the Draft's worktree {folder} is still there"
    assert folder not in git(repo, "worktree", "list", "--porcelain")
    # Nothing was in the worktree that the Draft did not hold (publish would have kept it as leftovers).
    assert git(repo, "for-each-ref", "refs/gitbench/leftovers/").strip() == "", res.stdout
    # The user's own files beside the tracked ones are still theirs.
    assert (repo / ".env").read_text() == "API_TOKEN=not-for-the-agent\n"
    assert (repo / "debug.log").read_text() == "the user's own log\n"
    check_invariants(repo)
    return head


def assert_aider_commit(repo: Path, rev: str, job: dict[str, Any], step: str) -> None:
    """aider's own commit, kept: its message, its author (the user's, aider's default), its Co-authored-by
    trailer, and gitbench's audit trailers after it."""
    assert git(repo, "log", "-1", "--format=%s", rev).strip() == COMMIT
    assert git(repo, "log", "-1", "--format=%an <%ae>", rev).strip() == "Test Author <author@example.invalid>"
    keys = [
        line.split(":", 1)[0] for line in git(repo, "log", "-1", "--format=%(trailers:only)", rev).splitlines() if line
    ]
    assert keys == [
        "Co-authored-by",
        "Gitbench-Job",
        "Gitbench-Step",
        "Gitbench-Model",
        "Gitbench-Agent",
        "Gitbench-Files",
        "Gitbench-Checkpoint",
        "Gitbench-Attempts",
        "Gitbench-Status",
        "Assisted-by",
    ], keys
    assert trailer(repo, rev, "Assisted-by") == [f"aider:openai/{MODELS['aider']}"]
    assert trailer(repo, rev, "Co-authored-by") == [f"aider (openai/{MODELS['aider']}) <aider@aider.chat>"]
    assert trailer(repo, rev, "Gitbench-Step") == [f"1/1 {step}"]
    assert trailer(repo, rev, "Gitbench-Files") == ["app.py, notes.txt"]
    assert trailer(repo, rev, "Gitbench-Checkpoint") == [job["checkpoint"]]
    assert trailer(repo, rev, "Gitbench-Status") == ["complete"]


def test_aider_exec_keeps_its_commit(server: AgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gitbench exec -- aider ...`` (git and auto-commits on): aider commits in the Draft's worktree; that commit,
    with its message, is the Draft's one step, and after publish it is on main."""
    use(monkeypatch, "aider", server)
    repo = workbench(tmp_path)
    job, draft, folder = run_job("aider", server, repo, tmp_path, ["exec", "--json", "--", *command("aider", PROMPT)])
    assert [r.kind for r in server.requests] == ["openai-chat/edit", "openai-chat/commit-message"], server.summary()
    # One step: aider's own commit (nothing was left uncommitted for a gitbench step).
    assert git(repo, "rev-list", "--count", f"main..{draft}").strip() == "1"
    assert_aider_commit(repo, draft, job, "commit")
    head = publish(repo, draft, folder)
    assert git(repo, "log", "--format=%s", "main").splitlines() == [COMMIT, "initial"]
    assert_aider_commit(repo, "main", job, "commit")
    assert head == git(repo, "rev-parse", "main").strip()


def test_aider_as_a_command_model(server: AgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gitbench ask --model command:aider ...``: the same, through ask (the prompt goes where ``{prompt}`` is)."""
    use(monkeypatch, "aider", server)
    repo = workbench(tmp_path)
    job, draft, folder = run_job(
        "aider", server, repo, tmp_path, ["ask", PROMPT, "--model", command_model("aider"), "--json"]
    )
    assert job["kind"] == "ask" and job["model"] == "command:" + str(command("aider", "")[0])
    edit = server.of_kind("openai-chat/edit")
    assert len(edit) == 1 and PROMPT in json.dumps(edit[0].body), server.summary()
    assert git(repo, "rev-list", "--count", f"main..{draft}").strip() == "1"
    assert_aider_commit(repo, draft, job, "commit")
    publish(repo, draft, folder)
    assert git(repo, "log", "--format=%s", "main").splitlines() == [COMMIT, "initial"]
    assert_aider_commit(repo, "main", job, "commit")


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_agent_exec_edits_become_a_step(
    agent: str, server: AgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gitbench exec -- claude -p ... --permission-mode acceptEdits`` and ``gitbench exec -- codex exec --sandbox
    workspace-write ...``: they edit the Draft's worktree and commit nothing; what they left is one gitbench step."""
    use(monkeypatch, agent, server)
    repo = workbench(tmp_path)
    job, draft, folder = run_job(agent, server, repo, tmp_path, ["exec", "--json", "--", *command(agent, PROMPT)])
    if agent == "claude":  # it read and edited the files in the worktree, not in the user's folder
        main = server.of_kind("anthropic/main")
        paths = [b["input"]["file_path"] for r in main for b in json.loads(r.answer) if b["type"] == "tool_use"]
        assert paths == [f"{folder}/app.py", f"{folder}/app.py", f"{folder}/notes.txt"], server.summary()
    assert git(repo, "rev-list", "--count", f"main..{draft}").strip() == "1"
    assert trailer(repo, draft, "Gitbench-Step") == ["1/1 exec"]
    assert trailer(repo, draft, "Gitbench-Files") == ["app.py, notes.txt"]
    assert git(repo, "log", "-1", "--format=%s", draft).startswith("exec: ")
    publish(repo, draft, folder)
    assert git(repo, "rev-list", "--count", "main").strip() == "2"


def test_aider_commit_outside_the_scope_is_taken_out(
    server: AgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gitbench exec --files app.py -- aider ...``: aider commits app.py and notes.txt together, but only app.py is
    the job's to change. aider's commit is kept with its message and without notes.txt (left in the worktree), the
    job fails as a scope violation (exit 11), and the user's folder and .git (its index included) are untouched.
    Publishing the partial work puts aider's commit on main; notes.txt, which the worktree still held, is kept
    under refs/gitbench/leftovers/."""
    use(monkeypatch, "aider", server)
    repo = workbench(tmp_path)
    answer, context = run_gitbench(
        "aider",
        server,
        repo,
        tmp_path,
        ["exec", "--json", "--files", "app.py", "--", *command("aider", PROMPT)],
        code=11,
    )
    error = answer["error"]
    assert error["code"] == "scope-violation", context
    report = error["details"]["report"]
    assert [r["path"] for r in report["refused"]] == ["notes.txt"], report["refused"]
    draft = error["details"]["draft"]
    assert git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split() == [draft]
    # aider's commit, kept with its message and trailers, without what the job could not change.
    assert git(repo, "rev-list", "--count", f"main..{draft}").strip() == "1"
    assert git(repo, "log", "-1", "--format=%s", draft).strip() == COMMIT
    assert git(repo, "ls-tree", "-r", "--name-only", draft).split() == [".gitignore", "README.md", "app.py"]
    assert git(repo, "show", f"{draft}:app.py") == EDITED
    assert trailer(repo, draft, "Co-authored-by") == [f"aider (openai/{MODELS['aider']}) <aider@aider.chat>"]
    assert trailer(repo, draft, "Gitbench-Files") == ["app.py"]
    assert trailer(repo, draft, "Gitbench-Agent") == ["aider"]
    assert trailer(repo, draft, "Gitbench-Model") == [f"aider:{told('aider')}"]
    assert trailer(repo, draft, "Gitbench-Job") == [report["job"]]
    # notes.txt is left in the worktree for the user to look at, not in the Draft.
    folder = worktree_of(repo, draft)
    assert Path(folder, "notes.txt").read_text() == NOTES
    assert git(Path(folder), "status", "--porcelain").splitlines() == ["?? notes.txt"]
    res = gitbench(repo, "publish")
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(repo, "log", "--format=%s", "main").splitlines() == [COMMIT, "initial"]
    assert (repo / "app.py").read_text() == EDITED and not (repo / "notes.txt").exists()
    assert not os.path.lexists(folder), f"the Draft's worktree {folder} is still there"
    leftovers = git(repo, "for-each-ref", "--format=%(refname)", "refs/gitbench/leftovers/").split()
    assert len(leftovers) == 1 and git(repo, "show", f"{leftovers[0]}:notes.txt") == NOTES, res.stdout
    check_invariants(repo)


def test_fingerprint_sees_what_a_job_must_not_change(tmp_path: Path) -> None:
    """The check above proves something: a change to any file it watches (a hook, the config, the index, the
    user's untracked file, a mode) shows; what gitbench owns in .git does not."""
    repo = workbench(tmp_path)
    before = user_state(repo)
    assert "config" in before[".git"] and "index" in before[".git"] and "info/exclude" in before[".git"]
    assert "hooks/reference-transaction" in before[".git"] and "HEAD" in before[".git"]
    assert ".env" in before["checkout"] and "debug.log" in before["checkout"]
    assert not any(_git_own(p.rstrip("/")) for p in before[".git"])
    (repo / ".git" / "gitbench" / "anything").write_text("gitbench's own\n")
    git(repo, "update-ref", "refs/heads/gitbench/draft/x", "main")
    assert differences(before, user_state(repo)) == []
    with (repo / ".git" / "config").open("a") as fh:
        fh.write("[alias]\n\tst = status\n")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.chmod(0o644)
    (repo / ".env").write_text("changed\n")
    subprocess.run(["git", "update-index", "--chmod=+x", "app.py"], cwd=repo, check=True)
    changed = {line.split(":", 2)[1].strip() for line in differences(before, user_state(repo))}
    assert changed == {"config", "hooks/pre-commit", ".env", "index"}, changed
