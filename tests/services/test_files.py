"""The files service without HTTP: what the runtime itself stores (outputs of code), the
blob written before its row and removed when the row cannot be, the hooks a delete runs
in its transaction, and orphan removal's count.  Uploads as the SDK makes them:
tests/api/test_files.py."""

from __future__ import annotations

import io

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from local_assistants.services import files as files_module
from local_assistants.services.files import FilesService

NOW = 1_700_000_000


@pytest.fixture
def store(tmp_path):
    return SQLiteStore(tmp_path / "db.sqlite")


@pytest.fixture
def files(store, tmp_path):
    return FilesService(store, tmp_path / "blobs" / "files", max_bytes=3 << 20, clock=lambda: NOW)


def _entries(files: FilesService) -> list[str]:
    return sorted(p.name for p in files.files_dir.iterdir())


def test_the_folder_is_made_and_a_file_is_its_blob_and_its_row(files, store):
    assert files.files_dir.is_dir()
    f = files.create(file=io.BytesIO(b"hello"), filename="dir/notes.txt", purpose="assistants",
                     expires_after={"anchor": "created_at", "seconds": 3600})
    assert (f["filename"], f["bytes"], f["created_at"], f["expires_at"]) == ("notes.txt", 5, NOW, NOW + 3600)
    assert store.get("files", f["id"]) == f
    obj, path = files.content(f["id"])
    assert obj == f and path == files.path(f["id"]) and path.read_bytes() == b"hello"
    assert _entries(files) == [f["id"]]  # no temporary left


def test_a_file_larger_than_a_read_is_copied_whole_up_to_the_limit(files):
    data = bytes(range(256)) * ((3 << 20) // 256)  # exactly the limit, three reads
    assert len(data) == files.max_bytes and len(data) > files_module._CHUNK
    f = files.create(file=io.BytesIO(data), filename="big.bin", purpose="user_data")
    assert f["bytes"] == len(data) and files.path(f["id"]).read_bytes() == data
    with pytest.raises(PayloadTooLargeError):
        files.create(file=io.BytesIO(data + b"!"), filename="bigger.bin", purpose="user_data")
    assert _entries(files) == [f["id"]]


def test_the_runtime_stores_outputs_under_a_purpose_uploads_may_not_use(files):
    with pytest.raises(InvalidRequestError) as info:
        files.create(file=io.BytesIO(b"x"), filename="a.png", purpose="assistants_output")
    assert info.value.param == "purpose"
    out = files.store_bytes(io.BytesIO(b"\x89PNG"), filename="image-1.png", purpose="assistants_output")
    assert out["purpose"] == "assistants_output" and out["expires_at"] is None
    assert [f["id"] for f in files.list(purpose="assistants_output").data] == [out["id"]]
    assert files.list(purpose="assistants").data == []


def test_an_empty_filename_is_a_missing_file(files):
    with pytest.raises(InvalidRequestError) as info:
        files.create(file=io.BytesIO(b"x"), filename="", purpose="assistants")
    assert info.value.param == "file"
    assert _entries(files) == []


def test_a_row_that_cannot_be_written_takes_its_blob_with_it(files, store, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "insert", broken)
    with pytest.raises(RuntimeError):
        files.create(file=io.BytesIO(b"abc"), filename="a.txt", purpose="assistants")
    assert _entries(files) == []


def test_delete_runs_the_hooks_in_its_transaction_then_removes_the_blob(files, store):
    f = files.create(file=io.BytesIO(b"abc"), filename="a.txt", purpose="assistants")
    seen = []
    files.on_delete.append(lambda file_id: seen.append(("first", file_id, store.get("files", file_id) is not None)))
    files.on_delete.append(lambda file_id: seen.append(("second", file_id, store.get("files", file_id) is not None)))
    assert files.delete(f["id"]) == {"id": f["id"], "object": "file", "deleted": True}
    assert seen == [("first", f["id"], True), ("second", f["id"], True)]  # the row still there for them
    assert store.get("files", f["id"]) is None and _entries(files) == []
    with pytest.raises(NotFoundError):
        files.delete(f["id"])
    assert len(seen) == 2  # no hook for a file that is not there


def test_a_hook_that_fails_leaves_the_file_as_it_was(files, store):
    f = files.create(file=io.BytesIO(b"abc"), filename="a.txt", purpose="assistants")
    forgotten = []

    def forget(file_id):
        store.insert("assistants", {"id": "asst_x", "file_id": file_id})  # any write of its own
        forgotten.append(file_id)

    def broken(file_id):
        raise RuntimeError("index unavailable")

    files.on_delete += [forget, broken]
    with pytest.raises(RuntimeError):
        files.delete(f["id"])
    assert forgotten == [f["id"]]
    assert store.get("assistants", "asst_x") is None  # the first hook's write was rolled back
    assert store.get("files", f["id"]) == f and files.path(f["id"]).read_bytes() == b"abc"


def test_a_file_whose_blob_is_already_gone_is_still_deleted(files, store):
    f = files.create(file=io.BytesIO(b"abc"), filename="a.txt", purpose="assistants")
    files.path(f["id"]).unlink()
    assert files.delete(f["id"])["deleted"] is True
    assert store.get("files", f["id"]) is None


def test_remove_orphans_counts_what_it_removed_and_keeps_folders(files):
    kept = files.create(file=io.BytesIO(b"kept"), filename="k.txt", purpose="assistants")
    assert files.remove_orphans() == 0
    (files.files_dir / "file-orphan").write_bytes(b"no row")
    (files.files_dir / f".{kept['id']}.tmp").write_bytes(b"unfinished")
    (files.files_dir / "a-folder").mkdir()
    (files.files_dir / "a-folder" / "inside").write_bytes(b"not ours")
    assert files.remove_orphans() == 2
    assert _entries(files) == ["a-folder", kept["id"]]
    assert (files.files_dir / "a-folder" / "inside").exists()
