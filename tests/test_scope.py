"""gitbench/scope.py: no path a job may write ever leaves the Workbench or reaches into .git; --files globs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gitbench.scope import Scope, UnsafePath, check_path
from tests.conftest import Snapshot, check_invariants, git, gitbench

FAST = settings(max_examples=250, deadline=None, database=None)

PART = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "...",
            "..a",
            ".git",
            ".GIT",
            ".Git",
            ".git ",
            ".git.",
            ".git~1",
            ".gitignore",
            "git",
            "src",
            "a",
            "b",
            "a\\..\\b",
            "..\\",
            "x\x00y",
            "c\x01",
            "d\n",
            "\t",
            "é",
            "日本",
            " ",
            "*",
            "~",
            "-",
            ".github",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=5),
)
PATH = st.tuples(st.booleans(), st.lists(PART, min_size=0, max_size=6)).map(
    lambda t: ("/" if t[0] else "") + "/".join(t[1])
)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/",
        "//server/share",
        "../outside",
        "..",
        "a/../../b",
        "a/..",
        "src/../README.md",
        ".git",
        ".GIT",
        ".Git",
        ".git/",
        ".git/config",
        "a/.git/b",
        "a/.GIT/hooks/pre-commit",
        "./.git/HEAD",
        ".git ",
        ".git.",
        "a/.git~1/x",
        "a\x00b",
        "a\x01b",
        "tab\there",
        "new\nline",
        "cr\rx",
        "esc\x1b[0m",
        "a\\..\\b",
        "..\\x",
        "dir\\file",
        "",
        ".",
        "./",
        "//",
        "./.",
    ],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(path)


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("README.md", "README.md"),
        ("src/app.py", "src/app.py"),
        ("./a//b", "a/b"),
        ("a/./b/", "a/b"),
        (".gitignore", ".gitignore"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("a/.gitkeep", "a/.gitkeep"),
        ("..hidden", "..hidden"),
        ("dir with spaces/ünïcødé 日本.md", "dir with spaces/ünïcødé 日本.md"),
        ("git/config", "git/config"),
    ],
)
def test_normal_paths_are_accepted_and_normalised(path: str, normal: str) -> None:
    assert check_path(path) == normal


def test_each_refusal_names_the_problem() -> None:
    reasons = {}
    for path in ["/abs", "a/../b", ".GIT/x", "a\x00b", "a\x02b", "a\\b", ""]:
        with pytest.raises(UnsafePath) as info:
            check_path(path)
        reasons[path] = str(info.value)
    assert "absolute" in reasons["/abs"]
    assert ".." in reasons["a/../b"]
    assert ".git" in reasons[".GIT/x"]
    assert "NUL" in reasons["a\x00b"]
    assert "control" in reasons["a\x02b"]
    assert "backslash" in reasons["a\\b"]
    assert "empty" in reasons[""]


@FAST
@given(PATH)
@example("./a//b")
@example("a/./../b")
@example("x/.GiT/y")
@example("...")
def test_no_accepted_path_ever_resolves_outside_the_root_or_into_git(path: str) -> None:
    try:
        normal = check_path(path)
    except UnsafePath:
        return  # refused with a reason: the only other outcome allowed
    assert normal and not os.path.isabs(normal)
    assert os.path.normpath(normal).split("/")[0] != ".."  # ("...", "..a" are ordinary names)
    assert os.path.normpath(normal) == normal  # already normal: nothing left to resolve
    parts = normal.split("/")
    assert all(p not in ("", ".", "..") for p in parts)
    assert all(p.lower() != ".git" and p.rstrip(". ").lower() != ".git" for p in parts)
    assert not any(ord(c) < 0x20 for c in normal) and "\\" not in normal
    root = "/work/bench"
    joined = os.path.normpath(os.path.join(root, normal))
    assert joined.startswith(root + "/")
    assert check_path(normal) == normal  # idempotent


# -- --files globs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "allowed", "refused"),
    [
        ("src/**", ["src/app.py", "src/a/b/c.py", "src/.hidden"], ["srcx/app.py", "README.md", "lib/src/a.py", "src"]),
        ("*.md", ["README.md", "CHANGES.md"], ["docs/guide.md", "src/a/README.md", "README.txt"]),
        ("docs", ["docs", "docs/guide.md", "docs/a/b/c.txt"], ["docsx/guide.md", "src/docs/x.md", "README.md"]),
        ("docs/", ["docs/guide.md"], ["docsx/a"]),
        ("src/**/*.py", ["src/a.py", "src/x/y/z.py"], ["src/a.txt", "lib/a.py", "src/a.pyc", "a.py"]),
        ("src/*.py", ["src/a.py"], ["src/x/a.py"]),
        ("file?.txt", ["file1.txt"], ["file10.txt", "file/.txt"]),
        ("[ab].txt", ["a.txt", "b.txt"], ["c.txt"]),
    ],
)
def test_scope_globs_match_like_git(pattern: str, allowed: list[str], refused: list[str]) -> None:
    scope = Scope.of([pattern])
    for path in allowed:
        assert scope.allows(path), f"{pattern} should allow {path}"
    for path in refused:
        assert not scope.allows(path), f"{pattern} should refuse {path}"


def test_no_patterns_means_the_whole_workbench() -> None:
    scope = Scope.of(None)
    assert scope.everything
    assert scope.allows("any/where/at/all.txt")


def test_several_patterns_allow_their_union() -> None:
    scope = Scope.of(["src/**", "*.md"])
    assert scope.allows("src/x.py") and scope.allows("README.md")
    assert not scope.allows("docs/guide.md")


@pytest.mark.parametrize("pattern", ["/etc/**", "../**", "src/../../x", "a\x00b"])
def test_a_scope_pattern_reaching_outside_is_refused(pattern: str) -> None:
    with pytest.raises(UnsafePath):
        Scope.of([pattern])


NAME = st.text("abcdemx._-", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))
REL = st.lists(NAME, min_size=1, max_size=4).map("/".join)


@FAST
@given(REL)
def test_src_star_star_allows_exactly_the_paths_below_src(path: str) -> None:
    assert Scope.of(["src/**"]).allows(path) == path.startswith("src/")
    assert Scope.of(["src/**"]).allows("src/" + path)


@FAST
@given(REL)
def test_a_folder_pattern_allows_the_folder_and_everything_below_it(path: str) -> None:
    assert Scope.of(["docs"]).allows(path) == (path == "docs" or path.startswith("docs/"))
    assert Scope.of(["docs"]).allows("docs/" + path)


@FAST
@given(REL)
def test_star_md_matches_only_at_the_top_level(path: str) -> None:
    first = path.split("/")[0]
    assert Scope.of(["*.md"]).allows(path) == first.endswith(".md")
    assert not Scope.of(["*.md"]).allows("sub/" + path)


# -- through the real CLI ----------------------------------------------------------------------------------------


def test_a_job_writing_outside_its_files_glob_is_refused_and_the_rest_kept(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    edit = (
        "import pathlib; pathlib.Path('README.md').write_text('new readme\\n'); "
        "pathlib.Path('docs').mkdir(exist_ok=True); pathlib.Path('docs/guide.md').write_text('sneaky\\n')"
    )
    res = gitbench(workbench, "exec", "--json", "--files", "*.md", "--", sys.executable, "-c", edit)
    assert res.returncode == 11, res.stdout + res.stderr
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "scope-violation" and "docs/guide.md" in err["message"]
    draft = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert git(workbench, "show", f"{draft}:README.md") == "new readme\n"
    assert git(workbench, "show", f"{draft}:docs/guide.md") == "guide\n"  # the refused write never landed
    check_invariants(workbench, before, published_may_change=False)


def test_a_files_glob_that_climbs_out_is_a_usage_error(workbench: Path) -> None:
    res = gitbench(workbench, "exec", "--json", "--files", "../**", "--", "true")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"]["code"] == "usage"
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/draft/") == ""
