"""`gitbench export agent-trace`: one Agent Trace record per step commit, valid against the specification's own
JSON Schema (tests/data/agent-trace-record.schema.json, copied from cursor/agent-trace; see tests/data/README.md),
with the lines each step wrote and who wrote them."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import git, gitbench, nth_checkpoint
from tests.provenance import CLAUDE_MODEL, History, build
from tests.provider_server import ProviderServer

SCHEMA = json.loads((Path(__file__).parent / "data" / "agent-trace-record.schema.json").read_text())
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def validate(record: dict[str, Any]) -> None:
    """The spec's schema, with its formats checked too (uuid; date-time as RFC 3339)."""
    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(RFC3339.match(value)))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=checker).validate(record)


@pytest.fixture
def history(tmp_path: Path, provider: ProviderServer) -> History:
    return build(tmp_path, provider)


def export(wb: Path, *args: str) -> list[dict[str, Any]]:
    res = gitbench(wb, "export", "agent-trace", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_every_published_step_is_a_valid_record_with_the_lines_it_wrote_and_its_model(history: History) -> None:
    h = history
    records = export(h.wb)
    for r in records:
        validate(r)
    assert [r["vcs"] for r in records] == [{"type": "git", "revision": c} for c in (h.commit_a, h.commit_b)]
    a, b = records
    assert a["version"] == "0.1.0" and a["tool"]["name"] == "gitbench"
    assert a["id"] == str(uuid.UUID(a["id"])) and a["id"] != b["id"]
    assert a["files"] == [
        {
            "path": "src/app.py",
            "conversations": [
                {
                    "contributor": {"type": "ai", "model_id": f"anthropic/{CLAUDE_MODEL}"},
                    "ranges": [
                        {
                            "start_line": 2,
                            "end_line": 3,
                            "content_hash": "sha256:" + sha256(b'    message = "hi " + name\n    return message\n'),
                        }
                    ],
                }
            ],
        }
    ]
    meta = a["metadata"]["dev.gitbench"]
    assert meta["job"] == h.job_a["id"] and meta["kind"] == "exec" and meta["step"] == "1/1 exec"
    assert meta["checkpoint"] == nth_checkpoint(h.wb, 2) and meta["agent"] == "claude-code"
    assert meta["assisted_by"] == f"claude-code:{CLAUDE_MODEL}" and meta["status"] == "complete"
    when = git(
        h.wb, "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", h.commit_a, env={"TZ": "UTC"}
    )
    assert a["timestamp"] == when.strip()

    conversation = b["files"][0]["conversations"][0]
    assert conversation["contributor"] == {"type": "ai", "model_id": "fake/test-model"}
    assert [(r["start_line"], r["end_line"]) for r in conversation["ranges"]] == [(8, 11)]
    meta = b["metadata"]["dev.gitbench"]
    assert meta["agent"] == "gitbench" and meta["conversation"] == h.job_b["conversation"] and meta["turn"] == 1
    # The prompt stays in the conversation records: never in an exported record.
    assert "farewell function" not in json.dumps(records)
    # The same steps get the same record ids, export after export.
    assert [r["id"] for r in export(h.wb)] == [a["id"], b["id"]]


def test_a_range_selects_the_steps_of_a_draft_and_a_revision_brings_its_history(history: History) -> None:
    h = history
    draft = export(h.wb, "--rev", f"main..{h.draft_c}")
    assert [r["vcs"]["revision"] for r in draft] == [h.commit_c]
    validate(draft[0])
    assert [(x["start_line"], x["end_line"]) for x in draft[0]["files"][0]["conversations"][0]["ranges"]] == [(7, 7)]
    everything = export(h.wb, "--rev", h.draft_c)
    assert [r["vcs"]["revision"] for r in everything] == [h.commit_a, h.commit_b, h.commit_c]
    assert [r["vcs"]["revision"] for r in export(h.wb, "--rev", f"{h.commit_a}..")] == [h.commit_b]
    assert export(h.wb, "--rev", h.initial) == []  # hand-made history has no job steps


def test_a_plain_commands_step_is_a_human_contribution_and_deletions_have_no_ranges(
    workbench: Path,
) -> None:
    import sys

    code = (
        "import pathlib; pathlib.Path('src/app.py').unlink(); "
        "pathlib.Path('src/new.py').write_text('a\\nb\\n'); pathlib.Path('src/bin.dat').write_bytes(b'\\0\\1')"
    )
    res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stderr
    label = json.loads(res.stdout)["result"]["job"]["id"]
    (record,) = export(workbench, "--rev", f"main..{label}")
    validate(record)
    assert record["files"] == [
        {
            "path": "src/new.py",
            "conversations": [
                {
                    "contributor": {"type": "human"},
                    "ranges": [
                        {
                            "start_line": 1,
                            "end_line": 2,
                            "content_hash": "sha256:" + hashlib.sha256(b"a\nb\n").hexdigest(),
                        }
                    ],
                }
            ],
        }
    ]
    assert "agent" not in record["metadata"]["dev.gitbench"]


def test_output_file_and_json_forms(history: History, tmp_path: Path) -> None:
    h = history
    out = tmp_path / "traces.jsonl"
    res = gitbench(h.wb, "export", "agent-trace", "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "Wrote 2 Agent Trace record(s)" in res.stdout
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        validate(json.loads(line))
    res = gitbench(h.wb, "export", "agent-trace", "--json")
    data = json.loads(res.stdout)
    assert data["ok"] is True and data["result"]["count"] == 2
    assert [json.loads(line) for line in lines] == data["result"]["records"]


@pytest.mark.parametrize("rev", ["a...b", "no-such-rev", "main..no-such"])
def test_a_bad_range_is_a_usage_error(history: History, rev: str) -> None:
    res = gitbench(history.wb, "export", "agent-trace", "--rev", rev, "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    assert json.loads(res.stdout)["error"]["code"] == "usage"
