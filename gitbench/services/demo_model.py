"""The demo's model: a tiny OpenAI-compatible server on 127.0.0.1, so `gitbench demo` runs a Workshop job
offline with no API key.

It speaks the same chat-completions protocol as OpenAI or Ollama, over real HTTP, and answers with the same
structured edits a real model would: a module docstring for each Python file it is sent. Its first answer is a
429 with ``Retry-After``, so the demo shows a transient failure being retried.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gitbench.providers.config import Config, Provider, Settings

_FILE = re.compile(r'<file path="(.*?)">\n(.*?)\n</file>', re.S)


def _edits(user: str) -> dict[str, Any]:
    edits = []
    for path, text in _FILE.findall(user):
        if path.endswith(".py") and not text.lstrip().startswith('"""'):
            name = path.rsplit("/", 1)[-1][:-3]
            edits.append({"op": "write", "path": path, "content": f'"""The {name} module."""\n\n' + text + "\n"})
    return {"summary": f"Added a module docstring to {len(edits)} Python file(s).", "edits": edits}


class DemoModel:
    """Start with ``with DemoModel() as model:``; ``model.config`` points a `demo:` provider at it."""

    def __init__(self) -> None:
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                owner.requests += 1
                if owner.requests == 1:
                    self._send(429, {"error": {"message": "demo rate limit"}}, {"Retry-After": "1"})
                    return
                user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
                answer = json.dumps(_edits(user))
                self._send(
                    200,
                    {
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}],
                        "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(answer) // 4},
                    },
                )

            def _send(self, code: int, data: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DemoModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def config(self) -> Config:
        url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        demo = Provider("demo", "openai", base_url=url, configured=True, source="gitbench demo")
        return Config(
            default_model="demo:offline",
            providers={"demo": demo},
            aliases={},
            settings=Settings(backoff=0.5, max_wait=2.0),
            files=[],
            secrets=[],
        )
