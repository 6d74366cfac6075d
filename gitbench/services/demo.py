"""`gitbench demo`: a throw-away Workbench and a real job, end to end, offline.

It yields lines of text (events) for the CLI to print; it never prints itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

from gitbench import events
from gitbench.model import CheckpointKind
from gitbench.services import checkpoints, commands, init, publish, restore, review
from gitbench.services.workbench import Workbench

GREET = """def greet(name):
    return "Hello, " + name + "!"


def shout(name):
    return greet(name).upper()
"""

# The "AI" of the demo: a real program, run as a job in the Draft's folder, that edits files in its scope.
EDIT = r'''
import pathlib
p = pathlib.Path("src/greet.py")
text = p.read_text()
text = text.replace("def greet(name):", 'def greet(name: str) -> str:\n    """Say hello to someone."""')
text = text.replace("def shout(name):", 'def shout(name: str) -> str:\n    """Say hello, loudly."""')
p.write_text(text)
pathlib.Path("src/CHANGES.md").write_text("- greet and shout have type hints and docstrings\n")
print("edited src/greet.py, wrote src/CHANGES.md")
'''


def _ask(wb: Workbench, folder: str) -> Iterator[str]:
    """A Workshop job on a model: the demo's own, over real HTTP on 127.0.0.1 (it rate-limits once)."""
    from gitbench.services import ask, chat
    from gitbench.services.demo_model import DemoModel

    yield (
        "$ gitbench ask \"Add a module docstring\" --files 'src/**/*.py' --model demo:offline"
        "     (a model job; the demo's model runs on 127.0.0.1)"
    )
    lines: list[str] = []
    with DemoModel() as model:
        res = ask.ask(
            wb,
            "Add a module docstring",
            ["src/**/*.py"],
            "demo:offline",
            progress=lambda event: lines.append("  · " + events.describe(event)),
            config=model.config,
        )
    yield from lines
    yield "  " + res.summary
    if res.job is not None:
        j = res.job
        yield ""
        yield f"$ gitbench report {j.id}"
        yield (
            f"  {j.status}: {j.steps_completed} step(s), {len(j.files_changed)} file(s), model(s) "
            f"{', '.join(j.models)}, {j.attempts} attempt(s) (one retried after a 429), usage estimate "
            f"{j.usage_estimate} tokens, actual {j.usage_actual}"
        )
    yield ""
    yield "$ gitbench publish"
    pub = publish.publish(wb)
    yield f"  {pub.summary} Checkpoint: {', '.join(pub.checkpoints)}"
    yield ""
    yield "$ gitbench chat     (the conversation, with each publish checkpoint and how to go back to it)"
    for item in chat.show(wb)["items"]:
        if item["type"] == "checkpoint":
            yield f"  ── {item['name']} published · restore: {item['restore']}"
        else:
            yield f"  {'you' if item.get('role') == 'user' else item.get('model')}: {item.get('text')}"
    yield ""


def run(clean: bool = False) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="gitbench-demo-")
    os.makedirs(os.path.join(folder, "src"))
    with open(os.path.join(folder, "src", "greet.py"), "w") as fh:
        fh.write(GREET)
    with open(os.path.join(folder, "README.md"), "w") as fh:
        fh.write("# demo project\n")
    yield f"$ gitbench init {folder}"
    yield "  " + init.init(folder).summary
    wb = Workbench(folder)
    yield ""
    yield "$ gitbench exec --files 'src/**' -- python edit.py     (a real job: a program edits files in a Draft)"
    res = commands.run_exec(wb, [sys.executable, "-c", EDIT], ["src/**"], "Add type hints and docstrings")
    yield "  " + res.summary
    job_id = res.job.id if res.job else ""
    yield ""
    yield "$ gitbench review --patch"
    rv = review.review(wb, patch=True)
    for f in rv.files:
        yield f"  {f.status:<9} {f.path}  +{f.insertions} -{f.deletions}"
    for line in (rv.patch or "").splitlines()[:14]:
        yield "  | " + line
    yield ""
    yield "$ gitbench publish"
    pub = publish.publish(wb)
    yield f"  {pub.summary} Checkpoint: {', '.join(pub.checkpoints)}"
    yield ""
    yield "$ gitbench checkpoints"
    for cp in checkpoints.history(wb):
        yield f"  {cp.name:<29} {cp.kind:<12} {cp.message}"
    before = next(cp for cp in checkpoints.history(wb) if cp.kind == CheckpointKind.AUTO)
    yield ""
    yield f"$ gitbench restore {before.name} --yes     (go back in time to before the job)"
    back = restore.restore(wb, before.name)
    yield "  " + back.summary
    with open(os.path.join(folder, "src", "greet.py")) as fh:
        yield "  src/greet.py now starts with: " + fh.readline().strip()
    yield ""
    yield f"$ gitbench restore {back.checkpoints[0]} --yes     (undo the restore)"
    yield "  " + restore.restore(wb, back.checkpoints[0]).summary
    with open(os.path.join(folder, "src", "greet.py")) as fh:
        yield "  src/greet.py now starts with: " + fh.readline().strip()
    yield ""
    yield from _ask(wb, folder)
    if clean:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        yield "Removed the demo Workbench."
        return
    yield "See it all with plain Git:"
    yield f"  cd {folder}"
    yield "  git log --format='%h %s%n%(trailers)' main"
    yield "  git tag -n9 -l 'checkpoint/*'"
    yield f"  git show refs/gitbench/records:jobs/{job_id}.json"
    yield "  git show refs/gitbench/records:chat/current.json"
    yield "  gitbench status; gitbench log; gitbench checkpoints"
    yield f"(The demo Workbench stays in {folder}; delete it when you are done.)"
