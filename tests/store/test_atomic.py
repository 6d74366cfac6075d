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


def test_an_append_that_fails_part_way_is_taken_back(tmp_path: Path) -> None:
    # A real short write: the process may not make files over 40 bytes (RLIMIT_FSIZE), so the append of 60
    # bytes to a 30-byte file writes 10 of them and fails (EFBIG), as a full disk would.
    import subprocess
    import sys

    path = tmp_path / "runs.log"
    path.write_bytes(b"x" * 29 + b"\n")
    script = (
        "import resource, signal, sys\n"
        "from gitbench.store import atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (40, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    atomic.append_bytes(sys.argv[1], b'y' * 59 + b'\\n')\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    res = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == str(__import__("errno").EFBIG), res.stdout + res.stderr
    assert path.read_bytes() == b"x" * 29 + b"\n"  # the 10 bytes written are taken back
    atomic.append_bytes(str(path), b"z\n")
    assert path.read_bytes() == b"x" * 29 + b"\nz\n"


def test_read_bytes_of_a_missing_file_is_empty_and_other_failures_are_raised(tmp_path: Path) -> None:
    assert atomic.read_bytes(str(tmp_path / "missing")) == b""
    assert atomic.read_bytes(str(tmp_path / "missing" / "below")) == b""
    with pytest.raises(IsADirectoryError):
        atomic.read_bytes(str(tmp_path))
