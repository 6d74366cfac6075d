"""Generated repositories for the benchmark, made with the git CLI only.

One commit written by ``git fast-import`` (the quickest way to a 100k-file history), then ``git reset --hard``
to check the files out. Files are spread over nested folders, 100 files a folder:

    README.md
    src/m<NN>/p<NN>/f<NN>.txt      (folder index = file // 100: m = folder // 100, p = folder % 100)

so 1k files are 10 folders under ``src/m00``, 100k files are 10 × 100 folders. Every file has distinct
content (a few lines, ~150 bytes), so every file is its own blob, as in a real project.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

AUTHOR = "Bench <bench@example.invalid> 1767225600 +0000"

# The ten files a job changes: one folder's first ten files. The glob matches exactly these.
STEP_FOLDER = "src/m00/p00"
STEP_GLOB = "src/m00/p00/f0?.txt"
STEP_FILES = [f"{STEP_FOLDER}/f{i:02d}.txt" for i in range(10)]


def file_path(i: int) -> str:
    folder = i // 100
    return f"src/m{folder // 100:02d}/p{folder % 100:02d}/f{i % 100:02d}.txt"


def file_content(i: int) -> bytes:
    return (
        f"// generated file {i}\n"
        f"value_{i} = {i * 7919 % 100003}\n"
        "def helper(x):\n"
        "    return x * 2 + 1\n"
        f"# end of file {i}\n"
    ).encode()


def _stream(files: int) -> Iterator[bytes]:
    message = f"generated repository: {files} files\n".encode()
    yield b"commit refs/heads/main\n"
    yield f"author {AUTHOR}\ncommitter {AUTHOR}\n".encode()
    yield b"data %d\n" % len(message) + message
    readme = f"# bench repository\n\n{files} generated files.\n".encode()
    yield b"M 100644 inline README.md\ndata %d\n" % len(readme) + readme + b"\n"
    for i in range(files):
        data = file_content(i)
        yield b"M 100644 inline %s\ndata %d\n" % (file_path(i).encode(), len(data)) + data + b"\n"
    yield b"done\n"


def generate(path: str, files: int, env: dict[str, str]) -> None:
    """A fresh repository at ``path`` with ``files`` generated files committed on main and checked out."""
    os.makedirs(path)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True, env=env)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=path, stdin=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    buf: list[bytes] = []
    size = 0
    for chunk in _stream(files):
        buf.append(chunk)
        size += len(chunk)
        if size > 1 << 20:
            proc.stdin.write(b"".join(buf))
            buf, size = [], 0
    proc.stdin.write(b"".join(buf))
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed in {path}")
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True, env=env)
    # A first `git status` refreshes the index (racily clean entries right after the checkout), as it would be
    # for any user who has looked at their repository once.
    subprocess.run(["git", "status", "--porcelain"], cwd=path, check=True, env=env, capture_output=True)
