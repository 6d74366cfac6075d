"""Several labeled Drafts (issue 6, seed 003 v1.5): `gitbench try` runs a Workshop job again with other models,
each into its own Draft labeled by model, side by side; the Drafts are listed, compared, published one at a time,
rebased or discarded. Through the real CLI against the scripted provider on 127.0.0.1 (each model scripted on
its own with ``push_for``), with DESIGN.md's invariants checked after every step.

The job: three files in scope, one per batch (``batch_files = 1``), so each attempt makes three requests and
three step commits. The default answer appends ``edited by <model>`` to each file it was sent, so every Draft's
content says which model made it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import provider_server as ps
from tests.conftest import git, gitbench, make_project, nth_checkpoint
from tests.invariants import Snapshot, check_invariants
from tests.provider_server import ProviderServer, config_toml, files_of

FILES = {"README.md": "# project\n", "src/a.py": "A = 1\n", "src/b.py": "B = 2\n", "src/c.py": "C = 3\n"}
IN_SCOPE = ["src/a.py", "src/b.py", "src/c.py"]
SOURCE, OTHER, THIRD, ANT = "fake:test-model", "fake:other-model", "fake:third-model", "fakeant:test-model"
LABELS = {OTHER: "fake-other-model", THIRD: "fake-third-model", ANT: "fakeant-test-model"}
DRAFT = "refs/heads/gitbench/draft/"
RECORDS = "refs/gitbench/records"


def by_model(files: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
    """Append a line naming the model to every file sent: each Draft's content shows who made it."""
    model = request.get("model")
    return {
        "summary": f"{model} edited {len(files)} file(s).",
        "edits": [{"op": "write", "path": p, "content": f"{t}edited by {model}\n"} for p, t in files.items()],
    }


def only(plan: dict[str, set[str]]) -> Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]:
    """An answer where each model edits only the files ``plan`` gives it (of those it was sent)."""

    def answer(files: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        mine = plan.get(str(request.get("model")), set())
        return by_model({p: t for p, t in files.items() if p in mine}, request)

    return answer


def write_config(server: ProviderServer, read: float = 2) -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_toml(server, job={"batch_files": 1}, timeouts={"read": read}))


@dataclass
class Bench:
    path: Path
    server: ProviderServer

    def run(
        self, *args: str, code: int | None = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run gitbench; check its exit code (unless None), that it did not crash, and the invariants after."""
        res = gitbench(self.path, *args, env=env)
        assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
        if code is not None:
            assert res.returncode == code, f"gitbench {' '.join(args)}: exit {res.returncode}\n{res.stdout}{res.stderr}"
        check_invariants(self.path)
        return res

    def json(self, *args: str, code: int = 0) -> Any:
        """`gitbench ARGS --json`: the result on success, the error otherwise."""
        data = json.loads(self.run(*args, "--json", code=code).stdout)
        assert data["ok"] is (code == 0), data
        return data["result"] if code == 0 else data["error"]

    def ask(self, *extra: str, code: int = 0) -> Any:
        return self.json("ask", "Add a line to each file", "--files", "src/**", *extra, code=code)

    def drafts(self) -> dict[str, str]:
        out = git(self.path, "for-each-ref", "--format=%(refname) %(objectname)", DRAFT)
        return {ref[len(DRAFT) :]: oid for ref, oid in (line.split() for line in out.splitlines())}

    def listing(self) -> dict[str, dict[str, Any]]:
        return {d["label"]: d for d in self.json("drafts")}

    def record(self, path: str) -> Any:
        return json.loads(git(self.path, "show", f"{RECORDS}:{path}"))

    def report(self, job: str) -> dict[str, Any]:
        return self.json("report", job)  # type: ignore[no-any-return]

    def published(self) -> str:
        return git(self.path, "rev-parse", "main").strip()

    def steps(self, label: str, base: str) -> list[dict[str, str]]:
        """The trailers of the Draft's step commits after ``base``, oldest first, read with git."""
        out = git(self.path, "log", "--reverse", "--format=%(trailers:unfold)%x1e", f"{base}..{DRAFT}{label}")
        return [
            dict(line.split(": ", 1) for line in chunk.strip().splitlines())
            for chunk in out.split("\x1e")
            if chunk.strip()
        ]

    def chain(self, label: str, base: str) -> list[str]:
        return git(self.path, "rev-list", "--reverse", "--first-parent", f"{base}..{DRAFT}{label}").split()

    def show(self, label: str, path: str) -> str:
        return git(self.path, "show", f"{DRAFT}{label}:{path}")

    def sent(self, model: str, start: int = 0) -> list[list[str]]:
        """The files each request naming ``model`` sent, from its ``start``-th on."""
        posts = [p for p in self.server.posts if p["body"].get("model") == model.split(":", 1)[1]]
        return [sorted(files_of(p["body"])) for p in posts[start:]]


@pytest.fixture(name="bench")  # by this name: tests/test_try_executor.py imports it, and its tests take `bench`
def bench_fixture(tmp_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    monkeypatch.setenv("FAKEANT_API_KEY", "sk-test-fakeant-0000")
    provider.models.add("third-model")
    provider.default = by_model
    write_config(provider)
    path = make_project(tmp_path / "wb", FILES)
    res = gitbench(path, "init")
    assert res.returncode == 0, res.stderr
    yield Bench(path, provider)
    check_invariants(path)


def source_job(b: Bench) -> dict[str, Any]:
    """Run the Workshop job the attempts try again; its record (read with git)."""
    job_id = b.ask()["job"]["id"]
    return b.record(f"jobs/{job_id}.json")  # type: ignore[no-any-return]


def commands(error: dict[str, Any]) -> list[str]:
    return [a["command"] for a in error["actions"]]


# -- two and three models ----------------------------------------------------------------------------------------
def test_try_with_three_models_makes_one_draft_per_model_from_the_source_jobs_base_each_step_with_trailers(
    bench: Bench,
) -> None:
    src = source_job(bench)
    before = bench.drafts()
    assert list(before) == [src["id"]]
    results = bench.json("try", OTHER, THIRD, ANT)
    assert [r["ok"] for r in results] == [True, True, True]
    drafts = bench.drafts()
    assert set(drafts) == {src["id"], *LABELS.values()}
    assert drafts[src["id"]] == before[src["id"]], "the source job's Draft was touched"
    listing = bench.listing()
    for model, label in LABELS.items():
        row = listing[label]
        job = bench.record(f"jobs/{row['job']}.json")
        assert job["tried_from"] == src["id"] and job["model"] == model and job["status"] == "complete"
        assert job["draft"] == DRAFT + label and job["base"] == src["base"]
        # made from the same base as the source job, three steps on top of it, none anywhere else
        chain = bench.chain(label, src["base"])
        assert len(chain) == 3
        assert git(bench.path, "rev-parse", f"{chain[0]}^").strip() == src["base"]
        steps = bench.steps(label, src["base"])
        assert [s["Gitbench-Step"] for s in steps] == ["1/3 batch", "2/3 batch", "3/3 batch"]
        assert [s["Gitbench-Files"] for s in steps] == IN_SCOPE
        for s in steps:
            assert s["Gitbench-Job"] == job["id"] and s["Gitbench-Model"] == model
            assert s["Gitbench-Checkpoint"] == src["checkpoint"] and s["Gitbench-Status"] == "complete"
            assert s["Gitbench-Attempts"] == "1" and int(s["Gitbench-Usage-Actual"]) > 0
            assert int(s["Gitbench-Usage-Estimate"]) > 0
        # its content is its own model's: no attempt overwrote another
        name = model.split(":", 1)[1]
        for path in IN_SCOPE:
            assert bench.show(label, path) == FILES[path] + f"edited by {name}\n"
    for model in (OTHER, THIRD):  # one batch of one file a request (ANT's model name is the source's)
        assert bench.sent(model) == [[p] for p in IN_SCOPE]
    assert bench.published() == src["base"]


def test_try_labels_drafts_with_label_and_never_reuses_an_open_label(bench: Bench) -> None:
    src = source_job(bench)
    res = bench.json("try", OTHER, THIRD, "--label", "alpha", "--label", "beta")
    assert all(r["ok"] for r in res)
    assert set(bench.drafts()) == {src["id"], "alpha", "beta"}
    assert bench.show("alpha", "src/a.py").endswith("edited by other-model\n")
    assert bench.show("beta", "src/a.py").endswith("edited by third-model\n")
    kept = bench.drafts()
    # A label already open is refused before anything starts; a label from the model gets a number instead.
    err = bench.json("try", THIRD, "--label", "alpha", code=2)
    assert "alpha" in err["message"] and bench.drafts() == kept
    bench.json("try", OTHER)
    bench.json("try", OTHER)
    drafts = bench.drafts()
    assert set(drafts) == {src["id"], "alpha", "beta", "fake-other-model", "fake-other-model-2"}
    assert all(drafts[label] == oid for label, oid in kept.items()), "an attempt overwrote another Draft"
    assert drafts["fake-other-model"] != drafts["fake-other-model-2"]
    # once the source job is published, an attempt of it is still made from the job's own base
    bench.json("publish", "--draft", src["id"])
    bench.json("try", THIRD, "--job", src["id"], "--label", "after")
    row = bench.listing()["after"]
    assert row["base"] == src["base"] and row["base_is_published"] is False
    assert git(bench.path, "rev-parse", f"{bench.chain('after', src['base'])[0]}^").strip() == src["base"]


def test_drafts_lists_label_model_base_age_steps_files_tokens_and_status(bench: Bench) -> None:
    src = source_job(bench)
    bench.json("try", OTHER, ANT)
    rows = bench.listing()
    assert set(rows) == {src["id"], LABELS[OTHER], LABELS[ANT]}
    for label, model in ((src["id"], SOURCE), (LABELS[OTHER], OTHER), (LABELS[ANT], ANT)):
        row = rows[label]
        assert row["model"] == model and row["base"] == src["base"] and row["base_is_published"] is True
        assert row["steps"] == 3 and row["files"] == 3 and row["status"] == "complete"
        assert isinstance(row["tokens"], int) and row["tokens"] > 0
        assert 0 <= row["age"] < 600
        assert row["tried_from"] == (None if label == src["id"] else src["id"])
    text = bench.run("drafts").stdout
    lines = text.splitlines()
    assert lines[0].split() == ["label", "model", "base", "age", "steps", "files", "tokens", "status"]
    for label, row in rows.items():  # one line per Draft, its label whole (to paste into --draft)
        line = next(line for line in lines if line.startswith(label + " "))
        assert row["model"] in line and row["base"][:12] in line and "complete" in line
        assert str(row["tokens"]) in line
    assert "older" not in text


# -- one model failing midway ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault,exit_code,klass",
    [
        (ps.status(500), 21, "model-unavailable"),
        (ps.answer_text("Sure! Here are the edits you asked for."), 20, "model"),
    ],
    ids=["http-500", "malformed-answer"],
)
def test_a_model_failing_midway_keeps_its_draft_with_its_finished_batches_and_leaves_the_others_unaffected(
    bench: Bench, fault: dict[str, Any], exit_code: int, klass: str
) -> None:
    src = source_job(bench)
    bench.server.push_for("third-model", ps.ok(by_model), fault, fault, fault)  # its 2nd request fails every retry
    res = bench.run("try", OTHER, THIRD, "--json", code=exit_code)
    out = json.loads(res.stdout)
    assert out["ok"] is False
    good, bad = out["result"]
    assert good["ok"] is True and good["result"]["job"]["status"] == "complete"
    assert bad["ok"] is False and bad["error"]["code"] == ("model-unavailable" if exit_code == 21 else "model-error")
    failed = bad["error"]["details"]["job"]
    # the failed attempt: Draft kept with batch 1, job failed with a report
    rows = bench.listing()
    assert rows["fake-third-model"]["job"] == failed and rows["fake-third-model"]["status"] == "failed"
    assert [s["Gitbench-Step"] for s in bench.steps("fake-third-model", src["base"])] == ["1/3 batch"]
    assert bench.show("fake-third-model", "src/b.py") == FILES["src/b.py"]
    report = bench.report(failed)
    assert report["status"] == "failed" and report["class"] == klass and report["reason"]
    assert report["last_completed_step"] == 1 and report["files_changed"] == ["src/a.py"]
    assert report["attempts"] == 1 + 3
    assert f"gitbench resume {failed}" in [a["command"] for a in report["next_actions"]]
    # the other attempt ran to its end, unaffected
    other = rows["fake-other-model"]
    assert other["status"] == "complete" and other["steps"] == 3
    assert all(bench.show("fake-other-model", p).endswith("edited by other-model\n") for p in IN_SCOPE)
    other_head = bench.drafts()["fake-other-model"]
    # resume finishes the failed one, from its last completed batch
    resumed = bench.json("resume", failed)
    assert resumed["job"]["status"] == "complete"
    assert bench.sent(THIRD, 4) == [["src/b.py"], ["src/c.py"]]
    steps = bench.steps("fake-third-model", src["base"])
    assert [s["Gitbench-Step"] for s in steps] == ["1/3 batch", "2/3 batch", "3/3 batch"]
    assert {s["Gitbench-Job"] for s in steps} == {failed} and {s["Gitbench-Model"] for s in steps} == {THIRD}
    assert bench.report(failed)["status"] == "complete"
    assert bench.drafts()["fake-other-model"] == other_head
    assert bench.published() == src["base"]


# -- review / publish / discard with several Drafts; publish one, rebase another -----------------------------------
def test_several_drafts_are_never_guessed_one_is_published_and_the_others_rebased_or_refused(bench: Bench) -> None:
    # the source job edits a.py; other-model edits b.py (no overlap); third-model edits a.py and c.py (overlap)
    bench.server.default = only(
        {"test-model": {"src/a.py"}, "other-model": {"src/b.py"}, "third-model": {"src/a.py", "src/c.py"}}
    )
    src = source_job(bench)
    s = src["id"]
    bench.json("try", OTHER, THIRD)
    labels = sorted([s, "fake-other-model", "fake-third-model"])
    snap = Snapshot.take(bench.path)
    for args in (["review"], ["publish"], ["discard", "--yes"]):
        err = bench.json(*args, code=4)
        assert err["code"] == "draft-ambiguous" and sorted(err["details"]["drafts"]) == labels
        verb, *rest = args  # each Draft offered as the whole command again with it named
        assert all(" ".join(["gitbench", verb, "--draft", label, *rest]) in commands(err) for label in labels)
        banner = bench.run(*args, code=4).stderr
        assert all(label in banner for label in labels) and "--draft" in banner
    check_invariants(bench.path, snap, published_may_change=False)
    assert bench.drafts() == snap_drafts(snap)
    rv = bench.json("review", "--draft", "fake-other-model")
    assert [f["path"] for f in rv["files"]] == ["src/b.py"] and rv["draft"] == "fake-other-model"

    # publish the source job's Draft: the other two are now made from an older Published
    published = bench.json("publish", "--draft", s)
    new = bench.published()
    assert published["published"] == new == snap.drafts[DRAFT + s]
    rows = bench.listing()
    assert set(rows) == {"fake-other-model", "fake-third-model"}
    assert all(r["base"] == src["base"] and r["base_is_published"] is False for r in rows.values())
    text = bench.run("drafts").stdout
    assert "(older)" in text and "Made from an older Published" in text
    assert "fake-other-model" in text.split("Made from an older Published", 1)[1]
    status = bench.run("status").stdout
    assert status.count("made from an older Published") == 2

    # publishing another: a conflict whose actions offer the rebase of that Draft; nothing changed
    for label in ("fake-other-model", "fake-third-model"):
        err = bench.json("publish", "--draft", label, code=7)
        assert err["code"] == "publish-conflict" and "older Published" in err["message"]
        assert f"gitbench rebase --draft {label}" in commands(err)
    assert bench.published() == new

    # overlap (both changed src/a.py): refused, listing the path; nothing changed
    third_head = bench.drafts()["fake-third-model"]
    err = bench.json("rebase", "--draft", "fake-third-model", code=7)
    assert err["details"]["paths"] == ["src/a.py"] and "src/a.py" in err["message"]
    assert "src/c.py" not in err["message"]
    assert bench.drafts()["fake-third-model"] == third_head and bench.published() == new

    # no overlap: rebased step by step, each step's message and trailers kept, then it publishes
    old_chain = bench.chain("fake-other-model", src["base"])
    old_messages = [git(bench.path, "log", "-1", "--format=%B", c) for c in old_chain]
    res = bench.json("rebase", "--draft", "fake-other-model")
    assert res["draft"] == DRAFT + "fake-other-model"
    new_chain = bench.chain("fake-other-model", new)
    assert len(new_chain) == len(old_chain) == 1  # other-model changed only b.py, in batch 2
    assert git(bench.path, "rev-parse", f"{new_chain[0]}^").strip() == new
    assert [git(bench.path, "log", "-1", "--format=%B", c) for c in new_chain] == old_messages
    step = bench.steps("fake-other-model", new)[0]
    assert step["Gitbench-Model"] == OTHER and step["Gitbench-Step"] == "2/3 batch"
    assert bench.listing()["fake-other-model"]["base_is_published"] is True
    assert git(bench.path, "diff", "--name-only", "main", DRAFT + "fake-other-model").split() == ["src/b.py"]
    bench.json("publish", "--draft", "fake-other-model")
    assert git(bench.path, "show", "main:src/a.py") == FILES["src/a.py"] + "edited by test-model\n"
    assert git(bench.path, "show", "main:src/b.py") == FILES["src/b.py"] + "edited by other-model\n"
    assert (bench.path / "src/b.py").read_text() == FILES["src/b.py"] + "edited by other-model\n"

    # the overlapping one is discarded with --draft (recoverable), Published untouched
    before = bench.published()
    bench.json("discard", "--draft", "fake-third-model", "--yes")
    assert bench.drafts() == {} and bench.published() == before
    assert third_head in git(bench.path, "for-each-ref", "--format=%(objectname)", "refs/gitbench/trash/")


def snap_drafts(snap: Snapshot) -> dict[str, str]:
    return {ref[len(DRAFT) :]: oid for ref, oid in snap.drafts.items()}


# -- the scorecard -------------------------------------------------------------------------------------------------
def test_compare_scores_each_draft_runs_the_check_in_its_files_and_keeps_the_scorecard_on_the_records_ref(
    bench: Bench,
) -> None:
    src = source_job(bench)
    bench.json("try", OTHER, THIRD)
    snap = Snapshot.take(bench.path)
    check = "! grep -q third-model src/a.py"  # passes in other-model's Draft, fails in third-model's
    card = bench.json("compare", "--check", check, "--draft", "fake-other-model", "--draft", "fake-third-model")
    rows = {r["label"]: r for r in card["drafts"]}
    assert list(rows) == ["fake-other-model", "fake-third-model"] and card["check"] == check
    for label, model in (("fake-other-model", OTHER), ("fake-third-model", THIRD)):
        r = rows[label]
        assert r["model"] == model and r["status"] == "complete" and r["base"] == src["base"]
        assert (r["files"], r["insertions"], r["deletions"], r["steps"], r["attempts"]) == (3, 3, 0, 3, 3)
        assert isinstance(r["tokens"], int) and r["tokens"] > 0 and r["tokens"] == bench.listing()[label]["tokens"]
        assert 0 <= r["seconds"] < 60
    assert rows["fake-other-model"]["check"]["passed"] is True
    assert rows["fake-other-model"]["check"]["exit_code"] == 0
    assert rows["fake-third-model"]["check"]["passed"] is False
    assert rows["fake-third-model"]["check"]["exit_code"] == 1
    # kept on the records ref, readable with plain git
    assert bench.record("scorecards/latest.json") == card
    assert bench.record(f"scorecards/{card['id']}.json") == card
    # the text scorecard: the same rows; the Drafts and Published untouched
    out = bench.run("compare", "--check", check).stdout
    lines = out.splitlines()
    head = next(line for line in lines if line.startswith("label"))
    assert head.split() == ["label", "model", "files", "+/-", "steps", "tokens", "attempts", "time", "status", "check"]
    other = next(line for line in lines if line.startswith("fake-other-model "))
    third = next(line for line in lines if line.startswith("fake-third-model "))
    source = next(line for line in lines if line.startswith(src["id"] + " "))
    assert "+3/-0" in other and "complete" in other and other.rstrip().endswith("passed")
    assert third.rstrip().endswith("failed (1)") and source.rstrip().endswith("failed (1)") is False
    latest = json.loads(git(bench.path, "show", f"{RECORDS}:scorecards/latest.json"))
    assert latest["id"] != card["id"] and f"scorecards/{latest['id']}.json" in out
    assert {d["label"] for d in latest["drafts"]} == {src["id"], "fake-other-model", "fake-third-model"}
    check_invariants(bench.path, snap, published_may_change=False)
    assert bench.drafts() == snap_drafts(snap)


# -- a crash while two attempts run ----------------------------------------------------------------------------------
def test_a_kill_while_two_attempts_run_is_recovered_by_the_next_command_and_both_resume_to_completion(
    bench: Bench,
) -> None:
    write_config(bench.server, read=30)  # the provider hangs; only the kill stops the wait
    src = source_job(bench)
    bench.server.push_for("other-model", ps.ok(by_model), ps.hang(20))
    bench.server.push_for("third-model", ps.ok(by_model), ps.hang(20))
    snap = Snapshot.take(bench.path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", OTHER, THIRD],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            (len(bench.sent(OTHER)) < 2 or len(bench.sent(THIRD)) < 2)
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert len(bench.sent(OTHER)) == 2 and len(bench.sent(THIRD)) == 2, "both attempts must be at batch 2"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    status = bench.run("status")  # the next command recovers (and checks the invariants)
    recovered = [line for line in status.stdout.splitlines() if line.startswith("recovered:")]
    assert len(recovered) == 2 and all("interrupted" in line for line in recovered), status.stdout
    check_invariants(bench.path, snap, published_may_change=False)
    rows = bench.listing()
    jobs = {label: rows[label]["job"] for label in ("fake-other-model", "fake-third-model")}
    assert all(f"gitbench resume {job}" in status.stdout for job in jobs.values())
    for label, job in jobs.items():
        assert rows[label]["status"] == "interrupted" and rows[label]["steps"] == 1
        report = bench.report(job)
        assert report["status"] == "interrupted" and report["last_completed_step"] == 1
        assert report["files_changed"] == ["src/a.py"]
    assert rows[src["id"]]["status"] == "complete"
    for label, model in (("fake-other-model", OTHER), ("fake-third-model", THIRD)):
        resumed = bench.json("resume", jobs[label])
        assert resumed["job"]["status"] == "complete"
        assert bench.sent(model, 2) == [["src/b.py"], ["src/c.py"]]
        steps = bench.steps(label, src["base"])
        assert [s["Gitbench-Step"] for s in steps] == ["1/3 batch", "2/3 batch", "3/3 batch"]
        assert {s["Gitbench-Job"] for s in steps} == {jobs[label]}
        name = model.split(":", 1)[1]
        assert [bench.show(label, p) for p in IN_SCOPE] == [FILES[p] + f"edited by {name}\n" for p in IN_SCOPE]
    check_invariants(bench.path, snap, published_may_change=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_while_attempts_run_cancels_each_after_its_request_in_flight_keeping_its_draft(
    bench: Bench, sig: signal.Signals
) -> None:
    write_config(bench.server, read=30)
    src = source_job(bench)
    for name in ("other-model", "third-model"):  # batch 2 answers late: the signal comes while it is in flight
        bench.server.push_for(name, ps.ok(by_model), ps.slow(1.5))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", OTHER, THIRD],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            (len(bench.sent(OTHER)) < 2 or len(bench.sent(THIRD)) < 2)
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert len(bench.sent(OTHER)) == 2 and len(bench.sent(THIRD)) == 2, "both attempts must be at batch 2"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "stopping every attempt" in out
    check_invariants(bench.path)
    rows = bench.listing()
    why = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    for label, model in (("fake-other-model", OTHER), ("fake-third-model", THIRD)):
        assert f"✗ {label}: The job was cancelled ({why})" in out
        report = bench.report(rows[label]["job"])
        assert report["status"] == "cancelled" and report["class"] == "user-cancel"
        # the batch in flight was answered and kept; no request went out after the signal
        assert report["last_completed_step"] == 2 and len(bench.sent(model)) == 2
        assert [s["Gitbench-Step"] for s in bench.steps(label, src["base"])] == ["1/3 batch", "2/3 batch"]
        resumed = bench.json("resume", rows[label]["job"])
        assert resumed["job"]["status"] == "complete" and bench.sent(model, 2) == [["src/c.py"]]
    assert bench.published() == src["base"]


def test_a_second_ctrl_c_ends_gitbench_at_once_and_the_next_command_marks_the_attempts_interrupted(
    bench: Bench,
) -> None:
    write_config(bench.server, read=30)
    src = source_job(bench)
    for name in ("other-model", "third-model"):  # batch 2 is in flight for 15 s: the second Ctrl-C does not wait
        bench.server.push_for(name, ps.ok(by_model), ps.slow(15))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", OTHER, THIRD],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            (len(bench.sent(OTHER)) < 2 or len(bench.sent(THIRD)) < 2)
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert len(bench.sent(OTHER)) == 2 and len(bench.sent(THIRD)) == 2, "both attempts must be at batch 2"
        proc.send_signal(signal.SIGINT)
        time.sleep(1)  # the first is taken: every attempt is told to stop after its request in flight
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        again = time.monotonic()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - again < 10, "it waited for the requests in flight"
    assert proc.returncode == -signal.SIGINT, out + err  # ended by the signal, as a kill would end it
    assert "Traceback" not in out + err
    rows = bench.listing()  # the next command finds the attempts' journal entry: each is interrupted
    for label in ("fake-other-model", "fake-third-model"):
        report = bench.report(rows[label]["job"])
        assert report["status"] == "interrupted" and report["last_completed_step"] == 1
    check_invariants(bench.path)
    assert bench.published() == src["base"]


def test_max_parallel_bounds_the_attempts_running_at_once_and_a_cancel_stops_those_still_waiting(bench: Bench) -> None:
    write_config(bench.server, read=30)
    src = source_job(bench)
    res = bench.json("try", OTHER, THIRD, "--max-parallel", "1", "--label", "one", "--label", "two")
    assert all(r["ok"] for r in res)
    times = {
        m: [p["time"] for p in bench.server.posts if p["body"].get("model") == m.split(":")[1]] for m in (OTHER, THIRD)
    }
    assert max(times[OTHER]) < min(times[THIRD]) or max(times[THIRD]) < min(times[OTHER]), "they overlapped"
    # one at a time, a Ctrl-C during the first: it stops after its request in flight, the second never starts
    bench.server.push_for("other-model", ps.ok(by_model), ps.slow(1.5))
    bench.server.push_for("third-model", ps.ok(by_model), ps.slow(1.5))
    posts = len(bench.server.posts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", OTHER, THIRD, "--max-parallel", "1"],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(bench.server.posts) < posts + 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    first = bench.server.posts[posts]["body"]["model"]
    assert [p["body"]["model"] for p in bench.server.posts[posts:]] == [first, first]
    rows = bench.listing()
    ran, waited = (
        ("fake-other-model", "fake-third-model") if first == "other-model" else ("fake-third-model", "fake-other-model")
    )
    assert rows[ran]["status"] == rows[waited]["status"] == "cancelled"
    assert rows[ran]["steps"] == 2 and rows[waited]["steps"] == 0
    assert "before it started" in bench.report(rows[waited]["job"])["reason"]
    resumed = bench.json("resume", rows[waited]["job"])
    assert resumed["job"]["status"] == "complete" and len(bench.chain(waited, src["base"])) == 3


# -- ask --on-draft continue | fork; what an open Draft blocks -------------------------------------------------------
def test_ask_on_draft_continue_adds_steps_to_the_open_draft_and_fork_makes_a_new_one_beside_it(bench: Bench) -> None:
    src = source_job(bench)
    s = src["id"]
    first = bench.drafts()[s]
    # without a choice, a Workshop job offers continue / fork / discard
    err = bench.ask(code=4)
    assert err["code"] == "draft-open"
    assert any("--on-draft continue" in c for c in commands(err))
    assert any("--on-draft fork" in c for c in commands(err))
    # continue: the new job's steps go on the open Draft, on top of the first job's
    cont = bench.ask("--on-draft", "continue")
    job = cont["job"]["id"]
    assert job != s and cont["job"]["draft"] == DRAFT + s and set(bench.drafts()) == {s}
    steps = bench.steps(s, src["base"])
    assert [st["Gitbench-Job"] for st in steps] == [s] * 3 + [job] * 3
    assert first in git(bench.path, "rev-list", "--first-parent", DRAFT + s).split()
    assert bench.show(s, "src/a.py") == FILES["src/a.py"] + "edited by test-model\n" * 2
    row = bench.listing()[s]
    assert row["steps"] == 6 and row["base"] == src["base"] and row["base_is_published"] is True
    # continue where the model changes nothing: nothing is lost, the Draft is as it was
    head = bench.drafts()[s]
    bench.server.push(*[ps.ok(lambda files, request: {"summary": "Nothing to do.", "edits": []})] * 3)
    same = bench.ask("--on-draft", "continue")
    assert same["job"]["status"] == "no-changes" and "no Draft was kept" not in same["summary"]
    assert bench.drafts() == {s: head}
    # fork: a new Draft beside the open one, from Published
    fork = bench.ask("--on-draft", "fork")
    label = fork["job"]["id"]
    assert set(bench.drafts()) == {s, label} and bench.drafts()[s] == head
    assert len(bench.chain(label, src["base"])) == 3
    # with two open, continue does not guess which one; --draft names it
    err = bench.ask("--on-draft", "continue", code=4)
    assert err["code"] == "draft-ambiguous" and sorted(err["details"]["drafts"]) == sorted([s, label])
    onto = bench.ask("--on-draft", "continue", "--draft", label)
    assert onto["job"]["draft"] == DRAFT + label and len(bench.chain(label, src["base"])) == 6
    assert bench.drafts()[s] == head
    assert bench.published() == src["base"]
    # publishing a Draft takes every job on it out with it: the one that made it and the one that continued it
    bench.json("publish", "--draft", label)
    assert bench.record(f"jobs/{label}.json")["status"] == "published"
    assert bench.record(f"jobs/{onto['job']['id']}.json")["status"] == "published"
    # and discarding one discards the jobs that continued it
    bench.json("discard", "--draft", s, "--yes")
    assert bench.record(f"jobs/{job}.json")["status"] == "discarded"


def test_continuing_an_attempts_draft_keeps_its_base_and_maker_and_resume_picks_the_job_that_stopped(
    bench: Bench,
) -> None:
    src = source_job(bench)
    bench.json("try", OTHER)
    bench.json("discard", "--draft", src["id"], "--yes")
    made = bench.listing()["fake-other-model"]
    # a job continuing the attempt's Draft fails at its 2nd batch; its first batch is on the Draft
    bench.server.push_for("test-model", ps.ok(by_model), *[ps.status(500)] * 3)
    err = bench.ask("--on-draft", "continue", code=21)
    cont = err["details"]["job"]
    assert err["details"]["draft"] == DRAFT + "fake-other-model"
    row = bench.listing()["fake-other-model"]
    assert (row["job"], row["model"], row["base"]) == (made["job"], OTHER, src["base"])
    assert row["base_is_published"] is True and row["steps"] == 4
    # `gitbench resume` with no job named resumes the job that stopped on the open Draft
    resumed = bench.json("resume")
    assert resumed["job"]["id"] == cont and resumed["job"]["status"] == "complete"
    steps = bench.steps("fake-other-model", src["base"])
    assert [s["Gitbench-Job"] for s in steps] == [made["job"]] * 3 + [cont] * 3
    assert [s["Gitbench-Model"] for s in steps] == [OTHER] * 3 + [SOURCE] * 3
    # made from Published, it publishes as it is
    bench.json("publish")
    assert (
        git(bench.path, "show", "main:src/a.py") == FILES["src/a.py"] + "edited by other-model\nedited by test-model\n"
    )
    assert bench.drafts() == {}


def test_file_operations_and_restore_are_refused_while_any_draft_is_open_naming_every_one(bench: Bench) -> None:
    src = source_job(bench)
    bench.json("try", OTHER)
    labels = sorted([src["id"], "fake-other-model"])
    snap = Snapshot.take(bench.path)
    (bench.path / "notes.txt").write_text("mine\n")
    for args in (["add", "notes.txt"], ["rm", "README.md"], ["restore", nth_checkpoint(bench.path, 1), "--yes"]):
        err = bench.json(*args, code=4)
        assert err["code"] == "draft-open", err
        assert sorted(err["details"]["drafts"]) == labels
        assert all(label in err["message"] for label in labels)
        assert "gitbench drafts" in commands(err)
    check_invariants(bench.path, snap, published_may_change=False, allow_local_edits=True)
    assert bench.drafts() == snap_drafts(snap)
    assert git(bench.path, "tag", "-l", "checkpoint/*").split() == [
        ref[len("refs/tags/") :] for ref in snap.checkpoints
    ]


@pytest.mark.slow  # several model jobs through the CLI, then the app: ~12 s on a loaded 2-core machine
def test_publishing_an_attempts_draft_shows_inline_in_the_conversation_with_its_restore_in_chat_and_the_tui(
    bench: Bench,
) -> None:
    from textual.widgets import Button, Static

    from gitbench.tui.app import GitbenchApp
    from tests.test_tui import drive, press

    src = source_job(bench)
    bench.json("try", OTHER)
    attempt = bench.listing()["fake-other-model"]["job"]
    published = bench.json("publish", "--draft", "fake-other-model")
    cp = published["checkpoints"][-1]
    bench.json("discard", "--draft", src["id"], "--yes")  # no Draft open: Restore is offered

    data = bench.json("chat")
    kinds = [(i["type"], i.get("role"), i.get("name")) for i in data["items"]]
    assert kinds == [("message", "user", None), ("message", "assistant", None), ("checkpoint", None, cp)]
    item = data["items"][2]
    assert item["job"] == attempt and item["restore"] == f"gitbench restore {cp}"
    text = bench.run("chat", env={"COLUMNS": "300"}).stdout
    assert f"{cp} published" in text and f"restore: gitbench restore {cp}" in text

    async def scenario(app: GitbenchApp, pilot: Any) -> None:
        await press(pilot, "w")
        row = app.query_one("#chat-2")
        assert f"{cp} published (" in str(row.query_one(".checkpoint-text", Static).content)
        assert not app.query_one("#restore-" + cp.replace("/", "-"), Button).disabled

    drive(bench.path, scenario)
