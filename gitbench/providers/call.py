"""One model call as plain data in and out: the part of a Workshop batch that may run on another machine.

A batch of a Workshop job (``services/ask.py``) is three parts: read the Draft's files and build the request
(Git, the main process), ask the model (this module: HTTP only), check the answer's edits and commit them to
the Draft (Git, the main process). ``run`` is the middle part, a module-level function of picklable values: the
request's text, the resolved model (its ``Provider`` carries only that model's own key), the retry and time
settings. It needs no Workbench, no repository and no pygit2, so ``gitbench try --executor`` sends it to a
worker of a cluster as one task (``services/attempt_tasks.py``), and a worker needs gitbench installed but never
the project.

What the model does wrong comes back as data, ``Reply.error`` (the classified ProviderError after its retries,
as a local run raises it), so an exception raised by a task means the executor failed (a worker lost, the
scheduler gone), never the model. The log's events come back in ``Reply.events`` for the main process to write
(a worker has no ``.git/gitbench/logs``), unless the caller takes them live (``on_event``: a local run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.providers.config import ModelSpec, Settings

if TYPE_CHECKING:
    import httpx

Event = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Request:
    """What a worker is sent: the two messages, the model and the settings; nothing of the Workbench."""

    spec: ModelSpec
    settings: Settings
    system: str
    user: str
    debug: bool = False  # keep the debug events (a provider's full error body may quote the request) for the log


@dataclass
class Reply:
    """The model's answer (``text`` and token counts), or ``error``; ``attempts``: requests made, retries
    included. ``events`` and ``debug``: the log lines of the call, when the caller did not take them live."""

    text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int = 0
    error: errors.GitbenchError | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    debug: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def run(
    request: Request,
    on_event: Event | None = None,
    on_debug: Event | None = None,
    http: httpx.Client | None = None,
) -> Reply:
    """Ask the model, with the transport's retries; an answer with no edits object is asked again (as an
    unusable answer), since the main process could not use it either. ``http``: a client to reuse (a local job
    keeps one across its batches); a worker makes its own.

    An exception from ``on_event`` (a local run's Ctrl-C, raised at a retry) goes through, as in ``ask``."""
    from gitbench.providers import transport
    from gitbench.services import edits

    reply = Reply()
    event = on_event or (lambda name, fields: reply.events.append((name, fields)))
    debug = on_debug or (lambda name, fields: reply.debug.append((name, fields)) if request.debug else None)

    def use(text: str) -> str:
        try:
            edits.parse(text)
        except edits.NoEdits as exc:
            debug("provider.answer", {"text": text[:4000]})
            raise transport.Unusable(str(exc)) from exc
        return text

    spec, settings = request.spec, request.settings
    try:
        if http is None:
            with transport.client(settings, spec.provider.base_url) as own:
                outcome = transport.complete(own, spec, settings, request.system, request.user, use, event, debug)
        else:
            outcome = transport.complete(http, spec, settings, request.system, request.user, use, event, debug)
    except errors.GitbenchError as exc:
        reply.error, reply.attempts = exc, int(exc.details.get("attempts", 1))
        return reply
    reply.text, reply.attempts = outcome.answer.text, outcome.attempts
    reply.input_tokens, reply.output_tokens = outcome.answer.input_tokens, outcome.answer.output_tokens
    return reply
