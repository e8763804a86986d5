"""Search analytics through the Kendra API: SubmitFeedback, GetSnapshots and event capture."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_client, put_and_wait, state_rows, text_doc, wait_active, wait_for

# Last week's Tuesday, and "now" a week later (both Tuesdays, noon UTC).
LAST_TUESDAY = "2024-05-14T12:00:00+00:00"
NEXT_TUESDAY = "2024-05-21T12:00:00+00:00"
pytestmark = pytest.mark.databases  # the tests on the shared server run with PostgreSQL too

METRICS = ("QUERIES_BY_COUNT", "QUERIES_BY_ZERO_CLICK_RATE", "QUERIES_BY_ZERO_RESULT_RATE",
           "DOCS_BY_CLICK_COUNT", "AGG_QUERY_DOC_METRICS", "TREND_QUERY_DOC_METRICS")


def db_rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the analytics store directly (a Kensaku-only view for tests)."""
    with closing(sqlite3.connect(data_dir / "analytics.sqlite3")) as conn:
        return list(conn.execute(sql, params))


def alpha_index(client: Any, docs: int = 3) -> str:
    index_id: str = client.create_index(Name="analytics", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    put_and_wait(client, index_id, [text_doc(f"a{n}", f"alpha document number {n}") for n in range(docs)])
    return index_id


def test_feedback_is_accepted_and_an_unknown_index_is_refused(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc("fb", "feedback alpha")])
    r = kendra.query(IndexId=index_id, QueryText="alpha")
    result_id = r["ResultItems"][0]["Id"]
    answer = kendra.submit_feedback(
        IndexId=index_id, QueryId=r["QueryId"],
        ClickFeedbackItems=[{"ResultId": result_id, "ClickTime": datetime.now(UTC)}],
        RelevanceFeedbackItems=[{"ResultId": result_id, "RelevanceValue": "RELEVANT"}],
    )
    assert set(answer) == {"ResponseMetadata"}
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.submit_feedback(IndexId="f" * 36, QueryId=r["QueryId"],
                               ClickFeedbackItems=[{"ResultId": result_id, "ClickTime": datetime.now(UTC)}])


def test_click_for_an_unknown_query_is_recorded_as_orphaned(server: Server, kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    kendra.submit_feedback(IndexId=index_id, QueryId="no-such-query",
                           ClickFeedbackItems=[{"ResultId": "no-such-result", "ClickTime": datetime.now(UTC)}],
                           RelevanceFeedbackItems=[{"ResultId": "no-such-result", "RelevanceValue": "NOT_RELEVANT"}])
    sql = "SELECT orphaned FROM {} WHERE index_id = ? AND query_id = 'no-such-query'"
    assert wait_for(lambda: state_rows(server, "analytics", sql.format("clicks"), (index_id,)), 10) == [(1,)]
    assert wait_for(lambda: state_rows(server, "analytics", sql.format("votes"), (index_id,)), 10) == [(1,)]
    assert kendra.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_channel_and_user_come_from_the_request(server: Server, kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    chat = make_client(server.url)
    chat.meta.events.register("before-sign.kendra.Query",
                              lambda request, **_: request.headers.__setitem__("X-Kensaku-Channel", "chat"))
    q1 = chat.query(IndexId=index_id, QueryText="東京都", UserContext={"UserId": "alice"}, VisitorId="v1")
    q2 = kendra.query(IndexId=index_id, QueryText="Hello  World", VisitorId="v1")
    q3 = kendra.query(IndexId=index_id, QueryText="x")
    sql = "SELECT query_id, channel, user_key, normalized_text, total_results FROM queries WHERE index_id = ?"
    rows = wait_for(lambda: (r := state_rows(server, "analytics", sql, (index_id,))) and len(r) == 3 and r, 10)
    assert sorted(rows) == sorted([(q1["QueryId"], "chat", "alice", "東京都", 0),
                                   (q2["QueryId"], "api", "v1", "hello world", 0),
                                   (q3["QueryId"], "api", None, "x", 0)])


def test_user_ids_are_stored_hashed_when_configured(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_HASH_USER_IDS": "true",
                                "KENSAKU_ANALYTICS_USER_ID_SALT": "pepper"}).start()
    try:
        client = make_client(srv.url)
        index_id = client.create_index(Name="hash", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        client.query(IndexId=index_id, QueryText="x", UserContext={"UserId": "alice"})
        client.query(IndexId=index_id, QueryText="y", VisitorId="visitor-7")
    finally:
        srv.stop()
    keys = dict(db_rows(tmp_path, "SELECT query_text, user_key FROM queries"))
    assert keys == {"x": hashlib.sha256(b"pepperalice").hexdigest(),
                    "y": hashlib.sha256(b"peppervisitor-7").hexdigest()}


def test_capture_loses_no_events_under_concurrent_queries(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()
    try:
        client = make_client(srv.url, check_responses=False)
        index_id = alpha_index(client, docs=2)

        def run(worker: int) -> None:
            c = make_client(srv.url, check_responses=False)
            for n in range(500):
                c.query(IndexId=index_id, QueryText="alpha" if n % 2 else f"w{worker} n{n}", PageSize=1)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        srv.stop()  # shutdown writes every queued event
    assert db_rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT query_id) FROM queries") == [(2000, 2000)]
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM results") == [(1000,)]  # "alpha" returns 1 item a page


def test_get_snapshots_reports_last_weeks_queries_and_clicks(tmp_path: Path) -> None:
    # Last week's Tuesday: 5 "alpha" queries (one clicked, one result voted relevant), 2 "zzqx" (no results).
    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": LAST_TUESDAY}).start()
    try:
        client = make_client(srv.url)
        index_id = alpha_index(client)
        alphas = [client.query(IndexId=index_id, QueryText="alpha") for _ in range(5)]
        for _ in range(2):
            assert client.query(IndexId=index_id, QueryText="zzqx")["TotalNumberOfResults"] == 0
        clicked = alphas[0]["ResultItems"][0]
        client.submit_feedback(
            IndexId=index_id, QueryId=alphas[0]["QueryId"],
            ClickFeedbackItems=[{"ResultId": clicked["Id"], "ClickTime": datetime.now(UTC)}],
            RelevanceFeedbackItems=[{"ResultId": clicked["Id"], "RelevanceValue": "RELEVANT"}])
    finally:
        srv.stop()

    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": NEXT_TUESDAY}).start()
    try:
        client = make_client(srv.url)
        snap = {m: client.get_snapshots(IndexId=index_id, Interval="ONE_WEEK_AGO", MetricType=m) for m in METRICS}
        for m in METRICS:
            assert snap[m]["SnapShotTimeFilter"] == {
                "StartTime": datetime(2024, 5, 12, tzinfo=UTC),
                "EndTime": datetime(2024, 5, 18, 23, 59, 59, 999000, tzinfo=UTC)}, m
            assert all(isinstance(h, str) for h in snap[m]["SnapshotsDataHeader"])
            assert "NextToken" not in snap[m]

        by_count = snap["QUERIES_BY_COUNT"]
        assert by_count["SnapshotsDataHeader"][:2] == ["query_content", "count"]
        assert by_count["SnapshotsData"] == [["alpha", "5", "0.2", "0.8", "1.0", "0.0"],
                                             ["zzqx", "2", "0.0", "1.0", "0.0", "0.0"]]
        assert snap["QUERIES_BY_ZERO_CLICK_RATE"]["SnapshotsData"] == [["alpha", "5", "4", "0.8", "0.0"],
                                                                       ["zzqx", "2", "2", "1.0", "0.0"]]
        zero = snap["QUERIES_BY_ZERO_RESULT_RATE"]
        assert zero["SnapshotsDataHeader"][:2] == ["query_content", "count"]
        assert zero["SnapshotsData"] == [["zzqx", "2", "2", "1.0", "0.2857"]]
        docs = snap["DOCS_BY_CLICK_COUNT"]
        assert docs["SnapshotsDataHeader"] == ["document_id", "count", "relevant_count", "not_relevant_count"]
        assert docs["SnapshotsData"] == [[clicked["DocumentId"], "1", "1", "0"]]
        agg = snap["AGG_QUERY_DOC_METRICS"]
        assert agg["SnapshotsDataHeader"] == ["click_through_rate", "zero_click_rate", "zero_result_rate",
                                              "instant_answer_rate", "total_queries", "total_documents"]
        assert agg["SnapshotsData"] == [["0.1429", "0.8571", "0.2857", "0.0", "7", "3"]]
        trend = snap["TREND_QUERY_DOC_METRICS"]["SnapshotsData"]
        assert [row[0] for row in trend] == [f"2024-05-{d}" for d in range(12, 19)]
        assert [row[-1] for row in trend] == ["0", "0", "7", "0", "0", "0", "0"]

        page = client.get_snapshots(IndexId=index_id, Interval="ONE_WEEK_AGO", MetricType="QUERIES_BY_COUNT",
                                    MaxResults=1)
        assert [row[0] for row in page["SnapshotsData"]] == ["alpha"]
        rest = client.get_snapshots(IndexId=index_id, Interval="ONE_WEEK_AGO", MetricType="QUERIES_BY_COUNT",
                                    MaxResults=1, NextToken=page["NextToken"])
        assert [row[0] for row in rest["SnapshotsData"]] == ["zzqx"] and "NextToken" not in rest

        # Today's queries never count: THIS_WEEK is Sunday..Monday.
        client.query(IndexId=index_id, QueryText="alpha")
        wait_for(lambda: db_rows(tmp_path, "SELECT COUNT(*) FROM queries") == [(8,)], 10, "today's query stored")
        this_week = client.get_snapshots(IndexId=index_id, Interval="THIS_WEEK", MetricType="QUERIES_BY_COUNT")
        assert this_week["SnapshotsData"] == []
        trend = client.get_snapshots(IndexId=index_id, Interval="THIS_WEEK", MetricType="TREND_QUERY_DOC_METRICS")
        assert [(row[0], row[-1]) for row in trend["SnapshotsData"]] == [("2024-05-19", "0"), ("2024-05-20", "0")]

        with pytest.raises(client.exceptions.InvalidRequestException):
            client.get_snapshots(IndexId=index_id, Interval="ONE_WEEK_AGO", MetricType="BOGUS")
    finally:
        srv.stop()


def test_bad_snapshot_requests_are_invalid_request_exceptions(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    for kwargs in ({"Interval": "ONE_WEEK_AGO", "MetricType": "BOGUS"},
                   {"Interval": "YESTERDAY", "MetricType": "QUERIES_BY_COUNT"},
                   {"Interval": "THIS_WEEK", "MetricType": "QUERIES_BY_COUNT", "NextToken": "not-a-token"},
                   {"Interval": "THIS_WEEK", "MetricType": "QUERIES_BY_COUNT", "MaxResults": 0}):
        with pytest.raises(kendra.exceptions.InvalidRequestException) as info:
            kendra.get_snapshots(IndexId=index_id, **kwargs)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.get_snapshots(IndexId="f" * 36, Interval="THIS_WEEK", MetricType="QUERIES_BY_COUNT")
