"""/v1/responses and /v1/conversations: the Responses API's face on the same core."""

from __future__ import annotations

import asyncio
import json

import openai.types.conversations as sdk_conv
import openai.types.responses as sdk_resp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import InvalidRequestError
from ..services.response_events import FINAL, stream_key
from ..services.responses import RUN_TO_RESPONSE_STATUS, TERMINAL
from . import schemas_responses as sr
from .requests import call, json_body, query, runtime
from .sse import KEEPALIVE_S, sse_response

router = APIRouter()
REPLAY_PAGE = 32


def _frame(data: dict) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def response_stream(rt, response_id: str, after: int, sub):
    """The stored events of a response after ``after``, then its live ones, until its last
    (a response that ended while nobody listened ends the stream when its events run out)."""
    last = after
    try:
        while True:  # the stored ones in pages, so that the first is sent before the tail is read
            page = await call(rt.store.events_after, response_id, last, REPLAY_PAGE)
            for seq, _, data in page:
                last = seq
                yield _frame(data)
                if data["type"] in FINAL:
                    return
            if len(page) < REPLAY_PAGE:
                break
        while True:
            item = await sub.get(KEEPALIVE_S)
            if item is None:
                stored = await call(rt.store.events_after, response_id, last)
                for seq, _, data in stored:
                    last = seq
                    yield _frame(data)
                    if data["type"] in FINAL:
                        return
                run = await call(rt.store.get, "runs", response_id)
                if run is None or RUN_TO_RESPONSE_STATUS[run["status"]] in TERMINAL:
                    return
                yield b": ping\n\n"
                continue
            for event in [item, *sub.drain()]:
                seq = event.data.get("sequence_number", -1)
                if seq <= last:
                    continue
                last = seq
                yield _frame(event.data)
                if event.event in FINAL:
                    return
    finally:
        sub.close()


@router.post("/responses", **sr.doc(body=sr.CREATE_RESPONSE, returns=sdk_resp.Response, stream=True))
async def create_response(request: Request):
    rt = runtime(request)
    body = await json_body(request, sr.CREATE_RESPONSE)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("Invalid type for 'stream': expected a boolean.", param="stream")
    response, row = await call(rt.responses.create, body, start=False)
    sub = rt.events.subscribe(stream_key(response["id"]), asyncio.get_running_loop())
    created = dict(response, status="queued" if row["background"] else "in_progress")
    await call(rt.response_events.emit, response["id"], "response.created", {"response": created})
    if row["background"]:
        await call(rt.response_events.emit, response["id"], "response.queued", {"response": response})
    rt.worker.enqueue(response["id"])
    if stream:
        return sse_response(response_stream(rt, response["id"], -1, sub))
    if row["background"]:
        sub.close()
        return response
    try:
        while True:  # the response as its last event gave it (a response not stored is gone by now)
            item = await sub.get(KEEPALIVE_S)
            if item is not None and item.event in FINAL:
                await call(rt.responses.forget_unstored, response["id"])  # gone before it is answered
                return JSONResponse(item.data["response"])
            if item is None:
                run = await call(rt.store.get, "runs", response["id"])
                if run is None or RUN_TO_RESPONSE_STATUS[run["status"]] in TERMINAL:
                    return await call(rt.responses.retrieve, response["id"], as_created=True)
    finally:
        sub.close()


@router.post("/responses/input_tokens", **sr.doc(body=sr.INPUT_TOKENS,
                                                 returns=sdk_resp.InputTokenCountResponse))
async def count_input_tokens(request: Request):
    body = await json_body(request, sr.INPUT_TOKENS)
    return await call(runtime(request).responses.input_tokens, body)


@router.get("/responses/{response_id}", **sr.doc(query=sr.RETRIEVE_QUERY, returns=sdk_resp.Response, stream=True))
async def retrieve_response(response_id: str, request: Request):
    rt = runtime(request)
    q = query(request, sr.RETRIEVE_QUERY)
    include = q["include"] or None
    if q["stream"] in ("true", "1", "True"):
        response = await call(rt.responses.retrieve, response_id)  # 404 before the stream begins
        after = q["starting_after"]
        try:
            after = int(after) if after not in (None, "") else -1
        except ValueError:
            raise InvalidRequestError("Invalid 'starting_after': expected an integer.", param="starting_after") \
                from None
        sub = rt.events.subscribe(stream_key(response["id"]), asyncio.get_running_loop())
        return sse_response(response_stream(rt, response_id, after, sub))
    return await call(rt.responses.retrieve, response_id, include)


@router.delete("/responses/{response_id}", **sr.doc(returns=sr.ResponseDeleted))
async def delete_response(response_id: str, request: Request):
    return await call(runtime(request).responses.delete, response_id)


@router.post("/responses/{response_id}/cancel", **sr.doc(body=sr.EMPTY_BODY, returns=sdk_resp.Response))
async def cancel_response(response_id: str, request: Request):
    await json_body(request, sr.EMPTY_BODY)
    return await call(runtime(request).responses.cancel, response_id)


@router.get("/responses/{response_id}/input_items", **sr.doc(query=sr.ITEMS_PAGE,
                                                             returns=sdk_resp.ResponseItemList))
async def list_input_items(response_id: str, request: Request):
    q = query(request, sr.ITEMS_PAGE)
    return await call(runtime(request).responses.input_items, response_id, limit=q["limit"], order=q["order"],
                      after=q["after"], before=q["before"], include=q["include"])


# -- conversations --------------------------------------------------------------------
@router.post("/conversations", **sr.doc(body=sr.CREATE_CONVERSATION, returns=sdk_conv.Conversation))
async def create_conversation(request: Request):
    body = await json_body(request, sr.CREATE_CONVERSATION)
    return await call(runtime(request).conversations.create, **body)


@router.get("/conversations/{conversation_id}", **sr.doc(returns=sdk_conv.Conversation))
async def retrieve_conversation(conversation_id: str, request: Request):
    return await call(runtime(request).conversations.retrieve, conversation_id)


@router.post("/conversations/{conversation_id}", **sr.doc(body=sr.UPDATE_CONVERSATION,
                                                          returns=sdk_conv.Conversation))
async def update_conversation(conversation_id: str, request: Request):
    body = await json_body(request, sr.UPDATE_CONVERSATION)
    return await call(runtime(request).conversations.update, conversation_id, **body)


@router.delete("/conversations/{conversation_id}", **sr.doc(returns=sdk_conv.ConversationDeletedResource))
async def delete_conversation(conversation_id: str, request: Request):
    return await call(runtime(request).conversations.delete, conversation_id)


@router.get("/conversations/{conversation_id}/items", **sr.doc(query=sr.ITEMS_PAGE,
                                                               returns=sdk_conv.ConversationItemList))
async def list_conversation_items(conversation_id: str, request: Request):
    q = query(request, sr.ITEMS_PAGE)
    return await call(runtime(request).conversations.list_items, conversation_id, limit=q["limit"],
                      order=q["order"], after=q["after"], before=q["before"], include=q["include"])


@router.post("/conversations/{conversation_id}/items", **sr.doc(body=sr.CREATE_ITEMS, query=(sr.INCLUDE,),
                                                                returns=sdk_conv.ConversationItemList))
async def create_conversation_items(conversation_id: str, request: Request):
    body = await json_body(request, sr.CREATE_ITEMS)
    return await call(runtime(request).conversations.create_items, conversation_id, **body,
                      include=query(request, (sr.INCLUDE,))["include"])


@router.get("/conversations/{conversation_id}/items/{item_id}", **sr.doc(query=(sr.INCLUDE,),
                                                                         returns=sr.ConversationItem))
async def retrieve_conversation_item(conversation_id: str, item_id: str, request: Request):
    q = query(request, (sr.INCLUDE,))
    return await call(runtime(request).conversations.retrieve_item, conversation_id, item_id, q["include"])


@router.delete("/conversations/{conversation_id}/items/{item_id}", **sr.doc(returns=sdk_conv.Conversation))
async def delete_conversation_item(conversation_id: str, item_id: str, request: Request):
    return await call(runtime(request).conversations.delete_item, conversation_id, item_id)
