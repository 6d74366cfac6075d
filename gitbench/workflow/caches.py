"""The engine's caches, in ``.git/gitbench/workflow/cache/``: only ever a speed-up (deleting any of them changes
nothing but the time; a torn one is a miss).

- ``meta.json``: parsed module metadata by blob id (a blob id names its content: never stale);
- ``workflow.bin``: the workflow file parsed once per version (its blob id), with what a status snapshot needs of
  it (``incremental.Compiled``);
- ``status.cache``: the last printed status, by a key of everything it depends on;
- ``status.snap``: the last status snapshot, from which a changed tree is answered at the cost of the change
  (``incremental.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gitbench
from gitbench import errors
from gitbench.git.repo import COMMIT_MODE, TREE
from gitbench.store import atomic
from gitbench.store.layout import Layout
from gitbench.workflow import incremental, spec
from gitbench.workflow import state as engine_state
from gitbench.workflow.resolver import View
from gitbench.workflow.state import ClaimStatus

if TYPE_CHECKING:
    from gitbench.workflow.engine import Engine


class Caches:
    def __init__(self, gitdir: str) -> None:
        self.layout = Layout(gitdir)
        self.compiled: incremental.Compiled | None = None  # the workflow last read, with what a snapshot takes

    def path(self, name: str) -> str:
        return self.layout.workflow_cache(name)

    def meta(self) -> dict[str, Any]:
        cache = atomic.read_json(self.path("meta.json"))
        return cache if isinstance(cache, dict) else {}

    def save_meta(self, view: View) -> None:
        """Parsed metadata by blob id: only ever a speed-up (deleting it changes nothing but the time)."""
        if view.meta_cache_changed:
            with contextlib.suppress(OSError):  # compact: json's C encoder (indented, 10,000 entries took 4× as long)
                data = json.dumps(view.meta_cache, separators=(",", ":")).encode()
                atomic.write_bytes(self.path("meta.json"), data, fsync=False)

    def workflow(self, view: View) -> spec.Workflow:
        oid = view.oid(spec.PATH)
        if oid is None:
            raise errors.UsageError(
                f"This Workbench has no workflow: {spec.PATH} is not in Published.",
                [errors.Action(f"Write {spec.PATH} (docs/workflow.md), then add it", "add", (spec.PATH,))],
            )
        # Parsed once per version of the file (its blob id), with what a status snapshot needs of it (each
        # module's spec as text, the path index): YAML is slow to parse at thousands of modules, and so is
        # turning thousands of specs into text.
        path = self.path("workflow.bin")
        with contextlib.suppress(OSError):
            with open(path, "rb") as fh:
                compiled = incremental.load_compiled(fh.read(), oid, gitbench.__version__)
            if compiled is not None:
                self.compiled = compiled
                return compiled.wf
        wf = spec.parse(view.read(oid).decode("utf-8", "replace"), spec.PATH)
        compiled = incremental.compile_workflow(wf)
        self.compiled = compiled
        with contextlib.suppress(OSError):
            data = incremental.dump_compiled(compiled, oid, gitbench.__version__)
            if data is not None:
                atomic.write_bytes(path, data, fsync=False)
        return wf


def status_text(engine: Engine, max_parallel: int | None = None) -> str:
    """The status as a JSON text. An unchanged tree and state answer from the printed text kept in the
    cache; a changed tree is answered from the status snapshot of the last one, resolving again only the
    modules the change reaches (gitbench/workflow/incremental.py); anything else resolves everything."""
    from gitbench.workflow.claims import cluster_capacity

    wb, caches, state = engine.wb, engine.caches, engine.state
    tree = wb.git.commit(engine.head()).tree
    state_bytes = engine_state.identity(state)  # the state's files as the engine read them
    draft = engine.draft()
    claims = engine.claims()  # which claims' processes are gone is part of what the status depends on
    dead = ",".join(sorted(m for m, c in claims.items() if c.status == ClaimStatus.INTERRUPTED))
    base = hashlib.sha1(
        b"\0".join(
            [
                state_bytes,
                dead.encode(),
                gitbench.__version__.encode(),
                str(max_parallel).encode(),
                str(draft).encode(),
                str(incremental.FORMAT).encode(),
            ]
        )
    ).hexdigest()
    key = hashlib.sha1(f"{base}\0{tree}".encode()).hexdigest()
    path = caches.path("status.cache")
    with contextlib.suppress(OSError):
        with open(path, encoding="utf-8") as fh:
            if fh.readline().strip() == key:
                text = fh.read()
                if text.startswith("{") and text.rstrip().endswith("}"):
                    return text.rstrip()
    snap: incremental.Snapshot | None = None
    old: incremental.Snapshot | None = None
    with contextlib.suppress(OSError):
        with open(caches.path("status.snap"), "rb") as fb:
            old = incremental.loads(fb.read())
    if old is not None and old.head.get("base") == base:
        if old.head.get("tree") == tree:
            snap = old
        else:
            changed = [c.path for c in wb.git.diff_trees(str(old.head["tree"]), tree)]
            snap = incremental.update(
                old,
                changed,
                tree_view(engine, tree),
                {**old.head, "tree": tree},
                claims,
                state.last_run,
                state.overrides,
                state.skipped,
                state.gates,
                max_parallel,
                cluster_capacity(state, claims),
            )
    if snap is None:
        wf, statuses, st = engine.full_status(max_parallel)
        snap = incremental.build(
            wf,
            statuses,
            {
                "base": base,
                "tree": tree,
                "banner": st.banner,
                "draft": draft,
                "job": st.job,
                "max_parallel": st.max_parallel,
                "phase": st.phase,
            },
            caches.compiled if caches.compiled is not None and caches.compiled.wf is wf else None,
        )
    text = incremental.document(snap.head, snap.texts)
    with contextlib.suppress(OSError):  # caches: a torn one is a miss
        if snap is not old:
            atomic.write_bytes(caches.path("status.snap"), incremental.dumps(snap), fsync=False)
        atomic.write_bytes(path, f"{key}\n{text}\n".encode(), fsync=False)
    return text


def tree_view(engine: Engine, tree: str) -> View:
    """A View that reads the tree on demand (a status after a small change looks at a few paths)."""
    git = engine.wb.git

    def lookup(path: str) -> str | None:
        entry = git.tree_entry(tree, path)
        return entry[0] if entry is not None and entry[1] not in (TREE, COMMIT_MODE) else None

    def walk(descend: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
        return ((p, o) for p, o, _ in git.walk_tree(tree, descend=descend))

    return incremental.TreeView(lookup, walk, git.blob)
