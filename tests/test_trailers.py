"""gitbench/trailers.py: the audit trailers gitbench writes are exactly what Git reads back.

Properties (Hypothesis) for quoting and parsing paths and messages, then a cross-check against the real
`git interpret-trailers --parse` and `git log --format=%(trailers)` on commits made from gitbench's messages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitbench import trailers
from tests.conftest import check_invariants, git, gitbench

# Any text a file name or a value could hold (no lone surrogates: they cannot be written as UTF-8).
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
HOSTILE = st.sampled_from(
    [
        " ",
        ",",
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\x00",
        "\x1b",
        "\x7f",
        ": ",
        "Gitbench-Status: forged",
        "\nGitbench-Status: forged",
        "\n\nGitbench-Job: x",
        " (+3 more)",
        "(none)",
        "é",
        "日本",
        "\u2028",
        "\x85",
        "\xa0",
        "  ",
        "#",
        "---",
        "--- ",
        "\\n",
        '\\"',
        "\\101",
    ]
)
NO_NUL = HOSTILE.filter(lambda s: "\x00" not in s)
PATH_PART = st.one_of(HOSTILE, st.text(ANY_CHAR, min_size=1, max_size=8), st.text("abc./_-", min_size=1, max_size=6))
PATH = st.lists(PATH_PART, min_size=1, max_size=4).map("".join)
PATHS = st.lists(PATH, max_size=trailers.MAX_FILES)
# Subjects and values come from command-line arguments and ids, which cannot hold NUL.
VALUE = st.lists(st.one_of(NO_NUL, st.text(ANY_CHAR.filter(lambda c: c != "\x00"), max_size=10)), max_size=4).map(
    "".join
)
KEY = st.from_regex(r"\AGitbench-[A-Z][a-z]{1,8}\Z")

FAST = settings(max_examples=150, deadline=None, database=None)
WITH_GIT = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def folded(value: str) -> str:
    """What a value becomes on its one trailer line: whitespace runs folded, ends trimmed."""
    return " ".join(value.split())


def last_paragraph(message: str) -> list[str]:
    return message.rstrip("\n").split("\n\n")[-1].split("\n")


# -- paths ----------------------------------------------------------------------------------------------------


@FAST
@given(PATHS)
@example(["a b.txt", "c,d.txt", 'e"f.txt', "g\nGitbench-Status: forged", "ünïcødé/日本.md"])
@example(["(none)"])
@example(["x (+3 more)"])
@example(["a  b", " lead", "trail ", "tab\there", "nbsp\xa0", "sep\u2028x"])
def test_any_list_of_paths_survives_format_then_parse(paths: list[str]) -> None:
    assert trailers.parse_paths(trailers.format_paths(paths)) == paths


@FAST
@given(PATHS)
@example(["a  b.txt", "x\u3000y", "nel\x85z"])
def test_paths_survive_a_whole_message_round_trip(paths: list[str]) -> None:
    message = trailers.build_message(
        "step", "", [("Gitbench-Files", trailers.format_paths(paths)), ("Gitbench-Status", "complete")]
    )
    parsed = trailers.parse(message)
    assert trailers.parse_paths(parsed["Gitbench-Files"]) == paths
    assert parsed["Gitbench-Status"] == "complete"


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(PATH, min_size=trailers.MAX_FILES + 1, max_size=trailers.MAX_FILES + 6))
def test_a_long_path_list_is_capped_and_says_how_many_more(paths: list[str]) -> None:
    text = trailers.format_paths(paths)
    more = len(paths) - trailers.MAX_FILES
    assert text.endswith(f" (+{more} more)")
    assert trailers.parse_paths(text) == paths[: trailers.MAX_FILES]


def test_no_paths_read_as_none() -> None:
    assert trailers.format_paths([]) == "(none)"
    assert trailers.parse_paths("(none)") == []
    assert trailers.parse_paths("") == []


@FAST
@given(PATH)
def test_a_quoted_path_is_one_line_of_printable_text(path: str) -> None:
    quoted = trailers.quote_path(path)
    assert "\n" not in quoted and "\r" not in quoted
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in quoted)
    assert len(quoted.splitlines()) == 1
    assert trailers.unquote_path(quoted) == path


@pytest.mark.parametrize("path", ["README.md", "src/app.py", "a-b_c.d/e+f@g=h~i"])
def test_plain_paths_are_written_as_they_are(path: str) -> None:
    assert trailers.quote_path(path) == path


@pytest.mark.parametrize(
    ("path", "quoted"),
    [
        ("a b.txt", '"a b.txt"'),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("line\nbreak", '"line\\nbreak"'),
        ("back\\slash", '"back\\\\slash"'),
        ("bell\x07", '"bell\\007"'),
    ],
)
def test_unusual_paths_are_c_quoted_like_git_diff(path: str, quoted: str) -> None:
    assert trailers.quote_path(path) == quoted


# -- messages -------------------------------------------------------------------------------------------------


@FAST
@given(subject=VALUE, body=VALUE, pairs=st.dictionaries(KEY, VALUE, max_size=6), paths=PATHS)
@example(subject="s", body="", pairs={"Gitbench-Status": "ok\nGitbench-Job: forged"}, paths=[])
@example(subject="Gitbench-Job: x", body="Gitbench-Step: 9/9\n\nGitbench-Model: evil", pairs={}, paths=["p\nq"])
def test_a_hostile_value_or_path_never_forges_a_trailer_line(
    subject: str, body: str, pairs: dict[str, str], paths: list[str]
) -> None:
    items = [*pairs.items(), ("Gitbench-Files", trailers.format_paths(paths))]
    message = trailers.build_message(subject, body, items)
    block = last_paragraph(message)
    assert len(block) == len(items), block
    assert [line.split(":", 1)[0] for line in block] == [k for k, _ in items]
    parsed = trailers.parse(message)
    assert parsed == {k: folded(v) for k, v in items}
    assert trailers.parse_paths(parsed["Gitbench-Files"]) == paths
    assert "\n" not in trailers.subject(message)


@pytest.mark.parametrize("key", ["", "Bad Key", "Bad:Key", "-lead", "Gitbench-Files\nX", "Gitbench-Files\n", "Ké"])
def test_a_malformed_trailer_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        trailers.build_message("s", "", [(key, "v")])


def test_a_message_without_a_trailer_paragraph_has_no_trailers() -> None:
    assert trailers.parse("Only a subject\n") == {}
    assert trailers.parse("Subject\n\nA body that says Key: value in prose.\n") == {}
    assert trailers.parse("Subject\n\nKey: value\nnot a trailer line\n") == {}
    assert trailers.parse("") == {}


def test_parse_joins_continuation_lines_and_reads_the_last_paragraph_only() -> None:
    message = "Subject\n\nEarly: ignored\n\nGitbench-Job: j1\nGitbench-Files: a,\n  b\n"
    assert trailers.parse(message) == {"Gitbench-Job": "j1", "Gitbench-Files": "a, b"}


def test_an_empty_subject_becomes_gitbench() -> None:
    assert trailers.build_message("  \n ", "", [("Gitbench-Job", "j")]).startswith("gitbench\n\n")


# -- cross-check with the real git ----------------------------------------------------------------------------


def git_trailer_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        if line:
            key, _, value = line.partition(": ")
            pairs.append((key, value))
    return pairs


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("trailers-repo")
    git(repo, "init", "-q", "-b", "main")
    return repo


@WITH_GIT
@given(subject=VALUE, pairs=st.dictionaries(KEY, VALUE, max_size=5), paths=PATHS)
@example(
    subject="add files",
    pairs={"Gitbench-Job": "20260101-000000-abcd"},
    paths=["a b.txt", "c,d", 'q"uote', "new\nline", "日本/é.md", "x: y", "tab\tz"],
)
@example(subject="Gitbench-Job: fake", pairs={"Gitbench-Status": "a\n\nGitbench-Model: forged"}, paths=[])
@example(subject="--- refactor", pairs={}, paths=["--- x"])
@example(subject="---", pairs={}, paths=[])
def test_git_reads_exactly_the_trailers_gitbench_writes(
    scratch_repo: Path, subject: str, pairs: dict[str, str], paths: list[str]
) -> None:
    items = [*pairs.items(), ("Gitbench-Files", trailers.format_paths(paths))]
    message = trailers.build_message(subject, "", items)
    expected = [(k, folded(v)) for k, v in items]

    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message.encode(),
        capture_output=True,
        cwd=scratch_repo,
        check=True,
    ).stdout.decode()
    assert git_trailer_pairs(parsed) == expected

    tree = git(scratch_repo, "hash-object", "-t", "tree", "-w", "/dev/null").strip()
    commit = (
        subprocess.run(
            ["git", "commit-tree", tree], input=message.encode(), capture_output=True, cwd=scratch_repo, check=True
        )
        .stdout.decode()
        .strip()
    )
    logged = git(scratch_repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    assert git_trailer_pairs(logged) == expected
    files = git(scratch_repo, "log", "-1", "--format=%(trailers:key=Gitbench-Files,valueonly)", commit)
    assert trailers.parse_paths(files.strip("\n")) == paths
    # And gitbench reads the message git stored the same way.
    stored = git(scratch_repo, "cat-file", "commit", commit).split("\n\n", 1)[1]
    assert trailers.parse(stored) == dict(expected)


# Lines people and tools write at the end of a message, and lines that look like trailers but are not.
MESSAGE_LINE = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "subject",
            "free text",
            "A body that says Key: value in prose.",
            "Gitbench-Job: 1",
            "Gitbench-Files: a,",
            "  b",
            "\tc",
            "Key: v",
            "Key : v",
            "Key:v",
            "Key:",
            "Key::v",
            "K ey: v",
            "-: dash",
            ": no key",
            "Key: v\r",
            "Key: a\rb",
            "Key: v ",
            "Key: a\x85b",
            "Key: a\u2028b",
            "\x0bKey: v",
            "Key: \x0b",
            "Ключ: v",
            "Key\xa0: v",
            "Signed-off-by: Someone <s@example.invalid>",
            "Signed-off-by:x",
            "Co-authored-by: A <a@example.invalid>",
            "(cherry picked from commit 0123456789abcdef)",
            "# a comment",
            "#Key: v",
            "---",
            "--- a",
            "Conflicts:",
            "\tpath/in/conflict",
            "# ------------------------ >8 ------------------------",
            "http://example.invalid: link",
        ]
    ),
    st.text(" \t\r:#-Kk(1é\x0b", max_size=6),
)
MESSAGE = st.builds(
    lambda lines, newline: "\n".join(lines) + newline, st.lists(MESSAGE_LINE, max_size=12), st.sampled_from(["", "\n"])
)
GIT_TABLE = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def trailer_lines(text: str) -> list[tuple[str, str]]:
    """`Key: value` lines as git prints them (split at newlines only: a value may hold a \r)."""
    return [(key, value) for key, _, value in (line.partition(": ") for line in text.split("\n") if line)]


@GIT_TABLE
@given(st.lists(MESSAGE, min_size=1, max_size=25, unique=True))
@example(
    [
        # The issue's example: a recognised trailer, a free-text line and ours; 2 of 3 lines are trailers.
        "Subject\n\nSigned-off-by: x\nfree text\nGitbench-Job: 1\n",
        "Subject\n\nKey: v\nnot a trailer line\n",
        "Subject\n\nKey: a,\n  b\n# comment\nK2 : c\n",
        "\nKey: v\n",
        "Subject\n\nKey: v\n\n--- \nafter a patch divider\n",
        "Subject\n\nKey: v\n# ------------------------ >8 ------------------------\ncut\n",
        "Subject\n\nKey: v\nConflicts:\n\tpath\n",
        "Subject\n\nKey: v\r\nK2: w\r\n",
        "# ------------------------ >8 ------------------------\nSubject\n\nKey: v\n",
        "# comment\n\nKey: v\n\n",
        "Subject\n\n(cherry picked from commit 01)\nfree\nfree\nfree\nK: v\n",
    ]
)
def test_trailers_are_read_as_git_log_reads_them(scratch_repo: Path, messages: list[str]) -> None:
    """A table of messages, each read by `trailers.parse_all` and by `git log --format=%(trailers:only,unfold)`
    from a commit holding it (and by `git interpret-trailers --parse --no-divider`): the same trailers."""
    tree = git(scratch_repo, "hash-object", "-t", "tree", "-w", "/dev/null").strip()
    header = f"tree {tree}\nauthor A <a@example.invalid> 0 +0000\ncommitter A <a@example.invalid> 0 +0000\n\n"
    files = []
    for i, message in enumerate(messages):
        files.append(scratch_repo / f"message-{i}")
        files[-1].write_bytes(message.encode())
    objects = scratch_repo / "objects-to-hash"
    objects.mkdir(exist_ok=True)
    paths = []
    for i, message in enumerate(messages):
        paths.append(objects / f"commit-{i}")
        paths[-1].write_bytes((header + message).encode())
    oids = subprocess.run(
        ["git", "hash-object", "-w", "-t", "commit", "--literally", "--stdin-paths"],
        input="\n".join(map(str, paths)) + "\n",
        capture_output=True,
        text=True,
        cwd=scratch_repo,
        check=True,
    ).stdout.split()
    logged = subprocess.run(
        ["git", "log", "--no-walk=unsorted", "--format=%H%x01%(trailers:only,unfold)%x02", *oids],
        capture_output=True,
        cwd=scratch_repo,
        check=True,
    ).stdout.decode()
    by_oid = dict(entry.lstrip("\n").split("\x01") for entry in logged.split("\x02") if entry.strip("\n"))
    # --in-place writes each file's trailers back into it: one process for the whole table.
    subprocess.run(
        ["git", "interpret-trailers", "--in-place", "--parse", "--no-divider", *map(str, files)],
        cwd=scratch_repo,
        check=True,
    )
    for oid, message, file in zip(oids, messages, files, strict=True):
        assert trailers.parse_all(message) == trailer_lines(by_oid[oid]), message
        if message.split("\n", 1)[0].strip(" \t\r"):  # git log skips blank lines before the subject, this does not
            assert trailers.parse_all(message) == trailer_lines(file.read_bytes().decode()), message


def test_the_issues_example_is_read_as_git_reads_it() -> None:
    message = "Subject\n\nSigned-off-by: x\nfree text\nGitbench-Job: 1\n"
    assert trailers.parse(message) == {"Signed-off-by": "x", "Gitbench-Job": "1"}


def test_trailers_appended_to_a_block_git_reads_stay_in_it() -> None:
    message = trailers.append("Subject\n\nSigned-off-by: x\nfree text\n", [("Gitbench-Job", "1")])
    assert message == "Subject\n\nSigned-off-by: x\nfree text\nGitbench-Job: 1\n"
    assert trailers.parse(message) == {"Signed-off-by": "x", "Gitbench-Job": "1"}


def test_a_real_step_commit_carries_trailers_git_reads_as_gitbench_wrote_them(workbench: Path) -> None:
    names = ["two words.txt", "comma,name.txt", 'quote"name.txt', "ünï cødé.md", "plain.txt"]
    script = (
        "import pathlib,sys\n"
        "for n in sys.argv[1:]: pathlib.Path('out', n).parent.mkdir(exist_ok=True); "
        "pathlib.Path('out', n).write_text(n)\n"
    )
    res = gitbench(
        workbench, "exec", "-m", "Gitbench-Status: forged subject", "--", sys.executable, "-c", script, *names
    )
    assert res.returncode == 0, res.stderr
    steps = json.loads(gitbench(workbench, "log", "--json").stdout)["result"]
    step = steps[0]
    logged = git(workbench, "log", "-1", "--format=%(trailers:only,unfold)", step["commit"])
    assert dict(git_trailer_pairs(logged)) == step["trailers"]
    assert set(step["trailers"]) == {
        "Gitbench-Job",
        "Gitbench-Step",
        "Gitbench-Model",
        "Gitbench-Agent",
        "Gitbench-Files",
        "Gitbench-Checkpoint",
        "Gitbench-Attempts",
        "Gitbench-Status",
    }
    assert step["trailers"]["Gitbench-Status"] == "complete"
    assert sorted(trailers.parse_paths(step["trailers"]["Gitbench-Files"])) == sorted(f"out/{n}" for n in names)
    raw = git(workbench, "cat-file", "commit", step["commit"])
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=raw.split("\n\n", 1)[1],
        capture_output=True,
        text=True,
        cwd=workbench,
        check=True,
    ).stdout
    assert dict(git_trailer_pairs(parsed)) == step["trailers"]
    check_invariants(workbench)
