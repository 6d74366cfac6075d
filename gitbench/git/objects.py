"""Tree entries as values: a ``Mode`` (what kind of thing a path is) and an ``Entry`` (its object and mode).

git-revise's object model is the example: code above the Git layer asks ``entry.mode is Mode.SYMLINK``, never
``entry[1] == 0o120000``. Both are immutable values with Git's own numbers, so they compare, hash and write to
JSON (a journal's ``[oid, mode]`` pair) exactly as the plain tuples they replace. No pygit2 here: importing the
names costs nothing.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Mode(IntEnum):
    """A tree entry's file mode, as Git writes it."""

    TREE = 0o040000  # a folder
    REGULAR = 0o100644  # a file
    EXECUTABLE = 0o100755  # a file with the executable bit
    SYMLINK = 0o120000  # the blob holds the link's target
    GITLINK = 0o160000  # a submodule: the id is a commit of another repository

    @classmethod
    def of(cls, value: int) -> Mode:
        """The mode of a raw number, normalised as libgit2 and Git do (``0o100664`` of an old Git is a file)."""
        found = _BY_VALUE.get(value)
        return found if found is not None else cls(value)

    @classmethod
    def _missing_(cls, value: object) -> Mode | None:
        if not isinstance(value, int):
            return None
        kind = value & 0o170000
        if kind == cls.TREE:
            return cls.TREE
        if value & 0o111 and kind == 0o100000:
            return cls.EXECUTABLE
        return {0o160000: cls.GITLINK, 0o120000: cls.SYMLINK, 0o100000: cls.REGULAR}.get(kind)

    @property
    def is_file(self) -> bool:
        """A file's content, executable or not (not a symlink, a folder or a submodule)."""
        return self in (Mode.REGULAR, Mode.EXECUTABLE)

    @property
    def is_blob(self) -> bool:
        """Stored as a blob: a file or a symlink (a submodule's commit and a folder are not in this repository's
        blobs)."""
        return self in (Mode.REGULAR, Mode.EXECUTABLE, Mode.SYMLINK)

    def same_kind(self, other: Mode) -> bool:
        """Of one file type (a file, executable or not, is one): a change of kind is a delete and an add."""
        return self.is_file and other.is_file or self is other


_BY_VALUE: dict[int, Mode] = {m.value: m for m in Mode}


class Entry(NamedTuple):
    """One path's object in a tree (or the index): its id (hex) and mode."""

    oid: str
    mode: Mode

    @classmethod
    def of(cls, oid: object, mode: object) -> Entry:
        """An entry from raw values (a journal's JSON pair, libgit2's numbers)."""
        return cls(str(oid), Mode.of(int(mode)))  # type: ignore[call-overload]

    @classmethod
    def file(cls, oid: str, executable: bool = False) -> Entry:
        return cls(oid, Mode.EXECUTABLE if executable else Mode.REGULAR)
