"""Hybrid search over vector stores: requests checked, only completed files matching the
filters searched, several queries keeping each chunk's best score, the threshold and the
result count applied, and each mode's scores (over the model-free word embedder)."""

from __future__ import annotations

import pytest

from local_assistants.core import ranking
from local_assistants.errors import InvalidRequestError
from .file_search_stack import Stack

TEXTS = dict(otters="Sea otters hold hands while they sleep in the kelp.",
             codes="The launch code of the Otter rocket is 4471.",
             cheese="The cheese festival is held in late September.")


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


@pytest.mark.parametrize("kwargs, param", [
    (dict(query=""), "query"),
    (dict(query=["  "]), "query"),
    (dict(query=[]), "query"),
    (dict(query=3), "query"),
    (dict(query="x", max_num_results=0), "max_num_results"),
    (dict(query="x", max_num_results=51), "max_num_results"),
    (dict(query="x", max_num_results=True), "max_num_results"),
    (dict(query="x", score_threshold=1.5), "ranking_options.score_threshold"),
    (dict(query="x", filters={"type": "eq"}), "filters.key"),
])
def test_bad_requests_name_their_parameter(stack, kwargs, param):
    vs_id, _ = stack.store_with(otters=TEXTS["otters"])
    with pytest.raises(InvalidRequestError) as info:
        stack.search.search(vs_id, **kwargs)
    assert info.value.param == param
    with pytest.raises(ValueError):
        stack.search.search(vs_id, "x", mode="psychic")


def test_the_best_chunk_comes_first_with_its_file(stack):
    vs_id, ids = stack.store_with(**TEXTS)
    results = stack.search.search([vs_id, vs_id], "When do otters sleep holding hands?")
    assert results[0].file_id == ids["otters"] and results[0].filename == "otters.txt"
    assert results[0].text == TEXTS["otters"] and results[0].vector_store_id == vs_id
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert all(0.0 <= r.score <= 1.0 for r in results)
    assert len(stack.search.search(vs_id, "otters", max_num_results=1)) == 1


def test_a_threshold_drops_weak_chunks(stack):
    vs_id, ids = stack.store_with(**TEXTS)
    scores = {r.file_id: r.score for r in stack.search.search(vs_id, "otters hold hands")}
    threshold = (scores[ids["otters"]] + max(s for f, s in scores.items() if f != ids["otters"])) / 2
    assert [r.file_id for r in stack.search.search(vs_id, "otters hold hands", score_threshold=threshold)] == [
        ids["otters"]]


def test_each_query_of_several_keeps_a_chunks_best_score(stack):
    vs_id, ids = stack.store_with(**TEXTS)
    alone = {r.file_id: r.score for r in stack.search.search(vs_id, "cheese festival")}
    both = {r.file_id: r.score for r in stack.search.search(vs_id, ["otters sleeping", "cheese festival"])}
    assert both[ids["cheese"]] == alone[ids["cheese"]]
    assert both[ids["otters"]] >= alone.get(ids["otters"], 0.0)


def test_only_completed_files_matching_the_filters_are_searched(stack):
    vs_id, ids = stack.store_with(otters=TEXTS["otters"], codes=TEXTS["codes"])
    stack.vector_store_files.update(vs_id, ids["codes"], attributes={"kind": "secret"})
    found = stack.search.search(vs_id, "otter", filters={"type": "eq", "key": "kind", "value": "secret"})
    assert [r.file_id for r in found] == [ids["codes"]] and found[0].attributes == {"kind": "secret"}
    pending = stack.upload("late.txt", "Otters also eat sea urchins.")
    stack.vector_store_files.create(vs_id, file_id=pending)  # queued, not ingested
    assert pending not in {r.file_id for r in stack.search.search(vs_id, "otters sea urchins")}


def test_modes_score_as_ranking_says(stack):
    vs_id, ids = stack.store_with(**TEXTS)
    query = "Otter rocket launch code"
    vector = {r.file_id: r.score for r in stack.search.search(vs_id, query, mode="vector")}
    text = {r.file_id: r.score for r in stack.search.search(vs_id, query, mode="text")}
    hybrid = {r.file_id: r.score for r in stack.search.search(vs_id, query)}
    assert max(text.values()) == pytest.approx(1.0)  # BM25 over the best BM25
    for file_id, score in hybrid.items():
        expected = ranking.VECTOR_WEIGHT * max(vector.get(file_id, 0.0), 0.0) + (
            1 - ranking.VECTOR_WEIGHT) * text.get(file_id, 0.0)
        assert score == pytest.approx(expected, abs=1e-5)
    assert stack.search.search(vs_id, query, mode="rrf")[0].file_id == ids["codes"]


def test_a_deleted_file_keeps_the_name_it_had(stack):
    vs_id, ids = stack.store_with(otters=TEXTS["otters"])
    stack.store.delete("files", ids["otters"])
    assert stack.search.search(vs_id, "otters")[0].filename == "otters.txt"
