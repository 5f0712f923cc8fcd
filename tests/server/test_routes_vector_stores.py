"""The vector-store search route reads its options itself: what it passes to the search
service and the page it answers; on the app with a stand-in search service
(tests/api/test_vector_stores.py searches real files with the SDK)."""

from __future__ import annotations

import pytest

from stand_in import app_client, stand_in_runtime


class Result:
    def __init__(self, n):
        self.n = n

    def to_api(self):
        return {"file_id": f"file_{self.n}", "filename": "a.txt", "score": 0.5, "attributes": {},
                "content": [{"type": "text", "text": "hit"}]}


class Search:
    def __init__(self):
        self.calls: list[tuple] = []

    def search(self, store_ids, query, **options):
        self.calls.append((store_ids, query, options))
        return [Result(1), Result(2)]


@pytest.fixture
def search():
    return Search()


@pytest.fixture
def client(search):
    with app_client(stand_in_runtime(search=search)) as c:
        yield c


def test_defaults_and_the_page(client, search):
    page = client.post("/v1/vector_stores/vs_1/search", json={"query": "wifi"}).json()
    assert search.calls == [(["vs_1"], "wifi", {"max_num_results": 20, "score_threshold": 0.0, "filters": None})]
    assert page == {"object": "vector_store.search_results.page", "search_query": ["wifi"],
                    "data": [Result(1).to_api(), Result(2).to_api()], "has_more": False, "next_page": None}


def test_options_are_passed_on(client, search):
    leaf = {"type": "eq", "key": "author", "value": "Ada"}
    page = client.post("/v1/vector_stores/vs_1/search", json={
        "query": ["wifi", "password"], "max_num_results": 3, "filters": leaf, "rewrite_query": True,
        "ranking_options": {"ranker": "auto", "score_threshold": 0.25}}).json()
    assert search.calls == [(["vs_1"], ["wifi", "password"],
                             {"max_num_results": 3, "score_threshold": 0.25, "filters": leaf})]
    assert page["search_query"] == ["wifi", "password"]  # no rewriting: the query searched is the one sent
    client.post("/v1/vector_stores/vs_1/search", json={"query": "x", "ranking_options": {"ranker": "none"}})
    assert search.calls[-1][2]["score_threshold"] == 0.0


@pytest.mark.parametrize("body, param", [
    ({"ranking_options": "auto"}, "ranking_options"),
    ({"ranking_options": {"ranker": "best"}}, "ranking_options.ranker"),
    ({"ranking_options": {"score_threshold": 2}}, "ranking_options.score_threshold"),
    ({"ranking_options": {"top": 1}}, "ranking_options.top"),
    ({"rewrite_query": "yes"}, "rewrite_query"),
])
def test_bad_options_are_refused_before_searching(client, search, body, param):
    resp = client.post("/v1/vector_stores/vs_1/search", json={"query": "x", **body})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert search.calls == []
