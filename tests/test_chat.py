"""The Workshop conversation (issue 3 "Workshop conversation"): `gitbench ask` continues the current conversation
and tells the model what was asked and done before; `--new` starts another; the transcript lives on the records
ref, so Restore takes it back in time with everything else; `gitbench chat` shows it with each publish checkpoint
inline and the command that restores it; on a terminal, `gitbench chat` takes prompts one after another.
`gitbench jobs` and `gitbench report` show what each job did.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tests.conftest import check_invariants, git, gitbench
from tests.provider_server import ProviderServer, ok, status, user_text
from tests.terminal import Terminal


def summary_answer(summary: str) -> dict[str, Any]:
    """The default edit (a line appended to every file sent) with this summary."""

    def fn(files: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        return {
            "summary": summary,
            "edits": [{"op": "write", "path": p, "content": t + "edited\n"} for p, t in files.items()],
        }

    return ok(fn)


def ask(wb: Path, prompt: str, *args: str) -> dict[str, Any]:
    res = gitbench(wb, "ask", prompt, "--files", "src/**", "--json", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    data: dict[str, Any] = json.loads(res.stdout)["result"]
    return data


def publish(wb: Path) -> str:
    res = gitbench(wb, "publish", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    cps = json.loads(res.stdout)["result"]["checkpoints"]
    return str(cps[-1])


def restore(wb: Path, checkpoint: str) -> str:
    """Restore; return the checkpoint the restore took first (to undo it)."""
    res = gitbench(wb, "restore", checkpoint, "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    cps = json.loads(res.stdout)["result"]["checkpoints"]
    return str(next(c for c in cps if c != checkpoint))


def chat_json(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, "chat", "--json", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    data: dict[str, Any] = json.loads(res.stdout)["result"]
    return data


def transcript(wb: Path, conversation: str) -> list[dict[str, Any]]:
    text = git(wb, "show", f"refs/gitbench/records:chat/{conversation}.jsonl")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def chat_text(wb: Path, *args: str) -> str:
    res = gitbench(wb, "chat", *args, env={"COLUMNS": "300"})
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


# -- continuing and starting conversations --------------------------------------------------------------------------


def test_ask_continues_the_conversation_and_sends_the_earlier_prompt_and_summary_as_history(
    workbench: Path, provider: ProviderServer
) -> None:
    provider.push(summary_answer("Added a greeting line to src/app.py."))
    first = ask(workbench, "Greet the user")
    conv = first["job"]["conversation"]
    assert "Earlier in this conversation" not in user_text(provider.posts[0]["body"])
    publish(workbench)

    second = ask(workbench, "Now say goodbye too")
    assert second["job"]["conversation"] == conv
    sent = user_text(provider.posts[1]["body"])
    history, _, request = sent.partition("Request: ")
    assert "Earlier in this conversation" in history
    assert "User: Greet the user" in history and "You: Added a greeting line to src/app.py." in history
    assert request.startswith("Now say goodbye too")

    lines = transcript(workbench, conv)
    assert [(m["role"], m["turn"]) for m in lines] == [("user", 1), ("assistant", 1), ("user", 2), ("assistant", 2)]
    assert lines[0]["text"] == "Greet the user" and lines[0]["job"] == first["job"]["id"]
    assert lines[1]["text"] == "Added a greeting line to src/app.py." and lines[1]["status"] == "complete"
    assert lines[1]["files"] == ["src/app.py"] and lines[1]["model"] == "fake:test-model"
    assert lines[2]["text"] == "Now say goodbye too" and lines[3]["job"] == second["job"]["id"]
    current = json.loads(git(workbench, "show", "refs/gitbench/records:chat/current.json"))
    assert current == {"conversation": conv}
    check_invariants(workbench)


def test_new_starts_a_conversation_without_the_earlier_history(workbench: Path, provider: ProviderServer) -> None:
    first = ask(workbench, "Greet the user")
    publish(workbench)
    fresh = ask(workbench, "Count to three", "--new")
    old, new = first["job"]["conversation"], fresh["job"]["conversation"]
    assert new != old
    sent = user_text(provider.posts[1]["body"])
    assert "Earlier in this conversation" not in sent and "Greet the user" not in sent
    assert json.loads(git(workbench, "show", "refs/gitbench/records:chat/current.json")) == {"conversation": new}
    assert [m["text"] for m in transcript(workbench, new) if m["role"] == "user"] == ["Count to three"]
    assert [m["text"] for m in transcript(workbench, old) if m["role"] == "user"] == ["Greet the user"]

    assert chat_json(workbench)["conversation"] == new  # the current one
    shown = chat_json(workbench, old)
    assert shown["conversation"] == old
    assert [i["text"] for i in shown["items"] if i.get("role") == "user"] == ["Greet the user"]

    publish(workbench)
    ask(workbench, "And to four")  # continues the new conversation, not the old one
    sent = user_text(provider.posts[2]["body"])
    assert "User: Count to three" in sent and "Greet the user" not in sent


def test_a_failed_turn_is_in_the_transcript_with_its_reason(workbench: Path, provider: ProviderServer) -> None:
    provider.push(status(500), status(500), status(500))
    res = gitbench(workbench, "ask", "Greet the user", "--files", "src/**", "--json")
    assert res.returncode == 21, res.stdout + res.stderr
    conv = json.loads(git(workbench, "show", "refs/gitbench/records:chat/current.json"))["conversation"]
    last = transcript(workbench, conv)[-1]
    assert last["role"] == "assistant" and last["status"] == "failed"
    assert "HTTP 500" in last["text"] and "HTTP 500" in last["error"]
    text = chat_text(workbench)
    job = last["job"]
    assert f"job {job} failed" in text and f"report: gitbench report {job}" in text


# -- gitbench chat, and restore taking the transcript back in time --------------------------------------------------


def test_chat_shows_each_publish_checkpoint_inline_and_restore_takes_the_transcript_back_in_time(
    workbench: Path, provider: ProviderServer
) -> None:
    provider.push(summary_answer("Greeting added."), summary_answer("Goodbye added."))
    first = ask(workbench, "Greet the user")
    cp1 = publish(workbench)
    second = ask(workbench, "Say goodbye")
    cp2 = publish(workbench)

    data = chat_json(workbench)
    kinds = [(i["type"], i.get("role"), i.get("name")) for i in data["items"]]
    assert kinds == [
        ("message", "user", None),
        ("message", "assistant", None),
        ("checkpoint", None, cp1),
        ("message", "user", None),
        ("message", "assistant", None),
        ("checkpoint", None, cp2),
    ]
    checkpoint = data["items"][2]
    assert checkpoint["restore"] == f"gitbench restore {cp1}" and checkpoint["job"] == first["job"]["id"]
    assert checkpoint["commit"] == git(workbench, "rev-parse", f"{cp1}^{{commit}}").strip()

    text = chat_text(workbench)
    assert f"Conversation {data['conversation']}" in text
    assert re.search(r"you: Greet the user\n.*fake:test-model: Greeting added\.\n", text)
    assert f"{cp1} published" in text and f"restore: gitbench restore {cp1}" in text
    assert f"restore: gitbench restore {cp2}" in text
    assert text.index("Greeting added.") < text.index(cp1 + " published") < text.index("you: Say goodbye")

    # Back to the first publish: the later turn is gone from the conversation, as from Published.
    undo = restore(workbench, cp1)
    after = chat_text(workbench)
    assert "Greet the user" in after and "Greeting added." in after and f"restore: gitbench restore {cp1}" in after
    assert "Say goodbye" not in after and "Goodbye added." not in after and cp2 not in after
    assert second["job"]["id"] not in git(workbench, "ls-tree", "-r", "--name-only", "refs/gitbench/records")

    # The checkpoint the restore took first brings the later turn back.
    restore(workbench, undo)
    back = chat_json(workbench)
    assert [i.get("text") for i in back["items"] if i.get("role") == "user"] == ["Greet the user", "Say goodbye"]
    assert f"restore: gitbench restore {cp2}" in chat_text(workbench)
    check_invariants(workbench)


def test_a_publish_checkpoint_follows_the_turn_it_published_even_within_the_same_second(
    workbench: Path, provider: ProviderServer
) -> None:
    # Checkpoint dates are Git dates (whole seconds); turns carry fractions of a second.
    same_second = {"GITBENCH_NOW": "1800000000.75"}
    res = gitbench(workbench, "ask", "Greet the user", "--files", "src/**", "--json", env=same_second)
    assert res.returncode == 0, res.stdout + res.stderr
    assert gitbench(workbench, "publish", env=same_second).returncode == 0
    kinds = [(i["type"], i.get("role")) for i in chat_json(workbench)["items"]]
    assert kinds == [("message", "user"), ("message", "assistant"), ("checkpoint", None)]


def test_asking_after_a_restore_continues_from_the_restored_transcript(
    workbench: Path, provider: ProviderServer
) -> None:
    ask(workbench, "Greet the user")
    cp1 = publish(workbench)
    ask(workbench, "Say goodbye")
    publish(workbench)
    restore(workbench, cp1)

    ask(workbench, "Say hello again")
    sent = user_text(provider.posts[-1]["body"])
    assert "User: Greet the user" in sent and "Say goodbye" not in sent
    users = [i["text"] for i in chat_json(workbench)["items"] if i.get("role") == "user"]
    assert users == ["Greet the user", "Say hello again"]


def test_chat_without_a_conversation_says_how_to_start_one(workbench: Path) -> None:
    assert "No conversation yet" in chat_text(workbench)
    assert chat_json(workbench) == {"conversation": None, "items": []}


# -- jobs and report ------------------------------------------------------------------------------------------------


def test_jobs_and_report_show_each_job_in_text_and_json(workbench: Path, provider: ProviderServer) -> None:
    (workbench / "src/more.py").write_text("more = 1\n")
    assert gitbench(workbench, "add", "src/more.py").returncode == 0
    done = ask(workbench, "Greet the user")["job"]
    publish(workbench)
    provider.push(status(503), status(503), status(503))
    res = gitbench(workbench, "ask", "Say goodbye", "--files", "src/**", "--json", "--model", "fake:other-model")
    assert res.returncode == 21, res.stdout + res.stderr
    failed = json.loads(res.stdout)["error"]["details"]["job"]

    items = json.loads(gitbench(workbench, "jobs", "--json").stdout)["result"]
    assert [(j["job"], j["kind"], j["status"]) for j in items] == [
        (done["id"], "ask", "published"),
        (failed, "ask", "failed"),
    ]
    assert items[0]["models"] == ["fake:test-model"] and items[0]["steps"] == 1 and items[0]["files"] == 2
    assert items[1]["models"] == ["fake:other-model"] and items[1]["class"] == "model-unavailable"
    assert items[1]["steps"] == 0 and items[1]["draft"].endswith(failed)
    assert set(items[0]) >= {
        "job",
        "kind",
        "status",
        "created",
        "updated",
        "models",
        "steps",
        "files",
        "class",
        "draft",
        "checkpoint",
    }
    listing = gitbench(workbench, "jobs", env={"COLUMNS": "300"}).stdout
    assert re.search(rf"{done['id']} .* ask\s+published\s+1 step\(s\) 2 file\(s\)\s+fake:test-model", listing)
    assert re.search(rf"{failed} .* ask\s+failed\s+0 step\(s\) 0 file\(s\)\s+fake:other-model", listing)
    assert "details: gitbench report JOB" in listing

    report = json.loads(gitbench(workbench, "report", "--json").stdout)["result"]  # the last job
    assert report["job"] == failed and report["status"] == "failed" and report["class"] == "model-unavailable"
    assert "HTTP 503" in report["reason"] and report["attempts"] == 3
    assert report["last_completed_step"] == 0 and report["steps_total"] == 1
    assert report["models"] == ["fake:other-model"] and report["files_changed"] == []
    assert report["checkpoints_created"] == [items[1]["checkpoint"]]
    assert report["usage"]["estimate"] > 0 and report["usage"]["actual"] is None
    assert report["partial_results"]["draft"] == items[1]["draft"]
    commands = [a.get("command") or "" for a in report["next_actions"]]
    assert f"gitbench resume {failed}" in commands
    assert f"gitbench resume {failed} --model PROVIDER:MODEL" in commands
    assert any(c.startswith("gitbench discard") and "gitbench restore" in c for c in commands)
    assert f"gitbench report {failed}" in commands

    text = gitbench(workbench, "report", env={"COLUMNS": "300"}).stdout
    assert f"Job {failed} (ask): failed" in text
    assert "[model-unavailable]" in text and "steps:      0/1 done" in text and "attempts:   3" in text
    assert f"gitbench resume {failed} --model PROVIDER:MODEL" in text

    ok_report = json.loads(gitbench(workbench, "report", done["id"], "--json").stdout)["result"]
    assert ok_report["status"] == "published"
    assert ok_report["files_changed"] == ["src/app.py", "src/more.py"] and ok_report["attempts"] == 1
    assert ok_report["usage"]["actual"] and ok_report["reason"] is None
    shown = gitbench(workbench, "report", done["id"], env={"COLUMNS": "300"}).stdout
    assert f"Job {done['id']} (ask)" in shown and "2 changed: src/app.py, src/more.py" in shown
    # Neither shows the prompt: it lives in the conversation only.
    for out in (listing, text, shown, json.dumps(report), json.dumps(ok_report)):
        assert "Greet the user" not in out and "Say goodbye" not in out
    missing = gitbench(workbench, "report", "no-such-job", "--json")
    assert missing.returncode == 2 and "no job no-such-job" in json.loads(missing.stdout)["error"]["message"]


def test_report_and_jobs_without_any_job(workbench: Path) -> None:
    res = gitbench(workbench, "report", "--json")
    assert res.returncode == 2 and "no jobs yet" in json.loads(res.stdout)["error"]["message"]
    assert json.loads(gitbench(workbench, "jobs", "--json").stdout)["result"] == []
    assert "No jobs yet" in gitbench(workbench, "jobs").stdout


# -- the interactive session ----------------------------------------------------------------------------------------


def test_an_interactive_chat_takes_prompts_one_after_another(workbench: Path, provider: ProviderServer) -> None:
    provider.push(summary_answer("Greeting added."), summary_answer("Goodbye added."))
    term = Terminal(workbench, ["chat", "--files", "src/**"])
    term.expect("No conversation yet")
    term.expect("Type a prompt")
    term.expect("› ")
    term.type("Greet the user")
    out = term.expect("› ")
    assert "Batch 1/1: 1 file(s) to fake:test-model" in out and "file(s) changed in Draft" in out
    term.type("/review")
    assert "+edited" in term.expect("› ")
    term.type("/publish")
    assert "checkpoint/" in term.expect("› ")
    term.type("Say goodbye")
    out = term.expect("› ")
    assert "Batch 1/1" in out
    term.type("/quit")
    assert term.finish() == 0

    assert len(provider.posts) == 2
    sent = user_text(provider.posts[1]["body"])
    assert "User: Greet the user" in sent and "You: Greeting added." in sent
    users = [i["text"] for i in chat_json(workbench)["items"] if i.get("role") == "user"]
    assert users == ["Greet the user", "Say goodbye"]
    assert git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    check_invariants(workbench)


def test_an_interactive_chat_asks_what_to_do_with_an_open_draft_and_ends_on_end_of_input(
    workbench: Path, provider: ProviderServer
) -> None:
    first = ask(workbench, "Greet the user")
    published = git(workbench, "rev-parse", "main").strip()
    term = Terminal(workbench, ["chat", "--files", "src/**"])
    term.expect("you: Greet the user")
    term.expect("› ")
    term.type("Say goodbye")
    term.expect("A Draft is open. Continue it")
    term.type("cancel")
    term.expect("› ")
    assert len(provider.posts) == 1  # cancelled: nothing sent
    term.type("/files docs/**")
    assert "files: docs/**" in term.expect("› ")
    os.write(term.master, b"\x04")  # Ctrl-D: the session ends
    assert term.finish() == 0
    assert git(workbench, "rev-parse", "main").strip() == published
    drafts = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()
    assert drafts == [first["draft"]]
    check_invariants(workbench)


def test_the_session_reads_slash_commands_in_process_and_goes_on_after_a_refusal(workbench: Path, capsys: Any) -> None:
    """The session object itself (a cmd.Cmd), without a terminal: /files and /model set what the next prompts
    use, an empty line does nothing (cmd.Cmd would repeat the last command), /help lists the commands, a refused
    /publish is shown and the session goes on, /quit and the end of input end it."""
    from gitbench.cli.chat_session import ChatSession
    from gitbench.services.workbench import Workbench

    session = ChatSession(Workbench(str(workbench)), ["src/**"], None)
    assert session.onecmd("/files docs/** README.md") is False
    assert session.files == ["docs/**", "README.md"]
    assert session.onecmd("/model fake:test-model") is False and session.model == "fake:test-model"
    assert session.onecmd("/model") is False and session.model is None
    assert session.onecmd("") is False
    assert session.onecmd("/help") is False
    assert session.onecmd("/publish") is False  # nothing to publish: refused, shown, and the session goes on
    out = capsys.readouterr()
    assert "files: docs/** README.md" in out.out and "model: fake:test-model" in out.out
    assert "model: (default)" in out.out and "review" in out.out and "publish" in out.out
    assert "error: no-draft" in out.err and "There is no open Draft." in out.err
    assert session.onecmd("/quit") is True and session.onecmd("/q") is True and session.onecmd("EOF") is True
    check_invariants(workbench)
