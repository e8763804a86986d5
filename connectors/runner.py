"""The sync runner: one job = plan, then batches, then finish. The same steps run in-process
(embedded mode) or as Celery tasks (distributed mode); every step is idempotent.

* :meth:`SyncRunner.plan` asks the connector what changed since the source's checkpoint, drops
  items whose version the source already delivered (unless the sync is forced), and stores the rest
  as numbered batches together with the checkpoint the job will commit. Planning twice returns the
  stored batches.
* :meth:`SyncRunner.run_batch` fetches and extracts each item, sends the documents through
  BatchPutDocument / BatchDeleteDocument with the job's attributes, then in one transaction marks
  the batch done, adds its counts and records the delivered versions. A batch redone after a crash
  re-sends its documents (a put replaces by id, the job counts each document once) and counts once.
* :meth:`SyncRunner.finish` moves a job whose batches are all done to SYNCING_INDEXING; the job
  ends (SUCCEEDED / INCOMPLETE) when the indexer has taken its documents, and only then is the new
  checkpoint saved — so a stopped or crashed sync starts again from the old checkpoint, and the
  stored versions keep it from sending again what was already delivered.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors import registry
from connectors.contract import (
    Connector,
    Deletion,
    Failure,
    ItemFailed,
    SourceError,
    SourceUnavailable,
    Upsert,
)
from connectors.documents import kendra_document
from connectors.ledger import BatchItem, SyncJob, SyncLedger, SyncSource
from connectors.registry import ConnectorOptions
from connectors.sink import KendraSink, SinkCredentials

log = logging.getLogger("kensaku.sync")


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    endpoint_url: str | None
    # How the sink signs its calls: these keys, or (None) the standard AWS credential chain; and the
    # region (None: the AWS chain's).
    credentials: SinkCredentials | None = None
    region: str | None = "us-east-1"
    batch_size: int = 50
    max_text_chars: int = 5_000_000
    retries: int = 3  # attempts after the first, for a source's transient errors
    backoff_seconds: float = 0.5  # doubles on each retry
    options: ConnectorOptions = field(default_factory=ConnectorOptions)


def with_retries(action: Callable[[], Any], retries: int, backoff: float, what: str,
                 sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run ``action``; on SourceUnavailable wait backoff, 2*backoff, ... (with ``sleep``) and try again."""
    for attempt in range(retries + 1):
        try:
            return action()
        except SourceUnavailable as error:
            if attempt == retries:
                raise
            delay = backoff * 2**attempt
            log.warning("%s: source unavailable (%s); retry %d in %.1fs", what, error, attempt + 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")


class SyncRunner:
    """Runs sync jobs whose rows ``ledger`` keeps (the control plane's job tables, behind
    :class:`connectors.ledger.SyncLedger`)."""

    def __init__(self, ledger: SyncLedger, config: RunnerConfig) -> None:
        self.ledger = ledger
        self.config = config

    # -- helpers ---------------------------------------------------------------------------------

    def _source(self, job: SyncJob) -> tuple[SyncSource, registry.ConnectorSpec, Connector]:
        source = self.ledger.source(job.data_source_id)
        if source is None:
            raise SourceError("the data source was deleted")
        config = source.config
        spec = registry.spec_of(source.type, config.get("Configuration", {}))
        if spec is None:
            raise SourceError(registry.unsupported_message(source.type, config.get("Configuration", {})))
        return source, spec, registry.build(spec, self.config.options)

    def _fail(self, job_id: str, error: Exception) -> None:
        code = error.code if isinstance(error, SourceError) else "InternalError"
        message = f"{type(error).__name__}: {error}" if not isinstance(error, SourceError) else str(error)
        log.error("sync job %s failed: %s", job_id, message)
        self.ledger.set_status(job_id, "FAILED", only_from=("SYNCING", "STOPPING"),
                               error_code=code, error_message=message or code)

    def _live(self, job_id: str) -> SyncJob | None:
        """The job if it should go on; a STOPPING job becomes ABORTED here."""
        job = self.ledger.job(job_id)
        if job is None:
            return None
        if job.status == "STOPPING":
            self.ledger.set_status(job_id, "ABORTED", only_from=("STOPPING",))
            log.info("sync job %s stopped", job_id)
            return None
        return job if job.status == "SYNCING" else None

    # -- the three steps -------------------------------------------------------------------------

    def plan(self, job_id: str) -> list[int]:
        """Plan the job (once); the numbers of its batches not done yet."""
        job = self._live(job_id)
        if job is None:
            return []
        if job.plan_state != "planned":
            try:
                self._plan(job)
            except Exception as error:  # the source as a whole failed: the job fails with the reason
                self._fail(job_id, error)
                return []
        return self.ledger.pending_batches(job_id)

    def _plan(self, job: SyncJob) -> None:
        source, spec, connector = self._source(job)
        checkpoint = None if job.forced else source.checkpoint
        known = self.ledger.known_versions(job.data_source_id)

        def listing() -> tuple[list[BatchItem], int, dict[str, Any]]:
            items: list[BatchItem] = []
            unchanged = 0
            gen = connector.changes(checkpoint, known)
            while True:
                try:
                    change = next(gen)
                except StopIteration as stop:
                    return items, unchanged, dict(stop.value or {})
                if isinstance(change, Upsert):
                    if not job.forced and known.get(change.doc_id) == change.version:
                        unchanged += 1
                    else:
                        items.append({"op": "put", "id": change.doc_id, "version": change.version,
                                      "ref": change.ref})
                elif isinstance(change, Deletion):
                    if change.doc_id in known:
                        items.append({"op": "delete", "id": change.doc_id})
                elif isinstance(change, Failure):
                    items.append({"op": "fail", "id": change.doc_id, "reason": change.reason})

        items, unchanged, next_checkpoint = with_retries(
            listing, self.config.retries, self.config.backoff_seconds, f"listing source {job.data_source_id}"
        )
        size = self.config.batch_size
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        if not self.ledger.save_plan(job.id, batches, next_checkpoint, total=len(items) + unchanged,
                                     unchanged=unchanged):
            return
        log.info("sync job %s: %d items to sync in %d batches (%d unchanged)", job.id, len(items), len(batches),
                 unchanged)

    def run_batch(self, job_id: str, seq: int) -> None:
        job = self._live(job_id)
        if job is None:
            return
        items = self.ledger.batch(job_id, seq)
        if items is None:
            return
        try:
            source, _, connector = self._source(job)
        except SourceError as error:
            self._fail(job_id, error)
            return
        language = source.config.get("LanguageCode")
        docs: list[dict[str, Any]] = []
        failed: dict[str, str] = {}
        versions: dict[str, str | None] = {}
        deletes: list[str] = []
        ds_attrs = [
            {"Key": "_data_source_id", "Value": {"StringValue": job.data_source_id}},
            {"Key": "_data_source_sync_job_execution_id", "Value": {"StringValue": job_id}},
        ]
        for item in items:
            if item["op"] == "fail":
                failed[item["id"]] = item["reason"]
            elif item["op"] == "delete":
                deletes.append(item["id"])
                versions[item["id"]] = None
            else:
                upsert = Upsert(item["id"], item["version"], item.get("ref") or {})
                try:
                    source_doc = with_retries(
                        functools.partial(connector.fetch, upsert), self.config.retries,
                        self.config.backoff_seconds, f"fetching {upsert.doc_id}",
                    )
                    doc = kendra_document(source_doc, max_text_chars=self.config.max_text_chars, language=language)
                except ItemFailed as error:
                    failed[upsert.doc_id] = str(error)
                    continue
                except SourceError as error:  # still unavailable after the retries: this item fails
                    failed[upsert.doc_id] = f"{error.code}: {error}"
                    continue
                doc["Attributes"] = doc["Attributes"] + ds_attrs
                docs.append(doc)
                versions[upsert.doc_id] = upsert.version
        sink = KendraSink(self.config.endpoint_url, job.index_id, region=self.config.region,
                          credentials=self.config.credentials)
        for f in sink.put(docs) + (sink.delete(deletes, job.data_source_id, job_id) if deletes else []):
            failed[f.doc_id] = f.reason
            versions.pop(f.doc_id, None)
        looked_at = sum(1 for item in items if item["op"] != "delete")  # deletions were not scanned
        if not self.ledger.complete_batch(job_id, seq, data_source_id=job.data_source_id, scanned=looked_at,
                                          failed=failed, versions=versions):
            return
        for doc_id, reason in failed.items():
            log.warning("sync job %s: %s failed: %s", job_id, doc_id, reason)
        done = self.ledger.job(job_id)
        log.info("sync job %s: batch %d done (%d items, %d failed); scanned %s of %s", job_id, seq, len(items),
                 len(failed), done.scanned if done else "?", done.total if done else "?")

    def fail_batch(self, job_id: str, seq: int, reason: str) -> None:
        """Give up on a batch (its retries are spent): every item fails with ``reason``; the job goes on."""
        job = self.ledger.job(job_id)
        items = self.ledger.batch(job_id, seq) if job is not None else None
        if job is None or items is None:
            return
        looked_at = sum(1 for item in items if item["op"] != "delete")
        if not self.ledger.complete_batch(job_id, seq, data_source_id=job.data_source_id, scanned=looked_at,
                                          failed={item["id"]: reason for item in items}, versions={}):
            return
        log.error("sync job %s: batch %d failed: %s", job_id, seq, reason)

    def finish(self, job_id: str) -> bool:
        """Move the job to SYNCING_INDEXING once every batch is done; True if the job is past syncing."""
        job = self._live(job_id)
        if job is None:
            return True
        if job.plan_state != "planned":
            return False
        if self.ledger.batches_left(job_id):
            return False
        if self.ledger.set_status(job_id, "SYNCING_INDEXING", only_from=("SYNCING",)):
            log.info("sync job %s: all batches sent; waiting for the indexer", job_id)
        return True

    def settle(self, job_id: str) -> SyncJob | None:
        return self.ledger.settle(job_id)

    def run(self, job_id: str, *, poll: float = 0.1, timeout: float = 3600) -> SyncJob | None:
        """The whole job in this thread (embedded mode), until it ends."""
        for seq in self.plan(job_id):
            self.run_batch(job_id, seq)
        self.finish(job_id)
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.settle(job_id)
            if job is None or job.status not in ("SYNCING_INDEXING",):
                return job
            time.sleep(poll)
        return self.ledger.job(job_id)
