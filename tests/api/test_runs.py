"""Runs on the real default model, driven through the official SDK."""

from __future__ import annotations

import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from conftest import QUESTION, wait_for

TUTOR = "You are a personal math tutor. Write and run code to answer math questions."


@pytest.fixture
def tutor(client):
    return client.beta.assistants.create(model="gpt-4o", name="Math Tutor", instructions=TUTOR)


@pytest.fixture
def thread(client):
    t = client.beta.threads.create()
    client.beta.threads.messages.create(t.id, role="user", content=QUESTION)
    return t


class Recorder(AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []
        self.deltas: list[str] = []

    def on_event(self, event) -> None:
        self.names.append(event.event)

    def on_text_delta(self, delta, snapshot) -> None:
        self.deltas.append(delta.value)


def test_stream_events_in_openai_order(client, tutor, thread):
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id,
                                         event_handler=handler, max_completion_tokens=40) as stream:
        stream.until_done()
    names = handler.names
    head = ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
            "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress"]
    assert names[: len(head)] == head
    middle = names[len(head):-3]
    assert middle and set(middle) == {"thread.message.delta"}
    final_status = stream.get_final_run().status
    assert final_status in ("completed", "incomplete")
    tail = ["thread.message.completed" if final_status == "completed" else "thread.message.incomplete",
            "thread.run.step.completed", f"thread.run.{final_status}"]
    assert names[-3:] == tail

    [final] = stream.get_final_messages()
    text = final.content[0].text.value
    assert text and "".join(handler.deltas) == text
    stored = client.beta.threads.messages.retrieve(final.id, thread_id=thread.id)
    assert stored.content[0].text.value == text
    assert stored.run_id == stream.get_final_run().id


def test_create_and_poll_completes_with_usage_and_step(client, tutor, thread):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id,
                                                   instructions="Please address the user as Jane Doe.")
    assert isinstance(run, Run)
    assert run.status in ("completed", "incomplete")
    assert run.instructions == "Please address the user as Jane Doe."
    assert run.model == "gpt-4o"
    assert run.started_at and run.completed_at and run.completed_at >= run.started_at
    assert run.usage.prompt_tokens > 0 and run.usage.completion_tokens > 0
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert isinstance(step, RunStep) and step.type == "message_creation" and step.status == "completed"
    assert step.usage.total_tokens == run.usage.total_tokens
    same = client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id)
    assert same.id == step.id
    messages = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert [m.id for m in messages] == [step.step_details.message_creation.message_id]
    assert messages[0].role == "assistant" and messages[0].assistant_id == tutor.id
    runs = client.beta.threads.runs.list(thread.id).data
    assert [r.id for r in runs] == [run.id]


def test_streaming_and_polling_store_the_same_objects(client, tutor, thread):
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id,
                                         max_completion_tokens=20) as stream:
        stream.until_done()
    streamed = stream.get_final_run()
    polled = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id,
                                                      max_completion_tokens=20)
    a = client.beta.threads.runs.retrieve(streamed.id, thread_id=thread.id).model_dump()
    b = client.beta.threads.runs.retrieve(polled.id, thread_id=thread.id).model_dump()
    assert a.keys() == b.keys()
    ma = client.beta.threads.messages.list(thread.id, run_id=streamed.id).data[0].model_dump()
    mb = client.beta.threads.messages.list(thread.id, run_id=polled.id).data[0].model_dump()
    assert ma.keys() == mb.keys()  # each ends as its own sampled answer did: cut at 20 tokens or not
    assert {ma["status"], mb["status"]} <= {"completed", "incomplete"}


def test_max_completion_tokens_makes_run_and_message_incomplete(client, tutor, thread):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id,
                                                   max_completion_tokens=5)
    assert run.status == "incomplete"
    assert run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage.completion_tokens == 5
    [message] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert message.status == "incomplete" and message.incomplete_details.reason == "max_tokens"


def test_cancel_during_generation(client, tutor, thread):
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=tutor.id,
                                          instructions="Write a very long essay about numbers.",
                                          max_completion_tokens=3000, temperature=1.0)
    wait_for(lambda: client.beta.threads.messages.list(thread.id, run_id=run.id).data)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status in ("cancelling", "cancelled")
    final = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=20)
    assert final.status == "cancelled" and final.cancelled_at
    assert final.usage.completion_tokens < 3000
    [message] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert message.status == "incomplete" and message.incomplete_details.reason == "run_cancelled"
    [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert step.status == "cancelled"
    # Cancelling a finished run is a wrong state: 400, not a crash.
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_cancels_at_random_moments_end_cancelled_or_find_the_run_ended_never_failed(client, tutor):
    """A cancel races the worker: it may land while the run is queued, decoding, or just
    finishing. Each run ends ``cancelled`` when the cancel was answered ``cancelling``, or
    was already over (400); none fails."""
    import random
    import time

    def start():
        t = client.beta.threads.create(messages=[{"role": "user", "content": "Count from one to twenty."}])
        return client.beta.threads.runs.create(thread_id=t.id, assistant_id=tutor.id, max_completion_tokens=12)

    for _ in range(2):  # the first run loads the model: time the second
        began = time.monotonic()
        run = start()
        client.beta.threads.runs.poll(run.id, thread_id=run.thread_id, poll_interval_ms=5)
        whole = time.monotonic() - began
    rng = random.Random(7)
    outcomes = []
    for _ in range(24):
        run = start()
        time.sleep(rng.uniform(0, 1.3 * whole))
        try:
            answered = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id).status
        except openai.BadRequestError:
            answered = "refused"
        final = client.beta.threads.runs.poll(run.id, thread_id=run.thread_id, poll_interval_ms=5)
        outcomes.append((answered, final.status))
        assert final.status != "failed", (answered, final.last_error)
        if answered in ("cancelling", "cancelled"):
            assert final.status == "cancelled", outcomes
        else:
            assert answered == "refused" or answered == final.status, outcomes
            assert final.status in ("completed", "incomplete"), outcomes
    assert any(a == "cancelling" for a, _ in outcomes), outcomes  # some landed mid-run


def test_thread_is_locked_while_a_run_is_active(client, tutor, thread):
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=tutor.id,
                                          max_completion_tokens=400)
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.messages.create(thread.id, role="user", content="one more thing")
    assert err.value.status_code == 400 and run.id in err.value.message
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=tutor.id)
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=20)
    # Unlocked once the run has settled.
    client.beta.threads.messages.create(thread.id, role="user", content="one more thing")


def test_create_thread_and_run_streams_thread_created_first(client, tutor):
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=tutor.id, thread={"messages": [{"role": "user", "content": "What is 2 + 2?"}]},
        max_completion_tokens=20, event_handler=handler,
    ) as stream:
        stream.until_done()
    assert handler.names[:3] == ["thread.created", "thread.run.created", "thread.run.queued"]
    run = stream.get_final_run()
    assert run.status in ("completed", "incomplete")
    polled = client.beta.threads.create_and_run_poll(
        assistant_id=tutor.id, thread={"messages": [{"role": "user", "content": "Hi"}]}, max_completion_tokens=10)
    assert polled.status in ("completed", "incomplete") and polled.thread_id != run.thread_id


def test_run_options_are_kept_on_the_run(client, tutor, thread):
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=tutor.id, model="smollm2-135m-instruct", temperature=0.1, top_p=0.9,
        additional_instructions="Be brief.", metadata={"k": "v"}, max_prompt_tokens=1000,
        max_completion_tokens=30, truncation_strategy={"type": "last_messages", "last_messages": 4},
        additional_messages=[{"role": "user", "content": "Please answer in one sentence."}],
    )
    assert run.model == "smollm2-135m-instruct"
    assert run.instructions == TUTOR + "\n\nBe brief."
    assert run.temperature == 0.1 and run.top_p == 0.9 and run.metadata == {"k": "v"}
    assert run.truncation_strategy.type == "last_messages" and run.truncation_strategy.last_messages == 4
    assert run.usage.prompt_tokens <= 1000
    contents = [m.content[0].text.value for m in client.beta.threads.messages.list(thread.id, order="asc").data]
    assert contents[:2] == [QUESTION, "Please answer in one sentence."]
    modified = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"k": "w"})
    assert modified.metadata == {"k": "w"}


@pytest.mark.parametrize("body, param", [
    ({"temperature": 3}, "temperature"),
    ({"max_prompt_tokens": 10}, "max_prompt_tokens"),
    ({"truncation_strategy": {"type": "last_messages"}}, "truncation_strategy.last_messages"),
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
    ({"additional_messages": [{"role": "system", "content": "x"}]}, "additional_messages[0].role"),
])
def test_bad_run_requests_are_refused_before_anything_is_written(client, tutor, thread, body, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=tutor.id, **body)
    assert err.value.param == param
    assert client.beta.threads.runs.list(thread.id).data == []
    assert len(client.beta.threads.messages.list(thread.id).data) == 1


def test_unknown_ids(client, tutor, thread):
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id="thread_missing", assistant_id=tutor.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.steps.list("run_missing", thread_id=thread.id)


def test_a_model_that_cannot_load_fails_the_run_with_a_clear_error(client, thread):
    broken = client.beta.assistants.create(model="nonexistent-model.gguf", name="broken")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=broken.id)
    assert run.status == "failed" and run.failed_at
    assert run.last_error.code == "server_error" and "model.gguf" in run.last_error.message
    # The server is still serving, and the thread is usable again.
    client.beta.threads.messages.create(thread.id, role="user", content="still there?")


def test_stream_of_a_failing_run_ends_with_run_failed(client, thread):
    broken = client.beta.assistants.create(model="nonexistent-model.gguf")
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=broken.id,
                                         event_handler=handler) as stream:
        stream.until_done()
    assert handler.names[-1] == "thread.run.failed"
    assert stream.get_final_run().last_error.code == "server_error"


def test_objects_validate_against_sdk_types(client, tutor, thread):
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id,
                                                   max_completion_tokens=8)
    # Strict validation is on in the client: reaching here means every object parsed.
    for m in client.beta.threads.messages.list(thread.id).data:
        assert isinstance(m, Message)
    assert isinstance(client.beta.threads.runs.retrieve(run.id, thread_id=thread.id), Run)
