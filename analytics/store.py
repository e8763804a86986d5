"""The analytics store: one SQLite file (``analytics.sqlite3`` in the data folder, WAL), or its tables in
PostgreSQL (``KENSAKU_DATABASE_URL``, see ``services.database``); schema: ``migrations.ANALYTICS``.

Tables: ``queries`` (one row per answered query, with the best ScoreConfidence of its first page),
``results`` (the items each returned), ``clicks`` and ``votes`` (SubmitFeedback). A click or vote whose
QueryId or ResultId is unknown is kept with ``orphaned = 1`` (the query may predate retention, or its
event may have been dropped); metrics ignore orphans. SQL is kept portable: no SQLite-only syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.events import Event, FeedbackEvent, QueryEvent
from services.database import Connection, Database
from services.database.migrations import migrate

if TYPE_CHECKING:
    from services.settings import Settings

FILE_NAME = "analytics.sqlite3"

TABLES = ("queries", "results", "clicks", "votes")


class AnalyticsStore:
    """One writer at a time (the capture thread), reads from any thread; rows are plain tuples."""

    def __init__(self, path: Path | Database) -> None:
        if isinstance(path, Path):
            from services.database.sqlite import SQLiteDatabase

            path = SQLiteDatabase(path, "analytics", named_rows=False)
        self.db: Database = path
        migrate(self.db)

    def close(self) -> None:
        """Close the writer connection (readers close with their threads)."""
        self.db.close()

    def write(self, events: Sequence[Event]) -> None:
        """Write a batch of events in one transaction, in order (a query before its feedback)."""
        with self.db.write() as conn:
            for event in events:
                if isinstance(event, QueryEvent):
                    _insert_query(conn, event)
                else:
                    _insert_feedback(conn, event)

    def executescript(self, script: str) -> None:
        """Run DDL (``CREATE ... IF NOT EXISTS``, with SQLite's types) in one transaction."""
        with self.db.write() as conn:
            self.db.script(conn, script)

    def execute(self, *statements: Any) -> None:
        """Run ``sql, params, sql, params, ...`` in one write transaction."""
        with self.db.write() as conn:
            for sql, params in zip(statements[::2], statements[1::2], strict=True):
                conn.execute(sql, tuple(params))

    def delete_older_than(self, cutoff: float) -> int:
        """Delete every event recorded before ``cutoff`` (epoch seconds); return the queries deleted."""
        with self.db.write() as conn:
            old = "SELECT query_id FROM queries WHERE at < ?"
            conn.execute(f"DELETE FROM results WHERE query_id IN ({old})", (cutoff,))
            deleted = conn.execute("DELETE FROM queries WHERE at < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM clicks WHERE at < ?", (cutoff,))
            conn.execute("DELETE FROM votes WHERE at < ?", (cutoff,))
        return int(deleted)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (what is committed)."""
        return list(self.db.read().execute(sql, tuple(params)))

    def counts(self) -> dict[str, int]:
        """Rows per table (diagnostics and tests)."""
        return {table: int(self.rows(f"SELECT COUNT(*) FROM {table}")[0][0]) for table in TABLES}


def open_analytics_store(settings: Settings) -> AnalyticsStore:
    """The analytics store as the settings say: ``analytics.sqlite3`` in the data folder, or PostgreSQL."""
    from services.database import open_database

    return AnalyticsStore(open_database(settings, "analytics", named_rows=False))


def _insert_query(conn: Connection, e: QueryEvent) -> None:
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


def _insert_feedback(conn: Connection, e: FeedbackEvent) -> None:
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
