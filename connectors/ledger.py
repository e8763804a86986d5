"""What a sync run needs from the control plane's job tables (the port the runner is given).

The runner (:mod:`connectors.runner`) plans a job, runs its batches and finishes it; the rows it reads
and writes (the job, its data source, its planned batches, the per-document results and the versions a
source has delivered) belong to whoever runs the Kendra data source API. That side implements
:class:`SyncLedger` (Kensaku's is ``services.datasources.records.SyncLedger``) and hands it to the
runner; the connectors package never sees the tables themselves.

Every method that writes is idempotent: a step redone after a crash changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# One planned item of a batch, as JSON: {"op": "put", "id", "version", "ref"} | {"op": "delete", "id"}
# | {"op": "fail", "id", "reason"}.
BatchItem = dict[str, Any]


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


@dataclass(frozen=True, slots=True)
class SyncSource:
    """What the runner reads of a data source: its type, its stored configuration (the API members:
    ``Configuration``, ``LanguageCode`` ...) and the checkpoint of its last finished sync (JSON)."""

    type: str
    config: dict[str, Any]
    checkpoint: dict[str, Any] | None


class SyncLedger(Protocol):
    """The job tables as a sync run sees them."""

    def job(self, job_id: str) -> SyncJob | None:
        """The job, or None when it is gone."""
        ...

    def source(self, ds_id: str) -> SyncSource | None:
        """The job's data source, or None when it was deleted."""
        ...

    def set_status(self, job_id: str, status: str, *, only_from: tuple[str, ...] | None = None,
                   error_code: str | None = None, error_message: str | None = None) -> bool:
        """Move a job to ``status`` (from one of ``only_from`` if given); True if it moved."""
        ...

    def known_versions(self, ds_id: str) -> dict[str, str]:
        """The version of every item the source has delivered, by document id."""
        ...

    def save_plan(self, job_id: str, batches: Sequence[Sequence[BatchItem]], next_checkpoint: dict[str, Any],
                  total: int, unchanged: int) -> bool:
        """Store a job's batches and the checkpoint it commits when it ends, in one transaction, unless
        the job is gone or already planned; True if this call planned it."""
        ...

    def pending_batches(self, job_id: str) -> list[int]:
        """The numbers of the job's batches not done yet, in order."""
        ...

    def batch(self, job_id: str, seq: int) -> list[BatchItem] | None:
        """A batch's items; None when it does not exist or is done."""
        ...

    def complete_batch(self, job_id: str, seq: int, *, data_source_id: str, scanned: int,
                       failed: Mapping[str, str], versions: Mapping[str, str | None]) -> bool:
        """In one transaction: mark the batch done, add ``scanned`` to the job, record the ``failed``
        documents (with their reasons) and the delivered ``versions`` (None forgets an item). Nothing
        happens when the batch was already done; True if this call marked it."""
        ...

    def batches_left(self, job_id: str) -> int:
        """How many of the job's batches are not done."""
        ...

    def settle(self, job_id: str) -> SyncJob | None:
        """End a SYNCING_INDEXING job whose documents the indexer has taken (SUCCEEDED / INCOMPLETE,
        saving its new checkpoint); the job as it is then, or None when it is gone."""
        ...
