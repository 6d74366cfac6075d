"""Atomic small files: write a temp file, fsync, rename; read back tolerant of a torn or missing file."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any


def write_bytes(path: str, data: bytes, fsync: bool = True) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)  # readers see the old file or the new one, never a half-written one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_bytes(path: str, data: bytes) -> None:
    """Append ``data`` to the file ``path`` (made if missing) and fsync it. A write that fails part way (a full
    disk) is taken back: the file ends where it did, not with half of ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):  # if it cannot be taken back, the reader stops at the last whole line
                os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)


def read_bytes(path: str) -> bytes:
    """The file's bytes; none if it does not exist (any other failure to read it is raised)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return b""


def write_json(path: str, data: Any) -> None:
    write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def rewrite_in_place(path: str, data: Any) -> bool:
    """Overwrite the small JSON file ``path`` in place, only if the new text fits in the blocks it already has:
    on a full disk a new file (a temp file to rename) gets no block, but an existing file's block takes new
    bytes. Not atomic against a power cut (readers take a torn file as missing), so only for what would
    otherwise be lost: a job's end when the disk is full. False: not written (no such file, no room, an error)."""
    raw = (json.dumps(data, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if len(raw) > st.st_blocks * 512:
            return False
        os.pwrite(fd, raw, 0)
        os.ftruncate(fd, len(raw))
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def read_json(path: str) -> Any | None:
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return None
