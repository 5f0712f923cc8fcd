"""Run benchmarks on the real default model, through the real server and SDK.

(a) streaming decode tokens/s through the runtime vs raw llama-cpp-python on the
    same model, prompt and sampling (goal: ratio >= 0.97);
(b) time to first token of a follow-up turn in a thread with ~2k tokens of
    history vs a cold start of the same prompt (goal: >= 10x faster), one thread
    and 4 threads taking turns.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from ..catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL
from ..client import LocalAssistants
from ..config import Settings
from .report import median, table

PROMPT = "Write a long story about a mathematician who loves prime numbers."
DECODE_TOKENS = 200
REPEATS = 3


def _settings(tmp: Path, models_dir: Path) -> Settings:
    return Settings.from_env(data_dir=tmp / "data", models_dir=models_dir, n_ctx=4096)


def _raw_decode_rate(model, prompt_tokens: list[int], max_tokens: int = DECODE_TOKENS) -> tuple[float, int]:
    """The same sampling as the runtime's: its repetition penalty (the model's recommended
    one) costs a few percent by itself, as llama.cpp scans the whole vocabulary for it."""
    llm = model.llm
    llm.reset()
    stamps = []
    for chunk in llm.create_completion(prompt_tokens, max_tokens=max_tokens, temperature=0.0,
                                       repeat_penalty=model.repeat_penalty, top_k=model.top_k,
                                       stream=True, seed=0):
        if chunk["choices"][0]["finish_reason"] is None:  # a token's chunk, not the closing one
            stamps.append(time.perf_counter())
    # Decode rate from the first token to the last, as the runtime's is measured: the
    # stream's closing chunk (no token) is not one more decode step.
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def _runtime_decode_rate(client, assistant_id: str) -> tuple[float, int]:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": PROMPT}])
    stamps = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id, temperature=0.0,
                                         max_completion_tokens=DECODE_TOKENS) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                stamps.append(time.perf_counter())
    run = stream.get_final_run()
    n = run.usage.completion_tokens
    return (n - 1) / (stamps[-1] - stamps[0]), n


def decode_throughput(models_dir: Path, name: str = TEST_MODEL) -> str:
    """Raw create_completion on the very Llama object the runtime uses (same model,
    context and threads), alternating with runs streamed through the server."""
    entry = CATALOG[name]
    instructions = "You are a storyteller."
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        assistant = client.beta.assistants.create(model=entry.name, instructions=instructions)
        model = la.runtime.model_pool.get(entry.name)
        prompt_tokens = model.tokenize_prompt(model.format([{"role": "system", "content": instructions},
                                                            {"role": "user", "content": PROMPT}]))
        raw_rates, rt_rates = [], []
        for _ in range(REPEATS):  # alternate, so both see the same machine load
            with model.lock:
                raw_rates.append(_raw_decode_rate(model, prompt_tokens)[0])
            rt_rates.append(_runtime_decode_rate(client, assistant.id)[0])
        threads = model.n_threads
    r_raw, r_rt = median(raw_rates), median(rt_rates)
    rows = [["raw llama-cpp-python (create_completion, stream)", r_raw, 1.0],
            ["runtime (HTTP + SSE + SDK stream)", r_rt, r_rt / r_raw]]
    return table(f"(a) {name}: streaming decode, {DECODE_TOKENS} tokens, {threads} llama.cpp threads, median of "
                 f"{REPEATS} (goal: ratio >= 0.97)", ["path", "tokens/s", "ratio vs raw"], rows)


def _history(n_pairs: int) -> list[dict]:
    messages = []
    for i in range(n_pairs):
        messages.append({"role": "user", "content": f"Question {i}: explain why {i} * 17 equals {i * 17}, "
                                                    "step by step, with an example of carrying digits."})
        messages.append({"role": "assistant", "content": f"Answer {i}: multiply {i} by 10 to get {i * 10}, "
                                                         f"then by 7 to get {i * 7}, and add them: {i * 17}. "
                                                         "Carrying happens when a column passes nine."})
    return messages


def _ttft(client, thread_id: str, assistant_id: str) -> float:
    start = time.perf_counter()
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id,
                                         max_completion_tokens=8, temperature=0.0) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                first = time.perf_counter() - start
                break
        stream.until_done()
    return first


def follow_up_ttft(models_dir: Path, name: str = TEST_MODEL) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        assistant = client.beta.assistants.create(model=name, instructions="You are a tutor.")
        model = la.runtime.model_pool.get(name)
        for n_threads in (1, 4):
            threads = [client.beta.threads.create(messages=_history(30)) for _ in range(n_threads)]
            for t in threads:  # first turn of each thread: its history is evaluated once
                client.beta.threads.messages.create(t.id, role="user", content="One more: 3 * 17?")
                _ttft(client, t.id, assistant.id)
            warm, cold = [], []
            for turn in range(2):
                for t in threads:  # threads take turns: each follow-up finds another thread in the context
                    client.beta.threads.messages.create(t.id, role="user", content=f"And {turn + 4} * 17?")
                    warm.append(_ttft(client, t.id, assistant.id))
            for t in threads:  # the same follow-up with nothing cached: a cold start
                client.beta.threads.messages.create(t.id, role="user", content="Last one: 9 * 17?")
                model.forget_cached()
                cold.append(_ttft(client, t.id, assistant.id))
            prompt_len = la.runtime.runs.list(threads[0].id, limit=1).data[0]["usage"]["prompt_tokens"]
            w, c = median(warm), median(cold)
            rows.append([n_threads, prompt_len, c * 1000, w * 1000, c / w])
    return table(f"(b) {name}: time to first token of a follow-up turn (goal: >= 10x faster than cold)",
                 ["threads taking turns", "prompt tokens", "cold TTFT ms", "follow-up TTFT ms", "speed-up"], rows)


def cancel_latency(models_dir: Path, trials: int = 5) -> str:
    """From the cancel request to the stream's ``thread.run.cancelled``, mid-generation."""
    waits = []
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        assistant = client.beta.assistants.create(model="smollm2-135m-instruct", instructions="Write at length.")
        for _ in range(trials):
            thread = client.beta.threads.create(messages=[{"role": "user", "content": PROMPT}])
            deltas = 0
            with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id,
                                                 max_completion_tokens=2000, temperature=1.0) as stream:
                for event in stream:
                    if event.event == "thread.message.delta":
                        deltas += 1
                        if deltas == 20:
                            asked = time.perf_counter()
                            client.beta.threads.runs.cancel(stream.current_run.id, thread_id=thread.id)
                    if event.event == "thread.run.cancelled":
                        waits.append((time.perf_counter() - asked) * 1000)
    return table("(c) cancel mid-generation: request to thread.run.cancelled (goal: within a second)",
                 ["trials", "ms p50", "ms max"], [[len(waits), median(waits), max(waits)]])


def main(models_dir: Path) -> list[str]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return [decode_throughput(models_dir, TEST_MODEL), decode_throughput(models_dir, DEFAULT_MODEL),
            follow_up_ttft(models_dir, TEST_MODEL), follow_up_ttft(models_dir, DEFAULT_MODEL),
            cancel_latency(models_dir)]
