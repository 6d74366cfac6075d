"""gitbench/services/attempts.py in-process, on a real Workbench against the scripted provider on 127.0.0.1:
what `try`, `drafts`, `compare` and `rebase` refuse before anything starts, and what they leave behind when
they stop part way (tests/test_try_drafts.py has the everyday runs, through the real CLI)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.services import ask, attempts, drafts, edits
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Attempts
from tests.conftest import check_invariants, git, gitbench, make_project, run_job
from tests.provider_server import ProviderServer, config_toml

FILES = {"README.md": "# project\n", "src/a.py": "A = 1\n", "src/b.py": "B = 2\n"}
DRAFT = "refs/heads/gitbench/draft/"
RECORDS = "refs/gitbench/records"


@pytest.fixture
def wb_path(tmp_path: Path, provider: ProviderServer) -> Iterator[Path]:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.write_text(config_toml(provider, job={"batch_files": 1}))
    project = make_project(tmp_path / "wb", FILES)
    assert gitbench(project, "init").returncode == 0
    yield project
    check_invariants(project)


def opened(path: Path) -> Workbench:
    return Workbench(str(path))


def draft_refs(path: Path) -> dict[str, str]:
    out = git(path, "for-each-ref", "--format=%(refname) %(objectname)", DRAFT)
    return dict(line.split() for line in out.splitlines())


def source(path: Path) -> str:
    """A Workshop job (`gitbench ask`) to try again; its id."""
    res = ask.ask(opened(path), "Add a line to each file", ["src/**"])
    assert res.job is not None and res.job.status == "complete"
    return res.job.id


def refused(call: object, *args: object, **kwargs: object) -> errors.GitbenchError:
    with pytest.raises(errors.GitbenchError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


def test_try_refuses_bad_arguments_and_a_missing_or_wrong_job_before_anything_starts(wb_path: Path) -> None:
    wb = opened(wb_path)
    assert refused(attempts.try_models, wb, []).message.startswith("Name at least one model to try")
    err = refused(attempts.try_models, wb, ["fake:other-model"], labels=["a", "b"])
    assert err.message == "2 --label for 1 model(s): give one label per model."
    assert refused(attempts.try_models, wb, ["fake:other-model"], max_parallel=0).message == (
        "--max-parallel must be 1 or more."
    )
    err = refused(attempts.try_models, wb, ["fake:other-model"])
    assert isinstance(err, errors.UsageError)
    assert err.message.startswith("There is no Workshop job to try again: run one with `gitbench ask` first.")
    assert [a.command for a in err.actions] == ["gitbench ask \"...\" --files 'GLOB'"]

    ref, _ = run_job(wb_path, "import pathlib; pathlib.Path('src/a.py').write_text('A = 3\\n')")
    exec_job = ref.rsplit("/", 1)[1]
    err = refused(attempts.try_models, opened(wb_path), ["fake:other-model"], job_id=exec_job)
    assert err.message == (
        f"Job {exec_job} is a exec job; only Workshop jobs (`gitbench ask`) can be tried with another model."
    )
    assert list(draft_refs(wb_path)) == [ref]  # nothing was started
    assert wb.journal.read() is None


def test_try_refuses_a_bad_label_and_a_source_job_without_its_prompt_or_its_base(wb_path: Path) -> None:
    job_id = source(wb_path)
    wb = opened(wb_path)
    before = draft_refs(wb_path)
    err = refused(attempts.try_models, wb, ["fake:other-model"], labels=["-dash"])
    assert err.message.startswith("Bad --label '-dash': use letters, digits")
    for bad in ("a..b", "x.lock"):
        assert refused(attempts.try_models, wb, ["fake:other-model"], labels=[bad]).message.startswith("Bad --label")

    # A record of the job whose base commit is gone (a gc of a rewritten history, say).
    job = drafts.require_job(wb, job_id)
    real_base = job.base
    job.base = "0" * 40
    drafts.save_job(wb, job, note="test: base gone")
    err = refused(attempts.try_models, opened(wb_path), ["fake:other-model"])
    assert err.message == f"The base of job {job_id} (000000000000) is gone from the repository."
    job.base = real_base
    drafts.save_job(wb, job, note="test: base back")

    # The conversation records lost the prompt (as a restore of older records would): a later records commit
    # without the chat file.
    chat_files = git(wb_path, "ls-tree", "-r", "--name-only", RECORDS, "chat/").split()
    assert chat_files
    env = {"GIT_INDEX_FILE": str(wb_path / ".git" / "test-index")}
    git(wb_path, "read-tree", RECORDS, env=env)
    git(wb_path, "rm", "-q", "--cached", *chat_files, env=env)
    tree = git(wb_path, "write-tree", env=env).strip()
    old = git(wb_path, "rev-parse", RECORDS).strip()
    new = git(wb_path, "commit-tree", tree, "-p", old, "-m", "records without the chat").strip()
    git(wb_path, "update-ref", RECORDS, new, old)
    os.unlink(env["GIT_INDEX_FILE"])
    err = refused(attempts.try_models, opened(wb_path), ["fake:other-model"])
    assert err.message.startswith(f"The prompt of job {job_id} is not in the conversation records")
    assert draft_refs(wb_path) == before


def test_try_refuses_to_send_every_file_of_a_job_that_ran_without_files(
    wb_path: Path, provider: ProviderServer
) -> None:
    agent = wb_path.parent / "agent.py"
    agent.write_text("import pathlib\npathlib.Path('src/a.py').write_text('A = 42\\n')\n")
    res = ask.ask(opened(wb_path), "Set A", [], model=f"command:{sys.executable} {agent}")
    assert res.job is not None and res.job.scope == [] and res.job.kind == "ask"
    before = draft_refs(wb_path)
    err = refused(attempts.try_models, opened(wb_path), ["fake:other-model"])
    assert err.message == (
        f"Job {res.job.id} ran without --files, so fake:other-model would be sent every file of the Workbench. "
        "Nothing was sent."
    )
    assert draft_refs(wb_path) == before and provider.posts == []
    # The same job with another command agent: tried (a command is sent no file), into a Draft of its own.
    other = wb_path.parent / "other.py"
    other.write_text("import pathlib\npathlib.Path('src/b.py').write_text('B = 43\\n')\n")
    [result] = attempts.try_models(opened(wb_path), [f"command:{sys.executable} {other}"], labels=["other"])
    assert isinstance(result, errors.GitbenchError) is False
    assert git(wb_path, "show", f"{DRAFT}other:src/b.py") == "B = 43\n"
    assert git(wb_path, "show", f"{DRAFT}other:src/a.py") == "A = 1\n"  # from the source job's base


def test_an_attempt_that_crashes_fails_its_job_and_the_error_is_raised_once_the_others_end(
    wb_path: Path, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    source(wb_path)
    real_plan = edits.plan

    def crash_for_third(raw: object, *args: object) -> object:
        if "by test-model" in str(raw):  # the second attempt's answers
            raise RuntimeError("a bug in the edit planner")
        return real_plan(raw, *args)  # type: ignore[arg-type]

    def answer(files: dict[str, str], request: dict[str, object]) -> dict[str, object]:
        name = request.get("model")
        return {
            "summary": "ok",
            "edits": [{"op": "write", "path": p, "content": f"{t}by {name}\n"} for p, t in files.items()],
        }

    provider.default = answer
    monkeypatch.setattr(edits, "plan", crash_for_third)
    with pytest.raises(RuntimeError, match="a bug in the edit planner"):
        attempts.try_models(
            opened(wb_path), ["fake:other-model", "fake:test-model"], labels=["fine", "third"], max_parallel=2
        )
    monkeypatch.undo()
    wb = opened(wb_path)
    rows = {r["label"]: r for r in attempts.listing(wb)}
    assert rows["fine"]["status"] == "complete"
    failed = drafts.require_job(wb, rows["third"]["job"])
    assert failed.status == "failed" and failed.error is not None
    assert "RuntimeError: a bug in the edit planner" in str(failed.error)
    # As after a crash: the journal stays; the next command settles it, and each attempt keeps what it ended as.
    entry = wb.journal.read()
    assert isinstance(entry, Attempts) and set(entry.jobs) == {rows["fine"]["job"], failed.id}
    res = gitbench(wb_path, "status", "--json")
    assert res.returncode == 0, res.stderr
    assert opened(wb_path).journal.read() is None
    after = opened(wb_path)
    assert drafts.require_job(after, rows["fine"]["job"]).status == "complete"
    assert drafts.require_job(after, failed.id).status == "failed"


def test_drafts_lists_a_corrupt_draft_beside_the_others_and_says_why(wb_path: Path) -> None:
    ref, head = run_job(wb_path, "import pathlib; pathlib.Path('src/a.py').write_text('A = 5\\n')")
    broken = wb_path / ".git" / "refs" / "heads" / "gitbench" / "draft" / "broken"
    broken.write_text("1234567890123456789012345678901234567890\n")  # a ref to an object the repository lacks
    try:
        rows = {r["label"]: r for r in attempts.listing(opened(wb_path))}
        assert rows["broken"]["status"] == "corrupt"
        assert "its branch does not point at a readable commit" in rows["broken"]["problem"]
        good = rows[ref.rsplit("/", 1)[1]]
        assert good["status"] != "corrupt" and good["files"] == 1 and good["base_is_published"] is True
    finally:
        broken.unlink()
    assert git(wb_path, "rev-parse", ref).strip() == head


def test_compare_refuses_contradicting_options_and_says_when_no_draft_is_open(wb_path: Path) -> None:
    wb = opened(wb_path)
    records = git(wb_path, "rev-parse", RECORDS).strip()
    err = refused(attempts.compare, wb, check="true", no_check=True)
    assert err.message == "--check and --no-check contradict each other: give one of them."
    err = refused(attempts.compare, wb)
    assert isinstance(err, errors.NoDraft) and err.message == "There is no open Draft."
    assert git(wb_path, "rev-parse", RECORDS).strip() == records  # no scorecard was kept


def test_a_compare_check_stopped_by_sigterm_keeps_no_scorecard_and_leaves_the_drafts(wb_path: Path) -> None:
    ref, head = run_job(wb_path, "import pathlib; pathlib.Path('src/a.py').write_text('A = 6\\n')")
    records = git(wb_path, "rev-parse", RECORDS).strip()
    # The check's shell is this process's child: its SIGTERM to us is gitbench told to stop.
    with pytest.raises(errors.Cancelled) as info:
        attempts.compare(opened(wb_path), check="sleep 0.5; kill -TERM $PPID; sleep 30", timeout=60)
    assert info.value.message == "The checks were cancelled (SIGTERM); no scorecard was kept."
    assert git(wb_path, "rev-parse", RECORDS).strip() == records
    assert git(wb_path, "rev-parse", ref).strip() == head
    assert git(wb_path, "worktree", "list", "--porcelain").count("worktree ") <= 2  # the check's is gone


def test_rebase_has_nothing_to_do_on_the_current_published_and_puts_the_draft_on_a_published_rewritten(
    wb_path: Path,
) -> None:
    ref, head = run_job(wb_path, "import pathlib; pathlib.Path('src/a.py').write_text('A = 7\\n')")
    label = ref.rsplit("/", 1)[1]
    res = attempts.rebase(opened(wb_path), label)
    assert res.summary == f"The Draft {label} is already made from Published; nothing to do."
    assert git(wb_path, "rev-parse", ref).strip() == head

    published = git(wb_path, "rev-parse", "main").strip()
    tree = git(wb_path, "rev-parse", "main^{tree}").strip()
    other = git(wb_path, "commit-tree", tree, "-m", "a history rewritten elsewhere").strip()
    # Moved past gitbench's hook (a user's `git -c core.hooksPath=/dev/null reset`, say): not a later version of
    # the Draft's base, as after a restore; the Draft's own changes still go on top of it.
    git(wb_path, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", other, published)
    try:
        res = attempts.rebase(opened(wb_path), label)
        assert res.summary.startswith(f"Rebased the Draft {label} onto Published ({other[:12]}): 1 step(s)")
        assert git(wb_path, "rev-parse", f"{ref}~1").strip() == other
        assert git(wb_path, "show", f"{ref}:src/a.py") == "A = 7\n"
    finally:
        git(wb_path, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", published, other)


def test_rebase_moves_every_job_on_the_draft_onto_the_commit_its_start_became(
    wb_path: Path, provider: ProviderServer
) -> None:
    def only_mine(files: dict[str, str], request: dict[str, object]) -> dict[str, object]:
        mine = "src/a.py" if request.get("model") == "test-model" else "src/b.py"
        return {
            "summary": f"{request.get('model')} edited {mine}",
            "edits": [
                {"op": "write", "path": p, "content": f"{t}# {request.get('model')}\n"}
                for p, t in files.items()
                if p == mine
            ],
        }

    provider.default = only_mine
    src = source(wb_path)
    [tried] = attempts.try_models(opened(wb_path), ["fake:other-model"], labels=["other"])
    assert not isinstance(tried, errors.GitbenchError) and tried.job is not None
    more = ask.ask(
        opened(wb_path), "Once more", ["src/**"], model="fake:other-model", on_draft="continue", draft="other"
    )
    assert more.job is not None and more.job.draft == DRAFT + "other" and more.job.id != tried.job.id
    old_head = draft_refs(wb_path)[DRAFT + "other"]
    res = gitbench(wb_path, "publish", "--draft", src, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    published = git(wb_path, "rev-parse", "main").strip()

    result = attempts.rebase(opened(wb_path), "other")
    assert result.summary.startswith(f"Rebased the Draft other onto Published ({published[:12]}): 2 step(s), 1 file(s)")
    new_head = draft_refs(wb_path)[DRAFT + "other"]
    assert new_head != old_head
    assert git(wb_path, "merge-base", "--is-ancestor", published, new_head, check=False) == ""
    assert git(wb_path, "show", f"{new_head}:src/a.py") == "A = 1\n# test-model\n"  # Published's change
    assert git(wb_path, "show", f"{new_head}:src/b.py") == "B = 2\n# other-model\n# other-model\n"
    wb = opened(wb_path)
    first, second = drafts.require_job(wb, tried.job.id), drafts.require_job(wb, more.job.id)
    assert first.base == published and first.head == new_head
    chain = git(wb_path, "rev-list", "--first-parent", f"{published}..{new_head}").split()
    assert second.base in chain and second.head == new_head  # it starts where the first job's steps end now
    assert result.job is not None and result.job.id == tried.job.id


def test_a_rebase_refused_for_overlapping_files_offers_running_the_job_again_as_it_was_made(wb_path: Path) -> None:
    """`try` takes only Workshop jobs: an exec job's Draft is offered its command again, not `gitbench try MODEL`
    (which answers that there is no Workshop job to try); a Workshop job's Draft, `try` of that very job."""
    code = "import pathlib; pathlib.Path('src/a.py').write_text('A = 9\\n')"
    exec_ref, _ = run_job(wb_path, code)
    exec_label = exec_ref[len(DRAFT) :]
    forked = gitbench(wb_path, "ask", "Add a line to each file", "--files", "src/**", "--on-draft", "fork")
    assert forked.returncode == 0, forked.stderr
    [ask_ref] = [r for r in draft_refs(wb_path) if r != exec_ref]
    tried = gitbench(wb_path, "try", "fake:other-model")
    assert tried.returncode == 0, tried.stderr
    res = gitbench(wb_path, "publish", "--draft", ask_ref[len(DRAFT) :])  # src/a.py changes on Published
    assert res.returncode == 0, res.stderr

    res = gitbench(wb_path, "rebase", "--draft", exec_label, "--json")
    assert res.returncode == 7, res.stderr
    offered = [a["command"] for a in json.loads(res.stdout)["error"]["actions"]]
    again = f"gitbench exec -- {shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    # Other Drafts are open (the `try` attempt): exec refuses until they are closed, so no --on-draft discard here.
    assert offered == [
        f"gitbench review --draft {exec_label} --patch",
        f"gitbench discard --draft {exec_label} --yes",
        again,
    ]

    [attempt] = [r for r in draft_refs(wb_path) if r != exec_ref]
    label = attempt[len(DRAFT) :]
    res = gitbench(wb_path, "rebase", "--draft", label, "--json")
    assert res.returncode == 7, res.stderr
    offered = [a["command"] for a in json.loads(res.stdout)["error"]["actions"]]
    job = drafts.job_of(opened(wb_path), attempt)
    assert job is not None and offered[2] == f"gitbench try MODEL --job {job.id}"
    pasted = gitbench(wb_path, *shlex.split(offered[2].replace("MODEL", "fake:test-model"))[1:])
    assert pasted.returncode == 0, pasted.stderr

    for ref in draft_refs(wb_path):  # exec runs with no other Draft open
        res = gitbench(wb_path, "discard", "--draft", ref[len(DRAFT) :], "--yes")
        assert res.returncode == 0, res.stderr
    pasted = gitbench(wb_path, *shlex.split(again)[1:])  # the command again, from the new Published
    assert pasted.returncode == 0, pasted.stderr
