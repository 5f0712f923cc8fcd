"""A server killed mid-run: on the next start the run is failed, nothing else is lost,
queued runs are picked up, and runs waiting on requires_action past their expiry expire."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from local_assistants import LocalAssistants, Runtime
from local_assistants.catalog import TEST_MODEL
from local_assistants.core import run_state

from conftest import MODELS_DIR, QUESTION, make_settings, sdk_client, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_killed_server_leaves_a_failed_run_and_loses_nothing_else(tmp_path):
    data_dir = tmp_path / "data"
    port = _free_port()
    env = dict(os.environ, LOCAL_ASSISTANTS_DATA_DIR=str(data_dir), LOCAL_ASSISTANTS_MODELS_DIR=str(MODELS_DIR),
               LOCAL_ASSISTANTS_DEFAULT_MODEL=TEST_MODEL)
    proc = subprocess.Popen([sys.executable, "-m", "local_assistants.cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), timeout=60)
        client = sdk_client(base + "/v1")
        assistant = client.beta.assistants.create(model="gpt-4o", instructions="Write a very long essay.")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id,
                                              max_completion_tokens=3000, temperature=1.0)
        wait_for(lambda: client.beta.threads.messages.list(thread.id, run_id=run.id).data)
        assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress"
        client.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    with LocalAssistants(make_settings(tmp_path)) as la:
        client = sdk_client(la.base_url)
        failed = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert failed.status == "failed" and failed.failed_at
        assert failed.last_error.code == "server_error"
        [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
        assert step.status == "failed"
        messages = client.beta.threads.messages.list(thread.id, order="asc").data
        assert messages[0].content[0].text.value == QUESTION
        assert messages[1].status == "incomplete" and messages[1].incomplete_details.reason == "run_failed"
        assert client.beta.assistants.retrieve(assistant.id).instructions == "Write a very long essay."
        # The thread is not locked by the dead run.
        again = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                         max_completion_tokens=5)
        assert again.status in ("completed", "incomplete") and again.usage.completion_tokens <= 5


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_queued_runs_are_picked_up_on_start(tmp_path):
    settings = make_settings(tmp_path)
    with Runtime(settings, start_worker=False) as rt:
        assistant = rt.assistants.create(model="gpt-4o")
        thread = rt.threads.create(messages=[{"role": "user", "content": "Hi"}])
        run = rt.runs.create(thread["id"], assistant_id=assistant["id"], max_completion_tokens=3)
        assert rt.runs.get(run["id"])["status"] == "queued"
    with Runtime(settings) as rt:
        done = wait_for(lambda: rt.runs.get(run["id"])["status"] in run_state.TERMINAL and rt.runs.get(run["id"]))
        assert done["status"] in ("completed", "incomplete") and 0 < done["usage"]["completion_tokens"] <= 3


def test_requires_action_runs_expire_at_expires_at(tmp_path):
    settings = make_settings(tmp_path)
    clock = [time.time()]
    with Runtime(settings, start_worker=False, clock=lambda: clock[0]) as rt:
        assistant = rt.assistants.create(model="gpt-4o")
        thread = rt.threads.create(messages=[{"role": "user", "content": "Hi"}])
        run = rt.runs.create(thread["id"], assistant_id=assistant["id"])
        waiting = run_state.transition(run_state.transition(run, "in_progress", int(clock[0])),
                                       "requires_action", int(clock[0]))
        rt.runs.recorder.save_run(waiting, was="queued")  # as the executor would have left it
        rt.worker.expire_waiting()
        assert rt.runs.get(run["id"])["status"] == "requires_action"
        clock[0] += 601
        rt.worker.expire_waiting()
        expired = rt.runs.get(run["id"])
        assert expired["status"] == "expired" and expired["expires_at"] is None


def test_a_killed_server_fails_the_response_in_progress_and_runs_the_queued_one(tmp_path):
    """Background responses are runs: one in progress at a kill -9 ends failed (server_error),
    its stored stream ends with response.failed; one still queued completes after the restart."""
    data_dir = tmp_path / "data"
    port = _free_port()
    env = dict(os.environ, LOCAL_ASSISTANTS_DATA_DIR=str(data_dir), LOCAL_ASSISTANTS_MODELS_DIR=str(MODELS_DIR),
               LOCAL_ASSISTANTS_DEFAULT_MODEL=TEST_MODEL, LOCAL_ASSISTANTS_MAX_CONCURRENT_RUNS="1")
    proc = subprocess.Popen([sys.executable, "-m", "local_assistants.cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), timeout=60)
        client = sdk_client(base + "/v1")
        long = client.responses.create(model="gpt-4o", input="Write a very long essay about rivers.",
                                       background=True, max_output_tokens=3000, temperature=1.0)
        wait_for(lambda: client.responses.retrieve(long.id).output, timeout=60)
        queued = client.responses.create(model="gpt-4o", input="Say hi.", background=True, max_output_tokens=16)
        assert client.responses.retrieve(long.id).status == "in_progress"
        assert client.responses.retrieve(queued.id).status == "queued"
        client.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    with LocalAssistants(make_settings(tmp_path)) as la:
        client = sdk_client(la.base_url)
        failed = client.responses.retrieve(long.id)
        assert failed.status == "failed" and failed.error.code == "server_error"
        assert failed.output[0].status == "incomplete"
        events = list(client.responses.retrieve(long.id, stream=True, starting_after=-1))
        assert events[-1].type == "response.failed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        done = wait_for(lambda: (r := client.responses.retrieve(queued.id)).status in ("completed", "incomplete")
                        and r, timeout=120)
        assert done.output_text
