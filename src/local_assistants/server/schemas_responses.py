"""What the Responses and Conversations routes take and return, as the OpenAPI document
describes them (the same ``Body``/``Param``/``doc`` as ``schemas``; the answers are the
official SDK's own models)."""

from __future__ import annotations

from typing import Literal

import openai.types.conversations as sdk_conv
from pydantic import BaseModel, RootModel

from ..core import validation as v
from ..services import response_items as ri
from ..services import responses as responses_service
from .schemas import (ID, METADATA, Body, Param, doc, enum, integer, nullable, number, obj, page_params,
                      string)

__all__ = ["CREATE_RESPONSE", "INPUT_TOKENS", "RETRIEVE_QUERY", "ITEMS_PAGE", "INCLUDE", "EMPTY_BODY",
           "CREATE_CONVERSATION", "UPDATE_CONVERSATION", "CREATE_ITEMS", "ConversationItem", "ResponseDeleted", "doc"]

INPUT_PART = obj({"type": enum(("input_text", "output_text", "input_image", "input_file")),
                  "text": string(v.MAX_INPUT_CHARS), "file_id": ID, "image_url": string(),
                  "file_data": string(), "filename": string(256), "detail": string(16),
                  "annotations": {"type": "array"}}, ("type",), closed=False)
INPUT_ITEM = {"type": "object", "description": "A message (role and content), a function_call, a "
              "function_call_output, an mcp_approval_response, or an earlier output item passed back.",
              "properties": {"type": string(64), "role": enum(("user", "assistant", "system", "developer")),
                             "content": {"anyOf": [string(v.MAX_INPUT_CHARS),
                                                   {"type": "array", "items": INPUT_PART, "minItems": 1}]},
                             "call_id": string(256), "name": string(64), "arguments": string(),
                             "output": string(v.MAX_INPUT_CHARS),
                             "approval_request_id": string(256), "approve": {"type": "boolean"},
                             "reason": nullable(string(4096))}}
INPUT = nullable({"anyOf": [string(v.MAX_INPUT_CHARS), {"type": "array", "items": INPUT_ITEM,
                                       "maxItems": responses_service.MAX_INPUT_ITEMS}]})
MCP_TOOL_NAMES = {"anyOf": [{"type": "array", "items": string()},
                            obj({"tool_names": {"type": "array", "items": string()},
                                 "read_only": nullable({"type": "boolean"})})]}
RESPONSE_TOOL = obj({"type": enum(("function", "file_search", "code_interpreter", "mcp")), "name": string(64),
                     "description": nullable(string()), "parameters": nullable({"type": "object"}),
                     "strict": nullable({"type": "boolean"}),
                     "vector_store_ids": {"type": "array", "items": ID, "minItems": 1},
                     "max_num_results": integer(1, 50), "ranking_options": {"type": "object"},
                     "filters": nullable({"type": "object"}),
                     "container": {"anyOf": [ID, {"type": "object"}]},
                     # mcp: a server the operator declared, by label (see README, "MCP tools")
                     "server_label": string(64), "server_url": nullable(string(2048)),
                     "server_description": nullable(string()), "allowed_tools": nullable(MCP_TOOL_NAMES),
                     "require_approval": nullable({"anyOf": [enum(("always", "never")), obj({
                         "always": nullable(obj({"tool_names": {"type": "array", "items": string()}})),
                         "never": nullable(obj({"tool_names": {"type": "array", "items": string()}}))})]})},
                    ("type",))
INCLUDES = enum(ri.INCLUDABLE)
TEXT = nullable(obj({"format": {"type": "object", "properties": {
    "type": enum(("text", "json_object", "json_schema"))}, "required": ["type"]},
    "verbosity": nullable(string(16))}))
RESPONSE_PROPERTIES = {
    "model": nullable(string(256)), "input": INPUT, "instructions": nullable(string(v.MAX_INSTRUCTIONS)),
    "tools": nullable({"type": "array", "items": RESPONSE_TOOL}),
    "tool_choice": nullable({"anyOf": [enum(("none", "auto", "required")), {"type": "object"}]}),
    "parallel_tool_calls": nullable({"type": "boolean"}), "previous_response_id": nullable(string(256)),
    "conversation": nullable({"anyOf": [string(256), obj({"id": string(256)}, ("id",))]}),
    "store": nullable({"type": "boolean"}), "stream": nullable({"type": "boolean"}),
    "stream_options": nullable({"type": "object"}), "background": nullable({"type": "boolean"}),
    "text": TEXT, "max_output_tokens": nullable(integer(16)), "temperature": nullable(number(0, 2)),
    "top_p": nullable(number(0, 1)), "truncation": nullable(enum(("auto", "disabled"))), "metadata": METADATA,
    "include": nullable({"type": "array", "items": INCLUDES}), "max_tool_calls": nullable(integer(1)),
    "user": nullable(string(512)), "safety_identifier": nullable(string(512)),
    "prompt_cache_key": nullable(string(512)), "top_logprobs": nullable(integer(0, 20)),
    "reasoning": nullable({"type": "object"}), "service_tier": nullable(string(16)),
    "prompt_cache_retention": nullable(string(16)),
}
assert set(RESPONSE_PROPERTIES) == set(responses_service.BODY_FIELDS)
CREATE_RESPONSE = Body("CreateResponseRequest", RESPONSE_PROPERTIES)
INPUT_TOKENS = Body("InputTokensRequest", {k: RESPONSE_PROPERTIES[k] for k in (
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id",
    "conversation", "text", "truncation", "reasoning")})
EMPTY_BODY = Body("EmptyResponseRequest", {})

INCLUDE = Param("include[]", INCLUDES, "what the items show beyond the default", array=True)
ITEMS_PAGE = (*page_params(), INCLUDE)
RETRIEVE_QUERY = (INCLUDE, Param("stream", enum(("true", "false")), "stream the response's events"),
                  Param("starting_after", integer(-1), "the sequence number after which the stream starts"))

MESSAGE_ITEM = obj({"type": enum(("message",)), "role": enum(("user", "assistant")),
                    "content": {"anyOf": [string(v.MAX_MESSAGE_CHARS, minLength=1),
                                          {"type": "array", "items": INPUT_PART, "minItems": 1}]}},
                   ("role", "content"), closed=False)
ITEMS = {"type": "array", "items": MESSAGE_ITEM, "maxItems": 20}
CREATE_CONVERSATION = Body("CreateConversationRequest", {"items": nullable(ITEMS), "metadata": METADATA})
UPDATE_CONVERSATION = Body("UpdateConversationRequest", {"metadata": METADATA}, ("metadata",))
CREATE_ITEMS = Body("CreateConversationItemsRequest", {"items": {**ITEMS, "minItems": 1}}, ("items",))


class ConversationItem(RootModel[sdk_conv.ConversationItem]):
    """One item of a conversation (the SDK's union of item kinds)."""


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response"]
    deleted: Literal[True]
