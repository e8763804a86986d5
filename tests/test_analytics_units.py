"""Analytics without a server: interval arithmetic, the capture buffer, retention, user keys."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.capture import Capture
from analytics.events import Event, FeedbackEvent, QueryEvent, ReturnedResult
from analytics.service import AnalyticsService
from analytics.snapshots import Window, time_filter, window
from analytics.store import FILE_NAME, AnalyticsStore
from analytics.trends import trends
from kernel.errors import InvalidRequestException
from services.relevance import best_confidence, is_weak
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


def scored(n: int, bucket: str | None, kind: str = "DOCUMENT") -> dict[str, object]:
    item: dict[str, object] = {"Id": f"r-{n}", "DocumentId": f"d{n}", "Type": kind}
    if bucket is not None:
        item["ScoreAttributes"] = {"ScoreConfidence": bucket}
    return item


def test_the_best_bucket_of_a_response_is_its_most_confident_item_of_any_type() -> None:
    assert best_confidence([scored(1, "LOW"), scored(2, "HIGH", "ANSWER"), scored(3, "MEDIUM")]) == "HIGH"
    assert best_confidence([scored(1, None), scored(2, "LOW")]) == "LOW"
    assert best_confidence([scored(1, "NOT_AVAILABLE")]) == "NOT_AVAILABLE"
    # A server that does not judge its results (no buckets, or ones unknown here) is never called weak.
    assert best_confidence([scored(1, None), scored(2, "SOMETHING_NEW")]) is None
    assert best_confidence([]) is None
    assert [is_weak(b) for b in ("NOT_AVAILABLE", "LOW", "MEDIUM", "HIGH", "VERY_HIGH", None)] == [
        True, True, False, False, False, False]


def test_the_best_confidence_is_recorded_only_where_it_says_something(tmp_path: Path) -> None:
    service = AnalyticsService(Settings(data_dir=tmp_path), require_index=lambda _: None,
                               document_count=lambda _: 0)
    service.start()
    index = "i" * 36
    sort = {"DocumentAttributeKey": "_last_updated_at", "SortOrder": "DESC"}
    cases: list[tuple[str, dict[str, object], list[dict[str, object]], int]] = [
        ("weak", {"QueryText": "quantum"}, [scored(1, "LOW"), scored(2, "LOW")], 1),
        ("answered", {"QueryText": "expenses"}, [scored(1, "HIGH", "QUESTION_ANSWER"), scored(2, "LOW")], 1),
        ("unjudged", {"QueryText": "vpn"}, [scored(1, None)], 1),
        ("unknown", {"QueryText": "vpn"}, [scored(1, "NOT_AVAILABLE")], 1),
        ("nothing", {"QueryText": "zzqx"}, [], 1),
        ("browse", {"QueryText": "  ", "AttributeFilter": {}}, [scored(1, "LOW")], 1),
        ("sorted", {"QueryText": "vpn", "SortingConfiguration": sort}, [scored(1, "NOT_AVAILABLE")], 1),
        ("page-2", {"QueryText": "vpn"}, [scored(11, "LOW")], 11),
    ]
    try:
        for query_id, request, items, first_rank in cases:
            service.record_query({"IndexId": index, **request}, {"QueryId": query_id, "ResultItems": items},
                                 languages=["en"], first_rank=first_rank, latency_ms=1.0)
        assert service.capture.flush()
        assert dict(service.store.rows("SELECT query_id, best_confidence FROM queries")) == {
            "weak": "LOW", "answered": "HIGH", "unjudged": None, "unknown": "NOT_AVAILABLE", "nothing": None,
            "browse": None, "sorted": None, "page-2": None}
    finally:
        service.stop()


# The queries table as the first release created it (no best_confidence column).
OLD_QUERIES_TABLE = """CREATE TABLE queries (query_id TEXT PRIMARY KEY, index_id TEXT NOT NULL, at REAL NOT NULL,
    query_text TEXT NOT NULL, normalized_text TEXT NOT NULL, languages TEXT NOT NULL, channel TEXT NOT NULL,
    user_key TEXT, filters TEXT, total_results INTEGER NOT NULL, latency_ms REAL NOT NULL,
    instant_answer INTEGER NOT NULL)"""


def test_an_older_data_folder_is_upgraded_and_its_queries_never_count_as_low_confidence(tmp_path: Path) -> None:
    index, at = "i" * 36, datetime(2024, 5, 13, 9, tzinfo=UTC).timestamp()
    with closing(sqlite3.connect(tmp_path / FILE_NAME)) as conn:
        conn.execute(OLD_QUERIES_TABLE)
        conn.execute("INSERT INTO queries VALUES ('old', ?, ?, 'quantum', 'quantum', 'en', 'web', NULL, NULL, 2,"
                     " 1.0, 0)", (index, at))
        conn.commit()
    store = AnalyticsStore(tmp_path / FILE_NAME)
    try:
        AnalyticsStore(tmp_path / FILE_NAME).close()  # a second opener finds the column there
        store.write([QueryEvent("new", index, at + 60, "Quantum", "quantum", ("en",), "chat", None, None, 2, 1.0,
                                (ReturnedResult("new-r", "d1", 1),), best_confidence="LOW"),
                     QueryEvent("good", index, at + 120, "vpn", "vpn", ("en",), "web", None, None, 1, 1.0,
                                (ReturnedResult("good-r", "d2", 1),), best_confidence="HIGH")])
        assert store.rows("SELECT query_id, best_confidence FROM queries ORDER BY at") == [
            ("old", None), ("new", "LOW"), ("good", "HIGH")]
        request = {"IndexId": index, "Interval": "THIS_WEEK", "Granularity": "DAY", "MaxResults": 10, "Channel": None}
        t = trends(store, request, datetime(2024, 5, 14, 12, tzinfo=UTC), UTC, lambda *_: {})
        assert t["LowConfidenceQueries"] == [{"NormalizedQuery": "quantum", "Count": 1, "Examples": ["Quantum"]}]
        assert t["Totals"]["Queries"] == 3 and t["Totals"]["LowConfidenceRate"] == round(1 / 3, 4)
    finally:
        store.close()
