"""Code-interpreter benchmarks: warm execution latency, the first call in a new thread
with the kernel pool vs a cold kernel start, and the sandbox's cost vs no sandbox."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..adapters.jupyter import KernelPool
from ..adapters.sandbox import SandboxSpec
from .report import median, percentile, table

RUNS = 50


def _pool(root: Path, kernel_python: Path, unsafe: bool, pool_size: int) -> KernelPool:
    return KernelPool(SandboxSpec(kernel_python=kernel_python.absolute(), unsafe=unsafe), root,
                      pool_size=pool_size, max_kernels=8)  # no eviction inside the measurement


def _warm_latency(pool: KernelPool) -> list[float]:
    kernel, _ = pool.kernel_for("thread_warm")
    kernel.execute("print(1+1)")
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        kernel.execute("print(1+1)")
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _first_call(pool: KernelPool, thread_id: str, warm_first: bool) -> float:
    if warm_first:  # a pooled kernel is ready, as it is when a run's model is still writing the code
        pool.warm()
        deadline = time.monotonic() + 30
        while not any(k.started for k in pool.ready) and time.monotonic() < deadline:
            time.sleep(0.05)
    t0 = time.perf_counter()
    kernel, _ = pool.kernel_for(thread_id)
    kernel.execute("print(1+1)")
    return (time.perf_counter() - t0) * 1000


def main(kernel_python: Path, sandbox_dir: Path) -> list[str]:
    sandbox_dir = Path(sandbox_dir).absolute()
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    rows, first_rows = [], []
    with tempfile.TemporaryDirectory(dir=sandbox_dir, prefix=".bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        results = {}
        for unsafe in (True, False):
            pool = _pool(root / ("plain" if unsafe else "sandboxed"), kernel_python, unsafe, pool_size=1)
            try:
                results[unsafe] = _warm_latency(pool)
                pooled = [_first_call(pool, f"thread_p{i}", warm_first=True) for i in range(5)]
                cold_pool = _pool(root / ("cold-plain" if unsafe else "cold"), kernel_python, unsafe, pool_size=0)
                try:
                    cold = [_first_call(cold_pool, f"thread_c{i}", warm_first=False) for i in range(5)]
                finally:
                    cold_pool.close()
            finally:
                pool.close()
            label = "no sandbox" if unsafe else "sandbox (bwrap + setpriv + prlimit)"
            first_rows.append([label, median(pooled), median(cold), median(cold) / median(pooled)])
        plain, boxed = results[True], results[False]
        rows.append(["no sandbox", median(plain), percentile(plain, 95), 1.0])
        rows.append(["sandbox (bwrap + setpriv + prlimit)", median(boxed), percentile(boxed, 95),
                     median(boxed) / median(plain)])
    return [
        table(f"warm execution of print(1+1), {RUNS} runs (goal: p50 <= 30 ms)",
              ["kernel", "ms p50", "ms p95", "p50 vs no sandbox"], rows),
        table("first code call in a new thread: pooled kernel vs cold start, median of 5 "
              "(goal: <= 150 ms vs ~800 ms)", ["kernel", "pooled ms", "cold start ms", "cold / pooled"], first_rows),
    ]
