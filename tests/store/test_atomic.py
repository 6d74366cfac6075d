"""gitbench/store/atomic.py: a small file is the old one or the new one, never half of either."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitbench.store import atomic


def test_write_json_creates_folders_and_reads_back(tmp_path: Path) -> None:
    path = str(tmp_path / "a" / "b" / "state.json")
    atomic.write_json(path, {"b": 1, "a": [1, 2]})
    assert atomic.read_json(path) == {"a": [1, 2], "b": 1}
    assert os.listdir(tmp_path / "a" / "b") == ["state.json"]  # no temp file left


def test_a_missing_or_torn_file_reads_as_none(tmp_path: Path) -> None:
    assert atomic.read_json(str(tmp_path / "missing.json")) is None
    (tmp_path / "torn.json").write_text('{"a": 1')
    assert atomic.read_json(str(tmp_path / "torn.json")) is None


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    atomic.write_json(str(path), {"v": 1})
    with pytest.raises(TypeError):
        atomic.write_json(str(path), {"v": object()})  # fails before anything is written
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(OSError):
        atomic.write_bytes(str(tmp_path / "dir.json"), b"x")  # the rename fails: a folder is in the way
    assert atomic.read_json(str(path)) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["dir.json", "state.json"]


def test_rewrite_in_place_only_when_the_new_text_fits_the_file_blocks(tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    assert atomic.rewrite_in_place(str(path), {"a": 1}) is False  # no such file: nothing to rewrite
    atomic.write_json(str(path), {"a": 1})
    inode = path.stat().st_ino
    assert atomic.rewrite_in_place(str(path), {"a": 2}) is True
    assert atomic.read_json(str(path)) == {"a": 2} and path.stat().st_ino == inode  # the same file, rewritten
    blocks = path.stat().st_blocks * 512
    assert atomic.rewrite_in_place(str(path), {"a": "x" * (blocks + 1)}) is False
    assert atomic.read_json(str(path)) == {"a": 2}
