"""Hybrid ranking of file-search candidates: query words, and the fusion of vector and
BM25 scores (pure)."""

from __future__ import annotations

import pytest

from local_assistants.core import ranking


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


def test_query_words_are_distinct_lowercase_and_bounded():
    assert ranking.query_words("The Duck, the DUCK and the eggs") == ["duck", "eggs"]
    assert ranking.query_words("Où est l'élève?") == ["où", "est", "l", "élève"]
    many = " ".join(f"w{i}" for i in range(ranking.MAX_QUERY_TERMS + 10))
    assert ranking.query_words(many) == [f"w{i}" for i in range(ranking.MAX_QUERY_TERMS)]


def test_convex_without_bm25_is_the_weighted_cosine():
    assert ranking.convex({1: 1.5, 2: 0.4}, {3: 0.0}, weight=0.5) == {
        1: pytest.approx(0.5), 2: pytest.approx(0.2), 3: 0.0}  # cosine capped at 1; no BM25 score at all


def test_rrf_ranks_by_position_in_each_list():
    fused = ranking.rrf({1: 0.9, 2: 0.8, 3: 0.1, 4: -0.2}, {3: 9.0, 2: 1.0})
    k = ranking.RRF_K
    scale = 2.0 / (k + 1)
    assert fused[2] == pytest.approx((1 / (k + 2) + 1 / (k + 2)) / scale)
    assert fused[3] == pytest.approx((1 / (k + 3) + 1 / (k + 1)) / scale)
    assert fused[1] == pytest.approx((1 / (k + 1)) / scale)
    assert 4 not in fused  # a score of 0 or less is no rank
    assert ranking.rrf({}, {}) == {}
