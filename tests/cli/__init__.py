"""Tests of gitbench/cli/, in-process: the mirror of the package."""
