"""The Responses benchmark end to end on SmolLM2 with small sizes: each part runs through
the real server and SDK and prints its figures (the full benchmark, on both models, is
run by ``make bench``; timings are not judged here)."""

from __future__ import annotations

from local_assistants.bench import responses_bench as rb
from local_assistants.catalog import TEST_MODEL

from conftest import MODELS_DIR


def test_streaming_decode_through_responses_against_raw():
    block = rb.decode_throughput(MODELS_DIR, TEST_MODEL, tokens=16, repeats=1)
    assert f"(a) {TEST_MODEL}: Responses streaming decode, 16 tokens" in block
    assert "goal: ratio >= 0.97" in block
    lines = block.splitlines()
    assert lines[2].split() == ["path", "prompt", "tokens", "tokens/s", "ratio", "vs", "raw"]
    raw = next(line for line in lines if line.startswith("raw llama-cpp-python"))
    served = next(line for line in lines if line.startswith("POST /v1/responses, stream=True"))
    assert raw.split()[-1] == "1.000"
    assert raw.split()[-3] == served.split()[-3]  # the same prompt tokens on both sides
    assert float(served.split()[-1]) > 0


def test_follow_up_time_to_first_text_through_both_histories():
    block = rb.follow_up_ttft(MODELS_DIR, TEST_MODEL, pairs=2, chain_counts=(1, 2), cold_tries=1)
    assert "time to first text of a follow-up response" in block and "goal: >= 20x" in block
    for name in ("history via", "chains taking turns", "prompt tokens", "cached tokens warm / cold", "cold ms",
                 "follow-up ms", "speed-up"):
        assert name in block
    rows = [line.split() for line in block.splitlines()[4:]]
    assert [(r[0], r[1]) for r in rows] == [("previous_response_id", "1"), ("previous_response_id", "2"),
                                            ("conversation", "1"), ("conversation", "2")]
    for r in rows:
        warm_cached, cold_cached = int(r[3]), int(r[5])
        assert cold_cached == 0 < warm_cached < int(r[2])  # follow-ups reuse the KV state; cold ones do not


def test_resuming_a_stored_stream():
    block = rb.resume_latency(MODELS_DIR, sizes=(16,), tries=2)
    assert "starting_after=K, p50 of 2" in block
    for name in ("stored events N", "starting_after K", "events read", "first event ms p50", "last event ms p50"):
        assert name in block
    rows = [line.split() for line in block.splitlines()[4:]]
    n = int(rows[0][0])
    assert n > 16  # created, in_progress, item and part events around the deltas, the final one
    assert [(int(r[1]), int(r[2])) for r in rows] == [(-1, n), (n // 2, n - 1 - n // 2), (n - 2, 1)]
