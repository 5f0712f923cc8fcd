"""The file-search tables of the SQLite store: vector-store files keyed by (store, file), chunks
with their FTS5 index (their migration on an older database: ``test_sqlite_migrations.py``)."""

from __future__ import annotations

import sqlite3

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.ports import ListQuery


def chunk(vs: str, file: str, pos: int, text: str) -> tuple:
    return (f"{vs}:{file}:{pos}", vs, file, pos, text, len(text.split()), 0, len(text), 1, b"\0" * 8)


def vsf(vs: str, file: str, status: str = "completed", usage: int = 10) -> dict:
    return {"id": file, "object": "vector_store.file", "vector_store_id": vs, "status": status,
            "usage_bytes": usage, "created_at": 0, "last_error": None, "attributes": {}}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def test_a_file_in_two_stores(store):
    store.insert_vector_store_file(vsf("vs_a", "file-1"), filename="one.txt")
    store.insert_vector_store_file(vsf("vs_b", "file-1", status="in_progress"), filename="one.txt")
    assert store.get_vector_store_file("vs_a", "file-1")["status"] == "completed"
    assert store.get_vector_store_file("vs_b", "file-1")["status"] == "in_progress"
    assert store.vector_store_file_names("vs_a", ["file-1", "file-2"]) == {"file-1": "one.txt"}
    assert [f["vector_store_id"] for f in store.find_vector_store_files(file_id="file-1")] == ["vs_a", "vs_b"]
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_vector_store_file(vsf("vs_a", "file-1"))
    assert store.delete_vector_store_file("vs_a", "file-1")
    assert store.get_vector_store_file("vs_a", "file-1") is None
    assert store.get_vector_store_file("vs_b", "file-1") is not None


def test_counts_and_batches(store):
    for i, status in enumerate(["completed", "completed", "failed", "in_progress"]):
        store.insert_vector_store_file(vsf("vs_a", f"file-{i}", status, usage=100 + i))
    counts, usage = store.vector_store_file_counts("vs_a")
    assert counts == {"completed": 2, "failed": 1, "in_progress": 1} and usage == 201
    store.add_batch_files("vsfb_1", "vs_a", ["file-1", "file-2"])
    counts, _ = store.vector_store_file_counts("vs_a", batch_id="vsfb_1")
    assert counts == {"completed": 1, "failed": 1}
    page = store.list_vector_store_files("vs_a", ListQuery(limit=10, order="asc"), batch_id="vsfb_1")
    assert [f["id"] for f in page.data] == ["file-1", "file-2"]


def test_list_pages_by_file_id(store):
    for i in range(5):
        store.insert_vector_store_file(vsf("vs_a", f"file-{i}", "failed" if i == 2 else "completed"))
    store.insert_vector_store_file(vsf("vs_b", "file-9"))
    page = store.list_vector_store_files("vs_a", ListQuery(limit=2, order="desc"))
    assert [f["id"] for f in page.data] == ["file-4", "file-3"] and page.has_more
    page = store.list_vector_store_files("vs_a", ListQuery(limit=2, order="desc", after="file-3"))
    assert [f["id"] for f in page.data] == ["file-2", "file-1"] and page.has_more
    page = store.list_vector_store_files("vs_a", ListQuery(limit=2, order="asc", before="file-3"))
    assert [f["id"] for f in page.data] == ["file-1", "file-2"]
    page = store.list_vector_store_files("vs_a", ListQuery(limit=10, order="asc"), status="completed")
    assert [f["id"] for f in page.data] == ["file-0", "file-1", "file-3", "file-4"]
    with pytest.raises(Exception) as info:
        store.list_vector_store_files("vs_a", ListQuery(after="file-9"))  # a file of another store
    assert getattr(info.value, "param", None) == "after"


def test_chunks_and_full_text(store):
    slots = store.insert_chunks([chunk("vs_a", "file-1", 0, "Running dogs chase the red ball"),
                                 chunk("vs_a", "file-2", 0, "A cat sleeps on the warm windowsill"),
                                 chunk("vs_b", "file-3", 0, "dogs dogs dogs everywhere")])
    assert [n for _, n in slots] == [1, 1, 1]
    hits = store.fts_search('"dog"', ["vs_a"])
    assert [seq for seq, _ in hits] == [slots[0][0]]  # porter stemming: dogs ~ dog; vs_b is not searched
    assert hits[0][1] > 0
    assert [s for s, _ in store.fts_search('"dog"', ["vs_a", "vs_b"])] == [slots[2][0], slots[0][0]]
    assert store.fts_search('"dog"', ["vs_a"], file_ids=["file-2"]) == []
    assert store.fts_search('"dog" OR "cat"', ["vs_a"], limit=1)[0][0] in {slots[0][0], slots[1][0]}
    assert store.fts_search("AND OR (", ["vs_a"]) == []  # a malformed query finds nothing
    assert store.fts_document_frequencies(["dogs", "cat", "zebra"], cap=100) == {"dogs": 2, "cat": 1, "zebra": 0}
    assert store.fts_document_frequencies(["dogs"], cap=1) == {"dogs": 1}  # counting stops at the cap
    gone = store.delete_chunks("vs_a", "file-1")
    assert gone == [slots[0]]
    assert store.fts_search('"dog"', ["vs_a"]) == []
    assert store.fts_document_frequencies(["dogs"], cap=100) == {"dogs": 1}  # the cache saw the change
    assert store.chunk_slots("vs_a") == [slots[1]]
    assert store.chunk_slots("vs_a", ["file-9"]) == []
    assert [r["text"] for r in store.chunks_by_seq([slots[1][0]]).values()] == ["A cat sleeps on the warm windowsill"]
    batches = list(store.iter_chunk_vectors("vs_b"))
    assert batches == [[(slots[2][0], 1, b"\0" * 8)]]
    store.delete_vector_store_rows("vs_b")
    assert store.chunk_slots("vs_b") == [] and store.fts_search('"dog"', ["vs_b"]) == []
