"""File attributes and the file-search filters over them (pure)."""

from __future__ import annotations

import pytest

from local_assistants.core import filters as f
from local_assistants.errors import InvalidRequestError

ATTRS = {"author": "ada", "year": 2021, "score": 4.5, "draft": False}


@pytest.mark.parametrize("flt, expected", [
    ({"type": "eq", "key": "author", "value": "ada"}, True),
    ({"type": "eq", "key": "author", "value": "bob"}, False),
    ({"type": "ne", "key": "author", "value": "bob"}, True),
    ({"type": "gt", "key": "year", "value": 2020}, True),
    ({"type": "gt", "key": "year", "value": 2021}, False),
    ({"type": "gte", "key": "year", "value": 2021}, True),
    ({"type": "lt", "key": "score", "value": 5}, True),
    ({"type": "lte", "key": "score", "value": 4.5}, True),
    ({"type": "lt", "key": "year", "value": 2021}, False),
    ({"type": "eq", "key": "draft", "value": False}, True),
    ({"type": "eq", "key": "draft", "value": 0}, False),  # booleans are not numbers
    ({"type": "gt", "key": "author", "value": 3}, False),  # kinds differ
    ({"type": "gt", "key": "author", "value": "aaa"}, True),  # strings compare as strings
    ({"type": "in", "key": "author", "value": ["bob", "ada"]}, True),
    ({"type": "nin", "key": "author", "value": ["bob", "ada"]}, False),
    ({"type": "eq", "key": "missing", "value": "x"}, False),
    ({"type": "ne", "key": "missing", "value": "x"}, True),
    ({"type": "and", "filters": [{"type": "eq", "key": "author", "value": "ada"},
                                 {"type": "gte", "key": "year", "value": 2022}]}, False),
    ({"type": "or", "filters": [{"type": "eq", "key": "author", "value": "bob"},
                                {"type": "gte", "key": "year", "value": 2021}]}, True),
    ({"type": "and", "filters": [{"type": "or", "filters": [{"type": "eq", "key": "author", "value": "x"},
                                                           {"type": "eq", "key": "draft", "value": False}]},
                                 {"type": "lt", "key": "year", "value": 3000}]}, True),
])
def test_matches(flt, expected):
    assert f.matches(f.check(flt), ATTRS) is expected


def test_no_filter_matches_everything():
    assert f.matches(None, None) and f.matches(None, ATTRS)


@pytest.mark.parametrize("flt, param", [
    ("x", "filters"),
    ({"type": "like", "key": "a", "value": 1}, "filters.type"),
    ({"type": "eq", "value": 1}, "filters.key"),
    ({"type": "eq", "key": "a"}, "filters.value"),
    ({"type": "eq", "key": "a", "value": {"x": 1}}, "filters.value"),
    ({"type": "in", "key": "a", "value": "x"}, "filters.value"),
    ({"type": "and", "filters": []}, "filters.filters"),
    ({"type": "or", "filters": [{"type": "eq", "key": "a", "value": 1}, {"type": "zz"}]}, "filters.filters[1].type"),
])
def test_bad_filters(flt, param):
    with pytest.raises(InvalidRequestError) as info:
        f.check(flt)
    assert info.value.param == param


def test_attributes():
    assert f.attributes(None) is None
    assert f.attributes({"a": "x", "b": 1, "c": 1.5, "d": True}) == {"a": "x", "b": 1, "c": 1.5, "d": True}
    for bad, param in [({"a": None}, "attributes.a"), ({"a": [1]}, "attributes.a"),
                       ({f"k{i}": 1 for i in range(17)}, "attributes"), ({"a": "x" * 513}, "attributes.a"),
                       ({"k" * 65: 1}, "attributes"), ([], "attributes")]:
        with pytest.raises(InvalidRequestError) as info:
            f.attributes(bad)
        assert info.value.param == param


def test_check_returns_the_filter_and_bounds_its_nesting():
    flt = {"type": "eq", "key": "a", "value": 1}
    assert f.check(flt) is flt and f.check(None) is None
    nested = flt
    for _ in range(f.MAX_DEPTH):
        nested = {"type": "and", "filters": [nested]}
    assert f.check(nested) is nested
    too_deep = {"type": "or", "filters": [nested]}
    with pytest.raises(InvalidRequestError) as info:
        f.check(too_deep)
    assert info.value.param == "filters" + ".filters[0]" * (f.MAX_DEPTH + 1)


def test_in_and_nin_compare_kinds_too():
    assert f.matches(f.check({"type": "in", "key": "year", "value": [2021.0]}), ATTRS)  # a number is a number
    assert not f.matches(f.check({"type": "in", "key": "year", "value": ["2021"]}), ATTRS)
    assert not f.matches(f.check({"type": "in", "key": "draft", "value": [0, "x"]}), ATTRS)
    assert f.matches(f.check({"type": "nin", "key": "missing", "value": ["x"]}), ATTRS)
    assert not f.matches(f.check({"type": "in", "key": "missing", "value": ["x"]}), ATTRS)
    assert not f.matches(f.check({"type": "gte", "key": "draft", "value": False}), ATTRS)  # booleans: (in)equality only
