"""The engine's state file: claims, gates and last runs are typed records, and the file reads and writes the JSON
it always did (a state written by an older gitbench loads; what is saved is the same object)."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_an_old_state_loads_as_typed_records_and_saves_back_as_the_same_json(tmp_path: Path) -> None:
    gitdir = write(tmp_path, OLD)
    state = engine_state.load(gitdir)
    assert state.running["d"] == Claim(ClaimStatus.RUNNING, 42, 123, 1.5, "j1", "j1.d.1", "fd")
    assert state.running["e"].commit == "c5" and state.running["e"].parent == "p5"
    assert state.running["f"].status == ClaimStatus.NEEDS_INPUT
    assert state.gates["deploy"] == Gate(required=True, approved=True, fingerprint="f1", inputs={"in.txt": "abc"})
    assert state.last_run["a"].count == 2 and state.last_run["b"].error == "boom"
    engine_state.save(gitdir, state)
    # The same object, but that a last run always says its error (null for none): the one settled after a crash
    # did not.
    expected = json.loads(json.dumps(OLD))
    expected["last_run"]["c"]["error"] = None
    assert json.loads(Path(engine_state.path(gitdir)).read_text()) == expected


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


def _dumped(state: engine_state.EngineState) -> str:
    """The whole state as one `json.dumps`: the text a save must write, whatever it kept from the saves before."""
    data: dict[str, object] = {
        "gates": {k: g.to_json() for k, g in state.gates.items()},
        "job": state.job,
        "last_run": {k: r.to_json() for k, r in state.last_run.items()},
        "overrides": state.overrides,
        "running": {k: c.to_json() for k, c in state.running.items()},
        "skipped": state.skipped,
        "workflow": state.workflow,
    }
    if state.executor is not None:
        data["executor"] = state.executor
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def test_each_save_writes_the_whole_state_as_one_dump_would_whatever_changed_since_the_last(tmp_path: Path) -> None:
    # A save keeps what does not change between saves (each last run's text, all of them joined, the definition):
    # a last run added, replaced, removed, re-inserted or the mapping replaced whole must all reach the file.
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
        assert Path(engine_state.path(gitdir)).read_text() == _dumped(state)
        # Another state saved between two saves of this one (another Workbench in the same process), with the
        # same modules: some of its last runs this state's own records, others of its own.
        if rng.random() < 0.3:
            if rng.random() < 0.5 and mid in state.last_run:
                other.last_run[mid] = state.last_run[mid]
            else:
                other.last_run[mid] = LastRun(RunStatus.FAILED, error="other", count=-i)
            engine_state.save(other_gitdir, other)
            assert Path(engine_state.path(other_gitdir)).read_text() == _dumped(other)
