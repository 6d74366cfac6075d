"""The engine's state files: claims, gates and last runs are typed records, each the JSON object it always was;
a state written by an older gitbench (all in state.json) loads, and is saved in the files of today (state.json,
runs.log, definition.json); what a save writes is what it loads back, and a run of N modules writes O(N) bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gitbench.workflow import state as engine_state
from gitbench.workflow.state import Claim, ClaimStatus, Gate, LastRun, RunStatus

# As gitbench 1.x wrote it: a claim of a running module, one whose step commit was noted before the Draft moved,
# one waiting for input, a gate approved for some inputs, a plain gate, the last run of a finished module (and of
# one settled after a crash, with the claim's process fields), and a key this version does not know.
OLD = {
    "gates": {
        "deploy": {"approved": True, "fingerprint": "f1", "inputs": {"in.txt": "abc"}, "required": True},
        "extra": {"approved": False, "required": True},
    },
    "job": "j1",
    "last_run": {
        "a": {
            "commit": "c1",
            "count": 2,
            "error": None,
            "finished": 2.0,
            "fingerprint": "fa",
            "job": "j1",
            "run": "j1.a.2",
            "seconds": 0.5,
            "since": 1.0,
            "status": "complete",
        },
        "b": {"error": "boom", "fingerprint": "fb", "status": "failed", "count": 1},
        "c": {
            "commit": "c3",
            "finished": 3.0,
            "job": "j1",
            "pid": 7,
            "run": "j1.c.1",
            "since": 1.0,
            "started": 9,
            "status": "complete",
            "fingerprint": "fc",
            "parent": "p3",
        },
    },
    "overrides": {"notify": {"tone": "casual"}},
    "running": {
        "d": {
            "fingerprint": "fd",
            "job": "j1",
            "pid": 42,
            "run": "j1.d.1",
            "since": 1.5,
            "started": 123,
            "status": "running",
        },
        "e": {
            "commit": "c5",
            "fingerprint": "fe",
            "job": "j1",
            "parent": "p5",
            "pid": 42,
            "run": "j1.e.1",
            "since": 1.5,
            "started": None,
            "status": "running",
        },
        "f": {
            "fingerprint": "ff",
            "job": "j1",
            "pid": 42,
            "run": "j1.f.1",
            "since": 1.5,
            "started": 123,
            "status": "needs-input",
            "later": "kept",
        },
    },
    "skipped": ["lint"],
    "workflow": None,
}


def write(tmp_path: Path, data: object) -> str:
    gitdir = str(tmp_path)
    Path(engine_state.path(gitdir)).parent.mkdir(parents=True)
    Path(engine_state.path(gitdir)).write_text(json.dumps(data))
    return gitdir


def files(gitdir: str) -> tuple[dict[str, Any], list[list[Any]], Any]:
    """state.json, runs.log's lines, definition.json (None if absent), as JSON."""
    folder = Path(engine_state.path(gitdir)).parent
    runs = folder / "runs.log"
    definition = folder / "definition.json"
    return (
        json.loads((folder / "state.json").read_text()),
        [json.loads(line) for line in runs.read_text().splitlines()] if runs.exists() else [],
        json.loads(definition.read_text()) if definition.exists() else None,
    )


def test_an_old_state_loads_as_typed_records_and_saves_back_as_the_same_objects_in_todays_files(
    tmp_path: Path,
) -> None:
    workflow = {"path": ".gitbench/workflow.yaml", "blob": "b1", "definition": {"order": ["a"], "max_parallel": 2}}
    gitdir = write(tmp_path, {**OLD, "workflow": workflow})
    state = engine_state.load(gitdir)
    assert state.running["d"] == Claim(ClaimStatus.RUNNING, 42, 123, 1.5, "j1", "j1.d.1", "fd")
    assert state.running["e"].commit == "c5" and state.running["e"].parent == "p5"
    assert state.running["f"].status == ClaimStatus.NEEDS_INPUT
    assert state.gates["deploy"] == Gate(required=True, approved=True, fingerprint="f1", inputs={"in.txt": "abc"})
    assert state.last_run["a"].count == 2 and state.last_run["b"].error == "boom"
    assert state.workflow == workflow
    engine_state.save(gitdir, state)
    # The same objects, but that a last run always says its error (null for none): the one settled after a crash
    # did not. The last runs are lines of runs.log now, the definition is definition.json, and state.json names
    # the file run (path and blob) and keeps the rest.
    expected = json.loads(json.dumps(OLD))
    expected["last_run"]["c"]["error"] = None
    small, runs, definition = files(gitdir)
    assert small == {
        **{k: v for k, v in expected.items() if k != "last_run"},
        "workflow": {"path": workflow["path"], "blob": "b1"},
    }
    assert runs == [[k, v] for k, v in expected["last_run"].items()]
    assert definition == workflow
    again = engine_state.load(gitdir)
    check_saved(gitdir, state)
    assert again.workflow == {"path": workflow["path"], "blob": "b1"}  # the definition stays in its file
    assert engine_state.holds_definition(gitdir, again.workflow)
    assert not engine_state.holds_definition(gitdir, {"path": workflow["path"], "blob": "b2"})


def test_new_records_write_the_keys_the_dicts_had() -> None:
    assert Gate(required=True).to_json() == {"required": True, "approved": False}
    claim = Claim(pid=1, started=None, since=2.0, job="j", run="j.a.1", fingerprint="f")
    assert claim.to_json() == {
        "status": "running",
        "pid": 1,
        "started": None,
        "since": 2.0,
        "job": "j",
        "run": "j.a.1",
        "fingerprint": "f",
    }
    last = LastRun(status="complete", error=None, finished=3.0, since=2.0, seconds=1.0, run="j.a.1", count=1)
    assert last.json == {
        "status": "complete",
        "error": None,
        "finished": 3.0,
        "since": 2.0,
        "seconds": 1.0,
        "run": "j.a.1",
        "count": 1,
    }


def test_a_record_loads_its_status_as_the_enum_and_writes_the_text_it_always_did() -> None:
    gate = Gate(required=True, approved=True, fingerprint="f", inputs={"x": "1"})
    assert gate.approved is True and gate.inputs == {"x": "1"}
    assert Gate().required is None and "required" not in Gate().to_json()  # None: as the workflow file says
    claim = Claim.from_json({"status": "needs-input", "pid": 7})
    assert claim.status is ClaimStatus.NEEDS_INPUT and claim.to_json()["status"] == "needs-input"
    last = LastRun.from_json({"status": "failed", "error": "boom"})
    assert last.status is RunStatus.FAILED and json.dumps(last.json) == '{"status": "failed", "error": "boom"}'
    # a status a newer gitbench wrote loads as itself and is written back unchanged, not a refused state
    newer = LastRun.from_json({"status": "offloaded"})
    assert newer.status == "offloaded" and newer.to_json()["status"] == "offloaded"


def test_a_state_of_another_shape_is_a_fresh_state_not_an_error(tmp_path: Path) -> None:
    for bad in ({"running": ["a"]}, {"gates": {"a": 1}}, {"last_run": {"a": {"nope": 1}}, "running": 3}, [1, 2]):
        gitdir = write(tmp_path / str(abs(hash(json.dumps(bad)))), bad)
        assert engine_state.load(gitdir) == engine_state.EngineState()
    assert engine_state.load(str(tmp_path / "none")) == engine_state.EngineState()
    gitdir = write(tmp_path / "text", {})
    Path(engine_state.path(gitdir)).write_text("not json {")
    assert engine_state.load(gitdir) == engine_state.EngineState()


def test_lines_and_a_definition_of_another_shape_are_left_out(tmp_path: Path) -> None:
    ref = {"path": "w.yaml", "blob": "b2"}
    gitdir = write(tmp_path, {"workflow": ref})
    folder = Path(engine_state.path(gitdir)).parent
    good = '["a",{"count":1,"error":null,"status":"complete"}]'
    (folder / "runs.log").write_text("\n".join([good, '["b",1]', '{"c":{}}', "[3,{}]", '["d",{"status":5}]', ""]))
    (folder / "definition.json").write_text(json.dumps({"path": "w.yaml", "blob": "b1", "definition": {}}))
    state = engine_state.load(gitdir)
    assert list(state.last_run) == ["a"] and state.last_run["a"].status is RunStatus.COMPLETE
    assert state.workflow == ref  # the definition of another file is not this one's
    (folder / "definition.json").write_text("{ torn")
    assert engine_state.load(gitdir).workflow == ref
    engine_state.save(gitdir, state)  # runs.log written again without the lines it could not read
    assert (folder / "runs.log").read_text() == good + "\n"


def check_saved(gitdir: str, state: engine_state.EngineState) -> None:
    """A later command loads ``state`` from the files: all of it, but that the definition (if the state has one)
    stays in definition.json, which holds it."""
    loaded = engine_state.load(gitdir)
    assert _dumped(loaded) == _dumped(state)
    if state.workflow is not None and "definition" in state.workflow:
        assert loaded.workflow is not None and engine_state.holds_definition(gitdir, loaded.workflow)
        assert json.loads(Path(engine_state.path(gitdir)).with_name("definition.json").read_text()) == state.workflow


def _dumped(state: engine_state.EngineState) -> str:
    """The whole state as one `json.dumps` (the workflow without its definition: that has a file of its own)."""
    data: dict[str, object] = {
        "gates": {k: g.to_json() for k, g in state.gates.items()},
        "job": state.job,
        "last_run": {k: r.to_json() for k, r in state.last_run.items()},
        "overrides": state.overrides,
        "running": {k: c.to_json() for k, c in state.running.items()},
        "skipped": state.skipped,
        "workflow": state.workflow and {k: v for k, v in state.workflow.items() if k != "definition"},
    }
    if state.executor is not None:
        data["executor"] = state.executor
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def test_each_save_loads_back_as_the_whole_state_whatever_changed_since_the_last(tmp_path: Path) -> None:
    # A save writes only what changed since the last (the runs that ended, appended; state.json if it changed; the
    # definition if it did): a last run added, replaced, removed, re-inserted or the mapping replaced whole must
    # all reach the files, as must the state's other parts, and another state saved in between (another Workbench
    # in the same process) must not mix with it.
    import random

    rng = random.Random(4)
    gitdir = str(tmp_path / ".git")
    state, other = engine_state.EngineState(), engine_state.EngineState()
    other_gitdir = str(tmp_path / "other" / ".git")
    mids = [f"m{i}" for i in range(12)] + ["é", 'a"b']
    for i in range(400):
        mid, roll = rng.choice(mids), rng.random()
        if roll < 0.3:
            extra = {"zz": {"b": 1, "a": [1]}} if rng.random() < 0.2 else {}
            state.last_run[mid] = LastRun(RunStatus.COMPLETE, error=rng.choice([None, "boom ☃"]), count=i, extra=extra)
        elif roll < 0.4:
            state.last_run.pop(mid, None)
        elif roll < 0.45 and state.last_run:
            first = next(iter(state.last_run))
            state.last_run[first] = state.last_run.pop(first)  # the same records, in another order
        elif roll < 0.5:
            state.last_run = dict(reversed(list(state.last_run.items())))
        elif roll < 0.6:
            state.running[mid] = Claim(pid=i, run=f"j.{mid}.{i}", commit=rng.choice([None, "c"]))
        elif roll < 0.65:
            state.running.pop(mid, None)
        elif roll < 0.7:
            state.gates[mid] = Gate(required=True, inputs={"b": None, "a": "x"})
        elif roll < 0.75:
            state.executor = None if state.executor else {"address": "dask://h:1", "capacity": 2}
        elif roll < 0.8:
            state.workflow = None if rng.random() < 0.3 else {"path": "p", "definition": {"b": [1], "a": i}}
        elif roll < 0.85:
            state.job = rng.choice([None, "j1", "j2"])
        elif roll < 0.9:
            state.overrides.setdefault(mid, {})["k"] = i
        else:
            state.skipped = sorted({*state.skipped, mid})
        engine_state.save(gitdir, state)
        check_saved(gitdir, state)
        if rng.random() < 0.3:
            if rng.random() < 0.5 and mid in state.last_run:
                other.last_run[mid] = state.last_run[mid]
            else:
                other.last_run[mid] = LastRun(RunStatus.FAILED, error="other", count=-i)
            engine_state.save(other_gitdir, other)
            check_saved(other_gitdir, other)
        if rng.random() < 0.1:  # a later command: loads the files, goes on from what it read
            state = engine_state.load(gitdir)


def written() -> int:
    """The bytes this process has passed to write(2) so far (Linux: /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


def test_a_run_of_a_thousand_modules_writes_bytes_linear_in_its_modules(tmp_path: Path) -> None:
    # As a run saves: each module's claim, its step commit noted, its end (three saves a module), with a large
    # definition. The whole state at each save was ~1.3 GB for 1,000 trivial modules; the runs that ended,
    # appended, and a small state.json are a few MB.
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState(job="j")
    state.workflow = {"path": "w", "blob": "b", "definition": {f"m{i}": {"run": "x" * 200} for i in range(1000)}}
    before = written()
    for i in range(1000):
        mid = f"m{i}"
        state.running[mid] = Claim(pid=1, started=2, since=3.0, job="j", run=f"j.{mid}.1", fingerprint="f" * 40)
        engine_state.save(gitdir, state)
        state.running[mid] = Claim(pid=1, run=f"j.{mid}.1", commit="c" * 40, parent="p" * 40)
        engine_state.save(gitdir, state)
        state.last_run[mid] = LastRun(RunStatus.COMPLETE, error=None, run=f"j.{mid}.1", commit="c" * 40, count=1)
        del state.running[mid]
        engine_state.save(gitdir, state)
    total = written() - before
    assert total < 4_000_000, f"{total:,} bytes written for 3,000 saves of 1,000 modules"
    check_saved(gitdir, state)


def test_a_run_that_ended_in_runs_log_settles_its_claim_as_its_end_did(tmp_path: Path) -> None:
    # The engine died between writing a run's end (runs.log) and dropping its claim (state.json).
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState(job="j")
    for mid in ("done", "waits", "other"):
        state.running[mid] = Claim(pid=1, run=f"j.{mid}.1")
    state.last_run["other"] = LastRun(RunStatus.COMPLETE, run="j.other.0", count=1)  # an earlier run
    engine_state.save(gitdir, state)
    state.last_run["done"] = LastRun(RunStatus.COMPLETE, run="j.done.1", count=1)
    state.last_run["waits"] = LastRun(RunStatus.NEEDS_INPUT, error="waiting for in.txt", run="j.waits.1", count=1)
    stale = engine_state.load(gitdir).disk
    assert stale is not None
    engine_state._save_runs(str(Path(engine_state.path(gitdir)).with_name("runs.log")), state.last_run, stale)
    loaded = engine_state.load(gitdir)
    assert "done" not in loaded.running
    assert loaded.running["waits"].status == ClaimStatus.NEEDS_INPUT
    assert loaded.running["other"].status == ClaimStatus.RUNNING  # its last run is an earlier one
    assert loaded.last_run["done"].status == RunStatus.COMPLETE


def test_a_line_of_runs_log_cut_short_is_not_read_and_goes_at_the_next_save(tmp_path: Path) -> None:
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState()
    state.last_run["a"] = LastRun(RunStatus.COMPLETE, run="j.a.1", count=1)
    engine_state.save(gitdir, state)
    log = Path(engine_state.path(gitdir)).with_name("runs.log")
    whole = log.read_bytes()
    with open(log, "ab") as fh:
        fh.write(b'["b",{"status":"compl')  # the engine died while it wrote b's end
    loaded = engine_state.load(gitdir)
    assert list(loaded.last_run) == ["a"]
    loaded.last_run["c"] = LastRun(RunStatus.FAILED, error="boom", run="j.c.1", count=1)
    engine_state.save(gitdir, loaded)
    assert log.read_bytes().startswith(whole) and b'["b"' not in log.read_bytes()
    assert list(engine_state.load(gitdir).last_run) == ["a", "c"]
    # a line that is not a module's last run (another tool's, a disk's garbage) is left out, then written away
    with open(log, "ab") as fh:
        fh.write(b"\x00\x00 not json\n")
    again = engine_state.load(gitdir)
    assert list(again.last_run) == ["a", "c"]
    engine_state.save(gitdir, again)
    assert b"not json" not in log.read_bytes() and list(engine_state.load(gitdir).last_run) == ["a", "c"]


def test_an_older_gitbenchs_newer_run_in_state_json_wins_over_runs_log(tmp_path: Path) -> None:
    # runs.log written by this gitbench, then an older one ran a again (its last run in state.json), then this one.
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState()
    state.last_run["a"] = LastRun(RunStatus.FAILED, error="boom", run="j.a.1", count=1)
    state.last_run["b"] = LastRun(RunStatus.COMPLETE, run="j.b.1", count=1)
    engine_state.save(gitdir, state)
    older = json.loads(Path(engine_state.path(gitdir)).read_text())
    older["last_run"] = {"a": {"status": "complete", "error": None, "run": "j.a.2", "count": 2}}
    Path(engine_state.path(gitdir)).write_text(json.dumps(older))
    loaded = engine_state.load(gitdir)
    assert (loaded.last_run["a"].run, loaded.last_run["b"].run) == ("j.a.2", "j.b.1")


def test_runs_log_written_whole_by_another_since_is_written_whole_again_not_appended_to(tmp_path: Path) -> None:
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState()
    state.last_run["a"] = LastRun(RunStatus.COMPLETE, run="j.a.1", count=1)
    engine_state.save(gitdir, state)
    log = Path(engine_state.path(gitdir)).with_name("runs.log")
    mine = log.read_bytes()
    other = mine.replace(b'"j.a.1"', b'"j.z.1"').replace(b'["a"', b'["z"')
    assert len(other) == len(mine)
    (log.parent / "other").write_bytes(other)
    os.replace(log.parent / "other", log)  # another file of the same size, as another process's rewrite leaves
    state.last_run["b"] = LastRun(RunStatus.COMPLETE, run="j.b.1", count=1)
    engine_state.save(gitdir, state)
    assert list(engine_state.load(gitdir).last_run) == ["a", "b"]


def test_two_broken_lines_that_join_into_one_record_are_not_read_as_one(tmp_path: Path) -> None:
    gitdir = write(tmp_path, {})
    log = Path(engine_state.path(gitdir)).with_name("runs.log")
    log.write_bytes(b'["a"\n{"count":1,"status":"complete"}]\n')
    assert engine_state.load(gitdir).last_run == {}


def test_a_claims_save_does_not_look_for_ended_runs(tmp_path: Path) -> None:
    gitdir = str(tmp_path / ".git")
    state = engine_state.EngineState()
    state.last_run["a"] = LastRun(RunStatus.COMPLETE, run="j.a.1", count=1)
    engine_state.save(gitdir, state)
    state.last_run["b"] = LastRun(RunStatus.COMPLETE, run="j.b.1", count=1)  # (a caller that says it changed none)
    state.running["c"] = Claim(pid=1, run="j.c.1")
    engine_state.save(gitdir, state, runs=False)
    assert list(engine_state.load(gitdir).last_run) == ["a"] and "c" in engine_state.load(gitdir).running
    engine_state.save(gitdir, state)
    assert list(engine_state.load(gitdir).last_run) == ["a", "b"]
