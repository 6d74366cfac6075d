"""`workflow status` when no status cache can vouch for the tree (issue 14): the full resolve of a large workflow
must cost a few Python calls per module, not hundreds, and print exactly what it printed before.

The speed itself is measured beside `make -n` by ``python -m tests.bench.workflow_dag --cold`` (docs/performance.md);
here the work is counted (Python function calls per module: the same on a busy machine as on an idle one), and
each shortcut taken for speed is held to the generic code it replaces, byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.model import to_json
from gitbench.workflow import incremental, resolver, spec
from gitbench.workflow.resolver import Artifact, ModuleStatus
from tests.bench.workflow_dag import generate
from tests.conftest import gitbench
from tests.test_workflow_incremental import WORKFLOW, workflow_text
from tests.workflow_helpers import status_json, workflow_bench

PROPS = settings(max_examples=300, deadline=None, database=None)
CACHE = Path(".git") / "gitbench" / "workflow" / "cache"

# Text as a status can hold it: ASCII, accents, quotes, backslashes, control characters, beyond the BMP.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def _forget_status(wb: Path) -> None:
    """What a changed engine state, Draft or gitbench version does to the status caches: neither vouches."""
    for name in ("status.cache", "status.snap"):
        (wb / CACHE / name).unlink(missing_ok=True)


def test_a_full_resolve_costs_a_few_python_calls_per_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmark's DAG at 2,000 modules (20 chains of 100 steps), up to date, as its generator makes it.
    wb, _ = generate(str(tmp_path), 2000, dict(os.environ))
    monkeypatch.chdir(wb)
    from gitbench.cli.opening import open_workbench
    from gitbench.workflow.engine import Engine

    first = Engine(open_workbench()).status_text()  # the first status parses the workflow file: not counted
    assert json.loads(first)["banner"] == "Status: complete"
    _forget_status(Path(wb))
    engine = Engine(open_workbench())
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        again = engine.status_text()
    finally:
        sys.setprofile(None)
    assert again == first
    # Before issue 14: 162 calls per module (each spec turned into text through dataclasses.asdict, the path
    # index built again, the JSON workflow cache read back field by field, each status through json.dumps).
    assert calls / 2000 <= 30, f"{calls / 2000:.0f} Python calls per module"


def test_a_full_resolve_prints_what_no_cache_prints_and_a_changed_workflow_file_is_read_again(
    tmp_path: Path,
) -> None:
    wb = workflow_bench(tmp_path / "p", WORKFLOW, {"notes/a.md": "a\n", "notes/d.md": "d\n"})
    assert gitbench(wb, "workflow", "run").returncode == 0
    assert gitbench(wb, "publish").returncode == 0
    (wb / "notes" / "a.md").write_text("a changed\n")
    assert gitbench(wb, "add", "notes").returncode == 0
    shutil.rmtree(wb / CACHE, ignore_errors=True)
    cold = gitbench(wb, "workflow", "status", "--json").stdout  # parses the workflow file, reads every metadata
    compiled = (wb / CACHE / "workflow.bin").read_bytes()
    _forget_status(wb)
    full = gitbench(wb, "workflow", "status", "--json").stdout  # the compiled workflow, no status cache
    cached = gitbench(wb, "workflow", "status", "--json").stdout
    assert cold == full == cached
    stale = {m["id"]: m["state"] for m in json.loads(full)["result"]["modules"] if m["state"] != "complete"}
    assert stale == {"a": "ready", "b": "blocked", "c": "ready"}

    # A new version of module d: the file's blob changes, so the compiled workflow of the old one is not used.
    text = WORKFLOW.replace("  - id: d\n", "  - id: d\n    version: 2\n")
    (wb / ".gitbench" / "workflow.yaml").write_text(text)
    assert gitbench(wb, "add", ".gitbench/workflow.yaml").returncode == 0
    _forget_status(wb)
    banner, mods = status_json(wb)
    assert mods["d"]["state"] == "ready"
    assert mods["d"]["artifacts"][0]["reason"] == "module version changed (1 → 2)"
    assert (wb / CACHE / "workflow.bin").read_bytes() != compiled
    # A torn compiled workflow is a miss, not an error: the same status again.
    data = (wb / CACHE / "workflow.bin").read_bytes()
    (wb / CACHE / "workflow.bin").write_bytes(data[: len(data) // 2])
    _forget_status(wb)
    assert status_json(wb) == (banner, mods)


@PROPS
@given(
    st.builds(
        ModuleStatus,
        id=texts,
        state=st.sampled_from(list(resolver.ModuleState)),
        artifacts=st.lists(
            st.builds(
                Artifact, path=texts, klass=st.sampled_from(list(resolver.ArtifactClass)), reason=st.none() | texts
            ),
            max_size=3,
        ),
        blocked_by=st.lists(texts, max_size=3),
        reason=st.none() | texts | st.integers(),
        fingerprint=texts,
        last_run=st.none()
        | st.dictionaries(texts, st.none() | texts | st.integers() | st.floats(allow_nan=False), max_size=3),
        skip=st.none() | texts,
    )
)
def test_a_status_is_written_as_json_dumps_writes_it(status: ModuleStatus) -> None:
    expected = json.dumps(to_json(status), sort_keys=True, separators=(",", ":"), default=str)
    assert incremental.module_text(status) == expected


@PROPS
@given(
    texts,
    texts,
    st.dictionaries(texts, texts | st.integers(), max_size=2),
    st.dictionaries(texts, texts, max_size=1),
    st.lists(st.tuples(texts, st.none() | texts), max_size=4),
)
def test_a_fingerprint_is_the_hash_of_the_json_it_always_was(
    mid: str, version: str, config: dict[str, Any], overrides: dict[str, Any], inputs: list[tuple[str, str | None]]
) -> None:
    import hashlib

    m = spec.ModuleSpec(id=mid, kind="command", run={"command": "true"}, version=version, config=config)
    head = json.dumps([mid, version, {**config, **overrides}], sort_keys=True, default=str)
    body = "".join(f"{p}\0{o}\n" for p, o in sorted(inputs, key=lambda i: (i[0], i[1] or "")))
    assert resolver.fingerprint(m, inputs, overrides) == hashlib.sha1((head + "\n" + body).encode()).hexdigest()


def test_the_compiled_workflow_is_the_parsed_one_and_anything_else_is_a_miss() -> None:
    text = workflow_text([[], [0], [0, 1]], [0, 1, 2], [[0], [2], [3]], True, 3, {1}, {2})
    wf = spec.parse(text)
    compiled = incremental.compile_workflow(wf)
    data = incremental.dump_compiled(compiled, "a" * 40, "1.0")
    assert data is not None
    back = incremental.load_compiled(data, "a" * 40, "1.0")
    assert back is not None
    assert back.wf == wf and list(back.wf.modules) == list(wf.modules)
    assert back.specs == [json.dumps(to_json(wf.modules[m]), separators=(",", ":"), default=str) for m in wf.order]
    assert [incremental.parse_spec(s) for s in back.specs] == [wf.modules[m] for m in wf.order]
    assert back.index == incremental.build_index(wf)
    for other in (("b" * 40, "1.0"), ("a" * 40, "1.1")):  # another file, another gitbench
        assert incremental.load_compiled(data, *other) is None
    for bad in (data[: len(data) // 2], b"", b"junk", data[:-1]):
        assert incremental.load_compiled(bad, "a" * 40, "1.0") is None
    # Settings YAML turns into something else than plain data (a date) are not cached: parsed each time.
    dated = spec.parse(text.replace("    optional: true\n", "    optional: true\n    config: {day: 2026-01-01}\n", 1))
    assert incremental.dump_compiled(incremental.compile_workflow(dated), "a" * 40, "1.0") is None
