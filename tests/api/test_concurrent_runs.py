"""Several runs at once on one server: one run's tool work does not hold up another
thread's answer (runs execute on threads of their own; the model decodes one turn at a time)."""

from __future__ import annotations

import time

from conftest import say, wait_for

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
