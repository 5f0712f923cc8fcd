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


# -- a branch of a chain of responses: a thread with a ``parent`` -------------------------------
def _chain(tmp_path):
    """A: a0 a1 a2 a3; B (after A's a1): b0 b1; C (after B's b0): c0 c1."""
    from local_assistants.adapters.sqlite_store import SQLiteStore
    from local_assistants.services.messages import MessagesService
    from local_assistants.services.threads import ThreadsService

    store = SQLiteStore(tmp_path / "db.sqlite")
    threads = ThreadsService(store, MessagesService(store))

    def thread(name, parent=None):
        t = threads.create(messages=[{"role": "user" if i % 2 == 0 else "assistant", "content": f"{name}{i}"}
                                     for i in range(4 if name == "a" else 2)])
        if parent is not None:
            t["parent"] = {"thread_id": parent[0]["id"], "message_id": ids(store, parent[0])[parent[1]]}
            store.update("threads", t)
        return t

    a = thread("a")
    b = thread("b", (a, 1))
    c = thread("c", (b, 0))
    return store, a, b, c


def ids(store, thread):
    return [m["id"] for m in store.find("messages", thread_id=thread["id"])]


def words(text):
    return len(text.split())


def test_a_branch_reads_its_own_messages_then_its_parents_up_to_where_it_starts(tmp_path):
    store, a, b, c = _chain(tmp_path)
    history = ThreadHistory(store, c["id"], "tok", words, overhead=1)
    assert [i.text for i in history.newest_first()] == ["c1", "c0", "b0", "a1", "a0"]
    # each branch sees its own line only
    assert [i.text for i in ThreadHistory(store, b["id"], "tok", words, 1).newest_first()] == ["b1", "b0", "a1", "a0"]
    assert [i.text for i in ThreadHistory(store, a["id"], "tok", words, 1).newest_first()] == ["a3", "a2", "a1", "a0"]
    assert all(i.tokens == 2 for i in history.newest_first())


def test_a_branch_s_first_user_message_is_its_root_s(tmp_path):
    store, a, b, c = _chain(tmp_path)
    first = ThreadHistory(store, c["id"], "tok", words, overhead=1).first_user()
    assert first.text == "a0" and first.first_user and first.id == ids(store, a)[0]
    root = store.find("messages", thread_id=a["id"])[0]
    store.delete("messages", root["id"])  # the root now starts with an assistant message
    assert ThreadHistory(store, c["id"], "tok", words, overhead=1).first_user() is None


def test_a_branch_stops_where_its_parent_message_is_gone(tmp_path):
    store, a, b, c = _chain(tmp_path)
    store.delete("messages", ids(store, a)[1])
    assert [i.text for i in ThreadHistory(store, c["id"], "tok", words, 1).newest_first()] == ["c1", "c0", "b0"]


def test_a_branch_replays_the_tool_work_before_the_message_it_starts_after(tmp_path):
    store, a, b, c = _chain(tmp_path)
    answer = store.find("messages", thread_id=a["id"])[1]  # a1, B's starting point
    answer["run_id"] = "run_a"
    store.update("messages", answer, thread_id=a["id"], run_id="run_a")
    for step in ({"id": "step_calls", "type": "tool_calls", "step_details": {"tool_calls": []}},
                 {"id": "step_answer", "type": "message_creation",
                  "step_details": {"message_creation": {"message_id": answer["id"]}}}):
        store.insert("run_steps", step, thread_id=a["id"], run_id="run_a")
    replayed = []

    def replay(steps):
        replayed.append([s["id"] for s in steps])
        return [WindowItem("call", "assistant", "code", 1, group="g", replayed=True),
                WindowItem("out", "tool", "12516", 1, group="g", replayed=True)]

    history = ThreadHistory(store, b["id"], "tok", words, overhead=1, replay=replay)
    assert [i.id for i in history.newest_first()][1:] == [ids(store, b)[0], answer["id"], "out", "call",
                                                          ids(store, a)[0]]
    assert replayed == [["step_calls"]]
    list(history.newest_first())
    assert replayed == [["step_calls"]]  # replayed once per history
