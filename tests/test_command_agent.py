"""Local agent CLIs as the model (issue 3 "Providers": `command:ARGV`): `gitbench ask --model 'command:...'` runs
the agent in the Draft's worktree with the prompt (as an argument where ``{prompt}`` stands, else on its standard
input), commits what it changed as one step, refuses what it wrote out of bounds as `exec` does, and never writes
the prompt into a trailer, the job record, the report or the log. A failed agent job resumes with any model.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import check_invariants, git, gitbench
from tests.provider_server import ProviderServer, files_of, user_text

CANARY_PROMPT = 'Rename hello to CANARY-PROMPT-7c41e9; then "quote" it; rm -rf / #'

AGENT = r"""
import hashlib, json, os, pathlib, sys

prompt = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
probe = {"cwd": os.getcwd(), "argv": len(sys.argv), "sha": hashlib.sha256(prompt.encode()).hexdigest(),
         "job": os.environ.get("GITBENCH_JOB"), "files": sorted(
             str(p.relative_to(".")) for p in pathlib.Path(".").rglob("*") if p.is_file() and p.name != ".git"),
         "git_dir": os.environ.get("GIT_DIR")}
pathlib.Path(os.environ["AGENT_PROBE"]).write_text(json.dumps(probe))
app = pathlib.Path("src/app.py")
app.write_text(app.read_text().replace("hello", "hi from the agent"))
pathlib.Path("src/new.py").write_text("made by the agent\n")
exec(os.environ.get("AGENT_EXTRA", ""))  # what a hostile agent does besides
sys.exit(int(os.environ.get("AGENT_EXIT", "0")))
"""


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    path = tmp_path / "agent.py"  # outside the Workbench: the agent is a program the user has
    path.write_text(AGENT)
    return path


def model(agent: Path, with_prompt: bool = True) -> str:
    return "command:" + shlex.join([sys.executable, str(agent)]) + (" {prompt}" if with_prompt else "")


def ask(wb: Path, agent_model: str, *args: str, env: dict[str, str] | None = None, code: int = 0) -> dict[str, Any]:
    res = gitbench(wb, "ask", CANARY_PROMPT, "--model", agent_model, "--json", *args, env=env)
    assert res.returncode == code, res.stdout + res.stderr
    assert "CANARY-PROMPT" not in res.stdout  # the result names the command's template, never the prompt
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def draft_of(wb: Path) -> str:
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert ref, "no Draft"
    return ref


def trailers(wb: Path, commit: str) -> dict[str, str]:
    out = git(wb, "log", "-1", "--format=%(trailers:unfold,separator=%x00)", commit)
    return dict(t.split(": ", 1) for t in out.strip().split("\0") if t)


def assert_prompt_only_in_the_conversation(wb: Path) -> None:
    """The prompt is in chat/*.jsonl and nowhere else: not a trailer, a job record, a report or a log line."""
    assert "CANARY-PROMPT" not in git(wb, "log", "--all", "--format=%B")
    for path in git(wb, "ls-tree", "-r", "--name-only", "refs/gitbench/records").split():
        text = git(wb, "show", f"refs/gitbench/records:{path}")
        assert ("CANARY-PROMPT" in text) == (path.startswith("chat/") and path.endswith(".jsonl")), path
    for log in (wb / ".git/gitbench/logs").iterdir():
        assert "CANARY-PROMPT" not in log.read_text(errors="replace"), log.name
    for tag in git(wb, "tag", "-l", "-n99").splitlines():
        assert "CANARY-PROMPT" not in tag


def test_an_agent_gets_the_prompt_as_an_argument_runs_in_the_drafts_folder_and_its_changes_become_a_step(
    workbench: Path, agent: Path, tmp_path: Path
) -> None:
    published = git(workbench, "rev-parse", "main").strip()
    probe = tmp_path / "probe.json"
    result = ask(workbench, model(agent), "--files", "src/**", env={"AGENT_PROBE": str(probe)})["result"]

    seen = json.loads(probe.read_text())
    label = result["draft"].rsplit("/", 1)[1]
    home = Path(__import__("os").environ["HOME"])
    # The Draft's own worktree, outside the Workbench: every file is there (--files limits what may change)
    assert Path(seen["cwd"]).parent.parent == home / ".local" / "state" / "gitbench" / "worktrees"
    assert Path(seen["cwd"]).name == label and not Path(seen["cwd"]).is_relative_to(workbench)
    assert seen["files"] == ["README.md", "docs/guide.md", "src/app.py"]
    assert seen["argv"] == 2 and seen["sha"] == hashlib.sha256(CANARY_PROMPT.encode()).hexdigest()  # one argument
    assert seen["job"] == result["job"]["id"] and seen["git_dir"] is None

    ref = draft_of(workbench)
    assert git(workbench, "rev-list", "--count", f"main..{ref}").strip() == "1"
    t = trailers(workbench, ref)
    assert t["Gitbench-Job"] == result["job"]["id"] and t["Gitbench-Step"] == "1/1 agent"
    assert t["Gitbench-Model"] == "python" and t["Gitbench-Agent"] == "python"  # the program the agent command runs
    assert t["Gitbench-Status"] == "complete"
    assert t["Gitbench-Files"] == "src/app.py, src/new.py" and t["Gitbench-Attempts"] == "1"
    assert git(workbench, "show", f"{ref}:src/app.py") == "print('hi from the agent')\n"
    assert git(workbench, "show", f"{ref}:src/new.py") == "made by the agent\n"
    assert git(workbench, "rev-parse", "main").strip() == published
    assert result["job"]["command"] == [sys.executable, str(agent), "{prompt}"]  # the template, not the prompt

    report = json.loads(gitbench(workbench, "report", "--json").stdout)["result"]
    assert report["status"] == "complete" and report["files_changed"] == ["src/app.py", "src/new.py"]
    assert report["models"] == [f"command:{sys.executable}"]
    assert_prompt_only_in_the_conversation(workbench)
    conv = result["job"]["conversation"]
    users = [
        json.loads(line)
        for line in git(workbench, "show", f"refs/gitbench/records:chat/{conv}.jsonl").splitlines()
        if '"user"' in line
    ]
    assert users[0]["text"] == CANARY_PROMPT
    check_invariants(workbench)


def test_an_agent_without_a_prompt_placeholder_reads_the_prompt_on_stdin(
    workbench: Path, agent: Path, tmp_path: Path
) -> None:
    probe = tmp_path / "probe.json"
    result = ask(workbench, model(agent, with_prompt=False), env={"AGENT_PROBE": str(probe)})["result"]
    seen = json.loads(probe.read_text())
    assert seen["argv"] == 1 and seen["sha"] == hashlib.sha256(CANARY_PROMPT.encode()).hexdigest()
    # Without --files an agent's scope is the whole Workbench: every file is in its folder.
    assert seen["files"] == ["README.md", "docs/guide.md", "src/app.py"]
    assert result["job"]["scope"] == []
    assert git(workbench, "show", f"{draft_of(workbench)}:src/app.py") == "print('hi from the agent')\n"
    assert_prompt_only_in_the_conversation(workbench)


def test_an_alias_can_name_an_agent(workbench: Path, agent: Path, tmp_path: Path) -> None:
    config = Path(__import__("os").environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[models]\nmine = {json.dumps(model(agent))}\n")
    result = ask(workbench, "mine", "--files", "src/**", env={"AGENT_PROBE": str(tmp_path / "p.json")})["result"]
    assert result["job"]["model"] == f"command:{sys.executable}"


HOSTILE = {
    "outside --files": ("pathlib.Path('README.md').write_text('rewritten')", {"README.md": "outside the job's scope"}),
    "a nested repository": (
        "import subprocess; subprocess.run(['git', 'init', '-q', 'src/sub'], check=True);"
        "pathlib.Path('src/sub/x').write_text('x')",
        {"src/sub/": "a nested Git repository"},
    ),
    "symlink out": ("os.symlink('/etc/passwd', 'src/passwd')", {"src/passwd": "symlink pointing outside"}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_an_agent_writing_out_of_bounds_is_refused_like_exec_and_its_other_changes_kept(
    workbench: Path, agent: Path, tmp_path: Path, case: str
) -> None:
    code, refused = HOSTILE[case]
    published = git(workbench, "rev-parse", "main").strip()
    readme = (workbench / "README.md").read_bytes()
    data = ask(
        workbench,
        model(agent),
        "--files",
        "src/**",
        code=11,
        env={"AGENT_PROBE": str(tmp_path / "p.json"), "AGENT_EXTRA": code},
    )
    err = data["error"]
    assert err["code"] == "scope-violation"
    report = err["details"]["report"]
    assert report["status"] == "failed" and report["class"] == "scope"
    assert {r["path"]: r["reason"] for r in report["refused"]}.keys() == refused.keys()
    for r in report["refused"]:
        assert refused[r["path"]] in r["reason"]
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "print('hi from the agent')\n"  # the in-scope change
    tree = git(workbench, "ls-tree", "-r", "--name-only", ref).split("\n")
    assert not any(p.startswith(".git") or "/.git" in p or p == "src/passwd" or p.startswith("src/sub") for p in tree)
    assert git(workbench, "show", f"{ref}:README.md").encode() == readme
    assert (workbench / "README.md").read_bytes() == readme
    assert git(workbench, "rev-parse", "main").strip() == published
    assert trailers(workbench, ref)["Gitbench-Status"] == "partial (refused 1 paths)"
    assert_prompt_only_in_the_conversation(workbench)
    check_invariants(workbench)


def test_an_agent_that_fails_keeps_its_changes_and_the_job_is_reported_failed(
    workbench: Path, agent: Path, tmp_path: Path
) -> None:
    data = ask(
        workbench,
        model(agent),
        "--files",
        "src/**",
        code=12,
        env={"AGENT_PROBE": str(tmp_path / "p.json"), "AGENT_EXIT": "3"},
    )
    err = data["error"]
    assert err["code"] == "job-failed" and "exited with status 3" in err["message"]
    report = err["details"]["report"]
    assert report["status"] == "failed" and report["class"] == "command"
    assert report["files_changed"] == ["src/app.py", "src/new.py"]
    assert any(
        a.get("command") == f"gitbench resume {report['job']} --model PROVIDER:MODEL" for a in report["next_actions"]
    )
    assert trailers(workbench, draft_of(workbench))["Gitbench-Status"] == "failed (exit 3)"
    assert_prompt_only_in_the_conversation(workbench)


def test_an_agent_that_is_not_installed_fails_with_a_clear_reason(workbench: Path) -> None:
    data = ask(workbench, "command:no-such-agent-cli-4f2 {prompt}", "--files", "src/**", code=12)
    assert "was not found" in data["error"]["message"]
    assert data["error"]["details"]["report"]["class"] == "command"


def test_a_failed_agent_job_resumes_with_an_http_model_from_what_the_draft_holds(
    workbench: Path, agent: Path, tmp_path: Path, provider: ProviderServer
) -> None:
    failed = ask(
        workbench,
        model(agent),
        "--files",
        "src/**",
        code=12,
        env={"AGENT_PROBE": str(tmp_path / "p.json"), "AGENT_EXIT": "1"},
    )["error"]["details"]["job"]
    ref = draft_of(workbench)
    agent_step = git(workbench, "rev-parse", ref).strip()

    res = gitbench(workbench, "resume", "--model", "fake:test-model", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    job = json.loads(res.stdout)["result"]["job"]
    assert job["id"] == failed and job["status"] == "complete"
    assert job["models"] == [f"command:{sys.executable}", "fake:test-model"]

    # The model was sent the Draft's files as the agent left them, with the same prompt.
    [post] = provider.posts
    assert files_of(post["body"]) == {"src/app.py": "print('hi from the agent')\n", "src/new.py": "made by the agent\n"}
    assert CANARY_PROMPT in user_text(post["body"])
    commits = git(workbench, "rev-list", "--reverse", f"main..{ref}").split()
    assert commits[0] == agent_step and len(commits) == 2
    t = trailers(workbench, commits[1])
    assert t["Gitbench-Job"] == failed and t["Gitbench-Model"] == "fake:test-model"
    assert t["Gitbench-Step"] == "1/1 batch"
    assert git(workbench, "show", f"{ref}:src/new.py") == "made by the agent\nedited by model\n"

    report = json.loads(gitbench(workbench, "report", failed, "--json").stdout)["result"]
    assert report["status"] == "complete" and report["reason"] is None
    assert report["models"] == [f"command:{sys.executable}", "fake:test-model"]
    assert_prompt_only_in_the_conversation(workbench)
    check_invariants(workbench)


def test_a_failed_http_job_resumes_with_an_agent(
    workbench: Path, agent: Path, tmp_path: Path, provider: ProviderServer
) -> None:
    from tests.provider_server import status

    provider.push(status(500), status(500), status(500))
    res = gitbench(workbench, "ask", CANARY_PROMPT, "--files", "src/**", "--json")
    assert res.returncode == 21, res.stdout + res.stderr
    probe = tmp_path / "probe.json"
    res = gitbench(workbench, "resume", "--model", model(agent), "--json", env={"AGENT_PROBE": str(probe)})
    assert res.returncode == 0, res.stdout + res.stderr
    job = json.loads(res.stdout)["result"]["job"]
    assert job["status"] == "complete" and job["models"] == ["fake:test-model", f"command:{sys.executable}"]
    seen = json.loads(probe.read_text())
    assert seen["sha"] == hashlib.sha256(CANARY_PROMPT.encode()).hexdigest()
    assert seen["files"] == ["README.md", "docs/guide.md", "src/app.py"]
    assert git(workbench, "show", f"{draft_of(workbench)}:src/app.py") == "print('hi from the agent')\n"
    assert_prompt_only_in_the_conversation(workbench)
    check_invariants(workbench)
