"""llama.cpp's own server as a benchmark peer: started on a free loopback port with one
GGUF, ready once ``/health`` answers 200, stopped on leaving the ``with`` block."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CTX_PER_SLOT = 1024
"""Each slot's context: the benchmark's prompt (under 100 tokens) and 128 tokens fit (the
runtime gets as much per run)."""
FLASH_ATTN = "off"
"""As the runtime's batch context (llama-cpp-python's context parameters): on this CPU
flash attention made a token at 2,760 tokens of context 1.7x slower (it was about 10%
faster on short ones)."""
START_TIMEOUT_S = 120.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_command(binary: Path, model: Path, *, threads: int, slots: int, port: int, threads_batch: int = 0,
                   host: str = "127.0.0.1", ctx_per_slot: int = CTX_PER_SLOT) -> list[str]:
    """``slots`` sequences decoded together (continuous batching), each with ``ctx_per_slot``
    of the context; ``threads`` decode, ``threads_batch`` (default as many) take steps of
    several tokens."""
    return [str(binary), "-m", str(model), "--host", host, "--port", str(port),
            "-t", str(threads), "-tb", str(threads_batch or threads), "-np", str(slots), "-cb",
            "-c", str(slots * ctx_per_slot), "-fa", FLASH_ATTN, "--no-webui"]


class LlamaServer:
    def __init__(self, binary: Path, model: Path, *, threads: int, slots: int, threads_batch: int = 0,
                 host: str = "127.0.0.1"):
        self.command = server_command(binary, model, threads=threads, threads_batch=threads_batch, slots=slots,
                                      port=free_port(host), host=host)
        self.url = f"http://{host}:{self.command[self.command.index('--port') + 1]}"
        self.process: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> "LlamaServer":
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet, or 503 while the model loads
            time.sleep(0.1)
        raise RuntimeError(f"llama-server not ready in {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self._log.seek(0)
        return "\n".join(self._log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
