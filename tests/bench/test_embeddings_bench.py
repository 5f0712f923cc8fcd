"""The embeddings benchmark's pure parts: its chunks, the timing of both ways in turn and
the table (the benchmark itself embeds thousands of texts; ``--only embeddings``)."""

from __future__ import annotations

from local_assistants.bench import embeddings_bench as eb


def test_chunks_are_gsm8k_solutions():
    texts = eb.chunks(1500)
    assert len(texts) == 1500 and texts[0] == texts[1319] and "####" in texts[0]
    short = eb.chunks(10, fits=lambda text: len(text) < 200)
    assert len(short) == 10 and all(len(t) < 200 for t in short)


def test_both_ways_are_timed_in_turn_after_a_warm_up():
    calls = []
    service_rate, direct_rate = eb.rates(["t"] * 40, lambda b: calls.append(("service", len(b))),
                                         lambda b: calls.append(("direct", len(b))), rounds=2)
    assert calls == [("service", 32), ("direct", 32), ("service", 40), ("direct", 40), ("service", 40), ("direct", 40)]
    assert service_rate > 0 and direct_rate > 0


def test_the_table_gives_the_ratio_and_the_goal():
    block = eb.report(1000, 90.0, 100.0, 1)
    assert "goal: service >= 0.9x direct; met" in block and "0.900" in block
    assert "NOT met" in eb.report(1000, 80.0, 100.0, 1)
