"""gitbench/cli/render.py, in-process: text fit for a terminal (a file name's byte that is not UTF-8 and control
characters shown in octal as git shows them, never raw), and the lists' closing lines."""

from __future__ import annotations

import os

import pytest

from gitbench.cli import render
from gitbench.model import Checkpoint


def test_bytes_that_are_not_utf8_and_control_characters_are_shown_in_octal_as_git_does() -> None:
    name = os.fsdecode(b"caf\xe9\x1b[31m.txt")
    assert render.safe(name) == "caf\\351\\033[31m.txt"
    assert render.safe("tab\there\nnew line\x7f") == "tab\there\nnew line\\177"


def test_a_line_printed_is_made_safe(capsys: pytest.CaptureFixture[str]) -> None:
    render.out(os.fsdecode(b"a\xffb"))
    render.note("bell\x07")
    out, err = capsys.readouterr()
    assert out == "a\\377b\n" and err == "note: bell\\007\n"


def cp(n: int) -> Checkpoint:
    return Checkpoint(f"checkpoint/{n}", "manual", f"{n:040x}", None, 1_700_000_000.0 + n, f"note {n}", None)


@pytest.mark.parametrize(
    ("older", "said"), [(0, None), (1, "1 older checkpoint is not shown"), (2, "2 older checkpoints are not shown")]
)
def test_the_checkpoint_list_says_how_many_older_ones_are_not_shown(
    capsys: pytest.CaptureFixture[str], older: int, said: str | None
) -> None:
    render.checkpoints([cp(1), cp(2)], older)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("checkpoint/1  manual") and lines[2].startswith("restore one: gitbench restore NAME")
    assert lines[3:] == ([f"{said}: gitbench checkpoints --all"] if said else [])


def test_empty_lists_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    render.checkpoints([])
    render.steps([])
    assert capsys.readouterr().out == "No checkpoints.\nNo gitbench steps yet.\n"
