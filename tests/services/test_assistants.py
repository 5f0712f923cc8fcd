"""The assistants service without HTTP: the model check it asks of the runtime, the
file-search stores its tool_resources name or create (real SQLite and FAISS, see
``file_search_stack``), and what a refused request leaves behind.  The fields, defaults
and limits as the SDK sees them: tests/api/test_assistants.py."""

from __future__ import annotations

import pytest

from local_assistants.errors import InvalidRequestError, NotFoundError
from local_assistants.services.assistants import AssistantsService

from .file_search_stack import NOW, Stack


class ModelCheck:
    """The runtime's model check: records the names, refuses ``refused``."""

    def __init__(self, *refused: str):
        self.refused = refused
        self.asked: list[str] = []

    def __call__(self, name: str) -> None:
        self.asked.append(name)
        if name in self.refused:
            raise InvalidRequestError(f"The model '{name}' does not exist.", param="model", code="model_not_found")


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


def _service(stack: Stack, check=None, *, with_stores: bool = True) -> AssistantsService:
    return AssistantsService(stack.store, lambda: NOW, vector_stores=stack.vector_stores if with_stores else None,
                             check_model=check or ModelCheck())


def test_create_checks_the_model_as_sent_and_stamps_the_clock(stack):
    check = ModelCheck()
    a = _service(stack, check).create(model="gpt-4o", name="Tutor")
    assert check.asked == ["gpt-4o"]
    assert a["created_at"] == NOW and a["id"].startswith("asst_")
    assert stack.store.get("assistants", a["id"]) == a


def test_a_model_the_runtime_refuses_writes_nothing(stack):
    service = _service(stack, ModelCheck("/etc/passwd"))
    with pytest.raises(InvalidRequestError) as info:
        service.create(model="/etc/passwd")
    assert info.value.code == "model_not_found"
    assert stack.store.find("assistants") == []


def test_modify_checks_a_new_model_only(stack):
    check = ModelCheck("/etc/passwd")
    service = _service(stack, check)
    a = service.create(model="gpt-4o")
    service.modify(a["id"], name="Renamed")
    assert check.asked == ["gpt-4o"]  # no model sent: none checked
    with pytest.raises(InvalidRequestError):
        service.modify(a["id"], model="/etc/passwd", name="Changed")
    assert check.asked == ["gpt-4o", "/etc/passwd"]
    stored = stack.store.get("assistants", a["id"])
    assert stored["model"] == "gpt-4o" and stored["name"] == "Renamed"
    assert service.modify(a["id"], model="gpt-4o-mini")["model"] == "gpt-4o-mini"


def test_none_fields_leave_the_assistant_as_it_was(stack):
    service = _service(stack)
    a = service.create(model="gpt-4o", name="Keep", instructions="Old.", temperature=0.2)
    assert service.modify(a["id"], name=None, instructions=None, temperature=None, model=None) == a


def test_inline_vector_stores_are_created_with_the_assistant_and_never_expire(stack):
    file_id = stack.upload("notes.txt", "Lighthouses guide ships.")
    a = _service(stack).create(model="gpt-4o", tools=[{"type": "file_search"}], tool_resources={
        "file_search": {"vector_stores": [{"file_ids": [file_id], "metadata": {"from": "assistant"}}]}})
    (vs_id,) = a["tool_resources"]["file_search"]["vector_store_ids"]
    assert "vector_stores" not in a["tool_resources"]["file_search"]
    vs = stack.vector_stores.retrieve(vs_id)
    assert vs["expires_after"] is None and vs["metadata"] == {"from": "assistant"}
    assert vs["file_counts"]["total"] == 1
    assert stack.store.get("assistants", a["id"])["tool_resources"] == a["tool_resources"]


def test_modify_creates_inline_stores_too_and_checks_named_ones(stack):
    service = _service(stack)
    a = service.create(model="gpt-4o", tool_resources={"code_interpreter": {"file_ids": ["file-1"]}})
    file_id = stack.upload("notes.txt", "Lighthouses guide ships.")
    m = service.modify(a["id"], tool_resources={"file_search": {"vector_stores": [{"file_ids": [file_id]}]}})
    (vs_id,) = m["tool_resources"]["file_search"]["vector_store_ids"]
    assert stack.vector_stores.retrieve(vs_id)["file_counts"]["total"] == 1
    assert "code_interpreter" not in m["tool_resources"]  # tool_resources are replaced whole, as sent
    with pytest.raises(InvalidRequestError) as info:
        service.modify(a["id"], tool_resources={"file_search": {"vector_store_ids": ["vs_missing"]}})
    assert info.value.param == "tool_resources.file_search.vector_store_ids"
    assert stack.store.get("assistants", a["id"])["tool_resources"] == m["tool_resources"]


def test_an_inline_store_of_a_missing_file_leaves_neither_assistant_nor_store(stack):
    with pytest.raises(NotFoundError):
        _service(stack).create(model="gpt-4o", tool_resources={
            "file_search": {"vector_stores": [{"file_ids": ["file-missing"]}]}})
    assert stack.store.find("assistants") == [] and stack.store.find("vector_stores") == []


def test_without_a_vector_store_service_tool_resources_are_kept_as_given(stack):
    a = _service(stack, with_stores=False).create(model="gpt-4o", tool_resources={
        "file_search": {"vector_store_ids": ["vs_elsewhere"]}})
    assert a["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_elsewhere"]}}


def test_delete_removes_only_the_assistant(stack):
    service = _service(stack)
    keep, gone = service.create(model="gpt-4o"), service.create(model="gpt-4o")
    assert service.delete(gone["id"]) == {"id": gone["id"], "object": "assistant.deleted", "deleted": True}
    assert [a["id"] for a in stack.store.find("assistants")] == [keep["id"]]
    with pytest.raises(NotFoundError):
        service.delete(gone["id"])
    with pytest.raises(NotFoundError):
        service.modify(gone["id"], name="x")
