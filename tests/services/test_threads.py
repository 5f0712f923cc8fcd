"""Threads: created with their messages all or nothing, inline vector stores only where
file search exists, and deleted with everything they hold."""

from __future__ import annotations

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidRequestError, NotFoundError
from local_assistants.services.messages import MessagesService
from local_assistants.services.threads import ThreadsService

NOW = 1_700_000_000


class VectorStores:
    def __init__(self):
        self.resolved = []

    def resolve_tool_resources(self, tool_resources, *, for_thread):
        self.resolved.append((tool_resources, for_thread))
        if tool_resources and "vector_stores" in tool_resources.get("file_search", {}):
            return {"file_search": {"vector_store_ids": ["vs_new"]}}
        return tool_resources


@pytest.fixture
def setup(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite")
    deleted_threads = []
    threads = ThreadsService(store, MessagesService(store, clock=lambda: NOW), on_delete=[deleted_threads.append])
    return store, threads, deleted_threads


def test_a_thread_is_created_with_its_messages(setup):
    store, threads, _ = setup
    thread = threads.create(messages=[{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}],
                            metadata={"k": "v"})
    assert (thread["object"], thread["created_at"], thread["metadata"], thread["tool_resources"]) == (
        "thread", NOW, {"k": "v"}, {})
    assert store.get("threads", thread["id"]) == thread
    assert [m["role"] for m in store.find("messages", thread_id=thread["id"])] == ["user", "assistant"]


def test_a_bad_message_leaves_no_thread(setup):
    store, threads, _ = setup
    with pytest.raises(InvalidRequestError) as info:
        threads.create(messages=[{"role": "user", "content": "ok"}, {"role": "user"}])
    assert info.value.param == "messages[1].content"
    with pytest.raises(InvalidRequestError) as info:
        threads.create(messages={"role": "user", "content": "not a list"})
    assert info.value.param == "messages"
    assert store.find("threads") == [] and store.find("messages") == []


def test_inline_vector_stores_need_file_search(setup):
    store, threads, _ = setup
    with pytest.raises(InvalidRequestError) as info:
        threads.create(tool_resources={"file_search": {"vector_stores": [{"file_ids": []}]}})
    assert info.value.param == "tool_resources.file_search.vector_stores"
    assert store.find("threads") == []
    thread = threads.create(tool_resources={"file_search": {"vector_store_ids": ["vs_1"]}})
    assert thread["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_1"]}}


def test_with_file_search_the_stores_are_resolved_for_a_thread(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite")
    vector_stores = VectorStores()
    threads = ThreadsService(store, MessagesService(store, vector_stores=vector_stores))
    assert threads.vector_stores is vector_stores
    thread = threads.create(tool_resources={"file_search": {"vector_stores": [{"file_ids": ["file-1"]}]}})
    assert thread["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_new"]}}
    assert vector_stores.resolved[-1][1] is True
    modified = threads.modify(thread["id"], tool_resources={"code_interpreter": {"file_ids": []}})
    assert modified["tool_resources"] == {"code_interpreter": {"file_ids": []}}


def test_modify_changes_only_what_is_given(setup):
    store, threads, _ = setup
    thread = threads.create(metadata={"a": "1"}, tool_resources={"code_interpreter": {"file_ids": ["file-1"]}})
    out = threads.modify(thread["id"], metadata={"b": "2"})
    assert out["metadata"] == {"b": "2"} and out["tool_resources"] == thread["tool_resources"]
    assert store.get("threads", thread["id"]) == out
    with pytest.raises(NotFoundError):
        threads.modify("thread_missing", metadata={})


def test_delete_removes_what_the_thread_holds_then_tells_the_hooks(setup):
    store, threads, deleted_threads = setup
    keep = threads.create(messages=[{"role": "user", "content": "keep"}])
    thread = threads.create(messages=[{"role": "user", "content": "go"}])
    store.insert("runs", {"id": "run_1", "thread_id": thread["id"], "status": "completed"},
                 thread_id=thread["id"], status="completed")
    store.insert("run_steps", {"id": "step_1", "thread_id": thread["id"], "run_id": "run_1"},
                 thread_id=thread["id"], run_id="run_1")
    assert threads.delete(thread["id"]) == {"id": thread["id"], "object": "thread.deleted", "deleted": True}
    assert deleted_threads == [thread["id"]]
    assert store.get("threads", thread["id"]) is None
    for table in ("messages", "runs", "run_steps"):
        assert store.find(table, thread_id=thread["id"]) == [], table
    assert store.get("threads", keep["id"]) is not None and len(store.find("messages", thread_id=keep["id"])) == 1
    with pytest.raises(NotFoundError):
        threads.delete(thread["id"])
    assert deleted_threads == [thread["id"]]
