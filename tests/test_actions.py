"""Actions are data: a gitbench verb and its arguments (or text to run by hand), rendered as a shell command by
the CLI, routed by verb in the TUI. In-process: no CLI, no app."""

from __future__ import annotations

import shlex
from collections.abc import Coroutine
from typing import Any, cast, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitbench import errors
from gitbench.tui import actions

VERBS = get_args(errors.Verb)


def test_a_gitbench_action_renders_as_the_command_a_user_types() -> None:
    assert (
        errors.Action("Restore", "restore", ("checkpoint/a", "--yes")).command == "gitbench restore checkpoint/a --yes"
    )
    assert errors.Action("Status", "workflow status").command == "gitbench workflow status"
    assert errors.PUBLISH.command == "gitbench publish"


def test_arguments_are_shell_quoted_only_where_needed() -> None:
    action = errors.Action("Extract", "extract", ("my notes.txt", "it's.txt", "--force"))
    assert action.command == "gitbench extract 'my notes.txt' 'it'\"'\"'s.txt' --force"
    assert shlex.split(action.command)[2:] == ["my notes.txt", "it's.txt", "--force"]
    # Placeholders in capitals pass quoting as they are; a marked Placeholder is shown as written.
    assert errors.Action("Switch", "resume", ("--model", "PROVIDER:MODEL")).command == (
        "gitbench resume --model PROVIDER:MODEL"
    )
    ask = errors.Action("Ask", "ask", (errors.Placeholder('"..."'), "--files", errors.Placeholder("'GLOB'")))
    assert ask.command == "gitbench ask \"...\" --files 'GLOB'"


@given(
    st.sampled_from(VERBS),
    st.lists(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12), max_size=5),
)
def test_the_rendered_command_splits_back_into_the_verb_and_its_arguments(verb: errors.Verb, args: list[str]) -> None:
    action = errors.Action("x", verb, tuple(args))
    assert shlex.split(action.command) == ["gitbench", *verb.split(" "), *args]


def test_an_action_that_is_not_a_gitbench_command_is_text_or_a_label_alone() -> None:
    stash = errors.Action("Set your edits aside", text="git stash")
    assert (stash.verb, stash.command) == (None, "git stash")
    alone = errors.Action("Report the bug with the crash log")
    assert alone.command == ""
    assert alone.to_dict() == {
        "label": "Report the bug with the crash log",
        "command": "",
        "verb": None,
        "args": [],
        "then": None,
    }
    assert stash.to_dict()["command"] == "git stash" and stash.to_dict()["verb"] is None


def test_json_gives_the_label_and_the_command_as_before_and_the_verb_and_args_as_data() -> None:
    action = errors.Action("Publish one", "publish", ("--draft", "d1"))
    assert action.to_dict() == {
        "label": "Publish one",
        "command": "gitbench publish --draft d1",
        "verb": "publish",
        "args": ["--draft", "d1"],
        "then": None,
    }
    err = errors.NoDraft("none", [action])
    assert err.to_dict()["actions"] == [action.to_dict()]


def test_then_chains_a_second_step() -> None:
    back = errors.Action("Go back", "discard", ("--yes",), then=errors.Action("", "restore", ("cp-1", "--yes")))
    assert back.command == "gitbench discard --yes && gitbench restore cp-1 --yes"
    assert back.to_dict() == {
        "label": "Go back",
        "command": "gitbench discard --yes && gitbench restore cp-1 --yes",
        "verb": "discard",
        "args": ["--yes"],
        "then": {
            "label": "",
            "command": "gitbench restore cp-1 --yes",
            "verb": "restore",
            "args": ["cp-1", "--yes"],
            "then": None,
        },
    }


def test_a_publish_conflict_names_the_checkpoint_to_restore_by_its_action() -> None:
    exc = errors.PublishConflict(
        "moved",
        [
            errors.Action("Discard", "discard"),
            errors.Action("Restore", "restore", ("checkpoint/start", "--keep-draft", "--yes")),
        ],
    )
    assert exc.restore_point() == "checkpoint/start"
    assert (
        errors.PublishConflict("moved", [errors.Action("Restore", "restore", ("cp", "--yes"))]).restore_point() is None
    )


class _App:
    """Just enough of the TUI app for a flow to be chosen: what it shows, and the last Workshop prompt."""

    def __init__(self, last_ask: tuple[str, list[str], str | None] | None = None) -> None:
        self.views: list[str] = []
        self.last_ask = last_ask

    def show_view(self, name: str) -> None:
        self.views.append(name)


def _flow(action: errors.Action, app: _App | None = None) -> tuple[str, dict[str, Any]] | str | None:
    """The flow the TUI runs for ``action``: (its name, its arguments but the app), the view it shows, or None."""
    flow = actions.route(action)
    if flow is None:
        return None
    app = app or _App()
    coro = flow(cast(Any, app))
    if coro is None:
        return app.views[-1]
    assert isinstance(coro, Coroutine)
    name, params = coro.cr_code.co_name, dict(coro.cr_frame.f_locals)
    coro.close()  # never run: only which flow, with what
    params.pop("app")
    return name, params


@pytest.mark.parametrize(
    ("action", "flow"),
    [
        (errors.PUBLISH, ("publish", {"label": None, "no_check": False})),
        (errors.Action("", "publish", ("--draft", "d2")), ("publish", {"label": "d2", "no_check": False})),
        (errors.Action("", "publish", ("--draft", "d2", "--no-check")), ("publish", {"label": "d2", "no_check": True})),
        (errors.Action("", "publish", ("--no-check",)), ("publish", {"label": None, "no_check": True})),
        (errors.DISCARD, ("discard", {})),
        (errors.Action("", "discard", ("--yes",)), ("discard", {})),
        (errors.Action("", "discard", ("--undo",)), ("undo_discard", {})),
        (errors.Action("", "keep"), ("keep", {})),
        (errors.REVIEW, "review"),
        (errors.Action("", "review", ("--patch",)), "review"),
        (errors.CHECKPOINTS, "checkpoints"),
        (errors.Action("", "workflow status"), "workflow"),
        (errors.Action("", "workflow resume"), ("workflow_run", {"only": None, "on_draft": None})),
        (
            errors.Action("", "workflow run", ("--on-draft", "discard")),
            ("workflow_run", {"only": None, "on_draft": "discard"}),
        ),
        (errors.Action("", "report", ("j1",)), ("report", {"job": "j1"})),
        (errors.Action("", "report"), ("report", {"job": None})),
        (errors.Action("", "resume", ("j1",)), ("resume", {"job": "j1", "model": None})),
        (errors.Action("", "resume", ("j1", "--model", "PROVIDER:MODEL")), ("resume_switching_model", {"job": "j1"})),
        (errors.Action("", "resume", ("--model", "PROVIDER:MODEL")), ("resume_switching_model", {"job": None})),
        (errors.Action("", "restore", ("cp-1",)), ("restore", {"name": "cp-1", "keep_draft": False})),
        (errors.Action("", "restore", ("cp-1", "--yes")), ("restore", {"name": "cp-1", "keep_draft": False})),
        (
            errors.Action("", "restore", ("cp-1", "--keep-draft", "--yes")),
            ("restore", {"name": "cp-1", "keep_draft": True}),
        ),
        (errors.RECOVER, ("recover", {})),
        (
            errors.Action("", "discard", ("--yes",), then=errors.Action("", "restore", ("cp-0", "--yes"))),
            ("discard_then_restore", {"name": "cp-0"}),
        ),
    ],
)
def test_the_tui_routes_an_action_by_its_verb_and_arguments(action: errors.Action, flow: object) -> None:
    assert _flow(action) == flow


def test_the_job_again_with_a_choice_reuses_the_last_workshop_prompt() -> None:
    again = errors.Action("", "ask", ("--on-draft", "fork", "..."))
    name, params = cast(tuple[str, dict[str, Any]], _flow(again, _App(("Add a line", ["src/**"], "fake:m"))))
    assert name == "ask"
    assert params == {"prompt": "Add a line", "files": ["src/**"], "model": "fake:m", "on_draft": "fork"}
    assert _flow(again) == "workshop"  # no prompt yet: the Workshop, to write one


@pytest.mark.parametrize(
    "action",
    [
        errors.Action("Set your edits aside", text="git stash"),
        errors.Action("Free some disk space"),
        errors.CANCEL,
        errors.Action("", "review", ("--draft", "d1")),  # no flow shows another Draft's review
        errors.Action("", "restore", ("--yes",)),
        errors.Action("", "restore", ("cp", "--force")),
        errors.Action("", "publish", ("--draft",)),
        errors.Action("", "exec", ("--on-draft", "discard", "--", "...")),
        errors.Action("", "ask", ("--on-draft", "later")),
        errors.Action("", "recover", ("--now",)),
        errors.Action("", "models"),
        errors.Action("", "discard", then=errors.Action("", "publish")),
    ],
)
def test_an_action_the_tui_has_no_flow_for_is_left_to_run_by_hand(action: errors.Action) -> None:
    assert actions.route(action) is None
