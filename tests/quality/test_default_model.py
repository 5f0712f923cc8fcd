"""Answer quality on the default model (the real GGUF, fixed seed), through the official
SDK and the real server: what a new user of the Math Tutor quickstart, function calling,
file search, structured output and a follow-up turn would check first.

These tests are about answers, not mechanics (those run on the small test model); they
load the default model once per module.
"""

from __future__ import annotations

import json
import re
import warnings

import jsonschema
import pytest
from openai import AssistantEventHandler
from typing_extensions import override

from local_assistants import LocalAssistants
from local_assistants.catalog import DEFAULT_MODEL
from tests.conftest import make_settings, sdk_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

X_IS_1 = re.compile(r"x\s*(=|is|equals)\s*\\?\(?\s*1(\.0+)?(?![\d.]*\d)")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("quality"), default_model=DEFAULT_MODEL)
    with LocalAssistants(settings) as la:
        c = sdk_client(la.base_url, timeout=600)
        yield c
        c.close()


def answer_of(client, thread_id: str, run_id: str) -> tuple[str, list]:
    message = client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id).data[0]
    text = next(p.text for p in message.content if p.type == "text")
    return text.value, text.annotations


def code_calls(client, thread_id: str, run_id: str) -> list:
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc").data
    return [c for s in steps if s.type == "tool_calls" for c in s.step_details.tool_calls
            if c.type == "code_interpreter"]


def test_quickstart_verbatim_solves_the_equation(client):
    """OpenAI's Assistants quickstart, unchanged but for the client."""
    printed: list[str] = []
    assistant = client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o",
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="I need to solve the equation `3x + 11 = 14`. Can you help me?")

    class EventHandler(AssistantEventHandler):
        @override
        def on_text_delta(self, delta, snapshot):
            printed.append(delta.value)

        def on_tool_call_delta(self, delta, snapshot):
            if delta.type == "code_interpreter" and delta.code_interpreter.outputs:
                printed.extend(o.logs for o in delta.code_interpreter.outputs if o.type == "logs")

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
        event_handler=EventHandler(),
    ) as stream:
        stream.until_done()
    streamed = stream.get_final_run()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.")
    assert streamed.status == "completed" and run.status == "completed", (streamed.last_error, run.last_error)

    calls = code_calls(client, thread.id, streamed.id) + code_calls(client, thread.id, run.id)
    logs = [o.logs for c in calls for o in c.code_interpreter.outputs if o.type == "logs"]
    assert any(re.search(r"(?<![\d.])1(\.0+)?(?![\d.]*\d)", text) for text in logs), (
        [c.code_interpreter.input for c in calls], logs)
    answer, _ = answer_of(client, thread.id, streamed.id)
    assert X_IS_1.search(answer), answer
    assert "".join(printed).strip(), "the event handler saw no text"


WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"]},
}


def test_forced_function_call_then_the_answer_uses_the_output(client):
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a helpful assistant.",
                                              tools=[{"type": "function", "function": WEATHER}])
    thread = client.beta.threads.create(messages=[{"role": "user",
                                                   "content": "What is the weather like in Paris today, in celsius?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    args = json.loads(calls[0].function.arguments)
    jsonschema.validate(args, WEATHER["parameters"])
    assert "paris" in args["city"].lower()
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "17 degrees celsius, light rain"} for c in calls])
    assert run.status == "completed", run.last_error
    answer, _ = answer_of(client, thread.id, run.id)
    assert "17" in answer and "rain" in answer.lower(), answer


HANDBOOK = """Northwind Research Campus: handbook for new staff

Arrival. Visitors sign in at the front desk of building A and wear their badge at all times. Parking is free
in the east lot; the west lot is reserved for delivery vans on weekdays before noon.

Buildings. Building A holds the offices and the library, which opens at 8:30 and closes at 19:00. Building B
holds the cafeteria (lunch from 11:45 to 14:00) and two meeting rooms that are booked through the intranet.
Building C holds the laboratories.

Laboratories. The Zephyr laboratory studies wind tunnels for small drones. Its door code is 4417, changed every
spring by the facilities team. The Boreas laboratory next to it builds weather sensors; ask its manager,
Ines Carvalho, for access. Safety glasses are required in both.

Equipment. Laptops are lent by the IT desk for up to two weeks. Broken equipment is reported on the intranet;
the IT desk answers within one working day.

Holidays. Staff have 27 days of paid leave a year, booked at least two weeks in advance.
"""


def test_file_search_answers_a_planted_fact_with_a_citation(client, tmp_path):
    doc = tmp_path / "lab-handbook.txt"
    doc.write_text(HANDBOOK)
    store = client.vector_stores.create(name="handbook")
    with open(doc, "rb") as f:
        vs_file = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=f)
    assert vs_file.status == "completed"
    assistant = client.beta.assistants.create(
        model="gpt-4o", instructions="You answer questions about the user's documents.",
        tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store.id]}})
    thread = client.beta.threads.create(messages=[{"role": "user",
                                                   "content": "What is the door code of the Zephyr laboratory?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    answer, annotations = answer_of(client, thread.id, run.id)
    assert "4417" in answer, answer
    cited = [a.file_citation.file_id for a in annotations if a.type == "file_citation"]
    assert vs_file.id in cited, (answer, annotations)


def test_json_schema_answer_validates(client):
    schema = {"type": "object", "properties": {
        "equation": {"type": "string"}, "x": {"type": "number"}, "steps": {"type": "array", "items": {"type": "string"}}},
        "required": ["equation", "x", "steps"], "additionalProperties": False}
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a math tutor.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 2x + 3 = 11."}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id,
        response_format={"type": "json_schema", "json_schema": {"name": "solution", "schema": schema}})
    assert run.status == "completed", run.last_error
    answer, _ = answer_of(client, thread.id, run.id)
    data = json.loads(answer)
    jsonschema.validate(data, schema)
    assert data["x"] == 4, data


def test_follow_up_turn_uses_what_the_first_turn_computed(client):
    assistant = client.beta.assistants.create(
        model="gpt-4o", instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 437 * 289?"}])
    # Greedy: whether the model carries a result over is asked of its most likely answer. At its
    # recommended temperature (0.7) a follow-up that sets none is right on about half the seeds
    # (3 of seeds 0-5 measured 2026-11-30), which says more about the draw than the model.
    first = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                     tool_choice={"type": "code_interpreter"}, temperature=0.0)
    assert first.status == "completed", first.last_error
    answer, _ = answer_of(client, thread.id, first.id)
    assert "126293" in answer.replace(",", ""), answer
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Now add 7 to that result.")
    second = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                      temperature=0.0)
    assert second.status == "completed", second.last_error
    answer, _ = answer_of(client, thread.id, second.id)
    assert "126300" in answer.replace(",", ""), answer
