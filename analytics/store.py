"""The analytics store: one SQLite file (``analytics.sqlite3`` in the data folder, WAL).

Tables: ``queries`` (one row per answered query, with the best ScoreConfidence of its first page),
``results`` (the items each returned), ``clicks`` and ``votes`` (SubmitFeedback). A click or vote whose
QueryId or ResultId is unknown is kept with ``orphaned = 1`` (the query may predate retention, or its
event may have been dropped); metrics ignore orphans. SQL is kept portable: no SQLite-only syntax,
except the column check that upgrades an older data folder on open.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from analytics.events import Event, FeedbackEvent, QueryEvent
from services import sqlite

FILE_NAME = "analytics.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY,
    index_id TEXT NOT NULL,
    at REAL NOT NULL,
    query_text TEXT NOT NULL,
    normalized_text TEXT NOT NULL,
    languages TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_key TEXT,
    filters TEXT,
    total_results INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    instant_answer INTEGER NOT NULL,
    best_confidence TEXT
);
CREATE INDEX IF NOT EXISTS queries_by_time ON queries (index_id, at);
CREATE TABLE IF NOT EXISTS results (
    query_id TEXT NOT NULL,
    result_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    PRIMARY KEY (query_id, result_id)
);
CREATE TABLE IF NOT EXISTS clicks (
    index_id TEXT NOT NULL,
    query_id TEXT NOT NULL,
    result_id TEXT NOT NULL,
    click_time REAL NOT NULL,
    at REAL NOT NULL,
    orphaned INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS clicks_by_query ON clicks (query_id);
CREATE TABLE IF NOT EXISTS votes (
    index_id TEXT NOT NULL,
    query_id TEXT NOT NULL,
    result_id TEXT NOT NULL,
    relevance TEXT NOT NULL,
    at REAL NOT NULL,
    orphaned INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_by_query ON votes (query_id);
"""

TABLES = ("queries", "results", "clicks", "votes")

# Columns added after the first release: a data folder from before gets them on open (NULL in old rows).
_ADDED_COLUMNS = (("queries", "best_confidence", "TEXT"),)


class AnalyticsStore:
    """One writer connection behind a lock (the capture thread), one reader connection per thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._add_missing_columns()

    def _connect(self) -> sqlite3.Connection:
        return sqlite.connect(self._path)

    def _add_missing_columns(self) -> None:
        for table, column, kind in _ADDED_COLUMNS:
            present = {row[1] for row in self._writer.execute(f"PRAGMA table_info({table})")}
            if column in present:
                continue
            try:
                self._writer.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as error:  # another process (a consumer) added it meanwhile
                if "duplicate column" not in str(error):
                    raise

    def close(self) -> None:
        """Close the writer connection (readers close with their threads)."""
        with self._lock:
            self._writer.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.transaction(self._writer, self._lock)

    def write(self, events: Sequence[Event]) -> None:
        """Write a batch of events in one transaction, in order (a query before its feedback)."""
        with self._transaction() as conn:
            for event in events:
                if isinstance(event, QueryEvent):
                    _insert_query(conn, event)
                else:
                    _insert_feedback(conn, event)

    def executescript(self, script: str) -> None:
        """Run DDL (other modules' tables: CREATE ... IF NOT EXISTS)."""
        with self._lock:
            self._writer.executescript(script)

    def execute(self, *statements: Any) -> None:
        """Run ``sql, params, sql, params, ...`` in one write transaction."""
        with self._transaction() as conn:
            for sql, params in zip(statements[::2], statements[1::2], strict=True):
                conn.execute(sql, tuple(params))

    def delete_older_than(self, cutoff: float) -> int:
        """Delete every event recorded before ``cutoff`` (epoch seconds); return the queries deleted."""
        with self._transaction() as conn:
            old = "SELECT query_id FROM queries WHERE at < ?"
            conn.execute(f"DELETE FROM results WHERE query_id IN ({old})", (cutoff,))
            deleted = conn.execute("DELETE FROM queries WHERE at < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM clicks WHERE at < ?", (cutoff,))
            conn.execute("DELETE FROM votes WHERE at < ?", (cutoff,))
        return int(deleted)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query on this thread's reader connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return list(conn.execute(sql, tuple(params)))

    def counts(self) -> dict[str, int]:
        """Rows per table (diagnostics and tests)."""
        return {table: int(self.rows(f"SELECT COUNT(*) FROM {table}")[0][0]) for table in TABLES}


def _insert_query(conn: sqlite3.Connection, e: QueryEvent) -> None:
    conn.execute(
        "INSERT INTO queries (query_id, index_id, at, query_text, normalized_text, languages, channel, user_key,"
        " filters, total_results, latency_ms, instant_answer, best_confidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (e.query_id, e.index_id, e.time, e.query_text, e.normalized_text, ",".join(e.languages), e.channel,
         e.user_key, e.filters_json, e.total_results, e.latency_ms, int(e.instant_answer), e.best_confidence),
    )
    conn.executemany(
        "INSERT INTO results (query_id, result_id, document_id, rank) VALUES (?, ?, ?, ?)",
        [(e.query_id, r.result_id, r.document_id, r.rank) for r in e.results],
    )


def _insert_feedback(conn: sqlite3.Connection, e: FeedbackEvent) -> None:
    known = conn.execute(
        "SELECT 1 FROM results r JOIN queries q ON q.query_id = r.query_id"
        " WHERE r.query_id = ? AND r.result_id = ? AND q.index_id = ?",
        (e.query_id, e.result_id, e.index_id),
    ).fetchone()
    orphaned = int(known is None)
    if e.click_time is not None:
        conn.execute(
            "INSERT INTO clicks (index_id, query_id, result_id, click_time, at, orphaned) VALUES (?, ?, ?, ?, ?, ?)",
            (e.index_id, e.query_id, e.result_id, e.click_time, e.time, orphaned),
        )
    else:
        conn.execute(
            "INSERT INTO votes (index_id, query_id, result_id, relevance, at, orphaned) VALUES (?, ?, ?, ?, ?, ?)",
            (e.index_id, e.query_id, e.result_id, e.relevance, e.time, orphaned),
        )
