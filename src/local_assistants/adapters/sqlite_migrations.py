"""The SQLite store's schema: named migrations, each applied once and recorded.

``migrate(db)`` applies, in order, the functions of ``MIGRATIONS`` that the database's
``_migrations`` table does not name yet, each with its record in one write transaction.
A migration's function name is what databases record: never rename one, and change the
schema only by appending a new migration (a database made by an older version must
still open).

Each object kind has a table with an ``INTEGER PRIMARY KEY seq`` (insertion order, the
order lists page in), a unique text ``id``, the OpenAI-shaped object as JSON in
``data``, and the few columns lists filter on (``TABLE_COLUMNS``).
"""

from __future__ import annotations

import json
from typing import Callable

import sqlite_utils

# Columns besides seq/id/data that each table keeps for filtering.
TABLE_COLUMNS: dict[str, dict[str, type]] = {
    "assistants": {},
    "threads": {},
    "messages": {"thread_id": str, "run_id": str},
    "runs": {"thread_id": str, "status": str},
    "run_steps": {"thread_id": str, "run_id": str},
    "files": {"purpose": str},
}


def _object_tables(db: sqlite_utils.Database, tables: dict[str, dict[str, type]]) -> None:
    """Object tables: insertion order, unique id, the object as JSON, indexed filter columns."""
    for name, columns in tables.items():
        db.execute(
            f"CREATE TABLE IF NOT EXISTS [{name}] ("
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL"
            + "".join(f", [{col}] TEXT" for col in columns)
            + ")"
        )
        for col in columns:
            db.execute(f"CREATE INDEX IF NOT EXISTS [idx_{name}_{col}] ON [{name}] ([{col}], seq)")


def _create_object_tables(db: sqlite_utils.Database) -> None:
    _object_tables(db, TABLE_COLUMNS)


def _create_token_counts(db: sqlite_utils.Database) -> None:
    # Per-tokenizer token counts of messages, counted once so windows never re-tokenize history.
    db.execute(
        "CREATE TABLE IF NOT EXISTS token_counts (message_id TEXT NOT NULL, tokenizer TEXT NOT NULL, "
        "tokens INTEGER NOT NULL, PRIMARY KEY (message_id, tokenizer)) WITHOUT ROWID"
    )


# Object tables of file search, in the shape above. Registered in TABLE_COLUMNS so the generic
# methods serve them; a new database gets them from _create_object_tables already, an older one
# from _create_vector_store_tables (same statements, IF NOT EXISTS).
FTS_TOKENIZE = "'porter unicode61 remove_diacritics 2'"
VECTOR_STORE_TABLE_COLUMNS: dict[str, dict[str, type]] = {
    "vector_stores": {},
    "file_batches": {"vector_store_id": str},
}
TABLE_COLUMNS.update(VECTOR_STORE_TABLE_COLUMNS)


def _create_vector_store_tables(db: sqlite_utils.Database) -> None:
    """Vector stores, their files, file batches, and the chunks file search reads.

    ``vector_store_files`` is keyed by (store, file): a file may sit in several stores, and
    its vector-store-file id is the file id.  ``chunks`` holds every chunk's text, position
    and embedding vectors (float32, one row of ``n_vectors`` x dimension), so the FAISS
    index of a store can always be rebuilt from here; ``chunks_fts`` indexes chunk text
    for BM25, kept in step by triggers.
    """
    _object_tables(db, VECTOR_STORE_TABLE_COLUMNS)
    db.execute(
        "CREATE TABLE IF NOT EXISTS vector_store_files (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL, status TEXT NOT NULL, filename TEXT, "
        "data TEXT NOT NULL, UNIQUE (vector_store_id, file_id))"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_vector_store_files_status ON vector_store_files "
               "(vector_store_id, status, seq)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_vector_store_files_file ON vector_store_files (file_id)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS file_batch_files (batch_id TEXT NOT NULL, vector_store_id TEXT NOT NULL, "
        "file_id TEXT NOT NULL, PRIMARY KEY (batch_id, file_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_file_batch_files_file ON file_batch_files (vector_store_id, file_id)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS chunks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
        "vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL, position INTEGER NOT NULL, text TEXT NOT NULL, "
        "tokens INTEGER NOT NULL, start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, "
        "n_vectors INTEGER NOT NULL, vectors BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_chunks_file ON chunks (vector_store_id, file_id, position)")
    # Covering the store filter of full-text matches: a chunk row with its vectors is large,
    # and looking each match up in the table costs more than BM25 itself (measured).
    db.execute("CREATE INDEX IF NOT EXISTS idx_chunks_seq_store ON chunks (seq, vector_store_id, file_id)")
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, content='chunks', content_rowid='seq', "
        f"tokenize={FTS_TOKENIZE})"
    )
    db.execute("CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN "
               "INSERT INTO chunks_fts (rowid, text) VALUES (new.seq, new.text); END")
    db.execute("CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN "
               "INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text); END")


def _count_ingest_attempts(db: sqlite_utils.Database) -> None:
    """How many times ingestion of each vector-store file began (a file whose ingestion
    keeps crashing the server is failed instead of being retried at every start)."""
    db.execute("ALTER TABLE vector_store_files ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")


# The Responses and Conversations face (same threads, runs, steps and messages underneath):
# ``responses`` holds what a response has beyond its run (same id), ``items`` is a thread's
# items in conversation order (each pointing at its message, or its step's call),
# ``containers`` and ``container_files`` the code interpreter's containers.
RESPONSES_TABLE_COLUMNS: dict[str, dict[str, type]] = {
    "responses": {"thread_id": str},
    "items": {"thread_id": str, "ref": str},
    "containers": {"thread_id": str},
    "container_files": {"container_id": str, "file_id": str},
}
TABLE_COLUMNS.update(RESPONSES_TABLE_COLUMNS)


def _create_responses_tables(db: sqlite_utils.Database) -> None:
    """The tables above, and ``response_events``: every stream event of a response under its
    sequence number (a stream resumed with ``starting_after`` replays them), kept until the
    response is deleted or the events' retention ends."""
    _object_tables(db, RESPONSES_TABLE_COLUMNS)
    db.execute(
        "CREATE TABLE IF NOT EXISTS response_events (response_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "event TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL, "
        "PRIMARY KEY (response_id, seq)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_response_events_created ON response_events (created_at)")
    _index_existing_items(db)


def _index_existing_items(db: sqlite_utils.Database) -> None:
    """Threads made before the items table: their messages and tool calls in the order they
    were written (by time, then by each table's own order; a step's calls after the
    messages of the same second)."""
    rows: list[tuple] = []
    for seq, data in db.execute("SELECT seq, data FROM messages").fetchall():
        m = json.loads(data)
        rows.append((m.get("created_at") or 0, 0, seq, m["id"], m["thread_id"], m["id"], None))
    for seq, data in db.execute("SELECT seq, data FROM run_steps").fetchall():
        step = json.loads(data)
        for n, call in enumerate((step.get("step_details") or {}).get("tool_calls") or []):
            prefix = {"function": "fc_", "code_interpreter": "ci_", "file_search": "fs_"}.get(call.get("type"))
            if not prefix or not call.get("id"):
                continue
            suffix = call["id"].split("_", 1)[-1]
            rows.append((step.get("created_at") or 0, 1, seq * 100 + n, prefix + suffix, step["thread_id"],
                         "call:" + call["id"], step["id"]))
            if call["type"] == "function" and (call.get("function") or {}).get("output") is not None:
                rows.append((step.get("created_at") or 0, 1, seq * 100 + n, "fco_" + suffix, step["thread_id"],
                             "output:" + call["id"], step["id"]))
    for _, _, _, item_id, thread_id, ref, step_id in sorted(rows, key=lambda r: r[:3]):
        row_id = f"{thread_id}/{item_id}"
        db.execute("INSERT OR IGNORE INTO items (id, data, thread_id, ref) VALUES (?, ?, ?, ?)",
                   [row_id, json.dumps({"id": row_id, "item_id": item_id, "thread_id": thread_id, "ref": ref,
                                        "step_id": step_id}), thread_id, ref])


# Chat completions kept with ``store: true`` (the completion and its request's messages).
CHAT_TABLE_COLUMNS: dict[str, dict[str, type]] = {"chat_completions": {"model": str}}
TABLE_COLUMNS.update(CHAT_TABLE_COLUMNS)


def _create_chat_completions_table(db: sqlite_utils.Database) -> None:
    _object_tables(db, CHAT_TABLE_COLUMNS)


# Applied in order, each once, recorded in the _migrations table by name.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_create_object_tables, _create_token_counts,
                                                            _create_vector_store_tables, _count_ingest_attempts,
                                                            _create_responses_tables, _create_chat_completions_table]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    applied = []
    for fn in MIGRATIONS:
        # Each migration and its record in one write transaction: a failure leaves no trace, and
        # a second process opening the same file meanwhile waits, then sees it recorded.
        db.execute("BEGIN IMMEDIATE")
        try:
            done = db.execute("SELECT 1 FROM _migrations WHERE name = ?", [fn.__name__]).fetchone()
            if not done:
                fn(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", [fn.__name__]
                )
                applied.append(fn.__name__)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return applied
