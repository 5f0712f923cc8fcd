"""What every resource service shares: lookups that 404 (also when the object belongs
elsewhere), list queries checked as OpenAI checks them, deletion receipts."""

from __future__ import annotations

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidRequestError, NotFoundError
from local_assistants.ports import ListQuery
from local_assistants.services.base import ResourceService, deleted, list_query


class Things(ResourceService):
    table = "messages"
    noun = "message"


def test_get_404s_for_a_missing_object_or_one_that_belongs_elsewhere(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite")
    things = Things(store, clock=lambda: 1234.9)
    store.insert("messages", {"id": "msg_1", "thread_id": "thread_1", "run_id": None}, thread_id="thread_1")
    assert things.get("msg_1")["id"] == "msg_1"
    assert things.get("msg_1", thread_id="thread_1")["id"] == "msg_1"
    with pytest.raises(NotFoundError, match="No message found with id 'msg_1'."):
        things.get("msg_1", thread_id="thread_2")
    with pytest.raises(NotFoundError, match="No message found with id 'msg_2'."):
        things.get("msg_2")
    assert things.now() == 1234
    assert [m["id"] for m in things.list_page(thread_id="thread_1").data] == ["msg_1"]
    assert things.list_page(thread_id="thread_2").data == []


def test_list_query_defaults_and_bounds():
    assert list_query(None, None, "", None) == ListQuery(limit=20, order="desc", after=None, before=None, where={})
    assert list_query("5", "asc", "a", "b", where={"x": 1, "y": None}) == ListQuery(5, "asc", "a", "b", {"x": 1})
    assert list_query(100, "desc", None, None).limit == 100
    assert list_query(200, "desc", None, None, max_limit=500).limit == 200


@pytest.mark.parametrize("limit, order, max_limit, param", [
    ("ten", "desc", 100, "limit"),
    (0, "desc", 100, "limit"),
    (101, "desc", 100, "limit"),
    (11, "desc", 10, "limit"),
    (10, "up", 100, "order"),
])
def test_list_query_refuses_what_openai_refuses(limit, order, max_limit, param):
    with pytest.raises(InvalidRequestError) as info:
        list_query(limit, order, None, None, max_limit)
    assert info.value.param == param


def test_deleted_is_the_receipt_openai_returns():
    assert deleted("thread_1", "thread.deleted") == {"id": "thread_1", "object": "thread.deleted", "deleted": True}
