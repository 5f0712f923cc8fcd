"""Several runs at once on one server: one run's tool work does not hold up another
thread's answer (runs execute on threads of their own), and the model decodes their turns
together, each answering as it does alone."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import make_settings, say, sdk_client, wait_for
from local_assistants import LocalAssistants
from local_assistants.adapters.kv_states import common_prefix

SLEEP_S = 20


def test_a_run_whose_code_sleeps_does_not_hold_up_another_threads_answer(scripted_server, scripted_client):
    client = scripted_client
    coder = client.beta.assistants.create(model="gpt-4o", instructions="Run code.", tools=[{"type": "code_interpreter"}])
    plain = client.beta.assistants.create(model="gpt-4o", instructions="You are brief.")
    say(scripted_server, f"```python\nimport time\ntime.sleep({SLEEP_S})\nprint('awake')\n```")
    slow_thread = client.beta.threads.create(messages=[{"role": "user", "content": "Wait a while."}])
    slow = client.beta.threads.runs.create(thread_id=slow_thread.id, assistant_id=coder.id)

    def code_step():
        steps = client.beta.threads.runs.steps.list(slow.id, thread_id=slow_thread.id).data
        return [s for s in steps if s.type == "tool_calls" and s.status == "in_progress"]

    wait_for(code_step, timeout=60)  # its code is being carried out: the kernel starts, then sleeps
    began = time.monotonic()
    first_text = None
    fast_thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
    with client.beta.threads.runs.stream(thread_id=fast_thread.id, assistant_id=plain.id,
                                         max_completion_tokens=16) as stream:
        for event in stream:
            if event.event == "thread.message.delta" and first_text is None:
                first_text = time.monotonic() - began
    fast = stream.get_final_run()
    took = time.monotonic() - began
    assert fast.status in ("completed", "incomplete") and first_text is not None
    still = client.beta.threads.runs.retrieve(slow.id, thread_id=slow_thread.id)
    assert still.status == "in_progress", still.status  # the other answer came while its code slept
    assert took < SLEEP_S / 2, (first_text, took)

    client.beta.threads.runs.cancel(slow.id, thread_id=slow_thread.id)  # interrupts the sleeping kernel
    ended = client.beta.threads.runs.poll(slow.id, thread_id=slow_thread.id, poll_interval_ms=50)
    assert ended.status == "cancelled"


def test_two_runs_run_code_at_once_each_in_its_own_kernel(scripted_server, scripted_client):
    client = scripted_client
    coder = client.beta.assistants.create(model="gpt-4o", instructions="Run code.", tools=[{"type": "code_interpreter"}])
    say(scripted_server, *[f"```python\nimport os, time\ntime.sleep(2)\nprint('{tag}', os.getcwd())\n```"
                           for tag in ("first", "second")], "Done.", "Done.")
    threads = [client.beta.threads.create(messages=[{"role": "user", "content": "Run it."}]) for _ in range(2)]
    runs = [client.beta.threads.runs.create(thread_id=t.id, assistant_id=coder.id, max_completion_tokens=64)
            for t in threads]
    ended = [client.beta.threads.runs.poll(r.id, thread_id=r.thread_id, poll_interval_ms=50) for r in runs]
    assert [r.status for r in ended] == ["completed", "completed"], [r.last_error for r in ended]
    seen = []
    for run in ended:
        step = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc").data[0]
        (call,) = step.step_details.tool_calls
        tag = "first" if "'first'" in call.code_interpreter.input else "second"
        (logs,) = [o.logs for o in call.code_interpreter.outputs if o.type == "logs"]
        assert logs.split()[0] == tag  # each run's output is its own code's
        seen.append(tag)
    assert sorted(seen) == ["first", "second"]


COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown",
           "grey", "gold", "silver", "violet", "indigo", "teal", "navy", "olive", "maroon", "cyan"]
RUN_ORDER = ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
             "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress"]


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """A server running 8 runs at once: their turns share the model's decode steps."""
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("batched"), max_concurrent_runs=8)) as la:
        client = sdk_client(la.base_url)
        yield la, client
        client.close()


def _streamed(client, assistant_id, colour):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"Write two sentences about the colour {colour}."}])
    names, text = [], []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id, temperature=0.0,
                                         max_completion_tokens=32) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta":
                text.append(event.data.delta.content[0].text.value)
    run = stream.get_final_run()
    return names, "".join(text), run


def _valid_order(names, status):
    middle = names[len(RUN_ORDER):-3]
    message_end = "thread.message.completed" if status == "completed" else "thread.message.incomplete"
    return (names[:len(RUN_ORDER)] == RUN_ORDER and middle and set(middle) == {"thread.message.delta"}
            and names[-3:] == [message_end, "thread.run.step.completed", f"thread.run.{status}"])


def test_twenty_runs_streamed_at_once_answer_as_they_do_alone(batched):
    """Each stream valid; each greedy answer the one the same run gives alone (llama.cpp's
    numerics may depend on the batch's make-up: the count of differences is reported)."""
    la, client = batched
    assistant = client.beta.assistants.create(model="smollm2-135m-instruct", instructions="You are brief.")
    alone = [_streamed(client, assistant.id, c) for c in COLOURS]
    la.runtime.model_pool.get("smollm2-135m-instruct").forget_cached()
    together = [None] * len(COLOURS)
    with ThreadPoolExecutor(len(COLOURS)) as pool:
        for i, result in enumerate(pool.map(lambda c: _streamed(client, assistant.id, c), COLOURS)):
            together[i] = result
    for names, text, run in together:
        assert run.status in ("completed", "incomplete") and text, run.last_error
        assert _valid_order(names, run.status), names
    # Greedy decoding parts where two tokens are nearly tied, and llama.cpp's sums depend
    # on the batch's make-up and threads: an answer may part from its alone twin (even at
    # its first token) and still be about its own colour (no sequence reads another's).
    differ = [(c, a[1], b[1]) for c, a, b in zip(COLOURS, alone, together) if a[1] != b[1]]
    shared = [common_prefix(a, b) for _, a, b in differ]
    print(f"\n{len(COLOURS) - len(differ)} of {len(COLOURS)} answers the same as alone; the others part "
          f"after {shared} of {[len(a) for _, a, _ in differ]} characters")
    for colour, (_, a, _), (_, b, _) in zip(COLOURS, alone, together):
        assert (colour in a.lower()) <= (colour in b.lower()), (colour, a, b)
    assert len(differ) <= len(COLOURS) // 2, differ


def test_forced_function_calls_and_plain_answers_at_once(batched):
    """Grammar-held turns (a forced call) decode in the same steps as free ones."""
    la, client = batched
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    caller = client.beta.assistants.create(model="smollm2-135m-instruct", instructions="Use the tool.",
                                           tools=[weather])
    plain = client.beta.assistants.create(model="smollm2-135m-instruct", instructions="You are brief.")

    def call(city):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": f"Weather in {city}?"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=caller.id,
                                                       tool_choice="required", temperature=0.0,
                                                       poll_interval_ms=50)
        assert run.status == "requires_action", run.last_error
        (tool_call,) = run.required_action.submit_tool_outputs.tool_calls[:1]
        assert "city" in json.loads(tool_call.function.arguments)
        outputs = [{"tool_call_id": c.id, "output": "sunny"} for c in run.required_action.submit_tool_outputs.tool_calls]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id,
                                                                     tool_outputs=outputs, poll_interval_ms=50)
        return done.status

    with ThreadPoolExecutor(8) as pool:
        calls = [pool.submit(call, city) for city in ("Paris", "Oslo", "Lima", "Rome")]
        streams = [pool.submit(_streamed, client, plain.id, c) for c in COLOURS[:4]]
        assert all(f.result() in ("completed", "incomplete") for f in calls)
        for f in streams:
            names, text, run = f.result()
            assert _valid_order(names, run.status) and text
