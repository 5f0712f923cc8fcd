"""Ingestion of vector-store files: parsed, chunked, embedded and completed in one
transaction (the index holding each vector once), or failed with the reason; a stop
leaves the file queued for the next start, and a file that kept killing the server is
failed instead of tried again.  The queue that feeds the worker says when it is idle."""

from __future__ import annotations

import pytest

from local_assistants.services.indexes import vector_ids
from local_assistants.services.ingestion import IngestionQueue
from .file_search_stack import Stack

SMALL_CHUNKS = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
LONG = " ".join(f"word{i}" for i in range(250))


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


def _attach(stack, filename, text, **options):
    vs = stack.vector_stores.create(name="notes")
    file_id = stack.upload(filename, text)
    stack.vector_store_files.create(vs["id"], file_id=file_id, **options)
    return vs["id"], file_id


def test_a_file_is_chunked_embedded_and_completed(stack):
    vs_id, file_id = _attach(stack, "long.txt", LONG, chunking_strategy=SMALL_CHUNKS)
    assert stack.ingester.pending_files() == [(vs_id, file_id)]
    stack.ingest_all()
    vsf = stack.vector_store_files.retrieve(vs_id, file_id)
    assert vsf["status"] == "completed" and vsf["last_error"] is None
    texts = [t for _, _, t in stack.store.chunk_texts(vs_id, file_id)]
    assert [len(t.split()) for t in texts] == [100, 100, 50]
    assert " ".join(texts) == LONG
    pieces = sum(n for _, n in stack.store.chunk_slots(vs_id))
    assert pieces == len(stack.embedder.embedded) > 3  # chunks of 100 words, pieces of at most 40: each embedded once
    assert vsf["usage_bytes"] == len(LONG.encode()) - 2 + pieces * 4 * stack.embedder.dimension
    index = stack.indexes.get(vs_id)
    assert sorted(index.ids().tolist()) == sorted(vector_ids(stack.store.chunk_slots(vs_id)).tolist())
    assert stack.ingester.pending_files() == []


@pytest.mark.parametrize("filename, text, options, code", [
    ("tool.exe", "MZ", {}, "unsupported_file"),
    ("long.txt", LONG, {"max_file_tokens": 200}, "invalid_file"),
    ("long.txt", LONG, {"max_file_chunks": 2}, "invalid_file"),
])
def test_a_file_that_cannot_be_ingested_fails_with_the_reason(tmp_path, filename, text, options, code):
    stack = Stack(tmp_path, **options)
    vs_id, file_id = _attach(stack, filename, text, chunking_strategy=SMALL_CHUNKS)
    stack.ingest_all()
    vsf = stack.vector_store_files.retrieve(vs_id, file_id)
    assert vsf["status"] == "failed" and vsf["last_error"]["code"] == code
    assert stack.store.chunk_slots(vs_id) == [] and len(stack.indexes.get(vs_id)) == 0


def test_a_file_deleted_before_its_turn_fails(stack):
    vs_id, file_id = _attach(stack, "a.txt", "Otters hold hands.")
    stack.store.delete("files", file_id)
    stack.ingest_all()
    error = stack.vector_store_files.retrieve(vs_id, file_id)["last_error"]
    assert error == {"code": "invalid_file", "message": "The file was deleted before it could be processed."}


def test_an_embedder_that_breaks_fails_the_file_as_a_server_error(stack, monkeypatch):
    vs_id, file_id = _attach(stack, "a.txt", "Otters hold hands.")
    monkeypatch.setattr(stack.embedder, "embed", lambda texts: 1 / 0)
    stack.ingest_all()
    error = stack.vector_store_files.retrieve(vs_id, file_id)["last_error"]
    assert error == {"code": "server_error", "message": "The file could not be processed: ZeroDivisionError."}


def test_a_file_cancelled_or_detached_while_queued_is_skipped(stack):
    vs_id, file_id = _attach(stack, "a.txt", "Otters hold hands.")
    stack.vector_store_files.delete(vs_id, file_id)
    stack.ingest_all()
    assert stack.embedder.embedded == [] and stack.store.chunk_slots(vs_id) == []


def test_a_stop_leaves_the_file_queued_and_uncounted(stack):
    vs_id, file_id = _attach(stack, "long.txt", LONG, chunking_strategy=SMALL_CHUNKS)
    stack.ingester.ingest(vs_id, file_id, should_stop=lambda: True)
    assert stack.vector_store_files.retrieve(vs_id, file_id)["status"] == "in_progress"
    assert stack.ingester.pending_files() == [(vs_id, file_id)]
    assert stack.store.begin_ingest_attempt(vs_id, file_id) == 1  # the stopped attempt was not counted
    stack.store.set_ingest_attempts(vs_id, file_id, 0)
    stack.ingester.ingest(vs_id, file_id)
    assert stack.vector_store_files.retrieve(vs_id, file_id)["status"] == "completed"


def test_a_file_that_stopped_the_server_each_time_is_failed(tmp_path):
    stack = Stack(tmp_path, max_ingest_attempts=2)
    vs_id, file_id = _attach(stack, "a.txt", "Otters hold hands.")
    for _ in range(2):  # two ingestions the server died in
        stack.store.begin_ingest_attempt(vs_id, file_id)
    stack.ingest_all()
    vsf = stack.vector_store_files.retrieve(vs_id, file_id)
    assert vsf["status"] == "failed" and vsf["last_error"]["code"] == "server_error"
    assert "2 times" in vsf["last_error"]["message"] and stack.embedder.embedded == []
    # Attached again: a fresh start.
    stack.vector_store_files.create(vs_id, file_id=file_id)
    stack.ingest_all()
    assert stack.vector_store_files.retrieve(vs_id, file_id)["status"] == "completed"


def test_a_file_ingested_again_replaces_its_chunks(stack):
    vs_id, file_id = _attach(stack, "a.txt", "Otters hold hands.")
    stack.ingest_all()
    vsf = stack.store.get_vector_store_file(vs_id, file_id)
    vsf["status"] = "in_progress"
    stack.store.update_vector_store_file(vsf)
    stack.ingester.ingest(vs_id, file_id)
    assert len(stack.store.chunk_slots(vs_id)) == 1
    assert len(stack.indexes.get(vs_id)) == 1


def test_the_queue_is_idle_once_every_file_put_is_done():
    files = IngestionQueue()
    assert files.wait_idle(0)
    files.put("vs_1", "file-1")
    files.put("vs_1", "file-2")
    assert not files.wait_idle(0)
    assert files.get(0) == ("vs_1", "file-1") and files.done() is False
    assert files.get(0) == ("vs_1", "file-2") and files.done() is True
    files.put("vs_1", "file-3")  # put after the last was done, before settling
    files.settle()
    assert not files.wait_idle(0)
    files.get(0)
    assert files.done() is True
    files.settle()
    assert files.wait_idle(0)
    files.wake()
    assert files.get(0) is None
