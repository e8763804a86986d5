"""KensakuGetTrends, Kensaku's extension operation, over the real wire (raw AWS JSON 1.1 POSTs:
boto3 has no method for an operation outside Kendra's model)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from analytics.events import QueryEvent, ReturnedResult
from analytics.store import FILE_NAME, AnalyticsStore
from services.relevance import nothing_relevant
from tests.conftest import ROLE, WORDS_ONLY, Server, make_client, put_and_wait, text_doc, wait_active
from tests.test_analytics import LAST_TUESDAY, NEXT_TUESDAY


def channel_client(url: str, channel: str) -> Any:
    c = make_client(url)
    c.meta.events.register("before-sign.kendra.Query",
                           lambda request, **_: request.headers.__setitem__("X-Kensaku-Channel", channel))
    return c


def trends(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = httpx.post(f"{url}/", content=json.dumps(body), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSKendraFrontendService.KensakuGetTrends"})
    return r.status_code, r.json()


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_trends_report_channels_rising_gaps_and_clicks(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": LAST_TUESDAY}).start()
    try:
        api = make_client(srv.url)
        index_id = api.create_index(Name="trends", RoleArn=ROLE)["Id"]
        wait_active(api, index_id)
        put_and_wait(api, index_id, [text_doc(f"a{n}", f"alpha document {n}", title=f"Alpha {n}") for n in range(3)])
        web, chat = channel_client(srv.url, "web"), channel_client(srv.url, "chat")
        alphas = [web.query(IndexId=index_id, QueryText="alpha") for _ in range(4)]
        alphas.append(chat.query(IndexId=index_id, QueryText="Alpha"))
        for text in ("zzqx", "zzqx", "ZZQX"):
            api.query(IndexId=index_id, QueryText=text)
        clicked = [(alphas[0], 1), (alphas[1], 0)]  # ranks 2 and 1
        for r, n in clicked:
            api.submit_feedback(IndexId=index_id, QueryId=r["QueryId"], ClickFeedbackItems=[
                {"ResultId": r["ResultItems"][n]["Id"], "ClickTime": datetime.now(UTC)}])
    finally:
        srv.stop()
    # The week before: one "alpha" (a backdated log entry, written with the store's own writer).
    store = AnalyticsStore(tmp_path / FILE_NAME)
    qid = str(uuid.uuid4())
    store.write([QueryEvent(qid, index_id, epoch("2024-05-07T09:00:00+00:00"), "alpha", "alpha", ("en",), "web",
                            None, None, 1, 2.0, (ReturnedResult(f"{qid}-r", "a0", 1),))])
    store.close()

    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": NEXT_TUESDAY}).start()
    try:
        status, t = trends(srv.url, {"IndexId": index_id, "Interval": "ONE_WEEK_AGO"})
        assert status == 200, t
        assert t["Interval"] == {"StartTime": epoch("2024-05-12T00:00:00+00:00"),
                                 "EndTime": epoch("2024-05-19T00:00:00+00:00")}
        weak = sum(nothing_relevant(r) for r in alphas)  # none with today's ranking; read, not assumed
        assert t["Totals"] == {"Queries": 8, "Clicks": 2, "ClickThroughRate": 0.25, "ZeroResultRate": 0.375,
                               "LowConfidenceRate": round(weak / 8, 4), "MeanReciprocalRank": 0.75}
        hours = t["QueriesOverTime"]
        assert len(hours) == 7 * 24 and hours[0]["Time"] == t["Interval"]["StartTime"]
        busy = [h for h in hours if any(h["Counts"].values())]
        assert busy == [{"Time": epoch(LAST_TUESDAY), "Counts": {"web": 4, "chat": 1, "api": 3}}]
        assert len(t["ClickThroughOverTime"]) == 7 * 24
        assert [p for p in t["ClickThroughOverTime"] if p["ClickThroughRate"]] == [
            {"Time": epoch(LAST_TUESDAY), "ClickThroughRate": 0.25, "MeanReciprocalRank": 0.75}]
        assert t["TopQueries"] == [{"Query": "alpha", "Count": 5}, {"Query": "zzqx", "Count": 3}]
        assert t["RisingQueries"] == [{"Query": "alpha", "Count": 5, "PreviousCount": 1, "Growth": 4.0},
                                      {"Query": "zzqx", "Count": 3, "PreviousCount": 0, "Growth": 3.0}]
        assert t["ZeroResultQueries"] == [{"NormalizedQuery": "zzqx", "Count": 3, "Examples": ["zzqx", "ZZQX"]}]
        assert [q["Count"] for q in t["LowConfidenceQueries"]] == ([weak] if weak else [])
        assert t["ZeroClickQueries"] == [{"Query": "alpha", "Count": 5, "ZeroClickRate": 0.6}]
        top_docs = {d["DocumentId"]: d for d in t["TopDocuments"]}
        assert sorted((d["DocumentId"], d["Clicks"]) for d in t["TopDocuments"]) == sorted(
            [(r["ResultItems"][n]["DocumentId"], 1) for r, n in clicked])
        assert all(d["DocumentTitle"] == f"Alpha {d['DocumentId'][1]}" for d in top_docs.values())

        status, days = trends(srv.url, {"IndexId": index_id, "Interval": "ONE_WEEK_AGO", "Granularity": "DAY",
                                        "Channel": "chat", "MaxResults": 1})
        assert status == 200
        assert [d["Counts"]["chat"] for d in days["QueriesOverTime"]] == [0, 0, 1, 0, 0, 0, 0]
        assert days["Totals"]["Queries"] == 1 and days["TopQueries"] == [{"Query": "alpha", "Count": 1}]
        status, month = trends(srv.url, {"IndexId": index_id, "Interval": "THIS_MONTH"})
        assert status == 200 and len(month["QueriesOverTime"]) == 20  # May 1..20, by day
        assert month["Totals"]["Queries"] == 9

        for bad in ({"Interval": "ONE_WEEK_AGO"}, {"IndexId": index_id}, {"IndexId": index_id, "Interval": "NOW"},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "Granularity": "MINUTE"},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "MaxResults": 0},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "MaxResults": 101},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "MaxResults": "5"},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "Channel": "email"},
                    {"IndexId": index_id, "Interval": "THIS_WEEK", "Bogus": 1},
                    {"IndexId": "short", "Interval": "THIS_WEEK"}):
            status, error = trends(srv.url, bad)
            assert (status, error["__type"]) == (400, "ValidationException"), bad
            assert error["message"]
        status, error = trends(srv.url, {"IndexId": "f" * 36, "Interval": "THIS_WEEK"})
        assert (status, error["__type"]) == (400, "ResourceNotFoundException")
    finally:
        srv.stop()


WEAK = "VPN client quantum telescope"


def test_low_confidence_queries_are_reported_next_to_zero_result_queries(tmp_path: Path) -> None:
    """Queries asked through boto3 whose best result is below MEDIUM come back as LowConfidenceQueries.

    The server ranks by BM25 judged by the share of the query's words (conftest.WORDS_ONLY), where a
    query with two words of four in the index is LOW. The buckets are read off the
    responses (a precondition below), not assumed, so a change of ranking shows up as such."""
    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": LAST_TUESDAY, **WORDS_ONLY}).start()
    try:
        api = make_client(srv.url)
        index_id = api.create_index(Name="gaps", RoleArn=ROLE)["Id"]
        wait_active(api, index_id)
        put_and_wait(api, index_id, [
            text_doc("vpn", "How to connect to the office VPN. Install the client and sign in.", title="VPN setup"),
            text_doc("expenses", "Submit expense reports by the 25th with receipts attached.", title="Expenses"),
            text_doc("keihi", "経費精算の締め日は毎月25日です。", title="経費精算ガイド", lang="ja")])
        web, chat = channel_client(srv.url, "web"), channel_client(srv.url, "chat")
        weak = [web.query(IndexId=index_id, QueryText=WEAK), web.query(IndexId=index_id, QueryText=WEAK.lower()),
                chat.query(IndexId=index_id, QueryText=f"  {WEAK}  ")]
        assert all(r["ResultItems"] and nothing_relevant(r) for r in weak), "precondition: LOW results only"
        good = web.query(IndexId=index_id, QueryText="VPN setup")
        assert good["ResultItems"] and not nothing_relevant(good), "precondition: a relevant result"
        api.query(IndexId=index_id, QueryText="zzqx")  # no results: a zero-result query, not a weak one
    finally:
        srv.stop()

    srv = Server(tmp_path, env={"KENSAKU_ANALYTICS_NOW": NEXT_TUESDAY}).start()
    try:
        status, t = trends(srv.url, {"IndexId": index_id, "Interval": "ONE_WEEK_AGO"})
        assert status == 200, t
        assert t["LowConfidenceQueries"] == [{"NormalizedQuery": WEAK.lower(), "Count": 3,
                                              "Examples": [WEAK, WEAK.lower(), f"  {WEAK}  "]}]
        assert t["ZeroResultQueries"] == [{"NormalizedQuery": "zzqx", "Count": 1, "Examples": ["zzqx"]}]
        assert t["Totals"]["LowConfidenceRate"] == 0.6 and t["Totals"]["ZeroResultRate"] == 0.2
        status, chat_only = trends(srv.url, {"IndexId": index_id, "Interval": "ONE_WEEK_AGO", "Channel": "chat"})
        assert status == 200 and chat_only["Totals"]["LowConfidenceRate"] == 1.0
        assert [q["Count"] for q in chat_only["LowConfidenceQueries"]] == [1]
    finally:
        srv.stop()
