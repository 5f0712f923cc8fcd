"""/v1/assistants"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..core import validation as v
from . import schemas as s
from .requests import call, json_body, page_params, runtime

router = APIRouter()


def _svc(request: Request):
    return runtime(request).assistants


@router.post("/assistants", **s.doc(body=s.CREATE_ASSISTANT, returns=s.sdk_beta.Assistant))
async def create_assistant(request: Request):
    body = await json_body(request, s.CREATE_ASSISTANT)
    v.reasoning_effort(body.pop("reasoning_effort", None))
    return await call(_svc(request).create, **body)


@router.get("/assistants", **s.doc(query=s.PAGE, returns=s.ListPage[s.sdk_beta.Assistant]))
async def list_assistants(request: Request):
    page = await call(_svc(request).list_page, **page_params(request))
    return page.to_body()


@router.get("/assistants/{assistant_id}", **s.doc(returns=s.sdk_beta.Assistant))
async def retrieve_assistant(assistant_id: str, request: Request):
    return await call(_svc(request).get, assistant_id)


@router.post("/assistants/{assistant_id}", **s.doc(body=s.MODIFY_ASSISTANT, returns=s.sdk_beta.Assistant))
async def modify_assistant(assistant_id: str, request: Request):
    body = await json_body(request, s.MODIFY_ASSISTANT)
    v.reasoning_effort(body.pop("reasoning_effort", None))
    return await call(_svc(request).modify, assistant_id, **body)


@router.delete("/assistants/{assistant_id}", **s.doc(returns=s.sdk_beta.AssistantDeleted))
async def delete_assistant(assistant_id: str, request: Request):
    return await call(_svc(request).delete, assistant_id)
