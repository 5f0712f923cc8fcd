"""The concurrency benchmark's figures from timelines, its shared measuring helpers (with
stand-in streams), llama-server's stream and request, and both sides on SmolLM2 with two
short streams at once (the benchmark itself is run by ``make bench``)."""

from __future__ import annotations

import itertools
import math
import threading
import time

import pytest

from local_assistants.bench import concurrency_bench as cb
from local_assistants.bench.concurrency_bench import (Stream, aggregate_rate, concurrent_streams, decode_rate,
                                                      sse_events, ttft, wall)
from local_assistants.catalog import CATALOG, TEST_MODEL
from local_assistants.config import Settings

from conftest import MODELS_DIR, sdk_client


def _stream(start: float, stamps: list[float], tokens: int | None = None, end: float | None = None) -> Stream:
    s = Stream()
    s.start, s.stamps = start, list(stamps)
    s.tokens = len(stamps) if tokens is None else tokens
    s.end = stamps[-1] if end is None and stamps else end
    return s


# -- figures -------------------------------------------------------------------------
def test_time_to_first_token_is_from_the_request_to_the_first_piece():
    assert ttft(_stream(10.0, [10.5, 11.0])) == 0.5
    assert math.isnan(ttft(_stream(10.0, [], end=11.0)))


def test_a_streams_decode_rate_leaves_out_the_wait_for_its_first_token():
    assert decode_rate(_stream(0.0, [5.0, 6.0, 7.0], tokens=21)) == 10.0  # 20 tokens after the first in 2 s
    assert math.isnan(decode_rate(_stream(0.0, [5.0], tokens=1)))
    assert math.isnan(decode_rate(_stream(0.0, [], tokens=0, end=1.0)))


def test_wall_time_is_from_the_first_request_to_the_last_stream_closed():
    assert wall([_stream(1.0, [2.0], end=4.0), _stream(0.5, [1.0], end=3.0)]) == 3.5


def test_the_aggregate_counts_every_token_from_the_first_request_to_the_last_token():
    streams = [_stream(0.0, [1.0, 2.0], tokens=30, end=2.5), _stream(0.0, [1.0, 4.0], tokens=50, end=4.5)]
    assert aggregate_rate(streams) == 20.0  # 80 tokens in 4 s
    assert aggregate_rate(streams[:1]) == 15.0
    assert math.isnan(aggregate_rate([_stream(0.0, [], end=1.0)]))


def test_the_rows_give_ratios_to_one_stream_and_the_goals_line_reads_them():
    one = [_stream(0.0, [1.0, 2.0], tokens=20)]  # 10 tok/s
    eight = [_stream(0.0, [1.0, 5.0], tokens=40) for _ in range(8)]  # 320 tokens in 5 s
    rows = cb.level_rows({1: one, 8: eight})
    assert rows[0] == [1, 10.0, 19.0, 1.0] and rows[1][0] == 8 and rows[1][3] == 6.4
    assert cb.newcomer_row([0.3, 0.2, 0.4], [0.1, 0.2, 0.2])[-1] == 2.0
    alone = [_stream(0.0, [0.2], end=1.0), _stream(0.0, [0.2], end=2.0), _stream(0.0, [0.2], end=3.0)]
    crowd = [_stream(0.0, [0.5 + i], end=20.0) for i in range(cb.CROWD)]
    assert cb.crowd_row(crowd, alone) == [20.0, cb.CROWD * 2.0, 20.0 / (cb.CROWD * 2.0), 10.0]
    runtime = {"levels": {1: one, 8: eight}, "newcomer": ([0.3], [0.1]), "crowd": crowd, "alone": alone}
    peer = {"levels": {8: [_stream(0.0, [1.0, 4.0], tokens=40) for _ in range(8)]}}  # 320 in 4 s
    line = cb.goals_line("m", runtime, peer)
    assert "aggregate at 8 runs / llama-server at 8 slots 0.80 (not met)" in line
    assert "newcomer TTFT p95 / alone 3.00 (not met)" in line
    assert "wall / serial sum 0.50 (met)" in line and "median TTFT of the 20 10.00 s (not met)" in line
    assert "llama-server at 8 slots n/a" in cb.goals_line("m", runtime, None)


def test_without_the_peer_the_report_says_how_to_build_it(monkeypatch):
    monkeypatch.setattr(cb, "CROWD", 2)
    s = _stream(0.0, [0.1, 0.2], tokens=2, end=0.3)
    figures = {"levels": {1: [s]}, "newcomer": ([0.2], [0.1]), "crowd": [s, s], "alone": [s]}
    blocks = cb.report("m", (1, 1), {"runtime": figures, "llama-server": None}, missing_peer="not built")
    assert len(blocks) == 5 and "\nruntime " in blocks[0] and "llama-server " not in blocks[0]
    assert blocks[3] == "\nllama-server: not built" and "n/a" in blocks[4]


# -- measuring with stand-in streams ---------------------------------------------------
class StandIn:
    """Streams ``max_tokens`` pieces, one per millisecond, recording how many requests had
    been made ready when each left."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = 0
        self.ready_when_sent: list[int] = []
        self.sent: list[float] = []

    def __call__(self, max_tokens: int, stream: Stream) -> None:
        with self.lock:
            self.ready += 1
        stream.begin()
        with self.lock:
            self.ready_when_sent.append(self.ready)
            self.sent.append(stream.start)
        for _ in range(max_tokens):
            time.sleep(0.001)
            stream.piece()
        stream.tokens = max_tokens


def test_concurrent_streams_leave_together_and_each_reports_its_timeline():
    stand_in = StandIn()
    streams = concurrent_streams(stand_in, 4, 5)
    assert stand_in.ready_when_sent == [4, 4, 4, 4]  # no request left before all were ready
    assert [s.tokens for s in streams] == [5] * 4 and all(len(s.stamps) == 5 for s in streams)
    assert all(s.start <= s.stamps[0] and s.stamps[-1] <= s.end for s in streams)


def test_a_failing_stream_fails_the_measure_without_leaving_the_others_waiting():
    calls = itertools.count()

    def stream_one(max_tokens, stream):
        if next(calls) == 0:
            raise ConnectionError("refused")
        stream.begin()  # the others wait here for all three: the failure releases them

    with pytest.raises(ConnectionError, match="refused"):
        concurrent_streams(stream_one, 3, 1)


def test_the_newcomer_is_sent_once_all_the_others_stream_and_again_alone(monkeypatch):
    monkeypatch.setattr(cb, "NEWCOMER_TRIALS", 2)
    monkeypatch.setattr(cb, "NEWCOMER_OTHERS_TOKENS", 20)
    firsts: list[float] = []
    stand_in = StandIn()

    def stream_one(max_tokens, stream):
        stand_in(max_tokens, stream)
        firsts.append((max_tokens, stream.stamps[0], stream.start))

    crowded, alone = cb.newcomer_ttfts(stream_one)
    assert len(crowded) == len(alone) == 2 and all(t > 0 for t in crowded + alone)
    others = [f for f in firsts if f[0] == cb.NEWCOMER_OTHERS_TOKENS]
    newcomers = [f for f in firsts if f[0] == cb.NEWCOMER_TOKENS]
    assert len(others) == 2 * cb.NEWCOMER_OTHERS and len(newcomers) == 4
    # each trial's newcomer left once every one of that trial's others had its first piece
    for trial in range(2):
        trial_others = others[trial * cb.NEWCOMER_OTHERS:(trial + 1) * cb.NEWCOMER_OTHERS]
        assert all(first <= newcomers[2 * trial][2] for _, first, _ in trial_others)


# -- llama-server's side ---------------------------------------------------------------
def test_the_stream_yields_each_data_object_and_stops_at_done():
    lines = ['data: {"content": "Once", "stop": false, "tokens_predicted": 1}', "",
             ": a comment", 'data: {"content": "", "stop": true, "tokens_predicted": 2}', "data: [DONE]",
             'data: {"content": "after"}']
    assert [e["content"] for e in sse_events(lines)] == ["Once", ""]


def test_an_error_in_the_stream_raises():
    with pytest.raises(RuntimeError, match="slot unavailable"):
        list(sse_events(['data: {"error": {"code": 503, "message": "slot unavailable"}}']))


def test_the_request_is_greedy_on_the_runtimes_own_tokens_and_sampling():
    body = cb.completion_body([1, 2, 3], 128, repeat_penalty=1.1, top_k=40)
    assert body == {"prompt": [1, 2, 3], "n_predict": 128, "stream": True, "temperature": 0.0, "top_k": 40,
                    "repeat_penalty": 1.1, "seed": 0}


# -- both sides for real, two short streams at once ------------------------------------
def test_two_runs_at_once_through_the_runtime_report_their_tokens(server):
    client = sdk_client(server.base_url)
    assistant = client.beta.assistants.create(model=TEST_MODEL, instructions=cb.INSTRUCTIONS)
    streams = concurrent_streams(cb.runtime_streamer(client, assistant.id), 2, 8)
    client.close()
    assert [0 < s.tokens <= 8 for s in streams] == [True, True]
    assert all(s.stamps and s.start < s.stamps[0] <= s.end for s in streams)


def test_two_requests_at_once_through_llama_server_report_their_tokens(server):
    import httpx

    binary = Settings.from_env().llama_server
    if not binary.is_file():
        pytest.skip("llama-server is not built (make llama-server)")
    model = server.runtime.model_pool.get(TEST_MODEL)
    tokens = model.tokenize_prompt(model.format([{"role": "user", "content": "Count to twenty."}]))
    with cb.LlamaServer(binary, MODELS_DIR / CATALOG[TEST_MODEL].filename, threads=1, slots=2) as peer, \
            httpx.Client() as http:
        streams = concurrent_streams(cb.server_streamer(http, peer.url, tokens, {"repeat_penalty": 1.1,
                                                                                 "top_k": 40}), 2, 8)
    assert [s.tokens for s in streams] == [8, 8]
    assert all(s.stamps and s.start < s.stamps[0] <= s.end for s in streams)
