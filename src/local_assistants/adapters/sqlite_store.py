"""SQLite persistence through sqlite-utils: WAL, busy_timeout, named migrations.

Each object kind has a table with an ``INTEGER PRIMARY KEY seq`` (insertion
order, the order lists page in), a unique text ``id``, the OpenAI-shaped object
as JSON in ``data``, and the few columns lists filter on.  One connection is
shared under a lock: SQLite has one writer anyway, and ``BEGIN IMMEDIATE``
keeps read-then-write transactions from failing with SQLITE_BUSY.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils

from ..errors import InvalidRequestError
from ..ports import ListQuery, Page

# Columns besides seq/id/data that each table keeps for filtering.
TABLE_COLUMNS: dict[str, dict[str, type]] = {
    "assistants": {},
    "threads": {},
    "messages": {"thread_id": str, "run_id": str},
    "runs": {"thread_id": str, "status": str},
    "run_steps": {"thread_id": str, "run_id": str},
    "files": {"purpose": str},
}


def _create_object_tables(db: sqlite_utils.Database) -> None:
    for name, columns in TABLE_COLUMNS.items():
        db.execute(
            f"CREATE TABLE IF NOT EXISTS [{name}] ("
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL"
            + "".join(f", [{col}] TEXT" for col in columns)
            + ")"
        )
        for col in columns:
            db.execute(f"CREATE INDEX IF NOT EXISTS [idx_{name}_{col}] ON [{name}] ([{col}], seq)")


def _create_token_counts(db: sqlite_utils.Database) -> None:
    # Per-tokenizer token counts of messages, counted once so windows never re-tokenize history.
    db.execute(
        "CREATE TABLE IF NOT EXISTS token_counts (message_id TEXT NOT NULL, tokenizer TEXT NOT NULL, "
        "tokens INTEGER NOT NULL, PRIMARY KEY (message_id, tokenizer)) WITHOUT ROWID"
    )


# Applied in order, each once, recorded in the _migrations table by name.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_create_object_tables, _create_token_counts]


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


BUSY_TIMEOUT_MS = 5000


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL can fail with "database is locked" without waiting on the busy
    # timeout when another connection opens the same file at that moment: retry for as long.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteStore:
    """The ``Store`` port over one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            migrate(self.db)

    # -- transactions -------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested calls join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    # e.g. a deferred constraint: SQLite keeps the transaction open; close it.
                    if self.db.conn.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise

    def _execute(self, sql: str, params: list | tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    # -- objects ------------------------------------------------------------
    def insert(self, table: str, obj: dict, **columns: Any) -> dict:
        cols = self._columns(table, columns)
        names = ["id", "data", *cols]
        sql = f"INSERT INTO [{table}] ({', '.join(f'[{n}]' for n in names)}) VALUES ({', '.join('?' * len(names))})"
        with self.transaction():
            self._execute(sql, [obj["id"], json.dumps(obj), *cols.values()])
        return obj

    def get(self, table: str, obj_id: str) -> dict | None:
        row = self._execute(f"SELECT data FROM [{table}] WHERE id = ?", [obj_id]).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, table: str, obj: dict, **columns: Any) -> dict:
        cols = self._columns(table, columns)
        sets = ", ".join(["data = ?", *(f"[{c}] = ?" for c in cols)])
        with self.transaction():
            self._execute(f"UPDATE [{table}] SET {sets} WHERE id = ?", [json.dumps(obj), *cols.values(), obj["id"]])
        return obj

    def delete(self, table: str, obj_id: str) -> bool:
        with self.transaction():
            cur = self._execute(f"DELETE FROM [{table}] WHERE id = ?", [obj_id])
        return cur.rowcount > 0

    def delete_where(self, table: str, **where: Any) -> int:
        clause, params = self._where(table, where)
        with self.transaction():
            cur = self._execute(f"DELETE FROM [{table}] {clause}", params)
        return cur.rowcount

    def find(self, table: str, **where: Any) -> list[dict]:
        clause, params = self._where(table, where)
        rows = self._execute(f"SELECT data FROM [{table}] {clause} ORDER BY seq", params).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, table: str, **where: Any) -> int:
        clause, params = self._where(table, where)
        return self._execute(f"SELECT count(*) FROM [{table}] {clause}", params).fetchone()[0]

    def list(self, table: str, query: ListQuery) -> Page:
        clause, params = self._where(table, query.where)
        conds = [clause[len("WHERE "):]] if clause else []
        descending = query.order == "desc"
        forward = True
        if query.after is not None:
            seq = self._seq(table, query.after, "after", query.where)
            conds.append("seq < ?" if descending else "seq > ?")
            params.append(seq)
        if query.before is not None:
            seq = self._seq(table, query.before, "before", query.where)
            conds.append("seq > ?" if descending else "seq < ?")
            params.append(seq)
            if query.after is None:
                forward = False  # walk backwards from the cursor, then restore the order
        ascending = (not descending) == forward
        where_sql = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (f"SELECT data FROM [{table}] {where_sql} ORDER BY seq {'ASC' if ascending else 'DESC'} "
               f"LIMIT ?")
        rows = self._execute(sql, [*params, query.limit + 1]).fetchall()
        data = [json.loads(r[0]) for r in rows[: query.limit]]
        if not forward:
            data.reverse()
        return Page(data=data, has_more=len(rows) > query.limit)

    # -- token counts -------------------------------------------------------
    def token_counts(self, message_ids: list[str], tokenizer: str) -> dict[str, int]:
        if not message_ids:
            return {}
        rows = self._execute(
            f"SELECT message_id, tokens FROM token_counts WHERE tokenizer = ? AND message_id IN "
            f"({', '.join('?' * len(message_ids))})",
            [tokenizer, *message_ids],
        ).fetchall()
        return dict(rows)

    def save_token_counts(self, counts: dict[str, int], tokenizer: str) -> None:
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO token_counts (message_id, tokenizer, tokens) VALUES (?, ?, ?)",
                [(mid, tokenizer, n) for mid, n in counts.items()],
            )

    def delete_token_counts(self, *, thread_id: str | None = None, message_id: str | None = None) -> None:
        """Forget the counts of one message, or of every message of a thread (call before deleting them)."""
        with self.transaction():
            if message_id is not None:
                self._execute("DELETE FROM token_counts WHERE message_id = ?", [message_id])
            if thread_id is not None:
                self._execute("DELETE FROM token_counts WHERE message_id IN "
                              "(SELECT id FROM messages WHERE thread_id = ?)", [thread_id])

    # -- helpers ------------------------------------------------------------
    def _seq(self, table: str, obj_id: str, param: str, where: dict[str, Any]) -> int:
        # The cursor must belong to the list being paged (e.g. a message of the same thread).
        clause, params = self._where(table, {**where, "id": obj_id})
        row = self._execute(f"SELECT seq FROM [{table}] {clause}", params).fetchone()
        if row is None:
            raise InvalidRequestError(f"Invalid '{param}': no object with id '{obj_id}' in this list.", param=param)
        return row[0]

    @staticmethod
    def _columns(table: str, columns: dict[str, Any]) -> dict[str, Any]:
        allowed = TABLE_COLUMNS[table]
        unknown = set(columns) - set(allowed)
        if unknown:
            raise ValueError(f"table {table} has no columns {sorted(unknown)}")
        return columns

    def _where(self, table: str, where: dict[str, Any]) -> tuple[str, list]:
        self._columns(table, {k: None for k in where if k != "id"})
        conds, params = [], []
        for col, value in where.items():
            if isinstance(value, (list, tuple, set)):
                conds.append(f"[{col}] IN ({', '.join('?' * len(value))})")
                params.extend(value)
            else:
                conds.append(f"[{col}] = ?")
                params.append(value)
        return (f"WHERE {' AND '.join(conds)}" if conds else ""), params

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()
