"""gitbench: safe, reviewable, reversible AI edits, using nothing but Git."""

__version__ = "0.1.0"
