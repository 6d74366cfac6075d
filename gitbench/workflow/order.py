"""The workflow's order: dependencies first, ties in file order; a cycle is named in full.

``graphlib`` does the graph work (counting what each module still waits for, finding a cycle); what is ours is
the tie-break (among the modules ready at once, the one written first in the file comes first) and which way
a cycle is told (as ``needs`` read: ``a → c`` says a needs c).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter


class Cycle(Exception):
    """The modules depend on each other in a cycle: ``cycle`` names it, starting and ending with the same module
    (the one written first in the file), each module followed by one it needs."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" → ".join(cycle))
        self.cycle = cycle


def dependencies_first(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Every module of ``needs`` (module → the modules it needs, in file order), each after what it needs and,
    among the modules that could come next, the first in the file first. Raises ``Cycle``."""
    position = {m: i for i, m in enumerate(needs)}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for m, deps in needs.items():
        sorter.add(m, *deps)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise Cycle(_told(list(exc.args[1]), position)) from None
    order: list[str] = []
    ready: list[tuple[int, str]] = []
    while sorter.is_active():
        for m in sorter.get_ready():
            heapq.heappush(ready, (position[m], m))
        _, m = heapq.heappop(ready)
        order.append(m)
        sorter.done(m)
    return order


def _told(found: list[str], position: Mapping[str, int]) -> list[str]:
    """graphlib's cycle (each node before one that needs it; first and last the same) as the message tells it:
    each module before one it needs, starting from the one written first."""
    ring = list(reversed(found[:-1]))
    start = min(range(len(ring)), key=lambda i: position.get(ring[i], len(position)))
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]
