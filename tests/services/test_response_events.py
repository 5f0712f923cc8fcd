"""ResponseEvents: the run loop's thread.* events of a response's run told as response.*
events, numbered, stored and published; other runs' events passed through untouched.

The run events are the recorder's own (``responses_stack``: a real SQLite store, the
recorder writing each record before it publishes), scripted as the run loop and the tool
handlers write them; the last test drives the real run loop with the fake chat model."""

from __future__ import annotations

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from local_assistants.core import run_state
from local_assistants.services.executor import RunExecutor
from local_assistants.services.response_events import RETENTION_S, ResponseEvents, stream_key
from local_assistants.testing import FakeChatModel
from local_assistants.tools.registry import default_tools

from .responses_stack import WEATHER, Services
from .run_loop import FakeCode, Models

EVENT = TypeAdapter(ResponseStreamEvent)


class Stream:
    """The services, with a ResponseEvents between the recorder and a list of what is published."""

    def __init__(self, tmp_path, clock=None):
        self.s = Services(tmp_path)
        self.published: list[tuple[str, str, dict]] = []
        self.finals: list[str] = []
        self.events = ResponseEvents(self.s.store, self.sink, view=self.view, on_final=self.finals.append,
                                     container_file_of=lambda fid: None,
                                     **({"clock": clock} if clock else {}))
        self.s.sinks.append(self.events.publish)

    def sink(self, key, event, data):
        self.published.append((key, event, data))

    def view(self, rid):
        row = self.s.store.get("responses", rid)
        return self.s.responses.view(row, self.s.store.get("runs", rid)) if row else None

    def stored(self, rid) -> list[dict]:
        return [data for _, _, data in self.s.store.events_after(rid, -1)]

    def types(self, rid) -> list[str]:
        return [e["type"] for e in self.stored(rid)]


@pytest.fixture
def st(tmp_path):
    return Stream(tmp_path)


def answer(st: Stream, rid: str, pieces=("Hel", "lo!")) -> None:
    """A run that starts and writes one message, delta by delta, as the run loop does."""
    s = st.s
    run = s.recorder.run_to(s.store.get("runs", rid), run_state.IN_PROGRESS)
    step, message = s.recorder.open_message(run)
    for piece in pieces:
        s.recorder.message_delta(message, {"index": 0, "type": "text", "text": {"value": piece, "annotations": []}})
    message["content"] = [{"type": "text", "text": {"value": "".join(pieces), "annotations": []}}]
    s.recorder.message_to(message, "completed")
    s.recorder.step_to(step, "completed")
    s.recorder.run_to(run, run_state.COMPLETED)


def check_numbered_and_typed(events: list[dict]) -> list:
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return [EVENT.validate_python(e) for e in events]


def test_a_message_is_told_in_openai_s_order(st):
    response, _ = st.s.create(input="hi")
    rid = response["id"]
    st.events.emit(rid, "response.created", {"response": response})  # as the route does
    answer(st, rid)
    stored = st.stored(rid)
    parsed = check_numbered_and_typed(stored)
    assert st.types(rid) == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    added, done = parsed[2], parsed[8]
    assert added.item.id == done.item.id and added.output_index == done.output_index == 0
    assert [e.delta for e in parsed if e.type == "response.output_text.delta"] == ["Hel", "lo!"]
    assert parsed[6].text == "Hello!" and done.item.content[0].text == "Hello!"
    assert {e.item_id for e in parsed[3:8]} == {added.item.id}
    final = parsed[-1].response
    assert final.status == "completed" and final.output_text == "Hello!"
    Response.model_validate(stored[-1]["response"])
    assert st.finals == [rid]


def test_each_event_is_stored_then_published_under_the_response_s_key(st):
    response, _ = st.s.create(input="hi")
    rid = response["id"]
    answer(st, rid)
    told = [data for key, _, data in st.published if key == stream_key(rid)]
    assert told == st.stored(rid)
    # the run's own events still go out under the run's id, untouched
    raw = [(event, data) for key, event, data in st.published if key == rid]
    assert [e for e, _ in raw] == [e for r, e, _ in st.s.events if r == rid]
    assert raw[0][0] == "thread.run.in_progress" and raw[-1][0] == "thread.run.completed"
    assert all("sequence_number" not in data for _, data in raw)


def test_function_and_code_calls_are_told_as_items(st):
    s = st.s
    response, _ = s.create(input="weather and sums", tools=[WEATHER])
    rid = response["id"]
    run = s.recorder.run_to(s.store.get("runs", rid), run_state.IN_PROGRESS)
    step = s.recorder.open_step(run, "tool_calls")
    fn = {"id": "call_fn", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}',
                                                            "output": None}}
    code = {"id": "call_py", "type": "code_interpreter", "code_interpreter": {"input": "149 * 84", "outputs": []}}
    # as the run loop publishes each call when it is complete (tools/functions.py, code_interpreter.py record)
    s.recorder.index_call(step, fn)
    s.recorder.step_delta(step, {"index": 0, "id": "call_fn", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "", "output": None}})
    s.recorder.step_delta(step, {"index": 0, "type": "function", "function": {"arguments": '{"city": "Oslo"}'}})
    s.recorder.index_call(step, code)
    s.recorder.step_delta(step, {"index": 1, "id": "call_py", "type": "code_interpreter",
                                 "code_interpreter": {"input": "", "outputs": []}})
    s.recorder.step_delta(step, {"index": 1, "type": "code_interpreter", "code_interpreter": {"input": "149 * 84"}})
    step["step_details"]["tool_calls"] = [fn, code]
    s.recorder.save_step(step)
    code["code_interpreter"]["outputs"] = [{"type": "logs", "logs": "12516"}]
    s.recorder.save_step(step)  # the code ran: its outputs are stored, then streamed
    s.recorder.step_delta(step, {"index": 1, "type": "code_interpreter", "code_interpreter": {
        "outputs": [{"index": 0, "type": "logs", "logs": "12516"}]}})
    s.recorder.step_to(step, "completed")
    s.recorder.run_to(run, run_state.COMPLETED)

    parsed = check_numbered_and_typed(st.stored(rid))
    assert [e.type for e in parsed] == [
        "response.in_progress",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed",
        "response.output_item.done",
        "response.completed"]
    fn_added, fn_done = parsed[1], parsed[4]
    assert fn_added.item.id == fn_done.item.id == "fc_fn" and fn_added.item.arguments == ""
    assert fn_done.item.call_id == "call_fn" and fn_done.item.arguments == '{"city": "Oslo"}'
    assert parsed[2].delta == '{"city": "Oslo"}' and parsed[3].arguments == '{"city": "Oslo"}'
    assert parsed[3].name == "get_weather"
    ci_added, ci_done = parsed[5], parsed[11]
    assert (ci_added.output_index, ci_done.output_index) == (1, 1) and ci_added.item.id == "ci_py"
    assert ci_added.item.code == "" and ci_added.item.status == "in_progress"
    assert parsed[7].delta == "149 * 84" and parsed[8].code == "149 * 84"
    assert ci_done.item.code == "149 * 84" and ci_done.item.outputs[0].logs == "12516"
    final = parsed[-1].response
    assert [i.type for i in final.output] == ["function_call", "code_interpreter_call"]
    assert st.finals == [rid]


def test_other_runs_pass_through_and_nothing_is_stored(st):
    before = st.s.store.table_counts()
    data = {"id": "run_abc", "object": "thread.run", "status": "in_progress"}
    for event in ("thread.run.in_progress", "thread.message.created", "thread.run.completed"):
        st.events.publish("run_abc", event, data)
    assert st.published == [("run_abc", e, data) for e in
                            ("thread.run.in_progress", "thread.message.created", "thread.run.completed")]
    assert st.published[0][2] is data  # untouched, not a copy
    assert st.s.store.table_counts() == before and st.s.store.last_event_seq("run_abc") == -1
    assert st.finals == []


def test_failed_and_incomplete_runs_end_their_streams(st):
    s = st.s
    failed, _ = s.create(input="x")
    run = s.recorder.run_to(s.store.get("runs", failed["id"]), run_state.IN_PROGRESS)
    s.recorder.run_to(run, run_state.FAILED, last_error={"code": "server_error", "message": "boom"})
    assert st.types(failed["id"]) == ["response.in_progress", "response.failed"]
    assert st.stored(failed["id"])[-1]["response"]["error"] == {"code": "server_error", "message": "boom"}
    cut, _ = s.create(input="y")
    answer(st, cut["id"])  # completed; then one that runs out of tokens
    short, _ = s.create(input="z")
    s.finish(short["id"], "Trunc", status=run_state.INCOMPLETE)
    assert st.types(short["id"])[-1] == "response.incomplete"
    check_numbered_and_typed(st.stored(short["id"]))
    assert st.finals == [failed["id"], cut["id"], short["id"]]


def test_numbering_goes_on_from_the_store(st, tmp_path):
    response, _ = st.s.create(input="hi")
    rid = response["id"]
    st.events.emit(rid, "response.created", {"response": response})
    st.events.emit(rid, "response.queued", {"response": response})
    again = ResponseEvents(st.s.store, st.sink, view=st.view)  # a restarted server
    assert again.emit(rid, "response.in_progress", {"response": response})["sequence_number"] == 2
    assert st.s.store.last_event_seq(rid) == 2


def test_a_response_gone_tells_no_status(st):
    st.events.publish("resp_gone", "thread.run.in_progress", {"id": "resp_gone"})
    assert st.s.store.last_event_seq("resp_gone") == -1


def test_prune_drops_events_past_their_retention(tmp_path):
    now = [1_000_000.0]
    st = Stream(tmp_path, clock=lambda: now[0])
    response, _ = st.s.create(input="hi")
    st.events.emit(response["id"], "response.created", {"response": response})
    now[0] += RETENTION_S - 1
    assert st.events.prune() == 0
    now[0] += 2
    assert st.events.prune() == 1 and st.stored(response["id"]) == []


def test_the_run_loop_s_own_events_tell_a_whole_response(st):
    """The real run loop and tool handlers (fake model, fake code runner): a code call, then
    the answer; every event parses and the final response matches the stored one."""
    s = st.s
    model = FakeChatModel(["```python\n149 * 84\n```", "It is 12516."])
    executor = RunExecutor(s.recorder, Models(model), default_tools(s.store, code_runner=FakeCode()),
                           default_max_completion_tokens=256)
    response, _ = s.create(input="What is 149 * 84?",
                           tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])
    executor.execute(response["id"])
    parsed = check_numbered_and_typed(st.stored(response["id"]))
    types = [e.type for e in parsed]
    assert types[0] == "response.in_progress" and types[-1] == "response.completed"
    assert types.count("response.output_item.added") == types.count("response.output_item.done") == 2
    final = parsed[-1].response
    assert [i.type for i in final.output] == ["code_interpreter_call", "message"]
    assert final.output_text == "It is 12516."
    assert st.stored(response["id"])[-1]["response"]["output"] == s.responses.retrieve(response["id"])["output"]
    assert st.finals == [response["id"]]
