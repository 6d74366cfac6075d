"""Codex with the hooks of `gitbench agent install codex`, run as a user runs it: `codex exec` in the checkout, then
`codex exec resume --last` twice (the same session, three turns), the real codex 0.171.0 against the scripted
model server on 127.0.0.1 (tests/agent_server.py, tests/agents.py).

What a user does once, besides `gitbench agent install codex`, is done here the way they do it: the project is
trusted (codex asks at its first start in a folder; its answer is the ``[projects]`` entry of config.toml), and the
new hooks are trusted in codex's ``/hooks`` (codex runs an untrusted hook never, and silently). ``/hooks`` is a TUI
screen; it asks codex's app-server for ``hooks/list`` and writes the trust with ``config/batchWrite``, and so does
``trust_hooks`` here, through the same app-server of the same binary.

The proof: the session lands in its own Draft (one, through the resumes); one step per turn that changed
something, with the audit trailers, ``Gitbench-Agent: codex`` and ``Gitbench-Model: codex:<model>``; the patch
aimed at the user's checkout is denied by the PreToolUse hook (codex gets our reason) and exists nowhere; the
user's folder and .git are byte for byte as before; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.agent_server import AgentServer, create, replace
from tests.agents import MODELS, binary, command, environment, outside_traffic, run
from tests.conftest import git, gitbench, make_project
from tests.invariants import assert_same, check_invariants, fingerprint

APP = 'def greet():\n    return "hello"\n'
DRAFTS = "refs/heads/gitbench/draft/"


def _trailers(repo: Path, commit: str) -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def trust_project(env: dict[str, str], repo: Path) -> None:
    """What codex saves when the user trusts a folder at its first start there."""
    config = Path(env["CODEX_HOME"]) / "config.toml"
    config.write_text(config.read_text() + f'\n[projects."{repo}"]\ntrust_level = "trusted"\n')


def trust_hooks(env: dict[str, str], repo: Path) -> list[dict[str, Any]]:
    """Trust every hook codex lists for ``repo``, as ``/hooks`` does: app-server ``hooks/list``, then
    ``config/batchWrite`` of each hook's ``currentHash``. Returns the hooks listed."""
    proc = subprocess.Popen(
        [str(binary("codex")), "app-server"],
        cwd=repo,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def call(rid: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n")
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            assert line, f"codex app-server ended before answering {method}"
            msg = json.loads(line)
            if msg.get("id") == rid:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg["result"]
                return result

    try:
        call(1, "initialize", {"clientInfo": {"name": "gitbench-tests", "version": "1"}})
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "initialized"}) + "\n")
        proc.stdin.flush()
        listed = [h for entry in call(2, "hooks/list", {"cwds": [str(repo)]})["data"] for h in entry["hooks"]]
        edits = [
            {
                "keyPath": f"hooks.state.{json.dumps(h['key'])}.trusted_hash",
                "value": h["currentHash"],
                "mergeStrategy": "upsert",
            }
            for h in listed
        ]
        call(3, "config/batchWrite", {"edits": edits})
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return listed


def on_terminal(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal of its own (its controlling terminal, as in a user's shell); return its
    exit status and everything written to the terminal."""
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # after setsid (start_new_session): the slave becomes the session's tty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            pytest.fail(f"{argv[0]} did not finish in {timeout:.0f} s: {b''.join(chunks)[-3000:]!r}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r", "")


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


def test_codex_with_installed_hooks_lands_each_turn_as_a_step(bench: Path, tmp_path: Path) -> None:
    evil = bench / "evil.txt"
    with AgentServer() as server:
        env = environment("codex", server)
        trust_project(env, bench)
        res = gitbench(bench, "agent", "install", "codex", env=env)
        assert res.returncode == 0, res.stderr
        assert (bench / ".codex" / "hooks.json").exists()
        assert "/hooks" in res.stdout  # how to trust them
        # The Draft worktrees are a writable root of codex's sandbox (its user config.toml, kept as it was).
        config = (Path(env["CODEX_HOME"]) / "config.toml").read_text()
        assert "[sandbox_workspace_write]\nwritable_roots = [" in config and "gitbench/worktrees/project-" in config
        assert config.startswith('model = "codex-test-model"\nmodel_provider = "agent_server"\n')
        listed = trust_hooks(env, bench)
        assert sorted({h["eventName"] for h in listed}) == [
            "preToolUse",
            "sessionEnd",
            "sessionStart",
            "stop",
            "userPromptSubmit",
        ]
        before = fingerprint(bench)
        # /tmp (where this test's worktrees are) is off the sandbox's writable roots, as on a user's machine: codex
        # may then write in the Draft's worktree only because install made it a writable root.
        no_tmp = ["-c", "sandbox_workspace_write.exclude_slash_tmp=true"]
        no_tmp += ["-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]
        codex = command("codex", "Make greet() say goodbye")
        codex = [*codex[:2], *no_tmp, *codex[2:]]
        resume = [*codex[:-1], "resume", "--last"]  # codex exec OPTIONS resume --last PROMPT

        server.script(replace("app.py", '"hello"', '"goodbye"'), say="Changed greet().")
        first = run(codex, env, bench, 180, tmp_path / "net.strace")
        assert first.returncode == 0, first.stdout + first.stderr

        server.script(create(str(evil), "written into the user's checkout\n"), say="Tried the checkout.")
        second = run([*resume, "Write evil.txt in the checkout"], env, bench, 180)
        assert second.returncode == 0, second.stdout + second.stderr
        results = server.tool_results()

        server.script(create("notes.txt", "notes\n"), say="Wrote the notes.")
        third, screen = on_terminal([*resume, "Now write notes.txt"], env, bench, 180)
        assert third == 0, screen
    assert outside_traffic(tmp_path / "net.strace") == []
    denied = [text for text, _ in results if "user's checkout" in text]
    assert denied and "evil.txt" in denied[0] and "Draft worktree" in denied[0], results
    assert not evil.exists()
    assert_same(before, fingerprint(bench), "the user's folder and .git")

    drafts = git(bench, "for-each-ref", "--format=%(refname)", DRAFTS).split()
    assert len(drafts) == 1, drafts
    steps = git(bench, "rev-list", "--reverse", f"main..{drafts[0]}").split()
    assert len(steps) == 2, "one step per turn that changed something"
    assert git(bench, "show", f"{steps[0]}:app.py") == APP.replace('"hello"', '"goodbye"')
    assert git(bench, "diff", "--name-only", steps[0], steps[1]).split() == ["notes.txt"]
    first_step = _trailers(bench, steps[0])
    for step in steps:
        tr = _trailers(bench, step)
        assert tr["Gitbench-Agent"] == "codex"
        assert tr["Gitbench-Model"] == f"codex:{MODELS['codex']}"
        assert tr["Gitbench-Checkpoint"].startswith("checkpoint/")
        assert tr["Gitbench-Job"] == first_step["Gitbench-Job"]
        assert tr["Assisted-by"] == f"codex:{MODELS['codex']}"
    job = json.loads(git(bench, "show", f"refs/gitbench/records:jobs/{first_step['Gitbench-Job']}.json"))
    assert job["status"] == "complete" and job["steps_completed"] == 2, job
    assert job["agent"] == "codex" and job["agent_model"] == MODELS["codex"]
    chat = git(bench, "show", f"refs/gitbench/records:chat/{job['conversation']}.jsonl")
    assert "Make greet() say goodbye" in chat and "Now write notes.txt" in chat

    # The review is shown at the end of the run: codex shows nothing a SessionEnd hook says, so gitbench writes it
    # to the terminal codex runs on.
    label = drafts[0][len(DRAFTS) :]
    assert f"the session's Draft {label} holds 2 step(s)" in screen, screen[-3000:]
    assert f"gitbench review --draft {label}" in screen

    res = gitbench(bench, "publish")
    assert res.returncode == 0, res.stderr + _sessions_agents(bench)
    assert (bench / "app.py").read_text() == APP.replace('"hello"', '"goodbye"')
    assert (bench / "notes.txt").read_text() == "notes\n"
    check_invariants(bench)

    res = gitbench(bench, "agent", "uninstall", "codex", env=env)
    assert res.returncode == 0, res.stderr
    assert not (bench / ".codex" / "hooks.json").exists()
    assert "sandbox_workspace_write" not in (Path(env["CODEX_HOME"]) / "config.toml").read_text()


class Screen:
    """A full-screen program on a pseudo-terminal of its own (200 x 50), as in a user's terminal; what it drew is
    compared without escape sequences and without white space (a TUI redraws in pieces)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        full = {k: v for k, v in env.items() if k != "NO_COLOR"}
        full["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.raw = b""

    @property
    def flat(self) -> str:
        text = re.sub(
            r"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]",
            "",
            self.raw.decode("utf-8", "replace"),
        )
        return re.sub(r"\s+", "", text)

    def pump(self, seconds: float, until: str | None = None) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return False
                self.raw += data
                if b"\x1b[6n" in data:  # where is the cursor: a terminal answers
                    os.write(self.master, b"\x1b[1;1R")
                if b"\x1b[c" in data:  # which terminal: a VT220-like one
                    os.write(self.master, b"\x1b[?62;22c")
            if until is not None and until.replace(" ", "") in self.flat:
                return True
        return until is None

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        # the rest of its group (codex's native binary under its node launcher) is dying too: wait until it has,
        # so a publish right after does not find the agent's session still running
        deadline = time.monotonic() + 10
        while _group_running(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.close(self.master)


def stop_processes_under(folder: Path) -> None:
    """Kill every process whose program lies under ``folder`` (a folder this test made)."""
    prefix = str(folder) + os.sep
    killed: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                program = fh.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if program.startswith(prefix):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(int(entry))
    # A kill is delivered, not done: wait until each is gone (or a zombie), so what the test does next (a publish
    # that asks whether the agent's session still runs) does not see it alive.
    deadline = time.monotonic() + 10
    while killed and time.monotonic() < deadline:
        killed = [pid for pid in killed if _running(pid)]
        if killed:
            time.sleep(0.02)


def stop_session_agents(bench: Path) -> None:
    """Stop the codex process each of the Workbench's agent sessions names (the one that ran its hooks: after
    /quit, codex's app-server, wherever codex started it from), as a user would with the offered `kill PID`; and
    wait until it is gone. Only a codex process: never another one that took the pid."""
    killed: list[int] = []
    for path in (bench / ".git" / "gitbench" / "sessions").glob("*.json"):
        pid = json.loads(path.read_text()).get("agent_pid")
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"codex" not in fh.read():
                    continue
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, TypeError, ValueError):
            continue
        killed.append(int(pid))
    deadline = time.monotonic() + 10
    while killed and time.monotonic() < deadline:
        killed = [pid for pid in killed if _running(pid)]
        if killed:
            time.sleep(0.02)


def _sessions_agents(bench: Path) -> str:
    """For a failure's message: each agent session's named process as /proc has it now (its command line, state and
    parent), to tell codex from a process that is not codex's (a hook's adopter, say)."""
    out = []
    for path in (bench / ".git" / "gitbench" / "sessions").glob("*.json"):
        pid = json.loads(path.read_text()).get("agent_pid")
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat", "rb") as fh:
                state, ppid = fh.read().rsplit(b")", 1)[1].split()[:2]
            out.append(f"\nsession {path.stem}: pid {pid} [{state.decode()}] parent {ppid.decode()}: {cmd[:300]}")
        except (OSError, ValueError, TypeError) as exc:
            out.append(f"\nsession {path.stem}: pid {pid}: {exc}")
    return "".join(out)


def _group_running(pgid: int) -> bool:
    """Is a process of group ``pgid`` still running (zombies aside)?"""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def test_the_codex_tui_shows_each_turns_step(bench: Path) -> None:
    """`codex` itself, interactive, in the checkout: the prompt typed, the edit in the Draft's worktree, and the
    Stop hook's step shown in codex's own screen (`↳ Hook · gitbench: step 1 on Draft ...`)."""
    with AgentServer() as server:
        env = environment("codex", server)
        trust_project(env, bench)
        assert gitbench(bench, "agent", "install", "codex", env=env).returncode == 0
        trust_hooks(env, bench)
        before = fingerprint(bench)
        server.script(replace("app.py", '"hello"', '"goodbye"'), say="Changed greet().")
        screen = Screen([str(binary("codex")), "--model", MODELS["codex"]], env, bench)
        try:
            # codex asks the terminal a few things before it draws; its prompt box drawn, it reads keys.
            assert screen.pump(60, until="Ask Codex to do anything"), screen.flat[-3000:]
            screen.type("Make greet() say goodbye")
            assert screen.pump(30, until="› Make greet() say goodbye"), screen.flat[-3000:]
            screen.pump(1)  # keys that come together are a paste to codex, where Enter is a new line: a pause
            screen.type("\r")
            assert screen.pump(90, until="gitbench: step 1 on Draft"), screen.flat[-3000:]
            screen.type("/quit")
            screen.pump(1)
            screen.type("\r")
            deadline = time.monotonic() + 3
            while screen.proc.poll() is None and time.monotonic() < deadline:  # what it draws as it ends
                screen.pump(0.2)
        finally:
            screen.close()
            # The TUI started codex's app-server daemon from this test's CODEX_HOME, in sessions of their own
            # (outside the TUI's process group): they go too.
            stop_processes_under(Path(env["CODEX_HOME"]))
            stop_session_agents(bench)
    (draft,) = git(bench, "for-each-ref", "--format=%(refname)", DRAFTS).split()
    label = draft[len(DRAFTS) :]
    assert f"gitbench:step1onDraft{label}:1file(s)(app.py).Review:gitbenchreview--draft{label}" in screen.flat
    (step,) = git(bench, "rev-list", f"main..{draft}").split()
    assert git(bench, "show", f"{step}:app.py") == APP.replace('"hello"', '"goodbye"')
    assert _trailers(bench, step)["Gitbench-Model"] == f"codex:{MODELS['codex']}"
    assert_same(before, fingerprint(bench), "the user's folder and .git")
    # codex's /quit leaves its session to its app-server ("Any running work continues"): no SessionEnd yet. The
    # Draft and its step are there all the same; publish takes them.
    res = gitbench(bench, "publish")
    assert res.returncode == 0, res.stderr
    assert (bench / "app.py").read_text() == APP.replace('"hello"', '"goodbye"')
    check_invariants(bench)
