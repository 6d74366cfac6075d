"""gitbench/schema.py: the declarative checks behind the workflow file and the config files.

In-process: a Map of Keys checks a mapping, fills in defaults, converts values, and names the first problem by
its key path and (where the loader keeps it) its line, worded by the file's own templates.
"""

from __future__ import annotations

from typing import Any

import pytest

from gitbench import schema

SETTINGS = schema.Map(
    keys=(
        schema.Key("name", schema.check(schema.is_text, "{key} in {file} must be text"), required="{key} is missing"),
        schema.Key("count", schema.chain(schema.check(schema.is_whole, "{key} must be whole, not {value!r}"), str)),
        schema.Key("flag", schema.check(schema.is_flag, "{key} must be true or false"), default=False),
        schema.Key(
            "table",
            schema.Map(
                each=schema.Map(keys=(schema.Key("url", schema.check(schema.is_text, "[{table}] {name} is text")),)),
                not_a_map="{key} must be a table",
            ),
        ),
    ),
    unknown="unknown {key!r} (known: {known})",
)


def problem(data: dict[str, Any], **kwargs: Any) -> schema.Problem:
    with pytest.raises(schema.Problem) as caught:
        schema.validate(SETTINGS, data, {"file": "f.toml"}, **kwargs)
    return caught.value


def test_a_valid_mapping_comes_back_checked_converted_and_with_its_defaults() -> None:
    data = {"name": "x", "count": 3, "table": {"a": {"url": "u"}}}
    assert schema.validate(SETTINGS, data) == {"name": "x", "count": "3", "flag": False, "table": {"a": {"url": "u"}}}


def test_an_unknown_key_is_named_first_in_file_order_with_the_known_ones() -> None:
    found = problem({"count": "bad", "zz": 1, "aa": 2})
    assert found.message == "unknown 'zz' (known: count, flag, name, table)" and found.path == ("zz",)


@pytest.mark.parametrize(
    ("data", "message", "path"),
    [
        ({}, "name is missing", ("name",)),
        ({"name": 5}, "name in f.toml must be text", ("name",)),
        ({"name": "x", "count": True}, "count must be whole, not True", ("count",)),
        ({"name": "x", "table": 5}, "table must be a table", ("table",)),
        ({"name": "x", "table": {"a": {"url": 1}}}, "[table.a] url is text", ("table", "a", "url")),
        ({"name": "x", "table": {"a": {"uri": 1}}}, "unknown key 'uri' (known: url)", ("table", "a", "uri")),
    ],
)
def test_each_problem_names_its_key_path_in_the_files_own_words(
    data: dict[str, Any], message: str, path: tuple[str, ...]
) -> None:
    found = problem(data)
    assert (found.message, found.path, found.line) == (message, path, None)


def test_the_line_of_the_key_comes_from_the_loader_and_its_marks_are_passed_over() -> None:
    data = {"name": 5, "__line__": 3, "__keys__": {"name": 4}}
    found = problem(data, line=lambda d, k: d["__keys__"].get(k, d["__line__"]), hidden=("__line__", "__keys__"))
    assert (found.message, found.line) == ("name in f.toml must be text", 4)
