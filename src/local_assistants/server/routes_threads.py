"""/v1/threads and /v1/threads/{thread_id}/messages"""

from __future__ import annotations

from fastapi import APIRouter, Request

from .app import json_body
from .common import call, page_params, runtime

router = APIRouter()

THREAD_FIELDS = frozenset({"messages", "metadata", "tool_resources"})
MESSAGE_FIELDS = frozenset({"role", "content", "attachments", "metadata"})


@router.post("/threads")
async def create_thread(request: Request):
    body = await json_body(request, THREAD_FIELDS)
    return await call(runtime(request).threads.create, **body)


@router.get("/threads/{thread_id}")
async def retrieve_thread(thread_id: str, request: Request):
    return await call(runtime(request).threads.get, thread_id)


@router.post("/threads/{thread_id}")
async def modify_thread(thread_id: str, request: Request):
    body = await json_body(request, frozenset({"metadata", "tool_resources"}))
    return await call(runtime(request).threads.modify, thread_id, **body)


@router.delete("/threads/{thread_id}")
async def delete_thread(thread_id: str, request: Request):
    return await call(runtime(request).threads.delete, thread_id)


@router.post("/threads/{thread_id}/messages")
async def create_message(thread_id: str, request: Request):
    body = await json_body(request, MESSAGE_FIELDS, required=("role", "content"))
    return await call(runtime(request).messages.create, thread_id, **body)


@router.get("/threads/{thread_id}/messages")
async def list_messages(thread_id: str, request: Request):
    page = await call(runtime(request).messages.list, thread_id,
                      run_id=request.query_params.get("run_id"), **page_params(request))
    return page.to_body()


@router.get("/threads/{thread_id}/messages/{message_id}")
async def retrieve_message(thread_id: str, message_id: str, request: Request):
    return await call(runtime(request).messages.retrieve, thread_id, message_id)


@router.post("/threads/{thread_id}/messages/{message_id}")
async def modify_message(thread_id: str, message_id: str, request: Request):
    body = await json_body(request, frozenset({"metadata"}))
    return await call(runtime(request).messages.modify, thread_id, message_id, **body)


@router.delete("/threads/{thread_id}/messages/{message_id}")
async def delete_message(thread_id: str, message_id: str, request: Request):
    return await call(runtime(request).messages.delete, thread_id, message_id)
