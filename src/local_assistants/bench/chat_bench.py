"""Chat completions benchmarks on real models, through the real server and the official SDK.

(a) streaming decode tokens/s through ``POST /v1/chat/completions`` (``stream=True``,
    greedy, fixed ``max_tokens``) vs raw llama-cpp-python on the very ``Llama`` object the
    runtime uses, the same prompt tokens, threads and sampling (goal: ratio >= 0.97);
(b) aggregate tokens/s of 8 chat completions streamed at once (and of one alone) against
    llama.cpp's own ``llama-server -np 8 -cb`` on the same model, prompt tokens, threads and
    greedy sampling (goal: >= 0.95x); without the peer binary (``make llama-server``) the
    runtime's figures are printed alone;
(c) time to the first text of a chat completion whose long system prompt was sent before
    (a new user question each time) against the same request cold (every kept KV state
    forgotten first, as the runs benchmark does); one system prompt, and several taking turns.

The helpers of the runs benchmark (its prompt, settings and raw decode) and of the
concurrency benchmark (streams started together, llama-server's stream, the level rows)
are reused, so the API faces are measured on the same footing.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL
from ..client import LocalAssistants
from ..config import Settings
from . import concurrency_bench as cb
from .llama_server import LlamaServer
from .report import median, table
from .responses_bench import served_against_raw
from .runs_bench import PROMPT, _settings

STORY_INSTRUCTIONS = "You are a storyteller."
DECODE_TOKENS = 200
REPEATS = 3
AGGREGATE_LEVELS = (1, 8)
"""Chat completions streamed at once in (b); llama-server gets as many slots."""
AGGREGATE_TOKENS = cb.DECODE_TOKENS
SYSTEM_RULES = 40
"""Rules in (c)'s shared system prompt: about 1,500 prompt tokens."""
PROMPT_COUNTS = (1, 4)
"""Different system prompts taking turns in (c)."""
WARM_TURNS = 2
"""Questions per system prompt once it has been sent (each question new)."""
COLD_TRIES = 2
"""Cold starts per row (each evaluates the whole system prompt again)."""
FIRST_TOKENS = 8
"""(c) only times the first text."""
GOALS = {"decode": 0.97, "aggregate": 0.95}


def _messages(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _stream_chat(client, **kwargs):
    """One streamed chat completion with its usage: (time sent, times of its text pieces,
    finish reason, usage)."""
    start = time.perf_counter()
    stamps, finish, usage = [], None, None
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs):
        for choice in chunk.choices:
            if choice.delta.content:  # the first chunk (the role, empty content) is sent before decoding
                stamps.append(time.perf_counter())
            if choice.finish_reason is not None:
                finish = choice.finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
    if usage is None:
        raise RuntimeError("the chat completion stream ended without its usage chunk")
    return start, stamps, finish, usage


def _cached(usage) -> int:
    details = usage.prompt_tokens_details
    return (details.cached_tokens or 0) if details is not None else 0


# -- (a) decode ------------------------------------------------------------------------
def _chat_decode_rate(client, name: str, max_tokens: int) -> tuple[float, int, int]:
    """Tokens/s from the first piece to the last (the first token's wait left out, as on the
    raw side), the completion tokens and the prompt tokens the server counted."""
    _, stamps, _, usage = _stream_chat(client, model=name, messages=_messages(STORY_INSTRUCTIONS, PROMPT),
                                       temperature=0.0, max_tokens=max_tokens)
    n = usage.completion_tokens
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return ((n - 1) / span if n > 1 and span > 0 else math.nan), n, usage.prompt_tokens


def decode_throughput(models_dir: Path, name: str = TEST_MODEL, *, tokens: int = DECODE_TOKENS,
                      repeats: int = REPEATS) -> str:
    """Raw create_completion on the runtime's own Llama, alternating with chat completions
    streamed through the server, so both see the same machine load."""
    return served_against_raw(models_dir, name, _chat_decode_rate, "POST /v1/chat/completions", "chat completions",
                              tokens=tokens, repeats=repeats)


# -- (b) many at once ------------------------------------------------------------------
def chat_streamer(client, name: str, messages: list[dict]) -> cb.StreamOne:
    """One chat completion streamed through the official SDK, greedy, its usage asked for
    (the completion tokens counted by the server)."""
    def stream_one(max_tokens: int, stream: cb.Stream) -> None:
        stream.begin()
        usage, finish = None, None
        for chunk in client.chat.completions.create(model=name, messages=messages, temperature=0.0,
                                                    max_tokens=max_tokens, stream=True,
                                                    stream_options={"include_usage": True}):
            for choice in chunk.choices:
                if choice.delta.content:
                    stream.piece()
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
            if chunk.usage is not None:
                usage = chunk.usage
        if usage is None or finish not in ("stop", "length"):
            raise RuntimeError(f"chat completion ended {finish!r} (usage: {usage})")
        stream.tokens = usage.completion_tokens
    return stream_one


def measure_levels(stream_one: cb.StreamOne, levels: Iterable[int], tokens: int) -> dict[int, list[cb.Stream]]:
    """Streams started together at each level, after a warm-up (the model loaded, the first
    decode done)."""
    cb.one_stream(stream_one, cb.NEWCOMER_TOKENS)
    return {n: cb.concurrent_streams(stream_one, n, tokens) for n in levels}


def peer_levels(binary: Path, model_path: Path, prompt_tokens: list[int], sampling: dict,
                threads: tuple[int, int], levels: Iterable[int], tokens: int) -> dict[int, list[cb.Stream]]:
    """``measure_levels`` against llama-server, started with as many slots as each level's
    streams and the runtime's (decode, batch) threads, fed the runtime's prompt tokens."""
    import httpx

    figures = {}
    for n in levels:
        # A connection per request, as the concurrency benchmark found necessary.
        with LlamaServer(binary, model_path, threads=threads[0], threads_batch=threads[1], slots=n) as server, \
                httpx.Client(limits=httpx.Limits(max_connections=n + 4, max_keepalive_connections=0)) as http:
            stream_one = cb.server_streamer(http, server.url, prompt_tokens, sampling)
            try:
                figures.update(measure_levels(stream_one, [n], tokens))
            except Exception as err:
                raise RuntimeError(f"llama-server with {n} slots failed ({err!r}); its log ends:\n"
                                   f"{server.log_tail()}") from err
    return figures


def aggregate_line(name: str, runtime: dict[int, list[cb.Stream]], peer: dict[int, list[cb.Stream]] | None) -> str:
    level = max(runtime)
    ratio = (cb.aggregate_rate(runtime[level]) / cb.aggregate_rate(peer[level])
             if peer and level in peer else math.nan)
    mark = "n/a" if math.isnan(ratio) else f"{ratio:.2f} ({'met' if ratio >= GOALS['aggregate'] else 'not met'})"
    return (f"\n{name} against the goal: aggregate of {level} chat completions / llama-server at {level} slots "
            f"{mark} (>= {GOALS['aggregate']})")


def aggregate_throughput(models_dir: Path, name: str = TEST_MODEL, *, llama_server: Path | None,
                         levels: Iterable[int] = AGGREGATE_LEVELS, tokens: int = AGGREGATE_TOKENS) -> list[str]:
    levels = tuple(levels)
    model_path = models_dir / CATALOG[name].filename
    with tempfile.TemporaryDirectory() as tmp, \
            LocalAssistants(cb.runtime_settings(Path(tmp), models_dir)) as la:
        model = la.runtime.model_pool.get(name)
        messages = _messages(cb.INSTRUCTIONS, PROMPT)
        prompt_tokens = model.tokenize_prompt(model.format(messages))
        sampling = {"repeat_penalty": model.repeat_penalty, "top_k": model.top_k}
        threads = (model.n_threads, model.n_threads_batch)
        runtime = measure_levels(chat_streamer(la.client, name, messages), levels, tokens)
    peer, missing = None, None
    if llama_server is not None and llama_server.is_file():
        peer = peer_levels(llama_server, model_path, prompt_tokens, sampling, threads, levels, tokens)
    else:
        missing = (f"not built at {llama_server} (`make llama-server` builds it; LOCAL_ASSISTANTS_LLAMA_SERVER "
                   "points elsewhere): no peer figures")
    rows = [[side, *row] for side, figures in (("runtime (chat completions)", runtime), ("llama-server", peer))
            if figures for row in cb.level_rows(figures)]
    blocks = [table(f"(b) {name}: {tokens}-token greedy chat completions streamed at once, {len(prompt_tokens)} "
                    f"prompt tokens, llama.cpp threads: {threads[0]} (batches: {threads[1]}) (aggregate: all "
                    "tokens from the first request to the last token)",
                    ["side", "streams", "aggregate tok/s", "per-stream decode tok/s (median)",
                     "aggregate / 1 stream"], rows)]
    if missing:
        blocks.append(f"\nllama-server: {missing}")
    blocks.append(aggregate_line(name, runtime, peer))
    return blocks


# -- (c) a repeated system prompt --------------------------------------------------------
def system_prompt(rules: int = SYSTEM_RULES, variant: int = 0) -> str:
    """A long tutor's handbook (``variant`` makes another one of the same length)."""
    lines = [f"You are tutor number {variant} of a school's mathematics department. Follow every rule below."]
    for i in range(rules):
        lines.append(f"Rule {i + 1}: when a student asks about exercise {i + 1} of chapter {variant + 1}, "
                     f"explain each step, check the arithmetic twice, and give one more example with "
                     f"{i + 2} and {i + 7}.")
    return "\n".join(lines)


def system_prompt_ttft(models_dir: Path, name: str = TEST_MODEL, *, rules: int = SYSTEM_RULES,
                       prompt_counts: Iterable[int] = PROMPT_COUNTS, warm_turns: int = WARM_TURNS,
                       cold_tries: int = COLD_TRIES) -> str:
    rows = []
    asked = itertools.count(1)  # every question is new: only the system prompt repeats

    def ask(system: str) -> tuple[float, object]:
        k = next(asked)
        start, stamps, _, usage = _stream_chat(
            client, model=name, messages=_messages(system, f"Question {k}: what is {k} * 17?"),
            temperature=0.0, max_tokens=FIRST_TOKENS)
        return (stamps[0] - start if stamps else math.nan), usage

    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        model = la.runtime.model_pool.get(name)
        for n_prompts in prompt_counts:
            systems = [system_prompt(rules, variant) for variant in range(n_prompts)]
            model.forget_cached()  # the row starts from nothing kept
            for system in systems:  # each system prompt sent once: evaluated once
                ask(system)
            warm, warm_cached = [], []
            for _ in range(warm_turns):
                for system in systems:  # prompts take turns: each finds the others kept too
                    first, usage = ask(system)
                    warm.append(first)
                    warm_cached.append(_cached(usage))
            cold, cold_cached = [], []
            for system in systems[:cold_tries]:  # the same kind of request with nothing kept
                model.forget_cached()
                first, usage = ask(system)
                cold.append(first)
                cold_cached.append(_cached(usage))
            w, k = median(warm), median(cold)
            rows.append([n_prompts, usage.prompt_tokens, f"{round(median(warm_cached))} / {round(median(cold_cached))}",
                         k * 1000, w * 1000, k / w])
    return table(f"(c) {name}: time to first text of a chat completion with a long system prompt sent before "
                 "(a new user question each time) vs cold, median (no goal set)",
                 ["system prompts taking turns", "prompt tokens", "cached tokens warm / cold", "cold ms",
                  "repeated ms", "speed-up"], rows)


def main(settings: Settings) -> Iterator[str]:
    """Each block as soon as it is measured."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    models_dir = settings.models_dir
    names = [n for n in (TEST_MODEL, DEFAULT_MODEL) if (models_dir / CATALOG[n].filename).is_file()]
    for name in (TEST_MODEL, DEFAULT_MODEL):
        if name not in names:
            yield f"\n## {name}: not present in {models_dir} (skipped)"
    for name in names:
        yield decode_throughput(models_dir, name)
    for name in names:
        yield from aggregate_throughput(models_dir, name, llama_server=settings.llama_server)
    for name in names:
        yield system_prompt_ttft(models_dir, name)
