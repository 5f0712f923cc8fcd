"""Many runs at once (issue #15): the runtime against llama.cpp's own server, on the same
machine, model, prompt tokens, threads and greedy sampling, in one process.

(a) aggregate tokens/s with 1, 4, 8 and 16 streams started together (16 for SmolLM2
    only), each run's own decode rate (median), and the ratio to one stream;
(b) time to first token of a request that arrives while 7 others stream, against the same
    request alone (p50 and p95);
(c) 20 streams of 64 tokens at once: wall time against 20 times the same stream alone,
    and their median time to first token;
then one line against the goals. The peer is ``llama-server -np N -cb`` (``make
llama-server`` builds it; the ``llama_server`` setting says where it is), fed the tokens the
runtime renders for the same messages through its ``/completion`` stream.

The measuring helpers take a ``StreamOne``: a callable that streams one request of up to
``max_tokens`` and reports into a ``Stream`` (``begin()`` right before sending, ``piece()``
as each text piece arrives, ``tokens`` at the end), so both sides share them.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL
from ..client import LocalAssistants
from ..config import Settings
from .llama_server import CTX_PER_SLOT, LlamaServer
from .report import median, percentile, table
from .runs_bench import PROMPT

INSTRUCTIONS = "You are a storyteller."
LEVELS = (1, 4, 8, 16)
"""Streams at once in (a); llama-server gets as many slots."""
MODEL_LEVELS = {DEFAULT_MODEL: (1, 4, 8)}
"""Fewer for a slow model: 16 streams of the 1.5B are 2,048 tokens a side (about 2 minutes
each on one thread, where batching decodes no faster than 8 streams or one), and the whole
benchmark is to stay near 10 minutes."""
DECODE_TOKENS = 128
NEWCOMER_OTHERS = 7
NEWCOMER_OTHERS_TOKENS = 24
"""Enough for the others to be streaming still when the newcomer's first token comes."""
NEWCOMER_TOKENS = 8
"""The newcomer only has to show its first token."""
NEWCOMER_TRIALS = 5
CROWD = 20
CROWD_TOKENS = 64
ALONE_REPEATS = 3
"""The stream alone, for (c)'s serial sum (median)."""
GOALS = {"aggregate": 0.95, "newcomer": 2.0, "crowd": 0.8, "crowd_ttft_s": 2.5}


class Stream:
    """One streamed request's timeline, in ``time.perf_counter()`` seconds."""

    def __init__(self, barrier: threading.Barrier | None = None):
        self._barrier = barrier
        self.start: float | None = None
        self.end: float | None = None
        self.stamps: list[float] = []
        self.tokens = 0
        self.first_piece = threading.Event()

    def begin(self) -> None:
        """Called right before the request is sent: streams measured together wait here for
        each other, so their requests leave at once."""
        if self._barrier is not None:
            self._barrier.wait()
        self.start = time.perf_counter()

    def abort(self) -> None:
        """The request failed: the streams waiting for it in ``begin()`` fail too."""
        if self._barrier is not None:
            self._barrier.abort()

    def piece(self) -> None:
        self.stamps.append(time.perf_counter())
        self.first_piece.set()


StreamOne = Callable[[int, Stream], None]


# -- figures from timelines (pure) ---------------------------------------------------
def ttft(stream: Stream) -> float:
    return stream.stamps[0] - stream.start if stream.stamps else math.nan


def decode_rate(stream: Stream) -> float:
    """Tokens/s from the first piece to the last, the first token's wait left out."""
    span = stream.stamps[-1] - stream.stamps[0] if stream.stamps else 0.0
    return (stream.tokens - 1) / span if stream.tokens > 1 and span > 0 else math.nan


def wall(streams: Iterable[Stream]) -> float:
    """From the first request sent to the last stream closed."""
    streams = list(streams)
    return max(s.end for s in streams) - min(s.start for s in streams)


def aggregate_rate(streams: Iterable[Stream]) -> float:
    """All the completion tokens over the time from the first request to the last token:
    what the machine delivers to clients at once."""
    streams = [s for s in streams if s.stamps]
    if not streams:
        return math.nan
    return sum(s.tokens for s in streams) / (max(s.stamps[-1] for s in streams) - min(s.start for s in streams))


# -- measuring (shared by both sides) ------------------------------------------------
def _run(stream_one: StreamOne, max_tokens: int, stream: Stream, errors: list) -> None:
    try:
        stream_one(max_tokens, stream)
    except BaseException as err:  # raised by join(), once the others have ended
        errors.append(err)
        stream.abort()
    finally:
        stream.end = time.perf_counter()


def start_streams(stream_one: StreamOne, n: int, max_tokens: int) -> tuple[list[Stream], Callable[[], None]]:
    """``n`` streams on threads of their own, their requests sent together; the second value
    joins them (raising the first error)."""
    barrier = threading.Barrier(n, timeout=120)
    streams, errors = [Stream(barrier) for _ in range(n)], []
    threads = [threading.Thread(target=_run, args=(stream_one, max_tokens, s, errors), daemon=True)
               for s in streams]
    for t in threads:
        t.start()

    def join() -> None:
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
    return streams, join


def concurrent_streams(stream_one: StreamOne, n: int, max_tokens: int) -> list[Stream]:
    streams, join = start_streams(stream_one, n, max_tokens)
    join()
    return streams


def one_stream(stream_one: StreamOne, max_tokens: int) -> Stream:
    return concurrent_streams(stream_one, 1, max_tokens)[0]


def newcomer_ttfts(stream_one: StreamOne) -> tuple[list[float], list[float]]:
    """TTFT of a request sent once ``NEWCOMER_OTHERS`` others all stream (each has its
    first piece out, or has ended), and of the same request alone; ``NEWCOMER_TRIALS`` of
    each. Sent at the first one's first piece instead, it would wait for the others'
    prompts: llama-server gives the first request the slot that holds its prompt already."""
    crowded, alone = [], []
    for _ in range(NEWCOMER_TRIALS):
        others, join = start_streams(stream_one, NEWCOMER_OTHERS, NEWCOMER_OTHERS_TOKENS)
        while not all(s.first_piece.is_set() or s.end for s in others):
            time.sleep(0.005)
        crowded.append(ttft(one_stream(stream_one, NEWCOMER_TOKENS)))
        join()
        alone.append(ttft(one_stream(stream_one, NEWCOMER_TOKENS)))
    return crowded, alone


def measure(stream_one: StreamOne, levels: Iterable[int] = LEVELS) -> dict:
    """Every figure of one side, given its stream (for llama-server, each level needs a
    server with as many slots: see ``measure_peer``)."""
    one_stream(stream_one, NEWCOMER_TOKENS)  # warm-up: the model loaded, the first decode done
    figures = {"levels": {n: concurrent_streams(stream_one, n, DECODE_TOKENS) for n in levels}}
    figures["newcomer"] = newcomer_ttfts(stream_one)
    figures["alone"] = [one_stream(stream_one, CROWD_TOKENS) for _ in range(ALONE_REPEATS)]
    figures["crowd"] = concurrent_streams(stream_one, CROWD, CROWD_TOKENS)
    return figures


# -- the runtime ---------------------------------------------------------------------
def runtime_streamer(client, assistant_id: str) -> StreamOne:
    """One run on a new thread, streamed through the official SDK."""
    def stream_one(max_tokens: int, stream: Stream) -> None:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": PROMPT}])
        stream.begin()
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id, temperature=0.0,
                                             max_completion_tokens=max_tokens) as events:
            for event in events:
                if event.event == "thread.message.delta":
                    stream.piece()
            run = events.get_final_run()
        if run.status not in ("completed", "incomplete"):  # incomplete: max_completion_tokens reached
            raise RuntimeError(f"run {run.id} ended {run.status}: {run.last_error}")
        stream.tokens = run.usage.completion_tokens
    return stream_one


def runtime_settings(tmp: Path, models_dir: Path) -> Settings:
    """A slot for every run measured at once, each with llama-server's context per slot."""
    return Settings.from_env(data_dir=tmp / "data", models_dir=models_dir, n_ctx=CTX_PER_SLOT,
                             max_concurrent_runs=max(*LEVELS, NEWCOMER_OTHERS + 1, CROWD))


# -- llama-server --------------------------------------------------------------------
def completion_body(prompt_tokens: list[int], max_tokens: int, *, repeat_penalty: float, top_k: int) -> dict:
    """Greedy, with the runtime's repetition penalty, on the runtime's very prompt tokens."""
    return {"prompt": list(prompt_tokens), "n_predict": max_tokens, "stream": True, "temperature": 0.0,
            "top_k": top_k, "repeat_penalty": repeat_penalty, "seed": 0}


def sse_events(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON objects of llama-server's ``/completion`` stream (``data: {...}`` lines); an
    ``error`` object raises."""
    for line in lines:
        line = line.strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise RuntimeError(f"llama-server: {event['error']}")
        yield event


def server_streamer(http, url: str, prompt_tokens: list[int], sampling: dict) -> StreamOne:
    """One ``/completion`` request streamed by ``http`` (an ``httpx.Client``)."""
    def stream_one(max_tokens: int, stream: Stream) -> None:
        body = completion_body(prompt_tokens, max_tokens, **sampling)
        stream.begin()
        with http.stream("POST", url + "/completion", json=body, timeout=600) as response:
            response.raise_for_status()
            for event in sse_events(response.iter_lines()):
                if event.get("content"):
                    stream.piece()
                if event.get("stop"):
                    stream.tokens = event["tokens_predicted"]
    return stream_one


def measure_peer(binary: Path, model_path: Path, prompt_tokens: list[int], sampling: dict,
                 threads: tuple[int, int], levels: Iterable[int] = LEVELS) -> dict:
    """``measure`` against llama-server, started with as many slots as each figure's
    streams at once and the runtime's (decode, batch) ``threads``."""
    import httpx

    def with_server(slots: int, work: Callable[[StreamOne], object]):
        # A connection per request: reusing kept-alive ones, a request now and then found
        # its connection closed by llama-server ("Server disconnected without sending a response").
        with LlamaServer(binary, model_path, threads=threads[0], threads_batch=threads[1], slots=slots) as server, \
                httpx.Client(limits=httpx.Limits(max_connections=CROWD + 4, max_keepalive_connections=0)) as http:
            stream_one = server_streamer(http, server.url, prompt_tokens, sampling)
            try:
                one_stream(stream_one, NEWCOMER_TOKENS)  # warm-up
                return work(stream_one)
            except Exception as err:
                raise RuntimeError(f"llama-server with {slots} slots failed ({err!r}); its log "
                                   f"ends:\n{server.log_tail()}") from err

    figures = {"levels": {n: with_server(n, lambda s, n=n: concurrent_streams(s, n, DECODE_TOKENS))
                          for n in levels}}
    figures["newcomer"] = with_server(NEWCOMER_OTHERS + 1, newcomer_ttfts)
    figures["alone"], figures["crowd"] = with_server(CROWD, lambda s: (
        [one_stream(s, CROWD_TOKENS) for _ in range(ALONE_REPEATS)], concurrent_streams(s, CROWD, CROWD_TOKENS)))
    return figures


# -- figures into tables ---------------------------------------------------------------
def level_rows(levels: dict[int, list[Stream]]) -> list[list]:
    base = aggregate_rate(levels[min(levels)])
    return [[n, aggregate_rate(s), median([decode_rate(x) for x in s]), aggregate_rate(s) / base]
            for n, s in levels.items()]


def newcomer_row(crowded: list[float], alone: list[float]) -> list:
    return [percentile(alone, 50) * 1000, percentile(alone, 95) * 1000, percentile(crowded, 50) * 1000,
            percentile(crowded, 95) * 1000, percentile(crowded, 95) / percentile(alone, 95)]


def crowd_row(crowd: list[Stream], alone: list[Stream]) -> list:
    serial = CROWD * median([wall([s]) for s in alone])
    return [wall(crowd), serial, wall(crowd) / serial, median([ttft(s) for s in crowd])]


def goals_line(name: str, runtime: dict, peer: dict | None) -> str:
    """The four ratios of issue #15 against their goals."""
    def mark(value: float, ok: bool) -> str:
        return "n/a" if math.isnan(value) else f"{value:.2f} ({'met' if ok else 'not met'})"

    level = 8 if 8 in runtime["levels"] else max(runtime["levels"])
    agg = (aggregate_rate(runtime["levels"][level]) / aggregate_rate(peer["levels"][level])
           if peer and level in peer["levels"] else math.nan)
    newcomer = newcomer_row(*runtime["newcomer"])[-1]
    crowd_wall, _, crowd, crowd_ttft = crowd_row(runtime["crowd"], runtime["alone"])
    return (f"\n{name} against the goals: aggregate at {level} runs / llama-server at {level} slots "
            f"{mark(agg, agg >= GOALS['aggregate'])} (>= {GOALS['aggregate']}); newcomer TTFT p95 / alone "
            f"{mark(newcomer, newcomer <= GOALS['newcomer'])} (<= {GOALS['newcomer']:g}); {CROWD}-run wall / "
            f"serial sum {mark(crowd, crowd <= GOALS['crowd'])} (<= {GOALS['crowd']}); median TTFT of the {CROWD} "
            f"{crowd_ttft:.2f} s ({'met' if crowd_ttft < GOALS['crowd_ttft_s'] else 'not met'}) "
            f"(< {GOALS['crowd_ttft_s']} s)")


def report(name: str, threads: tuple[int, int], sides: dict[str, dict | None], missing_peer: str | None = None) -> list[str]:
    blocks = []
    rows = [[side, *row] for side, figures in sides.items() if figures for row in level_rows(figures["levels"])]
    blocks.append(table(f"(a) {name}: {DECODE_TOKENS}-token greedy streams started together, llama.cpp threads: "
                        f"{threads[0]} (batches: {threads[1]}) (aggregate: all tokens from the first request to the last token)",
                        ["side", "streams", "aggregate tok/s", "per-stream decode tok/s (median)",
                         "aggregate / 1 stream"], rows))
    rows = [[side, *newcomer_row(*figures["newcomer"])] for side, figures in sides.items() if figures]
    blocks.append(table(f"(b) {name}: TTFT of a request arriving while {NEWCOMER_OTHERS} others stream "
                        f"({NEWCOMER_TRIALS} trials; goal p95 <= {GOALS['newcomer']:g}x alone)",
                        ["side", "alone p50 ms", "alone p95 ms", "crowded p50 ms", "crowded p95 ms",
                         "crowded p95 / alone p95"], rows))
    rows = [[side, *crowd_row(figures["crowd"], figures["alone"])] for side, figures in sides.items() if figures]
    blocks.append(table(f"(c) {name}: {CROWD} streams of {CROWD_TOKENS} tokens at once against {CROWD} times one "
                        f"alone (median of {ALONE_REPEATS}) (goals: <= {GOALS['crowd']}, median TTFT < "
                        f"{GOALS['crowd_ttft_s']} s)",
                        ["side", "wall s", "serial sum s", "wall / serial", "median TTFT s"], rows))
    if missing_peer:
        blocks.append(f"\nllama-server: {missing_peer}")
    blocks.append(goals_line(name, sides["runtime"], sides.get("llama-server")))
    return blocks


def bench_model(settings: Settings, name: str) -> list[str]:
    entry = CATALOG[name]
    levels = MODEL_LEVELS.get(name, LEVELS)
    model_path = settings.models_dir / entry.filename
    if not model_path.is_file():
        return [f"\n## {name}: not present in {settings.models_dir} (skipped)"]
    with tempfile.TemporaryDirectory() as tmp, \
            LocalAssistants(runtime_settings(Path(tmp), settings.models_dir)) as la:
        client = la.client
        assistant = client.beta.assistants.create(model=entry.name, instructions=INSTRUCTIONS)
        model = la.runtime.model_pool.get(entry.name)
        prompt_tokens = model.tokenize_prompt(model.format([{"role": "system", "content": INSTRUCTIONS},
                                                            {"role": "user", "content": PROMPT}]))
        sampling = {"repeat_penalty": model.repeat_penalty, "top_k": model.top_k}
        threads = (model.n_threads, model.n_threads_batch)
        runtime = measure(runtime_streamer(client, assistant.id), levels)
    peer, missing = None, None
    if settings.llama_server.is_file():
        peer = measure_peer(settings.llama_server, model_path, prompt_tokens, sampling, threads, levels)
    else:
        missing = (f"not built at {settings.llama_server} (`make llama-server` builds it; "
                   "LOCAL_ASSISTANTS_LLAMA_SERVER points elsewhere): no peer figures")
    return report(name, threads, {"runtime": runtime, "llama-server": peer}, missing)


def main(settings: Settings) -> Iterator[str]:
    """Each model's blocks as soon as they are measured."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in (TEST_MODEL, DEFAULT_MODEL):
        yield from bench_model(settings, name)
