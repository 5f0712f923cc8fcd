"""/v1/files: multipart upload, list, retrieve, content, delete; size limit; orphan blobs."""

from __future__ import annotations

import httpx
import openai
import pytest

from local_assistants import LocalAssistants, Runtime
from conftest import make_settings, sdk_client


def _blobs(server) -> list[str]:
    return sorted(p.name for p in server.runtime.files.files_dir.iterdir())


def test_upload_returns_file_object(client, server):
    f = client.files.create(file=("notes.txt", b"hello world"), purpose="assistants")
    assert f.id.startswith("file-")
    assert f.object == "file"
    assert f.bytes == 11
    assert f.filename == "notes.txt"
    assert f.purpose == "assistants"
    assert f.status == "processed"
    assert isinstance(f.created_at, int) and f.created_at > 1_600_000_000
    assert f.expires_at is None
    assert _blobs(server) == [f.id]
    assert (server.runtime.files.files_dir / f.id).read_bytes() == b"hello world"


def test_upload_with_expiry(client):
    f = client.files.create(file=("a.txt", b"x"), purpose="assistants",
                            expires_after={"anchor": "created_at", "seconds": 3600})
    assert f.expires_at == f.created_at + 3600


@pytest.mark.parametrize(
    "expires_after, param",
    [
        ({"anchor": "created_at", "seconds": 3599}, "expires_after.seconds"),
        ({"anchor": "created_at", "seconds": 30 * 24 * 3600 + 1}, "expires_after.seconds"),
        ({"anchor": "created_at", "seconds": -5}, "expires_after.seconds"),
        ({"anchor": "last_active_at", "seconds": 3600}, "expires_after.anchor"),
    ],
)
def test_bad_expiry_is_refused(client, server, expires_after, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.txt", b"x"), purpose="assistants", expires_after=expires_after)
    assert info.value.param == param
    assert server.runtime.store.count("files") == 0
    assert _blobs(server) == []


def test_longest_expiry_is_accepted(client):
    f = client.files.create(file=("a.txt", b"x"), purpose="assistants",
                            expires_after={"anchor": "created_at", "seconds": 30 * 24 * 3600})
    assert f.expires_at == f.created_at + 30 * 24 * 3600


def test_non_ascii_filename_round_trips(client):
    name = "naïve résumé ✓.txt"
    f = client.files.create(file=(name, b"abc"), purpose="assistants")
    assert f.filename == name
    assert client.files.retrieve(f.id).filename == name
    assert client.files.content(f.id).read() == b"abc"


def test_filename_is_stripped_of_directories(client):
    f = client.files.create(file=("../../etc/evil.txt", b"x"), purpose="assistants")
    assert f.filename == "evil.txt"


def test_retrieve_and_content(client):
    data = bytes(range(256)) * 40  # binary, not valid UTF-8
    f = client.files.create(file=("blob.bin", data), purpose="user_data")
    got = client.files.retrieve(f.id)
    assert got.model_dump() == f.model_dump()
    assert client.files.content(f.id).read() == data


def test_empty_file(client):
    f = client.files.create(file=("empty.txt", b""), purpose="assistants")
    assert f.bytes == 0
    assert client.files.content(f.id).read() == b""


def test_list_and_purpose_filter(client):
    a = client.files.create(file=("a.txt", b"a"), purpose="assistants")
    b = client.files.create(file=("b.jsonl", b"{}"), purpose="batch")
    c = client.files.create(file=("c.txt", b"c"), purpose="assistants")
    assert [f.id for f in client.files.list()] == [c.id, b.id, a.id]
    assert [f.id for f in client.files.list(purpose="assistants")] == [c.id, a.id]
    assert [f.id for f in client.files.list(purpose="batch")] == [b.id]
    assert [f.id for f in client.files.list(purpose="vision")] == []
    assert [f.id for f in client.files.list(order="asc", limit=1)] == [a.id, b.id, c.id]


def test_list_limit_allows_more_than_100_but_not_more_than_10000(client):
    assert client.files.list(limit=1000).data == []
    with pytest.raises(openai.BadRequestError) as info:
        client.files.list(limit=10_001)
    assert info.value.param == "limit"


def test_delete_removes_row_and_blob(client, server):
    f = client.files.create(file=("a.txt", b"abc"), purpose="assistants")
    keep = client.files.create(file=("b.txt", b"def"), purpose="assistants")
    d = client.files.delete(f.id)
    assert d.id == f.id and d.deleted is True and d.object == "file"
    assert _blobs(server) == [keep.id]
    assert server.runtime.store.get("files", f.id) is None
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(f.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(f.id)
    assert [x.id for x in client.files.list()] == [keep.id]


@pytest.mark.parametrize("op", ["retrieve", "delete", "content"])
def test_unknown_file_is_404(client, op):
    with pytest.raises(openai.NotFoundError):
        getattr(client.files, op)("file-nope")


@pytest.mark.parametrize("purpose", ["nonsense", "assistants_output", ""])
def test_bad_purpose(client, server, purpose):
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.txt", b"abc"), purpose=purpose)  # type: ignore[arg-type]
    assert info.value.param == "purpose"
    assert server.runtime.store.count("files") == 0
    assert _blobs(server) == []


def test_missing_file_part(server):
    resp = httpx.post(f"{server.base_url}/files", files={"purpose": (None, "assistants")})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "file"
    # A part the API does not know is refused as any unknown field is.
    resp = httpx.post(f"{server.base_url}/files", data={"purpose": "assistants"},
                      files={"other": ("x.txt", b"x")})
    assert resp.status_code == 400
    assert resp.json()["error"] == {"message": "Unknown parameter: 'other'.", "type": "invalid_request_error",
                                    "param": "other", "code": "unknown_parameter"}


def test_json_body_is_refused(server):
    resp = httpx.post(f"{server.base_url}/files", json={"purpose": "assistants"})
    assert resp.status_code == 400
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}


def test_bad_expires_after(server):
    resp = httpx.post(f"{server.base_url}/files", files={"file": ("a.txt", b"x")},
                      data={"purpose": "assistants", "expires_after[anchor]": "created_at",
                            "expires_after[seconds]": "soon"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "expires_after.seconds"


@pytest.fixture
def small_server(tmp_path):
    with LocalAssistants(make_settings(tmp_path, max_file_bytes=1000)) as la:
        yield la


def test_upload_larger_than_limit_is_413_and_leaves_nothing(small_server):
    client = sdk_client(small_server.base_url)
    try:
        ok = client.files.create(file=("ok.txt", b"x" * 1000), purpose="assistants")
        with pytest.raises(openai.APIStatusError) as info:
            client.files.create(file=("big.txt", b"x" * 1001), purpose="assistants")
        assert info.value.status_code == 413
        assert info.value.param == "file"
        with pytest.raises(openai.APIStatusError) as info:
            client.files.create(file=("huge.txt", b"x" * (2 << 20)), purpose="assistants")
        assert info.value.status_code == 413
    finally:
        client.close()
    rt = small_server.runtime
    assert rt.store.count("files") == 1
    assert sorted(p.name for p in rt.files.files_dir.iterdir()) == [ok.id]


def test_orphan_blobs_are_removed_at_start(tmp_path):
    settings = make_settings(tmp_path)
    with Runtime(settings) as rt:
        import io

        kept = rt.files.create(file=io.BytesIO(b"kept"), filename="k.txt", purpose="assistants")
        files_dir = rt.files.files_dir
    (files_dir / "file-orphan").write_bytes(b"no row")
    (files_dir / ".file-half.tmp").write_bytes(b"unfinished")
    (files_dir / "somebody-elses-folder").mkdir()
    with Runtime(settings) as rt:
        assert sorted(p.name for p in rt.files.files_dir.iterdir()) == [kept["id"], "somebody-elses-folder"]
        _, path = rt.files.content(kept["id"])
        assert path.read_bytes() == b"kept"
