"""The playground's files as served: the page at /, its assets with the right content types,
package data in the wheel's sense (beside the server's code), and nothing that points at
another host: the page must work with no network at all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from local_assistants.server.playground import STATIC

ASSETS = {"app.js": "javascript", "markdown.js": "javascript", "style.css": "text/css"}


@pytest.fixture(scope="module")
def http(shared_server):
    with httpx.Client(base_url=shared_server.base_url.removesuffix("/v1")) as c:
        yield c


def test_the_page_is_served_at_the_root(http):
    r = http.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for name in ASSETS:
        assert f"/playground/{name}" in r.text


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_each_asset_is_served_with_its_content_type(http, name):
    r = http.get(f"/playground/{name}")
    assert r.status_code == 200
    assert ASSETS[name] in r.headers["content-type"]
    assert r.content == (STATIC / name).read_bytes()


def test_a_missing_asset_is_a_404_and_the_api_stays_under_v1(http):
    assert http.get("/playground/nope.js").status_code == 404
    assert http.get("/v1/models").json()["object"] == "list"


def test_the_page_is_not_in_the_openapi_document(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert "/" not in paths and all(p.startswith("/v1") or p == "/health" for p in paths)


def _code_without_comments(path: Path) -> str:
    text = path.read_text()
    if path.suffix in (".js", ".css"):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)
    if path.suffix == ".html":
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return text


def test_no_file_of_the_page_points_at_another_host():
    files = sorted(p for p in STATIC.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"index.html", *ASSETS}
    for path in files:
        if "licen" in path.name.lower():
            continue
        code = _code_without_comments(path)
        # A scheme, or a protocol-relative address in an attribute or a CSS url().
        found = re.findall(r"https?://\S*|(?:src|href|action)\s*=\s*[\"']//\S*|url\(\s*[\"']?//\S*", code, flags=re.I)
        assert not found, f"{path.name} references {found}"
        assert "@import" not in code and "fonts.googleapis" not in code


def test_the_embedded_server_tells_where_its_page_is(shared_server):
    assert httpx.get(shared_server.playground_url).headers["content-type"].startswith("text/html")


def test_the_chat_offers_both_apis_and_the_page_speaks_only_to_v1():
    html = (STATIC / "index.html").read_text()
    select = re.search(r'<select id="chat-api"[^>]*>(.*?)</select>', html, flags=re.S)
    assert select, "the chat has an API switch"
    assert re.findall(r'<option value="(\w+)"', select.group(1)) == ["assistants", "responses"]
    app = _code_without_comments(STATIC / "app.js")
    # Responses mode goes through the public API: /v1/responses in a /v1/conversations one.
    assert 'api.stream("/responses"' in app and 'api.post("/conversations"' in app
    assert "fetch(`/v1${path}" in app and not re.search(r"fetch\(\s*[\"'`](?!/v1)", app)
