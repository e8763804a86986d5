"""A background thread of the server: finishes jobs whose documents are indexed, starts scheduled
syncs, and (embedded mode) resumes jobs that a restart interrupted."""

from __future__ import annotations

import json
import logging
import threading
import time

from kernel.errors import ResourceInUseException
from services.database import DatabaseUnavailable
from services.datasources import records, schedule
from services.datasources.service import DataSourceService, Launcher

log = logging.getLogger("kensaku.datasources")


class Supervisor:
    def __init__(self, service: DataSourceService, launcher: Launcher | None, interval: float,
                 resume: bool, stall_seconds: float | None = None) -> None:
        self.service = service
        self.store = service.store
        self.launcher = launcher
        self.interval = interval
        self.resume = resume
        self.stall_seconds = stall_seconds  # distributed mode: re-queue a job's work after this long idle
        self._progress: dict[str, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        if self.resume and self.launcher is not None:
            for job in records.jobs_in(self.store, records.RUNNING):
                source = records.data_source_row(self.store, job.data_source_id)
                if source is not None and source["type"] != "CUSTOM":
                    log.info("resuming sync job %s after a restart", job.id)
                    self.launcher.launch(job.id)
        while not self._stop.wait(self.interval):
            try:
                self.tick(time.time())
            except DatabaseUnavailable as error:  # the next tick tries again
                log.warning("sync supervisor step skipped: %s", error)
            except Exception:
                log.exception("sync supervisor step failed")

    def tick(self, now: float) -> None:
        if self.stall_seconds is not None:
            self._requeue_stalled(now)
        for job in records.jobs_in(self.store, ("SYNCING_INDEXING",)):
            records.settle(self.store, job, self.service.indexes.changed)
        for source in records.scheduled_candidates(self.store):  # an index being deleted takes its sources along
            expression = json.loads(source["config"]).get("Schedule")
            if not expression or self.launcher is None:
                continue
            since = source["last_schedule_check"] or source["created_at"]
            records.mark_schedule_checked(self.store, source["id"], now)
            if not schedule.due(expression, since, now):
                continue
            try:
                self.service.start_data_source_sync_job({"Id": source["id"], "IndexId": source["index_id"]})
                log.info("scheduled sync of data source %s started", source["id"])
            except ResourceInUseException:
                log.info("scheduled sync of data source %s skipped: a sync is running", source["id"])
            except Exception:
                log.exception("scheduled sync of data source %s could not start", source["id"])

    def _requeue_stalled(self, now: float) -> None:
        """A SYNCING job that made no progress for ``stall_seconds`` gets its remaining work queued again.

        Celery redelivers a dead worker's unacknowledged task, but a message lost any other way
        (a broker restart without persistence, a task that exhausted its retries mid-flight) would
        leave the job SYNCING forever; every step is idempotent, so sending it again is safe."""
        requeue = getattr(self.launcher, "requeue", None)
        assert self.stall_seconds is not None
        live = set()
        for job in records.jobs_in(self.store, ("SYNCING",)):
            live.add(job.id)
            seen = self._progress.get(job.id)
            if seen is None or seen[0] != job.scanned:
                self._progress[job.id] = (job.scanned, now)
                continue
            if now - seen[1] < self.stall_seconds or requeue is None:
                continue
            source = records.data_source_row(self.store, job.data_source_id)
            if source is None or source["type"] == "CUSTOM":
                continue
            seqs = records.pending_batches(self.store, job.id)
            log.warning("sync job %s made no progress for %.0fs; queueing its work again", job.id, now - seen[1])
            requeue(job.id, None if job.plan_state != "planned" else seqs)
            self._progress[job.id] = (job.scanned, now)
        for job_id in set(self._progress) - live:
            del self._progress[job_id]
