"""Distributed-mode capture: a Redis stream between the query service and the analytics consumer.

Producer side: ``Capture`` (the same bounded, never-blocking buffer as in embedded mode) hands batches
to ``RedisPublisher.publish``, which appends them to the stream (XADD, one pipeline per batch, the
stream trimmed to about ``analytics_stream_maxlen`` entries). If Redis is down the batch fails on the
capture thread and is logged; queries are never slowed or failed.

Consumer side: ``RedisConsumer`` reads the stream in a consumer group (XREADGROUP), writes each batch
to the analytics store and acknowledges it (XACK) only after the write committed. Entries read but not
acknowledged by a consumer that died are read again on the next start (its pending entries first), so
nothing is lost; a query event read twice is stored once (its QueryId is the key).

Runs in ``kensaku serve`` (``analytics_consume``) or alone: ``kensaku analytics-consumer``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from analytics.events import Event, FeedbackEvent, QueryEvent, ReturnedResult
from analytics.store import AnalyticsStore
from services.database import INTEGRITY_ERRORS
from services.settings import Settings

log = logging.getLogger("kensaku.analytics")

GROUP = "kensaku-analytics"
FIELD = b"e"
READ_COUNT = 500
BLOCK_MS = 200


def encode(event: Event) -> bytes:
    """An event as JSON, tagged with its kind."""
    body: dict[str, Any] = asdict(event)
    body["kind"] = "query" if isinstance(event, QueryEvent) else "feedback"
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(data: bytes) -> Event:
    """The event ``encode`` wrote.

    Entries written by an older or newer producer (during a rolling upgrade) decode too: a member
    this version does not know is ignored, one it adds since takes its default.
    """
    body = json.loads(data)
    kind = body.pop("kind")
    if kind == "query":
        body = _known(QueryEvent, body)
        body["languages"] = tuple(body["languages"])
        body["results"] = tuple(ReturnedResult(**_known(ReturnedResult, r)) for r in body["results"])
        return QueryEvent(**body)
    return FeedbackEvent(**_known(FeedbackEvent, body))


def _known(kind: type[Any], body: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(kind)}
    return {key: value for key, value in body.items() if key in names}


def connect(settings: Settings) -> Any:
    """A Redis client for ``settings.redis_url`` (short timeouts: capture must never hang)."""
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)


class RedisPublisher:
    """Appends batches of events to the stream."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.stream = settings.analytics_stream
        self.maxlen = settings.analytics_stream_maxlen
        self._client = client or connect(settings)

    def publish(self, events: Sequence[Event]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, {FIELD: encode(event)}, maxlen=self.maxlen, approximate=True)
        pipe.execute()

    def close(self) -> None:
        self._client.close()


class RedisConsumer:
    """Reads the stream in a consumer group and writes batches to the store.

    Args:
        settings: redis_url, analytics_stream and the consumer name.
        store: the analytics store to write to.
        maintenance: run on start and every ``maintenance_seconds`` (retention).
    """

    def __init__(self, settings: Settings, store: AnalyticsStore, *, maintenance: Callable[[], object] | None = None,
                 maintenance_seconds: float = 3600.0) -> None:
        self.settings = settings
        self.store = store
        self.stream = settings.analytics_stream
        self.name = settings.analytics_consumer_name
        self._maintenance = maintenance
        self._maintenance_seconds = maintenance_seconds
        self._client = connect(settings)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="kensaku-analytics-consumer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what is in the stream now, then stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._client.close()

    def _ensure_group(self) -> None:
        import redis

        try:
            self._client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def run(self) -> None:
        """Consume until ``stop``; on stop, everything already in the stream is written first."""
        import time

        import redis

        next_maintenance = 0.0
        pending_first = True  # entries this consumer read before a crash come back with id "0"
        while True:
            if self._maintenance is not None and time.monotonic() >= next_maintenance:
                try:
                    self._maintenance()
                except Exception:
                    log.exception("analytics: background task failed")
                next_maintenance = time.monotonic() + self._maintenance_seconds
            try:
                self._ensure_group()
                start = "0" if pending_first else ">"
                reply = self._client.xreadgroup(GROUP, self.name, {self.stream: start}, count=READ_COUNT,
                                                block=None if pending_first else BLOCK_MS)
            except redis.RedisError as error:
                log.warning("analytics consumer: Redis unavailable (%s); retrying", error)
                if self._stopping.wait(1.0):
                    return
                continue
            entries = reply[0][1] if reply else []
            if pending_first and not entries:
                pending_first = False
                continue
            if entries:
                try:
                    self._write(entries)
                except Exception:  # not acknowledged: read again from this consumer's pending entries
                    log.exception("analytics consumer: writing %d events failed; will retry", len(entries))
                    pending_first = True
                    if self._stopping.wait(1.0):
                        return
            elif self._stopping.is_set():
                return

    def _write(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        events: list[Event] = []
        for _, fields in entries:
            try:
                events.append(decode(fields[FIELD]))
            except (KeyError, ValueError, TypeError):
                log.exception("analytics consumer: skipped an unreadable stream entry")
        try:
            self.store.write(events)
        except INTEGRITY_ERRORS:  # a redelivered query event: store the rest one by one
            for event in events:
                try:
                    self.store.write([event])
                except INTEGRITY_ERRORS:
                    pass
        self._client.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])
        self.written += len(events)
