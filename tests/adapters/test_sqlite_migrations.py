"""The SQLite store's migrations: each applied once, in order, recorded by its name in the
same transaction; a failing one leaves nothing; a database made by an older version opens."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlite_utils

from local_assistants.adapters import sqlite_migrations
from local_assistants.adapters.sqlite_migrations import MIGRATIONS, migrate
from local_assistants.adapters.sqlite_store import SQLiteStore


class Boom(Exception):
    pass


@pytest.fixture
def path(tmp_path):
    return tmp_path / "db" / "store.db"


def _obj(i: int | str, **extra) -> dict:
    return {"id": f"obj_{i}", "object": "thing", "n": i, **extra}


def _other_connection(path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=0.1)


def _bare_database(path) -> sqlite_utils.Database:
    return sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))


def test_a_new_database_gets_every_migration_in_order_then_none(tmp_path):
    db = _bare_database(tmp_path / "bare.db")
    try:
        assert migrate(db) == [fn.__name__ for fn in MIGRATIONS]
        assert migrate(db) == []
        columns = {c.name for c in db["vector_store_files"].columns}
        assert "attempts" in columns  # the last migration's column, on the table an earlier one made
    finally:
        db.conn.close()


def test_migration_names_never_change():
    # Databases record each migration by its function's name: a renamed one would run again.
    assert [fn.__name__ for fn in MIGRATIONS] == ["_create_object_tables", "_create_token_counts",
                                                  "_create_vector_store_tables", "_count_ingest_attempts",
                                                  "_create_responses_tables", "_create_chat_completions_table"]


def test_migrations_recorded_once_and_not_reapplied(path):
    names = [fn.__name__ for fn in MIGRATIONS]
    s = SQLiteStore(path)
    s.insert("assistants", _obj(1))
    rows = s.db.execute("SELECT name, applied_at FROM _migrations ORDER BY name").fetchall()
    s.close()
    assert sorted(r[0] for r in rows) == sorted(names)

    s = SQLiteStore(path)
    try:
        assert s.db.execute("SELECT name, applied_at FROM _migrations ORDER BY name").fetchall() == rows
        assert sqlite_migrations.migrate(s.db) == []
        assert s.get("assistants", "obj_1") == _obj(1)  # data survived the reopen
    finally:
        s.close()


def test_new_migration_is_applied_once(path, monkeypatch):
    SQLiteStore(path).close()
    calls = []

    def add_widgets(db):
        calls.append(1)
        db.execute("CREATE TABLE widgets (x)")

    monkeypatch.setattr(sqlite_migrations, "MIGRATIONS", [*MIGRATIONS, add_widgets])
    s = SQLiteStore(path)
    s.close()
    s = SQLiteStore(path)
    try:
        assert calls == [1]
        assert "widgets" in s.db.table_names()
        assert s.db.execute("SELECT count(*) FROM _migrations WHERE name = 'add_widgets'").fetchone()[0] == 1
    finally:
        s.close()


def test_failing_migration_leaves_nothing_behind(path, monkeypatch):
    SQLiteStore(path).close()

    def half_done(db):
        db.execute("CREATE TABLE gadgets (x)")
        raise Boom("migration failed halfway")

    monkeypatch.setattr(sqlite_migrations, "MIGRATIONS", [*MIGRATIONS, half_done])
    with pytest.raises(Boom):
        SQLiteStore(path)
    other = _other_connection(path)
    try:
        tables = {r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "gadgets" not in tables
        assert other.execute("SELECT count(*) FROM _migrations WHERE name='half_done'").fetchone()[0] == 0
    finally:
        other.close()


def test_stores_opened_concurrently_migrate_once(path):
    errors, stores = [], []

    def open_store():
        try:
            stores.append(SQLiteStore(path))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        names = [r[0] for r in stores[0].db.execute("SELECT name FROM _migrations")]
        assert sorted(names) == sorted(fn.__name__ for fn in MIGRATIONS)
    finally:
        for s in stores:
            s.close()


def test_migration_upgrades_a_database_made_before_it(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    # the database as the first two migrations left it, before file search existed
    for fn in (sqlite_migrations._create_object_tables, sqlite_migrations._create_token_counts):
        fn(db)
        db.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", [fn.__name__])
    db.execute("DROP TABLE vector_stores")  # what _create_object_tables made of the new names
    db.execute("DROP TABLE file_batches")
    db.conn.close()
    store = SQLiteStore(path)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"vector_stores", "vector_store_files", "file_batches", "file_batch_files", "chunks", "chunks_fts"} <= tables
    names = [r[0] for r in store.db.execute("SELECT name FROM _migrations")]
    assert names.count("_create_vector_store_tables") == 1
    store.close()


def test_threads_made_before_the_items_table_get_their_items_in_order(tmp_path):
    """A database of the Assistants API alone: on upgrade, each thread's messages and tool
    calls (with a function's output after its call) become its conversation items."""
    import json

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for fn in MIGRATIONS[:4]:
        fn(db)
        db.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", [fn.__name__])
    for table in (*sqlite_migrations.RESPONSES_TABLE_COLUMNS, *sqlite_migrations.CHAT_TABLE_COLUMNS):
        db.execute(f"DROP TABLE [{table}]")  # what _create_object_tables made of the new names

    def message(i, at):
        return {"id": f"msg_{i}", "thread_id": "thread_a", "created_at": at, "role": "user", "content": []}

    step = {"id": "step_1", "thread_id": "thread_a", "run_id": "run_1", "created_at": 20, "type": "tool_calls",
            "step_details": {"type": "tool_calls", "tool_calls": [
                {"id": "call_X", "type": "function", "function": {"name": "f", "arguments": "{}", "output": "1"}}]}}
    for m in (message(1, 10), message(2, 30)):
        db.execute("INSERT INTO messages (id, data, thread_id, run_id) VALUES (?, ?, ?, NULL)",
                   [m["id"], json.dumps(m), "thread_a"])
    db.execute("INSERT INTO run_steps (id, data, thread_id, run_id) VALUES (?, ?, ?, ?)",
               ["step_1", json.dumps(step), "thread_a", "run_1"])
    db.conn.close()
    store = SQLiteStore(path)
    try:
        items = [i["item_id"] for i in store.find("items", thread_id="thread_a")]
        assert items == ["msg_1", "fc_X", "fco_X", "msg_2"]
    finally:
        store.close()
