"""The workflow file and the resolver.

Bad workflow files (YAML syntax errors, unknown keys, cycles, duplicate ids, outputs claimed twice, outputs
outside the Workbench or over the engine's own files, unknown needs, wrong types) each give a clear error that
names the line, through the real CLI: exit 2, and nothing runs (no checkpoint, no Draft, no journal, no job).

Then property tests (Hypothesis) over random DAGs: the order respects dependencies; cycles and unknown ids are
clear errors naming a real cycle or the missing id; and, with metadata written as the engine writes it, a
changed input outdates exactly the modules that read it and their descendants, and the scheduler runs every
module once, dependencies first, never more than max_parallel at once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench import errors
from gitbench.workflow import resolver, scheduler, spec
from gitbench.workflow.resolver import View
from tests.conftest import git, gitbench
from tests.invariants import Snapshot, check_invariants
from tests.workflow_helpers import module_runner, workflow_bench

GOOD = "modules:\n  - {id: a, outputs: [out/a.txt], run: {command: 'echo a > out/a.txt'}}\n"

# (name, file, line the error names, words the error says)
BAD = [
    (
        "yaml-unclosed-list",
        "modules:\n  - id: a\n    outputs: [out/a.txt\n    run: {command: x}\n",
        4,
        "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence on line 3)",
    ),
    ("yaml-tab", "modules:\n\t- id: a\n", 2, "YAML syntax error: found character that cannot start any token"),
    ("yaml-indent", "modules:\n  - id: a\n    outputs: [x]\n   run: {command: x}\n", 4, "YAML syntax error"),
    (
        "duplicate-key",
        "modules:\n  - id: a\n    outputs: [a]\n    run: {command: x}\n    outputs: [b]\n",
        5,
        "duplicate key 'outputs' (first on line 3)",
    ),
    ("unknown-top-key", "max_paralel: 2\n" + GOOD, 1, "unknown key 'max_paralel' (known: max_parallel, modules,"),
    (
        "unknown-module-key",
        "modules:\n  - id: a\n    outputs: [x]\n    ouputs: [y]\n    run: {command: x}\n",
        4,
        "unknown module key 'ouputs'",
    ),
    (
        "unknown-run-key",
        "modules:\n  - id: a\n    outputs: [x]\n    run: {command: x, shell: bash}\n",
        4,
        "run of 'a' has an unknown key 'shell'",
    ),
    (
        "cycle",
        "modules:\n  - {id: a, needs: [c], outputs: [a], run: {command: x}}\n"
        "  - {id: b, needs: [a], outputs: [b], run: {command: x}}\n"
        "  - {id: c, needs: [b], outputs: [c], run: {command: x}}\n",
        2,
        "the modules depend on each other in a cycle: a → c → b → a",
    ),
    ("self-cycle", "modules:\n  - {id: a, needs: [a], outputs: [a], run: {command: x}}\n", 2, "cycle: a → a"),
    (
        "duplicate-id",
        GOOD + "  - {id: a, outputs: [b], run: {command: x}}\n",
        3,
        "duplicate module id 'a' (first on line 2)",
    ),
    (
        "output-claimed-twice",
        GOOD + "  - id: b\n    outputs: [out/a.txt]\n    run: {command: x}\n",
        4,
        "output out/a.txt of 'b' is already claimed by 'a'",
    ),
    (
        "output-inside-an-output",
        GOOD + "  - id: b\n    outputs: [out/a.txt/x]\n    run: {command: x}\n",
        4,
        "output out/a.txt/x of 'b' is inside out/a.txt, an output of 'a'",
    ),
    (
        "output-climbs-out",
        "modules:\n  - id: a\n    outputs: [../x]\n    run: {command: x}\n",
        3,
        "output '../x' of 'a' is outside the Workbench or unsafe",
    ),
    (
        "output-absolute",
        "modules:\n  - id: a\n    outputs: [/etc/passwd]\n    run: {command: x}\n",
        3,
        "output '/etc/passwd' of 'a' is outside the Workbench or unsafe: absolute path",
    ),
    (
        "output-in-git",
        "modules:\n  - id: a\n    outputs: [.git/config]\n    run: {command: x}\n",
        3,
        "output '.git/config' of 'a' is outside the Workbench or unsafe",
    ),
    (
        "output-a-folder",
        "modules:\n  - id: a\n    outputs: [out/]\n    run: {command: x}\n",
        3,
        "not in its simplest form",
    ),
    (
        "output-over-metadata",
        "modules:\n  - id: a\n    outputs: [.gitbench/meta/b.json]\n    run: {command: x}\n",
        3,
        "is one of the engine's own files",
    ),
    (
        "output-over-the-workflow",
        "modules:\n  - {id: a, outputs: [.gitbench/workflow.yaml], run: {command: x}}\n",
        2,
        "is one of the engine's own files",
    ),
    (
        "output-a-pattern",
        "modules:\n  - {id: a, outputs: [out/*.md], run: {command: x}}\n",
        2,
        "output 'out/*.md' of 'a' must be a path, not a pattern",
    ),
    (
        "input-outside",
        "modules:\n  - id: a\n    inputs: [../secret]\n    outputs: [x]\n    run: {command: x}\n",
        3,
        "input '../secret' of 'a' is outside the Workbench",
    ),
    (
        "unknown-needs",
        GOOD + "  - id: b\n    needs: [z]\n    outputs: [b]\n    run: {command: x}\n",
        4,
        "module 'b' needs 'z', which no module has as its id",
    ),
    (
        "max-parallel-text",
        "max_parallel: two\n" + GOOD,
        1,
        "max_parallel must be a whole number of at least 1, not 'two'",
    ),
    ("max-parallel-zero", "max_parallel: 0\n" + GOOD, 1, "max_parallel must be a whole number of at least 1"),
    (
        "optional-not-a-flag",
        "modules:\n  - id: a\n    outputs: [a]\n    optional: yes please\n    run: {command: x}\n",
        4,
        "optional of 'a' must be true or false",
    ),
    (
        "outputs-a-number",
        "modules:\n  - id: a\n    outputs: 5\n    run: {command: x}\n",
        3,
        "outputs of 'a' must be a list of strings",
    ),
    (
        "needs-a-number",
        GOOD + "  - {id: b, needs: [1], outputs: [b], run: {command: x}}\n",
        3,
        "needs of 'b' must be a list of strings",
    ),
    ("run-a-string", "modules:\n  - id: a\n    outputs: [a]\n    run: echo hi\n", 4, "module 'a' needs `run:`"),
    (
        "run-two-kinds",
        "modules:\n  - {id: a, outputs: [a], run: {command: x, model: y}}\n",
        2,
        "run of 'a' must have exactly one of command, model, input, module",
    ),
    (
        "timeout-text",
        "modules:\n  - {id: a, outputs: [a], run: {command: x, timeout: soon}}\n",
        2,
        "run.timeout of 'a' must be a number of seconds, not 'soon'",
    ),
    (
        "config-a-list",
        "modules:\n  - id: a\n    outputs: [a]\n    config: [1]\n    run: {command: x}\n",
        4,
        "config of 'a' must be a mapping",
    ),
    (
        "version-a-flag",
        "modules:\n  - {id: a, outputs: [a], version: true, run: {command: x}}\n",
        2,
        "version of 'a' must be a number or text",
    ),
    ("id-missing", "modules:\n  - {outputs: [a], run: {command: x}}\n", 2, "a module needs an `id:`"),
    (
        "id-with-slash",
        "modules:\n  - {id: a/b, outputs: [a], run: {command: x}}\n",
        2,
        "module id 'a/b' must be a name without spaces, slashes or colons",
    ),
    ("no-outputs", "modules:\n  - {id: a, run: {command: x}}\n", 2, "module 'a' declares no outputs"),
    (
        "unknown-phase",
        "phases: [x]\nmodules:\n  - id: a\n    phase: y\n    outputs: [a]\n    run: {command: x}\n",
        4,
        "phase 'y' of 'a' is not one of the phases ['x']",
    ),
    (
        "key-a-list",
        "modules:\n  - id: a\n    ? [x, y]\n    : 1\n    outputs: [a]\n    run: {command: x}\n",
        3,
        "a key must be a name, not a list or a mapping",
    ),
    ("keys-of-mixed-types", "1: x\nzz: 2\n" + GOOD, 1, "unknown key 1"),
    (
        "a-python-tag",
        "modules:\n  - {id: a, outputs: [a], run: {command: !!python/object:os.system x}}\n",
        2,
        "could not determine a constructor",
    ),
    ("not-a-mapping", "- a\n- b\n", 1, "the file must be a mapping with a `modules:` list"),
    ("empty", "", 1, "the file must be a mapping with a `modules:` list"),
    ("no-modules", "max_parallel: 2\nmodules: []\n", 2, "`modules:` must be a non-empty list"),
]


@pytest.mark.parametrize(("name", "text", "line", "words"), BAD, ids=[b[0] for b in BAD])
def test_each_bad_workflow_file_is_a_clear_error_naming_its_line(name: str, text: str, line: int, words: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        spec.parse(text)
    message = caught.value.message
    assert message.startswith(f"The workflow file is not valid: .gitbench/workflow.yaml, line {line}: "), message
    assert words in message
    assert message.endswith("Nothing ran.")
    assert caught.value.exit_code == 2


def test_a_file_nested_too_deeply_is_an_error_not_a_crash() -> None:
    text = "modules:\n  - {id: a, outputs: [a], run: {command: x}, config: " + "{a: " * 3000 + "1" + "}" * 3000 + "}\n"
    # Our error, whichever way the YAML library words its part (PyYAML 6.0.4 stops at its own depth limit, older
    # releases recurse until Python's limit): a usage error naming the file, saying nothing ran.
    with pytest.raises(errors.UsageError) as caught:
        spec.parse(text)
    assert caught.value.message.startswith(f"The workflow file is not valid: {spec.PATH}")
    assert caught.value.message.endswith("Nothing ran.")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield workflow_bench(tmp_path_factory.mktemp("template") / "project", GOOD)


CLI_CASES = [
    b
    for b in BAD
    if b[0]
    in (
        "yaml-unclosed-list",
        "unknown-module-key",
        "cycle",
        "duplicate-id",
        "output-claimed-twice",
        "output-climbs-out",
        "unknown-needs",
        "optional-not-a-flag",
    )
]


@pytest.mark.parametrize(("name", "text", "line", "words"), CLI_CASES, ids=[b[0] for b in CLI_CASES])
def test_a_bad_workflow_file_stops_every_workflow_command_and_nothing_runs(
    name: str, text: str, line: int, words: str, template: Path, tmp_path: Path
) -> None:
    wb = tmp_path / "project"
    shutil.copytree(template, wb, symlinks=True)
    (wb / ".gitbench/workflow.yaml").write_text(text)
    git(wb, "commit", "-q", "-am", "a broken workflow file")
    before = Snapshot.take(wb)
    env = {"COLUMNS": "400"}  # the error banner wraps to the terminal: keep the message on one line

    for command in (["workflow", "run"], ["workflow", "resume"], ["workflow", "status"], ["workflow", "modules"]):
        res = gitbench(wb, *command, env=env)
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        assert f".gitbench/workflow.yaml, line {line}: " in res.stderr and words in res.stderr, res.stderr
        assert "Nothing ran." in res.stderr
    res = module_runner(wb, "--module", "a", env=env)
    assert res.returncode == 2 and f"line {line}: " in res.stderr

    res = gitbench(wb, "workflow", "run", "--json")
    assert res.returncode == 2
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == "usage"
    assert f"line {line}: " in doc["error"]["message"]

    # Nothing ran: no checkpoint, no Draft, no job, no state, no journal; Published untouched.
    after = Snapshot.take(wb)
    assert after.checkpoints == before.checkpoints and after.drafts == {} and after.published == before.published
    assert not (wb / ".git/gitbench/workflow/engine/state.json").exists()
    assert git(wb, "ls-tree", "--name-only", "refs/gitbench/records", "jobs/").strip() == ""
    assert not (wb / ".gitbench/modules/MODULES.md").exists()
    check_invariants(wb, before, published_may_change=False)


def test_a_bad_workflow_files_action_puts_the_fix_on_published_which_is_what_a_run_reads(
    template: Path, tmp_path: Path
) -> None:
    """The operator fixes the file in the folder and runs again: the run reads Published's, so the error says to
    put the fix there (before, only "Fix the file": the same error came back, about a line already fixed)."""
    wb = tmp_path / "project"
    shutil.copytree(template, wb, symlinks=True)
    (wb / ".gitbench/workflow.yaml").write_text("modules: [\n")
    git(wb, "commit", "-q", "-am", "a broken workflow file")
    (wb / ".gitbench/workflow.yaml").write_text(GOOD)  # fixed in the folder
    res = gitbench(wb, "workflow", "run", "--json")
    assert res.returncode == 2
    actions = json.loads(res.stdout)["error"]["actions"]
    assert (
        actions[0]["label"].startswith("Fix .gitbench/workflow.yaml")
        and "then put it on Published" in actions[0]["label"]
    )
    assert actions[0]["command"] == "gitbench add .gitbench/workflow.yaml"
    assert gitbench(wb, *actions[0]["command"].split()[1:]).returncode == 0  # as it says
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert gitbench(wb, "publish").returncode == 0
    check_invariants(wb)


# -- property tests: the resolver over random DAGs --------------------------------------------------------------

PROPS = settings(max_examples=150, deadline=None, database=None)


@st.composite
def dags(draw: st.DrawFn, max_modules: int = 9) -> tuple[list[list[int]], list[int], list[list[int]]]:
    """(needs of each module, by index; the order the modules are written in the file; the source files each
    module reads). Module i needs only modules < i, so the graph has no cycle; the file order is shuffled."""
    n = draw(st.integers(1, max_modules))
    needs = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)]
    order = draw(st.permutations(range(n)))
    reads = [sorted(draw(st.sets(st.integers(0, 3), max_size=2))) for _ in range(n)]
    return needs, list(order), reads


def name(i: int) -> str:
    return f"m{i}"


def workflow_text(
    needs: list[list[int]], order: list[int], reads: list[list[int]] | None = None, max_parallel: int = 2
) -> str:
    lines = [f"max_parallel: {max_parallel}", "modules:"]
    for i in order:
        inputs = [f"src/{k}.txt" for k in (reads[i] if reads else [])]
        lines.append(f"  - id: {name(i)}")
        lines.append(f"    needs: [{', '.join(name(j) for j in needs[i])}]")
        lines.append(f"    inputs: [{', '.join(inputs)}]")
        lines.append(f"    outputs: [out/{name(i)}.txt]")
        lines.append("    run: {command: 'true'}")
    return "\n".join(lines) + "\n"


@PROPS
@given(dags())
def test_the_order_puts_every_module_after_what_it_needs(dag: tuple[list[list[int]], list[int], Any]) -> None:
    needs, order, _ = dag
    wf = spec.parse(workflow_text(needs, order))
    assert sorted(wf.order) == sorted(name(i) for i in range(len(needs)))
    place = {m: k for k, m in enumerate(wf.order)}
    for i, deps in enumerate(needs):
        for j in deps:
            assert place[name(j)] < place[name(i)]


@PROPS
@given(dags(), st.data())
def test_a_cycle_is_an_error_that_names_a_real_cycle_and_its_line(
    dag: tuple[list[list[int]], list[int], Any], data: st.DataObject
) -> None:
    needs, order, _ = dag
    # Close a cycle: some module i comes to need one of its descendants (or itself).
    i = data.draw(st.integers(0, len(needs) - 1))
    below = {i} | {k for k in range(len(needs)) if _reaches(needs, k, i)}
    j = data.draw(st.sampled_from(sorted(below)))
    needs = [list(d) for d in needs]
    needs[i] = sorted(set(needs[i]) | {j})
    text = workflow_text(needs, order)
    with pytest.raises(errors.UsageError) as caught:
        spec.parse(text)
    message = caught.value.message
    assert "the modules depend on each other in a cycle: " in message
    cycle = message.split("cycle: ", 1)[1].removesuffix(". Nothing ran.").split(" → ")
    assert cycle[0] == cycle[-1] and len(cycle) >= 2
    index = {name(k): k for k in range(len(needs))}
    for a, b in zip(cycle, cycle[1:], strict=False):
        assert index[b] in needs[index[a]], f"{a} does not need {b}: not a cycle"
    line = caught.value.details["line"]
    assert text.splitlines()[line - 1] == f"  - id: {cycle[0]}"


def _reaches(needs: list[list[int]], start: int, target: int) -> bool:
    """Does ``start`` depend (directly or not) on ``target``?"""
    todo, seen = [start], set()
    while todo:
        k = todo.pop()
        if k == target:
            return True
        if k not in seen:
            seen.add(k)
            todo.extend(needs[k])
    return False


@PROPS
@given(dags(), st.data())
def test_needing_an_unknown_id_is_an_error_naming_it(
    dag: tuple[list[list[int]], list[int], Any], data: st.DataObject
) -> None:
    needs, order, _ = dag
    i = data.draw(st.integers(0, len(needs) - 1))
    text = workflow_text(needs, order).replace(
        f"  - id: {name(i)}\n    needs: [", f"  - id: {name(i)}\n    needs: [ghost, "
    )
    with pytest.raises(errors.UsageError) as caught:
        spec.parse(text)
    assert f"module '{name(i)}' needs 'ghost', which no module has as its id" in caught.value.message
    assert text.splitlines()[caught.value.details["line"] - 1].startswith("    needs: [ghost")


class Files:
    """A Workbench's files as the resolver sees them: path → object id, and the objects (a dict, not Git)."""

    def __init__(self) -> None:
        self.listing: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}
        self.runs = 0  # every run writes new content, unless told to reproduce the last

    def write(self, path: str, data: bytes) -> None:
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        self.blobs[oid] = data
        self.listing[path] = oid

    def view(self) -> View:
        return View(dict(self.listing), self.blobs.__getitem__)


def resolve(wf: spec.Workflow, files: Files) -> dict[str, resolver.ModuleStatus]:
    return resolver.resolve(wf, files.view(), {}, {}, {}, set())


def run_module(wf: spec.Workflow, files: Files, mid: str, fp: str, n: int, same: bool = False) -> None:
    """What the engine's step commit does: the module's outputs, and its metadata as the engine writes it.
    ``same``: the run reproduces the outputs the module made last time."""
    outputs = {}
    files.runs += 1
    view = files.view()  # what its outputs are made from, recorded as the engine does
    now = resolver.resolve(wf, view, {}, {}, {}, set()) if wf.modules[mid].needs else {}
    made_from, _ = resolver.module_inputs(wf.modules[mid], view, {d: now[d] for d in wf.modules[mid].needs})
    for out in wf.modules[mid].outputs:
        if not (same and out in files.listing):
            files.write(out, f"{mid} run {files.runs}\n".encode())
        outputs[out] = files.listing[out]
    meta = {
        "module": mid,
        "version": wf.modules[mid].version,
        "fingerprint": fp,
        "inputs": dict(made_from),
        "outputs": outputs,
        "run": f"job.{mid}.{n}",
        "job": "job",
        "time": 0,
    }
    files.write(resolver.meta_path(mid), (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())


def run_all(wf: spec.Workflow, files: Files, max_parallel: int, same: bool = False) -> list[list[str]]:
    """Schedule and run until nothing is runnable; return the batches the scheduler released."""
    batches: list[list[str]] = []
    for n in range(100):
        statuses = resolve(wf, files)
        plan = scheduler.schedule(wf, statuses, {}, {}, set(), max_parallel)
        if not plan.run:
            return batches
        assert len(plan.run) <= max_parallel
        for mid in plan.run:
            assert statuses[mid].state == "ready"
            run_module(wf, files, mid, statuses[mid].fingerprint, n, same)
        batches.append(plan.run)
    raise AssertionError("the scheduler never ran out of work")


def descendants(needs: list[list[int]], roots: set[int]) -> set[int]:
    return {k for k in range(len(needs)) if any(_reaches(needs, k, r) for r in roots)}


@PROPS
@given(dags(), st.integers(1, 3), st.integers(0, 3), st.booleans())
def test_a_changed_input_outdates_exactly_the_modules_that_read_it_and_their_descendants(
    dag: tuple[list[list[int]], list[int], list[list[int]]], max_parallel: int, changed: int, same: bool
) -> None:
    needs, order, reads = dag
    wf = spec.parse(workflow_text(needs, order, reads, max_parallel))
    files = Files()
    for k in range(4):
        files.write(f"src/{k}.txt", f"source {k}\n".encode())

    # The scheduler runs every module once, dependencies first, at most max_parallel at a time.
    batches = run_all(wf, files, max_parallel)
    ran = [m for b in batches for m in b]
    assert sorted(ran) == sorted(wf.order)
    for i, deps in enumerate(needs):
        for j in deps:
            assert ran.index(name(j)) < ran.index(name(i))
            assert not any(name(i) in b and name(j) in b for b in batches)
    statuses = resolve(wf, files)
    assert all(s.state == "complete" for s in statuses.values())
    assert all(a.klass == "ready" for s in statuses.values() for a in s.artifacts)

    # One input changes: exactly its readers and everything downstream of them are no longer complete.
    files.write(f"src/{changed}.txt", b"changed\n")
    readers = {i for i in range(len(needs)) if changed in reads[i]}
    stale = descendants(needs, readers)
    statuses = resolve(wf, files)
    for i in range(len(needs)):
        st_ = statuses[name(i)]
        if i not in stale:
            assert st_.state == "complete", (name(i), st_)
        elif i in readers and not any(j in stale for j in needs[i]):
            assert st_.state == "ready"
            assert [(a.klass, a.reason) for a in st_.artifacts] == [
                ("outdated", f"inputs changed: src/{changed}.txt (fingerprint mismatch)")
            ]
            assert st_.cause == {
                "files": [f"src/{changed}.txt"],
                "module": name(i),
                "what": f"inputs changed: src/{changed}.txt",
            }
        else:
            assert st_.state == "blocked"
            assert {a.klass for a in st_.artifacts} == {"outdated"}
            assert st_.blocked_by and all(int(b[1:]) in stale for b in st_.blocked_by)

    # Running again reruns exactly those, and everything is complete again. Outputs are content-addressed: when
    # the readers reproduce the outputs they made before, nothing downstream of them needs to run again.
    rerun = [m for b in run_all(wf, files, max_parallel, same) for m in b]
    assert sorted(rerun) == sorted(name(i) for i in (readers if same else stale))
    assert all(s.state == "complete" for s in resolve(wf, files).values())


@PROPS
@given(dags(), st.data())
def test_a_lost_output_or_a_new_version_outdates_the_module_and_blocks_its_descendants(
    dag: tuple[list[list[int]], list[int], list[list[int]]], data: st.DataObject
) -> None:
    needs, order, reads = dag
    text = workflow_text(needs, order, reads)
    wf = spec.parse(text)
    files = Files()
    for k in range(4):
        files.write(f"src/{k}.txt", f"source {k}\n".encode())
    run_all(wf, files, 2)
    i = data.draw(st.integers(0, len(needs) - 1))
    below = descendants(needs, {i}) - {i}
    if data.draw(st.booleans()):
        del files.listing[f"out/{name(i)}.txt"]
        expected = ("missing", "file not found")
    else:
        wf = spec.parse(text.replace(f"  - id: {name(i)}\n", f"  - id: {name(i)}\n    version: 2\n"))
        expected = ("outdated", "module version changed (1 → 2)")
    statuses = resolve(wf, files)
    assert statuses[name(i)].state == "ready"
    assert [(a.klass, a.reason) for a in statuses[name(i)].artifacts] == [expected]
    for k in range(len(needs)):
        if k in below:
            assert statuses[name(k)].state == "blocked" and statuses[name(k)].blocked_by == [name(i)]
        elif k != i:
            assert statuses[name(k)].state == "complete"


@PROPS
@given(st.sampled_from(["[1, 2]", '{"version": "1"}', '{"module": "other", "version": "1"}', '{"module": "m0"}']))
def test_metadata_that_breaks_the_contract_makes_the_artifact_invalid(meta: str) -> None:
    wf = spec.parse(workflow_text([[]], [0]))
    files = Files()
    files.write("out/m0.txt", b"x\n")
    files.write(resolver.meta_path("m0"), meta.encode())
    [artifact] = resolve(wf, files)["m0"].artifacts
    assert artifact.klass == "invalid" and artifact.reason is not None
    assert artifact.reason.startswith("InvalidMetadata: .gitbench/meta/m0.json")


@PROPS
@given(st.sampled_from(["not json", '{"module": "m0", "version"', "\xff\xfe", ""]))
def test_metadata_that_does_not_parse_is_an_error_artifact_naming_the_file_and_the_problem(meta: str) -> None:
    wf = spec.parse(workflow_text([[]], [0]))
    files = Files()
    files.write("out/m0.txt", b"x\n")
    files.write(resolver.meta_path("m0"), meta.encode("latin-1"))
    [artifact] = resolve(wf, files)["m0"].artifacts
    assert artifact.klass == "error" and artifact.reason is not None
    assert artifact.reason.startswith("the metadata .gitbench/meta/m0.json cannot be parsed: ")


def test_metadata_that_cannot_be_read_is_an_error_artifact() -> None:
    wf = spec.parse(workflow_text([[]], [0]))
    files = Files()
    files.write("out/m0.txt", b"x\n")
    files.listing[resolver.meta_path("m0")] = "0" * 40  # an object the store does not have
    [artifact] = resolve(wf, files)["m0"].artifacts
    assert artifact.klass == "error" and "cannot be read" in str(artifact.reason)


def test_a_module_that_reads_its_own_outputs_is_complete_after_it_runs() -> None:
    wf = spec.parse(
        textwrap.dedent("""\
        modules:
          - {id: index, inputs: ["docs/*.md"], outputs: [docs/index.md], run: {command: 'ls docs > docs/index.md'}}
        """)
    )
    files = Files()
    files.write("docs/a.md", b"a\n")
    run_all(wf, files, 1)
    assert resolve(wf, files)["index"].state == "complete"
