"""`gitbench why PATH[:LINE[-LINE]]`: for each line, the job, agent, model, step, checkpoint and prompt that wrote
it, or "by hand"; on Published, on a Draft and on any commit. The history is made through the real CLI
(tests/provenance.py): three jobs, two models, and a hand edit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import check_invariants, git, gitbench, make_project, nth_checkpoint
from tests.provenance import CLAUDE_MODEL, PROMPT_B, PROMPT_C, History, build
from tests.provider_server import ProviderServer


@pytest.fixture
def history(tmp_path: Path, provider: ProviderServer) -> History:
    return build(tmp_path, provider)


def why(wb: Path, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    res = gitbench(cwd or wb, "why", *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["ok"] is True
    result: dict[str, Any] = data["result"]
    return result


def spans(result: dict[str, Any]) -> list[tuple[int, int, str]]:
    return [(o["start"], o["end"], o["commit"]) for o in result["origins"]]


def test_why_on_published_names_each_lines_job_agent_model_step_checkpoint_and_prompt(history: History) -> None:
    h = history
    result = why(h.wb, "src/app.py")
    assert result["path"] == "src/app.py" and result["rev"] == "Published (main)"
    assert result["commit"] == git(h.wb, "rev-parse", "main").strip()
    assert (result["first"], result["last"], result["line_count"]) == (1, 11, 11)
    assert spans(result) == [(1, 1, h.hand), (2, 3, h.commit_a), (4, 7, h.initial), (8, 11, h.commit_b)]
    hand, a, initial, b = result["origins"]

    # By hand: the plain `git commit`, its author and subject; no job.
    assert hand["by_hand"] is True and hand["job"] is None and hand["assisted_by"] is None
    assert hand["author"] == "Test Author" and hand["author_email"] == "author@example.invalid"
    assert hand["subject"] == "Type greet by hand" and hand["lines"] == ["def greet(name: str) -> str:"]
    assert initial["by_hand"] is True and initial["subject"] == "initial"

    # Job A: Claude Code, its model from its flag, the command (it had no conversation).
    assert a["by_hand"] is False and a["job"] == h.job_a["id"] and a["kind"] == "exec"
    assert (a["agent"], a["agent_model"]) == ("claude-code", CLAUDE_MODEL)
    assert a["assisted_by"] == f"claude-code:{CLAUDE_MODEL}" and a["model"] == f"claude:{CLAUDE_MODEL}"
    assert a["step"] == "1/1 exec" and a["status"] == "complete"
    assert a["checkpoint"] == h.job_a["checkpoint"] == nth_checkpoint(h.wb, 2)
    assert a["command"] == ["claude", "--model", CLAUDE_MODEL, "-p", "Say hi"] and a["prompt"] is None
    assert a["lines"] == ['    message = "hi " + name', "    return message"]

    # Job B: gitbench's own model job, and the prompt from the conversation records.
    assert b["job"] == h.job_b["id"] and b["kind"] == "ask"
    assert (b["agent"], b["agent_model"], b["assisted_by"]) == (
        "gitbench",
        "fake/test-model",
        "gitbench:fake/test-model",
    )
    assert b["model"] == "fake:test-model" and b["step"] == "1/1 batch"
    assert b["checkpoint"] == h.job_b["checkpoint"] and b["checkpoint"] != a["checkpoint"]
    assert b["prompt"] == PROMPT_B and b["conversation"] == h.job_b["conversation"] and b["turn"] == 1
    assert b["lines"][2:] == ["def farewell(name: str) -> str:", '    return "bye " + name']
    check_invariants(h.wb)


def test_why_on_a_draft_sees_its_job_and_the_prompt_of_its_turn(history: History) -> None:
    h = history
    result = why(h.wb, "src/app.py", "--rev", h.draft_c)
    assert result["rev"] == f"Draft {h.draft_c}" and result["commit"] == h.commit_c
    assert spans(result) == [
        (1, 1, h.hand),
        (2, 3, h.commit_a),
        (4, 6, h.initial),
        (7, 7, h.commit_c),
        (8, 11, h.commit_b),
    ]
    c = result["origins"][3]
    assert c["job"] == h.job_c["id"] and c["prompt"] == PROMPT_C and c["turn"] == 2
    assert c["conversation"] == h.job_b["conversation"]  # the same conversation, its next turn
    assert c["assisted_by"] == "gitbench:fake/test-model" and c["checkpoint"] == h.job_c["checkpoint"]
    assert c["lines"] == ['    print(greet("world"), farewell("world"))']
    # The Draft's full ref names it too.
    assert (
        why(h.wb, "src/app.py:7", "--rev", f"refs/heads/gitbench/draft/{h.draft_c}")["origins"][0]["job"]
        == (h.job_c["id"])
    )
    # Published does not see the Draft's line.
    assert why(h.wb, "src/app.py:7")["origins"][0]["commit"] == h.initial


def test_why_at_an_older_commit_and_at_a_checkpoint(history: History) -> None:
    h = history
    old = why(h.wb, "src/app.py", "--rev", h.commit_a[:10])
    assert old["rev"] == h.commit_a[:10] and old["line_count"] == 7
    assert spans(old) == [(1, 1, h.initial), (2, 3, h.commit_a), (4, 7, h.initial)]
    assert old["origins"][1]["assisted_by"] == f"claude-code:{CLAUDE_MODEL}"
    # The checkpoint taken before job B: after the hand edit, before B.
    at = why(h.wb, "src/app.py", "--rev", h.job_b["checkpoint"])
    assert at["rev"] == h.job_b["checkpoint"] and at["commit"] == h.hand
    assert spans(at) == [(1, 1, h.hand), (2, 3, h.commit_a), (4, 7, h.initial)]
    assert spans(why(h.wb, "src/app.py", "--rev", "main~1")) == spans(at)


def test_a_line_range_answers_for_those_lines_only(history: History) -> None:
    h = history
    result = why(h.wb, "src/app.py:3-8")
    assert (result["first"], result["last"], result["line_count"]) == (3, 8, 11)
    assert spans(result) == [(3, 3, h.commit_a), (4, 7, h.initial), (8, 8, h.commit_b)]
    one = why(h.wb, "src/app.py:10")
    assert spans(one) == [(10, 10, h.commit_b)] and one["origins"][0]["lines"] == ["def farewell(name: str) -> str:"]


def test_why_reads_a_path_from_the_folder_it_is_run_in(history: History) -> None:
    h = history
    result = why(h.wb, "app.py:1", cwd=h.wb / "src")
    assert result["path"] == "src/app.py" and result["origins"][0]["commit"] == h.hand


def test_the_readable_answer_shows_who_and_the_prompt_beside_the_lines(history: History) -> None:
    h = history
    res = gitbench(h.wb, "why", "src/app.py", "--rev", h.draft_c)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert f"src/app.py at Draft {h.draft_c}, commit {h.commit_c[:12]}: lines 1-11 of 11" in text
    assert f"line 1: written by hand (no gitbench job) · commit {h.hand[:12]} by Test Author" in text
    assert f"lines 2-3: claude-code:{CLAUDE_MODEL} · job {h.job_a['id']}, step 1/1 exec" in text
    before_a = nth_checkpoint(h.wb, 2)
    assert f"checkpoint before the job: {before_a} (gitbench restore {before_a})" in text
    assert f"command: claude --model {CLAUDE_MODEL} -p 'Say hi'" in text
    assert f"line 7: gitbench:fake/test-model · job {h.job_c['id']}, step 1/1 batch" in text
    assert f"prompt: {PROMPT_C}" in text and f"prompt: {PROMPT_B}" in text
    assert '   7 │     print(greet("world"), farewell("world"))\n' in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["src/nope.py"], "src/nope.py is no file at Published (main)"),
        (["src"], "src is a folder, not a file"),
        (["src/app.py:12"], "src/app.py has 11 line(s) at Published (main); line 12 is past its end"),
        (["src/app.py:3-40"], "line 40 is past its end"),
        (["src/app.py:0"], "lines count from 1"),
        (["src/app.py:5-2"], "FROM comes before TO"),
        (["src/app.py:x"], "'x' in 'src/app.py:x' is not a line range"),
        (["src/app.py:3-"], "is not a line range"),
        (["../outside.txt"], "names no file inside the Workbench"),
        (["src/app.py", "--rev", "no-such-rev"], "'no-such-rev' names no Draft, checkpoint or commit"),
    ],
)
def test_bad_input_is_a_usage_error_that_names_the_problem(history: History, args: list[str], needle: str) -> None:
    res = gitbench(history.wb, "why", *args, "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "usage" and needle in error["message"], error["message"]
    assert [a for a in error["actions"] if a["command"]], error  # a next command to run


def test_a_file_written_only_by_hand_and_a_file_name_with_a_colon(tmp_path: Path) -> None:
    wb = make_project(tmp_path / "p", {"notes.txt": "one\ntwo\n", "odd:1": "colon\n", "empty.txt": ""})
    assert gitbench(wb, "init").returncode == 0
    result = why(wb, "notes.txt")
    assert [(o["start"], o["end"], o["by_hand"], o["subject"]) for o in result["origins"]] == [(1, 2, True, "initial")]
    assert why(wb, "odd:1")["origins"][0]["lines"] == ["colon"]
    empty = why(wb, "empty.txt")
    assert empty["origins"] == [] and empty["line_count"] == 0
    assert "is empty" in gitbench(wb, "why", "empty.txt").stdout


def test_why_takes_no_lock_and_changes_nothing(history: History) -> None:
    h = history
    before = git(h.wb, "for-each-ref")
    start = time.monotonic()
    why(h.wb, "src/app.py")
    assert time.monotonic() - start < 10
    assert git(h.wb, "for-each-ref") == before
