"""/v1/vector_stores through the official SDK (strict): stores, files, batches, search.

Real parsers, the real MiniLM embedding model, real FAISS and SQLite.  One server serves
the module; restart and recovery tests start their own on one data folder.
"""

from __future__ import annotations

import io
import json

import httpx
import openai
import pytest

from local_assistants import InvalidStateError, LocalAssistants, Runtime
from conftest import make_settings, sdk_client, wait_for
from documents import make_docx, make_pdf

STATIC_100 = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}}

DISTRACTORS = [
    ("weather.txt", "The weather in Lisbon was sunny and warm for most of July, with light winds."),
    ("recipe.md", "# Pancakes\n\nMix flour, eggs and milk. Fry in butter until golden on both sides."),
    ("history.txt", "The printing press spread across Europe in the fifteenth century, changing how books were made."),
]


def formats(fact: str) -> dict[str, bytes]:
    return {
        "notes.txt": f"Some notes.\n\n{fact}\n\nMore notes.".encode(),
        "guide.md": f"# Guide\n\n## Facts\n\n- {fact}\n".encode(),
        "page.html": f"<html><body><h1>Page</h1><p>{fact}</p><script>var hidden=1;</script></body></html>".encode(),
        "record.json": json.dumps({"id": 7, "note": fact}).encode(),
        "table.csv": f'id,text\n1,"{fact}"\n2,"nothing here"\n'.encode(),
        "module.py": f'"""Module."""\n\n# {fact}\nVALUE = 1\n'.encode(),
        "report.pdf": make_pdf([["Quarterly report.", fact], ["Appendix."]]),
        "memo.docx": make_docx(["Memo.", fact]),
    }


@pytest.fixture(scope="module")
def client(shared_client):
    return shared_client


def store_with(client, files: list[tuple[str, bytes]], **create):
    vs = client.vector_stores.create(name="test", **create)
    for name, data in files:
        f = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=(name, data))
        assert f.status == "completed", f.last_error
    return vs


# -- vector stores ---------------------------------------------------------------------------

def test_create_retrieve_list_modify_delete(client):
    vs = client.vector_stores.create(name="kb", metadata={"team": "docs"},
                                     expires_after={"anchor": "last_active_at", "days": 3})
    assert vs.id.startswith("vs_") and vs.object == "vector_store"
    assert vs.name == "kb" and vs.metadata == {"team": "docs"}
    assert vs.status == "completed" and vs.usage_bytes == 0
    assert vs.file_counts.total == 0
    assert vs.expires_after.anchor == "last_active_at" and vs.expires_after.days == 3
    assert vs.expires_at == vs.last_active_at + 3 * 86400
    assert client.vector_stores.retrieve(vs.id).model_dump() == vs.model_dump()
    assert vs.id in [x.id for x in client.vector_stores.list()]
    changed = client.vector_stores.update(vs.id, name="kb2", metadata={"team": "ops"}, expires_after=None)
    assert changed.name == "kb2" and changed.metadata == {"team": "ops"}
    assert changed.expires_after is None and changed.expires_at is None
    d = client.vector_stores.delete(vs.id)
    assert d.id == vs.id and d.deleted and d.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(vs.id)


def test_create_without_name(client):
    vs = client.vector_stores.create()
    assert vs.name == ""


def test_list_pages(client):
    ids = [client.vector_stores.create(name=f"p{i}").id for i in range(3)]
    page = client.vector_stores.list(limit=2, order="desc")
    assert [x.id for x in page.data] == ids[::-1][:2] and page.has_more
    assert [x.id for x in client.vector_stores.list(limit=1, after=ids[1], order="asc").data] == [ids[2]]


def test_create_with_file_ids_ingests_in_the_background(client):
    f = client.files.create(file=("bg.txt", b"Background ingestion works for created stores."), purpose="assistants")
    vs = client.vector_stores.create(name="bg", file_ids=[f.id], chunking_strategy=STATIC_100)
    assert vs.file_counts.total == 1
    done = wait_for(lambda: (x := client.vector_stores.retrieve(vs.id)).file_counts.completed == 1 and x)
    assert done.status == "completed" and done.usage_bytes > 0
    vsf = client.vector_stores.files.retrieve(f.id, vector_store_id=vs.id)
    assert vsf.chunking_strategy.type == "static"
    assert vsf.chunking_strategy.static.max_chunk_size_tokens == 100
    assert vsf.chunking_strategy.static.chunk_overlap_tokens == 20


# -- formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(formats("x")))
def test_upload_and_poll_each_format_and_find_the_fact(client, name):
    fact = "The submarine Nautilus carries exactly forty-two brass lanterns."
    data = formats(fact)[name]
    vs = client.vector_stores.create(name=name)
    distractor = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id,
                                                            file=DISTRACTORS[0][:1] + (DISTRACTORS[0][1].encode(),))
    f = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=(name, data))
    assert f.status == "completed", f.last_error
    assert f.object == "vector_store.file" and f.vector_store_id == vs.id
    assert f.last_error is None and f.usage_bytes > 0
    assert f.chunking_strategy.static.max_chunk_size_tokens == 800  # auto
    page = client.vector_stores.search(vs.id, query="How many lanterns does the submarine carry?")
    assert page.data[0].file_id == f.id and page.data[0].filename == name
    assert "forty-two brass lanterns" in page.data[0].content[0].text
    assert page.data[0].content[0].type == "text"
    assert {r.file_id for r in page.data} == {f.id, distractor.id}
    if name == "page.html":
        assert "hidden" not in page.data[0].content[0].text
    content = client.vector_stores.files.content(f.id, vector_store_id=vs.id)
    assert "forty-two brass lanterns" in content.data[0].text


def test_unsupported_and_broken_files_fail_alone(client):
    vs = store_with(client, [DISTRACTORS[1][:1] + (DISTRACTORS[1][1].encode(),)])
    bad = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("photo.png", b"\x89PNG\r\n"))
    assert bad.status == "failed"
    assert bad.last_error.code == "unsupported_file" and ".png" in bad.last_error.message
    broken = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("broken.pdf", b"%PDF-1.4 junk"))
    assert broken.status == "failed" and broken.last_error.code == "invalid_file"
    empty = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("empty.txt", b""))
    assert empty.status == "failed" and empty.last_error.code == "invalid_file"
    got = client.vector_stores.retrieve(vs.id)
    assert got.status == "completed"
    assert (got.file_counts.completed, got.file_counts.failed, got.file_counts.total) == (1, 3, 4)
    assert client.vector_stores.search(vs.id, query="pancakes").data[0].filename == "recipe.md"
    # A failed file has no content; attaching it again retries (and fails again).
    assert client.vector_stores.files.content(bad.id, vector_store_id=vs.id).data == []
    again = client.vector_stores.files.create_and_poll(bad.id, vector_store_id=vs.id)
    assert again.status == "failed"


# -- batches ---------------------------------------------------------------------------------

def test_file_batches_upload_and_poll(client):
    vs = client.vector_stores.create(name="batch")
    files = [(n, t.encode()) for n, t in DISTRACTORS] + [("bad.exe", b"MZ")]
    batch = client.vector_stores.file_batches.upload_and_poll(vs.id, files=files)
    assert batch.id.startswith("vsfb_") and batch.object == "vector_store.files_batch"
    assert batch.vector_store_id == vs.id and batch.status == "completed"
    fc = batch.file_counts
    assert (fc.completed, fc.failed, fc.in_progress, fc.total) == (3, 1, 0, 4)
    assert client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=vs.id).model_dump() == \
        batch.model_dump()
    listed = list(client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id))
    assert len(listed) == 4
    failed = list(client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id, filter="failed"))
    assert [f.last_error.code for f in failed] == ["unsupported_file"]
    # a second batch of one of the same files counts only its own (the SDK uploads the files from a
    # thread pool, so which one is listed first varies: take one that was indexed)
    indexed = next(f for f in listed if f.status == "completed")
    again = client.vector_stores.file_batches.create_and_poll(vs.id, file_ids=[indexed.id])
    assert again.file_counts.total == 1 and again.status == "completed"
    assert client.vector_stores.retrieve(vs.id).file_counts.total == 4


def test_batch_with_per_file_attributes(client):
    vs = client.vector_stores.create(name="batch-attrs")
    a = client.files.create(file=("a.txt", b"Apples grow on trees in orchards."), purpose="assistants")
    b = client.files.create(file=("b.txt", b"Bees make honey from nectar."), purpose="assistants")
    batch = client.vector_stores.file_batches.create_and_poll(vs.id, files=[
        {"file_id": a.id, "attributes": {"kind": "fruit"}},
        {"file_id": b.id, "attributes": {"kind": "insect"}, "chunking_strategy": STATIC_100},
    ])
    assert batch.file_counts.completed == 2
    fa = client.vector_stores.files.retrieve(a.id, vector_store_id=vs.id)
    fb = client.vector_stores.files.retrieve(b.id, vector_store_id=vs.id)
    assert fa.attributes == {"kind": "fruit"} and fb.attributes == {"kind": "insect"}
    assert fb.chunking_strategy.static.max_chunk_size_tokens == 100
    same = client.vector_stores.file_batches.create_and_poll(vs.id, file_ids=[a.id], attributes={"n": 1})
    assert same.status == "completed"
    assert client.vector_stores.files.retrieve(a.id, vector_store_id=vs.id).attributes == {"n": 1}


def test_cancel_a_batch(tmp_path):
    with Runtime(make_settings(tmp_path), start_worker=False) as rt:
        rt.ingestion.stop()  # nothing is ingested: the batch stays in progress
        f = rt.files.create(file=io.BytesIO(b"text"), filename="a.txt", purpose="assistants")
        vs = rt.vector_stores.create()
        batch = rt.file_batches.create(vs["id"], file_ids=[f["id"]])
        assert batch["status"] == "in_progress" and batch["file_counts"]["in_progress"] == 1
        cancelled = rt.file_batches.cancel(vs["id"], batch["id"])
        assert cancelled["status"] == "cancelled"
        assert cancelled["file_counts"]["cancelled"] == 1
        assert rt.vector_store_files.retrieve(vs["id"], f["id"])["status"] == "cancelled"
        assert rt.vector_stores.retrieve(vs["id"])["status"] == "completed"
        with pytest.raises(InvalidStateError):
            rt.file_batches.cancel(vs["id"], batch["id"])


# -- search ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library(client):
    vs = client.vector_stores.create(name="library")
    specs = [
        ("ocean.txt", "Blue whales are the largest animals ever known to have lived on Earth.",
         {"topic": "animals", "year": 2019, "public": True}),
        ("space.txt", "The Andromeda galaxy is approaching the Milky Way and will merge with it.",
         {"topic": "space", "year": 2021, "public": True}),
        ("garden.txt", "Tomatoes need six hours of direct sunlight and regular watering.",
         {"topic": "plants", "year": 2023, "public": False}),
        ("planted.txt", "Internal memo: the staff wifi password is heliotrope-7731, changed monthly.",
         {"topic": "it", "year": 2024, "public": False}),
    ]
    ids = {}
    for name, text, attrs in specs:
        f = client.files.create(file=(name, text.encode()), purpose="assistants")
        vsf = client.vector_stores.files.create_and_poll(f.id, vector_store_id=vs.id, attributes=attrs)
        assert vsf.status == "completed"
        ids[name] = f.id
    return vs, ids


def test_search_finds_the_planted_fact(client, library):
    vs, ids = library
    page = client.vector_stores.search(vs.id, query="What is the wifi password?")
    assert page.object == "vector_store.search_results.page"
    assert page.search_query == ["What is the wifi password?"]
    assert page.has_more is False and page.next_page is None
    top = page.data[0]
    assert top.file_id == ids["planted.txt"] and "heliotrope-7731" in top.content[0].text
    assert top.attributes == {"topic": "it", "year": 2024, "public": False}
    scores = [r.score for r in page.data]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert top.score > scores[1] + 0.1


def test_search_with_a_list_of_queries_and_max_results(client, library):
    vs, ids = library
    page = client.vector_stores.search(vs.id, query=["largest animal", "galaxy merger"], max_num_results=2)
    assert page.search_query == ["largest animal", "galaxy merger"]
    assert {r.file_id for r in page.data} == {ids["ocean.txt"], ids["space.txt"]}


@pytest.mark.parametrize("flt, expected", [
    ({"type": "eq", "key": "topic", "value": "space"}, {"space.txt"}),
    ({"type": "ne", "key": "topic", "value": "space"}, {"ocean.txt", "garden.txt", "planted.txt"}),
    ({"type": "gte", "key": "year", "value": 2023}, {"garden.txt", "planted.txt"}),
    ({"type": "lt", "key": "year", "value": 2021}, {"ocean.txt"}),
    ({"type": "eq", "key": "public", "value": True}, {"ocean.txt", "space.txt"}),
    ({"type": "in", "key": "topic", "value": ["plants", "it"]}, {"garden.txt", "planted.txt"}),
    ({"type": "and", "filters": [{"type": "eq", "key": "public", "value": False},
                                 {"type": "lt", "key": "year", "value": 2024}]}, {"garden.txt"}),
    ({"type": "or", "filters": [{"type": "eq", "key": "topic", "value": "space"},
                                {"type": "gt", "key": "year", "value": 2023}]}, {"space.txt", "planted.txt"}),
    ({"type": "eq", "key": "topic", "value": "none"}, set()),
])
def test_search_filters_on_attributes(client, library, flt, expected):
    vs, ids = library
    names = {v: k for k, v in ids.items()}
    page = client.vector_stores.search(vs.id, query="wifi password", filters=flt)
    assert {names[r.file_id] for r in page.data} == expected


def test_score_threshold(client, library):
    vs, ids = library
    everything = client.vector_stores.search(vs.id, query="wifi password")
    assert len(everything.data) == 4
    top = everything.data[0].score
    only_top = client.vector_stores.search(vs.id, query="wifi password",
                                           ranking_options={"score_threshold": (top + everything.data[1].score) / 2})
    assert [r.file_id for r in only_top.data] == [ids["planted.txt"]]
    assert client.vector_stores.search(vs.id, query="wifi password",
                                       ranking_options={"score_threshold": 1.0, "ranker": "auto"}).data == []
    assert client.vector_stores.search(vs.id, query="wifi password", rewrite_query=True).data[0].file_id == \
        ids["planted.txt"]


def test_update_file_attributes(client, library):
    vs, ids = library
    f = client.vector_stores.files.update(ids["ocean.txt"], vector_store_id=vs.id,
                                          attributes={"topic": "animals", "year": 2019, "public": True, "x": "y"})
    assert f.attributes["x"] == "y"
    page = client.vector_stores.search(vs.id, query="whales", filters={"type": "eq", "key": "x", "value": "y"})
    assert [r.file_id for r in page.data] == [ids["ocean.txt"]]


def test_delete_file_removes_its_results(client):
    vs = store_with(client, [("keep.txt", b"Keep this sentence about violins and cellos."),
                             ("drop.txt", b"The ferry to Inishmore leaves at nine every morning.")])
    files = {f.id: f for f in client.vector_stores.files.list(vector_store_id=vs.id)}
    drop_id = next(r.file_id for r in client.vector_stores.search(vs.id, query="ferry to Inishmore").data
                   if r.filename == "drop.txt")
    before = client.vector_stores.retrieve(vs.id)
    d = client.vector_stores.files.delete(drop_id, vector_store_id=vs.id)
    assert d.id == drop_id and d.deleted and d.object == "vector_store.file.deleted"
    results = client.vector_stores.search(vs.id, query="ferry to Inishmore").data
    assert drop_id not in {r.file_id for r in results} and len(results) == 1
    after = client.vector_stores.retrieve(vs.id)
    assert after.file_counts.total == 1 and after.usage_bytes < before.usage_bytes
    assert client.files.retrieve(drop_id).id == drop_id  # the file itself stays
    assert len(files) == 2
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(drop_id, vector_store_id=vs.id)
    client.vector_stores.delete(vs.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search(vs.id, query="violins")


# -- files list ------------------------------------------------------------------------------

def test_files_pagination_and_status_filter(client):
    vs = client.vector_stores.create(name="pages")
    ids = []
    for i in range(5):
        f = client.files.create(file=(f"f{i}.txt", f"file number {i}".encode()), purpose="assistants")
        client.vector_stores.files.create_and_poll(f.id, vector_store_id=vs.id)
        ids.append(f.id)
    bad = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("x.bin", b"\x00"))
    page = client.vector_stores.files.list(vector_store_id=vs.id, limit=2)
    assert [f.id for f in page.data] == [bad.id, ids[4]] and page.has_more
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=vs.id, limit=2, order="asc")] == ids + [bad.id]
    after = client.vector_stores.files.list(vector_store_id=vs.id, limit=2, after=ids[2], order="asc")
    assert [f.id for f in after.data] == [ids[3], ids[4]] and after.has_more
    before = client.vector_stores.files.list(vector_store_id=vs.id, limit=2, before=ids[2], order="asc")
    assert [f.id for f in before.data] == [ids[0], ids[1]]
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=vs.id, filter="failed")] == [bad.id]
    assert len(list(client.vector_stores.files.list(vector_store_id=vs.id, filter="completed", limit=1))) == 5
    assert list(client.vector_stores.files.list(vector_store_id=vs.id, filter="in_progress")) == []


# -- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda c: c.vector_stores.retrieve("vs_nope"),
    lambda c: c.vector_stores.update("vs_nope", name="x"),
    lambda c: c.vector_stores.delete("vs_nope"),
    lambda c: c.vector_stores.search("vs_nope", query="x"),
    lambda c: c.vector_stores.files.list(vector_store_id="vs_nope"),
    lambda c: c.vector_stores.files.create(vector_store_id="vs_nope", file_id="file-x"),
    lambda c: c.vector_stores.file_batches.retrieve("vsfb_nope", vector_store_id="vs_nope"),
])
def test_unknown_store_is_404(client, call):
    with pytest.raises(openai.NotFoundError) as info:
        call(client)
    assert info.value.type == "invalid_request_error"


def test_unknown_file_and_batch_are_404(client):
    vs = client.vector_stores.create()
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(vector_store_id=vs.id, file_id="file-nope")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve("file-nope", vector_store_id=vs.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.delete("file-nope", vector_store_id=vs.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.retrieve("vsfb_nope", vector_store_id=vs.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.create(file_ids=["file-nope"])
    assert client.vector_stores.retrieve(vs.id).file_counts.total == 0


@pytest.mark.parametrize("kwargs, param", [
    ({"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}}},
     "chunking_strategy.static.max_chunk_size_tokens"),
    ({"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}}},
     "chunking_strategy.static.chunk_overlap_tokens"),
    ({"expires_after": {"anchor": "created_at", "days": 1}}, "expires_after.anchor"),
    ({"expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"name": "x" * 257}, "name"),
])
def test_bad_create_is_400(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.create(**kwargs)
    assert info.value.param == param


@pytest.mark.parametrize("kwargs, param", [
    ({"max_num_results": 0}, "max_num_results"),
    ({"max_num_results": 51}, "max_num_results"),
    ({"ranking_options": {"score_threshold": 1.5}}, "ranking_options.score_threshold"),
    ({"ranking_options": {"ranker": "best"}}, "ranking_options.ranker"),
    ({"filters": {"type": "like", "key": "a", "value": "b"}}, "filters.type"),
    ({"filters": {"type": "and", "filters": []}}, "filters.filters"),
    ({"query": ""}, "query"),
    ({"query": []}, "query"),
])
def test_bad_search_is_400(client, library, kwargs, param):
    vs, _ = library
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.search(vs.id, **{"query": "x", **kwargs})
    assert info.value.param == param


def test_bad_file_requests_are_400(client, library, shared_server):
    vs, ids = library
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.files.create(vector_store_id=vs.id, file_id=ids["ocean.txt"],
                                          attributes={"k": [1, 2]})  # type: ignore[dict-item]
    assert info.value.param == "attributes.k"
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.files.list(vector_store_id=vs.id, filter="done")  # type: ignore[arg-type]
    assert info.value.param == "filter"
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.file_batches.create(vs.id)
    assert info.value.param == "file_ids"
    resp = httpx.post(f"{shared_server.base_url}/vector_stores/{vs.id}/file_batches",
                      json={"file_ids": [ids["ocean.txt"]], "files": [{"file_id": ids["ocean.txt"]}]})
    assert resp.status_code == 400
    resp = httpx.post(f"{shared_server.base_url}/vector_stores", json={"nonsense": 1})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "nonsense"
    resp = httpx.post(f"{shared_server.base_url}/vector_stores/{vs.id}/search", json={})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "query"


# -- restart, recovery, expiry ---------------------------------------------------------------

def test_restart_keeps_stores_searchable(tmp_path):
    settings = make_settings(tmp_path)
    with LocalAssistants(settings) as la:
        c = sdk_client(la.base_url)
        vs = store_with(c, [("a.txt", b"The Eiffel Tower was finished in 1889 for the World's Fair."),
                            ("b.txt", b"Octopuses have three hearts and blue blood.")])
        first = c.vector_stores.search(vs.id, query="octopus hearts").data
        c.close()
    with LocalAssistants(settings) as la:
        c = sdk_client(la.base_url)
        again = c.vector_stores.search(vs.id, query="octopus hearts").data
        assert [(r.file_id, r.score) for r in again] == [(r.file_id, r.score) for r in first]
        assert c.vector_stores.retrieve(vs.id).file_counts.completed == 2
        assert la.runtime.vector_indexes.rebuilds == 0  # the saved index agreed with the store
        c.close()


def test_files_left_in_progress_are_ingested_after_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    with Runtime(settings, start_worker=False) as rt:
        rt.ingestion.stop()  # as if the process died before the worker got to it
        f = rt.files.create(file=io.BytesIO(b"Recovered after the crash."), filename="r.txt", purpose="assistants")
        vs = rt.vector_stores.create(file_ids=[f["id"]])
        assert rt.vector_stores.retrieve(vs["id"])["status"] == "in_progress"
    with Runtime(settings, start_worker=False) as rt:
        assert rt.ingestion.wait_idle(120)
        assert rt.vector_store_files.retrieve(vs["id"], f["id"])["status"] == "completed"
        assert rt.vector_stores.retrieve(vs["id"])["status"] == "completed"
        assert rt.search.search(vs["id"], "crash recovery")[0].file_id == f["id"]


def test_expiry(tmp_path):
    now = [1_700_000_000.0]
    with Runtime(make_settings(tmp_path), start_worker=False, clock=lambda: now[0]) as rt:
        f = rt.files.create(file=io.BytesIO(b"Short-lived knowledge."), filename="e.txt", purpose="assistants")
        vs = rt.vector_stores.create(file_ids=[f["id"]], expires_after={"anchor": "last_active_at", "days": 1})
        assert vs["expires_at"] == 1_700_000_000 + 86400
        assert rt.ingestion.wait_idle(120)
        now[0] += 3600
        rt.search.search(vs["id"], "knowledge")  # activity pushes expiry back
        assert rt.vector_stores.retrieve(vs["id"])["expires_at"] == 1_700_003_600 + 86400
        now[0] += 2 * 86400
        got = rt.vector_stores.retrieve(vs["id"])
        assert got["status"] == "expired"
        with pytest.raises(InvalidStateError):
            rt.search.search(vs["id"], "knowledge")
        with pytest.raises(InvalidStateError):
            rt.vector_store_files.create(vs["id"], file_id=f["id"])
        revived = rt.vector_stores.modify(vs["id"], expires_after={"anchor": "last_active_at", "days": 2})
        assert revived["status"] == "completed"


# -- threads, messages, assistants -----------------------------------------------------------

def test_thread_with_inline_vector_store(client):
    f = client.files.create(file=("thread.txt", b"The thread's own document mentions marmalade sandwiches."),
                            purpose="assistants")
    t = client.beta.threads.create(tool_resources={"file_search": {"vector_stores": [
        {"file_ids": [f.id], "metadata": {"origin": "thread"}, "chunking_strategy": STATIC_100}]}})
    (vs_id,) = t.tool_resources.file_search.vector_store_ids
    vs = client.vector_stores.retrieve(vs_id)
    assert vs.metadata == {"origin": "thread"}
    assert vs.expires_after.anchor == "last_active_at" and vs.expires_after.days == 7
    wait_for(lambda: client.vector_stores.retrieve(vs_id).file_counts.completed == 1)
    assert "marmalade" in client.vector_stores.search(vs_id, query="sandwiches").data[0].content[0].text
    assert client.beta.threads.retrieve(t.id).tool_resources.file_search.vector_store_ids == [vs_id]


def test_tool_resources_must_name_existing_stores(client, library):
    vs, _ = library
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": ["vs_missing"]}})
    assert info.value.param == "tool_resources.file_search.vector_store_ids"
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.create(model="gpt-4o", tool_resources={"file_search": {"vector_store_ids": ["vs_x"]}})
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": [vs.id],
                                                                   "vector_stores": [{"file_ids": []}]}})
    assert info.value.param == "tool_resources.file_search.vector_stores"
    t = client.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": [vs.id]}})
    assert t.tool_resources.file_search.vector_store_ids == [vs.id]
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.update(t.id, tool_resources={"file_search": {"vector_store_ids": ["vs_gone"]}})
    a = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}],
                                      tool_resources={"file_search": {"vector_store_ids": [vs.id]}})
    assert a.tool_resources.file_search.vector_store_ids == [vs.id]


def test_assistant_with_inline_vector_store(client):
    f = client.files.create(file=("asst.txt", b"Assistant knowledge about lighthouses."), purpose="assistants")
    a = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}],
                                      tool_resources={"file_search": {"vector_stores": [{"file_ids": [f.id]}]}})
    (vs_id,) = a.tool_resources.file_search.vector_store_ids
    vs = client.vector_stores.retrieve(vs_id)
    assert vs.expires_after is None  # only thread stores expire by default
    assert vs.file_counts.total == 1


def test_message_attachments_go_to_the_thread_store(client):
    t = client.beta.threads.create()
    assert not (t.tool_resources.file_search and t.tool_resources.file_search.vector_store_ids)
    f1 = client.files.create(file=("m1.txt", b"Attachment one talks about kayaks."), purpose="assistants")
    f2 = client.files.create(file=("m2.txt", b"Attachment two talks about canoes."), purpose="assistants")
    client.beta.threads.messages.create(t.id, role="user", content="see file",
                                        attachments=[{"file_id": f1.id, "tools": [{"type": "file_search"}]}])
    (vs_id,) = client.beta.threads.retrieve(t.id).tool_resources.file_search.vector_store_ids
    assert client.vector_stores.retrieve(vs_id).expires_after.days == 7
    client.beta.threads.messages.create(t.id, role="user", content="and this",
                                        attachments=[{"file_id": f2.id, "tools": [{"type": "file_search"},
                                                                                  {"type": "code_interpreter"}]}])
    assert client.beta.threads.retrieve(t.id).tool_resources.file_search.vector_store_ids == [vs_id]
    wait_for(lambda: client.vector_stores.retrieve(vs_id).file_counts.completed == 2)
    assert "canoes" in client.vector_stores.search(vs_id, query="canoe").data[0].content[0].text
    # code-interpreter-only attachments do not touch the store
    f3 = client.files.create(file=("m3.txt", b"x"), purpose="assistants")
    client.beta.threads.messages.create(t.id, role="user", content="code",
                                        attachments=[{"file_id": f3.id, "tools": [{"type": "code_interpreter"}]}])
    assert client.vector_stores.retrieve(vs_id).file_counts.total == 2
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.messages.create(t.id, role="user", content="missing",
                                            attachments=[{"file_id": "file-nope", "tools": [{"type": "file_search"}]}])


def test_additional_messages_attachments_go_to_the_thread_store(client):
    a = client.beta.assistants.create(model="smollm2-135m-instruct", tools=[{"type": "file_search"}])
    t = client.beta.threads.create()
    f = client.files.create(file=("extra.txt", b"The extra message file is about lighthouses."), purpose="assistants")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=t.id, assistant_id=a.id, max_completion_tokens=8, tool_choice="none",
        additional_messages=[{"role": "user", "content": "see file",
                              "attachments": [{"file_id": f.id, "tools": [{"type": "file_search"}]}]}])
    assert run.status in ("completed", "incomplete")
    (vs_id,) = client.beta.threads.retrieve(t.id).tool_resources.file_search.vector_store_ids
    wait_for(lambda: client.vector_stores.retrieve(vs_id).file_counts.completed == 1)
    assert client.vector_stores.search(vs_id, query="lighthouse").data[0].file_id == f.id
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=t.id, assistant_id=a.id, additional_messages=[
            {"role": "user", "content": "x", "attachments": [{"file_id": "file-nope",
                                                              "tools": [{"type": "file_search"}]}]}])
    assert err.value.body["param"] == "additional_messages[0].attachments"
    assert len(client.beta.threads.messages.list(t.id).data) == 2  # the first run's two; none of the refused one


def test_deleting_a_file_removes_it_from_every_store(client):
    f = client.files.create(file=("shared.txt", b"The observatory opens its dome at dusk."), purpose="assistants")
    other = client.files.create(file=("other.txt", b"Bread rises overnight in a cool kitchen."), purpose="assistants")
    stores = []
    for _ in range(2):
        vs = client.vector_stores.create(file_ids=[f.id, other.id])
        wait_for(lambda vs=vs: client.vector_stores.retrieve(vs.id).file_counts.completed == 2)
        assert client.vector_stores.search(vs.id, query="observatory dome").data[0].file_id == f.id
        stores.append(vs)
    assert client.files.delete(f.id).deleted
    for vs in stores:
        assert {r.file_id for r in client.vector_stores.search(vs.id, query="observatory dome").data} == {other.id}
        assert [x.id for x in client.vector_stores.files.list(vector_store_id=vs.id)] == [other.id]
        assert client.vector_stores.retrieve(vs.id).file_counts.total == 1
        with pytest.raises(openai.NotFoundError):
            client.vector_stores.files.retrieve(f.id, vector_store_id=vs.id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


def test_thread_created_with_attached_messages(client):
    f = client.files.create(file=("tm.txt", b"Thread message file about glaciers."), purpose="assistants")
    t = client.beta.threads.create(messages=[
        {"role": "user", "content": "hi", "attachments": [{"file_id": f.id, "tools": [{"type": "file_search"}]}]}])
    (vs_id,) = t.tool_resources.file_search.vector_store_ids
    wait_for(lambda: client.vector_stores.retrieve(vs_id).file_counts.completed == 1)
    assert client.vector_stores.search(vs_id, query="glacier").data[0].file_id == f.id
