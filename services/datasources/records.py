"""Data sources and sync jobs as rows of the store (same database as indexes and documents; the schema is
``services.database.migrations.STORE``).

Tables:
    data_sources   one row per CreateDataSource; ``checkpoint`` is the connector's checkpoint of the
                   last sync that finished (JSON)
    sync_jobs      one row per StartDataSourceSyncJob; ``plan_state`` says whether the connector's
                   listing has been split into batches yet; ``next_checkpoint`` becomes the source's
                   checkpoint when the job finishes
    sync_batches   the planned work of a job, one row per batch of items (JSON); ``done`` is set in the
                   same transaction that adds the batch's counts, so a batch redone after a crash
                   counts once
    sync_job_docs  what a job did to each document (added / modified / deleted / failed, with a reason);
                   the primary key makes Metrics exact when a batch is sent twice
    source_items   the version (mtime+size, blob sha, ETag ...) of every item a source has delivered;
                   an item whose version is unchanged is not sent again, which is what lets a stopped
                   or crashed sync resume without resending what was already done

Every process that runs sync work (the server, Celery workers on the same data folder or database) opens
the store through :class:`services.index.store.Store`, whose ``write()`` serialises writers.

This module owns the SQL of these tables: the API (``service.py``), the supervisor and the job
bookkeeping (``jobs.py``) call its functions, and :class:`SyncLedger` is the connectors' sync runner's
view of them (:class:`connectors.ledger.SyncLedger`). The SQL is portable (SQLite and PostgreSQL;
``services.database`` translates the ``?`` placeholders).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.ledger import BatchItem, SyncSource
from connectors.ledger import SyncJob as SyncJob  # the connectors' record type, the API side's too
from services.database import Connection, Row
from services.index.store import Store

# Kendra's DataSourceSyncJobStatus values, grouped.
RUNNING = ("SYNCING", "STOPPING")
FINISHED = ("FAILED", "SUCCEEDED", "ABORTED", "INCOMPLETE")
ACTIONS = ("added", "modified", "deleted", "failed")
_KIND = {"added": "put", "modified": "put", "deleted": "delete"}


def drop_index(store: Store, index_id: str) -> None:
    """Delete the data sources of ``index_id`` and everything their syncs recorded."""
    jobs = "SELECT id FROM sync_jobs WHERE index_id = ?"
    with store.write() as conn:
        conn.execute(f"DELETE FROM sync_job_docs WHERE job_id IN ({jobs})", (index_id,))
        conn.execute(f"DELETE FROM sync_batches WHERE job_id IN ({jobs})", (index_id,))
        conn.execute("DELETE FROM sync_jobs WHERE index_id = ?", (index_id,))
        conn.execute("DELETE FROM source_items WHERE data_source_id IN"
                     " (SELECT id FROM data_sources WHERE index_id = ?)", (index_id,))
        conn.execute("DELETE FROM data_sources WHERE index_id = ?", (index_id,))


def orphaned_indexes(store: Store) -> list[str]:
    """Ids of indexes that are gone but still have data sources or sync jobs."""
    referenced = {r[0] for r in store.read().execute(
        "SELECT index_id FROM data_sources UNION SELECT index_id FROM sync_jobs")}
    return sorted(referenced - {row["id"] for row in store.index_rows()})


def job_of(row: Row) -> SyncJob:
    return SyncJob(
        id=row["id"], data_source_id=row["data_source_id"], index_id=row["index_id"], status=row["status"],
        started_at=row["started_at"], ended_at=row["ended_at"], error_code=row["error_code"],
        error_message=row["error_message"], source_error_code=row["source_error_code"], scanned=row["scanned"],
        total=row["total"], plan_state=row["plan_state"],
        next_checkpoint=json.loads(row["next_checkpoint"]) if row["next_checkpoint"] else None,
        forced=bool(row["forced"]),
    )


def data_source_row(store: Store, ds_id: str) -> Row | None:
    row: Row | None = store.read().execute("SELECT * FROM data_sources WHERE id = ?", (ds_id,)).fetchone()
    return row


def job(store: Store, job_id: str) -> SyncJob | None:
    row = store.read().execute("SELECT * FROM sync_jobs WHERE id = ?", (job_id,)).fetchone()
    return job_of(row) if row is not None else None


def latest_job(store: Store, ds_id: str) -> SyncJob | None:
    row = store.read().execute(
        "SELECT * FROM sync_jobs WHERE data_source_id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1", (ds_id,)
    ).fetchone()
    return job_of(row) if row is not None else None


def counts(store: Store, job_id: str) -> dict[str, int]:
    rows = store.read().execute(
        "SELECT action, COUNT(*) AS n FROM sync_job_docs WHERE job_id = ? GROUP BY action", (job_id,)
    )
    found = {row["action"]: int(row["n"]) for row in rows}
    return {action: found.get(action, 0) for action in ACTIONS}


def failures(store: Store, job_id: str, limit: int = 20) -> list[tuple[str, str]]:
    rows = store.read().execute(
        "SELECT doc_id, reason FROM sync_job_docs WHERE job_id = ? AND action = 'failed' ORDER BY doc_id LIMIT ?",
        (job_id, limit),
    )
    return [(row["doc_id"], row["reason"] or "") for row in rows]


def record_docs(conn: Connection, job_id: str, entries: Iterable[tuple[str, str, str | None]]) -> None:
    """(doc_id, action, reason). A document counts once per kind of event in a job (put: added or
    modified, by the first put; deleted; failed), however often a retried batch sends it."""
    conn.executemany(
        "INSERT INTO sync_job_docs (job_id, doc_id, kind, action, reason) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (job_id, doc_id, kind) DO NOTHING",
        [(job_id, doc_id, _KIND.get(action, action), action, reason[:2048] if reason else None)
         for doc_id, action, reason in entries],
    )


def known_versions(store: Store, ds_id: str) -> dict[str, str]:
    rows = store.read().execute("SELECT doc_id, version FROM source_items WHERE data_source_id = ?", (ds_id,))
    return {row["doc_id"]: row["version"] for row in rows}


def set_versions(conn: Connection, ds_id: str, versions: Mapping[str, str | None]) -> None:
    """Record delivered versions; None forgets an item (deleted at the source)."""
    conn.executemany(
        "INSERT INTO source_items (data_source_id, doc_id, version) VALUES (?, ?, ?)"
        " ON CONFLICT (data_source_id, doc_id) DO UPDATE SET version = excluded.version",
        [(ds_id, doc_id, v) for doc_id, v in versions.items() if v is not None],
    )
    conn.executemany(
        "DELETE FROM source_items WHERE data_source_id = ? AND doc_id = ?",
        [(ds_id, doc_id) for doc_id, v in versions.items() if v is None],
    )


def set_status(store: Store, job_id: str, status: str, *, only_from: tuple[str, ...] | None = None,
               error_code: str | None = None, error_message: str | None = None) -> bool:
    """Move a job to ``status`` (from one of ``only_from`` if given); True if it moved."""
    ended = time.time() if status in FINISHED else None
    sql = "UPDATE sync_jobs SET status = ?, ended_at = COALESCE(?, ended_at)"
    args: list[Any] = [status, ended]
    if error_code is not None:
        sql += ", error_code = ?, error_message = ?"
        args += [error_code, (error_message or error_code)[:2048]]
    sql += " WHERE id = ?"
    args.append(job_id)
    if only_from:
        sql += f" AND status IN ({','.join('?' * len(only_from))})"
        args += list(only_from)
    with store.write() as conn:
        return conn.execute(sql, args).rowcount > 0


# -- data_sources ------------------------------------------------------------------------------------


def data_source_by_token(store: Store, index_id: str, token: str) -> str | None:
    """The id of the data source that CreateDataSource made with ``token`` (its ClientToken)."""
    row = store.read().execute(
        "SELECT id FROM data_sources WHERE index_id = ? AND client_token = ?", (index_id, token)
    ).fetchone()
    return str(row["id"]) if row is not None else None


def name_taken(store: Store, index_id: str, name: str) -> bool:
    return store.read().execute(
        "SELECT 1 FROM data_sources WHERE index_id = ? AND name = ?", (index_id, name)
    ).fetchone() is not None


def insert_data_source(store: Store, ds_id: str, index_id: str, name: str, kind: str, token: str | None,
                       config: Mapping[str, Any], now: float) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO data_sources (id, index_id, name, type, status, created_at, updated_at, client_token,"
            " config, last_schedule_check) VALUES (?, ?, ?, ?, 'ACTIVE', ?, ?, ?, ?, ?)",
            (ds_id, index_id, name, kind, now, now, token, json.dumps(config), now),
        )


def data_sources_of(store: Store, index_id: str) -> list[Row]:
    """The index's data sources (not those being deleted), oldest first."""
    return list(store.read().execute(
        "SELECT * FROM data_sources WHERE index_id = ? AND status != 'DELETING' ORDER BY created_at, id",
        (index_id,),
    ))


def update_data_source(store: Store, ds_id: str, name: str, config: Mapping[str, Any], now: float) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE data_sources SET name = ?, config = ?, updated_at = ? WHERE id = ?",
            (name, json.dumps(config), now, ds_id),
        )


def delivered_doc_ids(store: Store, ds_id: str) -> set[str]:
    """The ids of the documents the source has delivered (its recorded versions)."""
    return {r[0] for r in store.read().execute("SELECT doc_id FROM source_items WHERE data_source_id = ?",
                                               (ds_id,))}


def delete_data_source(store: Store, ds_id: str, now: float) -> None:
    """Delete the source row and its versions; its running jobs become ABORTED."""
    with store.write() as conn:
        conn.execute(
            "UPDATE sync_jobs SET status = 'ABORTED', ended_at = ? WHERE data_source_id = ?"
            " AND status IN ('SYNCING', 'STOPPING', 'SYNCING_INDEXING')", (now, ds_id),
        )
        conn.execute("DELETE FROM source_items WHERE data_source_id = ?", (ds_id,))
        conn.execute("DELETE FROM data_sources WHERE id = ?", (ds_id,))


def scheduled_candidates(store: Store) -> list[Row]:
    """The ACTIVE data sources of indexes not being deleted (an index being deleted takes its sources along)."""
    live = {row["id"] for row in store.index_rows() if row["status"] != "DELETING"}
    return [row for row in store.read().execute("SELECT * FROM data_sources WHERE status = 'ACTIVE'")
            if row["index_id"] in live]


def mark_schedule_checked(store: Store, ds_id: str, now: float) -> None:
    with store.write() as conn:
        conn.execute("UPDATE data_sources SET last_schedule_check = ? WHERE id = ?", (now, ds_id))


def source_of(row: Row) -> SyncSource:
    return SyncSource(type=row["type"], config=json.loads(row["config"]),
                      checkpoint=json.loads(row["checkpoint"]) if row["checkpoint"] else None)


# -- sync_jobs ---------------------------------------------------------------------------------------


def insert_job(store: Store, job_id: str, ds_id: str, index_id: str, *, forced: bool, now: float) -> str | None:
    """Start a SYNCING job, unless the source has one running: then nothing changes and its id is returned."""
    with store.write() as conn:
        running = conn.execute(
            "SELECT id FROM sync_jobs WHERE data_source_id = ? AND status IN ('SYNCING', 'STOPPING')", (ds_id,)
        ).fetchone()
        if running is not None:
            return str(running["id"])
        conn.execute(
            "INSERT INTO sync_jobs (id, data_source_id, index_id, status, started_at, forced)"
            " VALUES (?, ?, ?, 'SYNCING', ?, ?)",
            (job_id, ds_id, index_id, now, int(forced)),
        )
    return None


def jobs_of(store: Store, ds_id: str) -> list[SyncJob]:
    """The source's jobs, newest first."""
    return [job_of(r) for r in store.read().execute(
        "SELECT * FROM sync_jobs WHERE data_source_id = ? ORDER BY started_at DESC, rowid DESC", (ds_id,)
    )]


def jobs_in(store: Store, statuses: Sequence[str]) -> list[SyncJob]:
    """Every job whose status is one of ``statuses``."""
    return [job_of(r) for r in store.read().execute(
        f"SELECT * FROM sync_jobs WHERE status IN ({','.join('?' * len(statuses))})", tuple(statuses)
    )]


# -- sync_batches ------------------------------------------------------------------------------------


def save_plan(store: Store, job_id: str, batches: Sequence[Sequence[BatchItem]], next_checkpoint: Mapping[str, Any],
              total: int, unchanged: int) -> bool:
    """Store a job's batches and its next checkpoint once; True if this call planned the job."""
    with store.write() as conn:
        state = conn.execute("SELECT plan_state FROM sync_jobs WHERE id = ?", (job_id,)).fetchone()
        if state is None or state["plan_state"] == "planned":
            return False
        conn.executemany(
            "INSERT INTO sync_batches (job_id, seq, items) VALUES (?, ?, ?) ON CONFLICT (job_id, seq) DO NOTHING",
            [(job_id, seq, json.dumps(list(batch), ensure_ascii=False)) for seq, batch in enumerate(batches)],
        )
        conn.execute(
            "UPDATE sync_jobs SET plan_state = 'planned', next_checkpoint = ?, total = ?,"
            " scanned = scanned + ? WHERE id = ?",
            (json.dumps(next_checkpoint), total, unchanged, job_id),
        )
    return True


def pending_batches(store: Store, job_id: str) -> list[int]:
    rows = store.read().execute(
        "SELECT seq FROM sync_batches WHERE job_id = ? AND done = 0 ORDER BY seq", (job_id,)
    )
    return [int(r["seq"]) for r in rows]


def batch_items(store: Store, job_id: str, seq: int) -> list[BatchItem] | None:
    """A batch's items; None when it does not exist or is done."""
    row = store.read().execute(
        "SELECT items, done FROM sync_batches WHERE job_id = ? AND seq = ?", (job_id, seq)
    ).fetchone()
    if row is None or row["done"]:
        return None
    items: list[BatchItem] = json.loads(row["items"])
    return items


def complete_batch(store: Store, job_id: str, seq: int, *, data_source_id: str, scanned: int,
                   failed: Mapping[str, str], versions: Mapping[str, str | None]) -> bool:
    """Mark the batch done with its counts, failures and delivered versions, once; True if this call did."""
    with store.write() as conn:
        marked = conn.execute(
            "UPDATE sync_batches SET done = 1 WHERE job_id = ? AND seq = ? AND done = 0", (job_id, seq)
        ).rowcount
        if not marked:
            return False
        conn.execute("UPDATE sync_jobs SET scanned = scanned + ? WHERE id = ?", (scanned, job_id))
        record_docs(conn, job_id, [(d, "failed", reason) for d, reason in failed.items()])
        set_versions(conn, data_source_id, versions)
    return True


def batches_left(store: Store, job_id: str) -> int:
    return int(store.read().execute(
        "SELECT COUNT(*) FROM sync_batches WHERE job_id = ? AND done = 0", (job_id,)
    ).fetchone()[0])


# -- the end of a job --------------------------------------------------------------------------------


def failed_sync_items(store: Store, index_id: str, limit: int) -> list[Row]:
    """Items the latest sync of each of the index's data sources could not deliver: doc_id, reason,
    job, data_source_id and at (when the job ended, or started)."""
    if not store.db.has_table("sync_job_docs"):
        return []
    return list(store.read().execute(
        "SELECT j.doc_id, j.reason, s.id AS job, s.data_source_id, COALESCE(s.ended_at, s.started_at) AS at"
        " FROM sync_jobs s JOIN sync_job_docs j ON j.job_id = s.id"
        " WHERE s.index_id = ? AND j.action = 'failed' AND s.started_at = (SELECT MAX(started_at)"
        " FROM sync_jobs l WHERE l.data_source_id = s.data_source_id) LIMIT ?",
        (index_id, limit),
    ))


def settle(store: Store, current: SyncJob, changed: threading.Event | None = None) -> SyncJob:
    """Finish a SYNCING_INDEXING job whose documents have all left the indexer's queue: documents the
    indexer could not read become failed, the job SUCCEEDED (or INCOMPLETE when some failed), and its
    next checkpoint becomes the source's. While some are queued, ``changed`` is set (wakes the indexer)."""
    if current.status != "SYNCING_INDEXING":
        return current
    recorded = list(store.read().execute("SELECT doc_id, action FROM sync_job_docs WHERE job_id = ?",
                                         (current.id,)))
    if store.has_pending(current.index_id, [row["doc_id"] for row in recorded]):
        if changed is not None:
            changed.set()
        return current
    # Puts the indexer could not read (the documents' rows are the index store's); a job in
    # SYNCING_INDEXING delivers nothing more, so they cannot change before the write below.
    failed = store.failure_reasons(current.index_id, [row["doc_id"] for row in recorded
                                                      if row["action"] in ("added", "modified")])
    with store.write() as conn:
        conn.executemany(
            "UPDATE sync_job_docs SET action = 'failed', reason = ? WHERE job_id = ? AND doc_id = ? AND kind = 'put'",
            [(reason, current.id, doc_id) for doc_id, reason in sorted(failed.items())],
        )
        n_failed = conn.execute(
            "SELECT COUNT(*) FROM sync_job_docs WHERE job_id = ? AND action = 'failed'", (current.id,)
        ).fetchone()[0]
        status = "INCOMPLETE" if n_failed else "SUCCEEDED"
        message = None
        if n_failed:  # the first failures with their reasons (all of them are in the log)
            some = conn.execute(
                "SELECT doc_id, reason FROM sync_job_docs WHERE job_id = ? AND action = 'failed'"
                " ORDER BY doc_id LIMIT 20", (current.id,),
            )
            message = f"{n_failed} documents failed: " + "; ".join(f"{r['doc_id']}: {r['reason']}" for r in some)
            message = " ".join(message.split())  # Kendra's ErrorMessage has no control characters
        moved = conn.execute(
            "UPDATE sync_jobs SET status = ?, ended_at = ?, error_code = COALESCE(?, error_code),"
            " error_message = COALESCE(?, error_message) WHERE id = ? AND status = 'SYNCING_INDEXING'",
            (status, time.time(), "InvalidRequest" if n_failed else None, message[:2048] if message else None,
             current.id),
        ).rowcount
        if moved and current.next_checkpoint is not None:
            conn.execute(
                "UPDATE data_sources SET checkpoint = ? WHERE id = ?",
                (json.dumps(current.next_checkpoint), current.data_source_id),
            )
    settled = job(store, current.id)
    assert settled is not None
    return settled


# -- the sync runner's view --------------------------------------------------------------------------


class SyncLedger:
    """:class:`connectors.ledger.SyncLedger` on the store's tables: what the sync runner is given."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def job(self, job_id: str) -> SyncJob | None:
        return job(self.store, job_id)

    def source(self, ds_id: str) -> SyncSource | None:
        row = data_source_row(self.store, ds_id)
        return source_of(row) if row is not None else None

    def set_status(self, job_id: str, status: str, *, only_from: tuple[str, ...] | None = None,
                   error_code: str | None = None, error_message: str | None = None) -> bool:
        return set_status(self.store, job_id, status, only_from=only_from, error_code=error_code,
                          error_message=error_message)

    def known_versions(self, ds_id: str) -> dict[str, str]:
        return known_versions(self.store, ds_id)

    def save_plan(self, job_id: str, batches: Sequence[Sequence[BatchItem]], next_checkpoint: dict[str, Any],
                  total: int, unchanged: int) -> bool:
        return save_plan(self.store, job_id, batches, next_checkpoint, total, unchanged)

    def pending_batches(self, job_id: str) -> list[int]:
        return pending_batches(self.store, job_id)

    def batch(self, job_id: str, seq: int) -> list[BatchItem] | None:
        return batch_items(self.store, job_id, seq)

    def complete_batch(self, job_id: str, seq: int, *, data_source_id: str, scanned: int,
                       failed: Mapping[str, str], versions: Mapping[str, str | None]) -> bool:
        return complete_batch(self.store, job_id, seq, data_source_id=data_source_id, scanned=scanned,
                              failed=failed, versions=versions)

    def batches_left(self, job_id: str) -> int:
        return batches_left(self.store, job_id)

    def settle(self, job_id: str) -> SyncJob | None:
        found = job(self.store, job_id)
        return settle(self.store, found) if found is not None else None
