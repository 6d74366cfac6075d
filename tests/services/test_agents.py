"""gitbench/services/agents.py: which agent a job's command line runs and the model it uses, read the way each
agent reads it (flags, environment, its config files, then its own transcript), in-process over real files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from gitbench.services.agents import Agent, identify, transcript_model


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/local/bin/aider", "--model", "openai/gpt-4o"], Agent("aider", "openai/gpt-4o")),
        (["aider", "--sonnet"], Agent("aider", "sonnet")),
        (["npx", "-y", "@anthropic-ai/claude-code@1.0", "--model=opus"], Agent("claude", "opus")),
        (["env", "-u", "HOME", "FOO=1", "nice", "-n", "5", "codex", "-c", "model='o3'"], Agent("codex", "o3")),
        (["pipx", "run", "aider-chat", "--4o"], Agent("aider", "gpt-4o")),
        (["npm", "exec", "--", "@google/gemini-cli", "-m", "gemini-2.5-pro"], Agent("gemini", "gemini-2.5-pro")),
        (["python3.12", "-m", "aider", "--mini"], Agent("aider", "gpt-4o-mini")),
        (["python", "edit.py"], Agent("python")),
        (["node", "/opt/node_modules/@openai/codex/bin/codex.js", "-m", "gpt-5"], Agent("codex", "gpt-5")),
        (["node", "--inspect", "/srv/opencode.js", "--model", "x/y"], Agent("opencode", "x/y")),
        (["bash", "-c", "cd src && claude -p 'fix it'"], Agent("claude")),
        (["sh", "-c", "make format"], Agent("sh")),
        (["sh", "-c", "echo 'unbalanced"], Agent("sh")),  # a script shlex cannot split: the shell
        (["env"], Agent("command")),  # a launcher with nothing behind it
        (["sed", "-i", "s/a/b/", "f"], Agent("sed")),
        # A model name unfit for a trailer (spaces, a newline, too long) is left unknown, never cut down.
        (["aider", "--model", "gpt 4"], Agent("aider")),
        (["aider", "--model", "x" * 121], Agent("aider")),
        (["aider", "--model", "  "], Agent("aider")),
    ],
)
def test_the_agent_and_its_model_are_read_behind_launchers_from_its_flags(argv: list[str], expected: Agent) -> None:
    assert identify(argv, env={"HOME": "/nonexistent"}) == expected


def test_the_trailer_names_the_model_when_it_is_known() -> None:
    assert Agent("aider", "sonnet").trailer == "aider:sonnet"
    assert Agent("sed").trailer == "sed"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_each_agent_s_model_comes_from_its_environment_then_the_project_s_config_then_the_user_s(
    tmp_path: Path,
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "project"
    cwd.mkdir()
    env = {"HOME": str(home)}

    def model(argv: list[str], extra: dict[str, str] | None = None) -> str | None:
        return identify(argv, env={**env, **(extra or {})}, cwd=str(cwd)).model

    # Nothing says: unknown, never guessed.
    assert [model([a]) for a in ("aider", "claude", "codex", "gemini", "opencode")] == [None] * 5
    assert model(["aider"], {"AIDER_MODEL": "deepseek"}) == "deepseek"
    _write(home / ".aider.conf.yml", "# mine\nmodel: 'openai/gpt-4o'  # default\n")
    assert model(["aider"]) == "openai/gpt-4o"
    _write(cwd / ".aider.conf.yml", "model: sonnet\n")
    assert model(["aider"]) == "sonnet"  # the project's file first

    _write(home / ".claude" / "settings.json", json.dumps({"model": "opus"}))
    assert model(["claude"]) == "opus"
    _write(cwd / ".claude" / "settings.json", "{not json")  # a broken file is skipped, not fatal
    assert model(["claude"]) == "opus"
    _write(cwd / ".claude" / "settings.local.json", json.dumps({"model": "haiku"}))
    assert model(["claude"]) == "haiku"
    assert model(["claude"], {"ANTHROPIC_MODEL": "sonnet"}) == "sonnet"
    _write(tmp_path / "cc" / "settings.json", json.dumps({"model": "elsewhere"}))
    (cwd / ".claude" / "settings.local.json").unlink()
    assert model(["claude"], {"CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}) == "elsewhere"

    _write(home / ".codex" / "config.toml", 'model = "o4-mini"\n')
    assert model(["codex"]) == "o4-mini"
    _write(tmp_path / "ch" / "config.toml", "model = [broken\n")
    assert model(["codex"], {"CODEX_HOME": str(tmp_path / "ch")}) is None

    _write(home / ".gemini" / "settings.json", json.dumps({"model": {"name": "gemini-2.5-flash"}}))
    assert model(["gemini"]) == "gemini-2.5-flash"
    _write(cwd / ".gemini" / "settings.json", json.dumps({"model": "gemini-pro"}))
    assert model(["gemini"]) == "gemini-pro"
    assert model(["gemini"], {"GEMINI_MODEL": "g"}) == "g"

    _write(cwd / "opencode.json", json.dumps({"model": "anthropic/claude-sonnet-4-5"}))
    assert model(["opencode"]) == "anthropic/claude-sonnet-4-5"


def test_the_model_of_a_run_is_read_from_the_agent_s_own_transcript_of_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    worktree = str(tmp_path / "draft-wt")
    since = time.time()
    assert transcript_model("claude", [worktree], env, since) is None  # no transcript at all
    folder = home / ".claude" / "projects" / worktree.replace("/", "-").replace("_", "-")
    _write(
        folder / "run.jsonl",
        "\n".join(
            [
                json.dumps({"type": "user", "message": {"content": "hi"}}),
                "not json",
                json.dumps({"type": "assistant", "message": {"model": "claude-sonnet-4-5"}}),
                json.dumps({"type": "assistant", "message": {"model": "<synthetic>"}}),
                json.dumps(["a list"]),
            ]
        ),
    )
    _write(folder / "notes.txt", "not a transcript")
    assert transcript_model("claude", [worktree], env, since) == "claude-sonnet-4-5"
    # A transcript older than the run is another run's.
    os.utime(folder / "run.jsonl", (since - 60, since - 60))
    assert transcript_model("claude", [worktree], env, since) is None

    day = home / ".codex" / "sessions" / time.strftime("%Y/%m/%d", time.localtime(since))
    lines = [
        {"type": "turn_context", "payload": {"cwd": "/another/run", "model": "other"}},
        {"type": "turn_context", "payload": {"cwd": worktree, "model": "gpt-5-codex"}},
        {"type": "event", "payload": {"cwd": worktree, "model": "not-a-turn"}},
    ]
    _write(day / "rollout.jsonl", "\n".join(json.dumps(line) for line in lines))
    assert transcript_model("codex", [worktree], env, since) == "gpt-5-codex"
    assert transcript_model("aider", [worktree], env, since) is None  # aider writes no transcript we read
