"""/v1/containers' file route reads a JSON body or a multipart form itself: what it passes to
the containers service and what it refuses before reading; the content route streams what
the service gives and closes it.  On the app with a stand-in containers service
(tests/api/test_containers.py tests it over HTTP, with the SDK, on the real sandbox)."""

from __future__ import annotations

import io

import pytest

from stand_in import app_client, stand_in_runtime
from types import SimpleNamespace


class Containers:
    def __init__(self):
        self.created: list[dict] = []
        self.closed = False

    def create_file(self, container_id, *, file=None, filename=None, file_id=None):
        self.created.append({"container_id": container_id, "data": file.read() if file else None,
                             "filename": filename, "file_id": file_id})
        return {"id": "cfile_1"}

    def content(self, container_id, file_id):
        service = self

        class Reader(io.BytesIO):
            def close(self):
                service.closed = True
                super().close()

        return {"path": "/mnt/data/résumé.txt"}, Reader(b"x" * (3 << 20))


@pytest.fixture
def containers():
    return Containers()


@pytest.fixture
def client(containers):
    runtime = stand_in_runtime(containers=containers, files=SimpleNamespace(max_bytes=1000))
    with app_client(runtime) as c:
        yield c


def test_an_upload_and_a_file_id_reach_the_service(client, containers):
    assert client.post("/v1/containers/cntr_1/files", files={"file": ("a.txt", b"hello")}).json() == {"id": "cfile_1"}
    assert client.post("/v1/containers/cntr_1/files", json={"file_id": "file-1"}).status_code == 200
    assert containers.created == [
        {"container_id": "cntr_1", "data": b"hello", "filename": "a.txt", "file_id": None},
        {"container_id": "cntr_1", "data": None, "filename": None, "file_id": "file-1"}]


@pytest.mark.parametrize("kwargs, param", [
    ({"json": {}}, "file_id"),
    ({"json": {"file_id": "file-1", "other": 1}}, "other"),
    ({"files": {"other": ("a.txt", b"x")}}, "other"),
    ({"files": {"file": (None, "not a file")}}, "file"),
])
def test_bad_bodies_are_refused_before_the_service(client, containers, kwargs, param):
    resp = client.post("/v1/containers/cntr_1/files", **kwargs)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert containers.created == []


def test_a_body_declared_too_large_is_refused_before_it_is_read(client, containers):
    resp = client.post("/v1/containers/cntr_1/files", content=b"x",
                       headers={"content-type": "multipart/form-data; boundary=b",
                                "content-length": str(1000 + (1 << 20) + 1)})
    assert resp.status_code == 413 and containers.created == []


def test_content_is_streamed_as_bytes_and_closed(client, containers):
    resp = client.get("/v1/containers/cntr_1/files/cfile_1/content")
    assert resp.status_code == 200 and resp.content == b"x" * (3 << 20)
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"
    assert containers.closed
