"""The retrieval benchmark's pure parts: its data and its quality figures (the benchmark
itself embeds thousands of texts and is run by ``make bench``, never by a test)."""

from __future__ import annotations

import numpy as np
import pytest

from local_assistants.bench import retrieval_bench as rb


def test_the_gsm8k_test_split_is_found_beside_the_benchmarks():
    items = rb.load_gsm8k()
    assert len(items) == 1319
    assert set(items[0]) == {"question", "answer"} and "####" in items[0]["answer"]


def test_quality_figures_from_the_rank_of_each_right_answer():
    name, n, hit1, hit5, mrr = rb._quality_row("hybrid", [1, 2, None, 5, 6, 1, None, 10])
    assert (name, n) == ("hybrid", 8)
    assert hit1 == 2 / 8
    assert hit5 == 4 / 8  # ranks 1, 2, 5, 1
    assert mrr == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 6 + 1 + 1 / 10) / 8)
    assert rb._quality_row("none", [None, None])[2:] == [0.0, 0.0, 0.0]


def test_known_query_vectors_stand_in_for_the_embedder():
    class Embedder:
        dimension = 2

        def embed(self, texts):
            raise AssertionError("the table's queries are not embedded again")

    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    known = rb._KnownVectors(Embedder(), vectors)
    assert known.dimension == 2
    assert known.embed(["b", "a"]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
