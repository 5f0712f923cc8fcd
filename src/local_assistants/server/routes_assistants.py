"""/v1/assistants"""

from __future__ import annotations

from fastapi import APIRouter, Request

from .app import json_body
from .common import call, page_params, runtime

router = APIRouter()

FIELDS = frozenset({"model", "name", "description", "instructions", "tools", "tool_resources", "metadata",
                    "temperature", "top_p", "response_format", "reasoning_effort"})


def _svc(request: Request):
    return runtime(request).assistants


@router.post("/assistants")
async def create_assistant(request: Request):
    body = await json_body(request, FIELDS, required=("model",))
    body.pop("reasoning_effort", None)
    return await call(_svc(request).create, **body)


@router.get("/assistants")
async def list_assistants(request: Request):
    page = await call(_svc(request).list_page, **page_params(request))
    return page.to_body()


@router.get("/assistants/{assistant_id}")
async def retrieve_assistant(assistant_id: str, request: Request):
    return await call(_svc(request).get, assistant_id)


@router.post("/assistants/{assistant_id}")
async def modify_assistant(assistant_id: str, request: Request):
    body = await json_body(request, FIELDS)
    body.pop("reasoning_effort", None)
    return await call(_svc(request).modify, assistant_id, **body)


@router.delete("/assistants/{assistant_id}")
async def delete_assistant(assistant_id: str, request: Request):
    return await call(_svc(request).delete, assistant_id)
