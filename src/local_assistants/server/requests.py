"""What route handlers do with a request: reach the runtime, read the JSON body and the
query parameters, call a service off the event loop, and answer with a poll hint.

Route modules take these from here, never from ``app`` (which imports the route modules).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException

from ..core import validation as v
from ..errors import InvalidRequestError, PayloadTooLargeError, UnknownParameterError
from .schemas import PAGE, Body, Param


def runtime(request: Request):
    return request.app.state.runtime


async def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run a (blocking, SQLite-bound) service call off the event loop."""
    return await run_in_threadpool(partial(fn, *args, **kwargs))


async def json_body(request: Request, spec: Body) -> dict[str, Any]:
    """The request's JSON object, checked as ``spec`` says, refused with OpenAI's wording
    when malformed, unknown, missing, or unable to be stored and sent back."""
    raw = await request.body()
    body: Any = v.parse_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidRequestError("Invalid request body: expected a JSON object.")
    v.refuse_unknown(body, spec.fields)
    for key in spec.required:
        if body.get(key) is None:
            raise v.missing(key)
    return body


def query(request: Request, params: tuple[Param, ...]) -> dict[str, Any]:
    """The declared query parameters (``include[]`` as ``include``, a list), by name; others are
    ignored, as OpenAI ignores them."""
    q = request.query_params
    out: dict[str, Any] = {}
    for p in params:
        if p.array:
            out[p.name.removesuffix("[]")] = q.getlist(p.name)
        else:
            out[p.name] = q.get(p.name)
    return out


def page_params(request: Request) -> dict[str, Any]:
    return query(request, PAGE)


def with_poll_hint(request: Request, obj: dict) -> JSONResponse:
    """``obj`` with the ``openai-poll-after-ms`` header: the SDK's polling helpers (runs'
    create_and_poll, vector-store files' upload_and_poll, batches' create_and_poll) sleep
    this long between two GETs."""
    ms = runtime(request).settings.poll_after_ms
    return JSONResponse(obj, headers={"openai-poll-after-ms": str(ms)})


MAX_FORM_FIELD_CHARS = 1024


async def upload_form(request: Request, fields: frozenset[str] | set[str], max_bytes: int) -> FormData:
    """A multipart upload's form, checked as a JSON body is: a body past the file limit
    refused before it is read, known fields only, each once, valid Unicode, bounded."""
    length = request.headers.get("content-length")
    # A multipart body carries a little more than the file: allow 1 MiB of envelope.
    if length and length.isdigit() and int(length) > max_bytes + (1 << 20):
        raise PayloadTooLargeError(f"File is too large: the limit is {max_bytes} bytes.", param="file")
    try:
        form = await request.form(max_part_size=max_bytes + 1, max_fields=len(fields) * 2)
    except MultiPartException as err:
        raise InvalidRequestError(f"Could not parse the multipart body: {err.message}") from None
    seen: set[str] = set()
    for name, value in form.multi_items():
        v.check_string(name, "form field name")
        if name not in fields:
            raise UnknownParameterError(name)
        if name in seen:
            raise InvalidRequestError(f"Invalid body: '{name}' was given more than once.", param=name)
        seen.add(name)
        if isinstance(value, str):
            v.check_string(value, name)
            if len(value) > MAX_FORM_FIELD_CHARS:
                raise InvalidRequestError(f"Invalid '{name}': string too long. Expected a string with maximum "
                                          f"length {MAX_FORM_FIELD_CHARS}, but got a string with length "
                                          f"{len(value)} instead.", param=name)
        elif value.filename is not None:
            v.check_string(value.filename, "file")
    return form
