"""The vector stores service without HTTP, on real SQLite and FAISS with the model-free
embedder (``file_search_stack``): counts and status computed from the files' rows,
activity and expiry on a clock that moves, what a delete removes, and the stores that
tool_resources and message attachments name or create.  The API as the SDK sees it:
tests/api/test_vector_stores.py."""

from __future__ import annotations

import pytest

from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError
from local_assistants.services.vector_stores import DAY_S

from .file_search_stack import NOW, Stack

ONE_DAY = {"anchor": "last_active_at", "days": 1}


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


@pytest.fixture
def clock(stack):
    """The vector stores' clock, to move (the stack's other services keep theirs)."""
    c = Clock()
    stack.vector_stores.clock = c
    return c


def test_counts_usage_and_status_follow_the_files_rows(stack):
    a = stack.upload("a.txt", "Otters hold hands.")
    bad = stack.upload("b.pdf", "not a text file")
    vs = stack.vector_stores.create(name="notes", file_ids=[a, bad])
    assert vs["status"] == "in_progress" and vs["usage_bytes"] == 0
    assert vs["file_counts"] == {"in_progress": 2, "completed": 0, "failed": 0, "cancelled": 0, "total": 2}
    stack.ingest_all()
    done = stack.vector_stores.retrieve(vs["id"])
    assert done["status"] == "completed" and done["usage_bytes"] > 0
    assert done["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0, "total": 2}
    assert [x["file_counts"]["total"] for x in stack.vector_stores.list().data] == [2]  # lists render too


def test_a_missing_file_creates_no_store(stack):
    keep = stack.upload("a.txt", "Otters hold hands.")
    with pytest.raises(NotFoundError):
        stack.vector_stores.create(file_ids=[keep, "file-missing"])
    assert stack.store.find("vector_stores") == [] and stack.ingest_all() == []


@pytest.mark.parametrize("value, param", [
    ("7 days", "expires_after"),
    ({"anchor": "last_active_at", "days": True}, "expires_after.days"),
    ({"anchor": "last_active_at", "days": 366}, "expires_after.days"),
    ({"anchor": "last_active_at", "days": 1.5}, "expires_after.days"),
    ({"days": 3}, "expires_after.anchor"),
])
def test_bad_expiry_policies_are_refused(stack, value, param):
    with pytest.raises(InvalidRequestError) as info:
        stack.vector_stores.create(expires_after=value)
    assert info.value.param == param
    vs = stack.vector_stores.create()
    with pytest.raises(InvalidRequestError):
        stack.vector_stores.modify(vs["id"], expires_after=value)


def test_activity_pushes_expiry_back_until_it_has_passed(stack, clock):
    vs = stack.vector_stores.create(expires_after=ONE_DAY)
    assert vs["expires_at"] == NOW + DAY_S and vs["last_active_at"] == NOW
    clock.now += 3600
    stack.vector_stores.touch(vs["id"])
    got = stack.vector_stores.retrieve(vs["id"])
    assert (got["last_active_at"], got["expires_at"]) == (NOW + 3600, NOW + 3600 + DAY_S)
    clock.now = got["expires_at"]  # expired at that very second
    assert stack.vector_stores.retrieve(vs["id"])["status"] == "expired"
    stack.vector_stores.touch(vs["id"])  # too late: no revival by activity
    assert stack.store.get("vector_stores", vs["id"])["expires_at"] == NOW + 3600 + DAY_S
    with pytest.raises(InvalidStateError) as info:
        stack.vector_stores.usable(vs["id"])
    assert info.value.param == "vector_store_id"
    stack.vector_stores.touch("vs_missing")  # nothing to touch: no error
    with pytest.raises(NotFoundError):
        stack.vector_stores.usable("vs_missing")


def test_a_store_without_expiry_records_activity_and_never_expires(stack, clock):
    vs = stack.vector_stores.create()
    clock.now += 400 * DAY_S
    stack.vector_stores.touch(vs["id"])
    got = stack.vector_stores.retrieve(vs["id"])
    assert got["last_active_at"] == clock.now and got["expires_at"] is None and got["status"] == "completed"
    assert stack.vector_stores.usable(vs["id"])["id"] == vs["id"]


def test_modify_keeps_the_policy_unless_sent_and_a_new_one_counts_from_now(stack, clock):
    vs = stack.vector_stores.create(name="a", expires_after=ONE_DAY, metadata={"k": "v"})
    clock.now += 2 * DAY_S
    kept = stack.vector_stores.modify(vs["id"], name="b")
    assert kept["status"] == "expired" and kept["expires_after"] == ONE_DAY and kept["metadata"] == {"k": "v"}
    renewed = stack.vector_stores.modify(vs["id"], expires_after={"anchor": "last_active_at", "days": 3})
    assert renewed["last_active_at"] == clock.now and renewed["expires_at"] == clock.now + 3 * DAY_S
    assert renewed["status"] == "completed" and renewed["name"] == "b"
    assert stack.store.get("vector_stores", vs["id"])["expires_at"] == clock.now + 3 * DAY_S


def test_delete_removes_the_stores_files_chunks_and_index_and_nothing_else(stack):
    vs_id, ids = stack.store_with(otters="Sea otters hold hands.", codes="The launch code is 4471.")
    other_id, _ = stack.store_with(cheese="The cheese festival is in September.")
    stack.indexes.flush()
    assert stack.indexes.path(vs_id).is_file()
    assert stack.vector_stores.delete(vs_id) == {"id": vs_id, "object": "vector_store.deleted", "deleted": True}
    assert not stack.indexes.path(vs_id).exists()
    assert stack.store.chunk_slots(vs_id) == [] and stack.store.find_vector_store_files(vector_store_id=vs_id) == []
    assert all(stack.store.get("files", f) is not None for f in ids.values())  # the files stay
    assert stack.search.search(other_id, "cheese festival")[0].text.startswith("The cheese festival")
    with pytest.raises(NotFoundError):
        stack.vector_stores.retrieve(vs_id)
    with pytest.raises(NotFoundError):
        stack.vector_stores.delete(vs_id)


# -- tool_resources and attachments ------------------------------------------------------------

def test_resolving_tool_resources_names_the_callers_parameter_and_copies(stack):
    given = {"file_search": {"vector_store_ids": ["vs_missing"]}}
    with pytest.raises(InvalidRequestError) as info:
        stack.vector_stores.resolve_tool_resources(given, for_thread=True, param="thread.tool_resources")
    assert info.value.param == "thread.tool_resources.file_search.vector_store_ids"
    plain = {"code_interpreter": {"file_ids": ["file-1"]}}
    assert stack.vector_stores.resolve_tool_resources(plain, for_thread=True) is plain
    file_id = stack.upload("a.txt", "Otters hold hands.")
    spec = {"code_interpreter": {"file_ids": ["file-1"]},
            "file_search": {"vector_stores": [{"file_ids": [file_id]}, {"file_ids": []}]}}
    resolved = stack.vector_stores.resolve_tool_resources(spec, for_thread=True)
    first, second = resolved["file_search"]["vector_store_ids"]
    assert resolved["code_interpreter"] == {"file_ids": ["file-1"]} and "vector_stores" not in resolved["file_search"]
    assert spec["file_search"] == {"vector_stores": [{"file_ids": [file_id]}, {"file_ids": []}]}  # not changed
    assert stack.vector_stores.retrieve(first)["file_counts"]["total"] == 1
    assert stack.vector_stores.retrieve(second)["expires_after"] == {"anchor": "last_active_at", "days": 7}


def test_attachments_go_to_the_threads_store_which_is_made_once(stack):
    a, b = stack.upload("a.txt", "Kayaks."), stack.upload("b.txt", "Canoes.")
    thread = {"id": "thread_1", "tool_resources": None}
    vs_id = stack.vector_stores.attach_to_thread(thread, [a])
    assert thread["tool_resources"] == {"file_search": {"vector_store_ids": [vs_id]}}
    assert stack.vector_stores.retrieve(vs_id)["expires_after"] == {"anchor": "last_active_at", "days": 7}
    assert stack.vector_stores.attach_to_thread(thread, [b]) == vs_id
    assert stack.vector_stores.retrieve(vs_id)["file_counts"]["total"] == 2


def test_a_thread_whose_store_was_deleted_or_expired_gets_a_new_one(stack, clock):
    a = stack.upload("a.txt", "Kayaks.")
    thread = {"id": "thread_1", "tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}}}
    first = stack.vector_stores.attach_to_thread(thread, [a])
    stack.vector_stores.delete(first)
    second = stack.vector_stores.attach_to_thread(thread, [a])
    assert second != first and thread["tool_resources"]["file_search"]["vector_store_ids"] == [second]
    assert thread["tool_resources"]["code_interpreter"] == {"file_ids": ["file-1"]}
    clock.now += 8 * DAY_S
    third = stack.vector_stores.attach_to_thread(thread, [a])
    assert third not in (first, second)
    assert thread["tool_resources"]["file_search"]["vector_store_ids"] == [third]
    assert stack.vector_stores.retrieve(second)["status"] == "expired"  # left as it was


def test_an_attachment_of_a_missing_file_changes_nothing(stack):
    a = stack.upload("a.txt", "Kayaks.")
    thread = {"id": "thread_1", "tool_resources": {}}
    with pytest.raises(InvalidRequestError) as info:
        stack.vector_stores.attach_to_thread(thread, [a, "file-missing"], param="attachments[1].file_id")
    assert info.value.param == "attachments[1].file_id"
    assert thread["tool_resources"] == {} and stack.store.find("vector_stores") == []
