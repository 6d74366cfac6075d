"""gitbench/lazy_dataclass.py: a class made by it behaves as the standard ``@dataclass`` makes it (its repr,
equality, hash, fields, asdict, replace, inheritance, frozenness), though two of its methods are made on first
use."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import field
from typing import Any

import pytest

from gitbench.lazy_dataclass import dataclass as lazy


def make(deco: Any, frozen: bool = False) -> Any:
    @(deco(frozen=True) if frozen else deco)
    class Record:
        """A record."""

        name: str
        tags: list[str] = field(default_factory=list)
        note: str | None = field(default=None, repr=False, compare=False)

    return Record


@pytest.mark.parametrize("frozen", [False, True])
def test_repr_equality_and_hash_are_those_of_the_standard_dataclass(frozen: bool) -> None:
    Std, Lazy = make(dataclasses.dataclass, frozen), make(lazy, frozen)
    for args in (("a",), ("a", ["x"], "n"), ("b", [], None)):
        assert repr(Lazy(*args)) == repr(Std(*args))
    assert Lazy("a", ["x"], "one") == Lazy("a", ["x"], "other")  # note is not compared
    assert Lazy("a") != Lazy("b") and Lazy("a") != Std("a")  # another class is never equal
    assert (Lazy("a") == "a") is False
    assert Lazy.__eq__(Lazy("a"), Lazy("a")) is True and Lazy.__repr__(Lazy("a")) == repr(Lazy("a"))  # on the class
    if frozen:
        assert hash(Lazy("a", ("x",))) == hash(Std("a", ("x",)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            Lazy("a").name = "b"
    else:
        assert Lazy.__hash__ is None
        with pytest.raises(TypeError):
            hash(Lazy("a"))


def test_fields_asdict_replace_and_the_signature_are_unchanged() -> None:
    Std, Lazy = make(dataclasses.dataclass), make(lazy)
    assert [f.name for f in dataclasses.fields(Lazy)] == ["name", "tags", "note"]
    assert dataclasses.asdict(Lazy("a", ["x"])) == {"name": "a", "tags": ["x"], "note": None}
    assert dataclasses.replace(Lazy("a"), name="b") == Lazy("b")
    assert str(inspect.signature(Lazy)) == str(inspect.signature(Std))
    assert Lazy.__doc__ == "A record."


def test_a_subclass_has_its_own_fields_in_its_repr_and_its_equality() -> None:
    Base = make(lazy)

    @lazy
    class Child(Base):
        extra: int = 0

    assert (
        repr(Child("a", extra=2))
        == "test_a_subclass_has_its_own_fields_in_its_repr_and_its_equality.<locals>.Child(name='a', tags=[], extra=2)"
    )
    assert Child("a") == Child("a") and Child("a", extra=1) != Child("a") and Child("a") != Base("a")
    assert repr(Base("a")).endswith("Record(name='a', tags=[])")  # the base's own methods are its own


def test_a_method_the_class_defines_itself_is_kept_and_other_options_get_the_standard_dataclass() -> None:
    @lazy
    class Own:
        x: int

        def __repr__(self) -> str:
            return "own"

        def __eq__(self, other: object) -> bool:
            return True

    assert repr(Own(1)) == "own" and Own(1) == Own(2) and Own.__hash__ is None

    @lazy(order=True)
    class Ordered:
        x: int

    assert Ordered(1) < Ordered(2) and "__lt__" in Ordered.__dict__
