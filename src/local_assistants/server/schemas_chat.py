"""What the chat completions and completions routes take and return, as the OpenAPI
document describes them (the same ``Body``/``Param``/``doc`` as ``schemas``)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel

from ..core import validation as v
from ..services import chat_completions as chat_service
from ..services import completions as completions_service
from .schemas import METADATA, Body, ListPage, Param, doc, enum, integer, nullable, number, obj, string

__all__ = ["CREATE_CHAT", "UPDATE_CHAT", "CHAT_LIST", "MESSAGES_PAGE", "CREATE_COMPLETION", "ListPage",
           "StoredMessage", "doc"]

PART = obj({"type": enum(("text", "image_url", "refusal")), "text": string(v.MAX_INPUT_CHARS),
            "image_url": {"type": "object"}, "refusal": string()}, ("type",), closed=False)
CONTENT = {"anyOf": [string(v.MAX_INPUT_CHARS), {"type": "array", "items": PART}, {"type": "null"}]}
MESSAGE = obj({"role": enum(("system", "developer", "user", "assistant", "tool")), "content": CONTENT,
               "name": string(64), "tool_calls": nullable({"type": "array", "items": {"type": "object"}}),
               "tool_call_id": string(256), "refusal": nullable(string())}, ("role",), closed=False)
TOOL = obj({"type": enum(("function",)), "function": obj({
    "name": string(64), "description": nullable(string()), "parameters": nullable({"type": "object"}),
    "strict": nullable({"type": "boolean"})}, ("name",))}, ("type", "function"))
STOP = nullable({"anyOf": [string(minLength=1), {"type": "array", "items": string(minLength=1),
                                                 "maxItems": chat_service.MAX_STOP}]})
CHAT_PROPERTIES = {
    "messages": {"type": "array", "items": MESSAGE, "minItems": 1}, "model": string(256),
    "frequency_penalty": nullable(number(-2, 2)), "presence_penalty": nullable(number(-2, 2)),
    "logit_bias": nullable({"type": "object", "additionalProperties": number(-100, 100)}),
    "logprobs": nullable({"type": "boolean"}), "top_logprobs": nullable(integer(0, 20)),
    "max_completion_tokens": nullable(integer(1)), "max_tokens": nullable(integer(1)), "metadata": METADATA,
    "n": nullable(integer(1, chat_service.MAX_N)), "parallel_tool_calls": nullable({"type": "boolean"}),
    "response_format": nullable({"type": "object"}), "seed": nullable({"type": "integer"}), "stop": STOP,
    "store": nullable({"type": "boolean"}), "stream": nullable({"type": "boolean"}),
    "stream_options": nullable(obj({"include_usage": {"type": "boolean"},
                                    "include_obfuscation": {"type": "boolean"}})),
    "temperature": nullable(number(0, 2)), "top_p": nullable(number(0, 1)),
    "tool_choice": nullable({"anyOf": [enum(("none", "auto", "required")), {"type": "object"}]}),
    "tools": nullable({"type": "array", "items": TOOL}), "user": nullable(string(512)),
    "service_tier": nullable(string(16)), "safety_identifier": nullable(string(512)),
    "prompt_cache_key": nullable(string(512)), "reasoning_effort": nullable(string(16)),
    "modalities": nullable({"type": "array", "items": enum(("text",))}), "verbosity": nullable(string(16)),
}
assert set(CHAT_PROPERTIES) == set(chat_service.BODY_FIELDS)
CREATE_CHAT = Body("CreateChatCompletionRequest", CHAT_PROPERTIES, ("messages", "model"))
UPDATE_CHAT = Body("UpdateChatCompletionRequest", {"metadata": METADATA}, ("metadata",))
# As OpenAI lists stored completions and their messages: after a cursor, oldest first by default.
FORWARD_PAGE = (Param("limit", integer(1, 100), "1 to 100, default 20"),
                Param("order", enum(("asc", "desc")), "by creation, default asc"),
                Param("after", string(), "an object id: the page after it"))
CHAT_LIST = (*FORWARD_PAGE, Param("model", string(256), "only the completions of this model"))
MESSAGES_PAGE = FORWARD_PAGE

PROMPT = {"anyOf": [string(), {"type": "array", "items": string()},
                    {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                    {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 1}}]}
COMPLETION_PROPERTIES = {
    "model": string(256), "prompt": PROMPT, "max_tokens": nullable(integer(0)), "echo": nullable({"type": "boolean"}),
    "logprobs": nullable(integer(0, 5)), "stop": STOP, "n": nullable(integer(1, 128)),
    "best_of": nullable(integer(1, 128)), "stream": nullable({"type": "boolean"}),
    "stream_options": nullable(obj({"include_usage": {"type": "boolean"},
                                    "include_obfuscation": {"type": "boolean"}})),
    "suffix": nullable(string()), "temperature": nullable(number(0, 2)), "top_p": nullable(number(0, 1)),
    "seed": nullable({"type": "integer"}), "presence_penalty": nullable(number(-2, 2)),
    "frequency_penalty": nullable(number(-2, 2)),
    "logit_bias": nullable({"type": "object", "additionalProperties": number(-100, 100)}),
    "user": nullable(string(512)),
}
assert set(COMPLETION_PROPERTIES) == set(completions_service.BODY_FIELDS)
CREATE_COMPLETION = Body("CreateCompletionRequest", COMPLETION_PROPERTIES, ("model", "prompt"))


class StoredMessage(BaseModel):
    """A message of a stored completion's request, with the role it had (the SDK types these
    as assistant messages; OpenAI returns the request's messages, user ones included)."""

    id: str
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Optional[str] = None
    name: Optional[str] = None
    tool_calls: Optional[list[dict[str, Any]]] = None
    content_parts: Optional[list[dict[str, Any]]] = None
