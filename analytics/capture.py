"""Capture: a bounded in-process queue between the request threads and the analytics store.

``offer`` never blocks and never raises: when the queue is full the event is dropped and counted
(a warning is logged on the first drop and once per ``warn_every`` drops after it). One background
thread drains the queue and writes batches; it also runs a periodic maintenance task (retention).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from analytics.events import Event
from services.database import DatabaseUnavailable

log = logging.getLogger("kensaku.analytics")

Writer = Callable[[Sequence[Event]], None]


class Capture:
    """Buffers events for one writer thread.

    Args:
        write: writes a batch of events (one transaction); called only from the capture thread.
        buffer_size: events that may wait; past it, new events are dropped.
        batch_size: the most events one ``write`` call receives.
        warn_every: a warning is logged once per this many drops.
        maintenance: run on start and then every ``maintenance_seconds`` on the capture thread.
    """

    def __init__(self, write: Writer, buffer_size: int, *, batch_size: int = 500, warn_every: int = 1000,
                 maintenance: Callable[[], object] | None = None, maintenance_seconds: float = 3600.0) -> None:
        self._write = write
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=buffer_size)
        self._batch_size = batch_size
        self._warn_every = warn_every
        self._maintenance = maintenance
        self._maintenance_seconds = maintenance_seconds
        self._done = threading.Condition()
        self._offered = 0
        self._processed = 0
        self._dropped = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full."""
        return self._dropped

    def start(self) -> None:
        """Start the capture thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kensaku-analytics", daemon=True)
            self._thread.start()

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without waiting; False (and counted) when the buffer is full."""
        with self._done:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self._dropped += 1
                if self._dropped % self._warn_every == 1 or self._warn_every == 1:
                    log.warning("analytics buffer full: %d events dropped so far", self._dropped)
                return False
            self._offered += 1
            return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event offered so far has been written (or failed); False on timeout."""
        with self._done:
            target = self._offered
            return self._done.wait_for(lambda: self._processed >= target, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._dropped:
            log.warning("analytics: %d events were dropped (buffer full)", self._dropped)

    def _run(self) -> None:
        next_maintenance = 0.0
        while True:
            if self._maintenance is not None and time.monotonic() >= next_maintenance:
                self._guarded(self._maintenance)
                next_maintenance = time.monotonic() + self._maintenance_seconds
            try:
                batch = [self._queue.get(timeout=0.1)]
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._store(batch)
            with self._done:
                self._processed += len(batch)
                self._done.notify_all()

    def _store(self, batch: list[Event]) -> None:
        while True:
            try:
                self._write(batch)
                return
            except DatabaseUnavailable as error:  # not the events' fault: they wait (new ones fill the buffer)
                if self._stopping.is_set():
                    log.warning("analytics: dropped %d events: %s", len(batch), error)
                    return
                log.warning("analytics: %d events wait for the database: %s", len(batch), error)
                self._stopping.wait(1.0)
            except Exception:  # one bad event must not cost the batch: retry one by one
                log.exception("analytics: writing a batch of %d events failed; retrying one by one", len(batch))
                break
        for event in batch:
            try:
                self._write([event])
            except Exception:
                log.exception("analytics: dropped an event that could not be written: %r", event)

    @staticmethod
    def _guarded(task: Callable[[], object]) -> None:
        try:
            task()
        except Exception:
            log.exception("analytics: background task failed")
