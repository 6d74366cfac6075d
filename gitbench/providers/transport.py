"""Talking to a provider over HTTP: one request, classified failures, retries with backoff (tenacity).

Transient failures (429, 5xx, 408, timeouts, connection errors, a malformed or truncated answer, an answer
the caller cannot use) are retried up to ``attempts`` times with exponential backoff, honouring
``Retry-After``; then they surface as the ProviderError subclass of their class. Permanent ones (an unknown
model, a refused key, another 4xx) surface at once. Nothing here ever puts a key, a prompt or file content in
an error message: a provider's own error text is kept as its type and code and a scrubbed excerpt
(``errortext.py``), even when the server quotes the request back; its full text goes only to ``on_debug``
(the debug log, with ``--debug``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from gitbench import errors
from gitbench.lazy_dataclass import dataclass
from gitbench.providers import anthropic, errortext, openai
from gitbench.providers.config import ModelSpec, Provider, Settings

T = TypeVar("T")
Event = Callable[[str, dict[str, Any]], None]
DEBUG_BODY = 64 * 1024  # characters of an error body the debug log keeps

CLASSES: dict[str, type[errors.ProviderError]] = {
    "model": errors.ModelError,
    "model-unavailable": errors.ModelUnavailable,
    "rate-limit": errors.RateLimited,
    "timeout": errors.ModelTimeout,
    "network": errors.NetworkError,
}


class Transient(Exception):
    """A failure worth another attempt."""

    def __init__(self, klass: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.klass = klass
        self.reason = reason
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[Transient], tuple[str, str, float | None]]:
        # A worker's reply carries it back pickled (providers/call.py): made again from all three, not ``args``.
        return Transient, (self.klass, self.reason, self.retry_after)


class Unusable(ValueError):
    """Raised by a caller's ``use`` function: the answer arrived but cannot be used (e.g. no valid edits)."""


@dataclass
class Answer:
    text: str
    input_tokens: int | None
    output_tokens: int | None


@dataclass
class Outcome:
    value: Any
    answer: Answer
    attempts: int


def client(settings: Settings, base_url: str = "https://") -> httpx.Client:
    """One client per job (connections are reused across its batches). A plain-http endpoint (a local Ollama)
    gets no TLS context: building one reads the system's CA bundle, ~35 ms, for nothing."""
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    tls = not base_url.startswith("http://")
    return httpx.Client(timeout=timeout, follow_redirects=False, verify=tls)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_failure(resp: httpx.Response, spec: ModelSpec, sent: list[str]) -> Exception:
    code = resp.status_code
    said = _provider_message(resp, spec, sent)
    if code == 429:
        return Transient("rate-limit", f"HTTP 429 rate limit{said}", retry_after(resp.headers.get("retry-after")))
    if code == 408:
        return Transient("timeout", f"HTTP 408 request timeout{said}")
    if code >= 500:
        return Transient("model-unavailable", f"HTTP {code}{said}", retry_after(resp.headers.get("retry-after")))
    if code in (401, 403):
        where = f"${spec.provider.api_key_env}" if spec.provider.api_key_env else "the config file"
        return errors.ModelUnavailable(
            f"{spec.id}: the provider refused the API key (HTTP {code}){said}.",
            [errors.Action(f"Check the key in {where}", "models"), _switch_action()],
        )
    if code == 404 or code in (400, 422) and _UNKNOWN_MODEL.search(said):
        return errors.ModelUnavailable(
            f"{spec.id}: the provider does not know the model {spec.model!r} (HTTP {code}){said}.",
            [errors.Action("See which models answer", "models"), _switch_action()],
        )
    return errors.ModelError(f"{spec.id}: the provider rejected the request (HTTP {code}){said}.", [_switch_action()])


# A 400/422 that names the model as what is wrong ("The model `x` does not exist", "unknown model", an error code
# model_not_found): not every error that mentions the word, since a server may quote the request (its "model" key).
_UNKNOWN_MODEL = re.compile(
    r"model_not_found|invalid_model|\b(?:unknown|invalid|unsupported) model\b"
    r"|\bmodel\b[^.:]{0,80}?\b(?:not found|does not exist|not exist|is not supported|not supported|not available)",
    re.I,
)


def _provider_message(resp: httpx.Response, spec: ModelSpec, sent: list[str]) -> str:
    """The provider's own error, short, for the banner: its type and code, and an excerpt of its message
    with anything it quoted of ``sent`` (the system prompt, the user message and its files) taken out.

    Servers and proxies may quote the request back, and some providers quote the key they refused ("Incorrect
    API key provided: sk-..."): neither reaches the banner, the job record, the report, the chat or the logs."""
    try:
        data = resp.json()
    except ValueError:
        return ""
    return _said(data.get("error") if isinstance(data, dict) else None, spec, sent)


_KIND = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _said(err: Any, spec: ModelSpec, sent: list[str]) -> str:
    """``: type/code: excerpt`` of an error object (``{"type", "code", "message"}`` or a bare message)."""
    msg: Any = err.get("message") if isinstance(err, dict) else err
    kinds = []
    if isinstance(err, dict):
        for key in ("type", "code"):
            value = err.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and _KIND.fullmatch(str(value)):
                kinds.append(str(value))
    parts = ["/".join(dict.fromkeys(kinds))] if kinds else []
    if isinstance(msg, str) and msg.strip():
        parts.append(errortext.excerpt(msg, sent, [spec.provider.api_key or ""]))
    return ": " + ": ".join(parts) if parts else ""


def _switch_action() -> errors.Action:
    return errors.Action("Switch to another model", "resume", ("--model", "PROVIDER:MODEL"))


def _one(http: httpx.Client, spec: ModelSpec, system: str, user: str, max_tokens: int, debug: Event) -> Answer:
    proto = anthropic if spec.provider.kind == "anthropic" else openai
    url, headers, body = proto.request(spec, system, user, max_tokens)
    try:
        resp = http.post(url, headers=headers, json=body)
    except httpx.TimeoutException as exc:
        raise Transient("timeout", f"no answer in time ({type(exc).__name__})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise errors.UsageError(f"{spec.id}: the base URL {spec.provider.base_url!r} is not http(s).") from exc
    except (httpx.HTTPError, OSError) as exc:  # connect/read errors, a reset, a body cut short
        raise Transient("network", f"connection failed ({type(exc).__name__}: {exc})") from exc
    if resp.status_code >= 300:
        debug("provider.error", {"model": spec.id, "status": resp.status_code, "body": resp.text[:DEBUG_BODY]})
        raise _status_failure(resp, spec, [system, user])
    try:
        data = resp.json()
    except ValueError as exc:
        raise Transient("model", "the answer is not valid JSON (malformed or cut off)") from exc
    try:
        text, tin, tout = proto.answer(data)
    except ValueError as exc:
        # An error inside a 200 (some gateways answer so): said like an HTTP error's, scrubbed the same way.
        said = _said(data.get("error"), spec, [system, user]) if isinstance(data, dict) else ""
        if said:
            debug("provider.error", {"model": spec.id, "status": resp.status_code, "body": resp.text[:DEBUG_BODY]})
        raise Transient("model", f"the answer is not a {spec.provider.kind} reply: {exc}{said}") from exc
    return Answer(text, tin, tout)


def complete(
    http: httpx.Client,
    spec: ModelSpec,
    settings: Settings,
    system: str,
    user: str,
    use: Callable[[str], T],
    on_event: Event | None = None,
    on_debug: Event | None = None,
) -> Outcome:
    """Ask the model; ``use`` turns its text into a value (raising Unusable to ask again). Retries as above.

    ``on_event`` gets what may be logged (classes, counts, scrubbed reasons); ``on_debug`` what only the debug
    log may hold (a provider's full error body, which may quote the request)."""
    event = on_event or (lambda name, fields: None)
    debug = on_debug or (lambda name, fields: None)
    last: dict[str, Any] = {}

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = settings.backoff * (2 ** (state.attempt_number - 1))
        after = getattr(exc, "retry_after", None)
        seconds = min(float(after) if after is not None else backoff, settings.max_wait)
        if state.attempt_number >= settings.attempts:
            return seconds  # tenacity asks for the wait before it checks stop: no retry follows the last attempt
        event(
            "provider.retry",
            {
                "model": spec.id,
                "attempt": state.attempt_number,
                "wait": round(seconds, 3),
                "class": getattr(exc, "klass", None),
                "reason": getattr(exc, "reason", None),
                "retry_after": after,
            },
        )
        return seconds

    def attempt_once() -> Outcome:
        last["n"] = last.get("n", 0) + 1
        started = time.monotonic()
        try:
            answer = _one(http, spec, system, user, settings.max_tokens, debug)
            try:
                value = use(answer.text)
            except Unusable as exc:
                raise Transient("model", f"the model's answer cannot be used: {exc}") from exc
        except Transient as exc:
            event(
                "provider.attempt",
                {
                    "model": spec.id,
                    "attempt": last["n"],
                    "ok": False,
                    "class": exc.klass,
                    "reason": exc.reason,
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
            raise
        event(
            "provider.attempt",
            {
                "model": spec.id,
                "attempt": last["n"],
                "ok": True,
                "seconds": round(time.monotonic() - started, 3),
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
            },
        )
        return Outcome(value, answer, last["n"])

    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts), wait=wait, retry=retry_if_exception_type(Transient), reraise=True
    )
    try:
        return retrying(attempt_once)
    except Transient as exc:
        raise give_up(spec, exc, last.get("n", 1)) from exc
    except errors.GitbenchError as exc:
        exc.details.setdefault("attempts", last.get("n", 1))
        raise


def give_up(spec: ModelSpec, exc: Transient, attempts: int) -> errors.ProviderError:
    """The error after the last attempt, with the seed's next actions."""
    cls = CLASSES[exc.klass]
    what = {
        "rate-limit": "kept limiting the rate",
        "timeout": "did not answer in time",
        "network": "could not be reached, or the connection was cut",
        "model-unavailable": "is unavailable",
        "model": "gave answers gitbench cannot use",
    }[exc.klass]
    err = cls(f"{spec.id} {what} ({exc.reason}) after {attempts} attempt(s).", [])
    err.details["attempts"] = attempts
    return err


def probe(provider: Provider, timeout: float = 3.0) -> tuple[bool, str, list[str]]:
    """Does the provider answer? One GET of its model list, no retries. (ok, what happened, model names)."""
    proto = anthropic if provider.kind == "anthropic" else openai
    url = proto.models_url(provider.base_url)
    try:
        with httpx.Client(timeout=timeout) as http:
            resp = http.get(url, headers=proto.auth_headers(provider.api_key))
    except httpx.TimeoutException:
        return False, f"no answer within {timeout:g} s from {provider.base_url}", []
    except (httpx.TransportError, OSError, httpx.UnsupportedProtocol) as exc:
        return False, f"cannot connect to {provider.base_url} ({type(exc).__name__})", []
    if resp.status_code in (401, 403):
        return False, f"the key was refused (HTTP {resp.status_code})", []
    if resp.status_code >= 300:
        return False, f"HTTP {resp.status_code} from {url}", []
    try:
        data = resp.json()
        names = [
            str(m.get("id") or m.get("name")) for m in data.get("data", data.get("models", [])) if isinstance(m, dict)
        ]
    except (ValueError, AttributeError, TypeError):
        return True, "answers (its model list is not readable)", []
    return True, f"answers ({len(names)} model(s))", names
