"""Function calling on the real default model: grammar-constrained calls, requires_action,
submit_tool_outputs (plain and streaming SDK helpers), response_format."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from openai import AssistantEventHandler

from conftest import make_settings, sdk_client, wait_for
from local_assistants import LocalAssistants

FORECAST = {
    "type": "function",
    "function": {
        "name": "get_forecast",
        "description": "Weather forecast for a city, some days ahead.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
QUESTIONS = [
    "Will it rain in Paris this week?", "Forecast for Tokyo in fahrenheit, 3 days please.",
    "How warm will Oslo be tomorrow?", "I am going to Lima for 5 days, what weather should I expect?",
    "Weather in Cairo?",
]


@pytest.fixture
def helper(shared_client):
    return shared_client.beta.assistants.create(model="gpt-4o", instructions="You are a helpful assistant.",
                                                tools=[FORECAST, CLOCK])


def _thread(client, text):
    return client.beta.threads.create(messages=[{"role": "user", "content": text}])


def test_forced_calls_are_always_valid_against_the_schema(shared_client, helper):
    schema = FORECAST["function"]["parameters"]
    for i in range(20):
        thread = _thread(shared_client, QUESTIONS[i % len(QUESTIONS)])
        run = shared_client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=helper.id, temperature=1.0,
            tool_choice={"type": "function", "function": {"name": "get_forecast"}})
        assert run.status == "requires_action", run.last_error
        calls = run.required_action.submit_tool_outputs.tool_calls
        assert calls and all(c.function.name == "get_forecast" and c.type == "function" for c in calls)
        for c in calls:
            assert c.id.startswith("call_")
            jsonschema.validate(json.loads(c.function.arguments), schema)
        [step] = shared_client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        assert step.type == "tool_calls" and step.status == "in_progress"
        assert [c.id for c in step.step_details.tool_calls] == [c.id for c in calls]
        assert run.expires_at and run.expires_at > run.created_at
        shared_client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_parallel_calls_then_submit_and_poll_completes(shared_client, helper):
    thread = _thread(shared_client, "What's the forecast in Paris for 2 days and the time in Tokyo?")
    run = shared_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=helper.id,
                                                          tool_choice="required", temperature=0.0)
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert {c.function.name for c in calls} == {"get_forecast", "get_time"}
    outputs = [{"tool_call_id": c.id, "output": json.dumps({"from": c.function.name, "value": 21})} for c in calls]
    done = shared_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=outputs)
    assert done.status == "completed", done.last_error
    assert done.required_action is None
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    steps = shared_client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    assert all(s.status == "completed" for s in steps)
    filled = {c.id: c.function.output for c in steps[0].step_details.tool_calls}
    assert filled == {o["tool_call_id"]: o["output"] for o in outputs}
    assert done.usage.total_tokens == sum(s.usage.total_tokens for s in steps)


class Recorder(AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []
        self.arguments: dict[int, str] = {}

    def on_event(self, event) -> None:
        self.names.append(event.event)

    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "function" and delta.function.arguments:
            self.arguments[delta.index] = self.arguments.get(delta.index, "") + delta.function.arguments


def test_streamed_calls_and_submit_tool_outputs_stream(shared_client, helper):
    thread = _thread(shared_client, "What's the forecast in Paris for 2 days and the time in Tokyo?")
    first = Recorder()
    with shared_client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=helper.id, tool_choice="required",
                                                temperature=0.0, event_handler=first) as stream:
        stream.until_done()
    head = ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
            "thread.run.step.in_progress"]
    assert first.names[: len(head)] == head
    assert set(first.names[len(head):-1]) == {"thread.run.step.delta"}
    assert first.names[-1] == "thread.run.requires_action"
    run = stream.get_final_run()
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert len(calls) == 2
    # The SDK merged the deltas into the same ids, names and arguments (nothing doubled).
    assert [first.arguments[i] for i in range(len(calls))] == [c.function.arguments for c in calls]
    snapshot_calls = stream.current_run_step_snapshot.step_details.tool_calls
    assert [(c.id, c.function.name) for c in snapshot_calls] == [(c.id, c.function.name) for c in calls]

    second = Recorder()
    outputs = [{"tool_call_id": c.id, "output": "sunny, 21 degrees" if c.function.name == "get_forecast"
                else "21:05"} for c in calls]
    with shared_client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=outputs, event_handler=second) as stream2:
        stream2.until_done()
    assert second.names[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert second.names[-1] in ("thread.run.completed", "thread.run.incomplete")
    assert "thread.message.created" in second.names
    assert stream2.get_final_run().status in ("completed", "incomplete")


def test_tool_choice_none_and_single_call_without_parallel(shared_client, helper):
    thread = _thread(shared_client, "Forecast for Rome, 2 days, in celsius?")
    run = shared_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=helper.id,
                                                          tool_choice="none", max_completion_tokens=30)
    assert run.status in ("completed", "incomplete") and run.required_action is None
    thread = _thread(shared_client, "What's the forecast in Paris for 2 days and the time in Tokyo?")
    run = shared_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=helper.id,
                                                          tool_choice="required", parallel_tool_calls=False,
                                                          temperature=0.0)
    assert run.status == "requires_action"
    assert len(run.required_action.submit_tool_outputs.tool_calls) == 1
    assert run.parallel_tool_calls is False
    shared_client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    final = shared_client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert final.status == "cancelled"
    assert shared_client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0].status == "cancelled"


def test_submit_tool_outputs_errors(shared_client, helper):
    thread = _thread(shared_client, "Forecast for Paris, 3 days?")
    run = shared_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=helper.id, tool_choice={"type": "function", "function": {"name": "get_forecast"}},
        parallel_tool_calls=False)
    [call] = run.required_action.submit_tool_outputs.tool_calls
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[
            {"tool_call_id": "call_unknown", "output": "x"}])
    assert err.value.param == "tool_outputs[0].tool_call_id"
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[])
    assert err.value.param == "tool_outputs"
    with pytest.raises(openai.BadRequestError):
        shared_client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[
            {"tool_call_id": call.id, "output": "a"}, {"tool_call_id": call.id, "output": "b"}])
    # Nothing was changed by the refused requests.
    assert shared_client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    done = shared_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}])
    assert done.status in ("completed", "incomplete")
    with pytest.raises(openai.BadRequestError):  # the run no longer waits for outputs
        shared_client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[
            {"tool_call_id": call.id, "output": "again"}])
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.threads.runs.submit_tool_outputs(run_id="run_missing", thread_id=thread.id,
                                                           tool_outputs=[])


PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "languages": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "languages"], "additionalProperties": False}


def test_json_schema_response_format_always_validates(shared_client):
    assistant = shared_client.beta.assistants.create(
        model="gpt-4o", instructions="You extract facts about people.",
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}})
    people = ["Ada, 36, speaks English and French.", "Linus is 54 and codes in C.", "Grace (85) knew COBOL.",
              "Alan was 41 and spoke English.", "Marie, aged 66, Polish and French."]
    for i in range(20):
        thread = _thread(shared_client, people[i % len(people)])
        run = shared_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                              temperature=1.0, max_completion_tokens=200)
        [message] = shared_client.beta.threads.messages.list(thread.id, run_id=run.id).data
        # A loop cut by the token limit leaves the run incomplete, with the JSON closed at its
        # last complete value: the message still parses and validates.
        assert run.status == "completed" or (run.incomplete_details.reason == "max_completion_tokens"
                                             and message.incomplete_details.reason == "max_tokens")
        jsonschema.validate(json.loads(message.content[0].text.value), PERSON)


def test_json_object_response_format(shared_client):
    assistant = shared_client.beta.assistants.create(model="gpt-4o", instructions="Reply in JSON.",
                                                     response_format={"type": "json_object"})
    thread = _thread(shared_client, "Give me a JSON object describing a cat.")
    for limit in (20, 300):  # 20 tokens surely cuts the object short: it is closed, still JSON
        run = shared_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                              max_completion_tokens=limit)
        assert run.status in ("completed", "incomplete")
        [message] = shared_client.beta.threads.messages.list(thread.id, run_id=run.id).data
        assert isinstance(json.loads(message.content[0].text.value), dict)
    assert shared_client.beta.threads.runs.list(thread.id).data[-1].status == "incomplete"


def test_requires_action_expires(tmp_path):
    with LocalAssistants(make_settings(tmp_path, requires_action_expiry_s=1)) as la:
        client = sdk_client(la.base_url)
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[FORECAST])
        thread = _thread(client, "Forecast for Paris?")
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                       tool_choice="required")
        assert run.status == "requires_action"
        expired = wait_for(lambda: (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status
                           == "expired" and r, timeout=10)
        assert expired.expires_at is None
        assert client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0].status == "expired"
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[])
        client.close()
