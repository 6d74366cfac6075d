"""gitbench/lazy_dataclass.py: a class made by it behaves as the standard ``@dataclass`` makes it (its repr,
equality, hash, fields, asdict, replace, inheritance, frozenness), though two of its methods are made on first
use."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from dataclasses import field
from typing import Any, ClassVar

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


def rich(deco: Any, frozen: bool = False) -> Any:
    """A class with every kind of field ``__init__`` treats its own way."""

    @(deco(frozen=True) if frozen else deco)
    class Rich:
        """Rich."""

        name: str
        count: int = 1
        tags: list[str] = field(default_factory=list)
        seen: int = field(default=7, init=False)
        made: list[int] = field(default_factory=lambda: [1], init=False)
        flag: bool = field(default=False, kw_only=True)
        scale: dataclasses.InitVar[int] = 2
        limit: ClassVar[int] = 10
        _: dataclasses.KW_ONLY
        mode: str = "r"
        extra: dict[str, int] = field(default_factory=dict)

        def __post_init__(self, scale: int) -> None:
            object.__setattr__(self, "seen", self.count * scale)

    return Rich


def state(obj: object) -> dict[str, Any]:
    return dict(vars(obj))


@pytest.mark.parametrize("frozen", [False, True])
def test_init_is_that_of_the_standard_dataclass(frozen: bool) -> None:
    Std, Lazy = rich(dataclasses.dataclass, frozen), rich(lazy, frozen)
    assert not inspect.isfunction(Lazy.__dict__["__init__"])  # made on first use
    for args, kwargs in (
        (("a",), {}),
        (("a", 3, ["x"]), {"flag": True, "scale": 5, "mode": "w"}),
        ((), {"name": "b", "extra": {"k": 1}}),
    ):
        got, want = Lazy(*args, **kwargs), Std(*args, **kwargs)
        assert state(got) == state(want)
        assert "scale" not in state(got) and Lazy.limit == 10
    first, second = Lazy("a"), Lazy("a")
    assert first.tags is not second.tags and first.made is not second.made  # a fresh default each time
    assert str(inspect.signature(Lazy)) == str(inspect.signature(Std))
    assert Lazy.__init__.__qualname__ == Std.__init__.__qualname__
    assert Lazy.__init__.__annotations__ == Std.__init__.__annotations__
    assert Lazy.__match_args__ == Std.__match_args__ and Lazy.__doc__ == Std.__doc__ == "Rich."
    for args, kwargs in (((), {}), (("a", 1, [], 2, 3), {}), (("a",), {"seen": 1}), (("a",), {"nope": 1})):
        with pytest.raises(TypeError) as lazy_error:
            Lazy(*args, **kwargs)
        with pytest.raises(TypeError) as std_error:
            Std(*args, **kwargs)
        assert str(lazy_error.value) == str(std_error.value)
    if frozen:
        with pytest.raises(dataclasses.FrozenInstanceError):
            Lazy("a").name = "b"


def test_a_class_without_a_docstring_gets_its_init_and_docstring_at_once() -> None:
    @lazy
    class Bare:
        x: int
        y: str = ""

    @dataclasses.dataclass
    class StdBare:
        x: int
        y: str = ""

    assert inspect.isfunction(Bare.__dict__["__init__"])
    assert Bare.__doc__ == "Bare(x: 'int', y: 'str' = '')" == StdBare.__doc__.replace("StdBare", "Bare")


def test_subclasses_that_are_not_dataclasses_or_bring_their_own_init() -> None:
    Base = rich(lazy)

    class Plain(Base):  # type: ignore[valid-type,misc]
        pass

    class Own(Base):  # type: ignore[valid-type,misc]
        def __init__(self, name: str) -> None:
            super().__init__(name.upper(), scale=3)

    assert state(Plain("a", 2)) == state(rich(dataclasses.dataclass)("a", 2)) and type(Plain("a")) is Plain
    assert Own("a").name == "A" and Own("a").seen == 3 and type(Own("a")) is Own

    Base2 = rich(lazy)

    @lazy
    class Child(Base2):  # type: ignore[valid-type,misc]
        """A child made (and its __init__ made) before its base's."""

        more: int = 0

    assert Child("a", more=4).more == 4 and Child("a").seen == 2
    assert Base2("b").name == "b" and "more" not in state(Base2("b"))


@dataclasses.dataclass
class StdError(Exception):
    """An error."""

    message: str
    actions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


@lazy
class LazyError(Exception):
    """An error."""

    message: str
    actions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


class LazyKind(LazyError):
    code = "kind"


@lazy(frozen=True)
class Point:
    """A point."""

    x: int
    y: int = 0


def test_an_error_that_is_a_dataclass_raises_prints_and_pickles_as_the_standard_one() -> None:
    with pytest.raises(LazyError) as caught:
        raise LazyKind("went wrong", ["retry"])
    err = caught.value
    assert str(err) == str(StdError("went wrong")) == "went wrong" and err.args == ("went wrong",)
    assert err.actions == ["retry"] and err.code == "kind"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is LazyKind and back.message == "went wrong" and back.args == err.args


def test_instances_pickle_copy_and_replace() -> None:
    p = Point(1, 2)
    assert pickle.loads(pickle.dumps(p)) == p and copy.copy(p) == p and copy.deepcopy(p) == p
    assert dataclasses.replace(p, y=5) == Point(1, 5)


def test_every_init_of_gitbench_s_dataclasses_can_be_made() -> None:
    """Fields without a default after fields with one are refused when ``__init__`` is made: for the lazy ones,
    at their first instance; here, for all of them."""
    import gitbench

    classes = 0
    for info in pkgutil.walk_packages(gitbench.__path__, "gitbench."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == info.name:
                assert inspect.isfunction(value.__init__)  # made now if it was not yet
                classes += 1
    assert classes > 60
