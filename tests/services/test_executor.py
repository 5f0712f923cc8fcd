"""The run loop with a fake chat model, a fake code runner and a fake search: answers,
function calls through requires_action, code, file search, and the events a streamed
run sends, in milliseconds.  The real model runs the same paths in tests/api/."""

from __future__ import annotations

import asyncio

import pytest

from local_assistants.server.sse import run_events
from local_assistants.services.recorder import RunMoved
from local_assistants.testing import FakeChatModel

from .run_loop import WEATHER, FakeCode, FakeSearch, Loop


@pytest.fixture
def loop(tmp_path):
    def make(*turns, **fakes) -> Loop:
        return Loop(FakeChatModel(turns), **fakes).build(tmp_path)
    return make


MESSAGE_EVENTS = ["thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
                  "thread.message.in_progress", "thread.message.delta", "thread.message.completed",
                  "thread.run.step.completed"]


def _collapsed(names: list[str]) -> list[str]:
    """Consecutive deltas as one."""
    return [n for i, n in enumerate(names) if not (n.endswith(".delta") and i and names[i - 1] == n)]


def test_an_answer(loop):
    lp = loop("It is 12516.")
    run = lp.execute(lp.start())
    assert run["status"] == "completed"
    answer = lp.answer(run)
    assert answer["content"] == [{"type": "text", "text": {"value": "It is 12516.", "annotations": []}}]
    assert answer["status"] == "completed" and answer["run_id"] == run["id"]
    assert _collapsed(lp.names()) == ["thread.run.in_progress", *MESSAGE_EVENTS, "thread.run.completed"]
    deltas = [d for n, d in lp.events if n == "thread.message.delta"]
    assert len(deltas) == len("It is 12516.")  # one per token (a character, for the fake model)
    assert "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas) == "It is 12516."
    assert deltas[0]["delta"]["content"][0]["text"]["annotations"] == []  # sent once, with the first piece
    assert all("annotations" not in d["delta"]["content"][0]["text"] for d in deltas[1:])
    (step,) = lp.steps(run)
    assert step["step_details"] == {"type": "message_creation", "message_creation": {"message_id": answer["id"]}}
    prompt = lp.model.prompts[0]
    assert prompt.startswith("<|im_start|>system\nYou are a tutor.<|im_end|>\n<|im_start|>user\nWhat is 149 * 84?")
    assert run["usage"] == {"prompt_tokens": len(prompt), "completion_tokens": len("It is 12516."),
                            "total_tokens": len(prompt) + len("It is 12516.")}


def test_an_answer_cut_by_max_completion_tokens(loop):
    lp = loop("It is 12516, as 149 * 84 makes.")
    thread_run = lp.start()
    run = lp.store.get("runs", thread_run["id"])
    run["max_completion_tokens"] = 5
    lp.runs.save(run)
    run = lp.execute(run)
    assert run["status"] == "incomplete"
    assert run["incomplete_details"] == {"reason": "max_completion_tokens"}
    answer = lp.answer(run)
    assert answer["status"] == "incomplete" and answer["incomplete_details"] == {"reason": "max_tokens"}
    assert answer["content"][0]["text"]["value"] == "It is"


def test_a_function_call_waits_for_its_output_then_the_model_answers(loop):
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    lp = loop(call, "It is sunny in Paris.")
    run = lp.execute(lp.start("Weather in Paris?", tools=[WEATHER]))
    assert run["status"] == "requires_action"
    (required,) = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert required["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert lp.names() == ["thread.run.in_progress", "thread.run.step.created", "thread.run.step.in_progress",
                          "thread.run.step.delta", "thread.run.step.delta", "thread.run.requires_action"]
    first, second = [d["delta"]["step_details"]["tool_calls"][0] for n, d in lp.events if n.endswith("delta")]
    assert first == {"index": 0, "id": required["id"], "type": "function",
                     "function": {"name": "get_weather", "arguments": "", "output": None}}
    assert second == {"index": 0, "type": "function", "function": {"arguments": '{"city": "Paris"}'}}
    assert lp.model.calls[0]["grammar"]  # calls are decoded under the tools' grammar

    lp.events.clear()
    run, step = lp.runs.submit_tool_outputs(run["thread_id"], run["id"], start=False,
                                            tool_outputs=[{"tool_call_id": required["id"], "output": "22C, sunny"}])
    assert step["status"] == "completed"
    assert step["step_details"]["tool_calls"][0]["function"]["output"] == "22C, sunny"
    run = lp.execute(run)
    assert run["status"] == "completed"
    assert lp.answer(run)["content"][0]["text"]["value"] == "It is sunny in Paris."
    assert _collapsed(lp.names()) == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress",
                                      *MESSAGE_EVENTS, "thread.run.completed"]
    assert "<tool_response>" in lp.model.prompts[1] and "22C, sunny" in lp.model.prompts[1]
    assert call in lp.model.prompts[1]  # the call itself is replayed before its output
    assert [s["type"] for s in lp.steps(run)] == ["tool_calls", "message_creation"]


def test_code_runs_and_the_model_answers_from_its_output(loop):
    code = FakeCode(logs="12516")
    lp = loop("```python\nx = 149 * 84\nx\n```", "It is 12516.", code=code)
    run = lp.execute(lp.start(tools=[{"type": "code_interpreter"}]))
    assert run["status"] == "completed"
    assert code.ran == ["x = 149 * 84\nx"]
    tool_step, message_step = lp.steps(run)
    (call,) = tool_step["step_details"]["tool_calls"]
    assert call["type"] == "code_interpreter"
    assert call["code_interpreter"] == {"input": "x = 149 * 84\nx", "outputs": [{"type": "logs", "logs": "12516"}]}
    assert tool_step["status"] == "completed" and message_step["status"] == "completed"
    assert "12516" in lp.model.prompts[1]
    assert lp.answer(run)["content"][0]["text"]["value"] == "It is 12516."
    deltas = [d["delta"]["step_details"]["tool_calls"][0] for n, d in lp.events if n == "thread.run.step.delta"]
    assert deltas == [
        {"index": 0, "id": call["id"], "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": []}},
        {"index": 0, "type": "code_interpreter", "code_interpreter": {"input": "x = 149 * 84\nx"}},
        {"index": 0, "type": "code_interpreter",
         "code_interpreter": {"outputs": [{"index": 0, "type": "logs", "logs": "12516"}]}},
    ]
    assert _collapsed(lp.names()) == [
        "thread.run.in_progress", "thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta",
        "thread.run.step.completed", *MESSAGE_EVENTS, "thread.run.completed"]


def test_a_file_search_finds_chunks_the_answer_cites(loop):
    search = FakeSearch("The Otter launch code is 4471.")
    call = '<tool_call>\n{"name": "file_search", "arguments": {"query": "Otter launch code"}}\n</tool_call>'
    lp = loop(call, "The launch code is 4471.", search=search)
    run = lp.execute(lp.start("What is the Otter launch code?", tools=[{"type": "file_search"}],
                              tool_resources={"file_search": {"vector_store_ids": ["vs_notes"]}}))
    assert run["status"] == "completed"
    assert search.queries == [(["vs_notes"], "Otter launch code")]
    tool_step, _ = lp.steps(run)
    (found,) = tool_step["step_details"]["tool_calls"]
    assert found["type"] == "file_search"
    assert found["file_search"]["query"] == "Otter launch code"
    assert found["file_search"]["results"] == [{"file_id": "file-0", "file_name": "notes-0.txt", "score": 0.9,
                                                "content": [{"type": "text", "text": "The Otter launch code is 4471."}]}]
    assert "The Otter launch code is 4471." in lp.model.prompts[1]
    text = lp.answer(run)["content"][0]["text"]
    assert text["value"] == "The launch code is 4471.【0:0†notes-0.txt】"
    assert text["annotations"][0]["type"] == "file_citation"
    assert text["annotations"][0]["file_citation"] == {"file_id": "file-0"}
    deltas = [d["delta"]["step_details"]["tool_calls"][0] for n, d in lp.events if n == "thread.run.step.delta"]
    assert deltas == [{"index": 0, "id": found["id"], "type": "file_search", "file_search": {}}]


def test_a_model_that_fails_fails_the_run(loop):
    lp = loop()  # nothing scripted: generate raises
    run = lp.execute(lp.start())
    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "server_error"
    assert "no scripted turn left" in run["last_error"]["message"]


async def _sse(lp: Loop, run: dict, leading) -> list[tuple[str, str]]:
    sub = lp.bus.subscribe(run["id"], asyncio.get_running_loop())
    worker = asyncio.get_running_loop().run_in_executor(None, lp.executor.execute, run["id"])
    frames = [f.decode() async for f in run_events(sub, leading)]
    await worker
    out = []
    for f in frames:
        event, data = f.strip("\n").split("\n", 1)
        out.append((event.removeprefix("event: "), data.removeprefix("data: ")))
    return out


def test_a_streamed_run_sends_events_in_openais_order(loop):
    """The order OPENAI_CONTRACT.md gives for a run that answers in text, as the SSE
    route frames it (its leading events, the run's, ``done``)."""
    lp = loop("It is 12516.")
    run = lp.start()
    frames = asyncio.run(_sse(lp, run, [("thread.run.created", run), ("thread.run.queued", run)]))
    names = _collapsed([e for e, _ in frames])
    assert names == ["thread.run.created", "thread.run.queued", "thread.run.in_progress",
                     "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
                     "thread.message.in_progress", "thread.message.delta", "thread.message.completed",
                     "thread.run.step.completed", "thread.run.completed", "done"]
    assert frames[-1] == ("done", "[DONE]")
    created = dict(lp.events)["thread.message.created"]  # as published (the frame is serialized later)
    assert created["content"] == []  # empty when created: the deltas fill it


def test_a_streamed_function_call_ends_at_requires_action(loop):
    lp = loop('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')
    run = lp.start("Weather in Paris?", tools=[WEATHER])
    frames = asyncio.run(_sse(lp, run, [("thread.run.created", run), ("thread.run.queued", run)]))
    assert [e for e, _ in frames] == [
        "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
        "thread.run.step.in_progress", "thread.run.step.delta", "thread.run.step.delta",
        "thread.run.requires_action", "done"]
    step = dict(lp.events)["thread.run.step.created"]
    assert step["step_details"] == {"type": "tool_calls", "tool_calls": []}


# -- a cancel that lands as the run finishes ---------------------------------------------------

def _cancel_after_last_check(lp: Loop, text: str):
    """A model turn that cancels its own run once decoding is over (the executor's last
    check of the cancel flag came before it: the race a client's late cancel makes)."""
    lp.executor.cancel_requested = lambda run_id: False

    def turn(prompt: str) -> str:
        run = lp.store.find("runs")[-1]
        cancelling = lp.runs.cancel(run["thread_id"], run["id"])
        assert cancelling["status"] == "cancelling"
        return text
    return turn


def test_a_cancel_landing_as_the_answer_completes_ends_the_run_cancelled_not_failed(loop):
    lp = loop()
    lp.model.say(_cancel_after_last_check(lp, "It is 12516."))
    run = lp.execute(lp.start())
    assert run["status"] == "cancelled" and run["last_error"] is None and run["failed_at"] is None
    assert run["cancelled_at"] is not None and run["usage"]["completion_tokens"] == len("It is 12516.")
    assert "thread.run.cancelling" in lp.names() and lp.names()[-1] == "thread.run.cancelled"
    assert "thread.run.failed" not in lp.names() and "thread.run.completed" not in lp.names()


def test_a_cancel_landing_as_the_run_asks_for_tool_outputs_ends_it_cancelled(loop):
    lp = loop()
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    lp.model.say(_cancel_after_last_check(lp, call))
    run = lp.execute(lp.start("Weather in Paris?", tools=[WEATHER]))
    assert run["status"] == "cancelled" and run["required_action"] is None
    (step,) = lp.steps(run)
    assert step["status"] == "cancelled"
    assert "thread.run.requires_action" not in lp.names() and lp.names()[-1] == "thread.run.cancelled"


def test_a_queued_run_cancelled_after_the_worker_read_it_is_not_claimed(loop):
    lp = loop("It is 12516.")
    run = lp.start()
    stale = lp.store.get("runs", run["id"])  # what the worker read
    lp.runs.cancel(run["thread_id"], run["id"])
    with pytest.raises(RunMoved) as moved:
        lp.recorder.run_to(stale, "in_progress")
    assert moved.value.run["status"] == "cancelled"
    assert lp.store.get("runs", run["id"])["status"] == "cancelled"
    assert lp.execute(run)["status"] == "cancelled" and lp.model.prompts == []


def test_an_expiry_read_before_the_outputs_were_submitted_writes_nothing(loop):
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    lp = loop(call)
    run = lp.execute(lp.start("Weather in Paris?", tools=[WEATHER]))
    stale = lp.store.get("runs", run["id"])
    (required,) = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    lp.runs.submit_tool_outputs(run["thread_id"], run["id"], start=False,
                                tool_outputs=[{"tool_call_id": required["id"], "output": "sunny"}])
    with pytest.raises(RunMoved):
        lp.recorder.run_to(stale, "expired")
    assert lp.store.get("runs", run["id"])["status"] == "queued"
