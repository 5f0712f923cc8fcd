"""The run benchmark's thread history (the benchmark itself runs real models through the
server and is run by ``make bench``)."""

from __future__ import annotations

from local_assistants.bench.runs_bench import _history


def test_the_history_alternates_distinct_questions_and_their_answers():
    messages = _history(30)
    assert len(messages) == 60
    assert [m["role"] for m in messages[:4]] == ["user", "assistant", "user", "assistant"]
    assert len({m["content"] for m in messages}) == 60  # no two alike: nothing for a cache to share
    assert messages[7]["content"].startswith("Answer 3: multiply 3 by 10 to get 30, then by 7 to get 21")
    assert "51" in messages[7]["content"] and messages[6]["content"].startswith("Question 3:")
    assert _history(0) == []
