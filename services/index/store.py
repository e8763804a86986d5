"""The durable record of everything: indexes, documents, and the queue of pending document changes.

One SQLite file in the data folder (WAL), or the tables in PostgreSQL (``KENSAKU_DATABASE_URL``; see
``services.database``). A document change is first written to ``pending`` and committed before
BatchPutDocument answers; the indexer moves it into the lexical index and only then marks it INDEXED,
so a status of INDEXED always means "in a committed segment". SQL is portable (``services.database``);
the schema is ``services.database.migrations.STORE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.database import Connection, Database, Row
from services.database.migrations import migrate

if TYPE_CHECKING:
    from services.settings import Settings

# A row of ``indexes`` (every column, by name): id, name, status, created_at, updated_at, client_token,
# schema_gen, analyzer, config (JSON), fields (JSON), acl_levels.
IndexRow = Row
# Every column of ``documents`` a document's row is written with, in this order (``replace_document``).
DOCUMENT_COLUMNS = ("index_id", "doc_id", "status", "title", "body", "attributes", "acl", "hierarchy", "acl_config",
                    "text_bytes", "failure_code", "failure_reason", "updated_at")
# A document's whole row, replacing the one there (every column given: nothing of the old row is kept).
_REPLACE_DOCUMENT = (
    f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)}) VALUES ({', '.join('?' * len(DOCUMENT_COLUMNS))})"
    " ON CONFLICT (index_id, doc_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in DOCUMENT_COLUMNS[2:])
)

_IN_CHUNK = 500  # ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's parameter limits


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


@dataclass(slots=True)
class Claim:
    """Pending changes an indexer took (``Store.claim``), and how to record what became of them."""

    changes: list[PendingChange]
    # A write transaction for the outcome: on PostgreSQL part of the claim's own transaction (committed
    # with it, when the claim ends), so the changes leave the queue only with their outcome.
    write: Callable[[], AbstractContextManager[Connection]]


class Store:
    """Thread-safe access to the store's database (a SQLite file, or PostgreSQL): ``read()`` and ``write()``
    as ``services.database`` describes them. The schema is migrated when the store opens."""

    def __init__(self, path: Path | Database) -> None:
        if isinstance(path, Path):
            from services.database.sqlite import SQLiteDatabase

            path = SQLiteDatabase(path, "store")
        self.db: Database = path
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def write(self) -> AbstractContextManager[Connection]:
        """One write transaction."""
        return self.db.write()

    def read(self) -> Connection:
        return self.db.read()

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of member ``key`` of the JSON object in ``column``."""
        return self.db.json_text(column, key)

    # -- indexes -----------------------------------------------------------------------------

    def _of_ids(self, sql: str, index_id: str, doc_ids: Sequence[str]) -> Iterator[Row]:
        """The rows of ``sql`` (``index_id = ?`` first, then ``IN ({ids})``) for ``doc_ids``, read in chunks
        (each id once, so all rows of one document come from one chunk, in the order ``sql`` gives)."""
        doc_ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(doc_ids), _IN_CHUNK):
            chunk = doc_ids[start : start + _IN_CHUNK]
            yield from self.read().execute(sql.format(ids=",".join("?" * len(chunk))), (index_id, *chunk))

    def index_rows(self) -> list[IndexRow]:
        return list(self.read().execute("SELECT * FROM indexes ORDER BY created_at, id"))

    def index_row(self, index_id: str) -> IndexRow | None:
        row: IndexRow | None = self.read().execute("SELECT * FROM indexes WHERE id = ?", (index_id,)).fetchone()
        return row

    def index_id_of_token(self, client_token: str) -> str | None:
        """The index created with this ClientToken, if any."""
        row = self.read().execute("SELECT id FROM indexes WHERE client_token = ?", (client_token,)).fetchone()
        return None if row is None else str(row["id"])

    def insert_index(self, index_id: str, name: str, now: float, client_token: str | None, analyzer: str,
                     config: dict[str, Any], fields: list[dict[str, Any]]) -> None:
        """A new index, CREATING, of schema generation 0."""
        with self.write() as conn:
            conn.execute(
                "INSERT INTO indexes (id, name, status, created_at, updated_at, client_token, schema_gen, analyzer,"
                " config, fields) VALUES (?, ?, 'CREATING', ?, ?, ?, 0, ?, ?, ?)",
                (index_id, name, now, now, client_token, analyzer, json.dumps(config), json.dumps(fields)),
            )

    def activate_created(self, index_id: str) -> None:
        """A CREATING index becomes ACTIVE (any other status stays)."""
        with self.write() as conn:
            conn.execute("UPDATE indexes SET status = 'ACTIVE' WHERE id = ? AND status = 'CREATING'", (index_id,))

    def raise_acl_levels(self, index_id: str, levels: int) -> None:
        """The index's ``acl_levels`` becomes at least ``levels`` (never lowered)."""
        with self.write() as conn:
            conn.execute("UPDATE indexes SET acl_levels = CASE WHEN acl_levels < ? THEN ? ELSE acl_levels END"
                         " WHERE id = ?", (levels, levels, index_id))

    def update_index(self, index_id: str, name: str, config: dict[str, Any], fields: list[dict[str, Any]],
                     now: float, *, updating: bool) -> None:
        """UpdateIndex's change; ``updating``: the fields' schema changed, the index is UPDATING until the
        indexer rebuilt it (``finish_rebuild``)."""
        with self.write() as conn:
            conn.execute(
                "UPDATE indexes SET name = ?, config = ?, fields = ?, updated_at = ?,"
                " status = CASE WHEN ? THEN 'UPDATING' ELSE status END WHERE id = ?",
                (name, json.dumps(config), json.dumps(fields), now, updating, index_id),
            )

    def mark_updating(self, index_id: str) -> None:
        """The index is to be rebuilt by the indexer (UPDATING)."""
        with self.write() as conn:
            conn.execute("UPDATE indexes SET status = 'UPDATING' WHERE id = ?", (index_id,))

    @staticmethod
    def finish_rebuild(conn: Connection, index_id: str, generation: int, analyzer: str, fields_json: str) -> bool:
        """In ``conn``'s transaction: the index is at schema ``generation``, built by ``analyzer``, and
        ACTIVE again if its fields are still ``fields_json`` (True); else (another UpdateIndex came
        meanwhile: False) only the generation is recorded, and it stays UPDATING to be built again."""
        done = conn.execute(
            "UPDATE indexes SET schema_gen = ?, analyzer = ?, status = 'ACTIVE' WHERE id = ? AND fields = ?",
            (generation, analyzer, index_id, fields_json),
        ).rowcount
        if not done:
            conn.execute("UPDATE indexes SET schema_gen = ? WHERE id = ?", (generation, index_id))
        return bool(done)

    def mark_deleting(self, index_id: str, now: float) -> None:
        """DeleteIndex: the index is DELETING from ``now`` (until ``drop_index``)."""
        with self.write() as conn:
            conn.execute("UPDATE indexes SET status = 'DELETING', updated_at = ? WHERE id = ?", (now, index_id))

    def drop_index(self, index_id: str) -> None:
        """The index, its documents and its queued changes are gone."""
        with self.write() as conn:
            conn.execute("DELETE FROM pending WHERE index_id = ?", (index_id,))
            conn.execute("DELETE FROM documents WHERE index_id = ?", (index_id,))
            conn.execute("DELETE FROM indexes WHERE id = ?", (index_id,))

    # -- documents ---------------------------------------------------------------------------

    def documents(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        rows = self._of_ids("SELECT * FROM documents WHERE index_id = ? AND doc_id IN ({ids})", index_id, doc_ids)
        return {row["doc_id"]: _document(row) for row in rows}

    def attributes(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored attribute values of the documents that exist (not their text: cheap for many)."""
        rows = self._of_ids("SELECT doc_id, attributes FROM documents WHERE index_id = ? AND doc_id IN ({ids})",
                            index_id, doc_ids)
        return {row["doc_id"]: json.loads(row["attributes"] or "{}") for row in rows}

    def pending_ops(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, str]:
        """The latest queued put or delete per document id, for those that have one (an "acl" change
        leaves the document as it is: it is not reported)."""
        rows = self._of_ids("SELECT doc_id, op FROM pending WHERE index_id = ? AND doc_id IN ({ids}) AND op != 'acl'"
                            " ORDER BY seq", index_id, doc_ids)
        return {row["doc_id"]: row["op"] for row in rows}  # a later change of a document overwrites

    def has_pending(self, index_id: str, doc_ids: Sequence[str]) -> bool:
        """Whether a put or delete of any of ``doc_ids`` is still queued (reads up to the first chunk that
        has one)."""
        return any(True for _ in self._of_ids(
            "SELECT 1 FROM pending WHERE index_id = ? AND doc_id IN ({ids}) AND op != 'acl' LIMIT 1",
            index_id, doc_ids))

    def failure_reasons(self, index_id: str, doc_ids: Sequence[str]) -> dict[str, str | None]:
        """The failure reason of each of ``doc_ids`` that is FAILED or UPDATE_FAILED."""
        rows = self._of_ids("SELECT doc_id, failure_reason FROM documents WHERE index_id = ? AND doc_id IN ({ids})"
                            " AND status IN ('FAILED', 'UPDATE_FAILED')", index_id, doc_ids)
        return {row["doc_id"]: row["failure_reason"] for row in rows}

    def doc_ids_of_source(self, index_id: str, ds_id: str) -> set[str]:
        """The stored documents whose ``_data_source_id`` attribute names the data source ``ds_id``."""
        return {row[0] for row in self.read().execute(
            "SELECT doc_id FROM documents WHERE index_id = ?"
            f" AND {self.json_text('attributes', '_data_source_id')} = ?",
            (index_id, ds_id),
        )}

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

    def failed_documents(self, index_id: str, limit: int) -> list[Row]:
        """The newest ``limit`` FAILED and UPDATE_FAILED documents: doc_id, status, failure_code,
        failure_reason, updated_at, and source (the ``_data_source_id`` attribute, or NULL)."""
        return list(self.read().execute(
            "SELECT doc_id, status, failure_code, failure_reason, updated_at,"
            f" {self.json_text('attributes', '_data_source_id')} AS source FROM documents"
            " WHERE index_id = ? AND status IN ('FAILED', 'UPDATE_FAILED') ORDER BY updated_at DESC LIMIT ?",
            (index_id, limit),
        ))

    def texts_indexed_since(self, index_id: str, since: float) -> Iterator[Row]:
        """Rows of (title, body, attributes JSON, updated_at) of the INDEXED and UPDATED documents written
        after ``since``, as they are read."""
        yield from self.read().execute(
            "SELECT title, body, attributes, updated_at FROM documents WHERE index_id = ? AND updated_at > ?"
            " AND status IN ('INDEXED', 'UPDATED')", (index_id, since))

    def searchable_titles(self, index_id: str) -> list[tuple[str, str | None, str | None]]:
        """(doc_id, title, attributes JSON) of every INDEXED and UPDATED document."""
        return [(doc_id, title, attributes) for doc_id, title, attributes in self.read().execute(
            "SELECT doc_id, title, attributes FROM documents WHERE index_id = ? AND status IN ('INDEXED', 'UPDATED')",
            (index_id,),
        )]

    @staticmethod
    def naming_acl_config(conn: Connection, index_id: str, config_id: str) -> set[str]:
        """The documents that take their ACL from access control configuration ``config_id``: stored,
        or in a queued put."""
        found = {r["doc_id"] for r in conn.execute(
            "SELECT doc_id FROM documents WHERE index_id = ? AND acl_config = ?", (index_id, config_id))}
        # The latest queued put of a document decides (a later put without the configuration frees it).
        latest: dict[str, str | None] = {}
        for r in conn.execute("SELECT doc_id, op, payload FROM pending WHERE index_id = ? AND op != 'acl'"
                              " ORDER BY seq", (index_id,)):
            latest[r["doc_id"]] = json.loads(r["payload"]).get("acl_config") if r["op"] == "put" else None
        for doc_id, named in latest.items():
            if named == config_id:
                found.add(doc_id)
            else:
                found.discard(doc_id)
        return found

    @staticmethod
    def enqueue_acl(conn: Connection, index_id: str, doc_ids: Sequence[str]) -> None:
        """Queue, in ``conn``'s transaction, an "acl" change for each document (in this order): the
        indexer takes its ACL again from its access control configuration."""
        conn.executemany("INSERT INTO pending (index_id, doc_id, op) VALUES (?, ?, 'acl')",
                         [(index_id, doc_id) for doc_id in doc_ids])

    # The indexer records what became of claimed changes with these, in the claim's write transaction
    # (``Claim.write``), next to its lease check.

    @staticmethod
    def document_status(conn: Connection, index_id: str, doc_id: str) -> str | None:
        """The stored document's status (None: not stored)."""
        row = conn.execute(
            "SELECT status FROM documents WHERE index_id = ? AND doc_id = ?", (index_id, doc_id)
        ).fetchone()
        return None if row is None else str(row["status"])

    @staticmethod
    def replace_document(conn: Connection, row: Sequence[Any]) -> None:
        """A document's whole row (the values of ``DOCUMENT_COLUMNS``), replacing the one there."""
        conn.execute(_REPLACE_DOCUMENT, tuple(row))

    @staticmethod
    def set_document_acl(conn: Connection, index_id: str, doc_id: str, acl: list[dict[str, Any]],
                         hierarchy: list[list[dict[str, Any]]]) -> None:
        """A stored document's ACL and hierarchical principal lists (its status stays)."""
        conn.execute(
            "UPDATE documents SET acl = ?, hierarchy = ? WHERE index_id = ? AND doc_id = ?",
            (json.dumps(acl, ensure_ascii=False), json.dumps(hierarchy, ensure_ascii=False) if hierarchy else None,
             index_id, doc_id))

    @staticmethod
    def mark_update_failed(conn: Connection, index_id: str, doc_id: str, code: str | None, reason: str,
                           now: float) -> None:
        """A new version of an indexed document failed: it is UPDATE_FAILED (the old version stays)."""
        conn.execute(
            "UPDATE documents SET status = 'UPDATE_FAILED', failure_code = ?,"
            " failure_reason = ?, updated_at = ? WHERE index_id = ? AND doc_id = ?",
            (code, reason, now, index_id, doc_id),
        )

    @staticmethod
    def delete_document(conn: Connection, index_id: str, doc_id: str) -> None:
        conn.execute("DELETE FROM documents WHERE index_id = ? AND doc_id = ?", (index_id, doc_id))

    @staticmethod
    def forget_pending(conn: Connection, seqs: Sequence[int]) -> None:
        """The queued changes ``seqs`` leave the queue."""
        conn.executemany("DELETE FROM pending WHERE seq = ?", [(seq,) for seq in seqs])

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
        return [_change(r) for r in rows]

    @contextmanager
    def claim(self, limit: int, max_bytes: int, index_id: str | None = None) -> Iterator[Claim]:
        """Take the oldest changes (as ``next_pending``) to apply them, for as long as the block runs.

        With one indexer process (SQLite) this is ``next_pending``, and ``Claim.write`` is ``write``.
        With row locks (PostgreSQL, any number of indexers) the claim is a transaction holding the rows
        it took (``FOR UPDATE SKIP LOCKED``): only the earliest pending change of a document, and only if
        no other indexer holds it, so two indexers never get changes of one document and a document's
        changes are applied in their order. The outcome is written in the same transaction; a claimer
        that dies (even killed) has its transaction aborted by the server, and its rows are free again.
        """
        if not self.db.row_locks:
            yield Claim(self.next_pending(limit, max_bytes, index_id), self.write)
            return
        from services.database.postgres import PostgresDatabase

        db = self.db
        assert isinstance(db, PostgresDatabase)
        with db.transaction() as tx:
            where = " AND p.index_id = ?" if index_id is not None else ""
            # Rows another claimer holds are skipped; the earliest row of a document is its turn.
            held = tx.execute(
                "SELECT p.seq, COALESCE(LENGTH(p.blob), 0) FROM pending p WHERE p.seq ="
                " (SELECT MIN(q.seq) FROM pending q WHERE q.index_id = p.index_id AND q.doc_id = p.doc_id)"
                f"{where} ORDER BY p.seq LIMIT ? FOR UPDATE SKIP LOCKED",
                (*([index_id] if index_id is not None else []), limit),
            ).fetchall()
            seqs: list[int] = []
            total = 0
            for seq, size in held:  # about max_bytes of blobs, at least one change (as next_pending)
                if seqs and total >= max_bytes:
                    break  # the rows past the budget stay locked until this claim ends, untouched
                seqs.append(seq)
                total += size
            changes: list[PendingChange] = []
            for at in range(0, len(seqs), 500):
                part = seqs[at : at + 500]
                changes += [_change(r) for r in tx.execute(
                    f"SELECT * FROM pending WHERE seq IN ({','.join('?' * len(part))}) ORDER BY seq", part)]
            yield Claim(changes, lambda: db.savepoint(tx))

    def pending_count(self, index_id: str | None = None) -> int:
        """Queued changes (of one index, when given)."""
        if index_id is None:
            return int(self.read().execute("SELECT COUNT(*) FROM pending").fetchone()[0])
        return int(self.read().execute("SELECT COUNT(*) FROM pending WHERE index_id = ?", (index_id,)).fetchone()[0])


def _change(r: Row) -> PendingChange:
    return PendingChange(
        r["seq"], r["index_id"], r["doc_id"], r["op"], json.loads(r["payload"] or "null") or {},
        bytes(r["blob"]) if r["blob"] is not None else None,
    )


def open_store(settings: Settings) -> Store:
    """The store as the settings say: ``kensaku.sqlite3`` in the data folder, or PostgreSQL."""
    from services.database import open_database

    return Store(open_database(settings, "store"))


def _document(row: Row) -> StoredDocument:
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
