"""Analytics without a server: interval arithmetic, the capture buffer, retention, user keys."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.capture import Capture
from analytics.events import Event, FeedbackEvent, QueryEvent, ReturnedResult
from analytics.service import AnalyticsService
from analytics.snapshots import Window, time_filter, window
from services.api.errors import InvalidRequestException
from services.settings import Settings
from tests.conftest import wait_for

DAY = 86_400.0


def query_event(query_id: str, at: float, text: str = "alpha", index_id: str = "i" * 36) -> QueryEvent:
    return QueryEvent(query_id, index_id, at, text, QueryEvent.normalized(text), ("en",), "api", None, None, 1, 1.0,
                      (ReturnedResult(f"{query_id}-r", "doc", 1),))


@pytest.mark.parametrize(("today", "interval", "start", "end"), [
    # Tuesday 2024-05-14: this week began on Sunday the 12th and ends yesterday.
    (date(2024, 5, 14), "THIS_WEEK", date(2024, 5, 12), date(2024, 5, 14)),
    (date(2024, 5, 14), "ONE_WEEK_AGO", date(2024, 5, 5), date(2024, 5, 12)),
    (date(2024, 5, 14), "TWO_WEEKS_AGO", date(2024, 4, 28), date(2024, 5, 5)),
    # On a Saturday, this week is Sunday..Friday.
    (date(2024, 5, 18), "THIS_WEEK", date(2024, 5, 12), date(2024, 5, 18)),
    (date(2024, 5, 14), "THIS_MONTH", date(2024, 5, 1), date(2024, 5, 14)),
    (date(2024, 5, 14), "ONE_MONTH_AGO", date(2024, 4, 1), date(2024, 5, 1)),
    (date(2024, 5, 14), "TWO_MONTHS_AGO", date(2024, 3, 1), date(2024, 4, 1)),
    # Year boundaries.
    (date(2025, 1, 2), "ONE_MONTH_AGO", date(2024, 12, 1), date(2025, 1, 1)),
    (date(2025, 2, 10), "TWO_MONTHS_AGO", date(2024, 12, 1), date(2025, 1, 1)),
    (date(2025, 1, 2), "THIS_WEEK", date(2024, 12, 29), date(2025, 1, 2)),
    (date(2025, 1, 2), "ONE_WEEK_AGO", date(2024, 12, 22), date(2024, 12, 29)),
    # Leap February.
    (date(2024, 3, 5), "ONE_MONTH_AGO", date(2024, 2, 1), date(2024, 3, 1)),
])
def test_interval_windows_are_whole_days_before_today(today: date, interval: str, start: date, end: date) -> None:
    assert window(interval, today) == Window(start, end)


def test_this_week_is_empty_on_a_sunday_and_this_month_on_the_first() -> None:
    sunday = date(2024, 5, 12)
    assert window("THIS_WEEK", sunday).days() == []
    assert window("ONE_WEEK_AGO", sunday) == Window(date(2024, 5, 5), date(2024, 5, 12))
    assert window("THIS_MONTH", date(2024, 6, 1)).days() == []
    echo = time_filter(window("THIS_WEEK", sunday), UTC)
    assert echo["StartTime"] == echo["EndTime"] == datetime(2024, 5, 12, tzinfo=UTC)


def test_time_filter_spans_sunday_to_saturday_in_the_index_zone() -> None:
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    echo = time_filter(window("ONE_WEEK_AGO", date(2024, 5, 21)), tokyo)
    assert echo["StartTime"] == datetime(2024, 5, 12, tzinfo=tokyo)
    assert echo["EndTime"] == datetime(2024, 5, 18, 23, 59, 59, 999000, tzinfo=tokyo)
    assert Window(date(2024, 5, 12), date(2024, 5, 13)).epochs(tokyo)[0] == datetime(
        2024, 5, 11, 15, tzinfo=UTC).timestamp()


def test_unknown_interval_is_invalid_request() -> None:
    with pytest.raises(InvalidRequestException):
        window("YESTERDAY", date(2024, 5, 14))


def test_full_buffer_drops_and_counts_instead_of_waiting() -> None:
    release = threading.Event()
    written: list[Event] = []

    def slow_write(batch: object) -> None:
        release.wait(10)
        written.extend(batch)  # type: ignore[arg-type]

    capture = Capture(slow_write, buffer_size=2, batch_size=1)
    capture.start()
    try:
        accepted = [capture.offer(query_event(f"q{n}", 0.0)) for n in range(10)]
        assert accepted.count(False) == capture.dropped >= 7
        release.set()
        assert capture.flush(10)
        assert len(written) == accepted.count(True)
    finally:
        release.set()
        capture.stop()


def test_a_failing_event_does_not_cost_its_batch(tmp_path: Path) -> None:
    service = AnalyticsService(Settings(data_dir=tmp_path), require_index=lambda _: None,
                               document_count=lambda _: 0)
    service.start()
    try:
        for event in (query_event("q1", 1.0), query_event("q1", 2.0), query_event("q2", 3.0)):  # q1 twice
            service.capture.offer(event)
        assert service.capture.flush()
        assert service.store.counts()["queries"] == 2
    finally:
        service.stop()


def test_retention_deletes_events_older_than_the_setting(tmp_path: Path) -> None:
    now = datetime(2024, 5, 14, tzinfo=UTC).timestamp()
    settings = Settings(data_dir=tmp_path, analytics_retention_days=30)
    service = AnalyticsService(settings, require_index=lambda _: None, document_count=lambda _: 0,
                               clock=lambda: now)
    old, fresh = now - 31 * DAY, now - 29 * DAY
    service.store.write([
        query_event("old", old), query_event("fresh", fresh),
        FeedbackEvent("i" * 36, "old", "old-r", old, click_time=old),
        FeedbackEvent("i" * 36, "fresh", "fresh-r", fresh, relevance="RELEVANT"),
    ])
    service.start()  # retention runs when capture starts, on the capture thread
    try:
        wait_for(lambda: service.store.rows("SELECT query_id FROM queries") == [("fresh",)], 10, "retention")
        assert service.store.counts() == {"queries": 1, "results": 1, "clicks": 0, "votes": 1}
        assert service.apply_retention() == 0
    finally:
        service.stop()


def test_user_key_prefers_user_id_then_visitor_and_hashes_with_the_salt(tmp_path: Path) -> None:
    plain = AnalyticsService(Settings(data_dir=tmp_path / "a"), require_index=lambda _: None,
                             document_count=lambda _: 0)
    assert plain.user_key({"UserId": "alice"}, "v1") == "alice"
    assert plain.user_key({"Groups": ["eng"]}, "v1") == "v1"
    assert plain.user_key(None, None) is None
    hashed = AnalyticsService(
        Settings(data_dir=tmp_path / "b", analytics_hash_user_ids=True, analytics_user_id_salt="pepper"),
        require_index=lambda _: None, document_count=lambda _: 0)
    assert hashed.user_key({"UserId": "alice"}, None) == hashlib.sha256(b"pepperalice").hexdigest()
    plain.stop()
    hashed.stop()


def test_a_retrieve_response_is_recorded_with_the_same_call(tmp_path: Path) -> None:
    service = AnalyticsService(Settings(data_dir=tmp_path), require_index=lambda _: None,
                               document_count=lambda _: 0)
    service.start()
    try:
        service.record_query({"IndexId": "i" * 36, "QueryText": "How do I file expenses?", "VisitorId": "v"},
                             {"QueryId": "r1", "ResultItems": [{"Id": "r1-a", "DocumentId": "d1", "Content": "..."},
                                                               {"Id": "r1-b", "DocumentId": "d2"}]},
                             languages=["en"], first_rank=1, latency_ms=5.0)
        assert service.capture.flush()
        assert service.store.rows("SELECT total_results, user_key FROM queries") == [(2, "v")]
        assert service.store.rows("SELECT document_id, rank FROM results ORDER BY rank") == [("d1", 1), ("d2", 2)]
    finally:
        service.stop()
