"""Issue 3's failure story against a real scripted provider on 127.0.0.1, through the real CLI.

Every fault the provider server scripts (429 with and without Retry-After, 500, 503, a slow answer, a hung
one, a connection reset, malformed and truncated JSON, a wrong model name) is met by ``gitbench ask`` in its
second batch of files. For each, the tests check what a user sees: the exit code of the failure's class, the
class in ``--json`` and in ``gitbench report --json``, how many requests the server got (3 for a transient
failure, 1 for a wrong model), every field of the report, Published untouched, and the Draft with its finished
step kept. Both protocols: OpenAI chat completions (``fake:``) and Anthropic Messages (``fakeant:``).

Also here: Retry-After and exponential backoff measured on the server's clock, the job's scope as seen by the
server, the JSON-lines logs, and a canary key and prompt that must not leak. Resume, the 40-file job, skipped
files, a full disk, kills and signals are in ``test_ask_recovery.py``, which uses the helpers below.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import provider_server as ps
from tests.conftest import checkpoint_names, git, gitbench, make_project, nth_checkpoint
from tests.invariants import check_invariants
from tests.provider_server import ProviderServer, config_toml, files_of, user_text

OUT_OF_SCOPE = "OUT-OF-SCOPE-CANARY: this file is outside --files and must never be sent\n"
FILES = {
    "README.md": "# project\n",
    "docs/private.md": OUT_OF_SCOPE,
    "src/a.py": "A = 1\n",
    "src/b.py": "B = 2\n",
    "src/c.py": "C = 3\n",
    "src/d.py": "D = 4\n",
}
BATCH1 = ["src/a.py", "src/b.py"]
BATCH2 = ["src/c.py", "src/d.py"]
IN_SCOPE = set(BATCH1 + BATCH2)
EDITED = "edited by model\n"
OPENAI, ANTHROPIC = "fake:test-model", "fakeant:test-model"
BOTH = pytest.mark.parametrize("model", [OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
CHAT_PATH = {OPENAI: "/v1/chat/completions", ANTHROPIC: "/v1/messages"}


# -- helpers shared with test_ask_recovery.py -----------------------------------------------------------------
def write_config(server: ProviderServer, **settings: Any) -> str:
    """The user's config file (where a key may live): ``fake:`` and ``fakeant:`` at the server. Small timeouts."""
    settings.setdefault("timeouts", {"read": 0.5})
    settings.setdefault("job", {"batch_files": 2})
    api_key = settings.pop("api_key", None)
    text = config_toml(server, **settings)
    if api_key:
        text = text.replace("[providers.fake]\n", f'[providers.fake]\napi_key = "{api_key}"\n')
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


@dataclass
class Bench:
    """A Workbench and the provider server its user config points at."""

    path: Path
    server: ProviderServer

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        res = gitbench(self.path, *args, env=env)
        assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
        return res

    def ask(
        self,
        *extra: str,
        prompt: str = "Add a line to each file",
        files: str = "src/**",
        env: dict[str, str] | None = None,
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        """`gitbench ask --json`: the process and its JSON answer (ok or error)."""
        res = self.run("ask", prompt, "--files", files, "--json", *extra, env=env)
        return res, json.loads(res.stdout)

    def resume(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        res = self.run("resume", "--json", *extra, env=env)
        return res, json.loads(res.stdout)

    def report(self, job: str | None = None) -> dict[str, Any]:
        res = self.run("report", *([job] if job else []), "--json")
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        assert data["ok"] is True
        return data["result"]  # type: ignore[no-any-return]

    def published(self) -> str:
        return git(self.path, "rev-parse", "main").strip()

    def draft(self) -> str:
        """The one open Draft's ref."""
        refs = git(self.path, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()
        assert len(refs) == 1, f"expected one Draft, found {refs}"
        return refs[0]

    def steps(self, ref: str | None = None) -> list[dict[str, str]]:
        """The trailers of the Draft's step commits, oldest first (read with the git CLI)."""
        out = git(self.path, "log", "--reverse", "--format=%(trailers:unfold)%x1e", f"main..{ref or self.draft()}")
        steps = []
        for chunk in out.split("\x1e"):
            pairs = [line.split(": ", 1) for line in chunk.strip().splitlines() if ": " in line]
            if pairs:
                steps.append(dict(pairs))
        return steps

    def show(self, ref: str, path: str) -> str:
        return git(self.path, "show", f"{ref}:{path}")

    def sent(self, start: int = 0) -> list[list[str]]:
        """The files each POST from ``start`` on sent, as the model saw them."""
        return [sorted(files_of(p["body"])) for p in self.server.posts[start:]]

    def logs(self) -> list[dict[str, Any]]:
        folder = self.path / ".git" / "gitbench" / "logs"
        return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]

    def log_text(self) -> str:
        folder = self.path / ".git" / "gitbench" / "logs"
        return "".join(f.read_text(errors="replace") for f in sorted(folder.iterdir()) if f.is_file())


@contextmanager
def open_bench(
    root: Path, server: ProviderServer, files: dict[str, str] | None = None, **settings: Any
) -> Iterator[Bench]:
    """A Workbench adopted with `gitbench init`, its user config pointing at ``server``; DESIGN.md's invariants
    are checked when the block ends."""
    write_config(server, **settings)
    path = make_project(root, files or FILES)
    res = gitbench(path, "init")
    assert res.returncode == 0, res.stderr
    yield Bench(path, server)
    check_invariants(path)


def error_of(res: subprocess.CompletedProcess[str], data: dict[str, Any], exit_code: int) -> dict[str, Any]:
    assert res.returncode == exit_code, f"exit {res.returncode}, not {exit_code}:\n{res.stdout}\n{res.stderr}"
    assert data["ok"] is False
    err: dict[str, Any] = data["error"]
    assert err["exit_code"] == exit_code
    return err


def commands(report: dict[str, Any]) -> list[str]:
    return [a["command"] for a in report["next_actions"]]


def flat(text: str) -> str:
    """Text with whitespace and box-drawing characters removed: a banner may wrap a long token."""
    return re.sub(r"[\s\u2500-\u257f]", "", text)


# -- the fixture ----------------------------------------------------------------------------------------------
@pytest.fixture
def bench(tmp_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    monkeypatch.setenv("FAKEANT_API_KEY", "sk-test-fakeant-0000")
    with open_bench(tmp_path / "wb", provider) as b:
        yield b


# -- one fault in the second batch --------------------------------------------------------------------------
def stop_in_batch_two(
    b: Bench, model: str, *actions: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """Batch 1 answers normally, batch 2 meets ``actions``; returns (process, JSON answer, Published before)."""
    before = b.published()
    b.server.push(ps.ok(), *actions)
    res, data = b.ask("--model", model)
    return res, data, before


def assert_stopped_in_batch_two(
    b: Bench,
    res: subprocess.CompletedProcess[str],
    data: dict[str, Any],
    before: str,
    *,
    model: str,
    exit_code: int,
    code: str,
    klass: str,
    status: str,
    attempts: int,
) -> dict[str, Any]:
    """Everything issue 3 promises when a fault stops a job after its first batch; returns the report."""
    err = error_of(res, data, exit_code)
    assert err["code"] == code
    job = err["details"]["job"]
    # The server: one request for batch 1, then ``attempts`` for batch 2, each sending batch 2's files only.
    assert len(b.server.posts) == 1 + attempts
    assert b.sent() == [BATCH1] + [BATCH2] * attempts
    assert {p["path"] for p in b.server.posts} == {CHAT_PATH[model]}
    # The report, as `gitbench report --json` shows it, and as the error carried it.
    report = b.report()
    assert report["job"] == job and report["kind"] == "ask"
    assert report["status"] == status
    assert report["class"] == klass
    assert report["reason"] == err["message"] and report["reason"]
    assert report["last_completed_step"] == 1
    assert report["steps_completed"] == 1 and report["steps_total"] == 2
    assert report["models"] == [model]
    assert report["files_changed"] == BATCH1
    assert report["partial_results"]["files"] == BATCH1
    auto = nth_checkpoint(b.path, 2)
    assert report["checkpoints_created"] == [auto] == checkpoint_names(b.path)[1:]
    assert git(b.path, "rev-parse", auto + "^{commit}").strip() == before
    usage = report["usage"]
    assert isinstance(usage["estimate"], int) and usage["estimate"] > 0
    assert isinstance(usage["actual"], int) and usage["actual"] > 0  # batch 1's tokens, as the server counted
    assert report["attempts"] == 1 + attempts
    assert f"gitbench resume {job}" in commands(report)
    assert f"gitbench resume {job} --model PROVIDER:MODEL" in commands(report)
    assert any(f"gitbench restore {auto}" in c for c in commands(report))
    assert f"gitbench report {job}" in commands(report)
    assert commands(report) == [a["command"] for a in err["actions"]]
    stored = err["details"]["report"]
    assert {k: stored[k] for k in ("class", "status", "attempts", "last_completed_step")} == {
        k: report[k] for k in ("class", "status", "attempts", "last_completed_step")
    }
    # Published untouched: the branch and the checked-out files.
    assert b.published() == before
    assert git(b.path, "status", "--porcelain") == ""
    assert (b.path / "src/a.py").read_text() == FILES["src/a.py"]
    # The Draft keeps its finished step, committed with the model's name; batch 2 wrote nothing.
    draft = f"refs/heads/gitbench/draft/{job}"
    assert b.draft() == draft
    steps = b.steps(draft)
    assert len(steps) == 1
    assert steps[0]["Gitbench-Step"] == "1/2 batch" and steps[0]["Gitbench-Model"] == model
    assert steps[0]["Gitbench-Files"] == ", ".join(BATCH1)
    for path in BATCH1:
        assert b.show(draft, path) == FILES[path] + EDITED
    for path in BATCH2:
        assert b.show(draft, path) == FILES[path]
    return report


@BOTH
def test_429_with_retry_after_is_tried_three_times_then_pauses_the_job_with_exit_22(bench: Bench, model: str) -> None:
    res, data, before = stop_in_batch_two(bench, model, *[ps.status(429, retry_after="0")] * 3)
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=model,
        exit_code=22,
        code="rate-limit",
        klass="rate-limit",
        status="paused",
        attempts=3,
    )
    assert "paused" in report["next_actions"][0]["label"]
    assert "429" in report["reason"] and "3 attempt" in report["reason"]


def test_429_without_retry_after_is_tried_three_times_then_pauses_the_job_with_exit_22(bench: Bench) -> None:
    res, data, before = stop_in_batch_two(bench, OPENAI, *[ps.status(429)] * 3)
    assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=OPENAI,
        exit_code=22,
        code="rate-limit",
        klass="rate-limit",
        status="paused",
        attempts=3,
    )


def test_http_500_is_tried_three_times_then_fails_the_job_as_model_unavailable_with_exit_21(bench: Bench) -> None:
    res, data, before = stop_in_batch_two(bench, OPENAI, *[ps.status(500)] * 3)
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=OPENAI,
        exit_code=21,
        code="model-unavailable",
        klass="model-unavailable",
        status="failed",
        attempts=3,
    )
    assert "HTTP 500" in report["reason"]


@BOTH
def test_http_503_is_tried_three_times_then_fails_the_job_as_model_unavailable_with_exit_21(
    bench: Bench, model: str
) -> None:
    res, data, before = stop_in_batch_two(bench, model, *[ps.status(503)] * 3)
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=model,
        exit_code=21,
        code="model-unavailable",
        klass="model-unavailable",
        status="failed",
        attempts=3,
    )
    assert "HTTP 503" in report["reason"]


def test_a_slow_answer_within_the_read_timeout_succeeds_at_its_first_attempt(bench: Bench) -> None:
    write_config(bench.server, timeouts={"read": 2})  # roomy, so a loaded machine does not make it late
    before = bench.published()
    bench.server.push(ps.ok(), ps.slow(0.5))
    res, data = bench.ask()
    assert res.returncode == 0, res.stderr
    assert data["ok"] is True
    assert len(bench.server.posts) == 2
    report = bench.report()
    assert report["status"] == "complete" and report["class"] is None
    assert report["attempts"] == 2 and report["steps_completed"] == 2
    assert report["files_changed"] == BATCH1 + BATCH2
    assert [s["Gitbench-Attempts"] for s in bench.steps()] == ["1", "1"]
    assert bench.published() == before


@BOTH
def test_a_hung_provider_times_out_three_times_then_pauses_the_job_with_exit_23(bench: Bench, model: str) -> None:
    res, data, before = stop_in_batch_two(bench, model, *[ps.hang(2)] * 3)  # the read timeout is 0.5 s
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=model,
        exit_code=23,
        code="timeout",
        klass="timeout",
        status="paused",
        attempts=3,
    )
    assert "did not answer in time" in report["reason"]


def test_a_connection_reset_is_tried_three_times_then_fails_the_job_as_network_with_exit_24(bench: Bench) -> None:
    res, data, before = stop_in_batch_two(bench, OPENAI, *[ps.reset()] * 3)
    assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=OPENAI,
        exit_code=24,
        code="network",
        klass="network",
        status="failed",
        attempts=3,
    )


@BOTH
def test_malformed_json_is_tried_three_times_then_fails_the_job_as_a_model_error_with_exit_20(
    bench: Bench, model: str
) -> None:
    res, data, before = stop_in_batch_two(bench, model, *[ps.malformed()] * 3)
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=model,
        exit_code=20,
        code="model-error",
        klass="model",
        status="failed",
        attempts=3,
    )
    assert "not valid JSON" in report["reason"]


def test_truncated_json_cut_off_mid_body_is_tried_three_times_then_fails_as_network_with_exit_24(bench: Bench) -> None:
    # The server promises more bytes (Content-Length) than it sends, then closes: the connection was cut.
    res, data, before = stop_in_batch_two(bench, OPENAI, *[ps.truncated()] * 3)
    report = assert_stopped_in_batch_two(
        bench,
        res,
        data,
        before,
        model=OPENAI,
        exit_code=24,
        code="network",
        klass="network",
        status="failed",
        attempts=3,
    )
    assert "complete message body" in report["reason"]


@BOTH
def test_a_wrong_model_name_is_not_retried_and_fails_as_model_unavailable_with_exit_21(
    bench: Bench, model: str
) -> None:
    provider = model.split(":")[0]
    wrong = f"{provider}:no-such-model"
    before = bench.published()
    res, data = bench.ask("--model", wrong)
    err = error_of(res, data, 21)
    assert err["code"] == "model-unavailable"
    assert "no-such-model" in err["message"] and "404" in err["message"]
    assert len(bench.server.posts) == 1  # a 404 is permanent: no second attempt
    report = bench.report()
    assert report["class"] == "model-unavailable" and report["status"] == "failed"
    assert report["last_completed_step"] == 0 and report["steps_completed"] == 0
    assert report["models"] == [wrong] and report["attempts"] == 1
    assert report["files_changed"] == [] and report["usage"]["actual"] is None
    assert report["checkpoints_created"] == checkpoint_names(bench.path)[1:] and len(report["checkpoints_created"]) == 1
    job = report["job"]
    assert f"gitbench resume {job} --model PROVIDER:MODEL" in commands(report)
    assert bench.published() == before and git(bench.path, "status", "--porcelain") == ""
    assert bench.draft() == f"refs/heads/gitbench/draft/{job}" and bench.steps() == []
    # Switching to a model that exists finishes the job from its first batch.
    res, data = bench.resume("--model", model)
    assert res.returncode == 0, res.stderr
    assert bench.sent(1) == [BATCH1, BATCH2]
    report = bench.report()
    assert report["status"] == "complete" and report["models"] == [wrong, model]
    assert [s["Gitbench-Model"] for s in bench.steps()] == [model, model]
    assert bench.published() == before


@BOTH
def test_a_400_that_quotes_the_request_is_a_rejected_request_not_an_unknown_model(bench: Bench, model: str) -> None:
    # The echoed request holds a "model" key: that word alone must not turn a rejected request into "unknown model".
    bench.server.push(ps.echo(400, style="json"))
    res, data = bench.ask("--model", model)
    err = error_of(res, data, 20)
    assert err["code"] == "model-error" and "rejected the request (HTTP 400)" in err["message"]
    assert len(bench.server.posts) == 1  # a 400 is permanent: no second attempt


def test_a_400_that_says_the_model_does_not_exist_is_model_unavailable(bench: Bench) -> None:
    said = {"message": "The model `gpt-x` does not exist or you do not have access to it.", "code": "model_not_found"}
    bench.server.push(ps.status(400, body={"error": {**said, "type": "invalid_request_error"}}))
    res, data = bench.ask("--model", OPENAI)
    err = error_of(res, data, 21)
    assert err["code"] == "model-unavailable" and "does not know the model" in err["message"]


# -- Retry-After and backoff, on the server's clock -----------------------------------------------------------
def test_retry_after_is_honoured_the_next_attempt_waits_at_least_its_seconds(bench: Bench) -> None:
    bench.server.push(ps.ok(), ps.status(429, retry_after="1"))  # then the default answer
    res, _ = bench.ask()
    assert res.returncode == 0, res.stderr
    times = [p["time"] for p in bench.server.posts]
    assert len(times) == 3
    assert times[2] - times[1] >= 1.0  # backoff alone would be 0.01 s
    retries = [e for e in bench.logs() if e["event"] == "provider.retry"]
    assert [(r["class"], r["retry_after"], r["wait"]) for r in retries] == [("rate-limit", 1.0, 1.0)]
    assert bench.report()["attempts"] == 3


def test_backoff_between_attempts_doubles_after_each_failure(tmp_path: Path, provider: ProviderServer) -> None:
    with open_bench(tmp_path / "wb", provider, retry={"backoff": 0.3}) as b:
        b.server.push(ps.ok(), ps.status(500), ps.status(500))  # then the default answer
        res, _ = b.ask()
        assert res.returncode == 0, res.stderr
        t = [p["time"] for p in b.server.posts]
        first, second = t[2] - t[1], t[3] - t[2]
        assert 0.3 <= first < second and second >= 0.6, (first, second)
        waits = [e["wait"] for e in b.logs() if e["event"] == "provider.retry"]
        assert waits == [0.3, 0.6]


# -- scope --------------------------------------------------------------------------------------------------
def test_only_in_scope_files_are_ever_sent_on_failure_retries_and_resume(bench: Bench) -> None:
    bench.server.push(ps.ok(), *[ps.status(500)] * 3)
    res, _ = bench.ask()
    assert res.returncode == 21
    bench.server.push(ps.status(503), ps.reset())  # then the default answer
    res, _ = bench.resume("--model", ANTHROPIC)
    assert res.returncode == 0, res.stderr
    posts = bench.server.posts
    assert len(posts) == 1 + 3 + 3
    assert bench.sent() == [BATCH1] + [BATCH2] * 6
    for post in posts:
        raw = json.dumps(post["body"])
        assert "OUT-OF-SCOPE-CANARY" not in raw and "README.md" not in user_text(post["body"])
        assert set(files_of(post["body"])) <= IN_SCOPE
    changed = git(bench.path, "diff", "--name-only", "main", bench.draft()).split()
    assert set(changed) == IN_SCOPE


# -- logs ---------------------------------------------------------------------------------------------------
def test_the_logs_hold_json_lines_for_job_start_and_end_attempts_and_retries_with_their_classes(bench: Bench) -> None:
    bench.server.push(ps.ok(), ps.status(429, retry_after="0"), ps.status(503), ps.reset())
    res, data = bench.ask()
    assert res.returncode == 24
    job = data["error"]["details"]["job"]
    events = bench.logs()
    assert all({"time", "pid", "event"} <= set(e) for e in events)
    mine = [e for e in events if e.get("job") == job]
    start = [e for e in mine if e["event"] == "job.start"]
    assert len(start) == 1 and start[0]["kind"] == "ask" and start[0]["checkpoint"] == nth_checkpoint(bench.path, 2)
    attempts = [(e["step"], e["attempt"], e["ok"], e.get("class")) for e in mine if e["event"] == "provider.attempt"]
    assert attempts == [
        (1, 1, True, None),
        (2, 1, False, "rate-limit"),
        (2, 2, False, "model-unavailable"),
        (2, 3, False, "network"),
    ]
    retries = [(e["attempt"], e["class"]) for e in mine if e["event"] == "provider.retry"]
    assert retries == [(1, "rate-limit"), (2, "model-unavailable")]
    end = [e for e in mine if e["event"] == "job.end"]
    assert len(end) == 1
    assert (end[0]["status"], end[0]["klass"], end[0]["code"], end[0]["attempts"]) == (
        "failed",
        "network",
        "network",
        4,
    )
    assert end[0]["models"] == [OPENAI] and end[0]["steps"] == 1


# -- a canary key and a canary prompt -------------------------------------------------------------------------
CONFIG_KEY = "sk-canary-config-5f3a9c1e7b2d"
ENV_KEY = "sk-canary-env-8d2b6e4f0a1c"
PROMPT_MARK = "CANARY-PROMPT-4b1d9e"
PROMPT = f"Rename the constants ({PROMPT_MARK})"


def all_git_objects(repo: Path) -> str:
    """Every object in the repository, decompressed: commits, trees, blobs and tags, reachable or not."""
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")


def job_records_history(repo: Path) -> str:
    """Every version ever written of the job records and reports on the records ref."""
    return git(repo, "log", "-p", "refs/gitbench/records", "--", "jobs", "reports")


def test_a_canary_key_and_prompt_never_reach_logs_reports_records_trailers_or_errors_without_debug(
    tmp_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKEANT_API_KEY", ENV_KEY)
    with open_bench(tmp_path / "wb", provider, api_key=CONFIG_KEY) as b:
        said = []
        # The provider refuses the key and quotes it back, as some do; then the other provider rate-limits.
        refused = {"error": {"message": f"Incorrect API key provided: {CONFIG_KEY}"}}
        b.server.push(ps.ok(), ps.status(401, body=refused))
        res = b.run("ask", PROMPT, "--files", "src/**")
        assert res.returncode == 21
        said.append(res.stdout + res.stderr)
        b.server.push(*[ps.status(429, retry_after="0")] * 3)
        res = b.run("resume", "--model", ANTHROPIC)
        assert res.returncode == 22
        said.append(res.stdout + res.stderr)
        for args in (
            ["resume"],
            ["report"],
            ["report", "--json"],
            ["jobs"],
            ["jobs", "--json"],
            ["log"],
            ["status"],
            ["review", "--patch"],
            ["ask", PROMPT, "--files", "src/**", "--on-draft", "discard", "--json"],
        ):
            res = b.run(*args)
            assert res.returncode == 0, f"{args}: {res.stderr}"
            said.append(res.stdout + res.stderr)
        # The test means something: the server did get both keys and the prompt.
        heads = [p["headers"] for p in b.server.posts]
        assert any(h.get("Authorization") == f"Bearer {CONFIG_KEY}" for h in heads)
        assert any(h.get("x-api-key") == ENV_KEY for h in heads)
        assert all(PROMPT_MARK in user_text(p["body"]) for p in b.server.posts)

        output = "\n".join(said)
        logs = b.log_text()
        objects = all_git_objects(b.path)
        records = job_records_history(b.path)
        messages = git(b.path, "log", "--all", "--format=%B") + git(
            b.path, "for-each-ref", "--format=%(contents)", "refs/tags/"
        )
        for key in (CONFIG_KEY, ENV_KEY):
            assert key not in output and key not in flat(output), "a key reached the CLI's output"
            assert key not in logs, "a key reached the logs"
            assert key not in objects, "a key reached a Git object (records, reports, trailers, checkpoints)"
        assert "[redacted]" in flat(output)  # the refused key was quoted back: the banner shows it redacted
        assert PROMPT_MARK not in output and PROMPT_MARK not in flat(output), "the prompt reached the CLI's output"
        assert PROMPT_MARK not in logs, "the prompt reached the logs without debug"
        assert PROMPT_MARK not in records, "the prompt reached a job record or report"
        assert PROMPT_MARK not in messages, "the prompt reached a commit message, trailer or tag"
        assert not [e for e in b.logs() if e.get("debug")]
        # The conversation's transcript is where the prompt belongs (and the only place on the records ref).
        conv = git(b.path, "show", "refs/gitbench/records:chat/current.json")
        transcript = git(b.path, "show", f"refs/gitbench/records:chat/{json.loads(conv)['conversation']}.jsonl")
        assert PROMPT_MARK in transcript


@pytest.mark.parametrize("switch", ["--debug", "GITBENCH_DEBUG=1"])
def test_with_debug_logging_the_prompt_reaches_the_logs_but_keys_stay_redacted(
    tmp_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    monkeypatch.setenv("FAKEANT_API_KEY", ENV_KEY)
    files = {**FILES, "src/settings.py": f"API_KEY = '{ENV_KEY}'\nOTHER = '{CONFIG_KEY}'\n"}
    with open_bench(tmp_path / "wb", provider, files, api_key=CONFIG_KEY) as b:
        b.server.push(ps.ok(), ps.ok(), ps.answer_text(f"not edits, but it quotes {ENV_KEY}"))
        pre, env = (["--debug"], None) if switch == "--debug" else ([], {"GITBENCH_DEBUG": "1"})
        res = b.run(*pre, "ask", PROMPT, "--files", "src/**", "--model", ANTHROPIC, env=env)
        assert res.returncode == 0, res.stderr
        logs = b.log_text()
        debug = [e for e in b.logs() if e.get("debug")]
        assert {e["event"] for e in debug} >= {"provider.prompt", "provider.answer"}
        assert PROMPT_MARK in logs  # debug logging was asked for: the prompt is there for triage
        assert "[redacted]" in logs
        assert ENV_KEY not in logs and CONFIG_KEY not in logs
        assert ENV_KEY not in flat(res.stdout + res.stderr)
