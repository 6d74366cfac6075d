"""The scheduler and the workflow's order, in-process: which ready modules may run now, and why each other one may
not (the skip reasons `workflow status` prints); and the order everything is walked in (graphlib's, with the
file order among equals; a cycle named in full)."""

from __future__ import annotations

from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.workflow import order, resolver, scheduler, spec
from gitbench.workflow.state import Claim, ClaimStatus, Gate, LastRun
from tests.test_workflow_spec import Files

FOUR = dedent("""\
    max_parallel: 2
    modules:
      - {id: a, outputs: [a.txt], run: {command: x}}
      - {id: b, outputs: [b.txt], run: {command: x}}
      - {id: c, outputs: [c.txt], run: {command: x}}
      - {id: d, needs: [a], outputs: [d.txt], run: {command: x}}
""")


def plan(
    text: str = FOUR,
    running: dict[str, Claim] | None = None,
    gates: dict[str, Gate] | None = None,
    max_parallel: int | None = None,
    only: set[str] | None = None,
    last_runs: dict[str, LastRun] | None = None,
) -> tuple[scheduler.Plan, dict[str, resolver.ModuleStatus]]:
    wf = spec.parse(text)
    statuses = resolver.resolve(wf, Files().view(), running or {}, last_runs or {}, {}, set())
    return scheduler.schedule(wf, statuses, running or {}, gates or {}, set(), max_parallel, only), statuses


def test_ready_modules_run_in_order_up_to_max_parallel_and_the_rest_say_why_not() -> None:
    p, statuses = plan()
    assert p.run == ["a", "b"]
    assert p.skipped == {"c": "concurrency: max parallel 2 reached", "d": "not-ready"}
    assert statuses["c"].skip == "concurrency: max parallel 2 reached"
    assert plan(max_parallel=3)[0].run == ["a", "b", "c"]


def test_a_running_claim_takes_a_slot_and_one_waiting_for_input_or_interrupted_does_not() -> None:
    p, _ = plan(running={"a": Claim(status=ClaimStatus.RUNNING)})
    assert p.run == ["b"] and p.skipped["a"] == "already-running"
    p, _ = plan(running={"a": Claim(status=ClaimStatus.NEEDS_INPUT), "b": Claim(status=ClaimStatus.INTERRUPTED)})
    assert p.run == ["c"] and p.skipped["b"] == "interrupted"


def test_a_gate_holds_a_module_until_approved_and_an_approval_for_other_inputs_says_so() -> None:
    gated = FOUR.replace("{id: a,", "{id: a, gate: true,")
    p, statuses = plan(gated)
    assert p.skipped["a"] == "manual-gate" and p.run == ["b", "c"]
    assert plan(gated, gates={"a": Gate(required=True, approved=True)})[0].run == ["a", "b"]
    assert plan(gated, gates={"a": Gate(required=False)})[0].run == ["a", "b"]  # lifted at runtime
    stale = Gate(required=True, approved=True, fingerprint="not-" + statuses["a"].fingerprint)
    reason = plan(gated, gates={"a": stale})[0].skipped["a"]
    assert reason.startswith("manual-gate: approved for other inputs")
    assert "gitbench workflow approve a" in reason
    assert plan(gates={"b": Gate(required=True)})[0].skipped["b"] == "manual-gate"  # gated at runtime only


def test_an_exclusive_module_runs_alone() -> None:
    text = FOUR.replace("{id: b,", "{id: b, exclusive: true,")
    p, _ = plan(text)
    assert p.run == ["a", "c"] and p.skipped["b"] == "concurrency: exclusive, waits for the others to finish"
    p, _ = plan(text, running={"b": Claim(status=ClaimStatus.RUNNING)})
    assert p.run == [] and p.skipped["a"] == "concurrency: exclusive b is running"


def test_only_the_modules_asked_for_run_and_a_failed_one_runs_again_only_when_asked_for() -> None:
    assert plan(only={"c"})[0].run == ["c"]
    wf = spec.parse(FOUR)
    fp = resolver.resolve(wf, Files().view(), {}, {}, {}, set())["b"].fingerprint
    failed = {"b": LastRun(status="failed", error="boom", fingerprint=fp)}
    p, _ = plan(last_runs=failed)
    assert p.run == ["a", "c"] and p.skipped["b"] == "not-ready"
    assert plan(last_runs=failed, only={"b"})[0].run == ["b"]


@st.composite
def situations(draw: st.DrawFn) -> tuple[str, dict[str, Claim], dict[str, Gate], int | None, set[str] | None]:
    """A workflow of 1-12 modules (each may need earlier ones, be exclusive or gated) and a moment of its run:
    running claims of every kind, gates set at runtime, a max_parallel, the modules asked for by name."""
    n = draw(st.integers(1, 12))
    lines = [f"max_parallel: {draw(st.integers(1, 4))}", "modules:"]
    for i in range(n):
        needs = draw(st.lists(st.sampled_from([f"m{j}" for j in range(i)]), max_size=2, unique=True)) if i else []
        extra = "".join(
            flag
            for flag, on in ((" exclusive: true,", draw(st.booleans())), (" gate: true,", draw(st.booleans())))
            if on
        )
        lines.append(
            f"  - {{id: m{i},{extra} needs: {needs}, outputs: [m{i}.txt], run: {{command: x}}}}".replace("'", "")
        )
    names = [f"m{i}" for i in range(n)]
    kinds = st.sampled_from(list(ClaimStatus))
    running = {m: Claim(status=draw(kinds)) for m in draw(st.lists(st.sampled_from(names), max_size=4, unique=True))}
    gates = {
        m: Gate(required=draw(st.booleans()), approved=draw(st.booleans()))
        for m in draw(st.sets(st.sampled_from(names)))
    }
    limit = draw(st.none() | st.integers(1, 5))
    only = draw(st.none() | st.sets(st.sampled_from(names), min_size=1))
    return "\n".join(lines) + "\n", running, gates, limit, only


@settings(max_examples=300, deadline=None, database=None)
@given(situations())
def test_the_runs_loop_starts_the_same_modules_without_the_reasons_of_the_others(
    case: tuple[str, dict[str, Claim], dict[str, Gate], int | None, set[str] | None],
) -> None:
    text, running, gates, limit, only = case
    wf = spec.parse(text)
    statuses = resolver.resolve(wf, Files().view(), running, {}, {}, set())
    full = scheduler.schedule(wf, statuses, running, gates, set(), limit, only)
    fast = scheduler.schedule(wf, statuses, running, gates, set(), limit, only, reasons=False)
    assert fast.run == full.run
    assert fast.skipped.items() <= full.skipped.items()  # what it does say, it says as the full look does


# -- the order -------------------------------------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    """module → the modules it needs, in a random file order; may have cycles (self-loops too)."""
    n = draw(st.integers(1, 10))
    names = [f"m{i}" for i in draw(st.permutations(range(n)))]
    return {m: draw(st.lists(st.sampled_from(names), max_size=3)) for m in names}


def _acyclic(g: dict[str, list[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(m: str) -> bool:
        if state.get(m) == 1:
            return False
        if state.get(m) == 2:
            return True
        state[m] = 1
        ok = all(visit(n) for n in g[m])
        state[m] = 2
        return ok

    return all(visit(m) for m in g)


@settings(max_examples=300, deadline=None, database=None)
@given(graphs())
def test_every_module_comes_after_what_it_needs_or_the_cycle_is_named(g: dict[str, list[str]]) -> None:
    if _acyclic(g):
        got = order.dependencies_first(g)
        assert sorted(got) == sorted(g)
        place = {m: i for i, m in enumerate(got)}
        for m, needs in g.items():
            assert all(place[n] < place[m] for n in needs)
        assert got == _file_order_kahn(g)  # ties in file order: the first ready module in the file comes first
        return
    with pytest.raises(order.Cycle) as caught:
        order.dependencies_first(g)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1] and len(cycle) >= 2
    for a, b in zip(cycle, cycle[1:], strict=False):
        assert b in g[a], f"{a} does not need {b}: not a cycle"
    files = list(g)
    assert min(cycle, key=files.index) == cycle[0]  # told from the module written first


def _file_order_kahn(g: dict[str, list[str]]) -> list[str]:
    """The order by hand (Kahn's algorithm, always taking the ready module written first)."""
    done: list[str] = []
    while len(done) < len(g):
        done.append(next(m for m in g if m not in done and all(n in done for n in g[m])))
    return done


def test_the_order_keeps_the_file_order_among_equals_and_tells_a_cycle_as_needs_read() -> None:
    assert order.dependencies_first({"b": ["a"], "a": [], "c": []}) == ["a", "b", "c"]
    assert order.dependencies_first({"z": [], "y": [], "x": ["z"]}) == ["z", "y", "x"]
    with pytest.raises(order.Cycle) as caught:
        order.dependencies_first({"x": [], "a": ["c"], "b": ["a"], "c": ["b"], "d": ["a"]})
    assert caught.value.cycle == ["a", "c", "b", "a"]
    with pytest.raises(order.Cycle) as caught:
        order.dependencies_first({"a": ["a"]})
    assert caught.value.cycle == ["a", "a"]
