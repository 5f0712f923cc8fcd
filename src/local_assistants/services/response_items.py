"""Items, as the Responses and Conversations APIs show them, of the records the
Assistants API keeps: a thread's messages, and its runs' tool-call steps.

One record, two views: a message is a ``message`` item; a tool_calls step's calls
are ``function_call``, ``code_interpreter_call``, ``file_search_call`` and MCP items
(``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request``, ``mcp_approval_response``),
and a function call that has its output is followed by a ``function_call_output`` item.
Nothing here writes: ``services.responses`` and ``services.conversations`` read
records and hand them here to be shown.

Item ids are derived from the records' ids, so that the same record always shows as
the same item: a message item has the message's id, a call's item ``fc_``/``ci_``/
``fs_`` and the call id's random part, a function output ``fco_`` and the same.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.prompt import content_text

CALL_ITEM_PREFIX = {"function": "fc_", "code_interpreter": "ci_", "file_search": "fs_", "mcp": "mcp_",
                    "mcp_list_tools": "mcpl_", "mcp_approval_request": "mcpr_", "mcp_approval_response": "mcpa_"}
MCP_KINDS = ("mcp", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response")
"""MCP records of a step: a call (``mcp_call``), a server's listing, an approval asked, an approval given."""
OUTPUT_PREFIX = "fco_"
INCLUDE_SEARCH_RESULTS = "file_search_call.results"
INCLUDE_CODE_OUTPUTS = "code_interpreter_call.outputs"
INCLUDE_LOGPROBS = "message.output_text.logprobs"
INCLUDABLE = (INCLUDE_SEARCH_RESULTS, INCLUDE_CODE_OUTPUTS, INCLUDE_LOGPROBS)

ContainerFileOf = Callable[[str], "dict | None"]
"""A produced file's id to its container file (``{id, container_id, path}``), or None."""


def _suffix(call_id: str) -> str:
    return call_id.split("_", 1)[1] if "_" in call_id else call_id


def call_item_id(call: dict) -> str:
    return CALL_ITEM_PREFIX.get(call["type"], "item_") + _suffix(call["id"])


def output_item_id(call_id: str) -> str:
    return OUTPUT_PREFIX + _suffix(call_id)


def item_ref(item_id: str) -> str:
    """The record an item id points at, as the ``items`` table keys it: a message id, or
    ``call:<call id>`` / ``output:<call id>``."""
    for kind, prefix in CALL_ITEM_PREFIX.items():
        if item_id.startswith(prefix):
            return "call:call_" + item_id[len(prefix):]
    if item_id.startswith(OUTPUT_PREFIX):
        return "output:call_" + item_id[len(OUTPUT_PREFIX):]
    return item_id


# -- messages ----------------------------------------------------------------------------
def message_item(message: dict, *, container_file_of: ContainerFileOf | None = None,
                 include: tuple[str, ...] | list[str] = ()) -> dict:
    """A thread message as a ``message`` item: a user's text as ``input_text`` (images as
    ``input_image``), an assistant's as ``output_text`` with its annotations."""
    role = message["role"]
    status = message.get("status") or "completed"
    content: list[dict] = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            text = part["text"]["value"]
            if role == "assistant":
                content.append(output_text(text, part["text"].get("annotations") or [], container_file_of,
                                           logprobs=part.get("logprobs") if INCLUDE_LOGPROBS in include else None))
            else:
                content.append({"type": "input_text", "text": text})
        elif kind == "image_file" and role != "assistant":
            content.append({"type": "input_image", "file_id": part["image_file"]["file_id"],
                            "detail": part["image_file"].get("detail") or "auto", "image_url": None})
        elif kind == "image_url" and role != "assistant":
            content.append({"type": "input_image", "image_url": part["image_url"]["url"],
                            "detail": part["image_url"].get("detail") or "auto", "file_id": None})
    return {"type": "message", "id": message["id"], "role": role, "content": content,
            "status": "incomplete" if status == "incomplete" else
            ("in_progress" if status == "in_progress" else "completed")}


def output_text(text: str, annotations: list[dict], container_file_of: ContainerFileOf | None = None,
                logprobs: list | None = None) -> dict:
    return {"type": "output_text", "text": text,
            "annotations": [a for a in (annotation(x, container_file_of) for x in annotations) if a],
            "logprobs": logprobs or []}


def annotation(a: dict, container_file_of: ContainerFileOf | None = None) -> dict | None:
    """An Assistants text annotation in the Responses shape: a ``file_citation`` keeps its
    file and place; a ``file_path`` (a file the code wrote) becomes a
    ``container_file_citation`` when the file is a container's."""
    kind = a.get("type")
    filename = a.get("text", "").strip("【】").rsplit("†", 1)[-1] if a.get("text") else ""
    if kind == "file_citation":
        return {"type": "file_citation", "file_id": a["file_citation"]["file_id"],
                "filename": a.get("filename") or filename, "index": a.get("start_index", 0)}
    if kind == "file_path":
        file_id = a["file_path"]["file_id"]
        cfile = container_file_of(file_id) if container_file_of else None
        if cfile is not None:
            return {"type": "container_file_citation", "container_id": cfile["container_id"],
                    "file_id": cfile["id"], "filename": cfile["path"].rsplit("/", 1)[-1],
                    "start_index": a.get("start_index", 0), "end_index": a.get("end_index", 0)}
        return {"type": "file_path", "file_id": file_id, "index": a.get("start_index", 0)}
    return None


# -- tool calls ----------------------------------------------------------------------------
def call_items(step: dict, *, include: tuple[str, ...] | list[str] = (), with_outputs: bool = True,
               given: set[str] | frozenset[str] = frozenset(), container_file_of: ContainerFileOf | None = None
               ) -> list[dict]:
    """A tool_calls step's calls as items (with each function output after its call when
    ``with_outputs``); calls whose ids are in ``given`` show only their output (the call
    itself belongs to an earlier response)."""
    items: list[dict] = []
    status = step.get("status")
    for call in step["step_details"]["tool_calls"]:
        if call.get("id") not in given:
            items.append(call_item(call, status, include=include, container_file_of=container_file_of))
        if with_outputs and call["type"] == "function" and call["function"].get("output") is not None:
            items.append(function_output_item(call))
    return items


def call_item(call: dict, step_status: str | None, *, include=(), container_file_of=None,
              status: str | None = None) -> dict:
    kind = call["type"]
    done = step_status in ("completed", None) or (kind == "function" and step_status == "in_progress")
    if status is None:
        status = "completed" if done else ("incomplete" if step_status in ("cancelled", "expired") else
                                           "failed" if step_status == "failed" else "in_progress")
    if kind == "function":
        fn = call["function"]
        return {"type": "function_call", "id": call_item_id(call), "call_id": call["id"], "name": fn["name"],
                "arguments": fn.get("arguments") or "", "status": "completed" if status == "failed" else status}
    if kind == "code_interpreter":
        ci = call["code_interpreter"]
        outputs = None
        if INCLUDE_CODE_OUTPUTS in include:
            outputs = code_outputs(ci.get("outputs") or [], ci.get("container_id"), container_file_of)
        return {"type": "code_interpreter_call", "id": call_item_id(call), "code": ci.get("input") or "",
                "container_id": ci.get("container_id") or "", "outputs": outputs,
                "status": "incomplete" if status == "incomplete" else status}
    if kind == "file_search":
        fs = call["file_search"]
        results = None
        if INCLUDE_SEARCH_RESULTS in include:
            results = [{"file_id": r.get("file_id"), "filename": r.get("file_name"), "score": r.get("score"),
                        "text": " ".join(p.get("text", "") for p in r.get("content") or []),
                        "attributes": r.get("attributes") or {}} for r in fs.get("results") or []]
        return {"type": "file_search_call", "id": call_item_id(call),
                "queries": [fs["query"]] if fs.get("query") else [],
                "status": status, "results": results}
    if kind in MCP_KINDS:
        return mcp_item(call, status)
    return {"type": kind, "id": call_item_id(call), "status": status}


def mcp_item(call: dict, status: str) -> dict:
    """An MCP record as its item: a call's status is ``failed`` when it has an error."""
    kind = call["type"]
    data = call.get(kind) or {}
    item_id = call_item_id(call)
    if kind == "mcp_list_tools":
        return {"type": "mcp_list_tools", "id": item_id, "server_label": data.get("server_label") or "",
                "tools": data.get("tools") or [], "error": data.get("error")}
    if kind == "mcp_approval_request":
        return {"type": "mcp_approval_request", "id": item_id, "server_label": data.get("server_label") or "",
                "name": data.get("name") or "", "arguments": data.get("arguments") or ""}
    if kind == "mcp_approval_response":
        return {"type": "mcp_approval_response", "id": item_id,
                "approval_request_id": data.get("approval_request_id") or "", "approve": bool(data.get("approve")),
                "reason": data.get("reason")}
    if data.get("error") is not None:
        status = "failed"
    elif status == "completed" and data.get("output") is None:
        status = "in_progress"  # not yet carried out (the step is still open)
    return {"type": "mcp_call", "id": item_id, "server_label": data.get("server_label") or "",
            "name": data.get("name") or "", "arguments": data.get("arguments") or "", "output": data.get("output"),
            "error": data.get("error"), "status": status, "approval_request_id": data.get("approval_request_id")}


def function_output_item(call: dict) -> dict:
    return {"type": "function_call_output", "id": output_item_id(call["id"]), "call_id": call["id"],
            "output": call["function"].get("output") or "", "status": "completed"}


def code_outputs(outputs: list[dict], container_id: str | None, container_file_of: ContainerFileOf | None) -> list:
    """A code call's logs and images; an image is named by the URL of its content (its
    container file's, or its stored file's)."""
    out: list[dict] = []
    for o in outputs:
        if o.get("type") == "logs":
            out.append({"type": "logs", "logs": o.get("logs") or ""})
        elif o.get("type") == "image":
            file_id = o["image"]["file_id"]
            cfile = container_file_of(file_id) if container_file_of else None
            url = (f"/v1/containers/{cfile['container_id']}/files/{cfile['id']}/content" if cfile
                   else f"/v1/files/{file_id}/content")
            out.append({"type": "image", "url": url})
    return out


def text_of_item(item: dict) -> str:
    """What a message item says, as plain text (its text parts joined)."""
    return content_text([{"type": "text", "text": {"value": p.get("text", "")}} for p in item.get("content") or []
                         if p.get("type") in ("input_text", "output_text", "text")])


def usage(run_usage: dict | None) -> dict | None:
    """A run's usage in the Responses shape (cached tokens: what the engine really reused)."""
    if not run_usage:
        return None
    cached = (run_usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return {"input_tokens": run_usage.get("prompt_tokens", 0),
            "input_tokens_details": {"cached_tokens": cached,
                                     "cache_write_tokens": max(0, run_usage.get("prompt_tokens", 0) - cached)},
            "output_tokens": run_usage.get("completion_tokens", 0),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": run_usage.get("total_tokens", 0)}


def strip_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
