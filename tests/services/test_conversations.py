"""ConversationsService over a real SQLite file (``responses_stack``): a conversation is a
thread, its items the ``items`` table's rows shown as Responses items; each answer checked
against the official SDK's types."""

from __future__ import annotations

import pytest
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItemList

from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError
from local_assistants.services.conversations import MAX_CREATE_ITEMS, view

from .responses_stack import WEATHER, Services, text_of


@pytest.fixture
def s(tmp_path):
    return Services(tmp_path)


def says(i: int) -> dict:
    return {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"}


def texts(page: dict) -> list[str]:
    return [p["text"] for item in page["data"] for p in item["content"]]


def test_create_with_items(s):
    conv = s.conversations.create(items=[
        {"type": "message", "role": "user", "content": "Hello"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]}], metadata={"topic": "greeting"})
    parsed = Conversation.model_validate(conv)
    assert parsed.id.startswith("conv_") and parsed.metadata == {"topic": "greeting"}
    assert conv == {"id": conv["id"], "object": "conversation", "created_at": conv["created_at"],
                    "metadata": {"topic": "greeting"}}
    thread = s.store.get("threads", conv["id"])
    assert thread["object"] == "thread" and thread["metadata"] == {"topic": "greeting"}
    assert [(m["role"], text_of(m)) for m in s.thread_messages(conv["id"])] == [("user", "Hello"),
                                                                               ("assistant", "Hi!")]
    page = s.conversations.list_items(conv["id"], order="asc")
    ConversationItemList.model_validate(page)
    assert [(i["role"], i["content"][0]["type"]) for i in page["data"]] == [("user", "input_text"),
                                                                           ("assistant", "output_text")]
    empty = s.conversations.create()
    assert empty == view(s.store.get("threads", empty["id"])) and empty["metadata"] == {}
    assert s.store.find("messages", thread_id=empty["id"]) == []


def test_at_most_twenty_items_at_a_time(s):
    assert MAX_CREATE_ITEMS == 20
    conv = s.conversations.create(items=[says(i) for i in range(20)])
    assert len(s.conversations.list_items(conv["id"], limit=100)["data"]) == 20
    before = s.store.table_counts()
    with pytest.raises(InvalidRequestError) as err:
        s.conversations.create(items=[says(i) for i in range(21)])
    assert err.value.param == "items" and "maximum length 20" in str(err.value)
    with pytest.raises(InvalidRequestError):
        s.conversations.create_items(conv["id"], items=[says(i) for i in range(21)])
    assert s.store.table_counts() == before


@pytest.mark.parametrize("items, param", [
    ("hello", "items"),
    ([{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}], "items[0].type"),
    ([{"role": "system", "content": "x"}], "items[0].role"),
    ([says(0), {"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}], "items[1].content[0].type"),
    ([{"role": "user"}], "items[0].content"),
])
def test_bad_items_are_refused_and_nothing_is_written(s, items, param):
    before = s.store.table_counts()
    with pytest.raises(InvalidRequestError) as err:
        s.conversations.create(items=items)
    assert err.value.param == param
    assert s.store.table_counts() == before


def test_retrieve_update_delete(s):
    conv = s.conversations.create(items=[says(0)], metadata={"a": "1"})
    assert s.conversations.retrieve(conv["id"]) == conv
    updated = s.conversations.update(conv["id"], metadata={"b": "2"})
    assert updated["metadata"] == {"b": "2"} and s.conversations.retrieve(conv["id"])["metadata"] == {"b": "2"}
    with pytest.raises(InvalidRequestError) as err:
        s.conversations.update(conv["id"])
    assert err.value.param == "metadata"
    deleted = s.conversations.delete(conv["id"])
    assert deleted == {"id": conv["id"], "object": "conversation.deleted", "deleted": True}
    ConversationDeletedResource.model_validate(deleted)
    for call in (lambda: s.conversations.retrieve(conv["id"]), lambda: s.conversations.delete(conv["id"]),
                 lambda: s.conversations.list_items(conv["id"]),
                 lambda: s.conversations.update(conv["id"], metadata={})):
        with pytest.raises(NotFoundError):
            call()
    assert s.store.find("messages", thread_id=conv["id"]) == [] and s.store.find("items", thread_id=conv["id"]) == []


def test_list_items_pages_newest_first_by_default(s):
    conv = s.conversations.create(items=[says(i) for i in range(7)])
    assert texts(s.conversations.list_items(conv["id"])) == [f"m{i}" for i in reversed(range(7))]
    first = s.conversations.list_items(conv["id"], order="asc", limit=3)
    assert texts(first) == ["m0", "m1", "m2"] and first["has_more"] is True
    assert first["first_id"] == first["data"][0]["id"] and first["last_id"] == first["data"][-1]["id"]
    second = s.conversations.list_items(conv["id"], order="asc", limit=3, after=first["last_id"])
    assert texts(second) == ["m3", "m4", "m5"] and second["has_more"] is True
    third = s.conversations.list_items(conv["id"], order="asc", limit=3, after=second["last_id"])
    assert texts(third) == ["m6"] and third["has_more"] is False
    back = s.conversations.list_items(conv["id"], order="desc", limit=2, after=third["last_id"])
    assert texts(back) == ["m5", "m4"]
    ConversationItemList.model_validate(back)
    empty = s.conversations.list_items(s.conversations.create()["id"])
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_create_items_appends_and_is_refused_while_a_run_is_active(s):
    conv = s.conversations.create(items=[says(0)])
    added = s.conversations.create_items(conv["id"], items=[says(1), says(2)])
    ConversationItemList.model_validate(added)
    assert texts(added) == ["m1", "m2"] and added["has_more"] is False
    assert texts(s.conversations.list_items(conv["id"], order="asc")) == ["m0", "m1", "m2"]
    with pytest.raises(InvalidRequestError) as err:
        s.conversations.create_items(conv["id"], items=[])
    assert err.value.param == "items"
    response, _ = s.create(conversation=conv["id"], input="m3")  # its run is queued on the thread
    before = s.store.table_counts()
    with pytest.raises(InvalidStateError):
        s.conversations.create_items(conv["id"], items=[says(4)])
    with pytest.raises(InvalidStateError):
        s.conversations.delete_item(conv["id"], added["data"][0]["id"])
    assert s.store.table_counts() == before
    s.finish(response["id"], "m4 answer")
    s.conversations.create_items(conv["id"], items=[says(6)])
    assert texts(s.conversations.list_items(conv["id"], order="asc")) == ["m0", "m1", "m2", "m3", "m4 answer",
                                                                          "m6"]
    with pytest.raises(NotFoundError):
        s.conversations.create_items("conv_missing", items=[says(0)])


def test_retrieve_and_delete_a_message_item(s):
    conv = s.conversations.create(items=[says(0), says(1)])
    other = s.conversations.create(items=[says(2)])
    first, second = s.conversations.list_items(conv["id"], order="asc")["data"]
    assert s.conversations.retrieve_item(conv["id"], first["id"]) == first
    with pytest.raises(NotFoundError):
        s.conversations.retrieve_item(other["id"], first["id"])  # an item of another conversation
    with pytest.raises(NotFoundError):
        s.conversations.delete_item(other["id"], first["id"])
    assert s.conversations.delete_item(conv["id"], first["id"]) == s.conversations.retrieve(conv["id"])
    assert s.store.get("messages", first["id"]) is None
    assert [i["id"] for i in s.conversations.list_items(conv["id"])["data"]] == [second["id"]]
    with pytest.raises(NotFoundError):
        s.conversations.retrieve_item(conv["id"], first["id"])


def with_a_call(s):
    conv = s.conversations.create()
    response, _ = s.create(conversation=conv["id"], tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"type": "function_call", "call_id": "call_oslo", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_oslo", "output": "snow"},
        {"type": "function_call", "call_id": "call_rome", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "call_rome", "output": "sun"}])
    s.finish(response["id"], "Snow and sun.")
    return conv, response


def test_calls_and_outputs_are_items_in_their_order(s):
    conv, _ = with_a_call(s)
    page = s.conversations.list_items(conv["id"], order="asc")
    ConversationItemList.model_validate(page)
    assert [(i["type"], i["id"]) for i in page["data"][1:5]] == [
        ("function_call", "fc_oslo"), ("function_call_output", "fco_oslo"),
        ("function_call", "fc_rome"), ("function_call_output", "fco_rome")]
    assert page["data"][-1]["content"][0]["text"] == "Snow and sun."
    assert s.conversations.retrieve_item(conv["id"], "fco_rome")["output"] == "sun"


def test_deleting_a_call_item_takes_the_call_and_its_output_from_the_step(s):
    conv, response = with_a_call(s)
    s.conversations.delete_item(conv["id"], "fc_oslo")
    (step,) = [st for st in s.store.find("run_steps", run_id=response["id"]) if st["type"] == "tool_calls"]
    assert [c["id"] for c in step["step_details"]["tool_calls"]] == ["call_rome"]
    types = [i["id"] for i in s.conversations.list_items(conv["id"], order="asc")["data"]]
    assert "fc_oslo" not in types and "fco_oslo" not in types and types[1:3] == ["fc_rome", "fco_rome"]
    with pytest.raises(NotFoundError):
        s.conversations.retrieve_item(conv["id"], "fco_oslo")


def test_deleting_an_output_item_keeps_its_call(s):
    conv, response = with_a_call(s)
    s.conversations.delete_item(conv["id"], "fco_rome")
    (step,) = [st for st in s.store.find("run_steps", run_id=response["id"]) if st["type"] == "tool_calls"]
    rome = step["step_details"]["tool_calls"][1]
    assert rome["id"] == "call_rome" and rome["function"]["output"] is None
    ids = [i["id"] for i in s.conversations.list_items(conv["id"], order="asc")["data"]]
    assert "fc_rome" in ids and "fco_rome" not in ids


def test_a_thread_made_by_the_assistants_api_is_a_conversation(s):
    thread = s.threads.create(messages=[says(0), says(1)], metadata={"from": "assistants"})
    conv = s.conversations.retrieve(thread["id"])
    assert conv == {"id": thread["id"], "object": "conversation", "created_at": thread["created_at"],
                    "metadata": {"from": "assistants"}}
    Conversation.model_validate(conv)
    assert texts(s.conversations.list_items(thread["id"], order="asc")) == ["m0", "m1"]
    s.messages.create(thread["id"], role="user", content="m2")
    assert texts(s.conversations.list_items(thread["id"], limit=1)) == ["m2"]
    s.conversations.create_items(thread["id"], items=[says(3)])
    assert [m["content"][0]["text"]["value"] for m in s.messages.list(thread["id"], order="asc").data][-1] == "m3"
