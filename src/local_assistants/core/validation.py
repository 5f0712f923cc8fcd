"""Checks of request values against the limits OpenAI documents.

Pure functions: each returns the normalised value or raises ``InvalidRequestError``
naming the offending ``param``, before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import InvalidRequestError, UnknownParameterError
from .chunking import chunking_strategy

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_NAME = 256
MAX_DESCRIPTION = 512
MAX_INSTRUCTIONS = 256_000
MAX_TOOLS = 128
MAX_CODE_INTERPRETER_FILES = 20
MAX_VECTOR_STORES = 1
MAX_MESSAGE_CHARS = 256_000
"""A thread message's text, as OpenAI refuses longer ones ("string too long")."""
MAX_INPUT_CHARS = 10_485_760
"""One string of a Responses input, a chat message or a completion prompt (OpenAI's limit there;
the model's context refuses far less: a 400 context_length_exceeded)."""
TOOL_TYPES = ("code_interpreter", "file_search", "function")
IMAGE_DETAILS = ("auto", "low", "high")
RANKERS = ("auto", "default_2024_08_21")
FUNCTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_FUNCTION_NAME = re.compile(FUNCTION_NAME_PATTERN)
MAX_JSON_DEPTH = 64
"""Nesting levels a request body may hold (objects and arrays).  Deeper JSON is refused
before anything recurses over it: a function's parameters schema nested 28 levels deep
still fits (each schema level costs two: ``properties`` and the property)."""
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
JSON_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


# -- request bodies ----------------------------------------------------------------------
def parse_json(raw: bytes | str) -> Any:
    """A request body's JSON, refused (400) when it could be stored but never sent back.

    Python's parser accepts ``NaN``/``Infinity`` (and ``1e999`` becomes infinity), lone
    surrogates (``"\\ud800"``) and any nesting its recursion limit allows; none of them can
    be written out as JSON again, so a reply (and every later list holding the object)
    would fail.  They are refused here, the one place request JSON is parsed.
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError(JSON_PARSE_ERROR) from None
    check_json(value)
    return value


def check_json(value: Any, param: str | None = None) -> None:
    """Refuse non-finite numbers, lone surrogates and nesting deeper than ``MAX_JSON_DEPTH``
    anywhere in ``value`` (walked without recursion)."""
    stack: list[tuple[Any, tuple, int]] = [(value, (), 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item, path, param)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidRequestError(JSON_PARSE_ERROR, param=_path(path, param))
        elif isinstance(item, dict):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep(_path(path, param))
            for key, sub in item.items():
                _check_string(key, path, param)
                stack.append((sub, (*path, key), depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep(_path(path, param))
            stack.extend((sub, (*path, i), depth + 1) for i, sub in enumerate(item))


def check_string(value: str, param: str) -> str:
    """A form field or other string from a request: refused if it is not valid Unicode."""
    _check_string(value, (), param)
    return value


def _check_string(value: str, path: tuple, param: str | None) -> None:
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        where = _path(path, param)
        raise InvalidRequestError(
            f"Invalid string{f' in {where!r}' if where else ''}: it holds a lone surrogate "
            f"(\\u{ord(value[err.start]):04x} at index {err.start}), which is not valid Unicode.",
            param=where) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(param: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid body: JSON nested deeper than {MAX_JSON_DEPTH} levels.", param=param)


def _path(path: tuple, param: str | None = None) -> str | None:
    out = param or ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def refuse_unknown(obj: dict, allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    """Refuse the first field of ``obj`` (in sorted order) that ``allowed`` does not hold."""
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown:
        raise UnknownParameterError(f"{prefix}.{unknown[0]}" if prefix else unknown[0])


def missing(param: str) -> InvalidRequestError:
    return InvalidRequestError(f"Missing required parameter: '{param}'.", param=param)


def reasoning_effort(value: Any, param: str = "reasoning_effort") -> str | None:
    """Accepted (local models do not reason at length) but checked as OpenAI checks it."""
    return enum(value, param, REASONING_EFFORTS)


def enum(value: Any, param: str, allowed: tuple[str, ...]) -> Any:
    if value is None or value in allowed:
        return value
    if not isinstance(value, str):
        raise InvalidRequestError(f"Invalid type for '{param}': expected one of {', '.join(allowed)}, but got "
                                  f"{_json_type(value)} instead.", param=param, code="invalid_type")
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    raise InvalidRequestError(f"Invalid value: '{value}'. Supported values are: {listed}.", param=param,
                              code="invalid_value")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "null"


def metadata(value: Any, param: str = "metadata") -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("Invalid type for 'metadata': expected an object.", param=param)
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidRequestError(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(value)} properties instead.",
            param=param,
        )
    for key, val in value.items():
        if not isinstance(key, str) or len(key) > MAX_METADATA_KEY:
            raise InvalidRequestError(
                f"Invalid 'metadata': keys must be strings of at most {MAX_METADATA_KEY} characters.",
                param=param,
            )
        if not isinstance(val, str):
            raise InvalidRequestError(
                f"Invalid type for '{param}.{key}': expected a string.", param=f"{param}.{key}"
            )
        if len(val) > MAX_METADATA_VALUE:
            raise InvalidRequestError(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"{MAX_METADATA_VALUE}, but got a string with length {len(val)} instead.",
                param=f"{param}.{key}",
            )
    return dict(value)


def text(value: Any, param: str, max_len: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidRequestError(f"Missing required parameter: '{param}'.", param=param)
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"Invalid type for '{param}': expected a string.", param=param)
    if len(value) > max_len:
        raise InvalidRequestError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{max_len}, but got a string with length {len(value)} instead.",
            param=param,
        )
    return value


def number(value: Any, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"Invalid type for '{param}': expected a number.", param=param)
    if not low <= value <= high:
        raise InvalidRequestError(
            f"Invalid '{param}': {value} is out of range; expected a value from {low} to {high}.",
            param=param,
        )
    return value


def positive_int(value: Any, param: str, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an integer.", param=param)
    if value < minimum:
        raise InvalidRequestError(
            f"Invalid '{param}': expected an integer of at least {minimum}, got {value}.", param=param
        )
    return value


def tools(value: Any, param: str = "tools") -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestError("Invalid type for 'tools': expected an array.", param=param)
    if len(value) > MAX_TOOLS:
        raise InvalidRequestError(
            f"Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}, "
            f"but got an array with length {len(value)} instead.",
            param=param,
        )
    out = []
    names: set[str] = set()
    for i, tool in enumerate(value):
        p = f"{param}[{i}]"
        if not isinstance(tool, dict) or tool.get("type") not in TOOL_TYPES:
            raise InvalidRequestError(
                f"Invalid value for '{p}.type': expected one of {', '.join(TOOL_TYPES)}.",
                param=f"{p}.type",
            )
        refuse_unknown(tool, {"type", tool["type"]}, p)
        if tool["type"] == "function":
            fn = tool.get("function")
            if not isinstance(fn, dict):
                raise InvalidRequestError(f"Missing required parameter: '{p}.function'.", param=f"{p}.function")
            refuse_unknown(fn, {"name", "description", "parameters", "strict"}, f"{p}.function")
            name = fn.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                raise InvalidRequestError(
                    f"Invalid '{p}.function.name': expected a string of letters, digits, underscores "
                    "and dashes, at most 64 characters.",
                    param=f"{p}.function.name",
                )
            if name in names:
                raise InvalidRequestError(
                    f"Duplicate function name '{name}' in '{param}'.", param=f"{p}.function.name"
                )
            names.add(name)
            params = fn.get("parameters")
            if params is not None and not isinstance(params, dict):
                raise InvalidRequestError(
                    f"Invalid type for '{p}.function.parameters': expected an object.",
                    param=f"{p}.function.parameters",
                )
            if fn.get("description") is not None and not isinstance(fn["description"], str):
                raise InvalidRequestError(f"Invalid type for '{p}.function.description': expected a string.",
                                          param=f"{p}.function.description")
            if fn.get("strict") is not None and not isinstance(fn["strict"], bool):
                raise InvalidRequestError(f"Invalid type for '{p}.function.strict': expected a boolean.",
                                          param=f"{p}.function.strict")
            clean_fn = {"name": name, "description": fn.get("description"),
                        "parameters": params if params is not None else {"type": "object", "properties": {}},
                        "strict": bool(fn.get("strict") or False)}
            out.append({"type": "function", "function": clean_fn})
        elif tool["type"] == "file_search":
            fs = tool.get("file_search")
            entry: dict = {"type": "file_search"}
            if isinstance(fs, dict):
                refuse_unknown(fs, {"max_num_results", "ranking_options"}, f"{p}.file_search")
                max_n = positive_int(fs.get("max_num_results"), f"{p}.file_search.max_num_results")
                if max_n is not None and max_n > 50:
                    raise InvalidRequestError(
                        f"Invalid '{p}.file_search.max_num_results': expected 1 to 50.",
                        param=f"{p}.file_search.max_num_results",
                    )
                _ranking_options(fs.get("ranking_options"), f"{p}.file_search.ranking_options")
                entry["file_search"] = {k: v for k, v in fs.items() if v is not None}
            elif fs is not None:
                raise InvalidRequestError(f"Invalid type for '{p}.file_search': expected an object.",
                                          param=f"{p}.file_search")
            out.append(entry)
        else:
            out.append({"type": "code_interpreter"})
    return out


def _ranking_options(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    refuse_unknown(value, {"score_threshold", "ranker"}, param)
    if value.get("score_threshold") is None:
        raise InvalidRequestError(f"Missing required parameter: '{param}.score_threshold'.",
                                  param=f"{param}.score_threshold")
    number(value["score_threshold"], f"{param}.score_threshold", 0, 1)
    if value.get("ranker") not in (None, *RANKERS):
        raise InvalidRequestError(
            f"Invalid value for '{param}.ranker': expected one of {', '.join(RANKERS)}.", param=f"{param}.ranker"
        )


def tool_resources(value: Any, param: str = "tool_resources") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    out: dict = {}
    ci = value.get("code_interpreter")
    if ci is not None:
        if not isinstance(ci, dict):
            raise InvalidRequestError(f"Invalid type for '{param}.code_interpreter': expected an object.",
                                      param=f"{param}.code_interpreter")
        file_ids = ci.get("file_ids") or []
        if not isinstance(file_ids, list) or not all(isinstance(x, str) for x in file_ids):
            raise InvalidRequestError(
                f"Invalid type for '{param}.code_interpreter.file_ids': expected an array of strings.",
                param=f"{param}.code_interpreter.file_ids",
            )
        if len(file_ids) > MAX_CODE_INTERPRETER_FILES:
            raise InvalidRequestError(
                f"Invalid '{param}.code_interpreter.file_ids': at most {MAX_CODE_INTERPRETER_FILES} files.",
                param=f"{param}.code_interpreter.file_ids",
            )
        out["code_interpreter"] = {"file_ids": list(file_ids)}
    fs = value.get("file_search")
    if fs is not None:
        if not isinstance(fs, dict):
            raise InvalidRequestError(f"Invalid type for '{param}.file_search': expected an object.",
                                      param=f"{param}.file_search")
        ids = fs.get("vector_store_ids") or []
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise InvalidRequestError(
                f"Invalid type for '{param}.file_search.vector_store_ids': expected an array of strings.",
                param=f"{param}.file_search.vector_store_ids",
            )
        if len(ids) > MAX_VECTOR_STORES:
            raise InvalidRequestError(
                f"Invalid '{param}.file_search.vector_store_ids': at most {MAX_VECTOR_STORES} vector store.",
                param=f"{param}.file_search.vector_store_ids",
            )
        out["file_search"] = {"vector_store_ids": list(ids)}
        specs = _inline_vector_stores(fs.get("vector_stores"), f"{param}.file_search.vector_stores")
        if specs:
            if ids:
                raise InvalidRequestError(
                    f"Only one of '{param}.file_search.vector_store_ids' or '{param}.file_search.vector_stores' "
                    "may be given.", param=f"{param}.file_search.vector_stores")
            # Not stored as such: the service creates these stores and lists their ids instead.
            out["file_search"]["vector_stores"] = specs
    return out


MAX_INLINE_VECTOR_STORE_FILES = 10_000


def _inline_vector_stores(value: Any, param: str) -> list[dict]:
    """``tool_resources.file_search.vector_stores``: stores to create, ``{file_ids, chunking_strategy, metadata}``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an array.", param=param)
    if len(value) > MAX_VECTOR_STORES:
        raise InvalidRequestError(f"Invalid '{param}': at most {MAX_VECTOR_STORES} vector store.", param=param)
    specs = []
    for i, spec in enumerate(value):
        p = f"{param}[{i}]"
        if not isinstance(spec, dict):
            raise InvalidRequestError(f"Invalid type for '{p}': expected an object.", param=p)
        refuse_unknown(spec, {"file_ids", "chunking_strategy", "metadata"}, p)
        file_ids = spec.get("file_ids") or []
        if not isinstance(file_ids, list) or not all(isinstance(x, str) and x for x in file_ids):
            raise InvalidRequestError(f"Invalid type for '{p}.file_ids': expected an array of strings.",
                                      param=f"{p}.file_ids")
        if len(file_ids) > MAX_INLINE_VECTOR_STORE_FILES:
            raise InvalidRequestError(f"Invalid '{p}.file_ids': at most {MAX_INLINE_VECTOR_STORE_FILES} files.",
                                      param=f"{p}.file_ids")
        specs.append({
            "file_ids": list(file_ids),
            "chunking_strategy": chunking_strategy(spec.get("chunking_strategy"), f"{p}.chunking_strategy"),
            "metadata": metadata(spec.get("metadata"), f"{p}.metadata") or {},
        })
    return specs


def response_format(value: Any, param: str = "response_format") -> Any:
    """``auto``, ``{"type": "text"|"json_object"}`` or ``{"type": "json_schema", "json_schema":
    {name, description?, schema?, strict?}}``, normalised: what is stored is what the SDK reads."""
    if value is None or value == "auto":
        return value
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise InvalidRequestError(
            f"Invalid '{param}': expected 'auto' or an object with type 'text', 'json_object' or 'json_schema'.",
            param=param,
        )
    if value["type"] != "json_schema":
        refuse_unknown(value, {"type"}, param)
        return {"type": value["type"]}
    refuse_unknown(value, {"type", "json_schema"}, param)
    js = value.get("json_schema")
    p = f"{param}.json_schema"
    if not isinstance(js, dict):
        raise missing(f"{p}.name") if js is None else InvalidRequestError(
            f"Invalid type for '{p}': expected an object.", param=p)
    refuse_unknown(js, {"name", "description", "schema", "strict"}, p)
    name = js.get("name")
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        if name is None:
            raise missing(f"{p}.name")
        raise InvalidRequestError(f"Invalid '{p}.name': expected a string of letters, digits, underscores and "
                                  "dashes, at most 64 characters.", param=f"{p}.name")
    out: dict = {"name": name}
    if js.get("description") is not None:
        out["description"] = text(js["description"], f"{p}.description", MAX_DESCRIPTION)
    if js.get("schema") is not None:
        if not isinstance(js["schema"], dict):
            raise InvalidRequestError(f"Invalid type for '{p}.schema': expected an object.", param=f"{p}.schema")
        out["schema"] = js["schema"]
    if js.get("strict") is not None:
        if not isinstance(js["strict"], bool):
            raise InvalidRequestError(f"Invalid type for '{p}.strict': expected a boolean.", param=f"{p}.strict")
        out["strict"] = js["strict"]
    return {"type": "json_schema", "json_schema": out}


def message_role(value: Any, param: str = "role") -> str:
    if value not in ("user", "assistant"):
        raise InvalidRequestError(
            f"Invalid value for '{param}': expected one of 'user' or 'assistant'.", param=param
        )
    return value


def message_content(value: Any, param: str = "content") -> list[dict]:
    """Normalise request content (a string or a list of parts) to stored content parts."""
    if isinstance(value, str):
        text(value, param, MAX_MESSAGE_CHARS)
        return [text_part(value)]
    if not isinstance(value, list) or not value:
        raise InvalidRequestError(
            f"Invalid '{param}': expected a string or a non-empty array of content parts.", param=param
        )
    parts = []
    for i, part in enumerate(value):
        p = f"{param}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(text_part(text(part.get("text"), f"{p}.text", MAX_MESSAGE_CHARS, required=True)))
        elif kind == "image_file":
            img = part.get("image_file")
            if not isinstance(img, dict) or not isinstance(img.get("file_id"), str):
                raise InvalidRequestError(f"Missing required parameter: '{p}.image_file.file_id'.",
                                          param=f"{p}.image_file.file_id")
            detail = _image_detail(img.get("detail"), f"{p}.image_file.detail")
            parts.append({"type": "image_file", "image_file": _drop_none(
                {"file_id": img["file_id"], "detail": detail})})
        elif kind == "image_url":
            img = part.get("image_url")
            if not isinstance(img, dict) or not isinstance(img.get("url"), str):
                raise InvalidRequestError(f"Missing required parameter: '{p}.image_url.url'.",
                                          param=f"{p}.image_url.url")
            detail = _image_detail(img.get("detail"), f"{p}.image_url.detail")
            parts.append({"type": "image_url", "image_url": _drop_none(
                {"url": img["url"], "detail": detail})})
        else:
            raise InvalidRequestError(
                f"Invalid value for '{p}.type': expected one of 'text', 'image_file' or 'image_url'.",
                param=f"{p}.type",
            )
    return parts


def attachments(value: Any, param: str = "attachments") -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an array.", param=param)
    out = []
    for i, att in enumerate(value):
        p = f"{param}[{i}]"
        if not isinstance(att, dict) or not isinstance(att.get("file_id"), str):
            raise InvalidRequestError(f"Missing required parameter: '{p}.file_id'.", param=f"{p}.file_id")
        tools_ = att.get("tools") or []
        if not isinstance(tools_, list):
            raise InvalidRequestError(f"Invalid type for '{p}.tools': expected an array.", param=f"{p}.tools")
        for j, t in enumerate(tools_):
            if not isinstance(t, dict) or t.get("type") not in ("code_interpreter", "file_search"):
                raise InvalidRequestError(
                    f"Invalid value for '{p}.tools[{j}].type': expected 'code_interpreter' or 'file_search'.",
                    param=f"{p}.tools[{j}].type",
                )
        out.append({"file_id": att["file_id"], "tools": [{"type": t["type"]} for t in tools_]})
    return out


def text_part(value: str) -> dict:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def _image_detail(value: Any, param: str) -> str | None:
    if value is not None and value not in IMAGE_DETAILS:
        raise InvalidRequestError(
            f"Invalid value for '{param}': expected one of {', '.join(IMAGE_DETAILS)}.", param=param
        )
    return value


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}
