"""Ingestion is bounded per file (tokens, chunks) and never retried forever: a file whose
ingestion kept killing the server is failed with a clear last_error at the next start."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from conftest import make_settings, sdk_client, wait_for
from local_assistants import LocalAssistants

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WORDS = " ".join(f"word{i % 997} alpha beta gamma." for i in range(4000))  # 28,112 word pieces


def _upload(client, name: str, data: bytes):
    return client.files.create(file=(name, data), purpose="assistants")


def test_a_file_over_the_token_or_chunk_limit_fails_with_a_clear_error(tmp_path):
    settings = make_settings(tmp_path, max_file_tokens=5000, max_file_chunks=10)
    with LocalAssistants(settings) as la:
        client = sdk_client(la.base_url)
        store = client.vector_stores.create(name="limits")
        big = _upload(client, "big.txt", WORDS.encode())
        failed = client.vector_stores.files.create_and_poll(file_id=big.id, vector_store_id=store.id)
        assert failed.status == "failed"
        assert failed.last_error.code == "invalid_file" and "5,000 tokens" in failed.last_error.message
        # 2,700 tokens fit, but in 100-token chunks they make more than 10.
        small = _upload(client, "small.txt", WORDS[: len(WORDS) // 10].encode())
        chunked = client.vector_stores.files.create_and_poll(
            file_id=small.id, vector_store_id=store.id,
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
        assert chunked.status == "failed" and "10 chunks" in chunked.last_error.message
        ok = client.vector_stores.files.create_and_poll(file_id=small.id, vector_store_id=store.id)
        assert ok.status == "completed"  # attached again with auto chunking: 800-token chunks
        client.close()


SERVE_AND_ATTACH = """
import sys, time
from pathlib import Path
from local_assistants import Runtime, Settings
settings = Settings(data_dir=Path(sys.argv[1]), models_dir=Path(sys.argv[2]), sandbox_dir=Path(sys.argv[3]),
                    kernel_python=Path(sys.argv[4]))
rt = Runtime(settings, start_worker=False)
if len(sys.argv) > 5:  # first start: attach the file; later starts only take up what is pending
    store = rt.vector_stores.create(name="crashy")
    with open(sys.argv[5], "rb") as f:
        file = rt.files.create(file=f, filename="long.txt", purpose="assistants")
    rt.vector_store_files.create(store["id"], file_id=file["id"])
print("ready", flush=True)
time.sleep(600)
"""


def _attempts(db) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT status, attempts FROM vector_store_files").fetchall()


def test_a_file_that_kills_the_server_is_not_ingested_forever(tmp_path):
    settings = make_settings(tmp_path)
    text = tmp_path / "long.txt"
    text.write_text(WORDS * 40)  # minutes of embedding: still being ingested when killed
    args = [str(settings.data_dir), str(settings.models_dir), str(settings.sandbox_dir), str(settings.kernel_python)]
    db = settings.database_path
    for attempt in (1, 2):
        extra = [str(text)] if attempt == 1 else []
        proc = subprocess.Popen([sys.executable, "-c", SERVE_AND_ATTACH, *args, *extra], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            # Killed (as the OOM killer would) while this attempt is under way.
            wait_for(lambda: _attempts(db) == [("in_progress", attempt)], timeout=120)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    with LocalAssistants(settings) as la:
        client = sdk_client(la.base_url)
        [vsf] = client.vector_stores.files.list(client.vector_stores.list().data[0].id).data
        vsf = wait_for(lambda: (f := client.vector_stores.files.retrieve(vsf.id, vector_store_id=vsf.vector_store_id))
                       .status != "in_progress" and f)
        assert vsf.status == "failed"
        assert vsf.last_error.code == "server_error"
        assert "stopped while processing this file, 2 times" in vsf.last_error.message
        # Attached again by the user: a fresh start, tried again.
        again = client.vector_stores.files.create(vector_store_id=vsf.vector_store_id, file_id=vsf.id)
        assert again.status == "in_progress"
        wait_for(lambda: _attempts(db)[0][1] == 1)
        client.close()
