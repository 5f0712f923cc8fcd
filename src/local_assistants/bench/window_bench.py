"""Window benchmarks: build time and peak memory for threads of 1k, 10k and 100k
messages (goal: <= 20 ms at 100k and flat with thread length), and the time to
append a message to a 100k-message thread.  Real SQLite file, real tokenizer."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

from ..adapters.llama import LlamaChatModel
from ..catalog import CATALOG
from ..config import Settings
from ..core.window import Strategy, build_window
from ..runtime import Runtime
from ..services.history import ThreadHistory
from .report import median, percentile, table

SIZES = (1_000, 10_000, 100_000)
REPEATS = 20


def _fill(rt: Runtime, thread_id: str, n: int) -> None:
    """Insert n alternating user/assistant messages in one transaction (setup, not measured)."""
    with rt.store.transaction():
        for i in range(n):
            role = "user" if i % 2 == 0 else "assistant"
            body = {"role": role, "content": f"Message {i}: what is {i} plus {i + 1}? It is {2 * i + 1}."}
            rt.messages.insert(rt.messages.prepare(thread_id, body))


def main(models_dir: Path) -> list[str]:
    model = LlamaChatModel(models_dir / CATALOG["smollm2-135m-instruct"].filename, name="smollm2-135m-instruct",
                           n_ctx=8192)
    count = model.count_tokens
    overhead = model.template.message_overhead(count)
    rows, append_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(Settings(data_dir=Path(tmp) / "data", models_dir=models_dir), start_worker=False)
        try:
            for n in SIZES:
                thread = rt.threads.create()
                _fill(rt, thread["id"], n)
                history = ThreadHistory(rt.store, thread["id"], model.name, count, overhead)

                def build():
                    return build_window(fixed_tokens=200, newest_first=history.newest_first(), budget=8192 - 512,
                                        strategy=Strategy(), first_user=history.first_user(), count=count,
                                        overhead=overhead)

                t0 = time.perf_counter()
                window = build()  # the first build counts tokens of the messages it reads, once
                first_ms = (time.perf_counter() - t0) * 1000
                times = []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    build()
                    times.append((time.perf_counter() - t0) * 1000)
                tracemalloc.start()
                build()
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                rows.append([n, len(window.items), window.tokens, first_ms, median(times), percentile(times, 95),
                             peak / 1024])
                if n == SIZES[-1]:
                    appends = []
                    for i in range(REPEATS):
                        t0 = time.perf_counter()
                        rt.messages.create(thread["id"], role="user", content=f"appended {i}")
                        appends.append((time.perf_counter() - t0) * 1000)
                    append_rows.append([n, median(appends), percentile(appends, 95)])
        finally:
            rt.close()
            model.close()
    base = rows[0][4]
    for row in rows:
        row.append(row[4] / base)
    return [
        table("window build (auto truncation, 7.7k-token budget; goal <= 20 ms at 100k, flat)",
              ["messages", "items kept", "tokens", "first build ms", "build ms p50", "build ms p95",
               "peak KiB", "p50 vs 1k"], rows),
        table("append one message to a long thread (messages.create)",
              ["thread messages", "ms p50", "ms p95"], append_rows),
    ]
