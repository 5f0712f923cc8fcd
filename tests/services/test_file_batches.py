"""File batches: created from file ids or per-file entries, checked before anything is
written, their status and counts computed from their files' rows, and cancelled with the
files still in progress."""

from __future__ import annotations

import pytest

from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError
from .file_search_stack import Stack


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


@pytest.mark.parametrize("kwargs, error, param", [
    ({}, InvalidRequestError, "file_ids"),
    ({"file_ids": ["a"], "files": []}, InvalidRequestError, "files"),
    ({"file_ids": []}, InvalidRequestError, "file_ids"),
    ({"files": []}, InvalidRequestError, "files"),
    ({"files": "x"}, InvalidRequestError, "files"),
    ({"files": [{"attributes": {}}]}, InvalidRequestError, "files[0].file_id"),
    ({"files": [{"file_id": "f", "color": "red"}]}, InvalidRequestError, "files[0].color"),
    ({"file_ids": ["file-missing"]}, NotFoundError, "file_ids"),
])
def test_bad_batches_name_their_parameter_and_write_nothing(stack, kwargs, error, param):
    vs = stack.vector_stores.create(name="notes")
    with pytest.raises(error) as info:
        stack.file_batches.create(vs["id"], **kwargs)
    assert info.value.param == param
    assert stack.store.find("file_batches") == [] and stack.vector_store_files.list(vs["id"]).data == []


def test_a_batch_is_in_progress_until_its_files_are_done(stack):
    vs = stack.vector_stores.create(name="notes")
    good, bad = stack.upload("a.txt", "Otters."), stack.upload("b.exe", "MZ")
    batch = stack.file_batches.create(vs["id"], file_ids=[good, bad, good], attributes={"k": "v"})
    assert batch["status"] == "in_progress" and batch["file_counts"]["in_progress"] == 2
    assert batch["file_counts"]["total"] == 2
    stack.ingest_all()
    batch = stack.file_batches.retrieve(vs["id"], batch["id"])
    assert batch["status"] == "completed"
    assert batch["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0, "total": 2}
    files = stack.file_batches.list_files(vs["id"], batch["id"]).data
    assert {f["id"] for f in files} == {good, bad} and all(f["attributes"] == {"k": "v"} for f in files)
    with pytest.raises(NotFoundError):
        stack.file_batches.retrieve("vs_other", batch["id"])


def test_a_batch_whose_files_all_failed_failed(stack):
    vs = stack.vector_stores.create(name="notes")
    batch = stack.file_batches.create(vs["id"], files=[{"file_id": stack.upload("b.exe", "MZ"),
                                                        "attributes": {"n": 1}}])
    stack.ingest_all()
    assert stack.file_batches.retrieve(vs["id"], batch["id"])["status"] == "failed"


def test_cancel_cancels_the_files_still_in_progress(stack):
    vs = stack.vector_stores.create(name="notes")
    done = stack.upload("a.txt", "Otters.")
    stack.vector_store_files.create(vs["id"], file_id=done)
    stack.ingest_all()
    waiting = stack.upload("b.txt", "Cheese.")
    batch = stack.file_batches.create(vs["id"], file_ids=[done, waiting])
    cancelled = stack.file_batches.cancel(vs["id"], batch["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["file_counts"]["cancelled"] == 1 and cancelled["file_counts"]["completed"] == 1
    assert stack.vector_store_files.retrieve(vs["id"], done)["status"] == "completed"
    stack.ingest_all()  # the cancelled file is skipped
    assert stack.vector_store_files.retrieve(vs["id"], waiting)["status"] == "cancelled"
    with pytest.raises(InvalidStateError):
        stack.file_batches.cancel(vs["id"], batch["id"])
