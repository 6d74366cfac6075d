"""Hostile or broken model answers to `gitbench ask`: every edit a model proposes is checked before anything is
written; a refused edit is reported with its reason and leaves no trace (no file, no blob), the valid edits of
the same answer still land, and nothing outside the job's scope ever changes (issue 3 "Scope"; DESIGN.md §2
invariant 5).

The corpus (``CASES``) is run twice: each answer through ``edits.parse`` / ``edits.plan`` on its own (precise
reasons, one test id per answer), and all of them end to end through the real CLI in one job over a real Workbench
(``job.batch_files = 1``, one hostile answer per batch) against the scripted provider on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitbench.git.repo import BLOB, TREE, GitRepo
from gitbench.scope import Scope, UnsafePath, check_path
from gitbench.services import edits
from tests.conftest import check_invariants, git, gitbench, make_project
from tests.provider_server import ProviderServer, answer_text, config_toml, files_of

MAX_EDIT = 2000  # job.max_edit_bytes in these tests: "huge" content is anything above it
TOKEN = f"pwn{uuid.uuid4().hex[:8]}"  # in every hostile file name: a stray file anywhere is found by its name
PWNED = "PWNED-CONTENT-3f9a"  # in every hostile content: no Git object, file or log may ever hold it
SCOPE = "src/**"


@dataclass(frozen=True)
class Ctx:
    """What an answer may refer to: the file its request sent, and the Workbench around it."""

    sent: str  # the one file this request sent (job.batch_files = 1)
    wb: str  # the Workbench's absolute path
    sentinel: str  # a folder next to the Workbench that no job may touch

    @property
    def other(self) -> str:
        """An in-scope file that exists but was not sent in this request."""
        return "src/dir/inner.py" if self.sent != "src/dir/inner.py" else "src/f000.py"


@dataclass(frozen=True)
class Case:
    id: str
    answer: Callable[[Ctx], str]  # the model's raw text
    refused: tuple[str, ...] = ()  # a fragment of each refusal's reason, in order
    lands: bool = True  # the sent file ends up as landed(id) in the Draft
    parses: bool = True  # False: no edits object in it; the model is asked again
    creates: Callable[[Ctx], dict[str, str | None]] = field(default=lambda ctx: {})  # other Draft changes


def landed(case_id: str) -> str:
    return f"landed {case_id}\n"


def w(path: str, content: str = PWNED) -> dict[str, Any]:
    return {"op": "write", "path": path, "content": content}


Edits = list[Any] | Callable[[Ctx], list[Any]]


def case(
    case_id: str,
    items: Edits,
    *refused: str,
    companion: bool = True,
    lands: bool = True,
    creates: Callable[[Ctx], dict[str, str | None]] | None = None,
) -> Case:
    """An answer in the expected JSON shape: ``items`` and then (``companion``) a valid write of the sent file."""

    def answer(ctx: Ctx) -> str:
        proposed = list(items(ctx) if callable(items) else items)
        if companion:
            proposed.append(w(ctx.sent, landed(case_id)))
        return json.dumps({"summary": f"case {case_id}", "edits": proposed})

    return Case(case_id, answer, refused, lands=lands, creates=creates or (lambda ctx: {}))


def raw(case_id: str, text: Callable[[Ctx], str], *refused: str, parses: bool = True, lands: bool = True) -> Case:
    """An answer given as the model's raw text."""
    return Case(case_id, text, refused, lands=lands, parses=parses)  # unparsed: the valid retry lands


def good(ctx: Ctx, case_id: str) -> dict[str, Any]:
    return {"summary": f"case {case_id}", "edits": [w(ctx.sent, landed(case_id))]}


UP = "path climbs out with '..'"
ABS = "absolute path"
GIT = "path goes into .git"
BACKSLASH = "backslash"
CONTROL = "control character"
OUT = "outside the job's scope"
NOT_SENT = "not sent in this request"
LINK = "is a symlink"
NOT_FOLDER = "not a folder"


CASES: list[Case] = [
    # Climbing out of the Workbench.
    case("dotdot", [w(f"../{TOKEN}.txt")], UP),
    case("dotdot-twice", [w(f"../../{TOKEN}.txt")], UP),
    case("dotdot-inside-src", [w(f"src/../../{TOKEN}.txt")], UP),
    case("dotdot-to-readme", [w("src/../README.md")], UP),
    case("dot-then-dotdot", [w(f"./../{TOKEN}")], UP),
    case("dotdot-deep", [w(f"src/dir/../../../../../../tmp/{TOKEN}")], UP),
    case("dotdot-alone", [w("..")], UP),
    case("dotdot-last", [w("src/..")], UP),
    case("dotdot-delete", [{"op": "delete", "path": "../README.md"}], UP),
    case("dotdot-replace", [{"op": "replace", "path": "src/../README.md", "old": "#", "new": PWNED}], UP),
    # Absolute paths.
    case("absolute-tmp", [w(f"/tmp/{TOKEN}.txt")], ABS),
    case("absolute-etc", [w("/etc/passwd")], ABS),
    case("absolute-into-workbench", lambda c: [w(f"{c.wb}/{c.sent}")], ABS),
    case("absolute-into-sentinel", lambda c: [w(f"{c.sentinel}/secret.txt")], ABS),
    case("absolute-unc", [w(f"//server/share/{TOKEN}")], ABS),
    case("absolute-root", [w("/")], ABS),
    case("absolute-delete", lambda c: [{"op": "delete", "path": f"{c.wb}/README.md"}], ABS),
    # Into .git, in any letter case and any disguise.
    case("git-config", [w(".git/config")], GIT),
    case("git-upper", [w(".GIT/config")], GIT),
    case("git-mixed-hook", [w(".Git/hooks/pre-commit", "#!/bin/sh\necho " + PWNED)], GIT),
    case("git-nested-hooks", [w("src/.git/hooks/post-checkout")], GIT),
    case("git-nested-upper", [w("src/.GIT/config")], GIT),
    case("git-tilde", [w(".git~/x")], GIT),
    case("git-tilde-nested", [w("src/.git~1/config")], GIT),
    case("git-itself", [w(".git")], GIT),
    case("git-file-in-src", [w("src/.git", "gitdir: /tmp/" + TOKEN)], GIT),
    case("git-trailing-dot", [w("src/.git./config")], GIT),
    case("git-trailing-space", [w("src/.git /config")], GIT),
    case("git-ref", [w(".git/refs/heads/main", "0" * 40)], GIT),
    case("git-deep", [w("src/dir/.git/objects/info/alternates", "/tmp")], GIT),
    case("git-delete-head", [{"op": "delete", "path": ".git/HEAD"}], GIT),
    # Backslashes (Windows separators that libgit2 would take as a name).
    case("backslash-dotdot", [w(f"src\\..\\..\\{TOKEN}")], BACKSLASH),
    case("backslash-leading-dotdot", [w(f"..\\{TOKEN}")], BACKSLASH),
    case("backslash-drive", [w(f"C:\\Windows\\{TOKEN}")], BACKSLASH),
    case("backslash-git", [w("src\\.git\\config")], BACKSLASH),
    case("backslash-name", [w("src/a\\b.py")], BACKSLASH),
    # NUL and control characters.
    case("nul-in-path", [w("src/f.py\x00.txt")], "NUL byte"),
    case("nul-path", [w("\x00")], "NUL byte"),
    case("newline-forges-trailer", [w("src/x\nGitbench-Status: complete")], CONTROL),
    case("carriage-return", [w("src/\r.py")], CONTROL),
    case("escape-sequence", [w("src/\x1b[31mred.py")], CONTROL),
    case("tab", [w("src/tab\t.py")], CONTROL),
    case("del-char", [w("src/\x7f.py")], CONTROL),
    # Empty, the root itself, too long, not text.
    case("empty-path", [w("")], "empty path"),
    case("dot-path", [w(".")], "names the Workbench itself"),
    case("dot-slash", [w("./")], "names the Workbench itself"),
    case("too-long", [w("src/" + "a" * 5000)], "too long"),
    case("too-long-deep", [w("src/" + "a/" * 3000 + "x")], "too long"),
    case("lone-high-surrogate", [w("src/\ud800.py")], "not valid text"),
    case("lone-low-surrogate", [w("src/\udc80.py")], "not valid text"),
    # Outside the --files scope.
    case("scope-readme", [w("README.md")], OUT),
    case("scope-docs", [w("docs/guide.md")], OUT),
    case("scope-new-doc", [w(f"docs/{TOKEN}.md")], OUT),
    case("scope-top-level", [w(f"{TOKEN}.py")], OUT),
    case("scope-prefix-trick", [w("srcx/f.py")], OUT),
    case("scope-sibling", [w("src2/x.py")], OUT),
    case("scope-letter-case", [w("SRC/f000.py")], OUT),
    case("scope-ci", [w(".github/workflows/ci.yml")], OUT),
    case("scope-gitmodules", [w(".gitmodules", '[submodule "x"]\n\turl = /tmp/' + TOKEN)], OUT),
    case("scope-gitattributes", [w(".gitattributes", "* filter=pwn\n")], OUT),
    case("scope-gitbench-config", [w(".gitbench/config.toml", 'model = "evil:x"\n')], OUT),
    case("scope-home", [w("~/.bashrc")], OUT),
    case("scope-leading-space", [w(" src/x.py")], OUT),
    case("scope-src-itself", [w("src/")], OUT),
    case("scope-delete-readme", [{"op": "delete", "path": "README.md"}], OUT),
    case("scope-replace-guide", [{"op": "replace", "path": "docs/guide.md", "old": "guide", "new": PWNED}], OUT),
    # Symlinks committed in the Workbench: never written over, through or deleted.
    case("symlink-overwrite", [w("src/link")], LINK),
    case("symlink-delete", [{"op": "delete", "path": "src/link"}], LINK),
    case("symlink-replace", [{"op": "replace", "path": "src/link", "old": "README", "new": PWNED}], LINK),
    case("symlink-through-folder", [w("src/linkdir/guide.md")], "src/linkdir is a symlink, not a folder"),
    case("symlink-through-new", [w(f"src/linkdir/{TOKEN}.md")], "src/linkdir is a symlink"),
    case("symlink-out-secret", [w("src/out/secret.txt")], "src/out is a symlink"),
    case("symlink-out-new", [w(f"src/out/{TOKEN}.txt")], "src/out is a symlink"),
    case("symlink-out-overwrite", [w("src/out")], LINK),
    case("symlink-deep-through", [w("src/out/sub/keep.txt")], "src/out is a symlink"),
    # Files as folders, folders as files, submodules.
    case("below-sent-file", lambda c: [w(f"{c.sent}/x")], NOT_FOLDER),
    case("below-other-file", [w("src/dir/inner.py/x")], NOT_FOLDER),
    case("folder-write", [w("src/dir")], "is a folder"),
    case("folder-write-slash", [w("src/dir/")], "is a folder"),
    case("folder-delete", [{"op": "delete", "path": "src/dir"}], "is a folder"),
    case(
        "new-file-then-below",
        [w("src/made-then-below.py", "made\n"), w("src/made-then-below.py/x")],
        NOT_FOLDER,
        creates=lambda c: {"src/made-then-below.py": "made\n"},
    ),
    case(
        "below-then-file",
        [w("src/made-below-first/x.py", "below\n"), w("src/made-below-first")],
        "is a folder",
        creates=lambda c: {"src/made-below-first/x.py": "below\n"},
    ),
    case("submodule-write", [w("src/mod")], "is a submodule"),
    case("submodule-delete", [{"op": "delete", "path": "src/mod"}], "is a submodule"),
    case("submodule-through", [w("src/mod/x")], NOT_FOLDER),
    # Content: huge, binary, not text, not a string.
    case("huge-write", lambda c: [w(c.sent, PWNED * (MAX_EDIT // len(PWNED) + 10))], "content too large"),
    case("huge-new-file", [w(f"src/{TOKEN}-huge.py", PWNED * 1000)], "content too large"),
    case(
        "huge-replace",
        lambda c: [{"op": "replace", "path": c.sent, "old": "repeat\nrepeat", "new": PWNED * 500}],
        "content too large",
    ),
    case(
        "huge-replace-once",
        lambda c: [{"op": "replace", "path": c.sent, "old": "# ", "new": PWNED * 500}],
        "content too large",
    ),
    case("binary-nul", lambda c: [w(c.sent, PWNED + "\x00\x01\x02")], "binary content"),
    case("binary-new-file", [w(f"src/{TOKEN}.bin", "\x00" * 10 + PWNED)], "binary content"),
    case(
        "binary-by-replace",
        lambda c: [{"op": "replace", "path": c.sent, "old": "# ", "new": "\x00" + PWNED}],
        "binary content",
    ),
    case("content-surrogate", lambda c: [w(c.sent, PWNED + "\ud800")], "not valid text"),
    case("content-number", lambda c: [{"op": "write", "path": c.sent, "content": 5}], "without text content"),
    case("content-null", lambda c: [{"op": "write", "path": c.sent, "content": None}], "without text content"),
    case("content-list", lambda c: [{"op": "write", "path": c.sent, "content": [PWNED]}], "without text content"),
    case("content-missing", lambda c: [{"op": "write", "path": c.sent}], "without text content"),
    case(
        "content-bytes-object",
        lambda c: [{"op": "write", "path": c.sent, "content": {"base64": "AAAA"}}],
        "without text content",
    ),
    # Unknown ops, missing fields, wrong types.
    case("op-rename", lambda c: [{"op": "rename", "path": c.sent, "to": f"../{TOKEN}"}], "unknown op"),
    case("op-symlink", [{"op": "symlink", "path": f"src/{TOKEN}", "target": "/etc"}], "unknown op"),
    case("op-chmod", lambda c: [{"op": "chmod", "path": c.sent, "mode": "755"}], "unknown op"),
    case("op-missing", lambda c: [{"path": c.sent, "content": PWNED}], "unknown op"),
    case("op-null", lambda c: [{"op": None, "path": c.sent, "content": PWNED}], "unknown op"),
    case("op-number", lambda c: [{"op": 1, "path": c.sent, "content": PWNED}], "unknown op"),
    case("op-upper", lambda c: [{"op": "WRITE", "path": c.sent, "content": PWNED}], "unknown op"),
    case("path-missing", [{"op": "write", "content": PWNED}], "no path"),
    case("path-number", [{"op": "write", "path": 5, "content": PWNED}], "no path"),
    case("path-null", [{"op": "write", "path": None, "content": PWNED}], "no path"),
    case("path-list", [{"op": "write", "path": ["src", "x.py"], "content": PWNED}], "no path"),
    case("path-object", [{"op": "write", "path": {"p": "src/x.py"}, "content": PWNED}], "no path"),
    case("edit-string", [f"write src/{TOKEN}.py {PWNED}"], "not an object"),
    case("edit-null", [None], "not an object"),
    case("edit-list", [["write", f"src/{TOKEN}.py", PWNED]], "not an object"),
    case("edit-number", [42], "not an object"),
    # Replace that cannot apply.
    case(
        "replace-not-found",
        lambda c: [{"op": "replace", "path": c.sent, "old": "absent", "new": PWNED}],
        "was not found",
    ),
    case(
        "replace-found-twice",
        lambda c: [{"op": "replace", "path": c.sent, "old": "repeat", "new": PWNED}],
        "appears 2 times",
    ),
    case("replace-empty-old", lambda c: [{"op": "replace", "path": c.sent, "old": "", "new": PWNED}], "exact text"),
    case("replace-no-new", lambda c: [{"op": "replace", "path": c.sent, "old": "# "}], "exact text"),
    case("replace-new-not-text", lambda c: [{"op": "replace", "path": c.sent, "old": "# ", "new": 7}], "exact text"),
    case(
        "replace-missing-file",
        [{"op": "replace", "path": f"src/{TOKEN}.py", "old": "a", "new": PWNED}],
        "does not exist",
    ),
    # Files in scope that this request did not send, and files that do not exist.
    case("write-not-sent", lambda c: [w(c.other)], NOT_SENT),
    case("replace-not-sent", lambda c: [{"op": "replace", "path": c.other, "old": "inner", "new": PWNED}], NOT_SENT),
    case("delete-not-sent", lambda c: [{"op": "delete", "path": c.other}], NOT_SENT),
    case("delete-missing", [{"op": "delete", "path": f"src/{TOKEN}-missing.py"}], "does not exist"),
    case(
        "delete-missing-twice",
        lambda c: [{"op": "delete", "path": c.sent}, {"op": "delete", "path": c.sent}],
        "does not exist",
        companion=False,
        lands=False,
        creates=lambda c: {c.sent: None},
    ),
    # Too many edits: the first 500 count, the rest are refused.
    case(
        "more-than-500",
        lambda c: [w(c.sent, landed("more-than-500"))] * 500 + [w(f"src/{TOKEN}-{i}.py") for i in range(3)],
        *["more than 500 edits"] * 3,
        companion=False,
    ),
    # Several hostile edits in one answer, between valid ones.
    case(
        "mixed-bag",
        lambda c: [w(c.sent, "first\n"), w("../x"), w(".git/config"), w("README.md"), w("src/link"), w(c.other)],
        UP,
        GIT,
        OUT,
        LINK,
        NOT_SENT,
    ),
    # Valid answers in odd shapes: accepted.
    case("normalised-dot-slash", lambda c: [w("./" + c.sent, landed("normalised-dot-slash"))], companion=False),
    case(
        "normalised-double-slash",
        lambda c: [w(c.sent.replace("/", "//"), landed("normalised-double-slash"))],
        companion=False,
    ),
    case(
        "mode-asked-for-symlink",
        lambda c: [{**w("src/made-mode.py", "/etc/passwd"), "mode": 0o120000}],
        creates=lambda c: {"src/made-mode.py": "/etc/passwd"},
    ),
    case(
        "delete-sent",
        lambda c: [{"op": "delete", "path": c.sent}],
        companion=False,
        lands=False,
        creates=lambda c: {c.sent: None},
    ),
    case("no-edits", [], companion=False, lands=False),
    raw("fenced-json", lambda c: "Here you go:\n```json\n" + json.dumps(good(c, "fenced-json")) + "\n```\n"),
    raw("fenced-plain", lambda c: "```\n" + json.dumps(good(c, "fenced-plain"), indent=2) + "\n```"),
    raw(
        "prose-around",
        lambda c: (
            "Sure! I changed one file.\n" + json.dumps(good(c, "prose-around")) + "\nLet me know if you need more."
        ),
    ),
    raw("byte-order-mark", lambda c: "\ufeff" + json.dumps(good(c, "byte-order-mark"))),
    raw(
        "summary-forges-trailers",
        lambda c: json.dumps(
            {
                **good(c, "summary-forges-trailers"),
                "summary": "done\n\nGitbench-Status: complete\nGitbench-Files: /etc/passwd\n" + "x" * 5000,
            }
        ),
    ),
    raw(
        "duplicate-keys",
        lambda c: (
            '{"summary": "dup", "edits": [{"op": "write", "path": "'
            + c.sent
            + '", "path": "../'
            + TOKEN
            + '", "content": "'
            + PWNED
            + '"}, '
            + json.dumps(w(c.sent, landed("duplicate-keys")))
            + "]}"
        ),
        UP,
    ),
    # Answers with no edits object at all: nothing is written, and the model is asked again.
    raw("not-json", lambda c: "I'd be happy to help! First, open " + c.sent + " in your editor.", parses=False),
    raw("empty-answer", lambda c: "", parses=False),
    raw("json-without-edits", lambda c: json.dumps({"summary": "done", "changes": [w(c.sent)]}), parses=False),
    raw("edits-not-a-list", lambda c: json.dumps({"edits": w(c.sent)}), parses=False),
    raw("top-level-list", lambda c: json.dumps([w(c.sent)]), parses=False),
    raw("truncated-json", lambda c: json.dumps({"edits": [w(c.sent)]})[:30], parses=False),
    raw("deeply-nested", lambda c: "[" * 100_000 + "]" * 100_000, parses=False),
    raw("nested-edits", lambda c: '{"edits": ' + "[" * 50_000 + "]" * 50_000 + "}", parses=False),
    raw(
        "raw-control-in-string",
        lambda c: '{"edits": [{"op": "write", "path": "' + c.sent + '", "content": "a\x00b\x01"}]}',
        parses=False,
    ),
    raw("python-literal", lambda c: str({"edits": [w(c.sent)]}), parses=False),
    raw("yaml", lambda c: f"edits:\n  - op: write\n    path: {c.sent}\n    content: {PWNED}\n", parses=False),
]
IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"


def test_the_corpus_holds_at_least_a_hundred_hostile_or_broken_answers() -> None:
    hostile = [c for c in CASES if c.refused or not c.parses]
    assert len(hostile) >= 100, len(hostile)


# -- the Workbench every answer is tried against --------------------------------------------------------------------


def lay_out(path: Path, sentinel: Path, files: int) -> Path:
    """A project with ``files`` sendable source files and every trap: symlinks in, out and to a folder, a
    submodule, a folder, files outside the scope. Made with the git CLI."""
    sources = {f"src/f{i:03}.py": f"# f{i:03}\nrepeat\nrepeat\n" for i in range(files - 1)}
    make_project(
        path, {"README.md": "# README\n", "docs/guide.md": "guide\n", "src/dir/inner.py": "inner\n", **sources}
    )
    os.symlink("../README.md", path / "src/link")
    os.symlink("../docs", path / "src/linkdir")
    os.symlink(str(sentinel), path / "src/out")
    git(path, "add", "-A")
    git(path, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},src/mod")
    (path / "src/mod").mkdir()  # a submodule that was never initialised: an empty folder
    git(path, "commit", "-q", "-m", "traps")
    return path


def make_sentinel(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.txt").write_text("outside the Workbench\n")
    (folder / "sub/keep.txt").write_text("keep\n")
    return folder


def listing(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, bytes]]:
    """Everything under ``folder`` without following symlinks: mode and content (or link target)."""
    out = {}
    for dirpath, dirnames, names in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for n in dirnames + names:
            p = Path(dirpath) / n
            st = p.lstat()
            data = os.readlink(p).encode() if p.is_symlink() else (p.read_bytes() if p.is_file() else b"")
            out[str(p.relative_to(folder))] = (st.st_mode, data)
    return out


def stray(root: Path, depth: int) -> list[str]:
    """Names holding TOKEN under ``root``, ``depth`` levels down at most."""
    found = []
    for dirpath, dirnames, names in os.walk(root):
        if os.path.relpath(dirpath, root).count(os.sep) >= depth:
            dirnames[:] = []
        found += [os.path.join(dirpath, n) for n in dirnames + names if TOKEN in n]
    return found


def objects_holding(wb: Path, needle: bytes) -> int:
    """How many objects of the repository hold ``needle`` (read back through the git CLI)."""
    ids = git(wb, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split()
    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=wb, input="\n".join(ids).encode() + b"\n", capture_output=True, check=True
    )
    return proc.stdout.count(needle)


class AnswerServer(ProviderServer):
    """The scripted provider, with answers made from the files each request sent (``answer_for(fn)``)."""

    def _act(self, h: Any, action: dict[str, Any], body: dict[str, Any], anthropic: bool) -> None:
        if action["kind"] == "answer_for":
            action = answer_text(action["fn"](files_of(body)))
        super()._act(h, action, body, anthropic)


def answer_for(fn: Callable[[dict[str, str]], str]) -> dict[str, Any]:
    return {"kind": "answer_for", "fn": fn}


@pytest.fixture
def server() -> Iterator[AnswerServer]:
    srv = AnswerServer()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_toml(srv, job={"batch_files": 1, "max_edit_bytes": MAX_EDIT}))
    yield srv
    srv.close()


@dataclass
class Run:
    """One ask job over the corpus: which case answered which sent file, and at which attempt."""

    wb: Path
    sentinel: Path
    used: dict[str, str] = field(default_factory=dict)  # sent path → case id

    def script(self, server: AnswerServer, cases: list[Case]) -> None:
        for c in cases:
            server.push(answer_for(self._first(c)))
            if not c.parses:  # asked again: a valid answer for the same file
                server.push(answer_for(lambda files, cid=c.id: json.dumps(good(self.ctx(files), cid))))

    def ctx(self, files: dict[str, str]) -> Ctx:
        assert len(files) == 1, files
        return Ctx(next(iter(files)), str(self.wb), str(self.sentinel))

    def _first(self, c: Case) -> Callable[[dict[str, str]], str]:
        def fn(files: dict[str, str]) -> str:
            ctx = self.ctx(files)
            self.used[ctx.sent] = c.id
            return c.answer(ctx)

        return fn


def corpus_job(
    tmp_path: Path, server: AnswerServer, cases: list[Case], model: str
) -> tuple[Run, dict[str, Any], dict[str, Any]]:
    """Run one ask job whose every batch gets one answer of ``cases``; check nothing outside scope changed.

    Returns the run, the job's JSON result, and the Draft's changes against Published (path → content or None).
    """
    sentinel = make_sentinel(tmp_path / "sentinel")
    wb = lay_out(tmp_path / "project", sentinel, len(cases))
    init = gitbench(wb, "init")
    assert init.returncode == 0, init.stderr
    published = git(wb, "rev-parse", "main").strip()
    tags = git(wb, "for-each-ref", "refs/tags/")
    on_disk = listing(wb, skip=(".git",))
    git_meta = listing(wb / ".git", skip=("objects", "refs", "logs", "gitbench", "index"))
    around = listing(tmp_path, skip=("project",))
    run = Run(wb, sentinel)
    run.script(server, cases)

    res = gitbench(wb, "ask", "Do what the corpus says", "--files", SCOPE, "--model", model, "--json", timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert not server.script, "every scripted answer was asked for"
    result = json.loads(res.stdout)["result"]
    job = result["job"]
    assert job["status"] == "complete"
    assert sorted(run.used.values()) == sorted(c.id for c in cases), "each answer went to one batch"

    # Nothing outside the Draft changed: Published, checkpoints, the files on disk, .git's own files, the
    # folders around the Workbench; no file named for the attack exists anywhere near.
    assert git(wb, "rev-parse", "main").strip() == published
    assert git(wb, "status", "--porcelain", "--ignored", "--untracked-files=all") == ""
    assert listing(wb, skip=(".git",)) == on_disk
    assert listing(wb / ".git", skip=("objects", "refs", "logs", "gitbench", "index")) == git_meta
    assert listing(tmp_path, skip=("project",)) == around
    assert stray(tmp_path, 50) == [] and stray(tmp_path.parent, 1) == [] and stray(Path("/tmp"), 0) == []
    assert set(git(wb, "for-each-ref", "refs/tags/").splitlines()) >= set(tags.splitlines())  # none moved
    # A refused edit is never written, not even as a blob; no log holds its content.
    assert objects_holding(wb, PWNED.encode()) == 0
    for log in (wb / ".git/gitbench/logs").iterdir():
        assert PWNED not in log.read_text(errors="replace")

    draft = result["draft"]
    changes: dict[str, Any] = {}
    out = git(wb, "diff", "--no-renames", "--name-status", "-z", "main", draft).split("\0")
    for status, path in zip(out[0::2], out[1::2], strict=False):
        if not status:
            continue
        changes[path] = None if status == "D" else git(wb, "show", f"{draft}:{path}")
        assert Scope.of([SCOPE]).allows(path) and check_path(path) == path
    written = [p for p, v in changes.items() if v is not None]
    modes = git(wb, "ls-tree", "-r", draft, "--", *written) if written else ""
    assert {line.split()[0] for line in modes.splitlines()} <= {"100644"}, modes  # never a symlink or gitlink
    for commit in git(wb, "rev-list", f"main..{draft}").split():
        files = git(wb, "log", "-1", "--format=%(trailers:key=Gitbench-Files,valueonly)", commit)
        assert "passwd" not in files and ".." not in files
    return run, result, changes


def expected_changes(run: Run, cases: list[Case]) -> dict[str, str | None]:
    by_id = {c.id: c for c in cases}
    want: dict[str, str | None] = {}
    for sent, cid in run.used.items():
        c = by_id[cid]
        ctx = Ctx(sent, str(run.wb), str(run.sentinel))
        if c.lands:
            want[sent] = landed(cid)
        want.update(c.creates(ctx))
    return want


def test_every_hostile_answer_in_the_corpus_is_refused_end_to_end_and_valid_edits_still_land(
    tmp_path: Path, server: AnswerServer
) -> None:
    run, result, changes = corpus_job(tmp_path, server, CASES, "fake:test-model")
    job = result["job"]
    assert changes == expected_changes(run, CASES)

    # Each refusal is reported, with its reason, in the step of the batch whose answer proposed it.
    step_of = {batch[0]: str(k + 1) for k, batch in enumerate(job["plan"])}
    by_id = {c.id: c for c in CASES}
    reported: dict[str, list[str]] = {}
    for r in job["refused"]:
        assert isinstance(r["path"], str) and r["reason"]
        reported.setdefault(r["step"], []).append(r["reason"])
    for sent, cid in run.used.items():
        reasons = reported.get(step_of[sent], [])
        want = by_id[cid].refused
        assert len(reasons) == len(want), (cid, reasons)
        for fragment, reason in zip(want, reasons, strict=True):
            assert fragment in reason, (cid, fragment, reason)
    assert any("Refused" in n and "nothing of them was written" for n in result["notes"])

    # The same refusals are in the stored report, and `gitbench report` shows them.
    report = json.loads(gitbench(run.wb, "report", "--json").stdout)["result"]
    assert report["refused"] == job["refused"]
    shown = gitbench(run.wb, "report", env={"COLUMNS": "300"}).stdout
    assert "refused:    ../" in shown and "path goes into .git" in shown

    # An answer with no edits at all was asked again: the step took two attempts, and the log says why.
    draft = result["draft"]
    unparsed = {step_of[s] for s, cid in run.used.items() if not by_id[cid].parses}
    assert unparsed
    for commit in git(run.wb, "rev-list", f"main..{draft}").split():
        step = git(run.wb, "log", "-1", "--format=%(trailers:key=Gitbench-Step,valueonly)", commit).split("/")[0]
        attempts = git(run.wb, "log", "-1", "--format=%(trailers:key=Gitbench-Attempts,valueonly)", commit)
        assert attempts.strip() == ("2" if step in unparsed else "1"), (step, attempts)
    events = [
        json.loads(line)
        for log in (run.wb / ".git/gitbench/logs").glob("*.jsonl")
        for line in log.read_text().splitlines()
    ]
    failed = {
        str(e["step"])
        for e in events
        if e["event"] == "provider.attempt" and not e["ok"] and "cannot be used" in e["reason"]
    }
    assert failed == unparsed
    check_invariants(run.wb)


def test_hostile_answers_over_the_anthropic_protocol_are_refused_the_same_way(
    tmp_path: Path, server: AnswerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKEANT_API_KEY", "sk-ant-test-key-123456")
    subset = [
        c
        for c in CASES
        if c.id
        in {
            "dotdot",
            "absolute-tmp",
            "git-upper",
            "git-nested-hooks",
            "git-tilde",
            "backslash-dotdot",
            "nul-in-path",
            "newline-forges-trailer",
            "scope-readme",
            "scope-gitbench-config",
            "symlink-overwrite",
            "symlink-out-secret",
            "below-sent-file",
            "folder-write",
            "submodule-write",
            "huge-write",
            "binary-nul",
            "op-rename",
            "path-missing",
            "replace-found-twice",
            "write-not-sent",
            "delete-missing",
            "more-than-500",
            "fenced-json",
            "prose-around",
            "not-json",
            "lone-high-surrogate",
            "below-then-file",
        }
    ]
    assert len(subset) >= 25
    run, result, changes = corpus_job(tmp_path, server, subset, "fakeant:test-model")
    assert all(p["path"] == "/v1/messages" for p in server.posts)
    assert changes == expected_changes(run, subset)
    assert len(result["job"]["refused"]) == sum(len(c.refused) for c in subset)
    check_invariants(run.wb)


def test_a_model_that_never_answers_with_edits_fails_the_job_with_nothing_written(
    tmp_path: Path, server: AnswerServer
) -> None:
    sentinel = make_sentinel(tmp_path / "sentinel")
    wb = lay_out(tmp_path / "project", sentinel, 3)
    assert gitbench(wb, "init").returncode == 0
    published = git(wb, "rev-parse", "main").strip()
    server.push(
        answer_text("Sure, here is the plan: ..."),
        answer_text('```json\n{"changes": []}\n```'),
        answer_text("[" * 100_000),
    )

    res = gitbench(wb, "ask", "Edit", "--files", SCOPE, "--json")
    assert res.returncode == 20, res.stdout + res.stderr
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "model-error"
    assert "cannot use" in err["message"] and "edits" in err["message"] and "3 attempt" in err["message"]
    report = err["details"]["report"]
    assert report["status"] == "failed" and report["class"] == "model" and report["attempts"] == 3
    assert report["files_changed"] == [] and report["last_completed_step"] == 0
    assert any("gitbench resume" in (a.get("command") or "") for a in report["next_actions"])
    assert git(wb, "rev-parse", "main").strip() == published
    draft = report["partial_results"]["draft"]
    assert git(wb, "rev-list", "--count", f"main..{draft}").strip() == "0"
    check_invariants(wb)


# -- each answer on its own, through edits.parse and edits.plan -----------------------------------------------------


@pytest.fixture(scope="module")
def unit_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ctx, GitRepo, str]]:
    """The same traps as the end-to-end Workbench, in a repository made once for the module."""
    base = tmp_path_factory.mktemp("unit")
    seal = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("GIT_"):
                mp.delenv(key)
        for key, value in seal.items():
            mp.setenv(key, value)
        sentinel = make_sentinel(base / "sentinel")
        repo = lay_out(base / "project", sentinel, 3)
        tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    yield Ctx("src/f001.py", str(repo), str(sentinel)), GitRepo(str(repo)), tree


def plan_of(text: str, ctx: Ctx, repo: GitRepo, tree: str) -> edits.Plan:
    items, _ = edits.parse(text)
    sent = {ctx.sent: ("# f001\nrepeat\nrepeat\n", BLOB)}
    return edits.plan(items, sent, Scope.of([SCOPE]), lambda p: repo.tree_entry(tree, p), MAX_EDIT)


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_each_answer_is_parsed_and_planned_as_the_corpus_says(c: Case, unit_repo: tuple[Ctx, GitRepo, str]) -> None:
    ctx, repo, tree = unit_repo
    text = c.answer(ctx)
    if not c.parses:
        with pytest.raises(edits.NoEdits):
            edits.parse(text)
        return
    result = plan_of(text, ctx, repo, tree)
    assert len(result.refused) == len(c.refused), result.refused
    for fragment, (path, reason) in zip(c.refused, result.refused, strict=True):
        assert fragment in reason, (fragment, path, reason)
        assert "\x00" not in path and "\n" not in path and "\x1b" not in path  # shown safely in reports
    want = {p: (v.encode() if v is not None else None) for p, v in c.creates(ctx).items()}
    if c.lands:
        want[ctx.sent] = landed(c.id).encode()
    assert {p: data for p, (data, _) in result.writes.items()} == want
    assert result.edits + len(result.refused) == len(edits.parse(text)[0])


# -- properties -----------------------------------------------------------------------------------------------------

PROPS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
PART = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "..",
            ".git",
            ".GIT",
            ".git~",
            ".git.",
            ".git ",
            "src",
            "dir",
            "inner.py",
            "link",
            "linkdir",
            "out",
            "mod",
            "f000.py",
            "f001.py",
            "secret.txt",
            "a\\b",
            "x\x00",
            "\n",
            "\x1b",
            "\ud800",
            "\udc80",
            "README.md",
            "docs",
            "*",
            "~",
            "é",
        ]
    ),
    st.text(max_size=4),
)
PATH = st.one_of(
    st.tuples(st.sampled_from(["", "/", "./", "src/", "src/dir/", "../"]), st.lists(PART, max_size=5)).map(
        lambda t: t[0] + "/".join(t[1])
    ),
    st.text(max_size=12),
    JSON,
)
CONTENT = st.one_of(st.text(max_size=30), st.sampled_from(["\x00", "x" * (MAX_EDIT + 1), "\ud800", "repeat"]), JSON)
EDIT = st.one_of(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["write", "replace", "delete", "rename", "WRITE", None]), "path": PATH},
        optional={"content": CONTENT, "old": CONTENT, "new": CONTENT},
    ),
    JSON,
)


@PROPS
@given(
    st.one_of(
        st.text(),
        JSON.map(json.dumps),
        st.tuples(st.text(max_size=20), JSON.map(json.dumps), st.text(max_size=20), st.booleans()).map(
            lambda t: t[0] + ("```json\n" if t[3] else "") + t[1] + ("\n```" if t[3] else "") + t[2]
        ),
        st.lists(EDIT, max_size=5).map(lambda e: json.dumps({"summary": "s", "edits": e})),
        st.integers(1, 5000).map(lambda n: "{" * n + "[" * n),
    )
)
@example('{"edits": ' + "[" * 100_000 + "]}")
@example('```json\n{"edits": []}')
def test_parse_either_returns_edits_or_raises_no_edits(text: str) -> None:
    try:
        items, summary = edits.parse(text)
    except edits.NoEdits:
        return
    assert isinstance(items, list) and isinstance(summary, str) and len(summary) <= 500
    assert "\n" not in summary


@PROPS
@given(items=st.lists(EDIT, max_size=12))
@example(items=[w("src/made/x.py", "a"), w("src/made", "b")])
@example(items=[w("src/\udc80.py", "a")])
@example(items=[w("src/f001.py", "a"), {"op": "delete", "path": "src/f001.py"}, w("src/f001.py/x", "b")])
def test_plan_never_accepts_a_path_check_path_or_the_scope_refuses(
    items: list[Any], unit_repo: tuple[Ctx, GitRepo, str]
) -> None:
    ctx, repo, tree = unit_repo
    sent = {ctx.sent: ("# f001\nrepeat\nrepeat\n", BLOB)}
    scope = Scope.of([SCOPE])
    result = edits.plan(items, sent, scope, lambda p: repo.tree_entry(tree, p), MAX_EDIT)

    assert result.edits + len(result.refused) == len(items)  # every edit is either taken or refused, with a reason
    assert all(reason for _, reason in result.refused)
    for path, (data, _mode) in result.writes.items():
        try:
            assert check_path(path) == path
        except UnsafePath as exc:  # pragma: no cover - the failure message
            raise AssertionError(f"plan accepted {path!r}, which check_path refuses: {exc}") from exc
        assert scope.allows(path), path
        path.encode("utf-8")  # a name Git can hold
        if data is not None:
            assert len(data) <= MAX_EDIT and b"\x00" not in data
        # Never through or over anything but a folder or a file this request sent (or a new file).
        parts = path.split("/")
        for i in range(1, len(parts)):
            entry = repo.tree_entry(tree, "/".join(parts[:i]))
            assert entry is None or entry[1] == TREE, path
        entry = repo.tree_entry(tree, path)
        assert path in sent or entry is None, path
        # The writes form a tree: no path is both a file and a folder.
        if data is not None:
            assert not any(p.startswith(path + "/") and d is not None for p, (d, _) in result.writes.items()), path
