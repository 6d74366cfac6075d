"""gitbench/workflow/spec.py, in-process: the workflow file's less common shapes, each parsed whole or refused
with the line of the problem (tests/test_workflow_spec.py has the common mistakes, through the real CLI)."""

from __future__ import annotations

import pytest

from gitbench import errors
from gitbench.workflow import spec
from gitbench.workflow.kinds import KINDS


def refused(text: str) -> errors.UsageError:
    with pytest.raises(errors.UsageError) as info:
        spec.parse(text)
    assert info.value.message.startswith("The workflow file is not valid: .gitbench/workflow.yaml")
    assert info.value.message.endswith("Nothing ran.")
    return info.value


MODULE = "modules:\n  - id: a\n    outputs: [o.txt]\n    run: {command: x}\n"


def test_a_file_nested_too_deeply_is_refused_whether_reading_it_or_checking_it_runs_out_of_stack() -> None:
    n = 950  # under libyaml's own nesting limit, over what Python's recursion limit lets a reader follow
    err = refused(MODULE + "    config: " + "{a: " * n + "1" + "}" * n + "\n")  # the YAML reader
    assert err.message == (
        "The workflow file is not valid: .gitbench/workflow.yaml: it is nested too deeply to read. Nothing ran."
    )
    assert err.details == {"line": None}
    err = refused(MODULE + "    config: {a: " + "[" * n + "]" * n + "}\n")  # read, then too deep to check
    assert "it is nested too deeply to read" in err.message and err.details == {"line": None}


def test_one_string_is_a_list_of_one_and_an_input_module_needs_no_run() -> None:
    wf = spec.parse(
        "modules:\n"
        "  - {id: brief, outputs: brief.md, inputs: {input: 'the brief, as markdown'}}\n"
        "  - {id: upload, outputs: [data.csv], run: {input: 'upload the data'}}\n"
        "  - {id: notes, outputs: [notes.md], inputs: {input: 'the notes'}, run: null}\n"
        "  - {id: build, outputs: out.txt, needs: brief, inputs: brief.md, run: {command: make}}\n"
    )
    brief, upload, build = (wf.modules[m] for m in ("brief", "upload", "build"))
    assert brief.kind is KINDS["input"] and brief.run == {"input": "the brief, as markdown"}
    assert brief.input_request == "the brief, as markdown" and brief.inputs == () and brief.outputs == ("brief.md",)
    assert upload.kind is KINDS["input"] and upload.input_request == "upload the data"
    assert wf.modules["notes"].run == {"input": "the notes"}  # `run: null` is no run
    assert build.needs == ("brief",) and build.inputs == ("brief.md",) and build.outputs == ("out.txt",)
    assert wf.order.index("brief") < wf.order.index("build")


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (
            "modules:\n  - {id: a, outputs: [o.txt], inputs: {input: 3}, run: {command: x}}\n",
            2,
            "inputs of 'a': write a list of paths, or {input: \"what to provide\"}",
        ),
        (
            "modules:\n  - {id: a, outputs: [o.txt], inputs: {input: x, other: y}, run: {command: x}}\n",
            2,
            "inputs of 'a': write a list of paths",
        ),
        ("modules:\n  - {id: a, outputs: [o.txt], run: {command: '  '}}\n", 2, "run.command of 'a' must be text"),
        (
            "modules:\n  - {id: a, outputs: [o.txt], run: {model: 'fake:x'}}\n",
            2,
            "a model module ('a') needs run.prompt",
        ),
        (
            "modules:\n  - {id: a, outputs: [out/x/y.txt], run: {command: x}}\n"
            "  - {id: b, outputs: [out/x], run: {command: x}}\n",
            3,
            "output out/x of 'b' is a folder that 'a' writes into",
        ),
        ("modules:\n  - just-a-string\n", 1, "each module must be a mapping with an `id:`"),
        ("modules:\n  - {id: a, outputs: [o.txt]}\n", 2, "module 'a' needs `run:` ({command: ...}"),
    ],
    ids=[
        "input-not-text",
        "input-extra-key",
        "blank-command",
        "model-no-prompt",
        "file-is-folder",
        "not-a-mapping",
        "no-run",
    ],
)
def test_a_bad_module_is_refused_naming_its_line(text: str, line: int, says: str) -> None:
    err = refused(text)
    assert f".gitbench/workflow.yaml, line {line}: {says}" in err.message, err.message
    assert err.details == {"line": line}
    assert err.actions[0].label.startswith("Fix .gitbench/workflow.yaml")
