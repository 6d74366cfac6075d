"""gitbench/cli/draft_cmds.py and checkpoint_cmds.py's questions, called in-process as plain functions: what each
asks at a terminal and what each answer does, what they say when nobody is there to answer, and the options that
contradict each other. A terminal is the one thing faked (``interactive()``); the answers come on stdin."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.cli import checkpoint_cmds, draft_cmds, model_cmds, prompts, workbench_cmds
from tests.conftest import checkpoint_names, git, make_project

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
EDIT = "open('src/app.py', 'a').write('# by the job\\n')"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Path:
    """A Workbench with a Draft (a job's one step), the current folder."""
    project = make_project(tmp_path / "project")
    assert workbench_cmds.init(str(project), None, json=True) == 0
    monkeypatch.chdir(project)
    assert draft_cmds.exec([sys.executable, "-c", EDIT], files=["src/**"], json=True) == 0
    capfd.readouterr()
    return project


def drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()


def at_a_terminal(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    for module in (prompts, draft_cmds, checkpoint_cmds):
        monkeypatch.setattr(module, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{a}\n" for a in answers)))


def test_discard_without_yes_and_nobody_to_ask_says_to_pass_yes_and_keeps_the_draft(here: Path) -> None:
    before = drafts(here)
    with pytest.raises(errors.UsageError, match="pass --yes when not at a terminal") as caught:
        draft_cmds.discard()
    assert [a.command for a in caught.value.actions] == ["gitbench discard --yes"]
    assert drafts(here) == before and len(before) == 1


def test_discard_at_a_terminal_asks_and_no_keeps_the_draft_yes_discards_it(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = drafts(here)
    at_a_terminal(monkeypatch, "no")
    with pytest.raises(errors.Cancelled, match="the Draft is as it was"):
        draft_cmds.discard()
    assert drafts(here) == before
    at_a_terminal(monkeypatch, "yes")
    assert draft_cmds.discard() == 0
    assert drafts(here) == []


def test_restore_without_yes_asks_only_at_a_terminal_and_no_changes_nothing(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert draft_cmds.discard(yes=True) == 0
    first, published, tags = checkpoint_names(here)[0], git(here, "rev-parse", "main"), checkpoint_names(here)
    with pytest.raises(errors.UsageError, match="pass --yes when not at a terminal") as caught:
        checkpoint_cmds.restore(first)
    assert [a.command for a in caught.value.actions] == [f"gitbench restore {first} --yes"]
    at_a_terminal(monkeypatch, "no")
    with pytest.raises(errors.Cancelled, match="nothing was changed"):
        checkpoint_cmds.restore(first)
    assert git(here, "rev-parse", "main") == published and checkpoint_names(here) == tags


def test_restore_with_a_draft_open_is_refused_before_asking(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at_a_terminal(monkeypatch)  # no answer: it must not ask
    with pytest.raises(errors.DraftOpen):
        checkpoint_cmds.restore(checkpoint_names(here)[0])


def conflict(repo: Path) -> str:
    """Published moved outside gitbench since the Draft was made; its new commit."""
    (repo / "docs" / "guide.md").write_text("committed behind gitbench's back\n")
    git(repo, *NO_HOOKS, "commit", "-q", "-am", "outside change")
    return git(repo, "rev-parse", "main")


def test_a_publish_conflict_without_a_terminal_is_the_error_with_its_choices(here: Path) -> None:
    outside = conflict(here)
    with pytest.raises(errors.PublishConflict) as caught:
        draft_cmds.publish()
    assert caught.value.restore_point() == checkpoint_names(here)[1]
    assert git(here, "rev-parse", "main") == outside


def test_a_publish_conflict_at_a_terminal_cancel_changes_nothing(
    here: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    outside, before = conflict(here), drafts(here)
    at_a_terminal(monkeypatch, "cancel")
    with pytest.raises(errors.Cancelled, match="the Draft is as it was"):
        draft_cmds.publish()
    assert "error: publish-conflict" in capfd.readouterr().err  # the conflict is shown before the question
    assert git(here, "rev-parse", "main") == outside and drafts(here) == before


def test_a_publish_conflict_at_a_terminal_discard_discards_the_draft(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = conflict(here)
    at_a_terminal(monkeypatch, "discard")
    assert draft_cmds.publish() == 0
    assert git(here, "rev-parse", "main") == outside and drafts(here) == []


def test_a_publish_conflict_at_a_terminal_restore_puts_published_back_then_publishes(
    here: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    (draft,) = drafts(here)
    head = git(here, "rev-parse", draft)
    outside = conflict(here)
    at_a_terminal(monkeypatch, "restore")
    assert draft_cmds.publish() == 0
    assert git(here, "rev-parse", "main") == head and drafts(here) == []
    pre_restore = [t for t in git(here, "tag", "-n1", "-l", "checkpoint/*").splitlines() if "pre-restore" in t]
    assert len(pre_restore) == 1 and git(here, "rev-parse", pre_restore[0].split()[0] + "^{commit}") == outside
    assert "Published " in capfd.readouterr().out


def test_a_job_with_a_draft_open_asks_and_cancel_runs_nothing(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (drafts(here), git(here, "rev-parse", drafts(here)[0]))
    at_a_terminal(monkeypatch, "cancel")
    with pytest.raises(errors.Cancelled, match="the job did not run"):
        draft_cmds.exec([sys.executable, "-c", EDIT], files=["src/**"])
    assert (drafts(here), git(here, "rev-parse", drafts(here)[0])) == before


def test_options_that_cannot_go_together_are_refused_naming_them(here: Path) -> None:
    with pytest.raises(errors.UsageError, match="--on-draft takes publish or discard"):
        draft_cmds.exec(["true"], on_draft="continue")
    with pytest.raises(errors.UsageError, match="--sparse checks out the folders of --files"):
        draft_cmds.exec(["true"], sparse=True)
    with pytest.raises(errors.UsageError, match="--check and --no-check contradict each other"):
        draft_cmds.publish(check="true", no_check=True)
    with pytest.raises(errors.UsageError, match="--draft goes with --on-draft continue"):
        model_cmds.ask("more", draft="x")
    assert len(drafts(here)) == 1


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (lambda: draft_cmds.publish(draft="x"), "gitbench publish --draft x"),
        (lambda: draft_cmds.discard(undo=True), "gitbench discard --undo"),
        (lambda: checkpoint_cmds.restore("checkpoint/1", yes=True), "gitbench restore checkpoint/1"),
    ],
)
def test_inside_a_job_the_users_commands_are_refused_naming_the_command_for_the_user(
    here: Path, monkeypatch: pytest.MonkeyPatch, command: object, shown: str
) -> None:
    monkeypatch.setenv("GITBENCH_JOB", "j-1")
    published, before = git(here, "rev-parse", "main"), drafts(here)
    with pytest.raises(errors.ApprovalRequired, match="was run inside job j-1") as caught:
        command()  # type: ignore[operator]
    assert caught.value.actions[0].command == shown and caught.value.details["job"] == "j-1"
    assert git(here, "rev-parse", "main") == published and drafts(here) == before


def test_with_several_drafts_open_each_one_is_offered_as_the_whole_command_for_it(here: Path) -> None:
    # Not a bare `--draft LABEL`: the command asked for again with the Draft named, as a script or an agent can
    # run it (discard with the --yes it needs off a terminal; review with the --patch it was asked with).
    from gitbench.services import commands
    from gitbench.services.workbench import Workbench

    commands.run_exec(Workbench(str(here)), [sys.executable, "-c", EDIT], ["src/**"], on_draft="beside")
    labels = sorted(ref.rsplit("/", 1)[1] for ref in drafts(here))
    assert len(labels) == 2
    asked = {
        "publish": lambda: draft_cmds.publish(),
        "discard": lambda: draft_cmds.discard(),
        "discard --yes": lambda: draft_cmds.discard(yes=True),
        "review --patch": lambda: draft_cmds.review(patch=True),
    }
    offered = {
        "publish": "gitbench publish --draft {}",
        "discard": "gitbench discard --draft {} --yes",
        "discard --yes": "gitbench discard --draft {} --yes",
        "review --patch": "gitbench review --draft {} --patch",
    }
    for what, call in asked.items():
        with pytest.raises(errors.DraftAmbiguous) as caught:
            call()
        commands = [a.command for a in caught.value.actions if a.label.startswith("This one")]
        assert sorted(commands) == [offered[what].format(lb) for lb in labels], what
    assert drafts(here) and len(drafts(here)) == 2  # nothing was published or discarded
    assert draft_cmds.publish(draft=labels[0], json=True) == 0  # the offered command, as typed
    assert [ref.rsplit("/", 1)[1] for ref in drafts(here)] == [labels[1]]
