"""Messages of a thread: requests checked before anything is written, no message while a
run is active, file_search attachments joining the thread's vector store, and lookups
scoped to their thread."""

from __future__ import annotations

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError
from local_assistants.services.messages import MessagesService

NOW = 1_700_000_000


class VectorStores:
    """The vector-store service's part messages use: attaching files to a thread's store."""

    def __init__(self):
        self.attached: list[tuple[str, list[str], str]] = []

    def attach_to_thread(self, thread, file_ids, param="attachments"):
        self.attached.append((thread["id"], file_ids, param))
        thread["tool_resources"] = {"file_search": {"vector_store_ids": ["vs_thread"]}}
        return "vs_thread"


def _service(tmp_path, vector_stores=None):
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.insert("threads", {"id": "thread_1", "object": "thread", "tool_resources": {}, "metadata": {}})
    return store, MessagesService(store, clock=lambda: NOW, vector_stores=vector_stores)


@pytest.mark.parametrize("body, param", [
    ("hello", "messages[0]"),
    ({"role": "user"}, "messages[0].content"),
    ({"role": "user", "content": None}, "messages[0].content"),
    ({"content": "hi"}, "messages[0].role"),
    ({"role": "system", "content": "hi"}, "messages[0].role"),
    ({"role": "user", "content": "hi", "name": "x"}, "messages[0].name"),
])
def test_prepare_names_the_bad_part(tmp_path, body, param):
    _, messages = _service(tmp_path)
    with pytest.raises(InvalidRequestError) as info:
        messages.prepare("thread_1", body, param="messages[0]")
    assert info.value.param == param


def test_create_writes_a_completed_user_message(tmp_path):
    store, messages = _service(tmp_path)
    msg = messages.create("thread_1", role="user", content="What is 2 + 2?", metadata={"k": "v"})
    assert msg["status"] == "completed" and msg["created_at"] == NOW and msg["thread_id"] == "thread_1"
    assert msg["content"] == [{"type": "text", "text": {"value": "What is 2 + 2?", "annotations": []}}]
    assert (msg["attachments"], msg["metadata"], msg["run_id"], msg["assistant_id"]) == ([], {"k": "v"}, None, None)
    assert store.get("messages", msg["id"]) == msg
    with pytest.raises(NotFoundError):
        messages.create("thread_2", role="user", content="hi")


def test_no_message_while_a_run_is_active(tmp_path):
    store, messages = _service(tmp_path)
    store.insert("runs", {"id": "run_1", "thread_id": "thread_1", "status": "requires_action"},
                 thread_id="thread_1", status="requires_action")
    with pytest.raises(InvalidStateError) as info:
        messages.create("thread_1", role="user", content="hi")
    assert "run_1" in str(info.value) and info.value.param == "thread_id"
    assert store.find("messages", thread_id="thread_1") == []
    store.update("runs", {"id": "run_1", "thread_id": "thread_1", "status": "completed"}, status="completed")
    messages.create("thread_1", role="user", content="hi")


def test_file_search_attachments_join_the_threads_store(tmp_path):
    vector_stores = VectorStores()
    store, messages = _service(tmp_path, vector_stores)
    attachments = [{"file_id": "file-1", "tools": [{"type": "file_search"}]},
                   {"file_id": "file-2", "tools": [{"type": "code_interpreter"}]},
                   {"file_id": "file-1", "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]}]
    messages.create("thread_1", role="user", content="Read these.", attachments=attachments)
    assert vector_stores.attached == [("thread_1", ["file-1"], "attachments")]
    assert store.get("threads", "thread_1")["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_thread"]}}
    messages.create("thread_1", role="user", content="Code only.", attachments=attachments[1:2])
    assert len(vector_stores.attached) == 1


def test_file_search_attachments_without_file_search_are_refused(tmp_path):
    store, messages = _service(tmp_path)
    with pytest.raises(InvalidRequestError) as info:
        messages.create("thread_1", role="user", content="hi",
                        attachments=[{"file_id": "file-1", "tools": [{"type": "file_search"}]}])
    assert info.value.param == "attachments"
    assert store.find("messages", thread_id="thread_1") == []  # the transaction left nothing


def test_messages_are_found_only_in_their_thread_and_listed_by_run(tmp_path):
    store, messages = _service(tmp_path)
    store.insert("threads", {"id": "thread_2", "object": "thread"})
    first = messages.create("thread_1", role="user", content="one")
    ran = messages.insert(dict(messages.prepare("thread_1", {"role": "assistant", "content": "two"}), run_id="run_1"))
    with pytest.raises(NotFoundError):
        messages.retrieve("thread_2", first["id"])
    assert [m["id"] for m in messages.list("thread_1", run_id="run_1").data] == [ran["id"]]
    assert {m["id"] for m in messages.list("thread_1").data} == {first["id"], ran["id"]}
    assert messages.modify("thread_1", first["id"], metadata={"a": "b"})["metadata"] == {"a": "b"}
    assert messages.modify("thread_1", first["id"])["metadata"] == {"a": "b"}  # nothing given: unchanged
    assert messages.delete("thread_1", first["id"]) == {"id": first["id"], "object": "thread.message.deleted",
                                                        "deleted": True}
    assert store.get("messages", first["id"]) is None
    with pytest.raises(NotFoundError):
        messages.delete("thread_1", first["id"])
