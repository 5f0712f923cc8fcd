"""The HTTP app: OpenAI's routes under /v1, OpenAI's error bodies, request ids.

``create_app(runtime)`` owns nothing global: every route reaches the services
through the runtime it was given.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AuthenticationError, InvalidRequestError, LocalAssistantsError, NotFoundError

log = logging.getLogger(__name__)


def error_response(err: LocalAssistantsError, request_id: str | None = None) -> JSONResponse:
    headers = {}
    if err.status_code >= 500:
        # The SDK retries 5xx, POSTs included: a failed POST must not be repeated.
        headers["x-should-retry"] = "false"
    if request_id:
        headers["x-request-id"] = request_id
    return JSONResponse(err.to_body(), status_code=err.status_code, headers=headers)


def create_app(runtime) -> FastAPI:
    from . import (routes_assistants, routes_files, routes_models, routes_runs, routes_threads,
                   routes_vector_stores)

    app = FastAPI(title="local-assistants", version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.runtime = runtime

    @app.middleware("http")
    async def request_id_and_auth(request: Request, call_next):
        request_id = "req_" + secrets.token_hex(12)
        request.state.request_id = request_id
        api_key = runtime.settings.api_key
        if api_key and request.url.path.startswith("/v1"):
            auth = request.headers.get("authorization", "")
            if auth != f"Bearer {api_key}":
                return error_response(
                    AuthenticationError("Incorrect API key provided."), request_id
                )
        try:
            response = await call_next(request)
        except LocalAssistantsError as err:  # raised inside a streaming body's setup
            return error_response(err, request_id)
        response.headers["x-request-id"] = request_id
        return response

    @app.exception_handler(LocalAssistantsError)
    async def handle_own_error(request: Request, err: LocalAssistantsError):
        if err.status_code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, err.message)
        return error_response(err, getattr(request.state, "request_id", None))

    @app.exception_handler(RequestValidationError)
    async def handle_validation(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(loc) or None
        message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}." if param else "Invalid request."
        return error_response(InvalidRequestError(message, param=param),
                              getattr(request.state, "request_id", None))

    @app.exception_handler(StarletteHTTPException)
    async def handle_http(request: Request, err: StarletteHTTPException):
        rid = getattr(request.state, "request_id", None)
        if err.status_code == 404:
            return error_response(NotFoundError(f"Invalid URL ({request.method} {request.url.path})"), rid)
        if err.status_code == 405:
            e = InvalidRequestError(f"Method {request.method} is not allowed on {request.url.path}.")
            e.status_code = 405
            return error_response(e, rid)
        e = LocalAssistantsError(str(err.detail))
        e.status_code = err.status_code
        return error_response(e, rid)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, err: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(
            LocalAssistantsError(f"The server had an error while processing your request: {type(err).__name__}."),
            getattr(request.state, "request_id", None),
        )

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    # routes_runs first: POST /threads/runs must not be taken for POST /threads/{thread_id}.
    for module in (routes_runs, routes_assistants, routes_threads, routes_files, routes_models,
                   routes_vector_stores):
        app.include_router(module.router, prefix="/v1")
    return app


async def json_body(request: Request, allowed: set[str] | frozenset[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request's JSON object, refused with OpenAI's wording when malformed or unknown."""
    raw = await request.body()
    if not raw.strip():
        body: Any = {}
    else:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequestError(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                "sent was not valid JSON.)"
            ) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("Invalid request body: expected a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequestError(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    for key in required:
        if body.get(key) is None:
            raise InvalidRequestError(f"Missing required parameter: '{key}'.", param=key)
    return body
