"""The analytics service: records queries and feedback, answers SubmitFeedback and GetSnapshots.

Built once by the app with the settings and a few narrow callables into the index service (so this
package never imports it). Recording never raises into the query path and never waits: events go
through ``Capture`` to the store on its own thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from analytics.capture import Capture
from analytics.events import Clock, FeedbackEvent, QueryEvent, ReturnedResult, channel_of
from analytics.learning import ClickLearning
from analytics.snapshots import snapshot, time_filter, window
from analytics.store import open_analytics_store
from analytics.stream import RedisConsumer, RedisPublisher
from analytics.suggest_service import DocumentSource, SuggestionService
from analytics.trends import parse_request, trends
from kernel.errors import InvalidRequestException, ValidationException
from kernel.paging import page_offset, page_token
from services.relevance import best_confidence
from services.settings import Settings

log = logging.getLogger("kensaku.analytics")

DEFAULT_MAX_RESULTS = 100
INSTANT_ANSWER_TYPES = ("ANSWER", "QUESTION_ANSWER")
DAY = 86_400.0


def zone_of(settings: Settings) -> tzinfo:
    """The configured analytics time zone."""
    return UTC if settings.analytics_timezone == "UTC" else ZoneInfo(settings.analytics_timezone)


def clock_of(settings: Settings) -> Clock:
    """``time.time``, or a clock stopped at ``analytics_now`` (naive values read in the analytics zone)."""
    fixed = settings.analytics_now
    if fixed is None:
        return time.time
    if fixed.tzinfo is None:
        fixed = fixed.replace(tzinfo=zone_of(settings))
    epoch = fixed.timestamp()
    return lambda: epoch


class AnalyticsService:
    """Query and feedback events in, Kendra's metrics out.

    Args:
        settings: the analytics_* settings and the data folder.
        require_index: raises ResourceNotFoundException (or another KendraError) for an unusable index id.
        document_count: the number of searchable documents of an index (AGG_QUERY_DOC_METRICS).
        channel: the calling request's channel (web, chat or api).
        clock: "now" in epoch seconds; by default from ``clock_of(settings)``.
        documents: the index's documents, for DOCUMENT_ATTRIBUTES suggestions.
    """

    def __init__(self, settings: Settings, *, require_index: Callable[[str], object],
                 document_count: Callable[[str], int], channel: Callable[[], str] = lambda: "api",
                 clock: Clock | None = None, documents: DocumentSource | None = None) -> None:
        self.settings = settings
        self.zone = zone_of(settings)
        self.clock = clock or clock_of(settings)
        self._require_index = require_index
        self._document_count = document_count
        self._channel = channel
        self.store = open_analytics_store(settings)
        self.consumer: RedisConsumer | None = None
        if settings.analytics_capture == "redis":
            publisher = RedisPublisher(settings)
            self.capture = Capture(publisher.publish, settings.analytics_buffer_size)
            if settings.analytics_consume:
                self.consumer = RedisConsumer(settings, self.store, maintenance=self.apply_retention)
        else:
            self.capture = Capture(self.store.write, settings.analytics_buffer_size,
                                   maintenance=self.apply_retention)
        self._documents = documents
        self.learning = ClickLearning(settings, self.store, self.clock)
        self.suggestions = SuggestionService(settings, self.store, self.clock, require_index=require_index,
                                             documents=documents)

    def start(self) -> None:
        """Start capturing (and apply retention once)."""
        self.capture.start()
        if self.consumer is not None:
            self.consumer.start()
        self.suggestions.start()

    def stop(self) -> None:
        """Write every queued event, then close the store."""
        self.suggestions.stop()
        self.capture.stop()
        if self.consumer is not None:
            self.consumer.stop()
        self.store.close()

    def apply_retention(self) -> int:
        """Delete events older than ``analytics_retention_days``; return the queries deleted."""
        deleted = self.store.delete_older_than(self.clock() - self.settings.analytics_retention_days * DAY)
        if deleted:
            log.info("analytics retention: deleted %d old queries", deleted)
        return deleted

    def user_key(self, user_context: dict[str, Any] | None, visitor_id: str | None) -> str | None:
        """UserContext.UserId, else VisitorId, else None; hashed with the salt when so configured."""
        user = (user_context or {}).get("UserId") or visitor_id
        if not user:
            return None
        if self.settings.analytics_hash_user_ids:
            return hashlib.sha256((self.settings.analytics_user_id_salt + user).encode("utf-8")).hexdigest()
        return str(user)

    # -- recording ------------------------------------------------------------------------------

    def record_query(self, request: dict[str, Any], response: dict[str, Any], *, languages: list[str],
                     first_rank: int, latency_ms: float) -> None:
        """Queue one query event for an answered Query or Retrieve; never raises, never waits.

        Args:
            request: the operation's validated input (IndexId, QueryText, UserContext, VisitorId, AttributeFilter).
            response: its output (QueryId, ResultItems with Id, DocumentId and ScoreAttributes,
                TotalNumberOfResults if any).
            languages: the languages searched.
            first_rank: the 1-based rank of the first item of ``ResultItems``.
            latency_ms: how long the operation took.
        """
        try:
            items = response.get("ResultItems") or []
            text = request.get("QueryText") or ""
            event = QueryEvent(
                query_id=response["QueryId"],
                index_id=request["IndexId"],
                time=self.clock(),
                query_text=text,
                normalized_text=QueryEvent.normalized(text),
                languages=tuple(languages),
                channel=channel_of(self._channel()),
                user_key=self.user_key(request.get("UserContext"), request.get("VisitorId")),
                filters_json=_json(request.get("AttributeFilter")),
                # Retrieve has no TotalNumberOfResults: its items are all it found.
                total_results=int(response.get("TotalNumberOfResults", len(items)) or 0),
                latency_ms=latency_ms,
                results=tuple(ReturnedResult(item["Id"], item.get("DocumentId", ""), first_rank + n)
                              for n, item in enumerate(items)),
                instant_answer=any(item.get("Type") in INSTANT_ANSWER_TYPES for item in items),
                best_confidence=best_confidence(items) if judged(request, first_rank) else None,
            )
            self.capture.offer(event)
        except Exception:  # analytics must never fail a query
            log.exception("analytics: could not record a query")

    # -- operations -----------------------------------------------------------------------------

    def submit_feedback(self, p: dict[str, Any]) -> None:
        """SubmitFeedback: record clicks and relevance votes (unknown ids are kept as orphans)."""
        index_id, query_id = p["IndexId"], p["QueryId"]
        self._require_index(index_id)
        now = self.clock()
        for click in p.get("ClickFeedbackItems", []):
            self.capture.offer(FeedbackEvent(index_id, query_id, click["ResultId"], now,
                                             click_time=float(click["ClickTime"])))
        for vote in p.get("RelevanceFeedbackItems", []):
            self.capture.offer(FeedbackEvent(index_id, query_id, vote["ResultId"], now,
                                             relevance=vote["RelevanceValue"]))

    def get_snapshots(self, p: dict[str, Any]) -> dict[str, Any]:
        """GetSnapshots: one metric over one interval, its rows paged by MaxResults / NextToken."""
        index_id, interval, metric = p["IndexId"], p["Interval"], p["MetricType"]
        self._require_index(index_id)
        size = p.get("MaxResults", DEFAULT_MAX_RESULTS)
        if size < 1:
            raise InvalidRequestException("MaxResults must be 1 or more")
        try:
            offset = page_offset(p.get("NextToken"), f"{metric}:{interval}")
        except ValidationException:
            raise InvalidRequestException("NextToken is not valid for this MetricType and Interval") from None
        today = datetime.fromtimestamp(self.clock(), self.zone).date()
        w = window(interval, today)
        header, rows = snapshot(self.store, metric, index_id, w, self.zone, self._document_count(index_id))
        response: dict[str, Any] = {
            "SnapShotTimeFilter": time_filter(w, self.zone),
            "SnapshotsDataHeader": header,
            "SnapshotsData": rows[offset:offset + size],
        }
        if offset + size < len(rows):
            response["NextToken"] = page_token(offset + size, f"{metric}:{interval}")
        return response


    def get_trends(self, p: dict[str, Any]) -> dict[str, Any]:
        """KensakuGetTrends (a Kensaku extension operation; see analytics/trends.py)."""
        request = parse_request(p)
        self._require_index(request["IndexId"])
        documents = self._documents
        return trends(self.store, request, datetime.fromtimestamp(self.clock(), self.zone), self.zone,
                      documents.titles if documents is not None else lambda _, ids: {})


def judged(request: dict[str, Any], first_rank: int) -> bool:
    """Whether a response's confidence says something about the query: it had QueryText, was ranked by
    relevance (an attribute sort leaves the buckets meaningless) and is the first page (a later page is
    weaker by construction and would make a well-served query look like a content gap)."""
    sorted_ = "SortingConfiguration" in request or "SortingConfigurations" in request
    return bool((request.get("QueryText") or "").strip()) and not sorted_ and first_rank == 1


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


