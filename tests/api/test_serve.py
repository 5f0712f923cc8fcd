"""``local-assistants serve`` as a real process: SIGTERM and SIGINT stop it cleanly (the run in
progress finishes within the grace period, or fails as a crash would after it; queued runs
stay queued; the database is closed, its WAL folded back), and a public address without an
API key is refused unless the operator says otherwise (which hosts are public: ``tests/test_cli.py``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from conftest import MODELS_DIR, QUESTION, make_settings, sdk_client, wait_for
from local_assistants import Runtime
from local_assistants.catalog import TEST_MODEL
from local_assistants.services.worker import CRASH_MESSAGE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _serve(tmp_path, *args: str, **env: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    environ = dict(os.environ, LOCAL_ASSISTANTS_DATA_DIR=str(tmp_path / "data"),
                   LOCAL_ASSISTANTS_MODELS_DIR=str(MODELS_DIR), LOCAL_ASSISTANTS_DEFAULT_MODEL=TEST_MODEL, **env)
    environ.pop("LOCAL_ASSISTANTS_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "local_assistants.cli", "serve", "--port", str(port), *args],
                            env=environ, stderr=subprocess.PIPE, text=True)
    return proc, f"http://127.0.0.1:{port}"


def _start_long_run(client, thread_id: str, assistant_id: str, tokens: int):
    run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id,
                                          max_completion_tokens=tokens, temperature=1.0)
    # Decoding has begun once the run's message exists.
    wait_for(lambda: client.beta.threads.messages.list(thread_id, run_id=run.id).data, timeout=120)
    return run


def _stop(proc: subprocess.Popen, sig: int, timeout: float = 90) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the server did not stop within {timeout} s after {sig}:\n{err}")
    return proc.returncode, err


def test_sigterm_lets_the_run_in_progress_finish_and_closes_everything(tmp_path):
    # Also: a public address is served when the operator explicitly allows it without a key.
    # One run at a time, so the second run is still queued when the signal comes.
    proc, base = _serve(tmp_path, "--host", "0.0.0.0", "--allow-no-api-key",
                        LOCAL_ASSISTANTS_SHUTDOWN_GRACE_S="120", LOCAL_ASSISTANTS_MAX_CONCURRENT_RUNS="1")
    try:
        wait_for(lambda: _healthy(base), timeout=120)
        client = sdk_client(base + "/v1")
        assistant = client.beta.assistants.create(model="gpt-4o", instructions="Write a long essay.")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        other = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        run = _start_long_run(client, thread.id, assistant.id, tokens=48)
        queued = client.beta.threads.runs.create(thread_id=other.id, assistant_id=assistant.id,
                                                 max_completion_tokens=4)
        client.close()
        code, err = _stop(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 0, err
    assert "WITHOUT AN API KEY" in err
    assert "stopped cleanly" in err and "Traceback" not in err
    db = tmp_path / "data" / "local_assistants.db"
    assert not os.path.exists(f"{db}-wal") or os.path.getsize(f"{db}-wal") == 0
    with Runtime(make_settings(tmp_path), start_worker=False) as rt:
        finished = rt.runs.get(run.id)
        assert finished["status"] in ("completed", "incomplete"), finished
        assert finished["usage"]["completion_tokens"] > 0
        # Not started before the stop: still queued, for the next start to take.
        assert rt.runs.get(queued.id)["status"] == "queued"


def test_sigint_past_the_grace_period_fails_the_run_as_a_crash(tmp_path):
    proc, base = _serve(tmp_path, "--log-level", "warning", LOCAL_ASSISTANTS_SHUTDOWN_GRACE_S="0.5")
    try:
        wait_for(lambda: _healthy(base), timeout=120)
        client = sdk_client(base + "/v1")
        assistant = client.beta.assistants.create(model="gpt-4o", instructions="Write a very long essay.")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        run = _start_long_run(client, thread.id, assistant.id, tokens=4000)
        client.close()
        code, err = _stop(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 0, err
    assert "Traceback" not in err
    db = tmp_path / "data" / "local_assistants.db"
    assert not os.path.exists(f"{db}-wal") or os.path.getsize(f"{db}-wal") == 0
    with Runtime(make_settings(tmp_path), start_worker=False) as rt:
        failed = rt.runs.get(run.id)
        assert failed["status"] == "failed" and failed["last_error"] == {"code": "server_error",
                                                                         "message": CRASH_MESSAGE}
        [step] = rt.store.find("run_steps", run_id=run.id)
        assert step["status"] == "failed"
        [message] = rt.store.find("messages", run_id=run.id)
        assert message["status"] == "incomplete" and message["incomplete_details"] == {"reason": "run_failed"}


def test_a_public_address_without_an_api_key_is_refused(tmp_path):
    proc, _ = _serve(tmp_path, "--host", "0.0.0.0")
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an API key" in err
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_api_keys_are_compared_in_constant_time(tmp_path, monkeypatch):
    import hmac

    from local_assistants import LocalAssistants
    from local_assistants.server import app as app_module

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    with LocalAssistants(make_settings(tmp_path, api_key="sekrit")) as la:
        ok = httpx.get(la.base_url + "/assistants", headers={"authorization": "Bearer sekrit"})
        bad = httpx.get(la.base_url + "/assistants", headers={"authorization": "Bearer sekriT"})
        odd = httpx.get(la.base_url + "/assistants", headers={"authorization": "Bearer s\u00e9krit".encode()})
    assert ok.status_code == 200
    assert bad.status_code == odd.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_api_key"
    assert len(calls) == 3
