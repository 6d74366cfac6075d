"""``dataclass`` whose ``__repr__`` and ``__eq__`` (and a frozen class's ``__hash__``) are made when first used.

Python 3.11's ``@dataclass`` writes the source of ``__init__``, ``__repr__`` and ``__eq__`` for each class and
compiles it, at every start of every process: ~0.5 ms a class, ~15 ms for the forty classes a job imports, most
of which never print or compare an instance. Here ``__init__`` is made as always; ``__repr__`` and ``__eq__``
are made by the standard ``dataclass`` itself (the same code, the same behaviour) on first use, which is what
``repr``, ``==``, ``hash`` and anything that looks the method up on the class (``inspect``, ``functools``)
trigger. As with ``dataclass``, a class is unhashable unless frozen (then its hash is that of its fields). Any
option but ``frozen`` (``order``, ``unsafe_hash``, ``slots``, ``eq=False``, ...) gets the standard ``dataclass``
as it is.

Type checkers see the standard ``dataclass`` (the name is re-exported under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:

    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        def wrap(cls: type) -> type:
            frozen = options.get("frozen", False)
            if set(options) - {"frozen"}:  # anything else: as the standard library makes it
                return dataclasses.dataclass(**options)(cls)
            own = cls.__dict__
            made = dataclasses.dataclass(repr=False, eq=False, frozen=frozen)(cls)
            if "__repr__" not in own:
                made.__repr__ = _Later(made, "__repr__")
            if "__eq__" not in own:
                made.__eq__ = _Later(made, "__eq__")
                if "__hash__" not in own:  # as ``dataclass`` does for a class it gives ``__eq__``:
                    # frozen, a hash of the fields; else none (unhashable)
                    made.__hash__ = _Later(made, "__hash__") if frozen else None
            return made

        return wrap if cls is None else wrap(cls)


class _Later:
    """A method of ``cls`` the standard ``dataclass`` makes when it is first looked up; it then replaces this."""

    def __init__(self, cls: type, name: str) -> None:
        self.cls, self.name = cls, name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        method = _made(self.cls, self.name)
        setattr(self.cls, self.name, method)
        return method if instance is None else method.__get__(instance, owner)


def _made(cls: Any, name: str) -> Any:
    """``cls``'s ``__repr__``, ``__eq__`` or ``__hash__`` as ``@dataclass`` writes it: made on a stand-in class
    that has the same fields (what those methods read), no ``__init__``. They read the instance's class when they
    run, never the class they were made on, so they serve ``cls`` as if made for it."""
    fields = dataclasses.fields(cls)
    namespace: dict[str, Any] = {
        "__annotations__": {f.name: f.type for f in fields},
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
    }
    for f in fields:
        namespace[f.name] = dataclasses.field(repr=f.repr, compare=f.compare, hash=f.hash)
    frozen = cls.__dataclass_params__.frozen
    stand_in: Any = dataclasses.dataclass(init=False, repr=True, eq=True, frozen=frozen)(
        type(cls.__name__, (), namespace)
    )
    return stand_in.__dict__[name]
