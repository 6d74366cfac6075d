"""Tests of gitbench/integrations/, in-process: the mirror of the package."""
