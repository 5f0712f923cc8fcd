"""/v1/threads/{thread_id}/runs, run steps, and /v1/threads/runs"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import InvalidRequestError
from ..services.runs import CREATE_AND_RUN_FIELDS, RUN_FIELDS
from .app import json_body
from .common import call, page_params, runtime
from .sse import run_events, sse_response

router = APIRouter()


def _stream_flag(body: dict) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("Invalid type for 'stream': expected a boolean.", param="stream")
    return bool(stream)


def _with_poll_hint(request: Request, obj: dict) -> JSONResponse:
    ms = runtime(request).settings.poll_after_ms
    return JSONResponse(obj, headers={"openai-poll-after-ms": str(ms)})


@router.post("/threads/{thread_id}/runs")
async def create_run(thread_id: str, request: Request):
    rt = runtime(request)
    body = await json_body(request, RUN_FIELDS, required=("assistant_id",))
    stream = _stream_flag(body)
    run = await call(rt.runs.create, thread_id, start=False, **body)
    if not stream:
        rt.worker.enqueue(run["id"])
        return _with_poll_hint(request, run)
    sub = rt.events.subscribe(run["id"], asyncio.get_running_loop())
    rt.worker.enqueue(run["id"])
    return sse_response(run_events(sub, [("thread.run.created", run), ("thread.run.queued", run)]))


@router.post("/threads/runs")
async def create_thread_and_run(request: Request):
    rt = runtime(request)
    body = await json_body(request, CREATE_AND_RUN_FIELDS, required=("assistant_id",))
    stream = _stream_flag(body)
    thread, run = await call(rt.runs.create_thread_and_run, start=False, **body)
    if not stream:
        rt.worker.enqueue(run["id"])
        return _with_poll_hint(request, run)
    sub = rt.events.subscribe(run["id"], asyncio.get_running_loop())
    rt.worker.enqueue(run["id"])
    return sse_response(run_events(sub, [("thread.created", thread), ("thread.run.created", run),
                                         ("thread.run.queued", run)]))


@router.get("/threads/{thread_id}/runs")
async def list_runs(thread_id: str, request: Request):
    page = await call(runtime(request).runs.list, thread_id, **page_params(request))
    return page.to_body()


@router.get("/threads/{thread_id}/runs/{run_id}")
async def retrieve_run(thread_id: str, run_id: str, request: Request):
    return _with_poll_hint(request, await call(runtime(request).runs.retrieve, thread_id, run_id))


@router.post("/threads/{thread_id}/runs/{run_id}")
async def modify_run(thread_id: str, run_id: str, request: Request):
    body = await json_body(request, frozenset({"metadata"}))
    return await call(runtime(request).runs.modify, thread_id, run_id, **body)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(thread_id: str, run_id: str, request: Request):
    await json_body(request, frozenset())
    return _with_poll_hint(request, await call(runtime(request).runs.cancel, thread_id, run_id))


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(thread_id: str, run_id: str, request: Request):
    rt = runtime(request)
    body = await json_body(request, frozenset({"tool_outputs", "stream"}), required=("tool_outputs",))
    stream = _stream_flag(body)
    run, step = await call(rt.runs.submit_tool_outputs, thread_id, run_id, start=False, **body)
    if not stream:
        rt.worker.enqueue(run_id)
        return _with_poll_hint(request, run)
    sub = rt.events.subscribe(run_id, asyncio.get_running_loop())
    rt.worker.enqueue(run_id)
    return sse_response(run_events(sub, [("thread.run.step.completed", step), ("thread.run.queued", run)]))


@router.get("/threads/{thread_id}/runs/{run_id}/steps")
async def list_steps(thread_id: str, run_id: str, request: Request):
    page = await call(runtime(request).runs.list_steps, thread_id, run_id,
                      include=request.query_params.getlist("include[]"), **page_params(request))
    return page.to_body()


@router.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}")
async def retrieve_step(thread_id: str, run_id: str, step_id: str, request: Request):
    return await call(runtime(request).runs.retrieve_step, thread_id, run_id, step_id,
                      include=request.query_params.getlist("include[]"))

