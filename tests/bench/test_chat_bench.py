"""The chat completions benchmark end to end on SmolLM2 with small sizes: each part runs
through the real server and SDK and prints its figures (the full benchmark, on both
models, is run by ``make bench``; timings are not judged here)."""

from __future__ import annotations

import pytest

from local_assistants.bench import chat_bench as chb
from local_assistants.bench import concurrency_bench as cb
from local_assistants.catalog import TEST_MODEL
from local_assistants.config import Settings

from conftest import MODELS_DIR, sdk_client


def test_streaming_decode_through_chat_completions_against_raw():
    block = chb.decode_throughput(MODELS_DIR, TEST_MODEL, tokens=16, repeats=1)
    assert f"(a) {TEST_MODEL}: chat completions streaming decode, 16 tokens" in block
    assert "goal: ratio >= 0.97" in block
    lines = block.splitlines()
    assert lines[2].split() == ["path", "prompt", "tokens", "tokens/s", "ratio", "vs", "raw"]
    raw = next(line for line in lines if line.startswith("raw llama-cpp-python"))
    served = next(line for line in lines if line.startswith("POST /v1/chat/completions, stream=True"))
    assert raw.split()[-1] == "1.000"
    assert raw.split()[-3] == served.split()[-3]  # the same prompt tokens on both sides
    assert float(served.split()[-1]) > 0


def test_two_chat_completions_at_once_report_their_tokens(server):
    client = sdk_client(server.base_url)
    messages = [{"role": "user", "content": "Count to twenty."}]
    streams = cb.concurrent_streams(chb.chat_streamer(client, TEST_MODEL, messages), 2, 8)
    client.close()
    assert [0 < s.tokens <= 8 for s in streams] == [True, True]
    assert all(s.stamps and s.start < s.stamps[0] <= s.end for s in streams)


def test_the_aggregate_without_the_peer_prints_the_runtime_and_says_how_to_build_it(tmp_path):
    missing = tmp_path / "llama-server"
    blocks = chb.aggregate_throughput(MODELS_DIR, TEST_MODEL, llama_server=missing, levels=(1, 2), tokens=8)
    assert len(blocks) == 3
    assert f"(b) {TEST_MODEL}: 8-token greedy chat completions streamed at once" in blocks[0]
    rows = [line.split() for line in blocks[0].splitlines()[4:]]
    assert [r[:4] for r in rows] == [["runtime", "(chat", "completions)", "1"],
                                     ["runtime", "(chat", "completions)", "2"]]
    assert rows[0][-1] == "1.000" and float(rows[1][4]) > 0
    assert blocks[1].startswith(f"\nllama-server: not built at {missing}") and "make llama-server" in blocks[1]
    assert "aggregate of 2 chat completions / llama-server at 2 slots n/a (>= 0.95)" in blocks[2]


def test_the_aggregate_against_llama_server():
    binary = Settings.from_env().llama_server
    if not binary.is_file():
        pytest.skip("llama-server is not built (make llama-server)")
    blocks = chb.aggregate_throughput(MODELS_DIR, TEST_MODEL, llama_server=binary, levels=(1, 2), tokens=8)
    assert len(blocks) == 2
    sides = [line.split()[0] for line in blocks[0].splitlines()[4:]]
    assert sides == ["runtime", "runtime", "llama-server", "llama-server"]
    assert "aggregate of 2 chat completions / llama-server at 2 slots" in blocks[1] and "n/a" not in blocks[1]


def test_system_prompts_have_the_same_length_and_differ():
    a, b = chb.system_prompt(5, 0), chb.system_prompt(5, 1)
    assert a != b and len(a) == len(b) and a.count("\nRule ") == 5


def test_a_repeated_system_prompt_reuses_the_kv_state_and_a_cold_one_does_not():
    block = chb.system_prompt_ttft(MODELS_DIR, TEST_MODEL, rules=6, prompt_counts=(1, 2), warm_turns=1,
                                   cold_tries=1)
    assert "with a long system prompt sent before" in block
    for name in ("system prompts taking turns", "prompt tokens", "cached tokens warm / cold", "cold ms",
                 "repeated ms", "speed-up"):
        assert name in block
    rows = [line.split() for line in block.splitlines()[4:]]
    assert [r[0] for r in rows] == ["1", "2"]
    for r in rows:
        prompt, warm_cached, cold_cached = int(r[1]), int(r[2]), int(r[4])
        assert cold_cached == 0 < warm_cached < prompt  # the system prompt is reused; cold it is not
        assert float(r[-1]) > 0
