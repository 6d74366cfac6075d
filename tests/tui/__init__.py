"""Tests of gitbench/tui/, in-process (Textual headless): the mirror of the package."""
