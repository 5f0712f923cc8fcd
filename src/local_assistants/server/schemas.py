"""What each route takes and returns, as the OpenAPI document describes it.

Routes read the raw request (so that bad input gets OpenAI's error wording, not
pydantic's); this module is what they read it *with*.  A ``Body`` is the set of
fields a JSON body may hold (``json_body`` refuses any other and the missing
required ones) and their JSON schemas; ``Param`` is one query parameter
(``query`` reads only declared ones).  ``doc()`` turns both, and the object the
route answers with (the official SDK's own model), into the route's OpenAPI
entry.  The limits in the schemas are the validation module's constants, and a
test sends each schema's boundary values to the server to check that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, Optional, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel

# The official SDK's models are what the routes answer with (the routes name them through here).
import openai.types as sdk
import openai.types.beta as sdk_beta
import openai.types.beta.threads as sdk_threads
import openai.types.beta.threads.runs as sdk_steps
import openai.types.vector_stores as sdk_vs

from ..core import chunking, filters
from ..core import validation as v
from ..services import file_batches as batches_service
from ..services import files as files_service
from ..services import runs as runs_service
from ..services import search as search_service
from ..services import vector_store_files as vs_files_service
from ..services import vector_stores as vs_service


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, required: tuple[str, ...] = (), *, closed: bool = True, **extra: Any) -> dict:
    out: dict = {"type": "object", "properties": properties, **extra}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def string(max_length: int | None = None, **extra: Any) -> dict:
    out: dict = {"type": "string", **extra}
    if max_length is not None:
        out["maxLength"] = max_length
    return out


def enum(values: tuple) -> dict:
    return {"type": "string", "enum": list(values)}


def integer(minimum: int | None = None, maximum: int | None = None) -> dict:
    out: dict = {"type": "integer"}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def number(minimum: float, maximum: float) -> dict:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


ID = string(256)
METADATA = nullable({
    "type": "object", "maxProperties": v.MAX_METADATA_PAIRS, "propertyNames": {"maxLength": v.MAX_METADATA_KEY},
    "additionalProperties": string(v.MAX_METADATA_VALUE),
    "description": f"Up to {v.MAX_METADATA_PAIRS} string pairs (keys up to {v.MAX_METADATA_KEY} characters, "
                   f"values up to {v.MAX_METADATA_VALUE}).",
})
ATTRIBUTES = nullable({
    "type": "object", "maxProperties": filters.MAX_ATTRIBUTES,
    "propertyNames": {"minLength": 1, "maxLength": filters.MAX_ATTRIBUTE_KEY},
    "additionalProperties": {"anyOf": [string(filters.MAX_ATTRIBUTE_VALUE), {"type": "number"},
                                       {"type": "boolean"}]},
})
SCALAR = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
FILTER_LEAF = obj({"type": enum(filters.COMPARISONS), "key": string(minLength=1),
                   "value": {"anyOf": [SCALAR, {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                                   {"type": "number"}]}}]}},
                  ("type", "key", "value"))
FILTERS = nullable({"anyOf": [
    FILTER_LEAF,
    # Compounds nest freely (up to filters.MAX_DEPTH); the document describes two levels.
    obj({"type": enum(filters.COMPOUNDS),
         "filters": {"type": "array", "minItems": 1, "items": {"anyOf": [
             FILTER_LEAF, obj({"type": enum(filters.COMPOUNDS),
                               "filters": {"type": "array", "minItems": 1, "items": FILTER_LEAF}},
                              ("type", "filters"))]}}},
        ("type", "filters")),
]})
CHUNKING_STRATEGY = nullable({"anyOf": [
    obj({"type": {"const": "auto"}}, ("type",)),
    obj({"type": {"const": "static"},
         "static": obj({"max_chunk_size_tokens": integer(chunking.MIN_CHUNK_TOKENS, chunking.MAX_CHUNK_TOKENS),
                        "chunk_overlap_tokens": integer(0, chunking.MAX_CHUNK_TOKENS // 2)},
                       ("max_chunk_size_tokens", "chunk_overlap_tokens"), closed=False,
                       description="chunk_overlap_tokens is at most half of max_chunk_size_tokens.")},
        ("type", "static"), closed=False),
]})
RANKING_OPTIONS = obj({"score_threshold": number(0, 1), "ranker": enum(v.RANKERS)}, ("score_threshold",))
TOOL = {"anyOf": [
    obj({"type": {"const": "code_interpreter"}}, ("type",)),
    obj({"type": {"const": "file_search"},
         "file_search": nullable(obj({"max_num_results": integer(1, search_service.MAX_NUM_RESULTS),
                                      "ranking_options": RANKING_OPTIONS}))}, ("type",)),
    obj({"type": {"const": "function"},
         "function": obj({"name": string(pattern=v.FUNCTION_NAME_PATTERN),
                          "description": nullable(string()),
                          "parameters": nullable({"type": "object"}),
                          "strict": nullable({"type": "boolean"})}, ("name",))},
        ("type", "function")),
]}
TOOLS = nullable({"type": "array", "maxItems": v.MAX_TOOLS, "items": TOOL,
                  "description": "Function names must be unique."})
TOOL_RESOURCES = nullable(obj({
    "code_interpreter": obj({"file_ids": {"type": "array", "maxItems": v.MAX_CODE_INTERPRETER_FILES,
                                          "items": string()}}, closed=False),
    "file_search": obj({
        "vector_store_ids": {"type": "array", "maxItems": v.MAX_VECTOR_STORES, "items": string()},
        "vector_stores": {"type": "array", "maxItems": v.MAX_VECTOR_STORES, "items": obj({
            "file_ids": {"type": "array", "maxItems": v.MAX_INLINE_VECTOR_STORE_FILES,
                         "items": string(minLength=1)},
            "chunking_strategy": CHUNKING_STRATEGY, "metadata": METADATA})},
    }, closed=False, description="Only one of vector_store_ids or vector_stores."),
}, closed=False))
RESPONSE_FORMAT = nullable({"anyOf": [
    {"const": "auto"},
    obj({"type": enum(("text", "json_object"))}, ("type",)),
    obj({"type": {"const": "json_schema"},
         "json_schema": obj({"name": string(pattern=v.FUNCTION_NAME_PATTERN),
                             "description": nullable(string(v.MAX_DESCRIPTION)),
                             "schema": nullable({"type": "object"}), "strict": nullable({"type": "boolean"})},
                            ("name",))}, ("type", "json_schema")),
]})
IMAGE_DETAIL = enum(v.IMAGE_DETAILS)
CONTENT = {"anyOf": [
    string(v.MAX_MESSAGE_CHARS),
    {"type": "array", "minItems": 1, "items": {"anyOf": [
        obj({"type": {"const": "text"}, "text": string(v.MAX_MESSAGE_CHARS)}, ("type", "text"), closed=False),
        obj({"type": {"const": "image_file"},
             "image_file": obj({"file_id": string(), "detail": IMAGE_DETAIL}, ("file_id",), closed=False)},
            ("type", "image_file"), closed=False),
        obj({"type": {"const": "image_url"},
             "image_url": obj({"url": string(), "detail": IMAGE_DETAIL}, ("url",), closed=False)},
            ("type", "image_url"), closed=False),
    ]}},
]}
ATTACHMENTS = nullable({"type": "array", "items": obj({
    "file_id": string(),
    "tools": nullable({"type": "array", "items": obj({"type": enum(("code_interpreter", "file_search"))},
                                                     ("type",), closed=False)}),
}, ("file_id",), closed=False)})
MESSAGE_PROPERTIES = {"role": enum(("user", "assistant")), "content": CONTENT, "attachments": ATTACHMENTS,
                      "metadata": METADATA}
MESSAGE = obj(MESSAGE_PROPERTIES, ("role", "content"))
STREAM = nullable({"type": "boolean"})
REASONING_EFFORT = nullable(enum(v.REASONING_EFFORTS))
TEMPERATURE = nullable(number(0, 2))
TOP_P = nullable(number(0, 1))
TRUNCATION = nullable(obj({"type": enum(("auto", "last_messages")), "last_messages": nullable(integer(1))},
                          ("type",), closed=False,
                          description="last_messages is required when type is last_messages."))
TOOL_CHOICE = nullable({"anyOf": [
    enum(("none", "auto", "required")),
    obj({"type": enum(("function", "code_interpreter", "file_search")),
         "function": obj({"name": string()}, ("name",), closed=False)}, ("type",), closed=False,
        description="The tool (or function) must be among the run's tools."),
]})
VS_EXPIRES_AFTER = obj({"anchor": {"const": "last_active_at"}, "days": integer(1, vs_service.MAX_EXPIRES_DAYS)},
                       ("anchor", "days"), closed=False)


@dataclass(frozen=True)
class Body:
    """A JSON request body: its fields' schemas and which are required."""

    name: str
    properties: dict[str, dict]
    required: tuple[str, ...] = ()

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.properties)

    def schema(self) -> dict:
        return obj(self.properties, self.required, title=self.name)

    def openapi(self) -> dict:
        return {"required": bool(self.required),
                "content": {"application/json": {"schema": self.schema()}}}


@dataclass(frozen=True)
class Param:
    """A query parameter a route reads."""

    name: str
    schema: dict
    description: str = ""
    array: bool = False  # read with getlist (``include[]``)

    def openapi(self) -> dict:
        schema = {"type": "array", "items": self.schema} if self.array else self.schema
        out = {"name": self.name, "in": "query", "required": False, "schema": schema}
        if self.description:
            out["description"] = self.description
        if self.array:
            out.update(style="form", explode=True)
        return out


def page_params(max_limit: int = 100) -> tuple[Param, ...]:
    return (
        Param("limit", integer(1, max_limit), f"1 to {max_limit}, default 20"),
        Param("order", enum(("asc", "desc")), "by created_at, default desc"),
        Param("after", string(), "an object id: the page after it"),
        Param("before", string(), "an object id: the page before it"),
    )


PAGE = page_params()
FILES_PAGE = (*page_params(files_service.MAX_FILES_LIST_LIMIT), Param("purpose", string()))
VS_FILES_PAGE = (*PAGE, Param("filter", enum(vs_files_service.FILE_STATUSES)))
MESSAGES_PAGE = (*PAGE, Param("run_id", string(), "only the messages this run created"))
INCLUDE = Param("include[]", enum((runs_service.SEARCH_CONTENT,)), "add file search results' content",
                array=True)
STEPS_PAGE = (*PAGE, INCLUDE)

# -- bodies --------------------------------------------------------------------------------
ASSISTANT_PROPERTIES = {
    "model": string(256, minLength=1), "name": nullable(string(v.MAX_NAME)),
    "description": nullable(string(v.MAX_DESCRIPTION)), "instructions": nullable(string(v.MAX_INSTRUCTIONS)),
    "tools": TOOLS, "tool_resources": TOOL_RESOURCES, "metadata": METADATA, "temperature": TEMPERATURE,
    "top_p": TOP_P, "response_format": RESPONSE_FORMAT, "reasoning_effort": REASONING_EFFORT,
}
CREATE_ASSISTANT = Body("CreateAssistantRequest", ASSISTANT_PROPERTIES, ("model",))
MODIFY_ASSISTANT = Body("ModifyAssistantRequest", {**ASSISTANT_PROPERTIES,
                                                   "model": nullable(ASSISTANT_PROPERTIES["model"])})
THREAD_PROPERTIES = {"messages": nullable({"type": "array", "items": MESSAGE}), "metadata": METADATA,
                     "tool_resources": TOOL_RESOURCES}
CREATE_THREAD = Body("CreateThreadRequest", THREAD_PROPERTIES)
MODIFY_THREAD = Body("ModifyThreadRequest", {"metadata": METADATA, "tool_resources": TOOL_RESOURCES})
CREATE_MESSAGE = Body("CreateMessageRequest", MESSAGE_PROPERTIES, ("role", "content"))
METADATA_ONLY = Body("ModifyMetadataRequest", {"metadata": METADATA})
EMPTY = Body("EmptyRequest", {})
RUN_PROPERTIES = {
    "assistant_id": string(minLength=1), "model": nullable(string(256)),
    "instructions": nullable(string(v.MAX_INSTRUCTIONS)),
    "additional_instructions": nullable(string(v.MAX_INSTRUCTIONS)),
    "additional_messages": nullable({"type": "array", "items": MESSAGE}),
    "tools": TOOLS, "metadata": METADATA, "temperature": TEMPERATURE, "top_p": TOP_P,
    "max_prompt_tokens": nullable(integer(runs_service.MIN_MAX_PROMPT_TOKENS)),
    "max_completion_tokens": nullable(integer(1)), "truncation_strategy": TRUNCATION, "tool_choice": TOOL_CHOICE,
    "parallel_tool_calls": nullable({"type": "boolean"}), "response_format": RESPONSE_FORMAT, "stream": STREAM,
    "reasoning_effort": REASONING_EFFORT,
}
CREATE_RUN = Body("CreateRunRequest", RUN_PROPERTIES, ("assistant_id",))
CREATE_THREAD_AND_RUN = Body("CreateThreadAndRunRequest", {
    # OpenAI's create-thread-and-run takes no reasoning_effort (the SDK has none to send).
    **{k: s for k, s in RUN_PROPERTIES.items()
       if k not in ("additional_instructions", "additional_messages", "reasoning_effort")},
    "thread": nullable(obj(THREAD_PROPERTIES)), "tool_resources": TOOL_RESOURCES,
}, ("assistant_id",))
SUBMIT_TOOL_OUTPUTS = Body("SubmitToolOutputsRequest", {
    "tool_outputs": {"type": "array", "items": obj({"tool_call_id": string(), "output": nullable(string())},
                                                   ("tool_call_id",), closed=False)},
    "stream": STREAM,
}, ("tool_outputs",))
FILE_IDS = nullable({"type": "array", "maxItems": vs_service.MAX_FILE_IDS, "items": string(minLength=1)})
CREATE_VECTOR_STORE = Body("CreateVectorStoreRequest", {
    "name": nullable(string(v.MAX_NAME)), "file_ids": FILE_IDS, "chunking_strategy": CHUNKING_STRATEGY,
    "expires_after": nullable(VS_EXPIRES_AFTER), "metadata": METADATA,
    "description": nullable(string(v.MAX_DESCRIPTION)),
})
MODIFY_VECTOR_STORE = Body("ModifyVectorStoreRequest", {
    "name": nullable(string(v.MAX_NAME)), "expires_after": nullable(VS_EXPIRES_AFTER), "metadata": METADATA})
SEARCH_RANKERS = ("none", "auto", "default-2024-11-15", "default_2024_08_21")
SEARCH_VECTOR_STORE = Body("SearchVectorStoreRequest", {
    "query": {"anyOf": [string(minLength=1, pattern=r"\S"),
                        {"type": "array", "minItems": 1, "items": string(), "contains": string(pattern=r"\S")}]},
    "max_num_results": nullable(integer(1, search_service.MAX_NUM_RESULTS)),
    "ranking_options": nullable(obj({"ranker": nullable(enum(SEARCH_RANKERS)),
                                     "score_threshold": nullable(number(0, 1))})),
    "filters": FILTERS, "rewrite_query": nullable({"type": "boolean"}),
}, ("query",))
ATTACH_FILE = Body("CreateVectorStoreFileRequest", {
    "file_id": string(minLength=1), "attributes": ATTRIBUTES, "chunking_strategy": CHUNKING_STRATEGY,
}, ("file_id",))
UPDATE_FILE = Body("UpdateVectorStoreFileRequest", {"attributes": ATTRIBUTES}, ("attributes",))
CREATE_BATCH = Body("CreateVectorStoreFileBatchRequest", {
    "file_ids": nullable({"type": "array", "minItems": 1, "maxItems": batches_service.MAX_BATCH_FILES,
                          "items": string(minLength=1)}),
    "files": nullable({"type": "array", "minItems": 1, "maxItems": batches_service.MAX_BATCH_FILES,
                       "items": obj({"file_id": string(minLength=1), "attributes": ATTRIBUTES,
                                     "chunking_strategy": CHUNKING_STRATEGY}, ("file_id",))}),
    "attributes": ATTRIBUTES, "chunking_strategy": CHUNKING_STRATEGY,
})
UPLOAD_FORM = {
    "type": "object", "required": ["file", "purpose"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "purpose": enum(files_service.UPLOAD_PURPOSES),
        "expires_after[anchor]": {"const": "created_at"},
        "expires_after[seconds]": integer(files_service.MIN_EXPIRES_AFTER_S, files_service.MAX_EXPIRES_AFTER_S),
    },
}
UPLOAD_FIELDS = frozenset(UPLOAD_FORM["properties"])


# -- responses: the official SDK's models ------------------------------------------------
T = TypeVar("T")


class ListPage(BaseModel, Generic[T]):
    object: Literal["list"]
    data: list[T]
    first_id: Optional[str] = None
    last_id: Optional[str] = None
    has_more: bool


class FileObject(sdk.FileObject):
    """The SDK's file object, with every purpose an upload may name: the SDK's own upload
    parameters allow ``evals``, which its ``FileObject`` does not list (so a strict SDK
    client cannot read back a file uploaded so)."""

    purpose: Literal["assistants", "assistants_output", "batch", "batch_output", "fine-tune",  # type: ignore
                     "fine-tune-results", "vision", "user_data", "evals"]


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[sdk.Model]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: Optional[str]
    code: Optional[str]


class ErrorBody(BaseModel):
    error: ErrorDetail


class SearchPage(BaseModel):
    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[sdk.VectorStoreSearchResponse]
    has_more: bool
    next_page: Optional[str]


class FileContentPage(BaseModel):
    object: Literal["vector_store.file_content.page"]
    data: list[sdk_vs.FileContentResponse]
    has_more: bool
    next_page: Optional[str]


class Health(BaseModel):
    status: Literal["ok"]


def doc(*, body: Body | None = None, query: tuple[Param, ...] = (), returns: Any = None, stream: bool = False,
        form: dict | None = None, binary: bool = False) -> dict:
    """Keyword arguments for a FastAPI route decorator that describe the route in OpenAPI:
    its body or form, its query parameters, what it answers (``returns``, a pydantic model;
    ``stream``: or server-sent events; ``binary``: bytes) and the error body of any failure."""
    extra: dict = {}
    if body is not None:
        extra["requestBody"] = body.openapi()
    if form is not None:
        extra["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    if query:
        extra["parameters"] = [p.openapi() for p in query]
    ok: dict = {"description": "OK"}
    if returns is not None:
        ok["model"] = returns
    if stream:
        ok["content"] = {"text/event-stream": {"schema": {
            "type": "string", "description": "Server-sent events, ending with `event: done`."}}}
    if binary:
        ok["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    responses: dict = {200: ok, "default": {"model": ErrorBody, "description": "An OpenAI error body."}}
    kwargs: dict = {"openapi_extra": extra, "responses": responses}
    if binary:
        kwargs["response_class"] = Response  # bytes only, not JSON
    return kwargs
