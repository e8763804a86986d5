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
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.database import Connection, Row
from services.index.store import Store

# Kendra's DataSourceSyncJobStatus values, grouped.
RUNNING = ("SYNCING", "STOPPING")
FINISHED = ("FAILED", "SUCCEEDED", "ABORTED", "INCOMPLETE")
ACTIONS = ("added", "modified", "deleted", "failed")
_KIND = {"added": "put", "modified": "put", "deleted": "delete"}


@dataclass(frozen=True, slots=True)
class SyncJob:
    """A sync job row with its counts."""

    id: str
    data_source_id: str
    index_id: str
    status: str
    started_at: float
    ended_at: float | None
    error_code: str | None
    error_message: str | None
    source_error_code: str | None
    scanned: int
    total: int | None
    plan_state: str
    next_checkpoint: dict[str, Any] | None
    forced: bool


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
    return [r[0] for r in store.read().execute(
        "SELECT index_id FROM data_sources UNION SELECT index_id FROM sync_jobs"
        " EXCEPT SELECT id FROM indexes")]


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
