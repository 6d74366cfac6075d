"""Progress as events: the sentence each front end shows for an event is the one the CLI has always printed."""

from __future__ import annotations

import pytest

from gitbench import events


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (events.Note("Worktree set up sparse."), "Worktree set up sparse."),
        (events.CheckpointTaken("cp-1", "j1"), "Checkpoint cp-1 taken; Draft j1 created."),
        (events.CheckpointTaken("cp-1", "d1", "j2"), "Checkpoint cp-1 taken; job j2 continues the Draft d1."),
        (events.CheckpointTaken("cp-1", "d1", agent="claude"), "Checkpoint cp-1 taken; Draft d1 created for claude."),
        (events.Continuing("j1", "d1"), "Continuing workflow job j1 in Draft d1."),
        (events.Resuming("j1", 2, 3, "fake:m"), "Resuming job j1 at step 2/3 with fake:m."),
        (events.SettingUp("make deps"), "Setting up the worktree: make deps"),
        (events.Running("make test", "/w"), "Running make test in /w"),
        (events.RunningAgain("j1"), "Running job j1's command again in its worktree."),
        (events.BatchSent(1, 2, 5, "fake:m"), "Batch 1/2: 5 file(s) to fake:m"),
        (events.Retrying("fake:m", "HTTP 429", 2, 2, 4), "fake:m: HTTP 429; retrying in 2 s (attempt 2 of 4)"),
        (events.BatchDone(1, 2, 3), "Batch 1/2 done: 3 file(s) changed"),
        (events.BatchDone(2, 2, 3, 1), "Batch 2/2 done: 3 file(s) changed, 1 edit(s) refused"),
        (
            events.CheckRunning("pytest", "0123456789abcdef", "d1"),
            "Running the check `pytest` in a clean worktree of the Draft d1 (0123456789ab) …",
        ),
        (events.CheckSkipped("pytest"), "The check `pytest` was skipped (--no-check); that is recorded."),
        (events.CheckEnded("passed"), "The check passed."),
        (events.Pushing("origin", "/srv/x.git"), "Pushing to origin (/srv/x.git) …"),
        (
            events.PublishingToRemote("origin", "/srv/x.git"),
            "Publishing to origin's Published (/srv/x.git) first, as a compare-and-swap …",
        ),
        (events.ModuleRunning("lint", "command"), "lint: running (command)"),
        (events.ModuleNeedsInput("review", "approve the gate"), "review: needs input: approve the gate"),
        (events.ModuleEnded("lint", "complete"), "lint: complete"),
        (events.ModuleEnded("lint", "failed", "exit 1"), "lint: failed: exit 1"),
        (
            events.Attempt("try-a", events.CheckRunning("pytest", "0123456789abcdef")),
            "try-a: running the check `pytest` in a clean worktree of 0123456789ab",
        ),
        (events.Attempt("try-a", events.DraftMade("cp-1", "fake:m")), "try-a: Draft created from cp-1 for fake:m."),
        (
            events.Stopping("Ctrl-C"),
            "Ctrl-C: stopping every attempt once its request in flight is answered (again to stop at once; the next "
            "gitbench command then marks them interrupted).",
        ),
        (
            events.Stopping("SIGTERM", "dask://127.0.0.1:8786"),
            "SIGTERM: stopping every attempt now, its model call on dask://127.0.0.1:8786 cancelled.",
        ),
    ],
)
def test_each_event_is_described_as_the_sentence_the_cli_prints(event: events.Event, text: str) -> None:
    assert events.describe(event) == text


def test_ignore_is_a_progress_that_shows_nothing() -> None:
    assert events.ignore(events.Note("x")) is None
