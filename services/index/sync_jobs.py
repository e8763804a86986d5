"""What BatchPutDocument and BatchDeleteDocument ask of sync jobs, for documents that name one.

A document carrying ``_data_source_id`` (a CUSTOM source's, or a connector's) belongs to a sync job:
the job must take documents, and each document is recorded with it. The data source side implements
:class:`SyncJobs` (``services.datasources.jobs.JobTracker``); the composition root hands it to the
index service, which never reads the job tables itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class PutRejected(Exception):
    """A document whose data source or sync job cannot take it (a per-document failure)."""


class SyncJobs(Protocol):
    def check(self, index_id: str, attributes: dict[str, Any]) -> tuple[str, str] | None:
        """(data source id, job id) of a document's attributes, checked; None for a plain document.
        Raises PutRejected."""
        ...

    def check_target(self, index_id: str, target: dict[str, Any]) -> str | None:
        """The job id of a BatchDeleteDocument's DataSourceSyncJobMetricTarget, checked (None: the
        target names a data source only). Raises PutRejected."""
        ...

    def existing(self, index_id: str, doc_ids: Sequence[str]) -> set[str]:
        """Which documents the index has now (indexed, or a put still queued)."""
        ...

    def record_puts(self, job_id: str, doc_ids: Sequence[str], existed: set[str]) -> None:
        """Record the job's documents as modified (those in ``existed``) or added, once per job."""
        ...

    def record_deletes(self, job_id: str, doc_ids: Sequence[str]) -> None:
        """Record the job's documents as deleted."""
        ...
