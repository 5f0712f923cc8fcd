"""/v1/chat/completions (create, streamed or not; stored ones: list, retrieve, update,
delete, messages) and /v1/completions, on the engine runs use."""

from __future__ import annotations

import json

import openai.types as sdk
import openai.types.chat as sdk_chat
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from . import schemas_chat as sc
from .requests import call, json_body, query, runtime

router = APIRouter()


def _sse(chunks) -> StreamingResponse:
    """Chunks as OpenAI streams them: ``data:`` lines only, then ``data: [DONE]``."""

    async def body():
        async for chunk in iterate_in_threadpool(chunks):
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


@router.post("/chat/completions", **sc.doc(body=sc.CREATE_CHAT, returns=sdk_chat.ChatCompletion, stream=True))
async def create_chat_completion(request: Request):
    service = runtime(request).chat_completions
    body = await json_body(request, sc.CREATE_CHAT)
    req = await call(service.prepare, body)
    if req.stream:
        return _sse(service.stream(req))
    return await call(service.create, req)


def _metadata_filter(request: Request) -> dict[str, str]:
    """``metadata[key]=value`` query parameters (as the SDK sends a ``metadata`` filter)."""
    return {k[len("metadata["):-1]: val for k, val in request.query_params.items()
            if k.startswith("metadata[") and k.endswith("]")}


@router.get("/chat/completions", **sc.doc(query=sc.CHAT_LIST, returns=sc.ListPage[sdk_chat.ChatCompletion]))
async def list_chat_completions(request: Request):
    q = query(request, sc.CHAT_LIST)
    return await call(runtime(request).chat_completions.list, limit=q["limit"], order=q["order"], after=q["after"],
                      model=q["model"], metadata=_metadata_filter(request))


@router.get("/chat/completions/{completion_id}", **sc.doc(returns=sdk_chat.ChatCompletion))
async def retrieve_chat_completion(completion_id: str, request: Request):
    return await call(runtime(request).chat_completions.retrieve, completion_id)


@router.post("/chat/completions/{completion_id}", **sc.doc(body=sc.UPDATE_CHAT, returns=sdk_chat.ChatCompletion))
async def update_chat_completion(completion_id: str, request: Request):
    body = await json_body(request, sc.UPDATE_CHAT)
    return await call(runtime(request).chat_completions.update, completion_id, **body)


@router.delete("/chat/completions/{completion_id}", **sc.doc(returns=sdk_chat.ChatCompletionDeleted))
async def delete_chat_completion(completion_id: str, request: Request):
    return await call(runtime(request).chat_completions.delete, completion_id)


@router.get("/chat/completions/{completion_id}/messages",
            **sc.doc(query=sc.MESSAGES_PAGE, returns=sc.ListPage[sc.StoredMessage]))
async def list_chat_completion_messages(completion_id: str, request: Request):
    q = query(request, sc.MESSAGES_PAGE)
    return await call(runtime(request).chat_completions.messages, completion_id, limit=q["limit"],
                      order=q["order"], after=q["after"])


@router.post("/completions", **sc.doc(body=sc.CREATE_COMPLETION, returns=sdk.Completion, stream=True))
async def create_completion(request: Request):
    service = runtime(request).completions
    body = await json_body(request, sc.CREATE_COMPLETION)
    req = await call(service.prepare, body)
    if req.stream:
        return _sse(service.stream(req))
    return await call(service.create, req)
