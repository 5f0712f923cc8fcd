"""Cursor pagination of lists (assistants as the example) through the SDK's pages and auto-paging."""

from __future__ import annotations

import openai
import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

N = 250


@pytest.fixture(scope="module")
def full_server(tmp_path_factory):
    """One server holding 250 assistants, shared by the read-only tests of this module."""
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("pages"))) as la:
        yield la


@pytest.fixture(scope="module")
def ids(full_server) -> list[str]:
    """The 250 assistants, created through the service layer; ids in creation order."""
    svc = full_server.runtime.assistants
    return [svc.create(model="gpt-4o", name=f"a{i:03d}")["id"] for i in range(N)]


@pytest.fixture(scope="module")
def full_client(full_server, ids):
    c = sdk_client(full_server.base_url)
    yield c
    c.close()


@pytest.mark.parametrize("limit", [7, 25, 100])
def test_auto_pagination_desc_walks_everything_once(full_client, ids, limit):
    seen = [a.id for a in full_client.beta.assistants.list(limit=limit)]
    assert seen == ids[::-1]


@pytest.mark.parametrize("limit", [10, 100])
def test_auto_pagination_asc_walks_everything_once(full_client, ids, limit):
    seen = [a.id for a in full_client.beta.assistants.list(limit=limit, order="asc")]
    assert seen == ids


def test_default_page_is_20_newest_first(full_client, ids):
    page = full_client.beta.assistants.list()
    assert [a.id for a in page.data] == ids[::-1][:20]
    assert page.has_more is True


def test_page_fields(full_client, ids):
    page = full_client.beta.assistants.list(limit=10, order="asc")
    raw = page.model_dump()
    assert raw["object"] == "list"
    assert raw["first_id"] == ids[0]
    assert raw["last_id"] == ids[9]
    assert raw["has_more"] is True
    last = full_client.beta.assistants.list(limit=10, order="asc", after=ids[-11]).model_dump()
    assert [a["id"] for a in last["data"]] == ids[-10:]
    assert last["has_more"] is False
    assert last["first_id"] == ids[-10] and last["last_id"] == ids[-1]


def test_exactly_full_last_page_has_no_more(full_client, ids):
    page = full_client.beta.assistants.list(limit=50, order="asc", after=ids[199])
    assert [a.id for a in page.data] == ids[200:]
    assert page.has_more is False


def test_after_cursor(full_client, ids):
    page = full_client.beta.assistants.list(limit=5, order="asc", after=ids[10])
    assert [a.id for a in page.data] == ids[11:16]
    page = full_client.beta.assistants.list(limit=5, order="desc", after=ids[10])
    assert [a.id for a in page.data] == ids[9:4:-1]
    assert page.has_more is True
    page = full_client.beta.assistants.list(limit=5, order="desc", after=ids[2])
    assert [a.id for a in page.data] == [ids[1], ids[0]]
    assert page.has_more is False


def test_before_cursor(full_client, ids):
    # The page just before the cursor, in the requested order.
    page = full_client.beta.assistants.list(limit=5, order="asc", before=ids[10])
    assert [a.id for a in page.data] == ids[5:10]
    assert page.has_more is True
    page = full_client.beta.assistants.list(limit=5, order="desc", before=ids[10])
    assert [a.id for a in page.data] == ids[15:10:-1]
    assert page.has_more is True
    page = full_client.beta.assistants.list(limit=5, order="asc", before=ids[2])
    assert [a.id for a in page.data] == ids[0:2]
    assert page.has_more is False


def test_after_and_before_together(full_client, ids):
    page = full_client.beta.assistants.list(limit=100, order="asc", after=ids[3], before=ids[8])
    assert [a.id for a in page.data] == ids[4:8]
    assert page.has_more is False


def test_empty_list(client):
    page = client.beta.assistants.list()
    raw = page.model_dump()
    assert raw["data"] == [] and raw["has_more"] is False
    assert raw["first_id"] is None and raw["last_id"] is None
    assert list(client.beta.assistants.list()) == []


def test_deleted_objects_leave_the_list(client, server):
    ids = [server.runtime.assistants.create(model="gpt-4o")["id"] for _ in range(40)]
    for i in range(0, len(ids), 2):
        server.runtime.assistants.delete(ids[i])
    assert [a.id for a in client.beta.assistants.list(limit=9, order="asc")] == ids[1::2]
    assert [a.id for a in client.beta.assistants.list(limit=4)] == ids[1::2][::-1]


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_out_of_range(full_client, limit):
    with pytest.raises(openai.BadRequestError) as info:
        full_client.beta.assistants.list(limit=limit)
    assert info.value.param == "limit"


def test_limit_not_an_integer(full_client):
    with pytest.raises(openai.BadRequestError) as info:
        full_client.beta.assistants.list(extra_query={"limit": "ten"})
    assert info.value.param == "limit"


def test_limit_bounds_are_accepted(full_client, ids):
    assert len(full_client.beta.assistants.list(limit=1).data) == 1
    assert len(full_client.beta.assistants.list(limit=100).data) == 100


def test_bad_order(full_client):
    with pytest.raises(openai.BadRequestError) as info:
        full_client.beta.assistants.list(order="sideways")  # type: ignore[arg-type]
    assert info.value.param == "order"


@pytest.mark.parametrize("cursor", ["after", "before"])
def test_unknown_cursor(client, cursor):
    client.beta.assistants.create(model="gpt-4o")
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.list(**{cursor: "asst_nope"})
    assert info.value.param == cursor
