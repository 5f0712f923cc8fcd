"""/v1/threads/{thread_id}/runs, run steps, and /v1/threads/runs"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from ..errors import InvalidRequestError
from ..services.runs import check_include
from . import schemas as s
from .requests import call, json_body, page_params, query, runtime, with_poll_hint
from .sse import run_events, sse_response

router = APIRouter()
Run, RunStep = s.sdk_threads.Run, s.sdk_steps.RunStep


def _stream_flag(body: dict) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("Invalid type for 'stream': expected a boolean.", param="stream")
    return bool(stream)


@router.post("/threads/{thread_id}/runs", **s.doc(body=s.CREATE_RUN, query=(s.INCLUDE,), returns=Run, stream=True))
async def create_run(thread_id: str, request: Request):
    rt = runtime(request)
    body = await json_body(request, s.CREATE_RUN)
    check_include(query(request, (s.INCLUDE,))["include"])
    stream = _stream_flag(body)
    run = await call(rt.runs.create, thread_id, start=False, **body)
    if not stream:
        rt.worker.enqueue(run["id"])
        return with_poll_hint(request, run)
    sub = rt.events.subscribe(run["id"], asyncio.get_running_loop())
    rt.worker.enqueue(run["id"])
    return sse_response(run_events(sub, [("thread.run.created", run), ("thread.run.queued", run)]))


@router.post("/threads/runs", **s.doc(body=s.CREATE_THREAD_AND_RUN, returns=Run, stream=True))
async def create_thread_and_run(request: Request):
    rt = runtime(request)
    body = await json_body(request, s.CREATE_THREAD_AND_RUN)
    stream = _stream_flag(body)
    thread, run = await call(rt.runs.create_thread_and_run, start=False, **body)
    if not stream:
        rt.worker.enqueue(run["id"])
        return with_poll_hint(request, run)
    sub = rt.events.subscribe(run["id"], asyncio.get_running_loop())
    rt.worker.enqueue(run["id"])
    return sse_response(run_events(sub, [("thread.created", thread), ("thread.run.created", run),
                                         ("thread.run.queued", run)]))


@router.get("/threads/{thread_id}/runs", **s.doc(query=s.PAGE, returns=s.ListPage[Run]))
async def list_runs(thread_id: str, request: Request):
    page = await call(runtime(request).runs.list, thread_id, **page_params(request))
    return page.to_body()


@router.get("/threads/{thread_id}/runs/{run_id}", **s.doc(returns=Run))
async def retrieve_run(thread_id: str, run_id: str, request: Request):
    return with_poll_hint(request, await call(runtime(request).runs.retrieve, thread_id, run_id))


@router.post("/threads/{thread_id}/runs/{run_id}", **s.doc(body=s.METADATA_ONLY, returns=Run))
async def modify_run(thread_id: str, run_id: str, request: Request):
    body = await json_body(request, s.METADATA_ONLY)
    return await call(runtime(request).runs.modify, thread_id, run_id, **body)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", **s.doc(body=s.EMPTY, returns=Run))
async def cancel_run(thread_id: str, run_id: str, request: Request):
    await json_body(request, s.EMPTY)
    return with_poll_hint(request, await call(runtime(request).runs.cancel, thread_id, run_id))


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
             **s.doc(body=s.SUBMIT_TOOL_OUTPUTS, returns=Run, stream=True))
async def submit_tool_outputs(thread_id: str, run_id: str, request: Request):
    rt = runtime(request)
    body = await json_body(request, s.SUBMIT_TOOL_OUTPUTS)
    stream = _stream_flag(body)
    run, step = await call(rt.runs.submit_tool_outputs, thread_id, run_id, start=False, **body)
    if not stream:
        rt.worker.enqueue(run_id)
        return with_poll_hint(request, run)
    sub = rt.events.subscribe(run_id, asyncio.get_running_loop())
    rt.worker.enqueue(run_id)
    return sse_response(run_events(sub, [("thread.run.step.completed", step), ("thread.run.queued", run)]))


@router.get("/threads/{thread_id}/runs/{run_id}/steps", **s.doc(query=s.STEPS_PAGE, returns=s.ListPage[RunStep]))
async def list_steps(thread_id: str, run_id: str, request: Request):
    page = await call(runtime(request).runs.list_steps, thread_id, run_id, **query(request, s.STEPS_PAGE))
    return page.to_body()


@router.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}", **s.doc(query=(s.INCLUDE,), returns=RunStep))
async def retrieve_step(thread_id: str, run_id: str, step_id: str, request: Request):
    return await call(runtime(request).runs.retrieve_step, thread_id, run_id, step_id,
                      **query(request, (s.INCLUDE,)))

