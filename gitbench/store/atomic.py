"""Atomic small files: write a temp file, fsync, rename; read back tolerant of a torn or missing file."""

from __future__ import annotations

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


def write_json(path: str, data: Any) -> None:
    write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def read_json(path: str) -> Any | None:
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return None
