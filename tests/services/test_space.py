"""gitbench/services/space.py in-process: on a full disk, one sentence says where gitbench's space went, with the
commands that truly free it (what a job wrote and does not need, gc, discard)."""

from __future__ import annotations

from gitbench.services.space import MB, JobFolder, SpaceUse, explain


def test_a_job_s_big_file_is_named_with_the_rm_that_frees_it_and_gc_and_discard_follow() -> None:
    use = SpaceUse(
        "/w/.git/gitbench",
        3 * MB,
        2 * MB,
        [JobFolder("20260101-000000-abcd", "/wt/my draft", 10 * MB, "out/huge file.bin", 9 * MB)],
    )
    text, actions = explain(use)
    assert text == (
        "Where the space went: gitbench's own files take 3.1 MB in /w/.git/gitbench (logs: 2.1 MB); the worktree "
        "of Draft 20260101-000000-abcd (its job's folder, /wt/my draft) takes 10.5 MB, most of it out/huge "
        "file.bin (9.4 MB)."
    )
    assert [a.command for a in actions] == [
        "rm '/wt/my draft/out/huge file.bin'",
        "gitbench gc",
        "gitbench discard --draft 20260101-000000-abcd --yes",
    ]


def test_when_gitbench_takes_little_the_space_is_said_to_be_other_files() -> None:
    text, actions = explain(SpaceUse("/w/.git/gitbench", 4096, 0, []))
    assert text == (
        "Where the space went: gitbench's own files take 4.1 kB in /w/.git/gitbench; so the space is taken by "
        "other files on this disk."
    )
    assert actions == []
    several = [JobFolder("a", "/wt/a", 2 * MB, "small", 1000), JobFolder("b", "/wt/b", MB)]
    _, actions = explain(SpaceUse("/w/.git/gitbench", 4096, 0, several))
    assert [a.command for a in actions] == ["gitbench discard --draft LABEL --yes"]  # which one is the user's call
