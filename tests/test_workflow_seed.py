"""The seed's workflow error recovery guide (004), end to end through the real CLI and `module-runner`.

The seed's example: `anchor-docs` fails because `commission-doc` metadata is missing → the status banner reads
`Status: Error · anchor-docs failed`, its artifact is `invalid`, everything downstream is `Blocked by:
anchor-docs` → the module is rerun headlessly with `module-runner` (or the metadata is fixed) → `gitbench workflow
resume` runs the rest → `gitbench publish`. Then each tool the guide names: manual gates, skipping optional
modules, max parallel and exclusive modules with their skip reasons, input modules and `module-runner --wait`,
`--set` / `--config-file`, the MODULES.md registry, and a Python module registered through a real
`gitbench.modules` entry point.

Every module appends its id to a log outside the Workbench, so the tests count real runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import checkpoint_names, git, gitbench
from tests.invariants import Snapshot, check_invariants
from tests.workflow_helpers import (
    MODULE_RUNNER,
    draft_ref,
    line_of,
    module_runner,
    runs,
    state,
    status_json,
    steps,
    workflow_bench,
)

PY = sys.executable

COMMISSION = """\
import glob, pathlib
pathlib.Path("docs/commission.md").write_text("commission from " + ",".join(sorted(glob.glob("notes/*.md"))) + "\\n")
"""
# anchor-docs stamps the anchors with the run that made the commission: it reads commission-doc's metadata (an
# input of its own) at the path its config names. The workflow file names the old path, from before the module
# was renamed: the metadata is missing there, and the module fails as the seed's example does.
ANCHOR = """\
import json, os, pathlib, sys
cfg = json.loads(os.environ["GITBENCH_MODULE_CONFIG"])
meta = pathlib.Path(cfg["commission_meta"])
if not meta.is_file():
    sys.exit(f"anchor-docs: commission-doc metadata is missing ({meta})")
run = json.loads(meta.read_text())["run"]
pathlib.Path("docs/anchors.md").write_text(f"anchors ({run}): " + pathlib.Path("docs/commission.md").read_text())
"""


def seed_workflow(log: Path) -> str:
    return textwrap.dedent(f"""\
        max_parallel: 2
        phases: [research, writing]
        modules:
          - id: commission-doc
            version: 1
            phase: research
            run: {{command: 'echo commission-doc >> {log}; "{PY}" tools/commission.py'}}
            inputs: ["notes/*.md", tools/commission.py]
            outputs: [docs/commission.md]
          - id: anchor-docs
            phase: writing
            needs: [commission-doc]
            inputs: [tools/anchor.py, .gitbench/meta/commission-doc.json]
            outputs: [docs/anchors.md]
            run: {{command: 'echo anchor-docs >> {log}; "{PY}" tools/anchor.py'}}
            config: {{commission_meta: .gitbench/meta/commission.json}}
          - id: summary
            phase: writing
            needs: [anchor-docs]
            outputs: [docs/summary.md]
            run: {{command: 'echo summary >> {log}; cat docs/anchors.md > docs/summary.md'}}
          - id: index
            phase: writing
            needs: [summary]
            outputs: [docs/index.md]
            run: {{command: 'echo index >> {log}; wc -l < docs/summary.md > docs/index.md'}}
        """)


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # error banners wrap to the terminal: keep each message on one line


def seed_project(path: Path, log: Path) -> Path:
    """The seed's project at ``path``: notes, the two tools, and the anchors someone once wrote by hand (no
    metadata); its modules append their ids to ``log`` (also used by tests/test_workflow_dask.py)."""
    return workflow_bench(
        path,
        seed_workflow(log),
        {
            "notes/a.md": "note a\n",
            "notes/b.md": "note b\n",
            "tools/commission.py": COMMISSION,
            "tools/anchor.py": ANCHOR,
            "docs/anchors.md": "anchors, written by hand\n",
        },
    )


@pytest.fixture
def seed(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The seed's project (``seed_project``) and its run log."""
    log = tmp_path / "runs.log"
    wb = seed_project(tmp_path / "project", log)
    yield wb, log
    check_invariants(wb)


def test_the_seed_example_fails_is_rerun_with_module_runner_resumes_and_publishes(seed: tuple[Path, Path]) -> None:
    wb, log = seed
    before = Snapshot.take(wb)

    # 1. anchor-docs crashes: commission-doc's metadata is not where it looks.
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 12, res.stdout + res.stderr
    assert "Status: Error · anchor-docs failed" in res.stderr
    assert "commission-doc metadata is missing" in res.stderr
    assert "module-runner --module" in res.stderr and "gitbench workflow resume" in res.stderr
    assert runs(log) == ["commission-doc", "anchor-docs"]
    # The engine snapshot records the failed run with its error string.
    last = state(wb)["last_run"]["anchor-docs"]
    assert last["status"] == "failed" and "commission-doc metadata is missing" in last["error"]
    assert state(wb)["running"] == {}

    # 2. The status: the banner, the failed module with its invalid artifact, everything downstream blocked by it.
    res = gitbench(wb, "workflow", "status")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "Status: Error · anchor-docs failed  (phase: writing)"
    assert " complete " in line_of(res.stdout, "commission-doc")
    anchor = line_of(res.stdout, "anchor-docs")
    assert " failed " in anchor and "last run: failed" in anchor and "commission-doc metadata is missing" in anchor
    assert "docs/anchors.md=invalid" in anchor
    for downstream in ("summary", "index"):
        assert "Blocked by: anchor-docs" in line_of(res.stdout, downstream)
        assert " blocked " in line_of(res.stdout, downstream)
    banner, modules = status_json(wb)
    assert banner == "Status: Error · anchor-docs failed"
    assert modules["anchor-docs"]["state"] == "failed"
    [artifact] = modules["anchor-docs"]["artifacts"]
    assert artifact["klass"] == "invalid" and artifact["reason"].startswith("InvalidMetadata")
    assert modules["index"]["blocked_by"] == ["anchor-docs"]
    # Published is untouched; the Draft holds the one finished module.
    assert git(wb, "rev-parse", "main").strip() == before.published
    draft = draft_ref(wb)
    assert [s["Gitbench-Step"] for s in steps(wb, draft, before.published)] == ["1/4 commission-doc"]

    # 3. Resuming without a fix does not rerun the failed module: nothing changed since it failed.
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 12 and "Status: Error · anchor-docs failed" in res.stderr
    assert runs(log) == ["commission-doc", "anchor-docs"]

    # 4. Rerun headlessly with the right setting.
    res = module_runner(wb, "--module", "anchor-docs", "--set", "commission_meta=.gitbench/meta/commission-doc.json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "anchor-docs: complete" in res.stdout
    assert runs(log) == ["commission-doc", "anchor-docs", "anchor-docs"]
    res = gitbench(wb, "workflow", "status")
    assert res.stdout.splitlines()[0].startswith("Status: ready")
    assert "docs/anchors.md=ready" in line_of(res.stdout, "anchor-docs")
    assert " ready " in line_of(res.stdout, "summary") and "Blocked by: anchor-docs" not in res.stdout
    assert "Blocked by: summary" in line_of(res.stdout, "index")

    # 5. Resume: the rest runs, each once, and the workflow is complete.
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Status: complete" in res.stdout
    assert runs(log) == ["commission-doc", "anchor-docs", "anchor-docs", "summary", "index"]

    # Each finished module is one step commit on the Draft, its Gitbench-Step naming the module.
    assert draft_ref(wb) == draft
    trail = steps(wb, draft, before.published)
    assert [s["Gitbench-Step"].split(" ", 1)[1] for s in trail] == ["commission-doc", "anchor-docs", "summary", "index"]
    job = trail[0]["Gitbench-Job"]
    for s, module, output in zip(
        trail,
        ["commission-doc", "anchor-docs", "summary", "index"],
        ["docs/commission.md", "docs/anchors.md", "docs/summary.md", "docs/index.md"],
        strict=True,
    ):
        assert s["Gitbench-Job"] == job and s["Gitbench-Status"] == "complete"
        assert s["Gitbench-Model"] == "workflow:command"
        assert s["Gitbench-Checkpoint"].startswith("checkpoint/")
        assert set(s["Gitbench-Files"].split(", ")) == {output, f".gitbench/meta/{module}.json"}
    assert git(wb, "show", f"{draft}:docs/anchors.md").startswith(f"anchors ({job}.commission-doc.1): commission")
    # The metadata the resolver checks: module id, version, fingerprint, the object id of each output.
    meta = json.loads(git(wb, "show", f"{draft}:.gitbench/meta/anchor-docs.json"))
    assert meta["module"] == "anchor-docs" and meta["version"] == "1" and meta["fingerprint"]
    assert meta["outputs"] == {"docs/anchors.md": git(wb, "rev-parse", f"{draft}:docs/anchors.md").strip()}
    check_invariants(wb, before, published_may_change=False)

    # 6. Publish: main is the Draft, the files are in the Workbench, and the status is complete on Published.
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert git(wb, "rev-parse", "main").strip() == trail[-1]["commit"]
    assert draft_ref(wb) == ""
    assert (wb / "docs/index.md").read_text().strip() == "1"
    assert (wb / "docs/summary.md").read_text() == (wb / "docs/anchors.md").read_text()
    res = gitbench(wb, "workflow", "status")
    assert res.stdout.splitlines()[0] == "Status: complete" and "Draft" not in res.stdout
    check_invariants(wb, before)


def test_metadata_broken_in_the_draft_shows_invalid_and_a_fix_by_hand_needs_no_rerun(seed: tuple[Path, Path]) -> None:
    wb, log = seed
    res = module_runner(wb, "--module", "commission-doc")
    assert res.returncode == 0, res.stdout + res.stderr
    draft = draft_ref(wb)
    good = git(wb, "rev-parse", draft).strip()

    # Someone (another tool) commits broken metadata onto the Draft with plain Git plumbing.
    def commit_meta(text: str) -> None:
        blob = _blob(wb, text)
        index = wb / ".git" / "tmp-index"
        env = {"GIT_INDEX_FILE": str(index)}
        git(wb, "read-tree", draft, env=env)
        git(wb, "update-index", "--cacheinfo", f"100644,{blob},.gitbench/meta/commission-doc.json", env=env)
        tree = git(wb, "write-tree", env=env).strip()
        index.unlink()
        head = git(wb, "rev-parse", draft).strip()
        commit = git(wb, "commit-tree", tree, "-p", head, "-m", "edit metadata by hand").strip()
        git(wb, "update-ref", draft, commit, head)

    commit_meta('{"module": "other-module", "version": "1"}')
    banner, modules = status_json(wb)
    [artifact] = modules["commission-doc"]["artifacts"]
    assert artifact["klass"] == "invalid" and "InvalidMetadata" in artifact["reason"]
    assert "names module 'other-module'" in artifact["reason"]
    assert modules["commission-doc"]["state"] == "ready"  # the engine would run it again to repair it
    assert modules["anchor-docs"]["blocked_by"] == ["commission-doc"]
    res = gitbench(wb, "workflow", "status")
    assert "docs/commission.md=invalid" in line_of(res.stdout, "commission-doc")
    assert "InvalidMetadata" in line_of(res.stdout, "commission-doc")
    # A file that does not even parse is an `error`, with the parse problem (tests/test_workflow_honest.py).
    commit_meta("{not json")
    banner, modules = status_json(wb)
    [artifact] = modules["commission-doc"]["artifacts"]
    assert artifact["klass"] == "error" and "cannot be parsed" in artifact["reason"]

    # The fix: the metadata as the engine wrote it. The module is complete again without running.
    commit_meta(git(wb, "show", f"{good}:.gitbench/meta/commission-doc.json"))
    banner, modules = status_json(wb)
    assert modules["commission-doc"]["state"] == "complete"
    assert modules["anchor-docs"]["state"] == "ready"
    assert runs(log) == ["commission-doc"]


def _blob(wb: Path, text: str) -> str:
    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=wb, input=text, capture_output=True, text=True, check=True
    ).stdout.strip()


def timed(log: Path, mid: str, work: str = "sleep 0.3") -> str:
    """A command that logs its start and end (monotonic-enough wall time) around ``work``."""
    return (
        f"{{command: 'echo {mid} start $(date +%s.%N) >> {log}; {work}; echo {mid} > out/{mid}.txt; "
        f"echo {mid} end $(date +%s.%N) >> {log}'}}"
    )


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for line in log.read_text().splitlines():
        mid, what, when = line.split()
        if what == "start":
            starts[mid] = float(when)
        else:
            out[mid] = (starts[mid], float(when))
    return out


def overlapping(spans: dict[str, tuple[float, float]]) -> int:
    """The most modules that ran at the same moment."""
    events = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_max_parallel_limits_how_many_modules_run_at_once_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "times.log"
    wb = workflow_bench(
        tmp_path / "project",
        "max_parallel: 2\nmodules:\n"
        + "".join(f"  - {{id: {m}, outputs: [out/{m}.txt], run: {timed(log, m)}}}\n" for m in "abc"),
    )
    res = gitbench(wb, "workflow", "status")
    assert "skipped:max parallel 2 reached" in line_of(res.stdout, "c")
    assert "skipped" not in line_of(res.stdout, "a") + line_of(res.stdout, "b")

    res = gitbench(wb, "workflow", "run", "--max-parallel", "1")
    assert res.returncode == 0, res.stderr
    assert overlapping(intervals(log)) == 1
    assert sorted(intervals(log)) == ["a", "b", "c"]
    check_invariants(wb)

    # The file's max_parallel (2): two at once, never three; the third waits for a free slot.
    wb2 = workflow_bench(
        tmp_path / "project2",
        "max_parallel: 2\nmodules:\n"
        + "".join(f"  - {{id: {m}, outputs: [out/{m}.txt], run: {timed(tmp_path / 'two.log', m)}}}\n" for m in "abc"),
    )
    res = gitbench(wb2, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert overlapping(intervals(tmp_path / "two.log")) == 2
    check_invariants(wb2)


def test_an_exclusive_module_runs_alone(tmp_path: Path) -> None:
    log = tmp_path / "times.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        max_parallel: 3
        modules:
          - {{id: a, outputs: [out/a.txt], run: {timed(log, "a")}}}
          - {{id: x, outputs: [out/x.txt], exclusive: true, run: {timed(log, "x", "sleep 0.2")}}}
          - {{id: b, outputs: [out/b.txt], run: {timed(log, "b")}}}
        """),
    )
    res = gitbench(wb, "workflow", "status")
    assert "skipped:exclusive, waits for the others to finish" in line_of(res.stdout, "x")
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    spans = intervals(log)
    xs, xe = spans.pop("x")
    assert overlapping(spans) == 2  # a and b side by side
    for start, end in spans.values():
        assert end <= xs or start >= xe, "an exclusive module ran beside another"
    check_invariants(wb)


def test_a_manual_gate_holds_a_module_until_approved_and_survives_resume(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - id: draft-text
            outputs: [out/text.md]
            run: {{command: 'echo draft-text >> {log}; echo t > out/text.md'}}
          - id: review
            needs: [draft-text]
            gate: true
            outputs: [out/review.md]
            run: {{command: 'echo review >> {log}; cp out/text.md out/review.md'}}
          - {{id: extra, outputs: [out/extra.md], run: {{command: 'echo extra >> {log}; echo e > out/extra.md'}}}}
        """),
    )
    # A gate set at runtime, beside the one from the file.
    res = gitbench(wb, "workflow", "gate", "extra")
    assert res.returncode == 0 and "extra: now needs manual approval" in res.stdout
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert runs(log) == ["draft-text"]
    assert "Modules left: review (manual-gate), extra (manual-gate)" in res.stdout
    status = gitbench(wb, "workflow", "status").stdout
    assert "skipped:manual-gate" in line_of(status, "review") and "skipped:manual-gate" in line_of(status, "extra")
    assert state(wb)["gates"]["extra"] == {"required": True, "approved": False}

    # Resume keeps the gates; approving one lets it run, the other still waits.
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and runs(log) == ["draft-text"]
    assert (
        gitbench(wb, "workflow", "approve", "review")
        .stdout.strip()
        .startswith("review: gate approved for its current inputs (1 file(s))")
    )
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0, res.stderr
    assert runs(log) == ["draft-text", "review"]
    assert "Modules left: extra (manual-gate)" in res.stdout
    # Removing the gate: it runs, and the workflow is complete.
    assert gitbench(wb, "workflow", "gate", "extra", "--off").returncode == 0
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and "Status: complete" in res.stdout
    assert runs(log) == ["draft-text", "review", "extra"]
    res = gitbench(wb, "workflow", "gate", "nope")
    assert res.returncode == 2 and "There is no module 'nope'" in res.stderr
    check_invariants(wb)


def test_a_run_held_at_a_gate_says_to_approve_it_first_as_resume_alone_would_run_nothing(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - {{id: a, outputs: [out/a.md], run: {{command: 'echo a >> {log}; echo a > out/a.md'}}}}
          - id: deploy
            needs: [a]
            gate: true
            outputs: [out/deploy.md]
            run: {{command: 'echo deploy >> {log}; cp out/a.md out/deploy.md'}}
          - {{id: sign-off, run: {{input: the signed form}}, outputs: [in/form.md]}}
        """),
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0 and runs(log) == ["a"], res.stderr
    assert "Waiting for input: sign-off (the signed form: write in/form.md in the Workbench folder)" in res.stdout
    approve_then_resume = (
        "deploy waits for your approval: gitbench workflow approve deploy, then: gitbench workflow resume."
    )
    assert approve_then_resume in res.stdout
    (wb / "in").mkdir()
    (wb / "in" / "form.md").write_text("signed\n")
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and runs(log) == ["a"], res.stderr
    assert "Modules left: deploy (manual-gate). " + approve_then_resume in res.stdout
    assert gitbench(wb, "workflow", "approve", "deploy").returncode == 0  # as the message says: then it runs
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and "Status: complete" in res.stdout and runs(log) == ["a", "deploy"]
    check_invariants(wb)


def test_a_run_with_nothing_to_run_takes_no_checkpoint_and_makes_no_draft(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - {{id: a, outputs: [out/a.md], run: {{command: 'echo a >> {log}; echo a > out/a.md'}}}}
          - {{id: b, outputs: [out/b.md], run: {{command: 'echo b >> {log}; exit 3'}}}}
        """),
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 12 and sorted(runs(log)) == ["a", "b"], res.stderr
    assert gitbench(wb, "publish").returncode == 0  # a's step; b failed
    taken = checkpoint_names(wb)
    # b failed and nothing it is made from changed: it is not run again, and nothing is made for nothing
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 12 and sorted(runs(log)) == ["a", "b"], res.stderr
    assert "Status: Error · b failed: the command exited with status 3 (its last run;" in res.stderr
    assert "Nothing ran: no checkpoint, no Draft." in res.stderr
    assert "gitbench workflow run --module b" in res.stderr
    assert checkpoint_names(wb) == taken and draft_ref(wb) == ""
    # everything up to date: said so, nothing taken either
    (wb / ".gitbench" / "workflow.yaml").write_text(
        f"modules: [{{id: a, outputs: [out/a.md], run: {{command: 'echo a >> {log}; echo a > out/a.md'}}}}]\n"
    )
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-qam", "b is gone")
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert (
        "Status: complete. Every module is up to date: nothing to run (no checkpoint taken, no Draft made)."
        in res.stdout
    )
    assert checkpoint_names(wb) == taken and draft_ref(wb) == "" and sorted(runs(log)) == ["a", "b"]
    # an edit in the folder to what a module reads is still taken: a run with it is a job, as before
    (wb / "out" / "a.md").write_text("edited\n")
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0 and "Your edits in the folder were taken into the Draft: out/a.md" in res.stdout
    assert len(checkpoint_names(wb)) == len(taken) + 1 and draft_ref(wb) != ""
    assert gitbench(wb, "publish").returncode == 0
    check_invariants(wb)


def test_only_optional_modules_can_be_skipped_and_a_skipped_one_never_runs(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        phases: [main, polish]
        modules:
          - id: core
            phase: main
            outputs: [out/core.md]
            run: {{command: 'echo core >> {log}; echo c > out/core.md'}}
          - id: lint
            phase: polish
            optional: true
            outputs: [out/lint.md]
            run: {{command: 'echo lint >> {log}; echo l > out/lint.md'}}
          - id: lint-report
            phase: polish
            needs: [lint]
            outputs: [out/lint-report.md]
            run: {{command: 'echo lint-report >> {log}; cp out/lint.md out/lint-report.md'}}
        """),
    )
    res = gitbench(wb, "workflow", "skip", "core")
    assert res.returncode == 2
    assert (
        "core is not optional (optional: true in .gitbench/workflow.yaml); only optional modules can be "
        "skipped." in res.stderr
    )
    res = gitbench(wb, "workflow", "skip", "lint")
    assert res.returncode == 0 and res.stdout.strip() == (
        "lint: skipped; the engine will not run it. Neither will what needs it, while it is skipped: lint-report."
    )
    assert state(wb)["skipped"] == ["lint"]
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert runs(log) == ["core"]
    # The skipped module no longer holds the workflow back: it is complete, and no phase is left.
    assert res.stdout.startswith("· ") and "Status: complete." in res.stdout
    status = gitbench(wb, "workflow", "status").stdout
    assert status.splitlines()[0] == "Status: complete"
    assert "skipped (optional)" in line_of(status, "lint")
    # What needs it waits, and says for what.
    assert " blocked " in line_of(status, "lint-report") and "Blocked by: lint" in line_of(status, "lint-report")
    # --undo puts it back among the targets; resume runs it, and what needs it.
    assert gitbench(wb, "workflow", "skip", "lint", "--undo").returncode == 0
    assert gitbench(wb, "workflow", "status").stdout.splitlines()[0] == "Status: ready  (phase: polish)"
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0, res.stderr
    assert runs(log) == ["core", "lint", "lint-report"]
    check_invariants(wb)


def test_an_input_module_waits_for_the_operator_and_module_runner_polls_until_its_outputs_appear(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - id: sign-off
            inputs: {{input: "the reviewers' sign-off"}}
            outputs: [review/sign-off.md]
          - id: release-notes
            needs: [sign-off]
            outputs: [out/notes.md]
            run: {{command: 'echo release-notes >> {log}; cat review/sign-off.md > out/notes.md'}}
        """),
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert (
        "Waiting for input: sign-off (the reviewers' sign-off: write review/sign-off.md in the Workbench folder)"
    ) in res.stdout
    status = gitbench(wb, "workflow", "status").stdout
    assert " needs-input " in line_of(status, "sign-off")
    assert "Blocked by: sign-off" in line_of(status, "release-notes")
    # Resume without the file: still waiting, nothing else ran.
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and "Waiting for input: sign-off" in res.stdout
    assert runs(log) == []

    # The operator writes the file once module-runner says it waits (not after a guessed delay: on a loaded
    # machine the first poll may come late).
    proc = subprocess.Popen(
        [MODULE_RUNNER, "--project", str(wb), "--module", "sign-off", "--wait", "60"],
        cwd=wb.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("Waiting for sign-off outputs…"), first
    (wb / "review").mkdir()
    (wb / "review/sign-off.md").write_text("signed: ana, li\n")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stdout + stderr
    assert "sign-off: complete" in stdout
    draft = draft_ref(wb)
    assert git(wb, "show", f"{draft}:review/sign-off.md") == "signed: ana, li\n"
    assert state(wb)["running"] == {}
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and "Status: complete" in res.stdout
    assert runs(log) == ["release-notes"]
    # The operator's file is in the Draft: publishing makes it part of Published.
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert git(wb, "show", "main:out/notes.md") == "signed: ana, li\n"
    check_invariants(wb)


def test_a_waiting_input_module_holds_no_slot_of_max_parallel(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        max_parallel: 1
        modules:
          - {{id: token, inputs: {{input: "an API token"}}, outputs: [secrets/token.txt]}}
          - id: build
            exclusive: true
            outputs: [out/build.txt]
            run: {{command: 'echo build >> {log}; echo b > out/build.txt'}}
        """),
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert runs(log) == ["build"]
    assert "Waiting for input: token" in res.stdout
    check_invariants(wb)


def test_set_and_config_file_reach_a_command_module_as_its_config(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent("""\
        modules:
          - id: notify
            outputs: [out/config.json]
            config: {reviewers: [ana, li], tone: formal, rounds: 1}
            run: {command: 'printf "%s" "$GITBENCH_MODULE_CONFIG" > out/config.json'}
        """),
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    draft = draft_ref(wb)
    assert json.loads(git(wb, "show", f"{draft}:out/config.json")) == {
        "reviewers": ["ana", "li"],
        "tone": "formal",
        "rounds": 1,
    }

    settings = tmp_path / "settings.yaml"
    settings.write_text("reviewers: [bo]\ntone: terse\n")
    res = module_runner(
        wb,
        "--module",
        "notify",
        "--config-file",
        str(settings),
        "--set",
        "tone=casual",
        "--set",
        "rounds=3",
        "--set",
        "note=a=b",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(git(wb, "show", f"{draft}:out/config.json")) == {
        "reviewers": ["bo"],
        "tone": "casual",
        "rounds": 3,
        "note": "a=b",
    }
    # The overrides are remembered: the module is complete with them, not outdated.
    _, modules = status_json(wb)
    assert modules["notify"]["state"] == "complete"
    assert state(wb)["overrides"]["notify"]["tone"] == "casual"
    # ...and shown, since every later run uses them over what the workflow file says
    res = gitbench(wb, "workflow", "status")
    assert (
        "Settings from module-runner --set / --config-file, used by every run over the file's: "
        'notify: note="a=b", reviewers=["bo"], rounds=3, tone="casual"'
    ) in res.stdout

    for bad, message in [
        (["--set", "tone"], "--set takes key=value, not 'tone'."),
        (["--config-file", str(tmp_path / "none.yaml")], "Cannot read --config-file"),
        (["--config-file", str(settings.with_name("list.yaml"))], "must hold a mapping"),
    ]:
        settings.with_name("list.yaml").write_text("- a\n- b\n")
        res = module_runner(wb, "--module", "notify", *bad)
        assert res.returncode == 2 and message in res.stderr, res.stderr
    res = module_runner(wb, "--module", "nope")
    assert res.returncode == 2 and "There is no module 'nope'" in res.stderr

    # ...and forgotten: one, then the rest; the module then goes by the file's config (outdated: run it again)
    res = gitbench(wb, "workflow", "unset", "notify", "tone", "ghost")
    assert res.returncode == 2 and "notify has no setting ghost from module-runner" in res.stderr, res.stderr
    assert state(wb)["overrides"]["notify"]["tone"] == "casual"  # nothing changed
    res = gitbench(wb, "workflow", "unset", "notify", "tone")
    assert res.returncode == 0, res.stderr
    assert (
        "notify: forgot tone from module-runner" in res.stdout and "still kept: note, reviewers, rounds" in res.stdout
    )
    assert "tone" not in state(wb)["overrides"]["notify"]
    res = gitbench(wb, "workflow", "unset", "notify")
    assert res.returncode == 0 and "config again" in res.stdout, res.stdout + res.stderr
    assert "notify" not in state(wb)["overrides"]
    res = gitbench(wb, "workflow", "status")
    assert "Settings from module-runner" not in res.stdout
    assert "out/config.json=outdated (settings changed" in line_of(res.stdout, "notify"), res.stdout
    res = gitbench(wb, "workflow", "unset", "notify")
    assert res.returncode == 0 and "notify has no settings from module-runner" in res.stdout
    check_invariants(wb)


def test_workflow_modules_writes_the_registry_with_each_contract(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent("""\
        phases: [research]
        modules:
          - id: commission-doc
            version: 2
            phase: research
            inputs: ["notes/*.md"]
            outputs: [docs/commission.md]
            run: {command: "cat notes/*.md > docs/commission.md"}
          - id: anchor-docs
            needs: [commission-doc]
            outputs: [docs/anchors.md]
            gate: true
            config: {reviewers: [ana, li]}
            run: {command: "cp docs/commission.md docs/anchors.md"}
          - {id: sign-off, inputs: {input: "a signed PDF"}, outputs: [review/sign-off.pdf], optional: true}
        """),
    )
    res = gitbench(wb, "workflow", "modules")
    assert res.returncode == 0, res.stderr
    path = wb / ".gitbench/modules/MODULES.md"
    assert res.stdout.strip() == f"Wrote {path}"
    text = path.read_text()
    assert "## commission-doc (version 2)" in text and "## anchor-docs (version 1)" in text
    section = text.split("## anchor-docs")[1].split("## ")[0]
    assert "- needs: commission-doc" in section
    assert "- writes: docs/anchors.md (metadata: .gitbench/meta/anchor-docs.json)" in section
    assert "- gate" in section and "reviewers" in section
    assert "- the operator provides: a signed PDF" in text
    assert "- reads: notes/*.md" in text
    check_invariants(wb)


TINYMODS = '''\
"""Modules for tests: registered through a real gitbench.modules entry point (a dist-info on sys.path)."""
import json, os, pathlib


class Shout:
    """Reads notes/in.md, writes out/shout.md in capitals."""

    def run(self, ctx):
        if ctx.config.get("fail"):
            raise ValueError("told to fail")
        text = pathlib.Path(ctx.path("notes/in.md")).read_text()
        suffix = ctx.config.get("suffix", "")
        pathlib.Path(ctx.path("out/shout.md")).write_text(text.upper() + suffix)
        with open(os.environ["TINYMODS_LOG"], "a") as log:
            log.write(json.dumps(["run", ctx.module]) + "\\n")
        return "complete"

    def on_invalidated(self, ctx, artifacts):
        with open(os.environ["TINYMODS_LOG"], "a") as log:
            log.write(json.dumps(["invalidated", [list(a) for a in artifacts]]) + "\\n")
'''


def test_a_python_module_from_an_entry_point_runs_and_hears_of_invalidation_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed distribution, as pip would leave it: the code and a dist-info with entry_points.txt.
    site = tmp_path / "site"
    (site / "tinymods-0.1.dist-info").mkdir(parents=True)
    (site / "tinymods.py").write_text(TINYMODS)
    (site / "tinymods-0.1.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: tinymods\nVersion: 0.1\n")
    (site / "tinymods-0.1.dist-info/entry_points.txt").write_text("[gitbench.modules]\nshout = tinymods:Shout\n")
    log = tmp_path / "tinymods.log"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("TINYMODS_LOG", str(log))
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent("""\
        modules:
          - id: shout
            inputs: [notes/in.md]
            outputs: [out/shout.md]
            run: {module: shout}
        """),
        {"notes/in.md": "hello\n"},
    )

    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stdout + res.stderr
    draft = draft_ref(wb)
    assert git(wb, "show", f"{draft}:out/shout.md") == "HELLO\n"
    [step] = steps(wb, draft, git(wb, "rev-parse", "main").strip())
    assert step["Gitbench-Step"] == "1/1 shout" and step["Gitbench-Model"] == "workflow:module"
    assert [json.loads(line) for line in log.read_text().splitlines()] == [["run", "shout"]]

    # A changed setting outdates its output: the handler hears of it before the rerun.
    res = module_runner(wb, "--module", "shout", "--set", "suffix=!")
    assert res.returncode == 0, res.stdout + res.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[1] == ["invalidated", [["out/shout.md", "outdated", "settings changed (fingerprint mismatch)"]]]
    assert events[2] == ["run", "shout"]
    assert git(wb, "show", f"{draft}:out/shout.md") == "HELLO\n!"

    # A module that raises has failed, with the exception as its error.
    res = module_runner(wb, "--module", "shout", "--set", "fail=true")
    assert res.returncode == 12
    banner, modules = status_json(wb)
    assert banner == "Status: Error · shout failed"
    assert modules["shout"]["last_run"]["error"] == "ValueError: told to fail"

    # MODULES.md names the installed module and its contract.
    assert gitbench(wb, "workflow", "modules").returncode == 0
    text = (wb / ".gitbench/modules/MODULES.md").read_text()
    assert "- contract (tinymods:Shout): Reads notes/in.md, writes out/shout.md in capitals." in text
    assert "- `shout`: tinymods:Shout" in text
    check_invariants(wb)


def test_a_module_that_deletes_its_output_or_overruns_its_timeout_has_failed_and_runs_once_a_run(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - id: tidy
            outputs: [out/kept.txt]
            run: {{command: 'echo tidy >> {log}; rm out/kept.txt; echo stray > out/stray.txt'}}
          - id: slow
            outputs: [out/slow.txt]
            run: {{command: 'echo slow >> {log}; sleep 5; echo s > out/slow.txt', timeout: 0.5}}
        """),
        {"out/kept.txt": "kept\n"},
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 12, res.stdout + res.stderr
    assert "tidy: failed: it did not write out/kept.txt" in res.stdout
    assert "slow: failed: timed out after 0.5 s" in res.stdout
    assert sorted(runs(log)) == ["slow", "tidy"]
    # Asked for by name, a failed module runs again, once: its failure is not retried in a loop.
    res = module_runner(wb, "--module", "tidy")
    assert res.returncode == 12 and sorted(runs(log)) == ["slow", "tidy", "tidy"]
    # Nothing of the failed runs reached the Draft: not the deletion, not the file outside its outputs.
    draft = draft_ref(wb)
    assert git(wb, "show", f"{draft}:out/kept.txt") == "kept\n"
    assert git(wb, "ls-tree", "-r", "--name-only", draft, "out/").split() == ["out/kept.txt"]
    check_invariants(wb)


def test_a_fix_made_in_the_folder_is_taken_into_the_draft_on_resume_and_counts(seed: tuple[Path, Path]) -> None:
    """The other way out of the seed's failure: the operator fixes the tool in the Workbench's folder (and adds
    a note). Resume takes those edits into the Draft as one step, the resolver counts them (anchor-docs is no
    longer failed: what it reads changed; commission-doc is outdated by the new note), and the run goes on."""
    wb, log = seed
    before = Snapshot.take(wb)
    assert gitbench(wb, "workflow", "run").returncode == 12
    assert runs(log) == ["commission-doc", "anchor-docs"]

    tool = wb / "tools" / "anchor.py"
    tool.write_text(
        ANCHOR.replace(
            'meta = pathlib.Path(cfg["commission_meta"])', 'meta = pathlib.Path(".gitbench/meta/commission-doc.json")'
        )
    )
    (wb / "notes" / "c.md").write_text("note c\n")
    (wb / "unrelated.txt").write_text("not the workflow's business\n")
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Your edits in the folder were taken into the Draft: notes/c.md, tools/anchor.py." in res.stdout
    assert runs(log) == ["commission-doc", "anchor-docs", "commission-doc", "anchor-docs", "summary", "index"]
    draft = draft_ref(wb)
    trail = steps(wb, draft, before.published)
    assert [s["Gitbench-Step"].split(" ", 1)[1] for s in trail] == [
        "commission-doc",
        "operator-edits",
        "commission-doc",
        "anchor-docs",
        "summary",
        "index",
    ]
    assert trail[1]["Gitbench-Files"] == "notes/c.md, tools/anchor.py"
    assert git(wb, "show", f"{draft}:tools/anchor.py") == tool.read_text()
    assert "notes/c.md" in git(wb, "show", f"{draft}:docs/commission.md")
    assert "unrelated.txt" not in git(wb, "ls-tree", "-r", "--name-only", draft)

    # A second resume finds nothing new to take: the folder's files are the Draft's now.
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and "taken into the Draft" not in res.stdout
    assert gitbench(wb, "publish").returncode == 0
    assert git(wb, "show", "main:tools/anchor.py") == tool.read_text()
    assert (wb / "unrelated.txt").exists()
    check_invariants(wb, before)


def test_an_edit_to_the_workflow_file_in_the_folder_is_named_as_unused_with_the_way_to_use_it(tmp_path: Path) -> None:
    """A run goes by the workflow file in Published: an edit to it in the folder (a module added between runs)
    is not used, and the run says so, with how to use it, instead of running as if nothing had been written."""
    log = tmp_path / "runs.log"
    first = f"modules: [{{id: a, outputs: [out/a.md], run: {{command: 'echo a >> {log}; echo a > out/a.md'}}}}]\n"
    wb = workflow_bench(tmp_path / "project", first)
    assert gitbench(wb, "workflow", "run").returncode == 0
    edited = first[:-2] + f", {{id: b, outputs: [out/b.md], run: {{command: 'echo b >> {log}; echo b > out/b.md'}}}}]\n"
    (wb / ".gitbench" / "workflow.yaml").write_text(edited)
    unused = (
        ".gitbench/workflow.yaml in the folder has edits this run does not use: a workflow runs by the file in "
        "Published. To run by your edits: gitbench add .gitbench/workflow.yaml (no Draft may be open: publish or "
        "discard it first), then run again."
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0 and runs(log) == ["a"], res.stderr
    assert unused in res.stdout.replace("\n", " ").replace("  note: ", "")
    # as it says: publish, add, run again: b runs
    assert gitbench(wb, "publish").returncode == 0
    assert gitbench(wb, "add", ".gitbench/workflow.yaml").returncode == 0
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0 and runs(log) == ["a", "b"] and "does not use" not in res.stdout, res.stderr
    assert gitbench(wb, "publish").returncode == 0
    check_invariants(wb)


def test_module_runner_with_set_on_a_gated_module_fails_until_approved_with_those_settings_then_runs(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - id: deploy
            gate: true
            outputs: [out/deploy.txt]
            config: {{target: staging}}
            run: {{command: 'echo deploy >> {log}; echo "$GITBENCH_MODULE_CONFIG" > out/deploy.txt'}}
        """),
    )
    res = module_runner(wb, "--module", "deploy")  # not approved: it did not run, and says so
    assert res.returncode == 2 and runs(log) == [], res.stdout
    assert "deploy did not run: manual-gate." in res.stderr and "gitbench workflow approve deploy" in res.stderr
    assert gitbench(wb, "workflow", "approve", "deploy").returncode == 0
    res = module_runner(wb, "--module", "deploy", "--set", "target=prod")  # approved, but not for these settings
    assert res.returncode == 2 and runs(log) == [], res.stdout
    assert "approved for other inputs or settings" in res.stderr
    res = gitbench(wb, "workflow", "status", "--why", "deploy")
    assert "deploy's gate was approved for other inputs: its settings changed since the approval" in res.stdout
    assert gitbench(wb, "workflow", "approve", "deploy").returncode == 0  # now of the settings it runs with
    res = module_runner(wb, "--module", "deploy", "--set", "target=prod")
    assert res.returncode == 0 and runs(log) == ["deploy"], res.stderr
    assert json.loads(git(wb, "show", f"{draft_ref(wb)}:out/deploy.txt")) == {"target": "prod"}
    assert gitbench(wb, "publish").returncode == 0
    check_invariants(wb)


def test_a_failed_runs_actions_name_the_module_and_a_cancelled_ones_lead_with_resume(tmp_path: Path) -> None:
    import os
    import signal
    import time

    started = tmp_path / "started"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - {{id: broken, outputs: [out/b.txt], run: {{command: 'exit 3'}}}}
          - {{id: slow, outputs: [out/s.txt], run: {{command: 'touch {started}; sleep 30; echo s > out/s.txt'}}}}
        """),
    )
    res = gitbench(wb, "workflow", "run", "--module", "broken", "--json")
    assert res.returncode == 12, res.stderr
    commands = [a["command"] for a in json.loads(res.stdout)["error"]["actions"]]
    assert "module-runner --module broken" in commands and "module-runner --module MODULE" not in commands
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "workflow", "run", "--module", "slow", "--json"],
        cwd=wb,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    actions = json.loads(out)["error"]["actions"]
    assert actions[0]["command"] == "gitbench workflow resume"  # nothing failed: going on comes first
    assert not any("failed" in a["label"] or "module-runner" in a["command"] for a in actions)
    check_invariants(wb)


def test_a_modules_error_that_ends_a_sentence_is_not_given_a_second_full_stop(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "project",
        "modules: [{id: a, outputs: [out/a.txt], run: {command: 'echo \"no input here.\" >&2; exit 1'}}]\n",
    )
    res = gitbench(wb, "workflow", "run", "--json")
    assert res.returncode == 12, res.stderr
    message = json.loads(res.stdout)["error"]["message"]
    assert message == "Status: Error · a failed: no input here. Finished modules are kept in the Draft."
    check_invariants(wb)


def test_a_run_of_named_modules_that_cannot_run_says_why_and_takes_no_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "project",
        textwrap.dedent(f"""\
        modules:
          - {{id: a, outputs: [out/a.md], run: {{command: 'echo a >> {log}; echo a > out/a.md'}}}}
          - {{id: opt, optional: true, needs: [a], outputs: [out/o.md], run: {{command: 'echo o > out/o.md'}}}}
        """),
    )
    taken = checkpoint_names(wb)
    assert gitbench(wb, "workflow", "skip", "opt").returncode == 0
    res = gitbench(wb, "workflow", "run", "--module", "opt")
    assert res.returncode == 0, res.stderr
    assert "opt is not run while skipped (back among the targets: gitbench workflow skip opt --undo)" in res.stdout
    assert "up to date" not in res.stdout  # it is not: nothing of it ever ran
    assert gitbench(wb, "workflow", "skip", "opt", "--undo").returncode == 0
    res = gitbench(wb, "workflow", "run", "--module", "opt")
    assert (
        res.returncode == 0
        and "Nothing can run now (no checkpoint taken, no Draft made): opt (blocked by a)" in res.stdout
    )
    assert checkpoint_names(wb) == taken and draft_ref(wb) == "" and runs(log) == []
    check_invariants(wb)


def test_approving_a_module_without_a_gate_is_refused_naming_how_to_gate_it(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "project", "modules: [{id: a, outputs: [out/a.md], run: {command: 'echo a > out/a.md'}}]\n"
    )
    res = gitbench(wb, "workflow", "approve", "a")
    assert res.returncode == 2, res.stdout
    assert "a has no gate (gate: false in .gitbench/workflow.yaml, none set at runtime)" in res.stderr
    assert "gitbench workflow gate a" in res.stderr
    assert not (wb / ".git/gitbench/workflow/engine/state.json").exists()  # nothing was recorded
    assert gitbench(wb, "workflow", "gate", "a").returncode == 0  # gated at runtime: now it can be approved
    assert gitbench(wb, "workflow", "approve", "a").returncode == 0
    check_invariants(wb)


def test_files_a_module_writes_outside_its_outputs_are_named_by_the_run_not_only_logged(tmp_path: Path) -> None:
    """A command writes beside its output, a model proposes an edit to its input instead of its output: neither
    reaches the Draft, and the run says which files, from which module, and why (before: only a log line, and a
    bare "it did not write out/sum.txt")."""
    import os

    from tests import provider_server as ps

    server = ps.ProviderServer()
    try:
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(ps.config_toml(server))
        server.push(ps.ok())  # the default answer edits every file it was sent: in.txt, an input
        wb = workflow_bench(
            tmp_path / "project",
            textwrap.dedent("""\
            modules:
              - id: copy
                inputs: [in.txt]
                outputs: [out/copy.txt]
                run: {command: 'cp in.txt out/copy.txt; echo x > in.txt; echo y > stray.txt'}
              - id: summarise
                inputs: [in.txt]
                outputs: [out/sum.txt]
                run: {model: "fake:test-model", prompt: Summarise in.txt}
            """),
            {"in.txt": "text\n"},
        )
        res = gitbench(wb, "workflow", "run")
        assert res.returncode == 12, res.stdout + res.stderr
        assert (
            "summarise: failed: it did not write out/sum.txt (it wrote, outside its outputs, refused: in.txt)"
            in res.stdout
        )
        refused = "Not taken into the Draft, 3 file(s) modules wrote: "
        assert refused in res.stdout
        said = res.stdout[res.stdout.index(refused) :].split("\n")[0]
        for part in (
            "in.txt (copy: not among the module's outputs)",
            "stray.txt (copy: not among the module's outputs)",
            "in.txt (summarise: not among the module's outputs)",
        ):
            assert part in said, said
        draft = draft_ref(wb)
        assert git(wb, "show", f"{draft}:in.txt") == "text\n"  # nothing of them reached the Draft
        assert "stray.txt" not in git(wb, "ls-tree", "-r", "--name-only", draft)
        check_invariants(wb)
    finally:
        server.close()


def test_a_failed_modules_command_once_changed_runs_again(tmp_path: Path) -> None:
    """A module failed (its command wrote nothing); its command is fixed in the workflow file: the module is
    ready again, and the next run runs it (before: still "failed, nothing changed since", run nothing)."""
    wb = workflow_bench(tmp_path / "project", "modules:\n  - {id: a, outputs: [a.txt], run: {command: 'echo hi'}}\n")
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 12, res.stdout + res.stderr
    assert gitbench(wb, "discard", "--yes").returncode == 0
    (wb / ".gitbench/workflow.yaml").write_text(
        "modules:\n  - {id: a, outputs: [a.txt], run: {command: 'echo hi > a.txt'}}\n"
    )
    assert gitbench(wb, "add", ".gitbench/workflow.yaml").returncode == 0
    _, modules = status_json(wb)
    assert modules["a"]["state"] == "ready", modules["a"]
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(wb, "show", f"{draft_ref(wb)}:a.txt") == "hi\n"
    check_invariants(wb)


def test_a_model_module_its_provider_failed_runs_again_at_resume_once_the_provider_is_back(tmp_path: Path) -> None:
    """The provider answers 500 to every attempt: the run fails (the status says so); with the provider back,
    `workflow resume` asks again (before: "failed, nothing changed since", it ran nothing)."""
    import os

    from tests import provider_server as ps

    server = ps.ProviderServer()
    try:
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(ps.config_toml(server))
        server.push(*[ps.status(500)] * 3)  # each of the 3 attempts
        wb = workflow_bench(
            tmp_path / "project",
            "modules:\n  - {id: summarise, inputs: [in.txt], outputs: [in.txt],"
            ' run: {model: "fake:test-model", prompt: Summarise}}\n',
            {"in.txt": "text\n"},
        )
        res = gitbench(wb, "workflow", "run")
        assert res.returncode == 12, res.stdout + res.stderr
        banner, _ = status_json(wb)
        assert banner == "Status: Error · summarise failed", banner
        res = gitbench(wb, "workflow", "resume")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "summarise failed for its model provider last time" in res.stdout
        assert git(wb, "show", f"{draft_ref(wb)}:in.txt") == "text\nedited by model\n"
        check_invariants(wb)
    finally:
        server.close()
