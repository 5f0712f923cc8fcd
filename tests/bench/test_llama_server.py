"""The benchmark's llama-server peer: its command line, and its start and stop (against a
stand-in that speaks /health as llama-server does; the real binary in
test_concurrency_bench.py when ``make llama-server`` has built it)."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from local_assistants.bench import llama_server
from local_assistants.bench.llama_server import LlamaServer, free_port, server_command

STAND_IN = """#!{python}
import http.server, sys
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
asked = []

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        asked.append(self.path)
        # 503 while "loading", as llama-server answers before its model is in
        self.send_response(200 if len(asked) > 2 else 503)
        self.end_headers()
        self.wfile.write(b'{{"status": "ok"}}')

    def log_message(self, *a):
        pass

http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_the_command_gives_every_slot_its_context_and_batches_the_decode_threads_unless_told():
    cmd = server_command(Path("/opt/llama-server"), Path("/m/model.gguf"), threads=3, slots=8, port=8081)
    assert cmd[:3] == ["/opt/llama-server", "-m", "/m/model.gguf"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8081"
    assert cmd[cmd.index("-t") + 1] == "3" and cmd[cmd.index("-tb") + 1] == "3"
    batch = server_command(Path("s"), Path("m"), threads=1, threads_batch=2, slots=1, port=1)
    assert batch[batch.index("-t") + 1] == "1" and batch[batch.index("-tb") + 1] == "2"
    assert cmd[cmd.index("-np") + 1] == "8" and "-cb" in cmd
    assert cmd[cmd.index("-c") + 1] == str(8 * llama_server.CTX_PER_SLOT)
    assert cmd[cmd.index("-fa") + 1] == "off"  # as the runtime's batch context
    small = server_command(Path("s"), Path("m"), threads=1, slots=2, port=1, ctx_per_slot=64)
    assert small[small.index("-c") + 1] == "128"


def test_a_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_the_server_is_ready_once_health_says_200_and_stopped_on_leaving(tmp_path):
    binary = _executable(tmp_path / "llama-server", STAND_IN.format(python=sys.executable))
    with LlamaServer(binary, tmp_path / "model.gguf", threads=1, slots=2) as server:
        with urllib.request.urlopen(server.url + "/health") as answer:
            assert answer.status == 200
        process = server.process
        assert process.poll() is None
    assert process.poll() is not None


def test_a_server_that_exits_at_once_fails_with_its_last_words(tmp_path):
    binary = _executable(tmp_path / "llama-server", "#!/bin/sh\necho 'error: failed to load model'\nexit 1\n")
    with pytest.raises(RuntimeError, match=r"exited with 1:\nerror: failed to load model"):
        with LlamaServer(binary, tmp_path / "model.gguf", threads=1, slots=1):
            pass
