"""The Responses and Conversations APIs through the official SDK, against the real server
and the real SmolLM2 (mechanics; answers' content is not judged here)."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from conftest import say, wait_for

EVENT = TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
           "strict": True}


def call_text(name: str, arguments: dict) -> str:
    """A function call as the test model writes one (the generic protocol)."""
    from local_assistants.core.toolcalls import ParsedCall
    from local_assistants.core.toolcalls import call_text as written

    return written(ParsedCall("function", name, json.dumps(arguments)))


def parse_events(events) -> list:
    """Every event of a stream, each parsed as the SDK's ``ResponseStreamEvent`` union."""
    out = []
    for event in events:
        data = event.model_dump() if hasattr(event, "model_dump") else event
        out.append(EVENT.validate_python(data))
    return out


def check_order(events) -> None:
    """Sequence numbers count up from 0; created first, one final event last; every item
    added is done, every text part opened is closed, in that order."""
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    assert events[-1].type in ("response.completed", "response.incomplete", "response.failed")
    open_items: set[int] = set()
    for e in events:
        if e.type == "response.output_item.added":
            open_items.add(e.output_index)
        elif e.type == "response.output_item.done":
            assert e.output_index in open_items
            open_items.discard(e.output_index)
        elif e.type in ("response.output_text.delta", "response.content_part.added"):
            assert e.output_index in open_items
    assert not open_items


def test_a_plain_response_and_its_retrieval(shared_client):
    r = shared_client.responses.create(model="gpt-4o", input="Say hello.", max_output_tokens=24,
                                       metadata={"k": "v"}, user="u1", safety_identifier="s1")
    assert r.status in ("completed", "incomplete") and r.object == "response"
    assert r.output[0].type == "message" and r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    again = shared_client.responses.retrieve(r.id)
    assert again.output_text == r.output_text and again.metadata == {"k": "v"} and again.user == "u1"
    items = shared_client.responses.input_items.list(r.id)
    assert [i.type for i in items.data] == ["message"] and items.data[0].content[0].text == "Say hello."


def test_streaming_events_parse_and_match_the_final_response(shared_client):
    with shared_client.responses.stream(model="gpt-4o", input="Count to three.", max_output_tokens=20) as stream:
        events = parse_events(list(stream))
        final = stream.get_final_response()
    check_order(events)
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in types and "response.output_text.done" in types
    stored = shared_client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text
    assert [(o.id, o.type, o.status) for o in stored.output] == [(o.id, o.type, o.status) for o in final.output]
    assert stored.status == final.status and stored.usage == final.usage


def test_a_follow_up_through_previous_response_id_sees_the_first_turn(shared_client):
    first = shared_client.responses.create(model="gpt-4o", input="My name is Ada.", max_output_tokens=16)
    second = shared_client.responses.create(model="gpt-4o", input="What is my name?", max_output_tokens=16,
                                            previous_response_id=first.id)
    assert second.previous_response_id == first.id
    # a branch from the same first response does not see the second
    branch = shared_client.responses.create(model="gpt-4o", input="And again?", max_output_tokens=16,
                                            previous_response_id=first.id)
    assert branch.status in ("completed", "incomplete")
    assert second.usage.input_tokens > first.usage.input_tokens


def test_bad_input_gets_openai_errors(shared_client):
    with pytest.raises(openai.NotFoundError):
        shared_client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_nope")
    conv = shared_client.conversations.create()
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_nope",
                                       conversation=conv.id)
    assert err.value.code == "mutually_exclusive_parameters"
    with pytest.raises(openai.BadRequestError):
        shared_client.responses.create(model="gpt-4o", input="x", store=False, background=True)
    with pytest.raises(openai.NotFoundError):
        shared_client.responses.create(model="gpt-4o", input=[
            {"type": "function_call_output", "call_id": "call_unknown", "output": "1"}])
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.responses.create(model="gpt-4o", input="word " * 400_000, truncation="disabled")
    assert err.value.code == "context_length_exceeded"
    with pytest.raises(openai.NotFoundError):
        shared_client.responses.retrieve("resp_missing")


def test_store_false_leaves_no_row(shared_server, shared_client):
    store = shared_server.runtime.store
    before = store.table_counts()
    r = shared_client.responses.create(model="gpt-4o", input="Hi.", store=False, max_output_tokens=16)
    assert r.status in ("completed", "incomplete") and r.store is False
    assert store.table_counts() == before
    with pytest.raises(openai.NotFoundError):
        shared_client.responses.retrieve(r.id)


def test_function_calling_round_trip_through_previous_response_id(scripted_server, scripted_client):
    say(scripted_server, call_text("get_weather", {"city": "Paris"}), "It is sunny in Paris.")
    first = scripted_client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=[WEATHER],
                                             tool_choice="required")
    calls = [o for o in first.output if o.type == "function_call"]
    assert first.status == "completed" and calls and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    second = scripted_client.responses.create(
        model="gpt-4o", previous_response_id=first.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"sky": "sunny"}'}])
    assert second.output_text
    items = scripted_client.responses.input_items.list(second.id, order="asc")
    assert [i.type for i in items.data] == ["function_call_output"]


def test_function_calling_round_trip_through_a_conversation(scripted_server, scripted_client):
    conv = scripted_client.conversations.create(metadata={"topic": "weather"})
    say(scripted_server, call_text("get_weather", {"city": "Oslo"}), "Cold in Oslo.")
    first = scripted_client.responses.create(model="gpt-4o", input="Weather in Oslo?", tools=[WEATHER],
                                             conversation=conv.id, tool_choice="required")
    call = next(o for o in first.output if o.type == "function_call")
    second = scripted_client.responses.create(
        model="gpt-4o", conversation={"id": conv.id}, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "-5C"}])
    assert second.conversation.id == conv.id
    items = scripted_client.conversations.items.list(conv.id, order="asc")
    assert [i.type for i in items.data] == ["message", "function_call", "function_call_output", "message"]
    assert items.data[-1].content[0].text == second.output_text


def test_a_thread_is_a_conversation_both_ways(shared_client):
    thread = shared_client.beta.threads.create(messages=[{"role": "user", "content": "Remember 42."}])
    r = shared_client.responses.create(model="gpt-4o", input="What number?", conversation=thread.id,
                                       max_output_tokens=16)
    messages = shared_client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.role for m in messages.data] == ["user", "user", "assistant"]
    assert messages.data[-1].id == r.output[0].id
    conv = shared_client.conversations.create(items=[{"role": "user", "content": "Hello there."}])
    assistant = shared_client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    run = shared_client.beta.threads.runs.create_and_poll(thread_id=conv.id, assistant_id=assistant.id,
                                                          max_completion_tokens=12)
    assert run.status in ("completed", "incomplete")
    items = shared_client.conversations.items.list(conv.id, order="asc")
    assert [i.type for i in items.data] == ["message", "message"]
    assert items.data[1].role == "assistant"


def test_conversations_crud_and_items(shared_client):
    conv = shared_client.conversations.create(items=[{"type": "message", "role": "user", "content": "a"}],
                                              metadata={"x": "1"})
    assert shared_client.conversations.retrieve(conv.id).metadata == {"x": "1"}
    assert shared_client.conversations.update(conv.id, metadata={"x": "2"}).metadata == {"x": "2"}
    added = shared_client.conversations.items.create(conv.id, items=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "b"}]},
        {"type": "message", "role": "assistant", "content": "c"}])
    assert len(added.data) == 2
    page = shared_client.conversations.items.list(conv.id, limit=2, order="asc")
    assert page.has_more and [i.content[0].text for i in page.data] == ["a", "b"]
    item = shared_client.conversations.items.retrieve(page.data[1].id, conversation_id=conv.id)
    assert item.id == page.data[1].id
    shared_client.conversations.items.delete(item.id, conversation_id=conv.id)
    assert [i.content[0].text for i in shared_client.conversations.items.list(conv.id, order="asc").data] == \
        ["a", "c"]
    assert shared_client.conversations.delete(conv.id).deleted
    with pytest.raises(openai.NotFoundError):
        shared_client.conversations.retrieve(conv.id)


def test_background_poll_cancel_and_resume(shared_client):
    r = shared_client.responses.create(model="gpt-4o", input="Tell a long story.", background=True,
                                       max_output_tokens=200)
    assert r.status in ("queued", "in_progress") and r.background
    done = wait_for(lambda: (x := shared_client.responses.retrieve(r.id)).status in (
        "completed", "incomplete") and x, timeout=120)
    # the whole stream again, then from the middle
    events = parse_events(list(shared_client.responses.retrieve(r.id, stream=True, starting_after=-1)))
    check_order(events)
    assert events[1].type == "response.queued"
    tail = parse_events(list(shared_client.responses.retrieve(r.id, stream=True, starting_after=5)))
    assert [e.sequence_number for e in tail] == list(range(6, len(events)))
    assert done.output_text
    slow = shared_client.responses.create(model="gpt-4o", input="Tell a very long story.", background=True,
                                          max_output_tokens=2000)
    wait_for(lambda: shared_client.responses.retrieve(slow.id).status == "in_progress", timeout=60)
    shared_client.responses.cancel(slow.id)
    assert wait_for(lambda: shared_client.responses.retrieve(slow.id).status == "cancelled", timeout=60)


def test_json_schema_text_format_and_parse(shared_client):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    parsed = shared_client.responses.parse(model="gpt-4o", input="A city in France.", text_format=City,
                                           max_output_tokens=60)
    assert isinstance(parsed.output_parsed, City)


def test_input_tokens_and_delete(shared_client):
    count = shared_client.responses.input_tokens.count(model="gpt-4o", input="Hello there, how are you?")
    assert count.input_tokens > 5
    r = shared_client.responses.create(model="gpt-4o", input="Hi.", max_output_tokens=16)
    shared_client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        shared_client.responses.retrieve(r.id)


def test_logprobs_are_included_when_asked(shared_client):
    r = shared_client.responses.create(model="gpt-4o", input="Name a colour.", temperature=0, max_output_tokens=16,
                                       include=["message.output_text.logprobs"], top_logprobs=2)
    part = r.output[0].content[0]
    assert part.logprobs and all(len(lp.top_logprobs) == 2 and lp.logprob <= 0 for lp in part.logprobs)
    assert "".join(lp.token for lp in part.logprobs).strip() == part.text.strip()
    assert r.usage.output_tokens == len(part.logprobs)
    plain = shared_client.responses.retrieve(r.id)
    assert plain.output[0].content[0].logprobs == []  # only when included


def test_json_object_format_and_sampling_settings(shared_client):
    r = shared_client.responses.create(model="gpt-4o", input="A JSON object about a cat.", max_output_tokens=60,
                                       text={"format": {"type": "json_object"}}, temperature=0.2, top_p=0.9)
    json.loads(r.output_text)
    assert r.text.format.type == "json_object" and r.temperature == 0.2 and r.top_p == 0.9


def test_max_tool_calls_makes_the_model_answer(scripted_server, scripted_client):
    say(scripted_server, call_text("get_weather", {"city": "Rome"}))
    first = scripted_client.responses.create(model="gpt-4o", input="Weather in Rome?", tools=[WEATHER],
                                             max_tool_calls=1, parallel_tool_calls=False)
    assert first.max_tool_calls == 1 and first.parallel_tool_calls is False
    assert [o.type for o in first.output] == ["function_call"]


def test_a_follow_up_reuses_the_cached_prompt(shared_client):
    first = shared_client.responses.create(model="gpt-4o", input="Tell me about owls.", max_output_tokens=16,
                                           temperature=0)
    second = shared_client.responses.create(model="gpt-4o", input="And about cats?", max_output_tokens=16,
                                            previous_response_id=first.id, temperature=0)
    assert second.usage.input_tokens_details.cached_tokens > 0
