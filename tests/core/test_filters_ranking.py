"""File-search filters on attributes, and the fusion of vector and BM25 scores."""

from __future__ import annotations

import pytest

from local_assistants.core import filters as f
from local_assistants.core import ranking
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


def test_fts_query():
    assert ranking.fts_query("How many eggs does Janet's duck lay?") == '"many" OR "eggs" OR "janet" OR "duck" OR "lay"'
    assert ranking.fts_query("the of and") == '"the" OR "of" OR "and"'  # only stopwords: keep them
    assert ranking.fts_query("  ?! ") is None
    assert ranking.fts_query('a "quoted" AND NOT OR*') == '"quoted" OR "not"'  # FTS5 operators stay words


def test_convex_fusion():
    fused = ranking.convex({1: 0.9, 2: 0.2, 3: -0.3}, {2: 10.0, 4: 5.0}, weight=0.7)
    assert fused[1] == pytest.approx(0.63)
    assert fused[2] == pytest.approx(0.7 * 0.2 + 0.3)
    assert fused[3] == 0.0  # negative cosine counts as 0
    assert fused[4] == pytest.approx(0.15)
    assert all(0.0 <= s <= 1.0 for s in fused.values())
    assert ranking.convex({1: 0.5}, {}) == {1: pytest.approx(0.5 * ranking.VECTOR_WEIGHT)}


def test_rrf_fusion_scales_to_one():
    fused = ranking.rrf({1: 0.9, 2: 0.5}, {1: 3.0, 3: 1.0})
    assert fused[1] == pytest.approx(1.0)
    assert fused[2] < fused[1] and fused[3] < fused[1]


def test_select_words_keeps_the_rarest_within_the_budget():
    words = ["ducks", "eggs", "many", "zorblax", "janet"]
    df = {"ducks": 300, "eggs": 900, "many": 50_000, "janet": 20}
    assert ranking.select_words(words, df, budget=1500) == ["janet", "ducks", "eggs"]
    assert ranking.select_words(words, df, budget=100) == ["janet"]
    assert ranking.select_words(["many"], df, budget=10) == ["many"]  # the rarest present word always
    assert ranking.select_words(["zorblax"], df, budget=10) == []  # nothing holds it
    assert ranking.match_expression([]) is None
    assert ranking.match_expression(["a", "b"]) == '"a" OR "b"'
