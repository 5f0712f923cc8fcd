"""The HTTP app: OpenAI's routes under /v1, OpenAI's error bodies, request ids, and the
playground (static files at ``/``, a client of the public /v1 API only).

``create_app(runtime)`` owns nothing global: every route reaches the services
through the runtime it was given.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AuthenticationError, InvalidRequestError, LocalAssistantsError, NotFoundError
from .schemas import Health

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """JSON as Starlette writes it; what cannot be written (NaN, lone surrogates, stored
    before requests were checked for them) is repaired rather than answered with a 500:
    non-finite numbers become null, lone surrogates U+FFFD."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except (ValueError, UnicodeEncodeError):
            log.warning("a response held JSON that cannot be sent (NaN or a lone surrogate); repaired")
            return json.dumps(_repaired(content), ensure_ascii=False, allow_nan=False, indent=None,
                              separators=(",", ":")).encode("utf-8")


def _repaired(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        if value.isascii():
            return value
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, dict):
        return {_repaired(k): _repaired(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repaired(x) for x in value]
    return value


def error_response(err: LocalAssistantsError, request_id: str | None = None) -> JSONResponse:
    headers = {}
    if err.status_code >= 500:
        # The SDK retries 5xx, POSTs included: a failed POST must not be repeated.
        headers["x-should-retry"] = "false"
    if request_id:
        headers["x-request-id"] = request_id
    return SafeJSONResponse(err.to_body(), status_code=err.status_code, headers=headers)


def create_app(runtime) -> FastAPI:
    from . import (playground, routes_assistants, routes_files, routes_models, routes_runs, routes_threads,
                   routes_vector_stores)
    from . import routes_chat, routes_containers, routes_embeddings, routes_responses

    app = FastAPI(title="local-assistants", version="0.1.0", docs_url="/docs", redoc_url=None,
                  default_response_class=SafeJSONResponse)
    app.state.runtime = runtime

    @app.middleware("http")
    async def request_id_and_auth(request: Request, call_next):
        request_id = "req_" + secrets.token_hex(12)
        request.state.request_id = request_id
        api_key = runtime.settings.api_key
        if api_key and request.url.path.startswith("/v1"):
            auth = request.headers.get("authorization", "")
            # Constant time: how long a refusal takes says nothing about how much of the key matched.
            if not hmac.compare_digest(auth.encode("utf-8", "surrogateescape"), f"Bearer {api_key}".encode()):
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
        # Raised by Starlette itself (e.g. a multipart body with too many fields): a client's
        # error below 500, worded as OpenAI words one.
        e = InvalidRequestError(str(err.detail)) if err.status_code < 500 else LocalAssistantsError(str(err.detail))
        e.status_code = err.status_code
        return error_response(e, rid)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, err: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(
            LocalAssistantsError(f"The server had an error while processing your request: {type(err).__name__}."),
            getattr(request.state, "request_id", None),
        )

    @app.get("/health", response_model=Health)
    async def health():
        return {"status": "ok"}

    # routes_runs first: POST /threads/runs must not be taken for POST /threads/{thread_id}.
    for module in (routes_runs, routes_assistants, routes_threads, routes_files, routes_models,
                   routes_vector_stores, routes_containers, routes_responses, routes_chat,
                   routes_embeddings):
        app.include_router(module.router, prefix="/v1")
    playground.mount(app)
    return app

