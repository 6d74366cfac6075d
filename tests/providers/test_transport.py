"""gitbench/providers/transport.py in-process against a real HTTP server on 127.0.0.1 that answers what each
test scripts: how a provider's answers and failures become retries or errors a user can act on, and what
`gitbench models` learns from one probe."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gitbench import errors
from gitbench.providers.config import ModelSpec, Provider, Settings
from gitbench.providers.transport import client, complete, probe, retry_after

OK = {"choices": [{"message": {"content": "done"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}


class Scripted:
    """Each request (GET or POST) takes the next (status, body) of the script; a str body is sent as it is."""

    def __init__(self) -> None:
        self.script: deque[tuple[int, Any]] = deque()
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                outer.paths.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                code, body = outer.script.popleft()
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815 - the http.server protocol

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def spec(base_url: str) -> ModelSpec:
    return ModelSpec("local:m1", Provider("local", "openai", base_url, "sk-test", "LOCAL_KEY", True), "m1")


def ask(base_url: str) -> Any:
    settings = Settings(attempts=2, backoff=0.0)
    with client(settings, base_url) as http:
        return complete(http, spec(base_url), settings, "system", "user", lambda text: text)


def test_retry_after_reads_seconds_or_an_http_date_and_ignores_garbage() -> None:
    assert retry_after("2.5") == 2.5 and retry_after(" 7 ") == 7.0
    assert retry_after("-3") == 0.0  # never a wait into the past
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 20 < (retry_after(later) or 0) <= 30
    assert retry_after(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0.0
    assert retry_after("soon") is None and retry_after("") is None and retry_after(None) is None


def test_a_request_timeout_is_retried_and_the_next_answer_used(server: Scripted) -> None:
    server.script.extend([(408, {"error": {"message": "took too long"}}), (200, OK)])
    out = ask(server.url)
    assert (out.value, out.attempts) == ("done", 2)
    assert server.paths == ["POST /v1/chat/completions"] * 2


def test_an_unknown_model_and_a_rejected_request_are_errors_that_say_what_to_do_without_retrying(
    server: Scripted,
) -> None:
    server.script.append((404, {"error": {"type": "invalid_request_error", "message": "no such model"}}))
    with pytest.raises(errors.ModelUnavailable) as unknown:
        ask(server.url)
    assert unknown.value.message == (
        "local:m1: the provider does not know the model 'm1' (HTTP 404): invalid_request_error: no such model."
    )
    assert [a.command for a in unknown.value.actions] == ["gitbench models", "gitbench resume --model PROVIDER:MODEL"]
    server.script.append((400, "<html>bad gateway config</html>"))  # not JSON: nothing of it is quoted
    with pytest.raises(errors.ModelError) as rejected:
        ask(server.url)
    assert rejected.value.message == "local:m1: the provider rejected the request (HTTP 400)."
    assert rejected.value.details["attempts"] == 1 and len(server.paths) == 2


def test_a_base_url_that_is_not_http_is_a_usage_error_naming_it() -> None:
    with pytest.raises(errors.UsageError, match=r"local:m1: the base URL 'ftp://127.0.0.1/v1' is not http\(s\)"):
        ask("ftp://127.0.0.1/v1")


def test_a_probe_says_whether_the_provider_answers_and_which_models_it_has(server: Scripted) -> None:
    provider = spec(server.url).provider
    server.script.extend(
        [
            (200, {"data": [{"id": "m1"}, {"name": "m2"}, "junk"]}),
            (200, "not json"),
            (401, {"error": "bad key"}),
            (503, ""),
        ]
    )
    assert probe(provider) == (True, "answers (2 model(s))", ["m1", "m2"])
    assert probe(provider) == (True, "answers (its model list is not readable)", [])
    assert probe(provider) == (False, "the key was refused (HTTP 401)", [])
    assert probe(provider) == (False, f"HTTP 503 from {server.url}/models", [])
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = Provider("local", "openai", f"http://127.0.0.1:{port}/v1")
    ok, said, names = probe(closed)
    assert not ok and said == f"cannot connect to http://127.0.0.1:{port}/v1 (ConnectError)" and names == []


def test_a_transient_failure_comes_back_whole_from_a_worker() -> None:
    """A reply from a worker (providers/call.py) is pickled: a transient failure keeps its class, reason and wait."""
    import pickle

    from gitbench.providers.transport import Transient

    back = pickle.loads(pickle.dumps(Transient("rate-limited", "429 from the provider", 2.5)))
    assert (type(back), back.klass, back.reason, back.retry_after) == (
        Transient,
        "rate-limited",
        "429 from the provider",
        2.5,
    )
    assert str(back) == "429 from the provider"
