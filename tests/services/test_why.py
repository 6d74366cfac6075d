"""gitbench/services/why.py through the real entry point, in-process, on histories made with the git CLI: a
checkpoint beginning that several share, binary files and a last line without its newline, lines of one commit
that blame splits in two, and a job named by a trailer whose record is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import checkpoint_names, git, gitbench

JOB_TRAILERS = "\n\nGitbench-Job: j-gone\nGitbench-Step: 1/1 exec\nGitbench-Status: complete\n"


def why(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, "why", *args, "--json")
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def commit(wb: Path, name: str, text: str | bytes, message: str) -> str:
    f = wb / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    git(wb, "add", name)
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", message)
    return git(wb, "rev-parse", "HEAD").strip()


def test_a_checkpoint_beginning_that_several_share_is_refused_with_them_listed(workbench: Path) -> None:
    assert gitbench(workbench, "checkpoint", "-m", "mine").returncode == 0
    names = checkpoint_names(workbench)
    day = names[0].removeprefix("checkpoint/")[:6]
    err = why(workbench, "README.md", "--rev", day)["error"]
    assert err["code"] == "checkpoint-not-found"
    assert err["details"]["candidates"] == names


def test_binary_files_no_final_newline_and_a_path_with_a_colon_that_is_not_there(workbench: Path) -> None:
    commit(workbench, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0", "add a logo")
    err = why(workbench, "logo.png")["error"]
    assert err["code"] == "usage" and err["message"].startswith("logo.png is a binary file at Published (main)")
    assert err["actions"][0]["command"].startswith("git log --oneline ")

    commit(workbench, "notes.txt", "one\ntwo", "notes without a final newline")
    result = why(workbench, "notes.txt")["result"]
    assert (result["first"], result["last"], result["line_count"]) == (1, 2, 2)
    assert result["origins"][0]["lines"] == ["one", "two"]

    err = why(workbench, "nothere:3")["error"]  # neither `nothere` nor `nothere:3` is a file
    assert err["message"].startswith("nothere is no file at Published (main)")


def test_lines_of_one_commit_that_blame_splits_read_as_one_group(workbench: Path) -> None:
    first = commit(workbench, "list.txt", "a\nb\nc\nd\n", "four lines")
    commit(workbench, "list.txt", "a\nc\nd\n", "drop b")  # a and c: one commit's, its lines 1 and 3
    result = why(workbench, "list.txt")["result"]
    assert [(o["start"], o["end"], o["commit"]) for o in result["origins"]] == [(1, 3, first)]
    assert result["origins"][0]["lines"] == ["a", "c", "d"]


def test_a_job_whose_record_is_gone_still_reads_from_its_trailers_once_for_each_group(workbench: Path) -> None:
    job = commit(workbench, "list.txt", "a\nb\nc\n", "the job's lines" + JOB_TRAILERS)
    hand = commit(workbench, "list.txt", "a\nB\nc\n", "by hand")
    result = why(workbench, "list.txt")["result"]
    assert [(o["start"], o["end"], o["commit"]) for o in result["origins"]] == [(1, 1, job), (2, 2, hand), (3, 3, job)]
    first, middle, last = result["origins"]
    for o in (first, last):
        assert o["by_hand"] is False and o["job"] == "j-gone" and o["step"] == "1/1 exec"
        assert o["status"] == "complete" and o["kind"] is None and o["prompt"] is None
    assert middle["by_hand"] is True and middle["subject"] == "by hand"


def test_a_job_record_whose_object_is_missing_leaves_the_trailers_answer(workbench: Path) -> None:
    # The records ref's newest commit (with the job's record), then lost: a damaged object store.
    env_index = {"GIT_INDEX_FILE": str(workbench / ".git" / "why-test-index")}
    git(workbench, "read-tree", "refs/gitbench/records", env=env_index)
    record = workbench / ".git" / "why-test-record.json"
    record.write_text('{"id": "j-lost", "kind": "exec", "status": "complete", "unique": "why-test"}')
    blob = git(workbench, "hash-object", "-w", str(record)).strip()
    git(workbench, "update-index", "--add", "--cacheinfo", f"100644,{blob},jobs/j-lost.json", env=env_index)
    tree = git(workbench, "write-tree", env=env_index).strip()
    parent = git(workbench, "rev-parse", "refs/gitbench/records").strip()
    lost = git(workbench, "commit-tree", tree, "-p", parent, "-m", "the record of j-lost").strip()
    git(workbench, "update-ref", "refs/gitbench/records", lost, parent)
    job = commit(workbench, "list.txt", "a\n", "the job's line" + JOB_TRAILERS.replace("j-gone", "j-lost"))
    (workbench / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    (origin,) = why(workbench, "list.txt")["result"]["origins"]
    assert origin["commit"] == job and origin["job"] == "j-lost" and origin["by_hand"] is False
    assert origin["step"] == "1/1 exec" and origin["status"] == "complete"
    assert origin["kind"] is None and origin["command"] is None and origin["prompt"] is None
    git(workbench, "update-ref", "refs/gitbench/records", parent, lost)  # the invariants read every record
