"""The status snapshot answers `workflow status` after a change by resolving only what the change reaches. It
must print exactly what resolving everything from scratch prints: these tests hold it to that, over random
workflows and random changes (property tests), and through the real CLI on a real Workbench."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.workflow import incremental, resolver, scheduler, spec
from gitbench.workflow.engine import banner, current_phase
from gitbench.workflow.state import Claim, Gate, LastRun
from tests.conftest import gitbench
from tests.test_workflow_spec import Files, dags, name, run_all
from tests.workflow_helpers import status_json, workflow_bench

PROPS = settings(max_examples=200, deadline=None, database=None)

# What each module reads: a source file, every source file (a glob), the folder, or nothing.
READS = ["src/0.txt", "src/1.txt", "src/*.txt", "src", "src/sub/*.md"]


def workflow_text(
    needs: list[list[int]],
    order: list[int],
    reads: list[list[int]],
    phases: bool,
    max_parallel: int,
    exclusive: set[int],
    gates: set[int],
) -> str:
    lines = [f"max_parallel: {max_parallel}"]
    if phases:
        lines.append("phases: [one, two]")
    lines.append("modules:")
    for i in order:
        lines.append(f"  - id: {name(i)}")
        lines.append(f"    needs: [{', '.join(name(j) for j in needs[i])}]")
        lines.append(f"    inputs: [{', '.join(repr(READS[k]) for k in reads[i])}]")
        lines.append(f"    outputs: [out/{name(i)}.txt]")
        if phases:
            lines.append(f"    phase: {'one' if i % 2 else 'two'}")
        if i in exclusive:
            lines.append("    exclusive: true")
        if i in gates:
            lines.append("    gate: true")
        lines.append("    optional: true")
        lines.append("    run: {command: 'true'}")
    return "\n".join(lines) + "\n"


def full(wf: spec.Workflow, files: Files, engine: dict[str, Any], max_parallel: int | None) -> incremental.Snapshot:
    """The snapshot the way a status with no cache makes it: everything resolved and scheduled."""
    statuses = resolver.resolve(wf, files.view(), engine["running"], engine["last_run"], {}, engine["skipped"])
    scheduler.schedule(wf, statuses, engine["running"], engine["gates"], engine["skipped"], max_parallel)
    head = {
        "base": "b",
        "tree": "t",
        "banner": banner(wf, statuses, engine["skipped"]),
        "draft": None,
        "job": None,
        "max_parallel": max_parallel or wf.max_parallel,
        "phase": current_phase(wf, statuses, engine["skipped"]),
    }
    return incremental.build(wf, statuses, head)


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


@st.composite
def engine_states(draw: st.DrawFn, n: int) -> dict[str, Any]:
    """What the engine's state adds to the files: claims, gates, skipped modules, failed last runs."""
    ids = st.sampled_from([name(i) for i in range(n)])
    running = {
        m: Claim(status=draw(st.sampled_from(["running", "needs-input"]))) for m in draw(st.sets(ids, max_size=2))
    }
    gates = {m: Gate(required=True, approved=draw(st.booleans())) for m in draw(st.sets(ids, max_size=2))}
    failed = draw(st.sets(ids, max_size=2))
    return {
        "running": running,
        "gates": gates,
        "skipped": draw(st.sets(ids, max_size=2)),
        "failed": failed,
        "last_run": {},
    }


MUTATIONS = [
    "change-input",
    "add-input",
    "delete-input",
    "delete-output",
    "corrupt-meta",
    "rerun",
    "change-output",
    "add-nested",
    "delete-meta",
]


@PROPS
@given(dags(max_modules=12), st.data())
def test_the_snapshot_after_any_changes_prints_what_a_full_resolve_prints(
    dag: tuple[list[list[int]], list[int], list[list[int]]], data: st.DataObject
) -> None:
    needs, order, _ = dag
    n = len(needs)
    reads = [sorted(data.draw(st.sets(st.integers(0, len(READS) - 1), max_size=2))) for _ in range(n)]
    exclusive = data.draw(st.sets(st.integers(0, n - 1), max_size=2))
    max_parallel = data.draw(st.integers(1, 3))
    wf = spec.parse(
        workflow_text(
            needs,
            order,
            reads,
            data.draw(st.booleans()),
            max_parallel,
            exclusive,
            data.draw(st.sets(st.integers(0, n - 1), max_size=1)),
        )
    )
    cli_parallel = data.draw(st.sampled_from([None, 1, 2]))
    files = Files()
    for k in range(3):
        files.write(f"src/{k}.txt", f"source {k}\n".encode())
    run_all(wf, files, 2)
    engine = data.draw(engine_states(n))

    def with_failures(statuses_fp: dict[str, str]) -> None:
        engine["last_run"] = {
            m: LastRun(status="failed", error="boom", fingerprint=statuses_fp.get(m, "")) for m in engine["failed"]
        }

    first = resolver.resolve(wf, files.view(), {}, {}, {}, set())
    with_failures({m: s.fingerprint for m, s in first.items()})
    snap = full(wf, files, engine, cli_parallel)

    for _ in range(data.draw(st.integers(1, 4))):
        before = dict(files.listing)
        for _ in range(data.draw(st.integers(1, 3))):
            what = data.draw(st.sampled_from(MUTATIONS))
            i = data.draw(st.integers(0, n - 1))
            if what == "change-input":
                files.write(f"src/{data.draw(st.integers(0, 2))}.txt", data.draw(st.binary(max_size=3)))
            elif what == "add-input":
                files.write(f"src/{data.draw(st.integers(3, 5))}.txt", b"new\n")
            elif what == "add-nested":
                files.write(f"src/sub/{data.draw(st.integers(0, 2))}.md", data.draw(st.binary(max_size=3)))
            elif what == "delete-input":
                files.listing.pop(f"src/{data.draw(st.integers(0, 5))}.txt", None)
            elif what == "delete-output":
                files.listing.pop(f"out/{name(i)}.txt", None)
            elif what == "change-output":
                files.write(f"out/{name(i)}.txt", data.draw(st.binary(max_size=3)))
            elif what == "corrupt-meta":
                files.write(resolver.meta_path(name(i)), b"{not json")
            elif what == "delete-meta":
                files.listing.pop(resolver.meta_path(name(i)), None)
            else:  # a module runs again with what it reads now
                now = resolver.resolve(wf, files.view(), {}, {}, {}, set())
                from tests.test_workflow_spec import run_module

                run_module(wf, files, name(i), now[name(i)].fingerprint, 99)
        changed = changes(before, files.listing)
        updated = incremental.update(
            snap,
            changed,
            files.view(),
            snap.head,
            engine["running"],
            engine["last_run"],
            {},
            engine["skipped"],
            engine["gates"],
            cli_parallel,
        )
        expected = full(wf, files, engine, cli_parallel)
        if updated is None:  # it chose a full resolve: nothing to compare
            snap = expected
            continue
        assert incremental.document(updated.head, updated.texts) == incremental.document(expected.head, expected.texts)
        assert updated.index["states"] == expected.index["states"]
        snap = updated


def test_the_document_is_the_json_of_the_whole_status() -> None:
    wf = spec.parse(workflow_text([[], [0]], [0, 1], [[0], []], True, 2, set(), set()))
    files = Files()
    files.write("src/0.txt", b"x\n")
    statuses = resolver.resolve(wf, files.view(), {}, {}, {}, set())
    scheduler.schedule(wf, statuses, {}, {}, set(), None)
    from gitbench.model import to_json
    from gitbench.workflow.engine import EngineStatus

    whole = EngineStatus(
        banner=banner(wf, statuses),
        job="j1",
        draft="refs/heads/gitbench/draft/j1",
        modules=[statuses[m] for m in wf.order],
        phase=current_phase(wf, statuses),
        max_parallel=2,
    )
    head = {"banner": whole.banner, "draft": whole.draft, "job": whole.job, "max_parallel": 2, "phase": whole.phase}
    text = incremental.document(head, [incremental.module_text(statuses[m]) for m in wf.order])
    assert text == json.dumps(to_json(whole), sort_keys=True, separators=(",", ":"))


def test_a_torn_or_foreign_snapshot_is_a_miss_not_an_error() -> None:
    wf = spec.parse(workflow_text([[]], [0], [[0]], False, 2, set(), set()))
    files = Files()
    files.write("src/0.txt", b"x\n")
    data = incremental.dumps(full(wf, files, {"running": {}, "gates": {}, "skipped": set(), "last_run": {}}, None))
    assert incremental.loads(data) is not None
    for bad in (data[: len(data) // 2], b"", b"\x00" * 10, b"junk", data[:-1]):
        assert incremental.loads(bad) is None


WORKFLOW = """\
max_parallel: 2
modules:
  - id: a
    inputs: [notes/a.md]
    outputs: [out/a.txt]
    run: {command: "cp notes/a.md out/a.txt"}
  - id: b
    needs: [a]
    outputs: [out/b.txt]
    run: {command: "cp out/a.txt out/b.txt"}
  - id: c
    inputs: ["notes/*.md"]
    outputs: [out/c.txt]
    run: {command: "cat notes/*.md > out/c.txt"}
  - id: d
    inputs: [notes/d.md]
    outputs: [out/d.txt]
    run: {command: "cp notes/d.md out/d.txt"}
"""


def test_status_after_a_change_through_the_cli_is_what_a_fresh_status_says(tmp_path: Path) -> None:
    wb = workflow_bench(tmp_path / "p", WORKFLOW, {"notes/a.md": "a\n", "notes/d.md": "d\n"})
    assert gitbench(wb, "workflow", "run").returncode == 0
    assert gitbench(wb, "publish").returncode == 0
    banner_text, mods = status_json(wb)
    assert banner_text == "Status: complete"
    cache = wb / ".git" / "gitbench" / "workflow" / "cache"
    assert (cache / "status.snap").exists()

    (wb / "notes" / "a.md").write_text("a changed\n")
    (wb / "notes" / "new.md").write_text("new\n")
    assert gitbench(wb, "add", "notes").returncode == 0
    after = gitbench(wb, "workflow", "status", "--json").stdout
    stale = {m["id"]: m["state"] for m in json.loads(after)["result"]["modules"] if m["state"] != "complete"}
    assert stale == {"a": "ready", "b": "blocked", "c": "ready"}
    shutil.rmtree(cache)
    assert gitbench(wb, "workflow", "status", "--json").stdout == after
