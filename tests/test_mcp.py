"""`gitbench mcp`, driven by the official `mcp` SDK's own client over stdio, on real Workbenches.

The real server process is started by ``mcp.client.stdio.stdio_client``; every tool is called through
``ClientSession.call_tool``; results are checked against the CLI's ``--json`` output and against Git itself. The
approval of publish and restore is answered by the client's elicitation callback, as a real client asks its user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import checkpoint_names, git, gitbench, nth_checkpoint, run_hook

TOOLS = {"status", "review", "checkpoint", "checkpoints", "publish", "discard", "restore", "why"}
Elicit = Callable[[Any, types.ElicitRequestParams], Awaitable[types.ElicitResult | types.ErrorData]]


@asynccontextmanager
async def connect(
    folder: Path, elicit: Elicit | None = None, args: tuple[str, ...] = (), era: str = "legacy"
) -> AsyncIterator[Any]:
    """A client connected to a `gitbench mcp` process started in ``folder`` (its stderr kept beside it).

    ``era``: "legacy" is the SDK's ClientSession with the initialize handshake (protocol 2025-11-25: the server
    asks the user with an `elicitation/create` request in the middle of the call); "modern" is the SDK's Client,
    which discovers protocol 2026-07-28 (as Claude Code speaks it: the question comes back as an `input_required`
    result and the client calls again with the answer)."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "gitbench", "mcp", *args], cwd=str(folder), env=dict(os.environ)
    )
    log = folder.parent / f"{folder.name}-mcp.stderr"
    with open(log, "a") as errlog:
        if era == "modern":
            async with Client(stdio_client(params, errlog=errlog), elicitation_callback=elicit) as client:
                assert client.session.protocol_version == "2026-07-28"
                yield client
        else:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, elicitation_callback=elicit) as session:
                    init = await session.initialize()
                    assert init.protocol_version == "2025-11-25"
                    yield session
    # Errors are answers, never crashes: the server logged no traceback.
    assert "Traceback" not in log.read_text(), log.read_text()


def answer(action: str, approve: bool | None = None, seen: list[str] | None = None) -> Elicit:
    """An elicitation callback that answers ``action`` (accept with ``approve``), noting each question in
    ``seen``."""

    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        props = params.requested_schema["properties"]
        assert props["approve"]["type"] == "boolean", params.requested_schema
        if seen is not None:
            seen.append(params.message)
        content = {"approve": approve} if action == "accept" else None
        return types.ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    return callback


def ok(res: types.CallToolResult) -> Any:
    assert not res.is_error, res.content
    data = res.structured_content
    assert data is not None and data["ok"] is True
    # The text is the same JSON, for clients that show only text to the model.
    text = res.content[0]
    assert isinstance(text, types.TextContent) and json.loads(text.text) == data
    return data["result"]


def error(res: types.CallToolResult) -> dict[str, Any]:
    assert res.is_error, res.structured_content
    data = res.structured_content
    assert data is not None and data["ok"] is False
    err: dict[str, Any] = data["error"]
    text = res.content[0]
    assert isinstance(text, types.TextContent) and text.text.startswith(f"error: {err['code']} (exit ")
    return err


def cli_json(wb: Path, *args: str) -> Any:
    res = gitbench(wb, *args, "--json")
    return json.loads(res.stdout)


def make_draft(wb: Path, script: str = "echo bye > src/app.py; echo new > src/new.py") -> str:
    res = gitbench(wb, "exec", "--", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    return git(wb, "for-each-ref", "--format=%(refname:strip=4)", "refs/heads/gitbench/draft/").strip()


def draft_ref(label: str) -> str:
    return f"refs/heads/gitbench/draft/{label}"


def rev(wb: Path, ref: str) -> str:
    return git(wb, "rev-parse", ref).strip()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_lists_every_tool_with_its_schemas(workbench: Path, era: str) -> None:
    async def scenario() -> None:
        async with connect(workbench, era=era) as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools) == TOOLS
            for t in tools.values():
                assert t.description and t.input_schema["type"] == "object", t.name
                assert t.output_schema is not None, t.name
                jsonschema.Draft202012Validator.check_schema(t.input_schema)
                jsonschema.Draft202012Validator.check_schema(t.output_schema)
            assert set(tools["publish"].input_schema["properties"]) == {"draft", "check", "no_check"}
            assert tools["restore"].input_schema["required"] == ["name"]
            assert set(tools["restore"].input_schema["properties"]) == {"name", "keep_draft"}
            assert tools["why"].input_schema["required"] == ["target"]
            assert set(tools["review"].input_schema["properties"]) == {"draft", "patch"}
            # No argument approves anything: the model could set it itself.
            assert not any("approv" in p for t in tools.values() for p in t.input_schema["properties"])
            # Reads are marked read-only; what moves Published or removes a Draft, destructive.
            assert tools["status"].annotations and tools["status"].annotations.read_only_hint is True
            assert tools["publish"].annotations and tools["publish"].annotations.destructive_hint is True
            # Each answer fits the schema the tool declares.
            status = await s.call_tool("status", {})
            jsonschema.validate(status.structured_content, tools["status"].output_schema)
            cps = await s.call_tool("checkpoints", {})
            jsonschema.validate(cps.structured_content, tools["checkpoints"].output_schema)

    run(scenario)


def test_status_review_and_checkpoints_answer_what_the_cli_prints_as_json(workbench: Path) -> None:
    label = make_draft(workbench)

    async def scenario() -> None:
        async with connect(workbench) as s:
            status = ok(await s.call_tool("status", {}))
            assert status == cli_json(workbench, "status")["result"]
            assert status["draft"]["label"] == label and status["draft"]["files_changed"] == 2
            review = ok(await s.call_tool("review", {}))
            assert review == cli_json(workbench, "review")["result"]
            assert [f["path"] for f in review["files"]] == ["src/app.py", "src/new.py"] and review["patch"] is None
            patch = ok(await s.call_tool("review", {"draft": label, "patch": True}))
            assert "+bye" in patch["patch"] and patch == cli_json(workbench, "review", "--patch")["result"]
            cps = ok(await s.call_tool("checkpoints", {}))
            assert cps == cli_json(workbench, "checkpoints")["result"]
            assert [c["kind"] for c in cps] == ["init", "auto"]

    run(scenario)


def test_checkpoints_lists_the_newest_and_says_how_many_are_older_as_the_cli_does(workbench: Path) -> None:
    for i in range(3):
        assert gitbench(workbench, "checkpoint", "-m", f"n{i}").returncode == 0
    every = checkpoint_names(workbench)

    async def scenario() -> None:
        async with connect(workbench) as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools["checkpoints"].input_schema["properties"]) == {"limit", "all"}
            page = await s.call_tool("checkpoints", {"limit": 2})
            jsonschema.validate(page.structured_content, tools["checkpoints"].output_schema)
            assert [c["name"] for c in ok(page)] == every[-2:] and page.structured_content["older"] == 2
            assert page.structured_content == cli_json(workbench, "checkpoints", "--limit", "2")
            whole = await s.call_tool("checkpoints", {"all": True})
            assert [c["name"] for c in ok(whole)] == every and whole.structured_content["older"] == 0
            assert (await s.call_tool("checkpoints", {"limit": 0})).is_error  # the SDK checks the schema

    run(scenario)


def test_checkpoint_takes_a_tag_and_discard_keeps_the_draft_recoverable(workbench: Path) -> None:
    label = make_draft(workbench)
    main = rev(workbench, "main")
    head = rev(workbench, draft_ref(label))

    async def scenario() -> None:
        async with connect(workbench) as s:
            res = ok(await s.call_tool("checkpoint", {"message": "before the agent's next try"}))
            assert res["operation"] == "checkpoint" and res["checkpoints"] == [nth_checkpoint(workbench, 3)]
            gone = ok(await s.call_tool("discard", {}))
            assert gone["operation"] == "discard"
            again = error(await s.call_tool("discard", {}))
            assert (again["code"], again["exit_code"]) == ("no-draft", 5)

    run(scenario)
    made = nth_checkpoint(workbench, 3)
    assert "before the agent's next try" in git(workbench, "tag", "-n9", "-l", made)
    assert rev(workbench, made + "^{commit}") == main
    # Discard: the Draft is gone, Published untouched, and the user can bring it back.
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""
    assert rev(workbench, "main") == main
    assert gitbench(workbench, "discard", "--undo").returncode == 0
    assert rev(workbench, draft_ref(label)) == head


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_publish_without_elicitation_is_refused_with_the_command_for_the_user(workbench: Path, era: str) -> None:
    label = make_draft(workbench)
    main = rev(workbench, "main")

    async def scenario() -> None:
        async with connect(workbench, era=era) as s:  # a client without the elicitation capability
            err = error(await s.call_tool("publish", {}))
            assert (err["code"], err["exit_code"]) == ("approval-required", 17)
            assert err["details"]["command"] == f"gitbench publish --draft {label}"
            assert [a["command"] for a in err["actions"]] == [f"gitbench publish --draft {label}"]
            assert "Nothing was changed" in err["message"]

    run(scenario)
    assert rev(workbench, "main") == main
    assert git(workbench, "for-each-ref", "--format=%(refname:strip=4)", "refs/heads/gitbench/draft/").strip() == label
    # The command it names is the one that works when the user runs it.
    res = gitbench(workbench, "publish", "--draft", label)
    assert res.returncode == 0, res.stderr
    assert (workbench / "src/app.py").read_text() == "bye\n"


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_publish_approved_by_the_user_fast_forwards_published(workbench: Path, era: str) -> None:
    label = make_draft(workbench)
    main = rev(workbench, "main")
    head = rev(workbench, draft_ref(label))
    questions: list[str] = []

    async def scenario() -> None:
        async with connect(workbench, answer("accept", True, questions), era=era) as s:
            res = ok(await s.call_tool("publish", {}))
            assert res["operation"] == "publish" and res["published"] == head

    run(scenario)
    # The user was asked once, told exactly what would happen.
    assert len(questions) == 1
    q = questions[0]
    assert f"Publish the Draft {label}?" in q and "2 file(s)" in q and "src/app.py, src/new.py" in q
    assert f"from {main[:12]} to {head[:12]}" in q and "checkpoint" in q
    assert rev(workbench, "main") == head
    assert git(workbench, "log", "--format=%H", "-2", "main").split() == [head, main]
    assert (workbench / "src/app.py").read_text() == "bye\n" and (workbench / "src/new.py").read_text() == "new\n"
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""
    assert "publish" in git(workbench, "tag", "-n1", "-l", "checkpoint/*")


@pytest.mark.parametrize(
    ("action", "approve", "said"),
    [("decline", None, "declined"), ("cancel", None, "dismissed"), ("accept", False, "said no")],
)
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_publish_refused_by_the_user_changes_nothing(
    workbench: Path, action: str, approve: bool | None, said: str, era: str
) -> None:
    label = make_draft(workbench)
    main = rev(workbench, "main")
    head = rev(workbench, draft_ref(label))

    async def scenario() -> None:
        async with connect(workbench, answer(action, approve), era=era) as s:
            err = error(await s.call_tool("publish", {"draft": label}))
            assert (err["code"], err["exit_code"]) == ("approval-declined", 130)
            assert said in err["message"] and "nothing was changed" in err["message"]

    run(scenario)
    assert rev(workbench, "main") == main
    assert rev(workbench, draft_ref(label)) == head
    assert git(workbench, "status", "--porcelain") == ""


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_restore_asks_the_user_and_takes_a_pre_restore_checkpoint(workbench: Path, era: str) -> None:
    first = rev(workbench, "main")
    make_draft(workbench)
    assert gitbench(workbench, "publish").returncode == 0
    published = rev(workbench, "main")
    questions: list[str] = []
    init = nth_checkpoint(workbench, 1)
    stamp = init.removeprefix("checkpoint/")[:13]  # YYMMDD-HHMMSS: a unique beginning of its name

    async def scenario() -> None:
        async with connect(workbench, era=era) as s:
            err = error(await s.call_tool("restore", {"name": stamp}))
            assert (err["code"], err["exit_code"]) == ("approval-required", 17)
            assert err["details"]["command"] == f"gitbench restore {init} --yes"
        # One client answers both questions: the user declines, then accepts when asked again.
        user = {"answer": answer("decline")}

        async def ask_user(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult | types.ErrorData:
            return await user["answer"](context, params)

        async with connect(workbench, ask_user, era=era) as s:
            err = error(await s.call_tool("restore", {"name": init}))
            assert err["code"] == "approval-declined"
            assert rev(workbench, "main") == published
            user["answer"] = answer("accept", True, questions)
            res = ok(await s.call_tool("restore", {"name": init}))
            assert res["operation"] == "restore" and res["published"] == first

    run(scenario)
    q = questions[0]
    assert q.startswith(f"Restore {init} (init") and f"from {published[:12]} to {first[:12]}" in q
    assert "pre-restore checkpoint" in q
    assert rev(workbench, "main") == first
    assert (workbench / "src/app.py").read_text() == "print('hello')\n"
    assert not (workbench / "src/new.py").exists()
    tags = git(workbench, "tag", "-n1", "-l", "checkpoint/*")
    assert "pre-restore" in tags


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_errors_come_back_with_our_codes_before_anyone_is_asked(workbench: Path, era: str) -> None:
    questions: list[str] = []

    async def scenario() -> None:
        async with connect(workbench, answer("accept", True, questions), era=era) as s:
            err = error(await s.call_tool("publish", {}))
            assert (err["code"], err["exit_code"]) == ("no-draft", 5)
            assert "gitbench discard --undo" in [a["command"] for a in err["actions"]]
            err = error(await s.call_tool("review", {"draft": "nope"}))
            assert (err["code"], err["exit_code"]) == ("no-draft", 5) and "'nope'" in err["message"]
            err = error(await s.call_tool("restore", {"name": "checkpoint/99"}))
            assert (err["code"], err["exit_code"]) == ("checkpoint-not-found", 10)
            assert err == cli_json(workbench, "restore", "checkpoint/99", "--yes")["error"]
            make_draft(workbench)
            err = error(await s.call_tool("restore", {"name": nth_checkpoint(workbench, 1)}))
            assert (err["code"], err["exit_code"]) == ("draft-open", 4)
            # A bad argument is the SDK's own validation error, still an error result.
            res = await s.call_tool("restore", {})
            assert res.is_error

    run(scenario)
    assert questions == []


def test_one_process_serves_many_calls_and_sees_what_others_change(workbench: Path) -> None:
    async def scenario() -> None:
        async with connect(workbench) as s:
            for _ in range(20):
                assert ok(await s.call_tool("status", {}))["draft"] is None
            # Other processes change the Workbench between calls: nothing stale is served.
            label = make_draft(workbench)
            assert ok(await s.call_tool("status", {}))["draft"]["label"] == label
            assert gitbench(workbench, "checkpoint", "-m", "from the CLI").returncode == 0
            names = [c["name"] for c in ok(await s.call_tool("checkpoints", {}))]
            assert names == checkpoint_names(workbench) and len(names) == 3
            assert gitbench(workbench, "discard", "--yes").returncode == 0
            assert ok(await s.call_tool("status", {}))["draft"] is None
            # The server keeps its repository open between calls: a publish by another process, a file edited
            # by hand (the index and the files), are seen at once.
            label = make_draft(workbench)
            assert ok(await s.call_tool("review", {}))["draft"] == label
            assert gitbench(workbench, "publish").returncode == 0
            status = ok(await s.call_tool("status", {}))
            assert status["published"]["commit"] == rev(workbench, "main") and status["local_changes"] == []
            (workbench / "README.md").write_text("edited by hand\n")
            assert ok(await s.call_tool("status", {}))["local_changes"] == ["README.md"]
            git(workbench, "checkout", "--", "README.md")
            assert ok(await s.call_tool("status", {}))["local_changes"] == []
            assert error(await s.call_tool("review", {}))["code"] == "no-draft"
            for i in range(5):
                made = ok(await s.call_tool("checkpoint", {"message": f"n{i}"}))["checkpoints"]
                assert made == checkpoint_names(workbench)[-1:] and f"n{i}" in git(workbench, "tag", "-n1", *made)

    run(scenario)
    assert len(git(workbench, "tag", "-l", "checkpoint/*").split()) == 10


def test_serves_the_folder_named_with_workbench_option(workbench: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def scenario() -> None:
        async with connect(elsewhere, args=("--workbench", str(workbench))) as s:
            assert ok(await s.call_tool("status", {}))["workbench"] == str(workbench)

    run(scenario)


def test_refuses_to_start_outside_a_workbench(project: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "gitbench", "mcp"], cwd=project, capture_output=True, text=True, input="", timeout=60
    )
    assert res.returncode == 3 and res.stdout == ""
    assert "not-a-workbench" in res.stderr and "gitbench init" in res.stderr


def test_why_explains_a_line(workbench: Path) -> None:
    make_draft(workbench)
    assert gitbench(workbench, "publish").returncode == 0

    async def scenario() -> None:
        async with connect(workbench) as s:
            res = ok(await s.call_tool("why", {"target": "src/app.py:1"}))
            assert res == cli_json(workbench, "why", "src/app.py:1")["result"]

    run(scenario)


def test_publish_runs_the_check_it_is_given(workbench: Path) -> None:
    label = make_draft(workbench)
    main = rev(workbench, "main")

    questions: list[str] = []

    async def scenario() -> None:
        async with connect(workbench, answer("accept", True, questions)) as s:
            err = error(await s.call_tool("publish", {"check": "false"}))
            assert (err["code"], err["exit_code"]) == ("check-failed", 16), err

    run(scenario)
    assert "The check `false` must pass first." in questions[0]
    assert rev(workbench, "main") == main and git(workbench, "rev-parse", draft_ref(label))


def test_the_question_says_when_the_projects_check_is_skipped_or_replaced(workbench: Path) -> None:
    (workbench / ".gitbench").mkdir(exist_ok=True)
    (workbench / ".gitbench" / "config.toml").write_text('[publish]\ncheck = "false"\n')
    make_draft(workbench)
    main = rev(workbench, "main")
    questions: list[str] = []

    async def scenario() -> None:
        async with connect(workbench, answer("decline", None, questions)) as s:
            err = error(await s.call_tool("publish", {"check": "true", "no_check": True}))
            assert (err["code"], err["exit_code"]) == ("usage", 2), err
            await s.call_tool("publish", {"no_check": True})
            await s.call_tool("publish", {"check": "true"})
            await s.call_tool("publish", {})

    run(scenario)
    assert len(questions) == 3, questions  # the contradiction was refused before anyone was asked
    assert "The project's check `false` will NOT run" in questions[0]
    assert "The check `true` must pass first, INSTEAD OF the project's check `false`" in questions[1]
    assert "The project's check `false` must pass first." in questions[2]
    assert rev(workbench, "main") == main


def test_everyday_commands_do_not_import_the_mcp_sdk(workbench: Path) -> None:
    for args in (["status"], ["checkpoints"], ["review", "--json"]):
        res = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "gitbench", *args],
            cwd=workbench,
            capture_output=True,
            text=True,
            timeout=60,
        )
        modules = {line.split("|")[-1].strip().split(".")[0] for line in res.stderr.splitlines() if "|" in line}
        assert not modules & {"mcp", "mcp_types", "pydantic", "anyio"}, (args, modules & {"mcp", "pydantic"})


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_a_sessions_agent_means_its_own_draft_when_several_are_open(workbench: Path, era: str) -> None:
    """gitbench's hooks gave the agent a session Draft, beside a Draft of an earlier job: `review`, `publish` and
    `discard` without `draft` act on the agent's own session's Draft (they answered `draft-ambiguous`, whose
    actions name both labels without saying which one is the agent's). The CLI still asks which one."""
    other = make_draft(workbench)
    start = {"session_id": "s1", "cwd": str(workbench), "source": "startup"}
    # The session's agent is this test process: the hook's parent, and the MCP server's parent below.
    res = run_hook(workbench, "claude-code", "SessionStart", start)
    assert res.returncode == 0, res.stderr
    labels = git(workbench, "for-each-ref", "--format=%(refname:strip=4)", "refs/heads/gitbench/draft/").split()
    (own,) = [label for label in labels if label != other]
    tree = json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"].split("Its worktree is ")[1].split(":")[0]
    Path(tree, "src", "app.py").write_text("print('from the session')\n")
    assert gitbench(workbench, "review", "--json").returncode == 4  # the user's CLI: which one?
    questions: list[str] = []

    async def scenario() -> None:
        async with connect(workbench, answer("accept", True, questions), era=era) as s:
            assert ok(await s.call_tool("review", {}))["draft"] == own
            published = ok(await s.call_tool("publish", {}))
            assert published["draft"] == draft_ref(own), published

    run(scenario)
    assert len(questions) == 1 and f"Publish the Draft {own}?" in questions[0], questions
    assert (workbench / "src/app.py").read_text() == "print('from the session')\n"
    assert git(workbench, "for-each-ref", "--format=%(refname:strip=4)", "refs/heads/gitbench/draft/").split() == [
        other
    ]
