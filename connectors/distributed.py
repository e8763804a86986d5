"""Distributed mode: sync jobs as Celery tasks on a Redis broker, shared by any number of workers.

A job is one ``kensaku.sync.plan`` task that lists the source and queues one ``kensaku.sync.batch``
task per batch, so several worker processes share a large source. Tasks are acknowledged late and
rejected when their worker is lost, so a killed worker's batch goes back to the queue (Redis hands
it out again after the visibility timeout); the runner's steps are idempotent, so a batch run
twice counts once. A source's transient errors are retried with exponential backoff; at most
``QueueConfig.source_concurrency`` batches of one source run at once (a lease set in Redis whose entries
expire, so a dead worker's lease frees itself). Workers share the server's data folder (the job
rows) and send documents to the server's Kendra API.

Nothing here runs at import: :func:`celery_app` builds the app from a :class:`QueueConfig` and a runner
factory, which the composition root makes from its settings (``services.datasources.launch``).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from celery import Celery

from connectors.contract import SourceUnavailable
from connectors.runner import SyncRunner

log = logging.getLogger("kensaku.sync")

QUEUE = "kensaku-sync"
_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How the sync tasks use the broker."""

    broker_url: str  # the Redis broker (and the leases' Redis)
    visibility_timeout: float  # seconds before Redis hands an unacknowledged task out again
    retries: int  # retries of a task's transient errors
    source_concurrency: int  # batches of one source at once
    log_level: str = "info"  # the worker's log level


RunnerFactory = Callable[[], SyncRunner]


class SourceLeases:
    """At most ``limit`` holders per data source at once, in a Redis sorted set scored by expiry time,
    so the lease of a worker that died frees itself after ``ttl`` seconds."""

    def __init__(self, client: Any, limit: int, ttl: float) -> None:
        self.client = client
        self.limit = limit
        self.ttl = ttl

    def acquire(self, ds_id: str, holder: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        got = self.client.eval(_LEASE, 1, f"kensaku:sync:lease:{ds_id}", now, self.limit, now + self.ttl, holder)
        return bool(got)

    def release(self, ds_id: str, holder: str) -> None:
        self.client.zrem(f"kensaku:sync:lease:{ds_id}", holder)


def celery_app(config: QueueConfig, runner_factory: RunnerFactory) -> Celery:
    """The Celery app with the two sync tasks. ``runner_factory`` is called once per worker process, the
    first time a task runs there (a store opened before a fork does not survive it)."""
    app = Celery("kensaku", broker=config.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        broker_transport_options={"visibility_timeout": config.visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
    )
    transient: tuple[type[Exception], ...] = (SourceUnavailable, ConnectionError, OSError)
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        transient += (BotoConnectionError, HTTPClientError)
    except ImportError:  # pragma: no cover - botocore is a dependency
        pass

    @cache
    def runner(pid: int) -> SyncRunner:  # one store per worker process (SQLite handles do not survive fork)
        return runner_factory()

    @cache
    def leases(pid: int) -> SourceLeases:  # one Redis connection per worker process
        import redis

        return SourceLeases(redis.Redis.from_url(config.broker_url), config.source_concurrency,
                            config.visibility_timeout)

    @app.task(name="kensaku.sync.plan", bind=True, autoretry_for=transient, retry_backoff=True,  # type: ignore[untyped-decorator]
              retry_backoff_max=60, max_retries=config.retries)
    def plan(self: Any, job_id: str) -> None:
        r = runner(os.getpid())
        seqs = r.plan(job_id)
        log.info("sync job %s: queueing %d batches", job_id, len(seqs))
        for seq in seqs:
            batch.apply_async(args=[job_id, seq])
        if not seqs:
            r.finish(job_id)

    @app.task(name="kensaku.sync.batch", bind=True, autoretry_for=transient, retry_backoff=True,  # type: ignore[untyped-decorator]
              retry_backoff_max=60, max_retries=config.retries)
    def batch(self: Any, job_id: str, seq: int) -> None:
        r = runner(os.getpid())
        job = r.ledger.job(job_id)
        if job is None:
            return
        holder = f"{self.request.id}:{uuid.uuid4().hex}"
        if not leases(os.getpid()).acquire(job.data_source_id, holder):
            # The source's concurrency limit is reached: queue the batch again (this message is then
            # acknowledged; if the worker dies in between, the batch runs twice, which counts once).
            batch.apply_async(args=[job_id, seq], countdown=0.5)
            return
        try:
            r.run_batch(job_id, seq)
        except transient as error:
            if self.request.retries >= config.retries:  # out of retries: its items fail, the job goes on
                r.fail_batch(job_id, seq, f"{type(error).__name__}: {error}")
            else:
                raise
        finally:
            leases(os.getpid()).release(job.data_source_id, holder)
        r.finish(job_id)

    return app


class CeleryLauncher:
    """The server's side: queue a job's plan task."""

    def __init__(self, config: QueueConfig, runner_factory: RunnerFactory) -> None:
        self.app = celery_app(config, runner_factory)

    def launch(self, job_id: str) -> None:
        from kombu.exceptions import OperationalError

        try:
            self.app.send_task("kensaku.sync.plan", args=[job_id], queue=QUEUE)
        except OperationalError as error:
            # The broker is down: the job waits SYNCING, and the supervisor queues it again once it has
            # made no progress for its stall time (Supervisor._requeue_stalled).
            log.warning("sync job %s waits for the broker (%s)", job_id, error)

    def requeue(self, job_id: str, seqs: list[int] | None) -> None:
        """Queue a job's remaining batches again (or its plan, when it was never planned)."""
        if seqs is None:
            self.launch(job_id)
        for seq in seqs or []:
            self.app.send_task("kensaku.sync.batch", args=[job_id, seq], queue=QUEUE)

    def close(self) -> None:
        self.app.close()


def worker_main(config: QueueConfig, runner_factory: RunnerFactory, concurrency: int) -> None:
    """Run a Celery worker process (prefork pool of ``concurrency`` children) for sync tasks."""
    app = celery_app(config, runner_factory)
    app.worker_main([
        "worker", f"--loglevel={config.log_level.upper()}", f"--concurrency={concurrency}", "-Q", QUEUE,
        "-n", f"kensaku-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])
