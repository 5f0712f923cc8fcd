"""/v1/files' upload route reads the multipart form itself: what it passes to the files
service and what it refuses before reading; on the app with a stand-in files service
(tests/api/test_files.py and test_request_checks.py test it over HTTP, with the SDK)."""

from __future__ import annotations

import pytest

from stand_in import app_client, stand_in_runtime


class Files:
    max_bytes = 1000

    def __init__(self):
        self.created: list[dict] = []

    def create(self, *, file, filename, purpose, expires_after):
        self.created.append({"data": file.read(), "filename": filename, "purpose": purpose,
                             "expires_after": expires_after})
        return {"id": "file_1"}


@pytest.fixture
def files():
    return Files()


@pytest.fixture
def client(files):
    with app_client(stand_in_runtime(files=files)) as c:
        yield c


def test_the_upload_reaches_the_service_as_sent(client, files):
    resp = client.post("/v1/files", files={"file": ("notes.txt", b"hello")},
                       data={"purpose": "assistants", "expires_after[seconds]": "3600"})
    assert resp.json() == {"id": "file_1"}
    assert files.created == [{"data": b"hello", "filename": "notes.txt", "purpose": "assistants",
                              "expires_after": {"anchor": "created_at", "seconds": 3600}}]
    client.post("/v1/files", files={"file": ("b.txt", b"x")}, data={"purpose": "vision"})
    assert files.created[1]["expires_after"] is None


@pytest.mark.parametrize("form, param", [
    ({"files": {"purpose": (None, "assistants")}}, "file"),
    ({"files": {"purpose": (None, "assistants"), "file": (None, "not a file")}}, "file"),
    ({"files": {"file": ("a.txt", b"x")}}, "purpose"),
])
def test_a_missing_part_is_named(client, files, form, param):
    resp = client.post("/v1/files", **form)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"message": f"Missing required parameter: '{param}'.",
                                    "type": "invalid_request_error", "param": param, "code": None}
    assert files.created == []


def test_a_body_declared_too_large_is_refused_before_it_is_read(client, files):
    limit = files.max_bytes + (1 << 20)  # the file's limit and 1 MiB of multipart envelope
    resp = client.post("/v1/files", content=b"x", headers={"content-type": "multipart/form-data; boundary=b",
                                                           "content-length": str(limit + 1)})
    assert resp.status_code == 413 and resp.json()["error"]["param"] == "file"
    assert files.created == []
