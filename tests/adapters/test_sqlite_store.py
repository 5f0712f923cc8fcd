"""SQLiteStore against a real SQLite file: pragmas, tables, CRUD, lists, transactions (its migrations:
``test_sqlite_migrations.py``)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from local_assistants.adapters.sqlite_migrations import TABLE_COLUMNS
from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidRequestError
from local_assistants.ports import ListQuery


class Boom(Exception):
    pass


@pytest.fixture
def path(tmp_path):
    return tmp_path / "db" / "store.db"


@pytest.fixture
def store(path):
    s = SQLiteStore(path)
    yield s
    s.close()


def _obj(i: int | str, **extra) -> dict:
    return {"id": f"obj_{i}", "object": "thing", "n": i, **extra}


def _other_connection(path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=0.1)


# -- pragmas and tables ---------------------------------------------------------------------

def test_creates_parent_folder_and_file(path, store):
    assert path.is_file()


def test_wal_mode_is_on(path, store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    other = _other_connection(path)  # WAL is persistent: a fresh connection sees it too
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        other.close()


def test_busy_timeout_is_set(store):
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_every_table_exists(store):
    tables = set(store.db.table_names())
    assert set(TABLE_COLUMNS) | {"_migrations"} <= tables
    for name, columns in TABLE_COLUMNS.items():
        cols = {c.name for c in store.db[name].columns}
        assert {"seq", "id", "data", *columns} == cols


# -- objects --------------------------------------------------------------------------------

def test_insert_get_roundtrip(store):
    obj = _obj(1, nested={"a": [1, 2, {"b": None}]}, text="héllo ✓")
    assert store.insert("assistants", obj) == obj
    assert store.get("assistants", "obj_1") == obj
    assert store.get("assistants", "obj_missing") is None
    assert store.get("threads", "obj_1") is None  # tables are separate


def test_insert_duplicate_id_fails_and_keeps_the_first(store):
    store.insert("assistants", _obj(1, v="first"))
    with pytest.raises(sqlite3.IntegrityError):
        store.insert("assistants", _obj(1, v="second"))
    assert store.get("assistants", "obj_1")["v"] == "first"


def test_unknown_column_is_refused(store):
    with pytest.raises(ValueError):
        store.insert("assistants", _obj(1), thread_id="t")
    with pytest.raises(ValueError):
        store.find("threads", colour="red")
    assert store.count("assistants") == 0


def test_update(store):
    store.insert("messages", _obj(1, text="a"), thread_id="t1", run_id=None)
    store.update("messages", _obj(1, text="b"), thread_id="t1", run_id="run_1")
    assert store.get("messages", "obj_1")["text"] == "b"
    assert store.find("messages", run_id="run_1") == [_obj(1, text="b")]
    # updating without columns leaves the columns as they were
    store.update("messages", _obj(1, text="c"))
    assert store.find("messages", run_id="run_1") == [_obj(1, text="c")]


def test_delete(store):
    store.insert("assistants", _obj(1))
    store.insert("assistants", _obj(2))
    assert store.delete("assistants", "obj_1") is True
    assert store.delete("assistants", "obj_1") is False
    assert store.get("assistants", "obj_1") is None
    assert store.get("assistants", "obj_2") == _obj(2)


def test_find_count_and_delete_where(store):
    for i in range(6):
        store.insert("runs", _obj(i), thread_id=f"t{i % 2}", status="queued" if i < 3 else "completed")
    assert [o["n"] for o in store.find("runs", thread_id="t0")] == [0, 2, 4]  # insertion order
    assert [o["n"] for o in store.find("runs", thread_id="t0", status="queued")] == [0, 2]
    assert [o["n"] for o in store.find("runs", status=["queued", "failed"])] == [0, 1, 2]
    assert [o["n"] for o in store.find("runs", id="obj_5")] == [5]
    assert store.find("runs", thread_id="t9") == []
    assert len(store.find("runs")) == 6
    assert store.count("runs") == 6
    assert store.count("runs", thread_id="t1") == 3
    assert store.count("runs", status=["completed"]) == 3
    assert store.delete_where("runs", thread_id="t1") == 3
    assert store.count("runs") == 3
    assert store.count("runs", thread_id="t1") == 0


def test_data_survives_reopen(path):
    s = SQLiteStore(path)
    s.insert("files", _obj(1), purpose="assistants")
    s.close()
    s = SQLiteStore(path)
    try:
        assert s.get("files", "obj_1") == _obj(1)
        assert s.count("files", purpose="assistants") == 1
    finally:
        s.close()


# -- lists ----------------------------------------------------------------------------------

@pytest.fixture
def seeded(store):
    for i in range(10):
        store.insert("messages", _obj(i), thread_id="t1" if i % 2 == 0 else "t2", run_id=None)
    return store


def _ns(page) -> list:
    return [o["n"] for o in page.data]


def test_list_orders_and_limits(seeded):
    page = seeded.list("messages", ListQuery(limit=3))
    assert _ns(page) == [9, 8, 7] and page.has_more is True
    page = seeded.list("messages", ListQuery(limit=3, order="asc"))
    assert _ns(page) == [0, 1, 2] and page.has_more is True
    page = seeded.list("messages", ListQuery(limit=10, order="asc"))
    assert _ns(page) == list(range(10)) and page.has_more is False
    body = page.to_body()
    assert body["object"] == "list"
    assert body["first_id"] == "obj_0" and body["last_id"] == "obj_9" and body["has_more"] is False


def test_list_cursors(seeded):
    assert _ns(seeded.list("messages", ListQuery(limit=3, order="asc", after="obj_4"))) == [5, 6, 7]
    assert _ns(seeded.list("messages", ListQuery(limit=3, order="desc", after="obj_4"))) == [3, 2, 1]
    assert _ns(seeded.list("messages", ListQuery(limit=3, order="asc", before="obj_4"))) == [1, 2, 3]
    assert _ns(seeded.list("messages", ListQuery(limit=3, order="desc", before="obj_4"))) == [7, 6, 5]
    page = seeded.list("messages", ListQuery(limit=3, order="asc", before="obj_2"))
    assert _ns(page) == [0, 1] and page.has_more is False


def test_list_where_filter(seeded):
    page = seeded.list("messages", ListQuery(limit=20, order="asc", where={"thread_id": "t1"}))
    assert _ns(page) == [0, 2, 4, 6, 8]
    page = seeded.list("messages", ListQuery(limit=2, order="asc", after="obj_2", where={"thread_id": "t1"}))
    assert _ns(page) == [4, 6] and page.has_more is True


def test_list_cursor_must_be_in_the_list(seeded):
    with pytest.raises(InvalidRequestError) as info:
        seeded.list("messages", ListQuery(after="obj_missing"))
    assert info.value.param == "after"
    with pytest.raises(InvalidRequestError) as info:  # obj_3 belongs to t2
        seeded.list("messages", ListQuery(before="obj_3", where={"thread_id": "t1"}))
    assert info.value.param == "before"


def test_list_empty(store):
    page = store.list("assistants", ListQuery())
    assert page.data == [] and page.has_more is False
    assert page.to_body()["first_id"] is None and page.to_body()["last_id"] is None


# -- transactions ---------------------------------------------------------------------------

def test_transaction_commits(path, store):
    with store.transaction():
        store.insert("assistants", _obj(1))
        store.insert("assistants", _obj(2))
    other = _other_connection(path)
    try:
        assert other.execute("SELECT count(*) FROM assistants").fetchone()[0] == 2
    finally:
        other.close()


def test_transaction_that_raises_rolls_back_everything(store):
    store.insert("assistants", _obj(0))
    with pytest.raises(Boom):
        with store.transaction():
            store.insert("assistants", _obj(1))
            store.update("assistants", _obj(0, changed=True))
            store.delete("assistants", "obj_0")
            store.insert("runs", _obj(2), thread_id="t", status="queued")
            raise Boom()
    assert store.get("assistants", "obj_0") == _obj(0)
    assert store.get("assistants", "obj_1") is None
    assert store.count("runs") == 0
    # the store is usable afterwards
    store.insert("assistants", _obj(3))
    assert store.count("assistants") == 2


def test_nested_transaction_joins_the_outer(path, store):
    other = _other_connection(path)
    try:
        with pytest.raises(Boom):
            with store.transaction():
                with store.transaction():
                    store.insert("assistants", _obj(1))
                # the inner block is done but nothing is committed until the outer one is
                assert other.execute("SELECT count(*) FROM assistants").fetchone()[0] == 0
                store.insert("assistants", _obj(2))
                raise Boom()
        assert store.count("assistants") == 0
        with store.transaction():
            with store.transaction():
                store.insert("assistants", _obj(3))
        assert other.execute("SELECT count(*) FROM assistants").fetchone()[0] == 1
    finally:
        other.close()


def test_inner_failure_rolls_back_the_outer(store):
    with pytest.raises(Boom):
        with store.transaction():
            store.insert("assistants", _obj(1))
            with store.transaction():
                store.insert("assistants", _obj(2))
                raise Boom()
    assert store.count("assistants") == 0


def test_failed_commit_leaves_the_store_usable(store):
    # A deferred foreign key is checked at COMMIT, so the COMMIT itself fails.
    store.db.execute("CREATE TABLE parent (id TEXT PRIMARY KEY)")
    store.db.execute("CREATE TABLE child (pid TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.insert("assistants", _obj(1))
            store.db.execute("INSERT INTO child VALUES ('nobody')")
    assert store.db.conn.in_transaction is False
    assert store.get("assistants", "obj_1") is None
    with store.transaction():
        store.insert("assistants", _obj(2))
    assert store.count("assistants") == 1


def test_concurrent_transactions_from_threads(store):
    def worker(k: int):
        for i in range(20):
            with store.transaction():
                n = store.count("assistants")
                store.insert("assistants", _obj(f"{k}_{i}", seen=n))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    objs = store.find("assistants")
    assert len(objs) == 100
    # each transaction saw every earlier one: the counts are exactly 0..99
    assert sorted(o["seen"] for o in objs) == list(range(100))


def test_second_store_on_same_file_sees_writes(path, store):
    store.insert("assistants", _obj(1))
    second = SQLiteStore(path)
    try:
        assert second.get("assistants", "obj_1") == _obj(1)
        second.insert("assistants", _obj(2))
        assert store.get("assistants", "obj_2") == _obj(2)
    finally:
        second.close()


def test_token_counts_are_stored_per_tokenizer_and_forgotten_with_their_messages(tmp_path):
    from local_assistants import Runtime
    from local_assistants.config import Settings

    with Runtime(Settings(data_dir=tmp_path / "d", models_dir=tmp_path / "m"), start_worker=False) as rt:
        thread = rt.threads.create(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
        ids = [m["id"] for m in rt.store.find("messages", thread_id=thread["id"])]
        rt.store.save_token_counts({ids[0]: 5, ids[1]: 7}, "tok-a")
        rt.store.save_token_counts({ids[0]: 6}, "tok-b")
        assert rt.store.token_counts(ids, "tok-a") == {ids[0]: 5, ids[1]: 7}
        assert rt.store.token_counts(ids, "tok-b") == {ids[0]: 6}
        rt.messages.delete(thread["id"], ids[0])
        assert rt.store.token_counts(ids, "tok-a") == {ids[1]: 7}
        rt.threads.delete(thread["id"])
        assert rt.store.token_counts(ids, "tok-a") == {}
