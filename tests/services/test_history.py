"""ThreadHistory: newest-first items from a real SQLite store, counts stored once."""

from local_assistants import Runtime, Settings
from local_assistants.core.window import WindowItem
from local_assistants.services.history import ThreadHistory


def test_history_reads_newest_first_counts_once_and_puts_run_items_first(tmp_path):
    calls = []

    def count(text):
        calls.append(text)
        return len(text.split())

    with Runtime(Settings(data_dir=tmp_path / "d", models_dir=tmp_path / "m"), start_worker=False) as rt:
        msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m {i}"} for i in range(150)]
        thread = rt.threads.create(messages=msgs)
        history = ThreadHistory(rt.store, thread["id"], "tok", count, overhead=3)
        run_items = [WindowItem("call_1", "assistant", "call x", 2, group="g"),
                     WindowItem("out_1", "tool", "output", 1, group="g")]
        items = list(history.newest_first(run_items))
        assert [i.id for i in items[:2]] == ["out_1", "call_1"]
        assert [i.text for i in items[2:]] == [f"m {i}" for i in reversed(range(150))]
        assert all(i.tokens == 2 + 3 for i in items[2:])
        assert len(calls) == 150
        list(history.newest_first())  # counted once: the second walk reads stored counts
        assert len(calls) == 150
        first = history.first_user()
        assert first.text == "m 0" and first.first_user
