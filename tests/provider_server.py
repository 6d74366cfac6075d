"""A real HTTP model provider on 127.0.0.1 that scripts faults, for tests and benchmarks.

It speaks the OpenAI chat-completions protocol (``POST /v1/chat/completions``), the Anthropic Messages API
(``POST /v1/messages``) and both model lists (``GET /v1/models``). Each request takes the next scripted action;
when the script is empty the default answer edits every file it was sent (appends a line), as a well-behaved
model would. Every request is recorded, so a test can check exactly what was sent (scope, secrets).

Actions (``server.push(...)``, shared by every request; or ``server.push_for(model, ...)``, a script of the
requests naming that model, taken before the shared one, so attempts run side by side each meet their own)::

    ok()                      the default answer (or ``ok(fn)``: fn(files, request) -> answer dict)
    answer_text(str)          the model's raw text as the assistant message (hostile or broken edits)
    status(429, retry_after="1", body=...)   an HTTP error
    echo(400, style="repr")   an HTTP error whose message quotes the request back (prompt, files), as some
                              servers and proxies do: ``plain`` text, a Python ``repr`` or the ``json`` body
    hang(seconds)             accept, then say nothing for ``seconds`` (a hung provider)
    slow(seconds)             the default answer after ``seconds``
    reset()                   close the connection without a word (a reset)
    malformed()               200 with a body that is not JSON
    truncated()               200 whose body stops half-way (Content-Length says more)
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FILE_RE = re.compile(r'<file path="(.*?)">\n(.*?)\n</file>', re.S)
Answer = Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]


def append_line(files: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": f"Edited {len(files)} file(s).",
        "edits": [{"op": "write", "path": p, "content": text + "edited by model\n"} for p, text in files.items()],
    }


def ok(fn: Answer | None = None) -> dict[str, Any]:
    return {"kind": "ok", "fn": fn or append_line}


def answer_text(text: str) -> dict[str, Any]:
    return {"kind": "text", "text": text}


def status(code: int, retry_after: str | None = None, body: Any = None) -> dict[str, Any]:
    return {"kind": "status", "code": code, "retry_after": retry_after, "body": body}


def echo(code: int, style: str = "plain") -> dict[str, Any]:
    return {"kind": "echo", "code": code, "style": style}


def hang(seconds: float) -> dict[str, Any]:
    return {"kind": "hang", "seconds": seconds}


def slow(seconds: float) -> dict[str, Any]:
    return {"kind": "slow", "seconds": seconds}


def reset() -> dict[str, Any]:
    return {"kind": "reset"}


def malformed() -> dict[str, Any]:
    return {"kind": "malformed"}


def truncated() -> dict[str, Any]:
    return {"kind": "truncated"}


class ProviderServer:
    def __init__(self, models: tuple[str, ...] = ("test-model", "other-model"), latency: float = 0.0) -> None:
        self.script: deque[dict[str, Any]] = deque()
        self.scripts: dict[str, deque[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.models = set(models)
        self.latency = latency
        self.default: Answer = append_line
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer, which is not a model's answer time.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                server._record(self, None)
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    self._json(
                        200, {"object": "list", "data": [{"id": m, "object": "model"} for m in sorted(server.models)]}
                    )
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                server._record(self, body)
                anthropic = self.path.rstrip("/").endswith("/messages")
                with server.lock:
                    own = server.scripts.get(str(body.get("model")))
                    action = (
                        own.popleft()
                        if own
                        else server.script.popleft()
                        if server.script
                        else {"kind": "ok", "fn": server.default}
                    )
                server._act(self, action, body, anthropic)

            def _json(self, code: int, data: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def push(self, *actions: dict[str, Any]) -> None:
        with self.lock:
            self.script.extend(actions)

    def push_for(self, model: str, *actions: dict[str, Any]) -> None:
        """Script the requests naming ``model`` (as the request body names it, e.g. ``other-model``)."""
        with self.lock:
            self.scripts.setdefault(model, deque()).extend(actions)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    def _record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        with self.lock:
            self.requests.append(
                {
                    "method": handler.command,
                    "path": handler.path,
                    "headers": dict(handler.headers.items()),
                    "body": body,
                    "time": time.time(),
                }
            )

    def _act(self, h: Any, action: dict[str, Any], body: dict[str, Any], anthropic: bool) -> None:
        kind = action["kind"]
        if self.latency:
            time.sleep(self.latency)
        model = body.get("model")
        if kind in ("ok", "text", "slow") and model not in self.models:
            h._json(404, {"error": {"message": f"model '{model}' not found", "type": "not_found_error"}})
            return
        if kind == "status":
            headers = {"Retry-After": action["retry_after"]} if action.get("retry_after") is not None else {}
            h._json(action["code"], action.get("body") or {"error": {"message": f"scripted {action['code']}"}}, headers)
            return
        if kind == "echo":
            h._json(action["code"], echo_body(action["code"], action["style"], body, anthropic))
            return
        if kind == "hang":
            time.sleep(action["seconds"])
            h.close_connection = True
            return
        if kind == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            return
        if kind == "malformed":
            payload = b"<html>502 Bad Gateway, but with status 200</html>"
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if kind == "truncated":
            payload = json.dumps(self._reply(json.dumps(self.default({}, body)), body, anthropic)).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload[: len(payload) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        if kind == "slow":
            time.sleep(action["seconds"])
            kind, action = "ok", {"fn": self.default}
        if kind == "ok":
            text = json.dumps(action["fn"](files_of(body), body))
        else:
            text = action["text"]
        h._json(200, self._reply(text, body, anthropic))

    def _reply(self, text: str, body: dict[str, Any], anthropic: bool) -> dict[str, Any]:
        sent = len(json.dumps(body)) // 4
        out = len(text) // 4
        if anthropic:
            return {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": sent, "output_tokens": out},
            }
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": sent, "completion_tokens": out, "total_tokens": sent + out},
        }


def echo_body(code: int, style: str, body: dict[str, Any], anthropic: bool) -> dict[str, Any]:
    """An error body quoting the request back: the user message (prompt and files) and the whole request."""
    user = user_text(body)
    quoted = {"plain": user, "repr": repr(user), "json": json.dumps(body)}[style]
    message = f"Invalid request: {quoted} could not be processed"
    kind = "invalid_request_error" if code < 500 else "api_error"
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": "messages", "code": f"echo_{code}"}}


def user_text(body: dict[str, Any]) -> str:
    for m in body.get("messages", []):
        if m.get("role") == "user":
            content = m.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def files_of(body: dict[str, Any]) -> dict[str, str]:
    """The files a request sent, as the model sees them."""
    return {m.group(1): m.group(2) for m in FILE_RE.finditer(user_text(body))}


def config_toml(server: ProviderServer, **settings: Any) -> str:
    """A user config pointing the providers `fake` (OpenAI protocol) and `fakeant` (Anthropic) at the server."""
    retry = {"attempts": 3, "backoff": 0.01, "max_wait": 2, **settings.pop("retry", {})}
    timeouts = {"connect": 2, "read": 2, **settings.pop("timeouts", {})}
    job = settings.pop("job", {})
    lines = [
        f'model = "{settings.pop("model", "fake:test-model")}"',
        "[providers.fake]",
        'kind = "openai"',
        f'base_url = "{server.url}/v1"',
        "[providers.fakeant]",
        'kind = "anthropic"',
        f'base_url = "{server.url}"',
        'api_key_env = "FAKEANT_API_KEY"',
    ]
    for name, table in (("retry", retry), ("timeouts", timeouts), ("job", job)):
        if table:
            lines.append(f"[{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
