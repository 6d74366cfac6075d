"""A model module: its inputs sent with the prompt; the structured edits it answers are written to its outputs in
the folder (edits to anything else are refused), then captured like a command's."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.git import export
from gitbench.git.repo import BLOB
from gitbench.scope import Scope
from gitbench.workflow import spec
from gitbench.workflow.runners import Ran
from gitbench.workflow.state import RunStatus

if TYPE_CHECKING:
    from gitbench.providers.config import Config, ModelSpec, Settings


def run(
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    workdir: str | None,
    logs: str,
) -> Ran:
    """Run the module here: its model resolved from the config of the Workbench at ``workdir``."""
    from gitbench.store.logs import Log

    started = time.monotonic()
    try:
        cfg, model_spec = resolve(m, workdir)
    except errors.GitbenchError as exc:
        return Ran(folder, snap, RunStatus.FAILED, exc.message, time.monotonic() - started)

    def on_debug(name: str, fields: dict[str, Any]) -> None:  # only with --debug: may quote the request
        Log(logs, cfg.secrets).debug_event(name, module=m.id, **fields)

    return call(m, folder, snap, config, model_spec, cfg.settings, on_debug)


def resolve(m: spec.ModuleSpec, workdir: str | None) -> tuple[Config, ModelSpec]:
    """The config and the module's model (its provider, with that provider's key alone)."""
    from gitbench.providers import config as provider_config

    cfg = provider_config.load(workdir)
    return cfg, cfg.resolve(str(m.run["model"]))


def call(
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    model_spec: ModelSpec,
    settings: Settings,
    on_debug: Callable[[str, dict[str, Any]], None] | None,
) -> Ran:
    """Ask ``model_spec`` for the module's edits and write them in ``folder`` (here, or on a cluster's worker:
    everything it needs is in its arguments)."""
    from gitbench.providers import transport
    from gitbench.services import edits

    started = time.monotonic()
    refused: list[tuple[str, str]] = []  # edits the model proposed outside its outputs: named, never written
    try:
        sent: dict[str, tuple[str, int]] = {}
        for rel in sorted(snap):
            with open(os.path.join(folder, rel), "rb") as fh:
                data = fh.read()
            with contextlib.suppress(UnicodeDecodeError):
                if len(data) <= settings.max_file_bytes and b"\x00" not in data:
                    sent[rel] = (data.decode("utf-8"), BLOB)
        prompt = str(m.run["prompt"])
        if config:
            prompt += "\nSettings: " + json.dumps(config, sort_keys=True)
        from gitbench.services.ask import SYSTEM, request_text

        scope = Scope(tuple(m.outputs))
        user = request_text(prompt, "", sent, scope, 1, 1)

        def use(text: str) -> Any:
            try:
                return edits.parse(text)
            except edits.NoEdits as exc:
                raise transport.Unusable(str(exc)) from exc

        with transport.client(settings, model_spec.provider.base_url) as http:
            outcome = transport.complete(http, model_spec, settings, SYSTEM, user, use, on_debug=on_debug)
        raw, _summary = outcome.value
        plan = edits.plan(
            raw, {p: v for p, v in sent.items() if p in m.outputs}, scope, lambda p: None, settings.max_edit_bytes
        )
        refused = list(plan.refused)
        for path, (content, _mode) in plan.writes.items():
            full = os.path.join(folder, path)
            if content is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(full)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as out:
                out.write(content)
        status, error = RunStatus.COMPLETE, None
    except errors.GitbenchError as exc:
        status, error = RunStatus.FAILED, exc.message
        transient = isinstance(exc, TRANSIENT)
    else:
        transient = False
    return Ran(folder, snap, status, error, time.monotonic() - started, refused=refused, transient=transient)


# A provider's failures that are not the module's: the provider down, a rate limit, a timeout, the network. The
# module's next run (`gitbench workflow resume`) asks again.
TRANSIENT = (errors.ModelUnavailable, errors.RateLimited, errors.ModelTimeout, errors.NetworkError)
