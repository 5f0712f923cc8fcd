"""Files of vector stores: attached as in_progress rows and queued, re-attached only when
failed or cancelled, listed by status, deleted with their chunks and vectors, and their
parsed content given back (from the chunks when the file itself is gone)."""

from __future__ import annotations

import pytest

from local_assistants.errors import InvalidRequestError, NotFoundError
from local_assistants.services.vector_store_files import _join_chunks, file_counts, file_id_list
from .file_search_stack import Stack


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


def test_file_counts_has_every_status_and_the_total():
    assert file_counts({"completed": 2, "failed": 1}) == {"in_progress": 0, "completed": 2, "failed": 1,
                                                          "cancelled": 0, "total": 3}


def test_file_id_list_checks_and_drops_repeats():
    assert file_id_list(None, "file_ids", 3) == []
    assert file_id_list(["a", "b", "a"], "file_ids", 3) == ["a", "b"]
    for bad in ("a", ["a", ""], ["a", 1], ["a", "b", "c", "d"]):
        with pytest.raises(InvalidRequestError) as info:
            file_id_list(bad, "file_ids", 3)
        assert info.value.param == "file_ids"


def test_join_chunks_puts_overlapping_chunks_back_together():
    assert _join_chunks([(0, 11, "Hello brave"), (6, 17, "brave world"), (18, 22, "Next")]) == \
        "Hello brave world Next"
    assert _join_chunks([]) == ""


def test_attaching_writes_an_in_progress_row_and_queues_it_once(stack):
    vs = stack.vector_stores.create(name="notes")
    file_id = stack.upload("a.txt", "Otters hold hands.")
    obj = stack.vector_store_files.create(vs["id"], file_id=file_id, attributes={"k": "v"})
    assert (obj["id"], obj["status"], obj["attributes"], obj["usage_bytes"]) == (file_id, "in_progress", {"k": "v"}, 0)
    again = stack.vector_store_files.create(vs["id"], file_id=file_id, attributes={"k": "w"})
    assert again["status"] == "in_progress" and again["attributes"] == {"k": "w"}  # attributes updated, not requeued
    assert stack.ingest_all() == [(vs["id"], file_id)]
    with pytest.raises(NotFoundError):
        stack.vector_store_files.create(vs["id"], file_id="file-missing")
    with pytest.raises(InvalidRequestError):
        stack.vector_store_files.create(vs["id"], file_id="")


def test_a_failed_file_attached_again_is_queued_again_keeping_its_attributes(stack):
    vs = stack.vector_stores.create(name="notes")
    file_id = stack.upload("a.exe", "MZ")
    stack.vector_store_files.create(vs["id"], file_id=file_id, attributes={"k": "v"})
    stack.ingest_all()
    assert stack.vector_store_files.retrieve(vs["id"], file_id)["status"] == "failed"
    obj = stack.vector_store_files.create(vs["id"], file_id=file_id)
    assert obj["status"] == "in_progress" and obj["last_error"] is None and obj["attributes"] == {"k": "v"}
    assert stack.ingest_all() == [(vs["id"], file_id)]


def test_listing_by_status_and_updating_attributes(stack):
    vs_id, ids = stack.store_with(a="Otters hold hands.", b="Cheese festival.")
    failed = stack.upload("c.exe", "MZ")
    stack.vector_store_files.create(vs_id, file_id=failed)
    stack.ingest_all()
    assert {f["id"] for f in stack.vector_store_files.list(vs_id, filter="completed").data} == set(ids.values())
    assert [f["id"] for f in stack.vector_store_files.list(vs_id, filter="failed").data] == [failed]
    with pytest.raises(InvalidRequestError) as info:
        stack.vector_store_files.list(vs_id, filter="done")
    assert info.value.param == "filter"
    assert stack.vector_store_files.update(vs_id, ids["a"], attributes={"x": 1})["attributes"] == {"x": 1}
    with pytest.raises(InvalidRequestError):
        stack.vector_store_files.update(vs_id, ids["a"], attributes=None)


def test_delete_removes_the_chunks_and_their_vectors(stack):
    vs_id, ids = stack.store_with(a="Otters hold hands.", b="Cheese festival.")
    assert len(stack.indexes.get(vs_id)) == 2
    assert stack.vector_store_files.delete(vs_id, ids["a"])["deleted"] is True
    assert len(stack.indexes.get(vs_id)) == 1 and stack.store.chunk_texts(vs_id, ids["a"]) == []
    with pytest.raises(NotFoundError):
        stack.vector_store_files.retrieve(vs_id, ids["a"])
    stack.vector_store_files.forget_file(ids["b"])  # the file itself is being deleted
    assert len(stack.indexes.get(vs_id)) == 0 and stack.vector_store_files.list(vs_id).data == []


def test_content_is_the_parsed_text_or_the_chunks_when_the_file_is_gone(stack):
    text = "Sea otters hold hands while they sleep."
    vs_id, ids = stack.store_with(a=text)
    page = stack.vector_store_files.content(vs_id, ids["a"])
    assert page["data"] == [{"type": "text", "text": text}] and page["has_more"] is False
    stack.files.path(ids["a"]).unlink()
    assert stack.vector_store_files.content(vs_id, ids["a"])["data"] == [{"type": "text", "text": text}]
    pending = stack.upload("b.txt", "later")
    stack.vector_store_files.create(vs_id, file_id=pending)
    assert stack.vector_store_files.content(vs_id, pending)["data"] == []  # not completed yet
