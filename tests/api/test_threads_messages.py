"""/v1/threads and /v1/threads/{id}/messages through the official SDK against the real server."""

from __future__ import annotations

import openai
import pytest


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _texts(messages) -> list[str]:
    return [m.content[0].text.value for m in messages]


# -- threads --------------------------------------------------------------------------------

def test_create_empty_thread(shared_client):
    t = shared_client.beta.threads.create()
    assert t.id.startswith("thread_")
    assert t.object == "thread"
    assert isinstance(t.created_at, int) and t.created_at > 1_600_000_000
    assert t.metadata == {}
    assert shared_client.beta.threads.messages.list(t.id).data == []


def test_create_thread_with_messages_metadata_and_tool_resources(shared_client):
    # file_search needs real things: an existing vector store, and an existing file to attach to it
    vs = shared_client.vector_stores.create(name="thread store")
    doc = shared_client.files.create(file=("doc.txt", b"a document"), purpose="assistants")
    t = shared_client.beta.threads.create(
        messages=[
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi there", "metadata": {"n": "2"}},
            {"role": "user", "content": [{"type": "text", "text": "Look"}],
             "attachments": [{"file_id": doc.id, "tools": [{"type": "file_search"}]}]},
        ],
        metadata={"topic": "greetings"},
        tool_resources={"code_interpreter": {"file_ids": ["file-1"]},
                        "file_search": {"vector_store_ids": [vs.id]}},
    )
    assert t.metadata == {"topic": "greetings"}
    assert t.tool_resources.code_interpreter.file_ids == ["file-1"]
    assert t.tool_resources.file_search.vector_store_ids == [vs.id]
    assert shared_client.vector_stores.files.retrieve(doc.id, vector_store_id=vs.id).id == doc.id
    msgs = shared_client.beta.threads.messages.list(t.id, order="asc").data
    assert _texts(msgs) == ["Hello", "Hi there", "Look"]
    assert [m.role for m in msgs] == ["user", "assistant", "user"]
    assert all(m.thread_id == t.id for m in msgs)
    assert msgs[1].metadata == {"n": "2"}
    assert msgs[2].attachments[0].file_id == doc.id
    assert msgs[2].attachments[0].tools[0].type == "file_search"
    # newest first by default
    assert _texts(shared_client.beta.threads.messages.list(t.id).data) == ["Look", "Hi there", "Hello"]


def test_retrieve_thread(shared_client):
    t = shared_client.beta.threads.create(metadata={"a": "b"})
    assert shared_client.beta.threads.retrieve(t.id).model_dump() == t.model_dump()


def test_modify_thread(shared_client):
    t = shared_client.beta.threads.create(metadata={"a": "b"},
                                   tool_resources={"code_interpreter": {"file_ids": ["file-1"]}})
    m = shared_client.beta.threads.update(t.id, metadata={"c": "d"})
    assert m.metadata == {"c": "d"}
    assert m.tool_resources.code_interpreter.file_ids == ["file-1"]
    m = shared_client.beta.threads.update(t.id, tool_resources={"code_interpreter": {"file_ids": ["file-2"]}})
    assert m.metadata == {"c": "d"}
    assert m.tool_resources.code_interpreter.file_ids == ["file-2"]
    assert shared_client.beta.threads.retrieve(t.id).model_dump() == m.model_dump()


def test_modify_thread_refuses_bad_metadata(shared_client):
    t = shared_client.beta.threads.create(metadata={"a": "b"})
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.update(t.id, metadata={f"k{i}": "v" for i in range(17)})
    assert info.value.param == "metadata"
    assert shared_client.beta.threads.retrieve(t.id).metadata == {"a": "b"}


def test_delete_thread_deletes_its_messages(shared_client, shared_server):
    t = shared_client.beta.threads.create(messages=[{"role": "user", "content": "one"}])
    m = shared_client.beta.threads.messages.create(t.id, role="user", content="two")
    other = shared_client.beta.threads.create(messages=[{"role": "user", "content": "keep"}])
    d = shared_client.beta.threads.delete(t.id)
    assert d.id == t.id and d.deleted is True and d.object == "thread.deleted"
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.retrieve(t.id)
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.list(t.id)
    store = shared_server.runtime.store
    assert store.get("messages", m.id) is None
    assert store.count("messages", thread_id=t.id) == 0
    assert store.count("messages", thread_id=other.id) == 1


@pytest.mark.parametrize("op", ["retrieve", "update", "delete"])
def test_unknown_thread_is_404(shared_client, op):
    with pytest.raises(openai.NotFoundError):
        getattr(shared_client.beta.threads, op)("thread_nope")


def test_thread_with_one_bad_message_writes_nothing(shared_client, shared_server):
    store = shared_server.runtime.store
    before_threads, before_messages = store.count("threads"), store.count("messages")
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.create(messages=[
            {"role": "user", "content": "good"},
            {"role": "user", "content": "also good"},
            {"role": "system", "content": "bad"},
        ])
    assert info.value.param == "messages[2].role"
    assert store.count("threads") == before_threads
    assert store.count("messages") == before_messages


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"messages": [{"role": "user", "content": "ok"}, {"role": "user"}]}, "messages[1].content"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": "x", "metadata": {"k": "v" * 513}}]},
         "messages[0].metadata.k"),
        ({"tool_resources": {"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}},
         "tool_resources.file_search.vector_store_ids"),
        ({"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y", "file_ids": []}]},
         "messages[1].file_ids"),
        ({"messages": ["hello"]}, "messages[0]"),
        ({"messages": "hello"}, "messages"),
    ],
)
def test_bad_thread_create_writes_nothing(shared_client, shared_server, kwargs, param):
    store = shared_server.runtime.store
    before = store.count("threads"), store.count("messages")
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.create(**kwargs)
    assert info.value.param == param
    assert (store.count("threads"), store.count("messages")) == before


def test_thread_unknown_argument(shared_client):
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.create(extra_body={"assistant_id": "asst_1"})
    assert info.value.param == "assistant_id"


# -- messages -------------------------------------------------------------------------------

def test_create_message_with_string_content(shared_client):
    t = shared_client.beta.threads.create()
    m = shared_client.beta.threads.messages.create(t.id, role="user", content="What is 2+2?",
                                            metadata={"source": "test"})
    assert m.id.startswith("msg_")
    assert m.object == "thread.message"
    assert m.thread_id == t.id
    assert m.role == "user"
    assert m.status == "completed"
    assert isinstance(m.created_at, int) and m.created_at > 1_600_000_000
    assert m.assistant_id is None and m.run_id is None
    assert m.incomplete_details is None
    assert m.attachments == []
    assert m.metadata == {"source": "test"}
    assert len(m.content) == 1
    assert m.content[0].type == "text"
    assert m.content[0].text.value == "What is 2+2?"
    assert m.content[0].text.annotations == []


def test_create_message_with_content_parts(shared_client):
    t = shared_client.beta.threads.create()
    doc = shared_client.files.create(file=("doc.txt", b"a document"), purpose="assistants")
    m = shared_client.beta.threads.messages.create(
        t.id,
        role="user",
        content=[
            {"type": "text", "text": "Describe these."},
            {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}},
        ],
        attachments=[{"file_id": doc.id, "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]}],
    )
    assert [p.type for p in m.content] == ["text", "image_file", "image_url", "image_url"]
    assert m.content[0].text.value == "Describe these."
    assert m.content[1].image_file.file_id == "file-img"
    assert m.content[1].image_file.detail == "low"
    assert m.content[2].image_url.url == "https://example.com/a.png"
    assert m.content[2].image_url.detail == "high"
    assert m.content[3].image_url.url == "https://example.com/b.png"
    assert m.attachments[0].file_id == doc.id
    assert [x.type for x in m.attachments[0].tools] == ["code_interpreter", "file_search"]
    got = shared_client.beta.threads.messages.retrieve(m.id, thread_id=t.id)
    assert got.model_dump() == m.model_dump()


def test_assistant_role_message(shared_client):
    t = shared_client.beta.threads.create()
    m = shared_client.beta.threads.messages.create(t.id, role="assistant", content="I am here.")
    assert m.role == "assistant"


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"role": "system", "content": "x"}, "role"),
        ({"role": "user", "content": []}, "content"),
        ({"role": "user", "content": [{"type": "text"}]}, "content[0].text"),
        ({"role": "user", "content": [{"type": "image_file", "image_file": {}}]}, "content[0].image_file.file_id"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png",
                                                                          "detail": "ultra"}}]},
         "content[0].image_url.detail"),
        ({"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": "file-1",
                                                                            "detail": "ultra"}}]},
         "content[0].image_file.detail"),
        ({"role": "user", "content": "x", "attachments": [{"tools": []}]}, "attachments[0].file_id"),
        ({"role": "user", "content": "x", "attachments": [{"file_id": "f", "tools": [{"type": "function"}]}]},
         "attachments[0].tools[0].type"),
        ({"role": "user", "content": "x", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ],
)
def test_bad_message_is_refused(shared_client, shared_server, kwargs, param):
    t = shared_client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.create(t.id, **kwargs)
    assert info.value.param == param
    assert shared_server.runtime.store.count("messages", thread_id=t.id) == 0


def test_message_missing_content(shared_client):
    t = shared_client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.create(t.id, role="user", content=None)
    assert info.value.param == "content"


def test_message_unknown_argument(shared_client):
    t = shared_client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.create(t.id, role="user", content="x", extra_body={"file_ids": []})
    assert info.value.param == "file_ids"


def test_message_on_unknown_thread(shared_client):
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.create("thread_nope", role="user", content="x")
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.list("thread_nope")


def test_message_of_another_thread_is_not_found(shared_client):
    t1 = shared_client.beta.threads.create()
    t2 = shared_client.beta.threads.create()
    m = shared_client.beta.threads.messages.create(t1.id, role="user", content="mine")
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.retrieve(m.id, thread_id=t2.id)
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.update(m.id, thread_id=t2.id, metadata={"x": "y"})
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.delete(m.id, thread_id=t2.id)
    # untouched
    assert shared_client.beta.threads.messages.retrieve(m.id, thread_id=t1.id).metadata == {}


def test_unknown_message_is_not_found(shared_client):
    t = shared_client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.retrieve("msg_nope", thread_id=t.id)


def test_list_messages_pagination_and_run_id_filter(shared_client):
    t = shared_client.beta.threads.create()
    ids = [shared_client.beta.threads.messages.create(t.id, role="user", content=f"m{i}").id for i in range(5)]
    assert [m.id for m in shared_client.beta.threads.messages.list(t.id, limit=2, order="asc")] == ids
    page = shared_client.beta.threads.messages.list(t.id, limit=2, after=ids[3])
    assert [m.id for m in page.data] == [ids[2], ids[1]]
    assert page.has_more is True
    assert shared_client.beta.threads.messages.list(t.id, run_id="run_abc").data == []
    # an empty run_id filters nothing, as an empty cursor does
    assert len(shared_client.beta.threads.messages.list(t.id, extra_query={"run_id": ""}).data) == 5
    # messages of other threads never show up
    other = shared_client.beta.threads.create(messages=[{"role": "user", "content": "elsewhere"}])
    assert [m.id for m in shared_client.beta.threads.messages.list(t.id, order="asc")] == ids
    assert len(shared_client.beta.threads.messages.list(other.id).data) == 1


def test_list_messages_cursor_from_another_thread(shared_client):
    t1 = shared_client.beta.threads.create(messages=[{"role": "user", "content": "a"}])
    t2 = shared_client.beta.threads.create(messages=[{"role": "user", "content": "b"}])
    foreign = shared_client.beta.threads.messages.list(t2.id).data[0].id
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.list(t1.id, after=foreign)
    assert info.value.param == "after"


def test_modify_message_metadata(shared_client):
    t = shared_client.beta.threads.create()
    m = shared_client.beta.threads.messages.create(t.id, role="user", content="x", metadata={"a": "1"})
    u = shared_client.beta.threads.messages.update(m.id, thread_id=t.id, metadata={"b": "2"})
    assert u.metadata == {"b": "2"}
    assert u.content[0].text.value == "x"
    assert shared_client.beta.threads.messages.retrieve(m.id, thread_id=t.id).metadata == {"b": "2"}
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.update(m.id, thread_id=t.id, metadata={"k": "v" * 513})
    assert info.value.param == "metadata.k"
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.messages.update(m.id, thread_id=t.id, extra_body={"content": "changed"})
    assert info.value.param == "content"
    assert shared_client.beta.threads.messages.retrieve(m.id, thread_id=t.id).metadata == {"b": "2"}


def test_delete_message(shared_client):
    t = shared_client.beta.threads.create()
    keep = shared_client.beta.threads.messages.create(t.id, role="user", content="keep")
    m = shared_client.beta.threads.messages.create(t.id, role="user", content="drop")
    d = shared_client.beta.threads.messages.delete(m.id, thread_id=t.id)
    assert d.id == m.id and d.deleted is True and d.object == "thread.message.deleted"
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.retrieve(m.id, thread_id=t.id)
    assert [x.id for x in shared_client.beta.threads.messages.list(t.id)] == [keep.id]
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.messages.delete(m.id, thread_id=t.id)


def test_a_message_over_openais_256000_characters_is_refused_naming_content(client):
    import openai

    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="x" * 256_000)
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.messages.create(thread.id, role="user", content="x" * 1_000_000)
    assert err.value.param == "content" and "string too long" in err.value.message
