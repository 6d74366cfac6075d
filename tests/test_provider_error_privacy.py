"""Issue 14: a model server's error that quotes the request back stores nothing of the prompt or the files.

Some servers and proxies put the request in their error body (a validation error that echoes its input, a
gateway that dumps what it could not route). The scripted provider server does that here, for 4xx and 5xx, in
both protocols, as plain text, a Python repr and JSON; `gitbench ask`, `resume`, `try`, a workflow's model
module and the Workshop conversation meet it. Then every object in the repository (reachable or not: records,
reports, chat, trailers, checkpoints), every commit and tag message, every file under ``.git/gitbench`` (logs,
jobs, state) and every command's output are searched for a canary prompt and a canary file content: neither is
there, except where it belongs (the project's own file, the user's own turn in the conversation). The error the
user sees still names the class, the HTTP status and the provider's error type. With ``--debug`` the server's
full text goes to the local debug log, and only there.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.providers.errortext import excerpt
from tests import provider_server as ps
from tests.conftest import git
from tests.provider_server import ProviderServer, user_text
from tests.test_provider_faults import ANTHROPIC, OPENAI, Bench, flat, open_bench

FILE_MARK = "CANARY-FILE-9d41c7e2b05f"
PROMPT_MARK = "CANARY-PROMPT-5e0b3a81c6d4"
WF_MARK = "CANARY-WORKFLOW-PROMPT-2a7f"
PROMPT = f"Tidy the constants ({PROMPT_MARK})"
SECRET_FILE = f"# {FILE_MARK}: private notes\nNOTE = 1\n"
WORKFLOW = (
    "modules:\n"
    "  - id: tidy\n"
    "    inputs: [src/a.py]\n"
    "    outputs: [out/tidy.md]\n"
    "    run: {model: 'MODEL', prompt: 'Summarise the constants (" + WF_MARK + ")'}\n"
)
FILES = {"README.md": "# project\n", "src/a.py": SECRET_FILE, "src/b.py": "B = 2\n"}
MARKS = (FILE_MARK, PROMPT_MARK, WF_MARK)


@pytest.fixture
def fakeant_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKEANT_API_KEY", "sk-test-fakeant-0000")


@pytest.fixture(params=[OPENAI, ANTHROPIC], ids=["openai", "anthropic"])
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bench(tmp_path: Path, provider: ProviderServer, fakeant_key: None, model: str) -> Iterator[Bench]:
    files = {**FILES, ".gitbench/workflow.yaml": WORKFLOW.replace("MODEL", model)}
    with open_bench(tmp_path / "wb", provider, files, job={"batch_files": 5}) as b:
        yield b


def objects(repo: Path) -> Iterator[tuple[str, str, str]]:
    """Every object in the repository, reachable or not: (oid, type, content)."""
    listing = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
    pairs = [line.split() for line in listing.splitlines()]
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="\n".join(oid for oid, _ in pairs).encode() + b"\n",
        capture_output=True,
        check=True,
    ).stdout
    pos = 0
    for oid, kind in pairs:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        yield oid, kind, body.decode("utf-8", "replace")


def without_user_turns(text: str) -> str:
    """A conversation's transcript without the user's own prompts (which is where a prompt belongs)."""
    kept = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            kept.append(line)
            continue
        if isinstance(entry, dict) and entry.get("role") == "user":
            entry = {k: v for k, v in entry.items() if k != "text"}
        kept.append(json.dumps(entry))
    return "\n".join(kept)


def leaks(b: Bench, output: str) -> list[str]:
    """Every place a canary is found where it does not belong."""
    found = []
    project = set(FILES.values()) | {WORKFLOW.replace("MODEL", m) for m in (OPENAI, ANTHROPIC)}
    for oid, kind, content in objects(b.path):
        if kind == "blob" and content in project:
            continue  # the project's own files (Published, checkpoints, Drafts built on them)
        content = without_user_turns(content) if kind == "blob" else content
        found += [f"{kind} {oid}: {m}" for m in MARKS if m in content]
    messages = git(b.path, "log", "--all", "--format=%B") + git(
        b.path, "for-each-ref", "--format=%(contents)", "refs/tags/"
    )
    found += [f"a commit or tag message: {m}" for m in MARKS if m in messages]
    for path in sorted((b.path / ".git" / "gitbench").rglob("*")):
        if path.is_file():
            text = path.read_text(errors="replace")
            # The workflow's cache is a parsed copy of the workflow file, and the engine keeps the definition it runs
            # (seed 004): its prompt is the file's own. The rest of the state (last runs, their errors) must hold no
            # canary.
            own = (WF_MARK,) if "workflow/cache" in path.as_posix() or path.name == "definition.json" else ()
            found += [f"{path.relative_to(b.path)}: {m}" for m in MARKS if m in text and m not in own]
    found += [f"the output: {m}" for m in MARKS if m in output or m in flat(output)]
    return found


def chat_without_user_turns(b: Bench) -> str:
    data = json.loads(b.run("chat", "--json").stdout)
    items = data.get("result", data).get("items", [])
    return json.dumps([{k: v for k, v in i.items() if not (i.get("role") == "user" and k == "text")} for i in items])


def test_a_server_error_quoting_the_request_stores_no_prompt_or_file_content_anywhere(bench: Bench, model: str) -> None:
    b = bench
    said: list[str] = []
    before = b.published()

    # A workflow's model module: a 503 quoting its prompt and its input file.
    b.server.push(*[ps.echo(503, "plain")] * 3)
    res = b.run("workflow", "run")
    said.append(res.stdout + res.stderr)
    assert "HTTP 503" in res.stdout + res.stderr, said[-1]
    # ask: a 400 that quotes the user message verbatim (the prompt first, then the file).
    b.server.push(ps.echo(400, "plain"))
    res, data = b.ask("--model", model, "--on-draft", "discard", prompt=PROMPT)
    said.append(res.stdout + res.stderr)
    assert res.returncode == 20, said[-1]
    err = data["error"]
    assert err["code"] == "model-error"
    assert "HTTP 400" in err["message"] and "invalid_request_error" in err["message"]
    assert "Invalid request" in err["message"]  # the provider's own words are kept, its quote of us is not
    # resume: a 500 quoting the request as a Python repr, three times (retried, then given up).
    b.server.push(*[ps.echo(500, "repr")] * 3)
    res, data = b.resume()
    said.append(res.stdout + res.stderr)
    assert res.returncode == 21, said[-1]
    assert "HTTP 500" in data["error"]["message"] and "api_error" in data["error"]["message"]
    # try: another attempt of the job, whose server dumps the whole request as JSON.
    b.server.push(ps.echo(422, "json"))
    res = b.run("try", model, "--json")
    said.append(res.stdout + res.stderr)
    assert res.returncode != 0 and "HTTP 422" in res.stdout, said[-1]
    for args in (["report"], ["jobs", "--json"], ["log"], ["workflow", "status"]):
        said.append(b.run(*args).stdout)
    said.append(chat_without_user_turns(b))

    # The test means something: the server did get the canaries, and said them back each time.
    assert len(b.server.posts) == 8
    assert all(FILE_MARK in user_text(p["body"]) for p in b.server.posts)
    assert sum(PROMPT_MARK in user_text(p["body"]) for p in b.server.posts) == 5
    assert sum(WF_MARK in user_text(p["body"]) for p in b.server.posts) == 3
    assert leaks(b, "\n".join(said)) == []
    assert not [e for e in b.logs() if e.get("debug")]
    assert b.published() == before


def test_with_debug_the_servers_full_error_is_in_the_debug_log_and_nowhere_else(
    tmp_path: Path, provider: ProviderServer, fakeant_key: None
) -> None:
    with open_bench(tmp_path / "wb", provider, FILES, job={"batch_files": 5}) as b:
        b.server.push(ps.echo(400, "repr"))
        res = b.run("--debug", "ask", PROMPT, "--files", "src/**", "--model", ANTHROPIC)
        assert res.returncode == 20, res.stdout + res.stderr
        assert "HTTP400" in flat(res.stderr) and "invalid_request_error" in res.stderr
        debug = [e for e in b.logs() if e.get("debug") and e["event"] == "provider.error"]
        assert len(debug) == 1 and debug[0]["status"] == 400
        assert FILE_MARK in debug[0]["body"] and PROMPT_MARK in debug[0]["body"]
        # Nothing but the debug lines holds it: take them out, and search everywhere as without --debug.
        for log in (b.path / ".git" / "gitbench" / "logs").glob("*.jsonl"):
            lines = [line for line in log.read_text().splitlines() if not json.loads(line).get("debug")]
            log.write_text("".join(line + "\n" for line in lines))
        assert leaks(b, res.stdout + res.stderr) == []


def test_an_error_inside_a_200_answer_is_said_and_scrubbed_like_an_http_error(
    tmp_path: Path, provider: ProviderServer, fakeant_key: None
) -> None:
    with open_bench(tmp_path / "wb", provider, FILES, job={"batch_files": 5}) as b:
        b.server.push(*[ps.echo(200, "plain")] * 3)  # some gateways answer 200 with an error object
        res, data = b.ask("--model", OPENAI, prompt=PROMPT)
        assert res.returncode == 20, res.stdout + res.stderr
        message = data["error"]["message"]
        assert "not a openai reply" in message and "invalid_request_error" in message and "[request text]" in message
        assert len(b.server.posts) == 3 and all(FILE_MARK in user_text(p["body"]) for p in b.server.posts)
        assert leaks(b, res.stdout + res.stderr + b.run("report").stdout) == []


def test_a_servers_quote_of_the_request_is_taken_out_of_the_error_it_raises() -> None:
    """The scrub itself, on the quotes the server above makes and on a few it does not."""
    system = "You are a careful assistant; answer with JSON."
    user = f'Request: {PROMPT}\nFiles:\n<file path="src/a.py">\n{SECRET_FILE}\n</file>'
    body = {"model": "m", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
    for style in ("plain", "repr", "json"):
        message = ps.echo_body(400, style, body, False)["error"]["message"]
        text = excerpt(message, [system, user])
        assert all(m not in text for m in MARKS), text
        assert ("[request text]" if style == "plain" else "[elided]") in text
        assert text.startswith("Invalid request") and len(text) <= 200
    # The provider's own words stay; a long JSON string is elided whatever it holds.
    assert excerpt("model 'gpt-9' not found", [system, user]) == "model 'gpt-9' not found"
    assert "x" * 60 not in excerpt(json.dumps({"input": "x" * 60}), [])
    # JSON escapes are read (a lone surrogate, which UTF-8 cannot hold, is left as it was written).
    assert excerpt('bad \\"char\\" \\u00e9 \\ud83d', []) == 'bad "char" \u00e9 \\ud83d'
    # Cut where the excerpt ends: no fragment of a quote is left at the end.
    cut = excerpt("bad: " + user * 50, [user])
    assert "CANARY" not in cut and "9d41" not in cut


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)


@settings(max_examples=100, deadline=None)
@given(
    before=TEXT,
    after=TEXT,
    said=st.text(max_size=60),
    canary=st.from_regex(r"[A-Za-z0-9]{16,30}", fullmatch=True),
    style=st.sampled_from(["plain", "repr", "json", "spaced", "html"]),
)
def test_no_quote_of_a_files_canary_survives_the_scrub_however_the_server_quotes_it(
    before: str, after: str, said: str, canary: str, style: str
) -> None:
    """Property: a file holding a canary (16+ letters and digits) is sent; the server says anything around a
    quote of the request (verbatim, as a repr, as JSON, re-spaced, HTML-escaped): the excerpt never holds it."""
    import html

    user = f'Request: tidy\n<file path="a.txt">\n{before}{canary}{after}\n</file>'
    quoted = {
        "plain": user,
        "repr": repr(user),
        "json": json.dumps(user),
        "spaced": " ".join(user.split()),
        "html": html.escape(user),
    }[style]
    text = excerpt(f"{said} {quoted} {said}", ["You are a careful assistant.", user])
    assert canary not in text
