"""`gitbench demo`: a throw-away Workbench and a real job, end to end, offline.

It yields lines of text (events) for the CLI to print; it never prints itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

from gitbench.services import checkpoints, init, jobs, publish, restore, review
from gitbench.services.workbench import Workbench

GREET = '''def greet(name):
    return "Hello, " + name + "!"


def shout(name):
    return greet(name).upper()
'''

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
    res = jobs.run_exec(wb, [sys.executable, "-c", EDIT], ["src/**"], "Add type hints and docstrings")
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
        yield f"  {cp.name:<14} {cp.kind:<12} {cp.message}"
    before = next(cp for cp in checkpoints.history(wb) if cp.kind == "auto")
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
    yield "  gitbench status; gitbench log; gitbench checkpoints"
    yield f"(The demo Workbench stays in {folder}; delete it when you are done.)"
