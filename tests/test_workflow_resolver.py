"""The resolver, in-process: what each artifact and each module is, from the files alone (and the engine's
claims and last runs). The files are a dict (``Files``), not Git: each case writes what a user or a module would
and reads the statuses a `gitbench workflow status` prints."""

from __future__ import annotations

from textwrap import dedent

from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.workflow import resolver, spec
from gitbench.workflow.state import Claim, ClaimStatus, LastRun
from tests.test_workflow_spec import Files, dags, name, run_all, run_module, workflow_text

CHAIN = dedent("""\
    modules:
      - id: a
        inputs: [in.txt]
        outputs: [out/a.txt]
        run: {command: x}
      - id: b
        needs: [a]
        outputs: [out/b.txt]
        run: {command: x}
      - id: c
        needs: [b]
        optional: true
        outputs: [out/c.txt]
        run: {command: x}
""")


def chain(with_input: bool = True) -> tuple[spec.Workflow, Files]:
    files = Files()
    if with_input:
        files.write("in.txt", b"one\n")
    return spec.parse(CHAIN), files


def resolve(wf: spec.Workflow, files: Files, **state: object) -> dict[str, resolver.ModuleStatus]:
    return resolver.resolve(
        wf,
        files.view(),
        state.get("running", {}),  # type: ignore[arg-type]
        state.get("last_runs", {}),  # type: ignore[arg-type]
        {},
        state.get("skipped", set()),  # type: ignore[arg-type]
    )


def test_a_module_with_its_inputs_is_ready_and_what_needs_it_is_blocked_by_it() -> None:
    wf, files = chain()
    st_ = resolve(wf, files)
    assert st_["a"].state == "ready"
    assert [(x.path, x.klass) for x in st_["a"].artifacts] == [("out/a.txt", "missing")]
    assert (st_["b"].state, st_["b"].blocked_by) == ("blocked", ["a"])
    assert (st_["c"].state, st_["c"].blocked_by) == ("blocked", ["a"])  # the root cause, not its direct need


def test_a_missing_plain_input_leaves_the_module_pending_and_says_which() -> None:
    wf, files = chain(with_input=False)
    a = resolve(wf, files)["a"]
    assert (a.state, a.reason) == ("pending", "input missing: in.txt")


def test_after_every_module_ran_all_are_complete_and_a_changed_input_makes_them_outdated_naming_it() -> None:
    wf, files = chain()
    run_all(wf, files, 2)
    assert {m: s.state for m, s in resolve(wf, files).items()} == dict.fromkeys("abc", "complete")
    files.write("in.txt", b"two\n")
    st_ = resolve(wf, files)
    assert st_["a"].state == "ready"
    assert st_["a"].cause == {"files": ["in.txt"], "module": "a", "what": "inputs changed: in.txt"}
    assert st_["a"].artifacts[0].reason == "inputs changed: in.txt (fingerprint mismatch)"
    assert st_["b"].state == "blocked" and st_["b"].cause == st_["a"].cause
    assert st_["b"].artifacts[0].reason == "upstream a is not up to date: in.txt changed, an input of a"


def test_metadata_that_is_missing_corrupt_or_of_another_module_is_named_with_its_class() -> None:
    wf, files = chain()
    run_all(wf, files, 2)
    files.listing.pop(resolver.meta_path("a"))
    assert resolve(wf, files)["a"].artifacts[0].klass == "invalid"
    assert resolve(wf, files)["a"].reason == "InvalidMetadata: no metadata file .gitbench/meta/a.json"
    files.write(resolver.meta_path("a"), b"{not json")
    a = resolve(wf, files)["a"]
    assert a.artifacts[0].klass == "error" and a.reason is not None
    assert a.reason.startswith("the metadata .gitbench/meta/a.json cannot be parsed")
    files.write(resolver.meta_path("a"), b'{"module": "b", "version": "1"}')
    assert resolve(wf, files)["a"].reason == ("InvalidMetadata: .gitbench/meta/a.json names module 'b', not 'a'")


def test_a_new_module_version_makes_its_outputs_outdated() -> None:
    wf, files = chain()
    run_all(wf, files, 2)
    wf2 = spec.parse(CHAIN.replace("  - id: a\n", "  - id: a\n    version: 2\n"))
    a = resolve(wf2, files)["a"]
    assert a.state == "ready" and a.artifacts[0].reason == "module version changed (1 → 2)"


def test_a_failed_last_run_on_the_same_inputs_is_failed_and_new_inputs_make_it_ready_again() -> None:
    wf, files = chain()
    fp = resolve(wf, files)["a"].fingerprint
    last = {"a": LastRun(status="failed", error="boom", fingerprint=fp)}
    a = resolve(wf, files, last_runs=last)["a"]
    assert (a.state, a.reason) == ("failed", "boom")
    assert a.last_run == {"status": "failed", "error": "boom", "fingerprint": fp}
    files.write("in.txt", b"other\n")
    assert resolve(wf, files, last_runs=last)["a"].state == "ready"


def test_claims_make_a_module_running_waiting_or_interrupted() -> None:
    wf, files = chain()
    for status, state in (
        (ClaimStatus.RUNNING, "running"),
        (ClaimStatus.NEEDS_INPUT, "needs-input"),
        (ClaimStatus.INTERRUPTED, "interrupted"),
    ):
        a = resolve(wf, files, running={"a": Claim(status=status, pid=99)})["a"]
        assert a.state == state
    assert a.reason == "its run was interrupted (process 99 is gone): run `gitbench workflow resume`"


def test_a_skipped_optional_module_is_pending_and_says_so() -> None:
    wf, files = chain()
    run_all(wf, files, 2)
    files.listing.pop("out/c.txt")
    c = resolve(wf, files, skipped={"c"})["c"]
    assert (c.state, c.reason) == ("pending", "skipped (optional)")


def test_only_the_dirty_modules_are_resolved_again() -> None:
    wf, files = chain()
    before = resolve(wf, files)
    files.write("in.txt", b"changed\n")
    again = resolver.resolve(wf, files.view(), {}, {}, {}, set(), previous=before, dirty={"b"})
    assert again["a"] is before["a"] and again["c"] is before["c"] and again["b"] is not before["b"]


PROPS = settings(max_examples=100, deadline=None, database=None)


def _run(dag: tuple[list[list[int]], list[int], list[list[int]]]) -> tuple[spec.Workflow, Files]:
    """The workflow of ``dag`` over four source files, every module run once."""
    wf = spec.parse(workflow_text(*dag))
    files = Files()
    for k in range(4):
        files.write(f"src/{k}.txt", f"source {k}\n".encode())
    run_all(wf, files, 3)
    return wf, files


@PROPS
@given(dags(), st.data())
def test_a_changed_source_makes_exactly_its_readers_and_what_is_downstream_of_them_not_complete(
    dag: tuple[list[list[int]], list[int], list[list[int]]], data: st.DataObject
) -> None:
    needs, order, reads = dag
    wf, files = _run(dag)
    assert all(s.state == "complete" for s in resolver.resolve(wf, files.view(), {}, {}, {}, set()).values())
    k = data.draw(st.integers(0, 3))
    files.write(f"src/{k}.txt", b"changed\n")
    readers = {i for i, r in enumerate(reads) if k in r}
    below = {i for i in range(len(needs)) if i in readers or _needs_any(needs, i, readers)}
    states = resolver.resolve(wf, files.view(), {}, {}, {}, set())
    assert {i for i in range(len(needs)) if states[name(i)].state != "complete"} == below
    for i in below - readers:  # downstream only: blocked by, or waiting on, a module that reads the file
        assert states[name(i)].state == "blocked"
        assert set(states[name(i)].blocked_by) <= {name(r) for r in readers}
    # Running the readers again (in order) makes everything complete once more, nothing runs twice.
    run_all(wf, files, 3)
    assert all(s.state == "complete" for s in resolver.resolve(wf, files.view(), {}, {}, {}, set()).values())


@PROPS
@given(dags(), st.data())
def test_resolving_the_dirty_modules_again_is_the_walk_over_every_module_that_keeps_the_others(
    dag: tuple[list[list[int]], list[int], list[list[int]]], data: st.DataObject
) -> None:
    # What a run does after each module: the previous statuses kept, the dirty ones (any set) resolved again in
    # the workflow's order, each reading its needs' new statuses; the same as the plain walk over every module.
    wf, files = _run(dag)
    before = resolver.resolve(wf, files.view(), {}, {}, {}, set())
    files.write(f"src/{data.draw(st.integers(0, 3))}.txt", b"changed\n")
    dirty = data.draw(st.sets(st.sampled_from(wf.order)))
    got = resolver.resolve(wf, files.view(), {}, {}, {}, set(), previous=before, dirty=dirty)
    walked: dict[str, resolver.ModuleStatus] = {}
    for mid in wf.order:
        walked[mid] = (
            resolver.resolve_one(wf.modules[mid], files.view(), walked.__getitem__, {}, {}, {}, set())
            if mid in dirty
            else before[mid]
        )
    assert list(got) == wf.order
    assert got == walked
    assert all(got[m] is before[m] for m in wf.order if m not in dirty)


def _needs_any(needs: list[list[int]], i: int, targets: set[int]) -> bool:
    todo, seen = list(needs[i]), set()
    while todo:
        j = todo.pop()
        if j in targets:
            return True
        if j not in seen:
            seen.add(j)
            todo.extend(needs[j])
    return False


def test_run_module_writes_metadata_the_resolver_accepts() -> None:
    wf, files = chain()
    run_module(wf, files, "a", resolve(wf, files)["a"].fingerprint, 1)
    assert resolve(wf, files)["a"].state == "complete"
