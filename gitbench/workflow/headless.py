"""What the workflow's headless front ends ask of the engine beyond `run`: the registry file
(``.gitbench/modules/MODULES.md``, `gitbench workflow modules`) and waiting for an input module's outputs
(`module-runner --wait`). The engine is opened by the caller (``open_engine``): the CLI opens it for reading,
finishing an interrupted operation first. Progress leaves as events; the front end decides how to show them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gitbench import errors
from gitbench.events import Event

if TYPE_CHECKING:
    from gitbench.workflow.engine import Engine


def write_registry(engine: Engine) -> tuple[str, str]:
    """Write ``.gitbench/modules/MODULES.md``, every module of the workflow at HEAD with its contract; return
    its path and text."""
    from gitbench.store import atomic
    from gitbench.workflow import protocol

    text = protocol.registry_markdown(engine.workflow(engine.view(engine.head())))
    root = engine.wb.git.workdir or engine.wb.git.gitdir
    path = os.path.join(root, ".gitbench", "modules", "MODULES.md")
    atomic.write_bytes(path, text.encode())
    return path, text


def waits_for_input(engine: Engine, module: str) -> bool:
    """Does ``module`` still wait for its outputs? (The job also pauses when other modules are simply left.)"""
    from gitbench.workflow.state import ClaimStatus

    claim = engine.state.running.get(module)
    return claim is not None and claim.status == ClaimStatus.NEEDS_INPUT


@dataclass(frozen=True)
class Waiting:
    """An event of `wait_for_outputs`: ``start`` once, ``poll`` after each poll that found nothing (``left``:
    seconds left), then ``arrived`` or ``gave-up``."""

    kind: Literal["start", "poll", "arrived", "gave-up"]
    module: str
    left: float


def wait_for_outputs(
    engine: Engine,
    open_engine: Callable[[], Engine],
    module: str,
    wait: float,
    deadline: float,
    on_wait: Callable[[Waiting], None],
) -> tuple[Any, list[Event]]:
    """After ``engine``'s run left ``module`` waiting for its input: poll (once a second, each time a fresh
    engine's run of ``module``) until its outputs arrive; return that run's result and the progress lines it
    said. When ``deadline`` (a ``time.monotonic()``) passes first, raise InputTimeout with the way to go on."""
    on_wait(Waiting("start", module, wait))
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        lines: list[Event] = []
        engine = open_engine()
        res = engine.run(None, [module], None, lines.append)
        if not waits_for_input(engine, module):
            on_wait(Waiting("arrived", module, max(0.0, deadline - time.monotonic())))
            return res, lines
        on_wait(Waiting("poll", module, max(0.0, deadline - time.monotonic())))
    on_wait(Waiting("gave-up", module, 0.0))
    wanted = ", ".join(engine.workflow(engine.view(engine.head())).modules[module].outputs)
    raise errors.InputTimeout(
        f"{module} still waits for its input after {wait:g} s: {wanted} did not appear in the Workbench "
        "folder. Nothing was lost; the workflow's Draft keeps every finished module.",
        [
            errors.Action(
                f"Write {wanted} in the Workbench folder, then wait again",
                text=f"module-runner --module {module} --wait {wait:g}",
            ),
            errors.Action("Or go on once it is there", "workflow resume"),
        ],
    )
