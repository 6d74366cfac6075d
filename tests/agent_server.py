"""A scripted model server on 127.0.0.1 that real agent CLIs talk to, each in its own wire format.

A test scripts what the "model" does (``server.script(replace("app.py", "hello", "bye"), create("new.py", "x"))``)
and runs the real agent against ``server.url``; the server answers every request in the format that request asks
for, and drives the agent's whole turn:

- OpenAI chat completions (``POST /v1/chat/completions``, streamed or not): aider. The answer uses the edit
  format aider's system prompt asks for: SEARCH/REPLACE blocks (``diff``, ``diff-fenced``) or whole files
  (``whole``, rebuilt from the file aider sent). Aider's commit-message and summary requests get a
  one-line message and a summary.
- The Anthropic Messages API (``POST /v1/messages``, SSE or not, plus ``/v1/messages/count_tokens``): Claude
  Code. The main loop (a request offering the ``Edit`` tool) gets ``tool_use`` blocks, one step per request:
  ``Read`` then ``Edit`` for a replacement (Claude Code refuses to edit a file it has not read), ``Write`` for a
  new file, then the final text once the tool results are back. Side requests (titles, topic checks, quota
  probes...) get a short text answer, or the JSON they ask for.
- The OpenAI Responses API (``POST /v1/responses``, SSE): codex. It reads each file with its shell tool, then
  sends one ``apply_patch`` (the ``apply_patch`` tool when offered, else through the shell tool), then the final
  message.

Each step is computed from the conversation the request carries (how many tool results came back), so the
server holds no per-conversation state and a retried request gets the same answer. Every request is recorded
(method, path, kind, model, headers with secrets redacted, body). An unknown request is recorded and answered
at once with a 404 or 400 whose message starts with ``agent_server:``: nothing ever hangs. Every answer is
written in one go and the handler's socket has a timeout, so a stuck client cannot hold the server either.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any

SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization", "openai-api-key"}


@dataclass(frozen=True)
class Replace:
    """Replace the text ``old`` (it must occur in the file) with ``new`` in the file ``path`` (relative)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Create:
    """Create the file ``path`` (relative) holding ``content``."""

    path: str
    content: str


@dataclass(frozen=True)
class EndTurn:
    """Claude Code: end the turn here (answer with text only); the next user message goes on after it."""

    say: str = "Done with this part."


@dataclass(frozen=True)
class Call:
    """Claude Code only: call the tool ``name`` (e.g. an MCP server's ``mcp__gitbench__status``) with ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Action = Replace | Create | EndTurn | Call


def end_turn(say: str = "Done with this part.") -> EndTurn:
    return EndTurn(say)


def replace(path: str, old: str, new: str) -> Replace:
    return Replace(path, old, new)


def create(path: str, content: str) -> Create:
    return Create(path, content)


def call(name: str, **arguments: Any) -> Call:
    return Call(name, arguments)


@dataclass
class Script:
    actions: tuple[Action, ...] = ()
    say: str = "Done: I made the requested change."
    commit_message: str = "fix: make the requested change"


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    kind: str  # e.g. "openai-chat/edit", "anthropic/main", "anthropic/side", "responses/main", "unknown"
    model: str | None
    headers: dict[str, str]
    body: Any
    time: float = field(default_factory=time.time)
    status: int = 200
    answer: str = ""  # what the server answered, in short (for failure messages)

    def header(self, name: str) -> str | None:
        """A request header, whatever its case (secrets read ``<redacted>``)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class AgentServer:
    """The server; use as a context manager or call ``close()``."""

    def __init__(self) -> None:
        self._script = Script()
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            timeout = 30  # a client that stops mid-request cannot hold a thread forever

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                server._handle(self, None)

            def do_HEAD(self) -> None:  # noqa: N802
                server._handle(self, None)

            def do_DELETE(self) -> None:  # noqa: N802
                server._handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not length and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = _read_chunked(self)
                encoding = self.headers.get("Content-Encoding", "identity").lower()
                if encoding in ("gzip", "deflate"):
                    raw = zlib.decompress(raw, 47)  # 47: gzip or zlib header, detected
                elif encoding != "identity":
                    server._handle(
                        self,
                        {"_raw": f"<{len(raw)} bytes of {encoding}>"},
                        unsupported=f"agent_server: request bodies in {encoding} are not supported",
                    )
                    return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw[:2000].decode(errors="replace")}
                server._handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # --- the test's side ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, *actions: Action, say: str | None = None, commit_message: str | None = None) -> None:
        """What the model does in every conversation from now on: ``actions`` in order, then ``say``."""
        with self.lock:
            self._script = Script(tuple(actions), say or Script.say, commit_message or Script.commit_message)

    def of_kind(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.kind.startswith(prefix)]

    @property
    def models(self) -> set[str]:
        with self.lock:
            return {r.model for r in self.requests if r.model}

    def tool_results(self) -> list[tuple[str, bool]]:
        """The tool results the agent sent back in its last main-loop request: (text, is_error) in order."""
        with self.lock:
            last = next((r for r in reversed(self.requests) if r.kind in ("anthropic/main", "responses/main")), None)
        if last is None:
            return []
        out: list[tuple[str, bool]] = []
        if last.kind == "anthropic/main":
            for m in last.body.get("messages") or []:
                for b in m.get("content") if isinstance(m.get("content"), list) else []:
                    if isinstance(b, dict) and b.get("type") == "tool_result":
                        out.append((_text(b.get("content")), bool(b.get("is_error"))))
        else:
            out = [(o, False) for o in _codex_outputs(last.body.get("input") or [])]
        return out

    def summary(self) -> str:
        """The requests in short, for assertion messages."""
        with self.lock:
            return (
                "\n".join(
                    f"{r.method} {r.path} [{r.kind}] model={r.model} -> {r.status} {r.answer[:160]!r}"
                    for r in self.requests
                )
                or "(no requests)"
            )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> AgentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- dispatch ----------------------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, body: Any, unsupported: str | None = None) -> None:
        path = h.path.split("?", 1)[0].rstrip("/")
        headers = {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in h.headers.items()}
        model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
        rec = Request(h.command, h.path, "unknown", model, headers, body)
        with self.lock:
            self.requests.append(rec)
            script = self._script
        try:
            if unsupported:
                self._json(h, rec, 415, _error(unsupported, "invalid_request_error"))
            elif h.command == "POST" and isinstance(body, dict) and path.endswith("/chat/completions"):
                self._openai_chat(h, rec, body, script)
            elif h.command == "POST" and isinstance(body, dict) and path.endswith("/messages/count_tokens"):
                rec.kind = "anthropic/count_tokens"
                self._json(h, rec, 200, {"input_tokens": _tokens(body)})
            elif h.command == "POST" and isinstance(body, dict) and path.endswith("/messages"):
                self._anthropic(h, rec, body, script)
            elif h.command == "POST" and isinstance(body, dict) and path.endswith("/responses"):
                self._responses(h, rec, body, script)
            elif h.command in ("GET", "HEAD") and path.endswith("/models"):
                rec.kind = "models"
                ids = sorted(self.models | {"test-model"})
                self._json(h, rec, 200, {"object": "list", "data": [_model(m) for m in ids]})
            elif h.command in ("GET", "HEAD") and "/models/" in path:
                rec.kind = "models"
                self._json(h, rec, 200, _model(path.rsplit("/", 1)[1]))
            elif h.command in ("GET", "HEAD") and path == "/api/hello":
                rec.kind = "anthropic/hello"  # Claude Code's reachability probe (when nonessential traffic is on)
                self._json(h, rec, 200, {"message": "hello"})
            else:
                self._json(
                    h, rec, 404, _error(f"agent_server: no such endpoint {h.command} {h.path}", "not_found_error")
                )
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug here must answer, never hang the agent
            rec.kind += "/crashed"
            self._json(h, rec, 500, _error(f"agent_server: internal error {type(exc).__name__}: {exc}", "api_error"))

    def _json(self, h: BaseHTTPRequestHandler, rec: Request, code: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        rec.status = code
        rec.answer = rec.answer or payload.decode()[:500]
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("request-id", "req_" + uuid.uuid4().hex[:12])
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)

    def _sse(self, h: BaseHTTPRequestHandler, rec: Request, events: list[tuple[str | None, Any]]) -> None:
        """Send a whole SSE stream at once (``event:`` lines where a name is given; ``[DONE]`` stays raw)."""
        chunks = []
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            chunks.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
        payload = "".join(chunks).encode()
        rec.status = 200
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("request-id", "req_" + uuid.uuid4().hex[:12])
        h.end_headers()
        h.wfile.write(payload)

    # --- OpenAI chat completions: aider ------------------------------------------------------------------------

    def _openai_chat(self, h: BaseHTTPRequestHandler, rec: Request, body: dict[str, Any], script: Script) -> None:
        messages = body.get("messages") or []
        system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        everything = "\n".join(_text(m.get("content")) for m in messages)
        if "commit message" in system:
            rec.kind, text = "openai-chat/commit-message", script.commit_message
        elif "summarize" in system.lower() and "SEARCH/REPLACE" not in everything:
            rec.kind, text = "openai-chat/summary", "The user asked for a change; it was made."
        else:
            rec.kind = "openai-chat/edit"
            text = _aider_answer(everything, messages, script)
        rec.answer = text
        model = body.get("model") or "test-model"
        cid, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())
        usage = {
            "prompt_tokens": _tokens(body),
            "completion_tokens": len(text) // 4 + 1,
            "total_tokens": _tokens(body) + len(text) // 4 + 1,
        }
        if not body.get("stream"):
            self._json(
                h,
                rec,
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": usage,
                },
            )
            return

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
        events += [(None, chunk({"content": piece})) for piece in _pieces(text)]
        events.append((None, chunk({}, "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(
                (
                    None,
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    },
                )
            )
        events.append((None, "[DONE]"))
        self._sse(h, rec, events)

    # --- Anthropic Messages: Claude Code -----------------------------------------------------------------------

    def _anthropic(self, h: BaseHTTPRequestHandler, rec: Request, body: dict[str, Any], script: Script) -> None:
        tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        messages = body.get("messages") or []
        blocks: list[dict[str, Any]]
        if {"Edit", "Write", "Read"} <= tools:
            rec.kind = "anthropic/main"
            blocks = _claude_step(body, messages, script)
        else:
            rec.kind = "anthropic/side"
            blocks = [{"type": "text", "text": _side_answer(body)}]
        rec.answer = json.dumps(blocks)
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        model = body.get("model") or "test-model"
        mid = "msg_" + uuid.uuid4().hex[:20]
        usage_in = {"input_tokens": _tokens(body), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        out_tokens = len(json.dumps(blocks)) // 4 + 1
        if not body.get("stream"):
            self._json(
                h,
                rec,
                200,
                {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {**usage_in, "output_tokens": out_tokens},
                },
            )
            return
        events: list[tuple[str | None, Any]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": mid,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage_in, "output_tokens": 1},
                    },
                },
            )
        ]
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                events.append(
                    (
                        "content_block_start",
                        {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
                    )
                )
                events += [
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": p}},
                    )
                    for p in _pieces(b["text"])
                ]
            else:
                events.append(
                    (
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": i,
                            "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}},
                        },
                    )
                )
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": json.dumps(b["input"])},
                        },
                    )
                )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": out_tokens},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        self._sse(h, rec, events)

    # --- OpenAI Responses: codex -------------------------------------------------------------------------------

    def _responses(self, h: BaseHTTPRequestHandler, rec: Request, body: dict[str, Any], script: Script) -> None:
        items = body.get("input") or []
        tools: dict[str, dict[str, Any]] = {
            str(t.get("name") or t.get("type")): t for t in body.get("tools") or [] if isinstance(t, dict)
        }
        rec.kind = "responses/main" if tools else "responses/side"
        if tools:
            tree = _gitbench_worktree(items)
            if tree:  # a gitbench session's Draft worktree (its SessionStart hook said where): relative edits go there
                script = _under(script, tree)
        out = _codex_step(items, tools, script) if tools else [_codex_message(_side_answer(body))]
        rec.answer = json.dumps(out)
        rid = "resp_" + uuid.uuid4().hex[:20]
        usage = {
            "input_tokens": _tokens(body),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(json.dumps(out)) // 4 + 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": _tokens(body) + len(json.dumps(out)) // 4 + 1,
        }
        response: dict[str, Any] = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model"),
            "status": "in_progress",
            "output": [],
        }
        events: list[tuple[str | None, Any]] = [
            ("response.created", {"type": "response.created", "response": response})
        ]
        for i, item in enumerate(out):
            events.append(
                ("response.output_item.added", {"type": "response.output_item.added", "output_index": i, "item": item})
            )
            if item["type"] == "message":
                for p in _pieces(item["content"][0]["text"]):
                    events.append(
                        (
                            "response.output_text.delta",
                            {
                                "type": "response.output_text.delta",
                                "item_id": item["id"],
                                "output_index": i,
                                "content_index": 0,
                                "delta": p,
                            },
                        )
                    )
            events.append(
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": i, "item": item})
            )
        events.append(
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": {**response, "status": "completed", "output": out, "usage": usage},
                },
            )
        )
        if not body.get("stream", True):
            self._json(h, rec, 200, {**response, "status": "completed", "output": out, "usage": usage})
            return
        self._sse(h, rec, events)


# --- aider ---------------------------------------------------------------------------------------------------


def _aider_fence(everything: str) -> tuple[str, str, str]:
    """Aider's edit format and fence, read from its prompt: ("diff" | "diff-fenced" | "whole", open, close)."""
    m = re.search(r"\n(\S+)python\nmathweb/flask/app\.py\n<<<<<<< SEARCH", everything)
    if m:
        fmt, fence = "diff-fenced", m.group(1)
    elif m := re.search(r"mathweb/flask/app\.py\n(\S+)python\n<<<<<<< SEARCH", everything):
        fmt, fence = "diff", m.group(1)
    elif m := re.search(r"path/to/filename\.js\n(\S+)\n// entire file content", everything):
        fmt, fence = "whole", m.group(1)
    else:
        raise _Unsupported(
            "agent_server: cannot tell aider's edit format from its prompt (diff, diff-fenced and whole are scripted)"
        )
    close = "</" + fence[1:] if fence.startswith("<") else fence
    return fmt, fence, close


class _Unsupported(Exception):
    pass


def _aider_answer(everything: str, messages: list[dict[str, Any]], script: Script) -> str:
    try:
        fmt, fence, close = _aider_fence(everything)
    except _Unsupported as exc:
        return str(exc)
    parts = ["I will make the requested change.\n"]
    for a in (a for a in script.actions if not isinstance(a, EndTurn)):
        if fmt == "whole":
            if isinstance(a, Create):
                content = a.content
            else:
                current = _aider_file(messages, a.path, fence, close)
                if current is None:
                    return f"agent_server: aider did not send {a.path} (add it to the chat)"
                content = current.replace(a.old, a.new)
            parts.append(f"{a.path}\n{fence}\n{content}{'' if content.endswith(chr(10)) else chr(10)}{close}\n")
            continue
        old, new = ("", a.content) if isinstance(a, Create) else (a.old, a.new)
        old = old if not old or old.endswith("\n") else old + "\n"
        new = new if not new or new.endswith("\n") else new + "\n"
        if isinstance(a, Replace) and "\n" not in a.old.rstrip("\n"):
            # SEARCH must match whole lines: use the line holding the text, from the copy aider sent.
            current = _aider_file(messages, a.path, fence, close)
            line = next((ln for ln in (current or "").splitlines(keepends=True) if a.old in ln), None)
            if line is not None:
                old, new = line, line.replace(a.old, a.new)
        head = f"{fence}python\n{a.path}\n" if fmt == "diff-fenced" else f"{a.path}\n{fence}python\n"
        parts.append(f"{head}<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n{close}\n")
    return "\n".join(parts)


def _aider_file(messages: list[dict[str, Any]], path: str, fence: str, close: str) -> str | None:
    """The last copy of ``path`` that aider sent (``path\\n<fence>\\n<content><close>\\n``)."""
    pattern = re.compile(rf"(?:^|\n){re.escape(path)}\n{re.escape(fence)}\n(.*?)(?<=\n){re.escape(close)}\n", re.S)
    found = None
    for m in messages:
        if m.get("role") == "user":
            for hit in pattern.finditer(_text(m.get("content"))):
                found = hit.group(1)
    return found


# --- Claude Code ---------------------------------------------------------------------------------------------


def _claude_steps(cwd: str, script: Script) -> list[list[dict[str, Any]]]:
    """The assistant turns of the scripted conversation, each a list of tool calls (the last: none)."""
    steps: list[list[dict[str, Any]]] = []
    for a in script.actions:  # Claude Code's
        if isinstance(a, EndTurn):
            steps.append([])  # a text-only answer: the turn ends
            continue
        if isinstance(a, Call):
            steps.append([{"name": a.name, "input": dict(a.arguments)}])
            continue
        file_path = str(PurePosixPath(cwd) / a.path)
        if isinstance(a, Replace):
            steps.append([{"name": "Read", "input": {"file_path": file_path}}])
            steps.append(
                [
                    {
                        "name": "Edit",
                        "input": {
                            "file_path": file_path,
                            "old_string": a.old,
                            "new_string": a.new,
                            "replace_all": False,
                        },
                    }
                ]
            )
        else:
            steps.append([{"name": "Write", "input": {"file_path": file_path, "content": a.content}}])
    return steps


def _claude_step(body: dict[str, Any], messages: list[dict[str, Any]], script: Script) -> list[dict[str, Any]]:
    cwd = _claude_cwd(body)
    if cwd is None:
        return [{"type": "text", "text": "agent_server: no working directory in Claude Code's prompt"}]
    done = sum(1 for m in messages if m.get("role") == "assistant")
    steps = _claude_steps(cwd, script)
    if done >= len(steps):
        return [{"type": "text", "text": script.say}]
    if not steps[done]:
        ends = [a for a in script.actions if isinstance(a, EndTurn)]
        return [{"type": "text", "text": ends[0].say if ends else script.say}]
    return [{"type": "text", "text": f"Step {done + 1}."}] + [
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", **call} for call in steps[done]
    ]


def _claude_cwd(body: dict[str, Any]) -> str | None:
    texts = [_text(body.get("system"))] + [_text(m.get("content")) for m in body.get("messages") or []]
    for t in texts:  # a gitbench session's Draft worktree (its SessionStart hook said where): relative edits go there
        m = re.search(r"gitbench: this session works in its own Draft\. Its worktree is (/\S+?):", t)
        if m:
            return m.group(1)
    for t in texts:
        m = re.search(r"(?:Primary working directory|Working directory|cwd): *(/\S*)", t)
        if m:
            return m.group(1)
    return None


def _side_answer(body: dict[str, Any]) -> str:
    """A sensible short answer to a request outside the scripted loop (a title, a topic check, a probe)."""
    prompt = (
        _text(body.get("system")) + "\n" + _text((body.get("messages") or [{}])[-1].get("content"))
        if body.get("messages")
        else _text(body.get("system")) + _text(body.get("input"))
    ).lower()
    if "json" in prompt and "title" in prompt:
        return json.dumps({"title": "Scripted change", "isNewTopic": True})
    if "json" in prompt:
        return json.dumps({"isNewTopic": False, "title": None})
    if "title" in prompt:
        return "Scripted change"
    return "OK"


# --- codex ---------------------------------------------------------------------------------------------------


def _codex_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_" + uuid.uuid4().hex[:20],
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _codex_outputs(items: list[Any]) -> list[str]:
    """The outputs of the tool calls the conversation already holds, in order."""
    out = []
    for it in items:
        if isinstance(it, dict) and it.get("type") in ("function_call_output", "custom_tool_call_output"):
            o = it.get("output")
            out.append(o if isinstance(o, str) else json.dumps(o))
    return out


def _gitbench_worktree(items: list[Any]) -> str | None:
    m = re.search(r"gitbench: this session works in its own Draft\. Its worktree is (/\S+?):", _text(items))
    return m.group(1) if m else None


def _under(script: Script, folder: str) -> Script:
    """The script with its relative paths made absolute under ``folder`` (as a model told to work there does)."""
    moved: list[Action] = []
    for a in script.actions:
        if isinstance(a, Replace | Create) and not a.path.startswith("/"):
            a = dataclasses.replace(a, path=str(PurePosixPath(folder) / a.path))
        moved.append(a)
    return dataclasses.replace(script, actions=tuple(moved))


def _this_turn(items: list[Any]) -> list[Any]:
    """The items since the user's last message: a resumed conversation holds the earlier turns too."""
    last = max(
        (i for i, it in enumerate(items) if isinstance(it, dict) and it.get("role") == "user" and _is_prompt(it)),
        default=-1,
    )
    return items[last + 1 :]


def _is_prompt(item: dict[str, Any]) -> bool:
    """A user message that is the user's prompt, not context an agent or a hook put in a user message."""
    text = _text(item.get("content"))
    return bool(text) and not text.lstrip().startswith("<")


def _codex_step(items: list[Any], tools: dict[str, dict[str, Any]], script: Script) -> list[dict[str, Any]]:
    outputs = _codex_outputs(_this_turn(items))
    reads = [a for a in script.actions if isinstance(a, Replace)]
    paths = list(dict.fromkeys(a.path for a in reads))
    shell = next((n for n in ("shell_command", "shell", "exec_command", "local_shell") if n in tools), None)
    cid = "call_" + uuid.uuid4().hex[:20]
    if len(outputs) < len(paths):  # read the files to edit, one per turn, with the shell tool
        if shell is None:
            return [_codex_message("agent_server: codex offered no shell tool to read files with")]
        return [_codex_call(shell, tools, ["cat", paths[len(outputs)]], cid)]
    if len(outputs) == len(paths) and script.actions:
        contents = {p: _codex_cat_output(o) for p, o in zip(paths, outputs, strict=True)}
        patch = _apply_patch(tuple(a for a in script.actions if not isinstance(a, EndTurn)), contents)
        if "apply_patch" in tools:
            t = tools["apply_patch"]
            if t.get("type") == "custom":
                return [
                    {
                        "type": "custom_tool_call",
                        "id": "ctc_" + cid,
                        "status": "completed",
                        "call_id": cid,
                        "name": "apply_patch",
                        "input": patch,
                    }
                ]
            return [
                {
                    "type": "function_call",
                    "id": "fc_" + cid,
                    "status": "completed",
                    "call_id": cid,
                    "name": "apply_patch",
                    "arguments": json.dumps({"input": patch}),
                }
            ]
        if shell is None:
            return [_codex_message("agent_server: codex offered neither apply_patch nor a shell tool")]
        return [_codex_call(shell, tools, ["apply_patch", patch], cid)]
    return [_codex_message(script.say)]


def _codex_call(shell: str, tools: dict[str, dict[str, Any]], argv: list[str], cid: str) -> dict[str, Any]:
    import shlex

    props = (tools[shell].get("parameters") or {}).get("properties") or {}
    args: dict[str, Any]
    if shell in ("shell_command", "exec_command") or (props.get("command") or {}).get("type") == "string":
        cmd = shlex.join(argv) if argv[0] != "apply_patch" else f"apply_patch <<'EOF'\n{argv[1]}\nEOF\n"
        args = {"cmd": cmd} if "cmd" in props else {"command": cmd}
    else:
        args = {"command": argv}
    return {
        "type": "function_call",
        "id": "fc_" + cid,
        "status": "completed",
        "call_id": cid,
        "name": shell,
        "arguments": json.dumps(args),
    }


def _codex_cat_output(output: str) -> str:
    """The file text in a shell tool's output (codex wraps it: JSON ``{"output": ...}`` or an ``Output:`` header)."""
    try:
        data = json.loads(output)
        if isinstance(data, dict) and isinstance(data.get("output"), str):
            return str(data["output"])
    except ValueError:
        pass
    m = re.search(r"\nOutput:\n(.*)\Z", output, re.S)
    return m.group(1) if m else output


def _apply_patch(actions: tuple[Action, ...], contents: dict[str, str]) -> str:
    """One apply_patch envelope doing ``actions``; a replacement rewrites each line holding the old text."""
    lines = ["*** Begin Patch"]
    for a in actions:
        if isinstance(a, Create):
            lines.append(f"*** Add File: {a.path}")
            lines += ["+" + ln for ln in a.content.splitlines()]
            continue
        lines.append(f"*** Update File: {a.path}")
        text = contents.get(a.path, "")
        old_lines = [ln for ln in text.splitlines() if a.old in ln] or a.old.splitlines()
        for ln in old_lines:
            lines += ["@@", "-" + ln] + ["+" + n for n in ln.replace(a.old, a.new).splitlines()]
    lines.append("*** End Patch")
    return "\n".join(lines)


# --- helpers -------------------------------------------------------------------------------------------------


def _text(content: Any) -> str:
    """The text of a message content: a string, or a list of blocks (text, tool results, input items)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(c) for c in content)
    if isinstance(content, dict):
        for key in ("text", "content", "output"):
            if key in content:
                return _text(content[key])
    return ""


def _pieces(text: str, size: int = 40) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]
    if not text:
        yield ""


def _tokens(body: Any) -> int:
    return len(json.dumps(body)) // 4 + 1


def _model(name: str) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "type": "model",
        "display_name": name,
        "created": 0,
        "created_at": "2026-01-01T00:00:00Z",
        "owned_by": "agent_server",
    }


def _error(message: str, kind: str) -> dict[str, Any]:
    # Both shapes at once: OpenAI clients read error.message, Anthropic clients also read type/error.type.
    return {"type": "error", "error": {"type": kind, "message": message, "code": kind}}


def _read_chunked(h: BaseHTTPRequestHandler) -> bytes:
    out = b""
    while True:
        size = int(h.rfile.readline().strip() or b"0", 16)
        if size == 0:
            h.rfile.readline()
            return out
        out += h.rfile.read(size)
        h.rfile.readline()
