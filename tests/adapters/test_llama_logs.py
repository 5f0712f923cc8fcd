"""Loading a model never silences the process: llama.cpp's log goes through its log
callback to Python logging, and nothing points file descriptors 1 and 2 at /dev/null
(llama-cpp-python's ``verbose=False`` did, so other threads' output was lost while a
model loaded: a restarted server's start line and access log)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import MODELS_DIR

GGUF = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"

PROGRAM = textwrap.dedent("""
    import os, sys, threading, time
    from local_assistants.adapters.llama import LlamaChatModel

    stop = threading.Event()
    sent = []

    def tick():
        n = 0
        while not stop.is_set():
            os.write(2, f"tick {n}\\n".encode())
            sent.append(n)
            n += 1
            time.sleep(0.002)

    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.05)
    for _ in range(3):  # three loads, each a fresh llama.cpp context
        m = LlamaChatModel(sys.argv[1], name="m", n_ctx=512)
        m.load()
        m.close()
    time.sleep(0.05)
    stop.set()
    t.join()
    os.write(1, f"sent {len(sent)}\\n".encode())
""")


def test_no_output_is_lost_while_a_model_loads():
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(GGUF)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    sent = int(done.stdout.split()[-1])
    ticks = [line for line in done.stderr.splitlines() if line.startswith("tick ")]
    assert sent > 20
    assert len(ticks) == sent, f"{sent - len(ticks)} of {sent} lines written to stderr were lost"
    # llama.cpp's chatter is not on stderr either: it went to the logging module (not configured here).
    assert "llama_model_loader" not in done.stderr and "print_info" not in done.stderr


def test_llama_cpp_log_reaches_python_logging(caplog):
    import logging

    from local_assistants.adapters.llama import LlamaChatModel

    with caplog.at_level(logging.DEBUG, logger="llama_cpp"):
        m = LlamaChatModel(GGUF, name="m", n_ctx=512)
        m.load()
        m.close()
    assert any(r.name == "llama_cpp" for r in caplog.records)
