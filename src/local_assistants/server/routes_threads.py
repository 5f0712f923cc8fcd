"""/v1/threads and /v1/threads/{thread_id}/messages"""

from __future__ import annotations

from fastapi import APIRouter, Request

from . import schemas as s
from .requests import call, json_body, query, runtime

router = APIRouter()
Thread, Message = s.sdk_beta.Thread, s.sdk_threads.Message


@router.post("/threads", **s.doc(body=s.CREATE_THREAD, returns=Thread))
async def create_thread(request: Request):
    body = await json_body(request, s.CREATE_THREAD)
    return await call(runtime(request).threads.create, **body)


@router.get("/threads/{thread_id}", **s.doc(returns=Thread))
async def retrieve_thread(thread_id: str, request: Request):
    return await call(runtime(request).threads.get, thread_id)


@router.post("/threads/{thread_id}", **s.doc(body=s.MODIFY_THREAD, returns=Thread))
async def modify_thread(thread_id: str, request: Request):
    body = await json_body(request, s.MODIFY_THREAD)
    return await call(runtime(request).threads.modify, thread_id, **body)


@router.delete("/threads/{thread_id}", **s.doc(returns=s.sdk_beta.ThreadDeleted))
async def delete_thread(thread_id: str, request: Request):
    return await call(runtime(request).threads.delete, thread_id)


@router.post("/threads/{thread_id}/messages", **s.doc(body=s.CREATE_MESSAGE, returns=Message))
async def create_message(thread_id: str, request: Request):
    body = await json_body(request, s.CREATE_MESSAGE)
    return await call(runtime(request).messages.create, thread_id, **body)


@router.get("/threads/{thread_id}/messages", **s.doc(query=s.MESSAGES_PAGE, returns=s.ListPage[Message]))
async def list_messages(thread_id: str, request: Request):
    page = await call(runtime(request).messages.list, thread_id, **query(request, s.MESSAGES_PAGE))
    return page.to_body()


@router.get("/threads/{thread_id}/messages/{message_id}", **s.doc(returns=Message))
async def retrieve_message(thread_id: str, message_id: str, request: Request):
    return await call(runtime(request).messages.retrieve, thread_id, message_id)


@router.post("/threads/{thread_id}/messages/{message_id}", **s.doc(body=s.METADATA_ONLY, returns=Message))
async def modify_message(thread_id: str, message_id: str, request: Request):
    body = await json_body(request, s.METADATA_ONLY)
    return await call(runtime(request).messages.modify, thread_id, message_id, **body)


@router.delete("/threads/{thread_id}/messages/{message_id}", **s.doc(returns=s.sdk_threads.MessageDeleted))
async def delete_message(thread_id: str, message_id: str, request: Request):
    return await call(runtime(request).messages.delete, thread_id, message_id)
