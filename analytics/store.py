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
from typing import TYPE_CHECKING, Any, NamedTuple

from analytics.events import Event, FeedbackEvent, QueryEvent
from services.database import Connection, Database
from services.database.migrations import migrate

if TYPE_CHECKING:
    from services.settings import Settings

FILE_NAME = "analytics.sqlite3"

TABLES = ("queries", "results", "clicks", "votes")

FeedbackRow = tuple[str, str, float, int]
"""Normalised query text, document id, time of the click or vote (epoch seconds), value (+1 or -1)."""


class QueryClicks(NamedTuple):
    """One query with what was clicked of its results (``AnalyticsStore.queries_with_clicks``)."""

    at: float
    channel: str
    normalized_text: str
    query_text: str
    total_results: int
    best_confidence: str | None
    best_rank: int | None  # the best rank clicked; None: no click
    clicks: int


# Clicks or votes (``f``, not orphaned) on results of a query of one index (the parameter), with the
# result (``r``) and the query (``q``) joined.
_FEEDBACK_OF_INDEX = (" JOIN results r ON r.query_id = f.query_id AND r.result_id = f.result_id"
                      " JOIN queries q ON q.query_id = f.query_id"
                      " WHERE f.orphaned = 0 AND q.index_id = ?")
_FEEDBACK = "SELECT q.normalized_text, r.document_id, f.at, {value} FROM {table} f" + _FEEDBACK_OF_INDEX + "{extra}"
# The same for the queries of a window (index, start, end).
_WINDOW_FEEDBACK = _FEEDBACK_OF_INDEX + " AND q.at >= ? AND q.at < ?"
# A row per query of a window (index, start, end), with whether any of its results was clicked.
_PER_QUERY = (
    "SELECT q.query_id, q.normalized_text, q.total_results, q.instant_answer,"
    " CASE WHEN EXISTS (SELECT 1 FROM clicks c WHERE c.query_id = q.query_id AND c.orphaned = 0)"
    " THEN 1 ELSE 0 END AS clicked"
    " FROM queries q WHERE q.index_id = ? AND q.at >= ? AND q.at < ?"
)


def _channel(channel: str | None) -> tuple[str, tuple[Any, ...]]:
    """The condition (on ``q``) and parameter that keep the queries of one channel (None: all)."""
    return (" AND q.channel = ?", (channel,)) if channel else ("", ())


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

    # -- what the reports ask (snapshots, trends, suggestions, click learning) -------------------------
    # Clicks and votes count only when not orphaned; ``start`` / ``end`` bound the time of the query.

    def query_feedback(self, index_id: str, normalized_text: str | None = None) -> list[FeedbackRow]:
        """Every click (+1) and vote (RELEVANT +1, otherwise -1) on a result of a query of the index (of
        one normalised query text when given): (normalised text, document id, time of the feedback, value)."""
        extra = " AND q.normalized_text = ?" if normalized_text is not None else ""
        params: tuple[Any, ...] = (index_id,) if normalized_text is None else (index_id, normalized_text)
        clicks = self.rows(_FEEDBACK.format(value="1", table="clicks", extra=extra), params)
        votes = self.rows(_FEEDBACK.format(
            value="CASE WHEN f.relevance = 'RELEVANT' THEN 1 ELSE -1 END", table="votes", extra=extra), params)
        return [(text, doc_id, at, value) for text, doc_id, at, value in clicks + votes]

    def query_totals(self, index_id: str, start: float, end: float) -> tuple[int, int, int, int]:
        """The queries of ``[start, end)``: how many, how many had a click, how many had no result, how
        many had an instant answer."""
        (total, clicked, zero, instant), = self.rows(
            "SELECT COUNT(*), COALESCE(SUM(clicked), 0),"
            " COALESCE(SUM(CASE WHEN total_results = 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(instant_answer), 0)"
            f" FROM ({_PER_QUERY}) AS per_query",
            (index_id, start, end),
        )
        return int(total), int(clicked), int(zero), int(instant)

    def query_text_totals(self, index_id: str, start: float, end: float) -> list[tuple[str, int, int, int, int]]:
        """The queries with text of ``[start, end)`` by normalised text: (text, queries, with a click, with
        no result, with an instant answer)."""
        rows = self.rows(
            "SELECT normalized_text, COUNT(*), SUM(clicked), SUM(CASE WHEN total_results = 0 THEN 1 ELSE 0 END),"
            f" SUM(instant_answer) FROM ({_PER_QUERY}) AS per_query"
            " WHERE normalized_text <> '' GROUP BY normalized_text",
            (index_id, start, end),
        )
        return [(text, int(n), int(clicked), int(zero), int(instant)) for text, n, clicked, zero, instant in rows]

    def mean_click_ranks(self, index_id: str, start: float, end: float) -> dict[str, float]:
        """Normalised query text -> the mean (1-based) rank of the results clicked for queries of
        ``[start, end)`` (texts without a click are absent)."""
        return {text: float(rank or 0) for text, rank in self.rows(
            "SELECT q.normalized_text, AVG(r.rank) FROM queries q"
            " JOIN clicks c ON c.query_id = q.query_id AND c.orphaned = 0"
            " JOIN results r ON r.query_id = c.query_id AND r.result_id = c.result_id"
            " WHERE q.index_id = ? AND q.at >= ? AND q.at < ? GROUP BY q.normalized_text",
            (index_id, start, end),
        )}

    def document_clicks(self, index_id: str, start: float, end: float) -> list[tuple[str, int]]:
        """(document id, clicks on it) for the queries of ``[start, end)``, documents clicked only."""
        return [(doc, int(n)) for doc, n in self.rows(
            f"SELECT r.document_id, COUNT(*) FROM clicks f{_WINDOW_FEEDBACK} GROUP BY r.document_id",
            (index_id, start, end))]

    def document_votes(self, index_id: str, start: float, end: float) -> list[tuple[str, str, int]]:
        """(document id, relevance, votes) for the queries of ``[start, end)``, documents voted on only."""
        return [(doc, relevance, int(n)) for doc, relevance, n in self.rows(
            f"SELECT r.document_id, f.relevance, COUNT(*) FROM votes f{_WINDOW_FEEDBACK}"
            " GROUP BY r.document_id, f.relevance",
            (index_id, start, end))]

    def queries_with_clicks(self, index_id: str, start: float, end: float,
                            channel: str | None = None) -> list[QueryClicks]:
        """Every query of ``[start, end)`` (of one channel when given), in no particular order, with the
        best rank clicked (None: no click) and its number of clicks."""
        where, extra = _channel(channel)
        return [QueryClicks(*row) for row in self.rows(
            "SELECT q.at, q.channel, q.normalized_text, q.query_text, q.total_results, q.best_confidence,"
            " (SELECT MIN(r.rank) FROM clicks c JOIN results r ON r.query_id = c.query_id"
            " AND r.result_id = c.result_id"
            "  WHERE c.query_id = q.query_id AND c.orphaned = 0) AS best_rank,"
            " (SELECT COUNT(*) FROM clicks c WHERE c.query_id = q.query_id AND c.orphaned = 0) AS clicks"
            f" FROM queries q WHERE q.index_id = ? AND q.at >= ? AND q.at < ?{where}",
            (index_id, start, end, *extra),
        )]

    def query_counts(self, index_id: str, start: float, end: float, channel: str | None = None) -> dict[str, int]:
        """Normalised query text -> how many queries of ``[start, end)`` (of one channel when given) had it."""
        where, extra = _channel(channel)
        return {text: int(n) for text, n in self.rows(
            "SELECT q.normalized_text, COUNT(*) FROM queries q WHERE q.index_id = ? AND q.at >= ? AND q.at < ?"
            f"{where} GROUP BY q.normalized_text",
            (index_id, start, end, *extra),
        )}

    def most_clicked_documents(self, index_id: str, start: float, end: float, channel: str | None,
                               limit: int) -> list[tuple[str, int]]:
        """The ``limit`` documents clicked most for the queries of ``[start, end)`` (of one channel when
        given): (document id, clicks), most clicks first, then by id."""
        where, extra = _channel(channel)
        return [(doc, int(n)) for doc, n in self.rows(
            f"SELECT r.document_id, COUNT(*) FROM clicks f{_WINDOW_FEEDBACK}{where}"
            " GROUP BY r.document_id ORDER BY COUNT(*) DESC, r.document_id LIMIT ?",
            (index_id, start, end, *extra, limit),
        )]

    def latest_query(self, index_id: str) -> tuple[float | None, int]:
        """The time of the index's newest query (None: none) and its number of queries."""
        (latest, count), = self.rows("SELECT MAX(at), COUNT(*) FROM queries WHERE index_id = ?", (index_id,))
        return latest, count

    def answered_query_texts(self, index_id: str, since: float, with_users_only: bool) -> list[tuple[str, int, int]]:
        """The queries since ``since`` that had results (only those with a user when ``with_users_only``)
        by normalised text: (text, queries, distinct users)."""
        return [(text, int(n), int(users)) for text, n, users in self.rows(
            "SELECT normalized_text, COUNT(*), COUNT(DISTINCT user_key) FROM queries"
            " WHERE index_id = ? AND at >= ? AND total_results > 0"
            + (" AND user_key IS NOT NULL" if with_users_only else "")
            + " GROUP BY normalized_text",
            (index_id, since),
        )]

    def clicks_per_document(self, index_id: str, since: float) -> dict[str, int]:
        """Document id -> the clicks on it since ``since`` (documents clicked only)."""
        rows = self.rows(
            "SELECT r.document_id, COUNT(*) FROM clicks c JOIN results r"
            " ON r.query_id = c.query_id AND r.result_id = c.result_id"
            " WHERE c.index_id = ? AND c.orphaned = 0 AND c.at >= ? GROUP BY r.document_id",
            (index_id, since),
        )
        return {doc: int(n) for doc, n in rows}


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
