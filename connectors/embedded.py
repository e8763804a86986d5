"""Embedded mode: sync jobs run on threads of the server process (no broker, no workers to start)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from connectors.runner import SyncRunner

log = logging.getLogger("kensaku.sync")


class EmbeddedLauncher:
    """Runs each job's plan, batches and finish on a small thread pool (``threads`` jobs at once), with
    ``runner`` (which holds the job tables it works on)."""

    def __init__(self, runner: SyncRunner, threads: int) -> None:
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sync")

    def launch(self, job_id: str) -> None:
        self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        try:
            self.runner.run(job_id)
        except Exception as error:  # e.g. the Kendra endpoint is unreachable: the job fails, the server stays up
            log.exception("sync job %s failed", job_id)
            self.runner.ledger.set_status(job_id, "FAILED", only_from=("SYNCING", "STOPPING"),
                                          error_code="InternalError", error_message=f"{type(error).__name__}: {error}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
