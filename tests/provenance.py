"""A file written by three jobs with two models, and by hand: the history `why` and `export agent-trace` read.

Built through the real CLI: an agent job (``gitbench exec -- claude --model claude-sonnet-4-5 ...``, where
``claude`` is a small script on PATH that edits the file, so gitbench identifies it as Claude Code), a hand
edit committed with plain ``git commit`` on main, and two Workshop jobs (``gitbench ask``) against the scripted
provider on 127.0.0.1, the second left open as a Draft.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import provider_server as ps
from tests.conftest import git, gitbench, make_project
from tests.provider_server import ProviderServer

APP = 'def greet(name):\n    return "hello " + name\n\n\ndef main():\n    print(greet("world"))\n'
CLAUDE_MODEL = "claude-sonnet-4-5"
PROMPT_B = "Add a farewell function"
PROMPT_C = "Have main say farewell too"

# The fake Claude Code: edits src/app.py the way the real one would, through the file system.
CLAUDE = """import pathlib
app = pathlib.Path("src/app.py")
app.write_text(app.read_text().replace('    return "hello " + name\\n',
                                       '    message = "hi " + name\\n    return message\\n'))
"""


def replace(old: str, new: str) -> ps.Answer:
    def answer(files: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        return {"summary": "Done.", "edits": [{"op": "replace", "path": "src/app.py", "old": old, "new": new}]}

    return answer


@dataclass
class History:
    wb: Path
    initial: str  # the commit make_project made (by hand)
    job_a: dict[str, Any]  # the claude exec job's record
    commit_a: str
    hand: str  # the hand edit's commit
    job_b: dict[str, Any]
    commit_b: str
    job_c: dict[str, Any]  # left open as a Draft
    commit_c: str
    draft_c: str  # its label
    env: dict[str, str]


def ok(res: Any) -> dict[str, Any]:
    assert res.returncode == 0, res.stdout + res.stderr
    data: dict[str, Any] = json.loads(res.stdout)["result"]
    return data


def fake_claude(tmp_path: Path, code: str = CLAUDE) -> dict[str, str]:
    """A `claude` program on PATH that runs the Python ``code``: the environment to run jobs with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "claude"
    script.write_text(f"#!{sys.executable}\n{code}")
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def build(tmp_path: Path, provider: ProviderServer) -> History:
    wb = make_project(tmp_path / "project", {"README.md": "# project\n", "src/app.py": APP})
    assert gitbench(wb, "init").returncode == 0
    initial = git(wb, "rev-parse", "main").strip()
    env = fake_claude(tmp_path)

    # Job A: Claude Code with its model named by its flag.
    job_a = ok(
        gitbench(
            wb, "exec", "--json", "--files", "src/**", "--", "claude", "--model", CLAUDE_MODEL, "-p", "Say hi", env=env
        )
    )["job"]
    commit_a = git(wb, "rev-parse", job_a["draft"]).strip()
    ok(gitbench(wb, "publish", "--json"))

    # By hand: plain git on main (no Draft is open, so the hooks let it through).
    app = wb / "src" / "app.py"
    app.write_text(app.read_text().replace("def greet(name):", "def greet(name: str) -> str:"))
    git(wb, "commit", "-q", "-am", "Type greet by hand")
    hand = git(wb, "rev-parse", "main").strip()

    # Job B: a Workshop prompt to the scripted model; published.
    provider.push(
        ps.ok(
            replace(
                '    print(greet("world"))\n',
                '    print(greet("world"))\n\n\ndef farewell(name: str) -> str:\n    return "bye " + name\n',
            )
        )
    )
    job_b = ok(gitbench(wb, "ask", PROMPT_B, "--files", "src/app.py", "--json"))["job"]
    commit_b = git(wb, "rev-parse", job_b["draft"]).strip()
    ok(gitbench(wb, "publish", "--json"))

    # Job C: the next prompt of the conversation, left open as a Draft.
    provider.push(ps.ok(replace('    print(greet("world"))\n', '    print(greet("world"), farewell("world"))\n')))
    job_c = ok(gitbench(wb, "ask", PROMPT_C, "--files", "src/app.py", "--json"))["job"]
    commit_c = git(wb, "rev-parse", job_c["draft"]).strip()
    label = job_c["draft"].rsplit("/", 1)[1]
    return History(wb, initial, job_a, commit_a, hand, job_b, commit_b, job_c, commit_c, label, env)
