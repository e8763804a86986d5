"""A background thread of the server: finishes jobs whose documents are indexed, starts scheduled
syncs, and (embedded mode) resumes jobs that a restart interrupted."""

from __future__ import annotations

import json
import logging
import threading
import time

from services.api.errors import ResourceInUseException
from services.datasources import records, schedule
from services.datasources.jobs import settle
from services.datasources.service import DataSourceService, Launcher

log = logging.getLogger("kensaku.datasources")


class Supervisor:
    def __init__(self, service: DataSourceService, launcher: Launcher | None, interval: float,
                 resume: bool) -> None:
        self.service = service
        self.store = service.store
        self.launcher = launcher
        self.interval = interval
        self.resume = resume
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
            for row in self.store.read().execute("SELECT id FROM sync_jobs WHERE status IN ('SYNCING', 'STOPPING')"):
                job = records.job(self.store, row["id"])
                source = records.data_source_row(self.store, job.data_source_id) if job else None
                if job is not None and source is not None and source["type"] != "CUSTOM":
                    log.info("resuming sync job %s after a restart", job.id)
                    self.launcher.launch(job.id)
        while not self._stop.wait(self.interval):
            try:
                self.tick(time.time())
            except Exception:
                log.exception("sync supervisor step failed")

    def tick(self, now: float) -> None:
        for row in self.store.read().execute("SELECT * FROM sync_jobs WHERE status = 'SYNCING_INDEXING'"):
            settle(self.store, records.job_of(row), self.service.indexes.changed)
        for source in self.store.read().execute("SELECT * FROM data_sources WHERE status = 'ACTIVE'"):
            expression = json.loads(source["config"]).get("Schedule")
            if not expression or self.launcher is None:
                continue
            since = source["last_schedule_check"] or source["created_at"]
            with self.store.write() as conn:
                conn.execute("UPDATE data_sources SET last_schedule_check = ? WHERE id = ?", (now, source["id"]))
            if not schedule.due(expression, since, now):
                continue
            try:
                self.service.start_data_source_sync_job({"Id": source["id"], "IndexId": source["index_id"]})
                log.info("scheduled sync of data source %s started", source["id"])
            except ResourceInUseException:
                log.info("scheduled sync of data source %s skipped: a sync is running", source["id"])
            except Exception:
                log.exception("scheduled sync of data source %s could not start", source["id"])
