"""Sync job bookkeeping shared by the API and every runner: what a job's documents did.

:class:`JobTracker` is what BatchPutDocument / BatchDeleteDocument consult for documents that carry
``_data_source_id`` (CUSTOM sources and connectors alike): the job must be SYNCING, and each document
is recorded once per job as added or modified (by whether the index had it when the job first
touched it) or deleted. (A job's end, once the indexer has taken its documents, is
:func:`services.datasources.records.settle`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.datasources import records
from services.index.store import Store
from services.index.sync_jobs import PutRejected

_EXISTING = ("INDEXED", "UPDATED", "UPDATE_FAILED")


class JobTracker:
    """The data source side of :class:`services.index.sync_jobs.SyncJobs`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check(self, index_id: str, attributes: dict[str, Any]) -> tuple[str, str] | None:
        """(data source id, job id) of a document's attributes, checked; None for a plain document."""
        ds_id = attributes.get("_data_source_id")
        job_id = attributes.get("_data_source_sync_job_execution_id")
        if ds_id is None and job_id is None:
            return None
        if not ds_id or not job_id:
            raise PutRejected("_data_source_id and _data_source_sync_job_execution_id must be given together")
        return self._check_job(index_id, str(ds_id), str(job_id))

    def _check_job(self, index_id: str, ds_id: str, job_id: str) -> tuple[str, str]:
        source = records.data_source_row(self.store, ds_id)
        if source is None or source["index_id"] != index_id:
            raise PutRejected(f"Data source {ds_id} does not exist in this index")
        job = records.job(self.store, job_id)
        if job is None or job.data_source_id != ds_id:
            raise PutRejected(f"Sync job {job_id} is not a job of data source {ds_id}")
        # STOPPING: a connector's batch already under way when the stop came may still finish.
        if job.status not in ("SYNCING", "STOPPING"):
            raise PutRejected(f"Sync job {job_id} is {job.status}; it no longer takes documents")
        return ds_id, job_id

    def check_target(self, index_id: str, target: dict[str, Any]) -> str | None:
        """The job id of a BatchDeleteDocument's DataSourceSyncJobMetricTarget, checked."""
        ds_id = target["DataSourceId"]
        job_id = target.get("DataSourceSyncJobId")
        if job_id is None:
            source = records.data_source_row(self.store, ds_id)
            if source is None or source["index_id"] != index_id:
                raise PutRejected(f"Data source {ds_id} does not exist in this index")
            return None
        return self._check_job(index_id, ds_id, job_id)[1]

    def existing(self, index_id: str, doc_ids: Sequence[str]) -> set[str]:
        """Which documents the index has now (indexed, or a put still queued)."""
        stored = self.store.documents(index_id, doc_ids)
        found = {d for d, doc in stored.items() if doc.status in _EXISTING}
        pending = self.store.pending_ops(index_id, doc_ids)
        found |= {d for d, op in pending.items() if op == "put"}
        found -= {d for d, op in pending.items() if op == "delete"}
        return found

    def record_puts(self, job_id: str, doc_ids: Sequence[str], existed: set[str]) -> None:
        with self.store.write() as conn:
            records.record_docs(conn, job_id, [(d, "modified" if d in existed else "added", None) for d in doc_ids])

    def record_deletes(self, job_id: str, doc_ids: Sequence[str]) -> None:
        with self.store.write() as conn:
            records.record_docs(conn, job_id, [(d, "deleted", None) for d in doc_ids])
