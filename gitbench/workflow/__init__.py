"""The workflow engine: modules declared in `.gitbench/workflow.yaml`, run as one job into the Draft.

spec (the file) → resolver (artifacts and module states, from the files) → scheduler (what may run now, and
why the rest may not) → engine (claim, run, record; resume after a crash). State that only speeds things up or
remembers operator choices lives in `.git/gitbench/workflow/engine/state.json`; deleting it loses nothing the
modules and artifacts cannot rebuild.
"""
