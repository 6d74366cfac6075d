"""`gitbench ask` details a user meets in its messages and its report."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests import provider_server as ps
from tests.conftest import git, gitbench, make_project
from tests.invariants import check_invariants
from tests.provider_server import ProviderServer, config_toml


def test_ask_while_a_draft_is_open_offers_to_continue_it_fork_beside_it_or_discard_it(
    workbench: Path, provider: ProviderServer
) -> None:
    first = gitbench(workbench, "ask", "Add a line", "--files", "src/**")
    assert first.returncode == 0, first.stderr
    res = gitbench(workbench, "ask", "Add another line", "--files", "src/**", "--json")
    assert res.returncode == 4
    error = json.loads(res.stdout)["error"]
    commands = [a["command"] for a in error["actions"] if a["command"]]
    assert commands == [
        "gitbench ask --on-draft continue ...",
        "gitbench ask --on-draft fork ...",
        "gitbench ask --on-draft discard ...",
    ]


def test_the_usage_estimate_leaves_out_a_file_too_large_to_send(tmp_path: Path, provider: ProviderServer) -> None:
    wb = make_project(tmp_path / "p", {"src/a.py": "A = 1\n", "src/big.py": "X = '" + "x" * 300_000 + "'\n"})
    assert gitbench(wb, "init").returncode == 0
    res = gitbench(wb, "ask", "Add a line", "--files", "src/**")
    assert res.returncode == 0, res.stderr
    report = json.loads(gitbench(wb, "report", "--json").stdout)["result"]
    assert [s["path"] for s in report["skipped"]] == ["src/big.py"]
    assert report["usage"]["estimate"] < 2_000  # the prompt and a.py; not the 300 kB never sent
    check_invariants(wb)


def test_resuming_an_agent_job_that_had_no_files_scope_with_a_model_is_refused_and_sends_nothing(
    workbench: Path, provider: ProviderServer
) -> None:
    agent = gitbench(workbench, "ask", "Fix it", "--model", "command:sh -c 'echo half >> NOTES.md; exit 3'")
    assert agent.returncode == 12, agent.stderr
    res = gitbench(workbench, "resume", "--model", "fake:test-model", "--json")
    assert res.returncode == 2
    assert "would be sent every file" in json.loads(res.stdout)["error"]["message"]
    assert provider.posts == []
    jobs = json.loads(gitbench(workbench, "jobs", "--json").stdout)["result"]
    assert jobs[-1]["status"] == "failed"  # as it was: still resumable with an agent


def test_models_says_when_the_program_of_an_agent_alias_is_not_on_the_path(
    workbench: Path, provider: ProviderServer
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.write_text(config.read_text() + '[models]\nagent = "command:no-such-agent-cli --yes {prompt}"\n')
    res = gitbench(workbench, "models")
    assert res.returncode == 0, res.stderr
    assert "-- command no-such-agent-cli" in res.stdout and "not found on PATH" in res.stdout


def test_when_the_failure_cannot_be_recorded_the_banner_points_at_no_report_and_says_what_comes_next(
    workbench: Path, provider: ProviderServer
) -> None:
    provider.push(ps.status(400, body={"error": {"message": "bad request"}}))
    # The third records write is the failure's own record: the disk is full by then.
    res = gitbench(
        workbench, "ask", "Add a line", "--files", "src/**", env={"GITBENCH_FAULT": "records.before-ref:eio@3"}
    )
    assert res.returncode == 20, res.stderr
    assert "Report:" not in res.stderr
    assert "could not be written either" in " ".join(res.stderr.split())
    job = git(workbench, "for-each-ref", "--format=%(refname:lstrip=4)", "refs/heads/gitbench/draft/").strip()
    assert f"reports/{job}.json" not in git(workbench, "ls-tree", "-r", "--name-only", "refs/gitbench/records")
    status = gitbench(workbench, "status")  # the next command records how it ended (its class), not "interrupted"
    # (issue 14: a failure whose record did not fit keeps its class), and the job stays resumable.
    assert f"Job {job} had stopped (model); its record is written now" in status.stdout
    assert f"Last job   {job} failed: fake:test-model: the provider rejected the request (HTTP 400)" in status.stdout
    assert "gitbench resume" in status.stdout


def test_chat_shows_a_publish_checkpoint_after_its_job_even_within_the_same_second(
    workbench: Path, provider: ProviderServer
) -> None:
    same_second = {"GITBENCH_NOW": "1795354943.75"}  # messages keep the fraction; a tag's date cannot
    assert gitbench(workbench, "ask", "Add a line", "--files", "src/**", env=same_second).returncode == 0
    assert gitbench(workbench, "publish", env=same_second).returncode == 0
    items = json.loads(gitbench(workbench, "chat", "--json").stdout)["result"]["items"]
    assert [(i["type"], i.get("role")) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
        ("checkpoint", None),
    ]


def test_a_model_job_finished_by_an_agent_reports_every_batch_done_and_no_usage_on_the_agent_step(
    tmp_path: Path,
) -> None:
    server = ProviderServer()
    try:
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(config_toml(server, job={"batch_files": 1}))
        wb = make_project(tmp_path / "p", {"src/a.py": "A = 1\n", "src/b.py": "B = 2\n", "src/c.py": "C = 3\n"})
        assert gitbench(wb, "init").returncode == 0
        server.push(ps.ok(), ps.status(400))
        assert gitbench(wb, "ask", "Add a line", "--files", "src/**").returncode == 20
        res = gitbench(wb, "resume", "--model", "command:sh -c 'echo agent >> src/c.py'")
        assert res.returncode == 0, res.stderr
        report = json.loads(gitbench(wb, "report", "--json").stdout)["result"]
        assert report["status"] == "complete"
        assert report["last_completed_step"] == report["steps_total"] == 3
        agent_step = git(wb, "log", "-1", "--format=%(trailers)", "refs/heads/gitbench/draft/" + report["job"])
        assert "Gitbench-Model: sh" in agent_step and "Gitbench-Agent: sh" in agent_step  # the program it ran
        assert "Gitbench-Usage" not in agent_step  # an agent's token use is not known
        check_invariants(wb)
    finally:
        server.close()
