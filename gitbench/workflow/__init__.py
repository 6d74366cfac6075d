"""The workflow engine: modules declared in `.gitbench/workflow.yaml`, run as one job into the Draft.

spec (the file; order.py: dependencies first) → resolver (artifacts and module states, from the files) →
scheduler (what may run now, and why the rest may not) → engine (a run from start to end: claims.py claims and
settles after a crash, loop.py is the scheduler loop, runners/ runs each kind of module, steps.py commits each
finished module as a step; caches.py and incremental.py answer a status quickly). State that only speeds things up or
remembers operator choices lives in `.git/gitbench/workflow/engine/` (state.py: state.json, runs.log,
definition.json); deleting it loses nothing the modules and artifacts cannot rebuild.
"""
