"""`Assisted-by: AGENT:MODEL` on every step an AI wrote (the Linux kernel's and Fedora's convention), none on a plain
command's; `Co-authored-by` only when the user's own config asks for it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gitbench.model import JobRecord
from gitbench.services import jobs
from tests.conftest import git, gitbench
from tests.provenance import fake_claude
from tests.provider_server import ProviderServer

EDIT = "import pathlib; p = pathlib.Path('src/app.py'); p.write_text(p.read_text() + 'more\\n')"


def trailer_keys(wb: Path, rev: str) -> list[str]:
    out = git(wb, "log", "-1", "--format=%(trailers:only,unfold)", rev)
    return [line.split(":", 1)[0] for line in out.splitlines() if line]


def trailer(wb: Path, rev: str, key: str) -> list[str]:
    out = git(wb, "log", "-1", f"--format=%(trailers:key={key},valueonly,separator=%x00)", rev)
    return [v for v in out.strip("\n").split("\0") if v]


def exec_job(wb: Path, *argv: str, env: dict[str, str] | None = None) -> str:
    """A job's step commit (the Draft before is discarded)."""
    res = gitbench(wb, "exec", "--json", "--on-draft", "discard", "--", *argv, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["result"]["job"]["status"] == "complete"
    return git(wb, "rev-parse", json.loads(res.stdout)["result"]["job"]["draft"]).strip()


def user_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + text)
    return path


def test_a_plain_command_step_has_no_assisted_by_and_an_agents_step_names_agent_and_model(
    workbench: Path, tmp_path: Path
) -> None:
    plain = exec_job(workbench, sys.executable, "-c", EDIT)
    assert "Assisted-by" not in trailer_keys(workbench, plain)
    assert trailer(workbench, plain, "Gitbench-Agent") == ["python"]

    env = fake_claude(tmp_path, EDIT.replace("; ", "\n"))
    agent = exec_job(workbench, "claude", "--model", "claude-opus-4-1", "-p", "go", env=env)
    keys = trailer_keys(workbench, agent)
    assert keys[-2:] == ["Gitbench-Status", "Assisted-by"]  # after gitbench's own trailers
    assert trailer(workbench, agent, "Assisted-by") == ["claude-code:claude-opus-4-1"]
    assert "Co-authored-by" not in keys  # nobody asked for one
    # The model as the agent reads it when no flag names it (its environment), never guessed when nothing does.
    named = exec_job(workbench, "claude", "-p", "go", env={**env, "ANTHROPIC_MODEL": "claude-haiku-4-5"})
    assert trailer(workbench, named, "Assisted-by") == ["claude-code:claude-haiku-4-5"]
    unknown = exec_job(workbench, "claude", "-p", "go", env=env)
    assert trailer(workbench, unknown, "Assisted-by") == ["claude-code"]


# What the real agents write (checked on Claude Code 2.x and codex 0.x runs of tests/test_agents_jobs.py), less
# everything but the fields gitbench reads: Claude Code's transcript in ~/.claude/projects/<its folder>/, codex's
# session in ~/.codex/sessions/Y/M/D/.
TRANSCRIPTS = """import datetime, json, os, pathlib, re
p = pathlib.Path('src/app.py'); p.write_text(p.read_text() + 'more\\n')
cwd, home = os.getcwd(), pathlib.Path(os.environ['HOME'])
if pathlib.Path(__file__).name == 'claude':
    folder = home / '.claude' / 'projects' / re.sub(r'[^A-Za-z0-9]', '-', cwd)
    lines = [{'type': 'user', 'cwd': cwd, 'message': {'role': 'user', 'content': 'the prompt'}},
             {'type': 'assistant', 'cwd': cwd, 'message': {'model': 'claude-from-transcript', 'content': []}},
             {'type': 'assistant', 'cwd': cwd, 'message': {'model': '<synthetic>', 'content': []}}]
else:
    folder = home / '.codex' / 'sessions' / datetime.date.today().strftime('%Y/%m/%d')
    lines = [{'type': 'session_meta', 'payload': {'cwd': cwd}},
             {'type': 'turn_context', 'payload': {'cwd': '/elsewhere', 'model': 'not-this-one'}},
             {'type': 'turn_context', 'payload': {'cwd': cwd, 'model': 'gpt-from-session'}}]
folder.mkdir(parents=True, exist_ok=True)
(folder / 'session.jsonl').write_text(''.join(json.dumps(x) + '\\n' for x in lines))
"""


@pytest.mark.parametrize(
    ("program", "expected"), [("claude", "claude-code:claude-from-transcript"), ("codex", "codex:gpt-from-session")]
)
def test_when_nothing_else_names_the_model_the_agents_own_transcript_of_the_run_does(
    workbench: Path, tmp_path: Path, program: str, expected: str
) -> None:
    env = fake_claude(tmp_path, TRANSCRIPTS)
    (tmp_path / "bin" / "claude").rename(tmp_path / "bin" / program)
    step = exec_job(workbench, program, "-p", "go", env=env)
    assert trailer(workbench, step, "Assisted-by") == [expected]
    assert trailer(workbench, step, "Gitbench-Model") == [expected.replace("claude-code", "claude")]
    (job_id,) = trailer(workbench, step, "Gitbench-Job")
    job = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{job_id}.json"))
    assert (job["agent"], job["agent_model"]) == (program, expected.split(":", 1)[1])


def test_a_model_jobs_steps_are_assisted_by_gitbench_and_its_model(workbench: Path, provider: ProviderServer) -> None:
    res = gitbench(workbench, "ask", "Add a line", "--files", "src/**", "--model", "fake:other-model", "--json")
    assert res.returncode == 0, res.stderr
    ref = json.loads(res.stdout)["result"]["job"]["draft"]
    assert trailer(workbench, ref, "Assisted-by") == ["gitbench:fake/other-model"]
    assert "Add a line" not in git(workbench, "log", "-1", "--format=%B", ref)  # prompts stay out of trailers


def test_a_workshop_jobs_command_agent_is_the_assistant_whatever_its_program(workbench: Path, tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(EDIT.replace("; ", "\n"))
    res = gitbench(workbench, "ask", "go", "--files", "src/**", "--model", f"command:{sys.executable} {script}")
    assert res.returncode == 0, res.stderr
    ref = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert trailer(workbench, ref, "Assisted-by") == ["python"]


def test_co_authored_by_comes_from_the_users_config_and_only_on_ai_steps(workbench: Path, tmp_path: Path) -> None:
    user_config('[attribution]\nco_authored_by = "Claude <noreply@anthropic.com>"\n')
    env = fake_claude(tmp_path, EDIT.replace("; ", "\n"))
    agent = exec_job(workbench, "claude", "--model", "claude-sonnet-4-5", env=env)
    assert trailer_keys(workbench, agent)[-2:] == ["Assisted-by", "Co-authored-by"]
    assert trailer(workbench, agent, "Co-authored-by") == ["Claude <noreply@anthropic.com>"]
    plain = exec_job(workbench, sys.executable, "-c", EDIT)
    assert "Co-authored-by" not in trailer_keys(workbench, plain)  # a plain command is no AI's work


def test_attribution_in_the_projects_config_or_a_bad_value_is_refused_before_the_job_runs(workbench: Path) -> None:
    project = workbench / ".gitbench" / "config.toml"
    project.parent.mkdir()
    project.write_text('[attribution]\nco_authored_by = "Bot <bot@example.com>"\n')
    res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", EDIT)
    assert res.returncode == 2
    error = json.loads(res.stdout)["error"]
    assert "[attribution]" in error["message"] and "versioned" in error["message"]
    assert "Move [attribution] to your own config file" in error["actions"][0]["label"]
    project.unlink()
    for text, needle in (
        ('[attribution]\nco_authored_by = "just a name"\n', '"Name <email>"'),
        ('[attribution]\nco_author = "A <a@b.c>"\n', "Unknown setting attribution.co_author"),
    ):
        path = user_config("")
        path.write_text(text)
        res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", EDIT)
        assert res.returncode == 2, res.stdout
        assert needle in json.loads(res.stdout)["error"]["message"]
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""  # no job ran


OPUS, CODEX = "claude-code:claude-opus-4-1", "codex:gpt-5-codex"


def job(**fields: object) -> JobRecord:
    base: dict[str, object] = dict(
        id="j", kind="exec", status="running", created=0.0, updated=0.0, draft="d", base="b", checkpoint="checkpoint/2"
    )
    return JobRecord(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "kwargs", "expected"),
    [
        (job(model="openai:gpt-4o", kind="ask"), {}, "gitbench:openai/gpt-4o"),
        (job(model="ollama:qwen2.5-coder:7b", kind="ask"), {}, "gitbench:ollama/qwen2.5-coder:7b"),
        (
            job(agent="aider", agent_model="openai/gpt-4o"),
            {"agent": "aider", "model": "aider:openai/gpt-4o"},
            "aider:openai/gpt-4o",
        ),
        (job(agent="sed"), {"agent": "sed", "model": "sed"}, None),
        (job(model="workflow:command", kind="workflow"), {}, None),
        # An agent's hook knows better: what its payload says wins.
        (
            job(agent="sh"),
            {"agent": "sh", "model": "sh", "assisted_agent": "claude", "assisted_model": "claude-opus-4-1"},
            "claude-code:claude-opus-4-1",
        ),
        (
            job(agent="codex", agent_model="gpt-5"),
            {"agent": "codex", "assisted_model": "gpt-5-codex"},
            "codex:gpt-5-codex",
        ),
        # A turn of an agent's session (its hooks): the agent, whatever its program's name.
        (job(kind="agent", agent="newagent", agent_model="m-1"), {"agent": "newagent"}, "newagent:m-1"),
        # ...but only a plain name goes into a trailer: anything else is not taken.
        (
            job(agent="codex", agent_model="gpt-5"),
            {"agent": "codex", "assisted_model": "x\nSigned-off-by: y"},
            "codex:gpt-5",
        ),
        (job(agent="sed"), {"agent": "sed", "assisted_agent": "evil agent", "assisted_model": "m"}, None),
    ],
)
def test_step_trailers_builds_assisted_by_for_every_kind_of_step(
    record: JobRecord, kwargs: dict[str, str], expected: str | None
) -> None:
    pairs = dict(jobs.step_trailers(record, "1/1 exec", ["a.txt"], "complete", **kwargs))  # type: ignore[arg-type]
    assert pairs.get("Assisted-by") == expected
    assert pairs["Gitbench-Job"] == "j" and pairs["Gitbench-Status"] == "complete"
