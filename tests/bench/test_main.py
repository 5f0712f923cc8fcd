"""``python -m local_assistants.bench``: which benchmarks ``--only`` runs and what is printed
(each benchmark replaced by one that returns a block at once)."""

from __future__ import annotations

import pytest

from local_assistants.bench import __main__ as bench_main
from local_assistants.bench import (chat_bench, code_bench, concurrency_bench, embeddings_bench, functions_bench,
                                   responses_bench, retrieval_bench, runs_bench, window_bench)

GROUPS = {"window": window_bench, "functions": functions_bench, "code": code_bench, "retrieval": retrieval_bench,
          "runs": runs_bench, "responses": responses_bench, "embeddings": embeddings_bench, "chat": chat_bench,
          "concurrency": concurrency_bench}


@pytest.fixture
def ran(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCAL_ASSISTANTS_HOME", str(tmp_path))
    calls = []
    for name, module in GROUPS.items():
        monkeypatch.setattr(module, "main", lambda *args, name=name: calls.append((name, args)) or [f"## {name}"])
    return calls


def test_every_group_runs_in_order_and_prints_its_blocks(ran, capsys):
    assert bench_main.main([]) == 0
    assert [name for name, _ in ran] == ["window", "functions", "code", "retrieval", "runs", "responses",
                                         "embeddings", "chat", "concurrency"]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# local-assistants benchmarks, ")
    assert out[1:] == ["## window", "## functions", "## code", "## retrieval", "## runs", "## responses",
                       "## embeddings", "## chat", "## concurrency"]


@pytest.mark.parametrize("only", sorted(GROUPS))
def test_only_runs_one_group(ran, only, capsys):
    assert bench_main.main(["--only", only]) == 0
    assert [name for name, _ in ran] == [only]
    assert capsys.readouterr().out.splitlines()[1:] == [f"## {only}"]


def test_an_unknown_group_is_refused(ran):
    with pytest.raises(SystemExit):
        bench_main.main(["--only", "everything"])
    assert ran == []
