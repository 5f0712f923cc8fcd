"""The schema builders, request bodies, query parameters and route descriptions of
``server.schemas``, on their own (tests/api/test_openapi.py checks the served document
and sends each stated limit to the server)."""

from __future__ import annotations

import jsonschema
import pytest
from fastapi.responses import Response
from pydantic import ValidationError

from local_assistants.core import validation as v
from local_assistants.server import schemas as s


def test_the_schema_builders():
    assert s.nullable({"type": "integer"}) == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert s.string() == {"type": "string"}
    assert s.string(5, pattern="x") == {"type": "string", "pattern": "x", "maxLength": 5}
    assert s.integer() == {"type": "integer"}
    assert s.integer(1) == {"type": "integer", "minimum": 1}
    assert s.integer(maximum=0) == {"type": "integer", "maximum": 0}  # a limit of 0 is a limit
    assert s.number(0, 2) == {"type": "number", "minimum": 0, "maximum": 2}
    assert s.enum(("a", "b")) == {"type": "string", "enum": ["a", "b"]}
    assert s.obj({"a": {}}) == {"type": "object", "properties": {"a": {}}, "additionalProperties": False}
    assert s.obj({"a": {}}, ("a",), closed=False, title="T") == {"type": "object", "properties": {"a": {}},
                                                                 "title": "T", "required": ["a"]}


def test_a_body_is_a_closed_object_of_its_fields():
    body = s.Body("Thing", {"name": s.string(3), "size": s.integer(0)}, ("name",))
    assert body.fields == frozenset({"name", "size"})
    schema = body.schema()
    assert schema["title"] == "Thing" and schema["required"] == ["name"]
    jsonschema.validate({"name": "abc", "size": 0}, schema)
    for bad in ({"size": 1}, {"name": "abcd"}, {"name": "a", "colour": "red"}, {"name": "a", "size": -1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert body.openapi() == {"required": True, "content": {"application/json": {"schema": schema}}}
    assert s.EMPTY.openapi()["required"] is False  # no field required: the body may be left out


def test_query_parameters():
    limit = s.Param("limit", s.integer(1, 100), "1 to 100")
    assert limit.openapi() == {"name": "limit", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 1, "maximum": 100}, "description": "1 to 100"}
    assert "description" not in s.Param("after", s.string()).openapi()
    assert s.INCLUDE.openapi() == {
        "name": "include[]", "in": "query", "required": False, "description": "add file search results' content",
        "schema": {"type": "array", "items": {"type": "string", "enum": ["step_details.tool_calls[*].file_search"
                                                                         ".results[*].content"]}},
        "style": "form", "explode": True}


def test_pages_take_openai_s_four_parameters_and_their_own():
    assert [p.name for p in s.PAGE] == ["limit", "order", "after", "before"]
    assert s.page_params(10000)[0].schema == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert [p.name for p in s.MESSAGES_PAGE][4:] == ["run_id"]
    assert [p.name for p in s.VS_FILES_PAGE][4:] == ["filter"]
    assert [p.name for p in s.STEPS_PAGE][4:] == ["include[]"]
    assert [p.name for p in s.FILES_PAGE][4:] == ["purpose"]


def test_the_limits_are_the_validation_module_s():
    metadata = s.METADATA["anyOf"][0]
    assert metadata["maxProperties"] == v.MAX_METADATA_PAIRS
    jsonschema.validate({f"k{i}": "v" for i in range(v.MAX_METADATA_PAIRS)}, s.METADATA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({f"k{i}": "v" for i in range(v.MAX_METADATA_PAIRS + 1)}, s.METADATA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"k": "v" * (v.MAX_METADATA_VALUE + 1)}, s.METADATA)
    jsonschema.validate(None, s.METADATA)
    assert s.TOOLS["anyOf"][0]["maxItems"] == v.MAX_TOOLS


def test_the_message_and_tool_schemas_take_what_the_sdk_sends():
    jsonschema.validate({"role": "user", "content": [{"type": "text", "text": "hi"},
                                                     {"type": "image_file", "image_file": {"file_id": "file_1"}}]},
                        s.MESSAGE)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"role": "system", "content": "hi"}, s.MESSAGE)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"role": "user", "content": []}, s.MESSAGE)  # at least one part
    jsonschema.validate([{"type": "code_interpreter"}, {"type": "function", "function": {"name": "get_weather"}}],
                        s.TOOLS)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"type": "function", "function": {"name": "has space"}}], s.TOOLS)


def test_filters_nest_compounds_of_comparisons():
    leaf = {"type": "eq", "key": "author", "value": "Ada"}
    jsonschema.validate({"type": "and", "filters": [leaf, {"type": "or", "filters": [leaf, leaf]}]}, s.FILTERS)
    for bad in ({"type": "and", "filters": []}, {"type": "like", "key": "a", "value": "b"}, {"type": "eq", "key": ""}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, s.FILTERS)


def test_create_thread_and_run_takes_no_per_run_additions():
    assert {"additional_instructions", "additional_messages", "reasoning_effort"}.isdisjoint(
        s.CREATE_THREAD_AND_RUN.fields)
    assert {"thread", "tool_resources", "assistant_id", "stream"} <= s.CREATE_THREAD_AND_RUN.fields
    assert s.MODIFY_ASSISTANT.required == () and "anyOf" in s.MODIFY_ASSISTANT.properties["model"]


def test_doc_describes_a_json_route():
    kwargs = s.doc(body=s.CREATE_MESSAGE, query=s.PAGE, returns=s.Health)
    assert kwargs["openapi_extra"]["requestBody"] == s.CREATE_MESSAGE.openapi()
    assert [p["name"] for p in kwargs["openapi_extra"]["parameters"]] == ["limit", "order", "after", "before"]
    assert kwargs["responses"][200] == {"description": "OK", "model": s.Health}
    assert kwargs["responses"]["default"]["model"] is s.ErrorBody
    assert "response_class" not in kwargs


def test_doc_describes_streams_forms_and_bytes():
    streamed = s.doc(returns=s.Health, stream=True)["responses"][200]
    assert streamed["model"] is s.Health and "text/event-stream" in streamed["content"]
    form = s.doc(form=s.UPLOAD_FORM)["openapi_extra"]["requestBody"]
    assert form == {"required": True, "content": {"multipart/form-data": {"schema": s.UPLOAD_FORM}}}
    assert s.UPLOAD_FIELDS == {"file", "purpose", "expires_after[anchor]", "expires_after[seconds]"}
    binary = s.doc(binary=True)
    assert binary["response_class"] is Response
    assert list(binary["responses"][200]["content"]) == ["application/octet-stream"]
    assert s.doc() == {"openapi_extra": {}, "responses": {200: {"description": "OK"},
                                                           "default": {"model": s.ErrorBody,
                                                                       "description": "An OpenAI error body."}}}


def test_a_file_uploaded_for_evals_can_be_read_back():
    fields = dict(id="file_1", object="file", bytes=3, created_at=0, filename="a.jsonl", status="processed")
    assert s.FileObject(**fields, purpose="evals").purpose == "evals"
    with pytest.raises(ValidationError):
        s.FileObject(**fields, purpose="anything")


def test_a_list_page_holds_its_items_model():
    page = s.ListPage[s.Health].model_validate({"object": "list", "data": [{"status": "ok"}], "has_more": False})
    assert page.data == [s.Health(status="ok")] and page.first_id is None
    with pytest.raises(ValidationError):
        s.ListPage[s.Health].model_validate({"object": "list", "data": [{"status": "bad"}], "has_more": False})
