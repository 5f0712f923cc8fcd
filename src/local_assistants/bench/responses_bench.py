"""Responses API benchmarks on real models, through the real server and the official SDK.

(a) streaming decode tokens/s through ``POST /v1/responses`` (``stream=True``, greedy,
    fixed ``max_output_tokens``) vs raw llama-cpp-python on the very ``Llama`` object
    the runtime uses, the same prompt tokens, threads and sampling (goal: ratio >= 0.97);
(b) time to the first text of a follow-up with ~2.7k tokens of history, the history
    read through ``previous_response_id`` and through a ``conversation``, vs a cold start
    of the same follow-up (every kept KV state forgotten first, as the runs benchmark
    does); one chain and 4 chains taking turns (goal: >= 20x faster);
(c) resuming the stream of a completed background response with N stored events:
    ``GET /v1/responses/{id}?stream=true&starting_after=K`` to its first event and to its
    last, p50 over several tries.

The helpers of the runs benchmark (its prompt, settings, raw decode and thread history)
are reused, so both faces of the API are measured on the same footing.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from pathlib import Path

from ..catalog import DEFAULT_MODEL, TEST_MODEL
from ..client import LocalAssistants
from .report import median, percentile, table
from .runs_bench import PROMPT, _history, _raw_decode_rate, _settings

STORY_INSTRUCTIONS = "You are a storyteller."
TUTOR_INSTRUCTIONS = "You are a tutor."
DECODE_TOKENS = 200
REPEATS = 3
HISTORY_PAIRS = 30
"""Question/answer pairs before the follow-ups: about 2,700 prompt tokens, as in the runs benchmark."""
CHAIN_COUNTS = (1, 4)
FOLLOW_UP_TOKENS = 16
"""The Responses API's smallest ``max_output_tokens``; only the first text is timed."""
COLD_TRIES = 2
"""Cold starts per row (each re-evaluates the whole history: ~40 s on the 1.5B)."""
CONVERSATION_ITEMS_PER_CALL = 20
"""OpenAI's limit on the items of one ``conversations.create`` / ``items.create``."""
RESUME_SIZES = (64, 512)
"""``max_output_tokens`` of the background responses whose streams are resumed."""
RESUME_TRIES = 10
FINAL_TYPES = frozenset({"response.completed", "response.incomplete", "response.failed"})
GOALS = {"decode": 0.97, "follow_up": 20.0}


def _stream_response(client, **kwargs):
    """One streamed ``responses.create``: (time sent, times of its text deltas, final response)."""
    start = time.perf_counter()
    stamps, final = [], None
    for event in client.responses.create(stream=True, **kwargs):
        if event.type == "response.output_text.delta":
            stamps.append(time.perf_counter())
        elif event.type in FINAL_TYPES:
            final = event.response
    if final is None:
        raise RuntimeError("the response stream ended without a final event")
    return start, stamps, final


def _responses_decode_rate(client, name: str, max_tokens: int) -> tuple[float, int, int]:
    """Tokens/s from the first delta to the last (the first token's wait left out, as on the
    raw side), the output tokens and the prompt tokens the server counted."""
    _, stamps, final = _stream_response(client, model=name, instructions=STORY_INSTRUCTIONS, input=PROMPT,
                                        temperature=0.0, max_output_tokens=max_tokens)
    n = final.usage.output_tokens
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return ((n - 1) / span if n > 1 and span > 0 else math.nan), n, final.usage.input_tokens


def decode_throughput(models_dir: Path, name: str = TEST_MODEL, *, tokens: int = DECODE_TOKENS,
                      repeats: int = REPEATS) -> str:
    """Raw create_completion on the runtime's own Llama, alternating with responses streamed
    through the server, so both see the same machine load."""
    return served_against_raw(models_dir, name, _responses_decode_rate, "POST /v1/responses", "Responses",
                              tokens=tokens, repeats=repeats)


def served_against_raw(models_dir: Path, name: str, served_rate, path: str, what: str, *, tokens: int,
                       repeats: int) -> str:
    """The decode table of one API face: ``served_rate(client, name, tokens)`` (tokens/s, output
    tokens, prompt tokens) streamed through the server, taking turns with raw create_completion
    on the runtime's own Llama and the same prompt tokens, so both see the same machine load."""
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        model = la.runtime.model_pool.get(name)
        prompt_tokens = model.tokenize_prompt(model.format([{"role": "system", "content": STORY_INSTRUCTIONS},
                                                            {"role": "user", "content": PROMPT}]))
        raw_rates, served_rates, served_prompt = [], [], set()
        for _ in range(repeats):
            with model.lock:
                raw_rates.append(_raw_decode_rate(model, prompt_tokens, tokens)[0])
            rate, _, prompt_len = served_rate(client, name, tokens)
            served_rates.append(rate)
            served_prompt.add(prompt_len)
        threads = model.n_threads
    r_raw, r_served = median(raw_rates), median(served_rates)
    served = "/".join(str(n) for n in sorted(served_prompt))
    rows = [["raw llama-cpp-python (create_completion, stream)", len(prompt_tokens), r_raw, 1.0],
            [f"{path}, stream=True (HTTP + SSE + SDK)", served, r_served, r_served / r_raw]]
    return table(f"(a) {name}: {what} streaming decode, {tokens} tokens, {threads} llama.cpp threads, greedy, "
                 f"median of {repeats} (goal: ratio >= {GOALS['decode']})",
                 ["path", "prompt tokens", "tokens/s", "ratio vs raw"], rows)


# -- follow-ups ------------------------------------------------------------------------
class _Chain:
    """A conversation held through ``previous_response_id`` or through a ``conversation``."""

    def __init__(self, client, name: str, via: str, pairs: int):
        self.client, self.name, self.via = client, name, via
        self.history = _history(pairs)
        self.last_id: str | None = None
        self.conversation_id: str | None = None
        if via == "conversation":
            self.conversation_id = client.conversations.create(
                items=self.history[:CONVERSATION_ITEMS_PER_CALL]).id
            for i in range(CONVERSATION_ITEMS_PER_CALL, len(self.history), CONVERSATION_ITEMS_PER_CALL):
                client.conversations.items.create(self.conversation_id,
                                                  items=self.history[i:i + CONVERSATION_ITEMS_PER_CALL])

    def turn(self, text: str):
        """One user turn, streamed: (seconds to its first text, the final response)."""
        kwargs = dict(model=self.name, instructions=TUTOR_INSTRUCTIONS, temperature=0.0,
                      max_output_tokens=FOLLOW_UP_TOKENS)
        if self.via == "conversation":
            kwargs.update(conversation=self.conversation_id, input=text)
        elif self.last_id is None:  # the chain's first response carries the history as its input
            kwargs.update(input=[*self.history, {"role": "user", "content": text}])
        else:
            kwargs.update(previous_response_id=self.last_id, input=text)
        start, stamps, final = _stream_response(self.client, **kwargs)
        self.last_id = final.id
        return (stamps[0] - start if stamps else math.nan), final


def _cached(response) -> int:
    details = response.usage.input_tokens_details
    return details.cached_tokens if details is not None else 0


def follow_up_ttft(models_dir: Path, name: str = TEST_MODEL, *, pairs: int = HISTORY_PAIRS,
                   chain_counts=CHAIN_COUNTS, cold_tries: int = COLD_TRIES) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        model = la.runtime.model_pool.get(name)
        for via in ("previous_response_id", "conversation"):
            for n_chains in chain_counts:
                chains = [_Chain(client, name, via, pairs) for _ in range(n_chains)]
                for c in chains:  # each chain's first turn: its history is evaluated once
                    c.turn("One more: 3 * 17?")
                warm, warm_cached = [], []
                for turn in range(2):
                    for c in chains:  # chains take turns: each follow-up finds the others in the cache
                        first, final = c.turn(f"And {turn + 4} * 17?")
                        warm.append(first)
                        warm_cached.append(_cached(final))
                cold, cold_cached = [], []
                for c in chains[:cold_tries]:  # the same kind of follow-up with nothing kept: a cold start
                    model.forget_cached()
                    first, final = c.turn("Last one: 9 * 17?")
                    cold.append(first)
                    cold_cached.append(_cached(final))
                w, k = median(warm), median(cold)
                rows.append([via, n_chains, final.usage.input_tokens,
                             f"{round(median(warm_cached))} / {round(median(cold_cached))}",
                             k * 1000, w * 1000, k / w])
    return table(f"(b) {name}: time to first text of a follow-up response, median (goal: >= "
                 f"{GOALS['follow_up']:.0f}x faster than cold)",
                 ["history via", "chains taking turns", "prompt tokens", "cached tokens warm / cold",
                  "cold ms", "follow-up ms", "speed-up"], rows)


# -- resuming a stream -----------------------------------------------------------------
def _wait_done(client, response_id: str, timeout: float = 600.0):
    deadline = time.monotonic() + timeout
    while True:
        response = client.responses.retrieve(response_id)
        if response.status in ("completed", "incomplete", "failed", "cancelled"):
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"{response_id} still {response.status}")
        time.sleep(0.05)


def _resume_once(client, response_id: str, after: int) -> tuple[float, float, int]:
    """Seconds from the request to the first event and to the last, and the events read."""
    start = time.perf_counter()
    stamps = [time.perf_counter() for _ in client.responses.retrieve(response_id, stream=True,
                                                                      starting_after=after)]
    if not stamps:
        return math.nan, math.nan, 0
    return stamps[0] - start, stamps[-1] - start, len(stamps)


def resume_latency(models_dir: Path, *, sizes=RESUME_SIZES, tries: int = RESUME_TRIES) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalAssistants(_settings(Path(tmp), models_dir)) as la:
        client = la.client
        for size in sizes:
            created = client.responses.create(model=TEST_MODEL, instructions=STORY_INSTRUCTIONS, input=PROMPT,
                                              background=True, temperature=0.0, max_output_tokens=size)
            _wait_done(client, created.id)
            n = _resume_once(client, created.id, -1)[2]  # sequence numbers 0 .. n-1
            for after in sorted({-1, n // 2, n - 2}):
                firsts, lasts, counts = [], [], set()
                for _ in range(tries):
                    first, last, count = _resume_once(client, created.id, after)
                    firsts.append(first)
                    lasts.append(last)
                    counts.add(count)
                rows.append([n, after, "/".join(str(c) for c in sorted(counts)), percentile(firsts, 50) * 1000,
                             percentile(lasts, 50) * 1000, max(lasts) * 1000])
    return table(f"(c) resuming a completed background response's stream ({TEST_MODEL}): GET "
                 f"/v1/responses/{{id}}?stream=true&starting_after=K, p50 of {tries} (no goal set)",
                 ["stored events N", "starting_after K", "events read", "first event ms p50",
                  "last event ms p50", "last event ms max"], rows)


def main(models_dir: Path) -> list[str]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return [decode_throughput(models_dir, TEST_MODEL), decode_throughput(models_dir, DEFAULT_MODEL),
            follow_up_ttft(models_dir, TEST_MODEL), follow_up_ttft(models_dir, DEFAULT_MODEL),
            resume_latency(models_dir)]
