"""Issue 14: the workflow engine says what is true (seed 004), end to end through the real CLI.

The engine snapshot holds the definition it runs; a corrupted metadata file is an ``error`` whatever the caches
hold; a dead process's claim is ``interrupted``; ``module-runner --wait`` fails when its time is up; an approval
covers the inputs it saw; an outdated module names the changed file and the module it reached first (``status
--why``); a command that runs a file it does not list among its ``inputs`` is told so.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import git, gitbench
from tests.workflow_helpers import draft_ref, line_of, module_runner, runs, state, status_json, workflow_bench

PY = sys.executable


def chain_workflow(log: Path) -> str:
    """a reads in.txt; b needs a; c needs b; d needs c: a chain of four."""
    return textwrap.dedent(f"""\
        modules:
          - id: a
            run: {{command: 'echo a >> {log}; cat in.txt > out/a.txt'}}
            inputs: [in.txt]
            outputs: [out/a.txt]
          - id: b
            needs: [a]
            run: {{command: 'echo b >> {log}; cat out/a.txt > out/b.txt'}}
            outputs: [out/b.txt]
          - id: c
            needs: [b]
            run: {{command: 'echo c >> {log}; cat out/b.txt > out/c.txt'}}
            outputs: [out/c.txt]
          - id: d
            needs: [c]
            run: {{command: 'echo d >> {log}; cat out/c.txt > out/d.txt'}}
            outputs: [out/d.txt]
        """)


def commit_on_draft(wb: Path, files: dict[str, str], message: str = "edit by hand") -> str:
    """Commit ``files`` onto the Draft with plain Git plumbing (another tool, or an operator with git)."""
    draft = draft_ref(wb)
    index = wb / ".git" / "tmp-index"
    env = {"GIT_INDEX_FILE": str(index)}
    git(wb, "read-tree", draft, env=env)
    for path, text in files.items():
        blob = _blob(wb, text)
        git(wb, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = git(wb, "write-tree", env=env).strip()
    index.unlink()
    head = git(wb, "rev-parse", draft).strip()
    commit = git(wb, "commit-tree", tree, "-p", head, "-m", message).strip()
    git(wb, "update-ref", draft, commit, head)
    return commit


def _blob(wb: Path, text: str) -> str:
    import subprocess

    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=wb, input=text, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_engine_snapshot_holds_the_workflow_definition_it_runs(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(tmp_path / "p", chain_workflow(log), {"in.txt": "one\n"})
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    held = state(wb)["workflow"]
    assert held["path"] == ".gitbench/workflow.yaml"
    assert held["blob"] == git(wb, "rev-parse", "main:.gitbench/workflow.yaml").strip()
    definition = held["definition"]
    assert definition["order"] == ["a", "b", "c", "d"]
    assert definition["max_parallel"] == 2  # the default, resolved
    mods = {m["id"]: m for m in definition["modules"]}
    assert mods["b"]["needs"] == ["a"] and mods["a"]["inputs"] == ["in.txt"] and mods["a"]["version"] == "1"
    assert mods["a"]["run"]["command"].endswith("cat in.txt > out/a.txt")
    # Its own file, written when it changes: deleted (or lost to a crash before state.json named it), the next run
    # writes it again though the workflow file did not change.
    (wb / ".git/gitbench/workflow/engine/definition.json").unlink()
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr
    assert state(wb)["workflow"] == held


def test_a_skip_made_while_the_run_publishes_the_open_draft_is_kept(tmp_path: Path) -> None:
    # `workflow run --on-draft publish` publishes the open Draft first, and the Workbench lock is let go while its
    # publish check runs: a `workflow skip` made then (here by the check itself) must not be lost to what the run
    # had read before.
    workflow = textwrap.dedent("""\
        modules:
          - {id: a, outputs: [out/a.txt], run: {command: 'echo a > out/a.txt'}}
          - {id: extra, optional: true, outputs: [out/x.txt], run: {command: 'echo x > out/x.txt'}}
        """)
    check = f'[publish]\ncheck = "{PY} -m gitbench workflow skip extra"\n'
    wb = workflow_bench(tmp_path / "p", workflow, {".gitbench/config.toml": check})
    res = gitbench(wb, "exec", "--", "sh", "-c", "echo hi > note.txt")
    assert res.returncode == 0, res.stderr
    res = gitbench(wb, "workflow", "run", "--on-draft", "publish")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (wb / "note.txt").read_text() == "hi\n"  # the open Draft was published, its check run
    assert state(wb)["skipped"] == ["extra"]
    assert "extra: running" not in res.stdout
    assert git(wb, "ls-tree", "-r", "--name-only", draft_ref(wb)).split().count("out/x.txt") == 0


def test_a_claim_whose_process_died_shows_as_interrupted_until_resume(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(tmp_path / "p", chain_workflow(log), {"in.txt": "one\n"})
    res = gitbench(wb, "workflow", "run", env={"GITBENCH_FAULT": "workflow.after-claim:kill"})
    assert res.returncode != 0  # killed right after it claimed a
    assert state(wb)["running"]["a"]["status"] == "running"  # the dead process's claim, as it left it

    for _ in range(2):  # the second time from the status caches: they cannot vouch for a dead claim either
        res = gitbench(wb, "workflow", "status")
        assert res.returncode == 0, res.stderr
        first = res.stdout.splitlines()[0]
        assert first.startswith("Status: interrupted · a"), res.stdout
        assert "run `gitbench workflow resume`" in first
        assert "Status: running" not in res.stdout
        line = line_of(res.stdout, "a")
        assert " interrupted " in line and "run `gitbench workflow resume`" in line
        banner, modules = status_json(wb)
        assert modules["a"]["state"] == "interrupted" and banner == first

    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0, res.stderr
    banner, modules = status_json(wb)
    assert banner == "Status: complete" and state(wb)["running"] == {}
    assert runs(log) == ["a", "b", "c", "d"]


def test_a_command_that_runs_a_file_missing_from_its_inputs_is_told_so(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "p",
        textwrap.dedent(f"""\
        modules:
          - id: build
            run: {{command: '"{PY}" tools/x.py'}}
            inputs: [src/*.txt]
            outputs: [out/build.txt]
        """),
        {"src/a.txt": "a\n", "tools/x.py": "open('out/build.txt', 'w').write('built')\n"},
    )
    res = gitbench(wb, "workflow", "run")
    assert res.returncode != 0
    banner, modules = status_json(wb)
    error = modules["build"]["last_run"]["error"]
    assert "can't open file" in error  # the interpreter's own words stay
    assert (
        "tools/x.py is in the Workbench but not an input of module build, so not in its folder: "
        "add tools/x.py to its `inputs` in .gitbench/workflow.yaml"
    ) in error
    assert "tools/x.py is in the Workbench but not an input of module build" in res.stderr + res.stdout
    # Listed among its inputs, it runs.
    assert gitbench(wb, "discard", "--yes").returncode == 0
    (wb / ".gitbench/workflow.yaml").write_text(
        (wb / ".gitbench/workflow.yaml").read_text().replace("inputs: [src/*.txt]", "inputs: [src/*.txt, tools/x.py]")
    )
    git(wb, "commit", "-qam", "list the script")
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stderr + res.stdout


def test_module_runner_wait_fails_when_its_time_is_up_and_prints_the_state_once(tmp_path: Path) -> None:
    wb = workflow_bench(
        tmp_path / "p",
        textwrap.dedent("""\
        modules:
          - id: sign-off
            inputs: {input: "the reviewers' sign-off"}
            outputs: [review/sign-off.md]
        """),
    )
    res = module_runner(wb, "--module", "sign-off", "--wait", "3")
    out = res.stdout + res.stderr
    assert res.returncode == 26, out  # input-timeout (docs/errors.md)
    assert "error: input-timeout (exit 26)" in res.stderr
    assert "sign-off still waits for its input after 3 s: review/sign-off.md did not appear" in " ".join(
        res.stderr.replace("│", " ").split()
    )
    # The state once, then progress: not the run's lines again at every poll.
    assert out.count("sign-off: needs input") == 1, out
    assert out.count("Waiting for sign-off outputs") == 1, out
    assert len(res.stderr.splitlines()) < 20, res.stderr
    # JSON: the same error for a script.
    res = module_runner(wb, "--module", "sign-off", "--wait", "1", "--json")
    assert res.returncode == 26
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "input-timeout" and "review/sign-off.md" in err["message"]


def test_corrupted_metadata_is_an_error_naming_the_file_and_the_parse_problem_whatever_the_caches_hold(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(tmp_path / "p", chain_workflow(log), {"in.txt": "one\n"})
    assert gitbench(wb, "workflow", "run").returncode == 0
    draft = draft_ref(wb)
    good = git(wb, "show", f"{draft}:.gitbench/meta/b.json")
    # The caches know the good file (its parsed metadata, the status of this tree); then an input changes and
    # the metadata is corrupted (cut off half-way) in the same commit.
    assert status_json(wb)[0] == "Status: complete"
    commit_on_draft(wb, {"in.txt": "two\n", ".gitbench/meta/b.json": good[: len(good) // 2]})
    cache = wb / ".git" / "gitbench" / "workflow" / "cache"
    for attempt in ("from the caches", "from scratch"):
        if attempt == "from scratch":
            for f in cache.iterdir():
                f.unlink()
        banner, modules = status_json(wb)
        [artifact] = modules["b"]["artifacts"]
        assert artifact["klass"] == "error", (attempt, artifact)
        assert artifact["reason"].startswith("the metadata .gitbench/meta/b.json cannot be parsed: "), artifact
        assert "line" in artifact["reason"] and "column" in artifact["reason"]  # where the parse failed
        res = gitbench(wb, "workflow", "status")
        assert "out/b.txt=error" in line_of(res.stdout, "b")
        assert "cannot be parsed" in line_of(res.stdout, "b")


@pytest.mark.slow
def test_an_outdated_module_names_the_changed_file_and_the_module_it_reached_first_and_why_shows_the_chain(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(tmp_path / "p", chain_workflow(log), {"in.txt": "one\n"})
    assert gitbench(wb, "workflow", "run").returncode == 0
    meta = json.loads(git(wb, "show", f"{draft_ref(wb)}:.gitbench/meta/b.json"))
    assert meta["inputs"] == {"out/a.txt": git(wb, "rev-parse", f"{draft_ref(wb)}:out/a.txt").strip()}
    commit_on_draft(wb, {"in.txt": "two\n"})

    for attempt in ("after the change", "from scratch"):
        if attempt == "from scratch":
            for f in (wb / ".git" / "gitbench" / "workflow" / "cache").iterdir():
                f.unlink()
        banner, modules = status_json(wb)
        [a] = modules["a"]["artifacts"]
        assert a["klass"] == "outdated" and a["reason"] == "inputs changed: in.txt (fingerprint mismatch)"
        for mid, up in (("b", "a"), ("c", "b"), ("d", "c")):  # every descendant names the file and the root
            [art] = modules[mid]["artifacts"]
            assert art["reason"] == f"upstream {up} is not up to date: in.txt changed, an input of a", (attempt, art)
            assert modules[mid]["cause"] == {"files": ["in.txt"], "module": "a", "what": "inputs changed: in.txt"}
    res = gitbench(wb, "workflow", "status")
    assert "in.txt changed, an input of a" in line_of(res.stdout, "d")

    res = gitbench(wb, "workflow", "status", "--why", "d")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Why d is not up to date: in.txt changed, an input of a"
    assert lines[1].split() == ["in.txt", "changed"]
    assert [line.split()[1] for line in lines[2:6]] == ["a", "b", "c", "d"]  # the chain, file to d
    assert all(line.lstrip().startswith("→") for line in lines[2:6])
    doc = json.loads(gitbench(wb, "workflow", "status", "--why", "c", "--json").stdout)["result"]
    assert [c["id"] for c in doc["chain"]] == ["a", "b", "c"] and doc["cause"]["files"] == ["in.txt"]
    res = gitbench(wb, "workflow", "status", "--why", "nope")
    assert res.returncode == 2 and "no module 'nope'" in res.stderr

    assert gitbench(wb, "workflow", "resume").returncode == 0
    assert runs(log) == ["a", "b", "c", "d"] * 2
    res = gitbench(wb, "workflow", "status", "--why", "d")
    assert res.returncode == 0 and "d is complete" in res.stdout


@pytest.mark.slow
def test_an_approval_covers_the_inputs_it_saw_and_new_inputs_need_a_new_one(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    wb = workflow_bench(
        tmp_path / "p",
        textwrap.dedent(f"""\
        modules:
          - id: deploy
            gate: true
            run: {{command: 'echo deploy >> {log}; cat in.txt > out/deploy.txt'}}
            inputs: [in.txt]
            outputs: [out/deploy.txt]
        """),
        {"in.txt": "one\n"},
    )
    assert gitbench(wb, "workflow", "run").returncode == 0 and runs(log) == []
    res = gitbench(wb, "workflow", "approve", "deploy")
    assert "approved for its current inputs" in res.stdout
    gate = state(wb)["gates"]["deploy"]
    assert gate["approved"] is True and gate["inputs"] == {"in.txt": git(wb, "rev-parse", "main:in.txt").strip()}
    assert gitbench(wb, "workflow", "resume").returncode == 0 and runs(log) == ["deploy"]

    # New inputs: the approval does not carry over; status says why the gate waits again.
    commit_on_draft(wb, {"in.txt": "two\n"})
    banner, modules = status_json(wb)
    assert modules["deploy"]["state"] == "ready"
    assert modules["deploy"]["skip"].startswith("manual-gate: approved for other inputs")
    res = gitbench(wb, "workflow", "status")
    assert "skipped:manual-gate: approved for other inputs" in line_of(res.stdout, "deploy")
    assert "gitbench workflow approve deploy" in line_of(res.stdout, "deploy")
    res = gitbench(wb, "workflow", "status", "--why", "deploy")
    assert "deploy's gate was approved for other inputs: in.txt changed since the approval" in res.stdout
    res = gitbench(wb, "workflow", "resume")
    assert res.returncode == 0 and runs(log) == ["deploy"], res.stdout  # not run on inputs nobody approved
    assert "manual-gate: approved for other inputs" in res.stdout
    # Approved again, for these inputs: it runs.
    assert gitbench(wb, "workflow", "approve", "deploy").returncode == 0
    assert gitbench(wb, "workflow", "resume").returncode == 0 and runs(log) == ["deploy", "deploy"]
    assert git(wb, "show", f"{draft_ref(wb)}:out/deploy.txt") == "two\n"


def test_module_runner_wait_on_a_terminal_updates_one_line(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import subprocess

    from tests.workflow_helpers import MODULE_RUNNER

    wb = workflow_bench(
        tmp_path / "p",
        "modules:\n  - {id: token, inputs: {input: an API token}, outputs: [secrets/token.txt]}\n",
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [MODULE_RUNNER, "--project", str(wb), "--module", "token", "--wait", "2"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**{k: v for k, v in os.environ.items() if k != "CI"}, "TERM": "xterm", "NO_COLOR": "1"},
        start_new_session=True,
    )
    os.close(slave)
    raw = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    assert proc.wait(timeout=60) == 26
    os.close(master)
    text = raw.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    waiting = [line for line in lines if "Waiting for token outputs" in line]
    assert len(waiting) == 2, text  # the first line, then one line redrawn in place ("\r") with the time left
    assert "s left" in waiting[1] and waiting[1].count("\r") >= 1, text
    assert text.count("token: needs input") == 1, text
