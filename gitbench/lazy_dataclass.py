"""``dataclass`` whose ``__init__``, ``__repr__`` and ``__eq__`` (and a frozen class's ``__hash__``) are made when
first used.

Python 3.11's ``@dataclass`` writes the source of ``__init__``, ``__repr__`` and ``__eq__`` for each class and
compiles it, at every start of every process: ~0.5 ms a class, ~15 ms for the forty classes a job imports, most
of which are never made, printed or compared in a given process. Here each of those methods is made by the
standard ``dataclass`` itself (the same code, the same behaviour) on first use, which is what making an
instance, ``repr``, ``==``, ``hash`` and anything that looks the method up on the class (``inspect.signature``,
``functools``, a subclass's ``super().__init__``) trigger. As with ``dataclass``, a class is unhashable unless
frozen (then its hash is that of its fields). Any option but ``frozen`` (``order``, ``unsafe_hash``, ``slots``,
``eq=False``, ...) gets the standard ``dataclass`` as it is.

Two things are made at once as ``dataclass`` makes them: the ``__init__`` of a class without a docstring
(``dataclass`` writes the missing docstring from the signature of ``__init__``), and a frozen class's
``__setattr__`` and ``__delattr__`` (they name the class itself, which a stand-in cannot). One error comes later:
fields without a default after fields with one (``dataclass`` refuses them when it makes ``__init__``) are
refused at the first instance rather than at import; type checkers refuse them before either, and
tests/test_lazy_dataclass.py makes every ``__init__`` of gitbench's classes.

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
            init_later = "__init__" not in own and bool(cls.__doc__)  # no docstring: dataclass reads __init__
            made = dataclasses.dataclass(init=not init_later, repr=False, eq=False, frozen=frozen)(cls)
            if init_later:
                made.__init__ = _Later(made, "__init__")
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
    """``cls``'s ``__init__``, ``__repr__``, ``__eq__`` or ``__hash__`` as ``@dataclass`` writes it: made on a
    stand-in class that has the same fields (with their defaults, factories, ``init`` and ``kw_only``: what those
    methods read), the same pseudo-fields (``InitVar``, ``ClassVar``: ``dataclass`` tells them from their
    annotations in the same module, as it did for ``cls``), and a ``__post_init__`` if ``cls`` has one. The
    methods read the instance and its class when they run (``__init__`` calls the instance's
    ``__post_init__``), never the class they were made on, so they serve ``cls`` as if made for it."""
    fields = cls.__dataclass_fields__.values()  # the pseudo-fields too, which dataclasses.fields() leaves out
    namespace: dict[str, Any] = {
        "__annotations__": {f.name: f.type for f in fields},
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__ or "-",  # else dataclass would write one from inspect.signature, for nothing
    }
    for f in fields:
        namespace[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            kw_only=f.kw_only,
        )
    if hasattr(cls, "__post_init__"):  # dataclass asks only whether there is one
        namespace["__post_init__"] = cls.__post_init__
    made: Any = dataclasses.dataclass(  # that method alone (a hash comes with equality)
        init=name == "__init__",
        repr=name == "__repr__",
        eq=name in ("__eq__", "__hash__"),
        frozen=cls.__dataclass_params__.frozen,
    )(type(cls.__name__, (), namespace))
    return made.__dict__[name]
