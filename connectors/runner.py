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
import json
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
from connectors.registry import ConnectorOptions
from connectors.sink import KendraSink, SinkCredentials
from services.datasources import records
from services.datasources.jobs import settle
from services.index.store import Store

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


def with_retries(action: Callable[[], Any], retries: int, backoff: float, what: str) -> Any:
    """Run ``action``; on SourceUnavailable wait backoff, 2*backoff, ... and try again."""
    for attempt in range(retries + 1):
        try:
            return action()
        except SourceUnavailable as error:
            if attempt == retries:
                raise
            delay = backoff * 2**attempt
            log.warning("%s: source unavailable (%s); retry %d in %.1fs", what, error, attempt + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class SyncRunner:
    def __init__(self, store: Store, config: RunnerConfig) -> None:
        self.store = store
        self.config = config

    # -- helpers ---------------------------------------------------------------------------------

    def _source(self, job: records.SyncJob) -> tuple[Any, registry.ConnectorSpec, Connector]:
        row = records.data_source_row(self.store, job.data_source_id)
        if row is None:
            raise SourceError("the data source was deleted")
        config = json.loads(row["config"])
        spec = registry.spec_of(row["type"], config.get("Configuration", {}))
        if spec is None:
            raise SourceError(registry.unsupported_message(row["type"], config.get("Configuration", {})))
        return row, spec, registry.build(spec, self.config.options)

    def _fail(self, job_id: str, error: Exception) -> None:
        code = error.code if isinstance(error, SourceError) else "InternalError"
        message = f"{type(error).__name__}: {error}" if not isinstance(error, SourceError) else str(error)
        log.error("sync job %s failed: %s", job_id, message)
        records.set_status(self.store, job_id, "FAILED", only_from=("SYNCING", "STOPPING"),
                           error_code=code, error_message=message or code)

    def _live(self, job_id: str) -> records.SyncJob | None:
        """The job if it should go on; a STOPPING job becomes ABORTED here."""
        job = records.job(self.store, job_id)
        if job is None:
            return None
        if job.status == "STOPPING":
            records.set_status(self.store, job_id, "ABORTED", only_from=("STOPPING",))
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
        rows = self.store.read().execute(
            "SELECT seq FROM sync_batches WHERE job_id = ? AND done = 0 ORDER BY seq", (job_id,)
        )
        return [int(r["seq"]) for r in rows]

    def _plan(self, job: records.SyncJob) -> None:
        row, spec, connector = self._source(job)
        checkpoint = None if job.forced or not row["checkpoint"] else json.loads(row["checkpoint"])
        known = records.known_versions(self.store, job.data_source_id)

        def listing() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            items: list[dict[str, Any]] = []
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
        with self.store.write() as conn:
            state = conn.execute("SELECT plan_state FROM sync_jobs WHERE id = ?", (job.id,)).fetchone()
            if state is None or state["plan_state"] == "planned":
                return
            conn.executemany(
                "INSERT INTO sync_batches (job_id, seq, items) VALUES (?, ?, ?) ON CONFLICT (job_id, seq) DO NOTHING",
                [(job.id, seq, json.dumps(batch, ensure_ascii=False)) for seq, batch in enumerate(batches)],
            )
            conn.execute(
                "UPDATE sync_jobs SET plan_state = 'planned', next_checkpoint = ?, total = ?,"
                " scanned = scanned + ? WHERE id = ?",
                (json.dumps(next_checkpoint), len(items) + unchanged, unchanged, job.id),
            )
        log.info("sync job %s: %d items to sync in %d batches (%d unchanged)", job.id, len(items), len(batches),
                 unchanged)

    def run_batch(self, job_id: str, seq: int) -> None:
        job = self._live(job_id)
        if job is None:
            return
        batch = self.store.read().execute(
            "SELECT items, done FROM sync_batches WHERE job_id = ? AND seq = ?", (job_id, seq)
        ).fetchone()
        if batch is None or batch["done"]:
            return
        try:
            row, _, connector = self._source(job)
        except SourceError as error:
            self._fail(job_id, error)
            return
        language = json.loads(row["config"]).get("LanguageCode")
        items: list[dict[str, Any]] = json.loads(batch["items"])
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
        with self.store.write() as conn:
            marked = conn.execute(
                "UPDATE sync_batches SET done = 1 WHERE job_id = ? AND seq = ? AND done = 0", (job_id, seq)
            ).rowcount
            if not marked:
                return
            looked_at = sum(1 for item in items if item["op"] != "delete")  # deletions were not scanned
            conn.execute("UPDATE sync_jobs SET scanned = scanned + ? WHERE id = ?", (looked_at, job_id))
            records.record_docs(conn, job_id, [(d, "failed", reason) for d, reason in failed.items()])
            records.set_versions(conn, job.data_source_id, versions)
        for doc_id, reason in failed.items():
            log.warning("sync job %s: %s failed: %s", job_id, doc_id, reason)
        done = records.job(self.store, job_id)
        log.info("sync job %s: batch %d done (%d items, %d failed); scanned %s of %s", job_id, seq, len(items),
                 len(failed), done.scanned if done else "?", done.total if done else "?")

    def fail_batch(self, job_id: str, seq: int, reason: str) -> None:
        """Give up on a batch (its retries are spent): every item fails with ``reason``; the job goes on."""
        with self.store.write() as conn:
            row = conn.execute(
                "SELECT items FROM sync_batches WHERE job_id = ? AND seq = ? AND done = 0", (job_id, seq)
            ).fetchone()
            if row is None:
                return
            conn.execute("UPDATE sync_batches SET done = 1 WHERE job_id = ? AND seq = ?", (job_id, seq))
            items = json.loads(row["items"])
            conn.execute("UPDATE sync_jobs SET scanned = scanned + ? WHERE id = ?",
                         (sum(1 for i in items if i["op"] != "delete"), job_id))
            records.record_docs(conn, job_id, [(i["id"], "failed", reason) for i in items])
        log.error("sync job %s: batch %d failed: %s", job_id, seq, reason)

    def finish(self, job_id: str) -> bool:
        """Move the job to SYNCING_INDEXING once every batch is done; True if the job is past syncing."""
        job = self._live(job_id)
        if job is None:
            return True
        if job.plan_state != "planned":
            return False
        left = self.store.read().execute(
            "SELECT COUNT(*) FROM sync_batches WHERE job_id = ? AND done = 0", (job_id,)
        ).fetchone()[0]
        if left:
            return False
        if records.set_status(self.store, job_id, "SYNCING_INDEXING", only_from=("SYNCING",)):
            log.info("sync job %s: all batches sent; waiting for the indexer", job_id)
        return True

    def settle(self, job_id: str) -> records.SyncJob | None:
        job = records.job(self.store, job_id)
        return settle(self.store, job) if job is not None else None

    def run(self, job_id: str, *, poll: float = 0.1, timeout: float = 3600) -> records.SyncJob | None:
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
        return records.job(self.store, job_id)
