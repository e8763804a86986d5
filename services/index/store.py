"""The durable record of everything: indexes, documents, and the queue of pending document changes.

One SQLite file in the data folder (WAL). A document change is first written to ``pending`` and
committed before BatchPutDocument answers; the indexer moves it into the lexical index and only
then marks it INDEXED, so a status of INDEXED always means "in a committed segment".
SQL is kept portable (no SQLite-only syntax beyond ``INSERT OR REPLACE``/``ON CONFLICT``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    client_token TEXT UNIQUE,
    schema_gen INTEGER NOT NULL DEFAULT 0,
    analyzer TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    index_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT,
    body TEXT,
    attributes TEXT,
    acl TEXT,
    text_bytes INTEGER NOT NULL DEFAULT 0,
    failure_code TEXT,
    failure_reason TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (index_id, doc_id)
);
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    index_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    op TEXT NOT NULL,
    payload TEXT,
    blob BLOB
);
CREATE INDEX IF NOT EXISTS pending_doc ON pending (index_id, doc_id);
CREATE INDEX IF NOT EXISTS pending_turn ON pending (index_id, seq);
"""
# Columns added after the first release, (table, column, definition): added to an older data folder on open.
#   indexes.acl_levels     the most levels of hierarchical ACL any document of the index was given (never
#                          lowered): how many level checks a query with user context makes
#   documents.hierarchy    the HierarchicalAccessControlList's principal lists (JSON), NULL for none
#   documents.acl_config   the AccessControlConfigurationId the ACL (acl, hierarchy) was taken from
_ADDED_COLUMNS = (
    ("indexes", "acl_levels", "INTEGER NOT NULL DEFAULT 0"),
    ("documents", "hierarchy", "TEXT"),
    ("documents", "acl_config", "TEXT"),
)
_ADDED_INDEXES = "CREATE INDEX IF NOT EXISTS documents_acl_config ON documents (index_id, acl_config)"


@dataclass(frozen=True, slots=True)
class StoredDocument:
    doc_id: str
    status: str
    title: str | None
    body: str
    attributes: dict[str, Any]
    acl: list[dict[str, Any]]
    text_bytes: int
    failure_code: str | None
    failure_reason: str | None
    hierarchy: list[list[dict[str, Any]]] = field(default_factory=list)
    acl_config: str | None = None  # the access control configuration ``acl`` and ``hierarchy`` are from


@dataclass(frozen=True, slots=True)
class PendingChange:
    seq: int
    index_id: str
    doc_id: str
    op: str  # "put" | "delete" | "acl" (the document's ACL again from its access control configuration)
    payload: dict[str, Any]
    blob: bytes | None


class Store:
    """Thread-safe access: one writer connection behind a lock, one reader connection per thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        with self.write() as conn:
            for table, column, definition in _ADDED_COLUMNS:
                if column not in {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            conn.execute(_ADDED_INDEXES)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite.connect(self._path)
        conn.row_factory = sqlite3.Row
        return conn

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction on the writer connection."""
        return sqlite.transaction(self._writer, self._write_lock)

    def create_tables(self, schema: str) -> None:
        """Run the ``CREATE ... IF NOT EXISTS`` statements of a feature's tables, in one transaction."""
        with self.write() as conn:
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def read(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # -- indexes -----------------------------------------------------------------------------

    def index_rows(self) -> list[sqlite3.Row]:
        return list(self.read().execute("SELECT * FROM indexes ORDER BY created_at, id"))

    def index_row(self, index_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.read().execute("SELECT * FROM indexes WHERE id = ?", (index_id,)).fetchone()
        return row

    # -- documents ---------------------------------------------------------------------------

    def documents(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self.read().execute(
            f"SELECT * FROM documents WHERE index_id = ? AND doc_id IN ({marks})", (index_id, *doc_ids)
        )
        return {row["doc_id"]: _document(row) for row in rows}

    def attributes(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored attribute values of the documents that exist (not their text: cheap for many)."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self.read().execute(
            f"SELECT doc_id, attributes FROM documents WHERE index_id = ? AND doc_id IN ({marks})", (index_id, *doc_ids)
        )
        return {row["doc_id"]: json.loads(row["attributes"] or "{}") for row in rows}

    def pending_ops(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, str]:
        """The latest queued put or delete per document id, for those that have one (an "acl" change
        leaves the document as it is: it is not reported)."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self.read().execute(
            f"SELECT doc_id, op FROM pending WHERE index_id = ? AND doc_id IN ({marks}) AND op != 'acl'"
            " ORDER BY seq",
            (index_id, *doc_ids),
        )
        return {row["doc_id"]: row["op"] for row in rows}

    def statistics(self, index_id: str) -> tuple[int, int]:
        row = self.read().execute(
            "SELECT COUNT(*), COALESCE(SUM(text_bytes), 0) FROM documents"
            " WHERE index_id = ? AND status IN ('INDEXED', 'UPDATED')",
            (index_id,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def indexed_count(self, index_id: str) -> int:
        """How many documents ``iter_indexed`` gives."""
        row = self.read().execute(
            "SELECT COUNT(*) FROM documents WHERE index_id = ? AND status IN ('INDEXED', 'UPDATED', 'UPDATE_FAILED')",
            (index_id,),
        ).fetchone()
        return int(row[0])

    def iter_indexed(self, index_id: str, batch: int = 500) -> Iterator[list[StoredDocument]]:
        """Every searchable document of an index, in batches (for schema rebuilds)."""
        last = ""
        while True:
            rows = list(
                self.read().execute(
                    "SELECT * FROM documents WHERE index_id = ? AND doc_id > ?"
                    " AND status IN ('INDEXED', 'UPDATED', 'UPDATE_FAILED') ORDER BY doc_id LIMIT ?",
                    (index_id, last, batch),
                )
            )
            if not rows:
                return
            yield [_document(r) for r in rows]
            last = rows[-1]["doc_id"]

    # -- the pending queue -------------------------------------------------------------------

    def enqueue(self, changes: Sequence[tuple[str, str, str, dict[str, Any] | None, bytes | None]]) -> None:
        """Queue (index_id, doc_id, op, payload, blob) changes durably, in order."""
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO pending (index_id, doc_id, op, payload, blob) VALUES (?, ?, ?, ?, ?)",
                [(i, d, op, json.dumps(p) if p is not None else None, b) for i, d, op, p, b in changes],
            )

    def next_pending_index(self, after: str | None) -> str | None:
        """The index with pending changes whose turn comes after ``after`` (indexes take turns by id)."""
        read = self.read()
        row = read.execute(
            "SELECT index_id FROM pending WHERE index_id > ? ORDER BY index_id LIMIT 1", (after or "",)
        ).fetchone() or read.execute("SELECT index_id FROM pending ORDER BY index_id LIMIT 1").fetchone()
        return str(row[0]) if row is not None else None

    def next_pending(self, limit: int, max_bytes: int, index_id: str | None = None) -> list[PendingChange]:
        """The oldest changes (of one index, when given): at most ``limit`` rows and about ``max_bytes`` of
        blobs (at least one row)."""
        where = "WHERE index_id = ?" if index_id is not None else ""
        rows = self.read().execute(
            "SELECT * FROM (SELECT *, SUM(COALESCE(LENGTH(blob), 0)) OVER (ORDER BY seq) AS running"
            f" FROM pending {where} ORDER BY seq LIMIT ?) AS head"
            " WHERE running - COALESCE(LENGTH(blob), 0) < ? ORDER BY seq",
            (*([index_id] if index_id is not None else []), limit, max_bytes),
        )
        return [
            PendingChange(
                r["seq"], r["index_id"], r["doc_id"], r["op"], json.loads(r["payload"] or "null") or {}, r["blob"]
            )
            for r in rows
        ]

    def pending_count(self, index_id: str | None = None) -> int:
        """Queued changes (of one index, when given)."""
        if index_id is None:
            return int(self.read().execute("SELECT COUNT(*) FROM pending").fetchone()[0])
        return int(self.read().execute("SELECT COUNT(*) FROM pending WHERE index_id = ?", (index_id,)).fetchone()[0])


def _document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        doc_id=row["doc_id"],
        status=row["status"],
        title=row["title"],
        body=row["body"] or "",
        attributes=json.loads(row["attributes"] or "{}"),
        acl=json.loads(row["acl"] or "[]"),
        text_bytes=row["text_bytes"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        hierarchy=json.loads(row["hierarchy"] or "[]"),
        acl_config=row["acl_config"],
    )
