"""Learning from clicks through the Kendra API: clicked results rise for their query, and only for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.learning import ClickLearning
from analytics.store import AnalyticsStore
from services.settings import Settings
from tests.conftest import ROLE, Server, ids_of, make_client, put_and_wait, text_doc, wait_active, wait_for
from tests.test_analytics import db_rows

DOCS = [
    text_doc("guide", "How to file an expense report: the expense report guide for travel costs."),
    text_doc("template", "Expense report template with examples of an expense report for travel."),
    text_doc("archive", "Archive of old expense report forms and the travel policy from 2019."),
    text_doc("misc", "Meeting notes about budgets, travel and the yearly report."),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = Server(tmp_path_factory.mktemp("learning"), env={"KENSAKU_CLICK_LEARNING_REFRESH_SECONDS": "0"}).start()
    yield make_client(srv.url)
    srv.stop()


def corpus(client: Any) -> str:
    index_id: str = client.create_index(Name="learning", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    put_and_wait(client, index_id, DOCS)
    return index_id


def click(client: Any, index_id: str, text: str, doc_id: str) -> None:
    r = client.query(IndexId=index_id, QueryText=text)
    item = next(i for i in r["ResultItems"] if i["DocumentId"] == doc_id)
    client.submit_feedback(IndexId=index_id, QueryId=r["QueryId"],
                           ClickFeedbackItems=[{"ResultId": item["Id"], "ClickTime": datetime.now(UTC)}])


def test_repeated_clicks_on_the_third_result_make_it_first_for_that_query_only(client: Any) -> None:
    index_id = corpus(client)
    before = ids_of(client.query(IndexId=index_id, QueryText="expense report"))
    unrelated_before = ids_of(client.query(IndexId=index_id, QueryText="travel"))
    third = before[2]
    assert before[0] != third
    for _ in range(5):
        click(client, index_id, "expense report", third)
    wait_for(lambda: ids_of(client.query(IndexId=index_id, QueryText="expense report"))[0] == third, 15,
             "clicked result first")
    # The same query in another case/spacing learns the same; an unrelated query does not move.
    assert ids_of(client.query(IndexId=index_id, QueryText="Expense   REPORT"))[0] == third
    assert ids_of(client.query(IndexId=index_id, QueryText="travel")) == unrelated_before
    # A fresh, better match is not buried: only the clicked document may stay above it.
    put_and_wait(client, index_id, [text_doc("fresh", "expense report " * 30, title="Expense report")])
    assert set(ids_of(client.query(IndexId=index_id, QueryText="expense report"))[:2]) == {"fresh", third}


def test_not_relevant_votes_lower_a_result(client: Any) -> None:
    index_id = corpus(client)
    first = ids_of(client.query(IndexId=index_id, QueryText="expense report"))[0]
    for _ in range(5):
        r = client.query(IndexId=index_id, QueryText="expense report")
        item = next(i for i in r["ResultItems"] if i["DocumentId"] == first)
        client.submit_feedback(IndexId=index_id, QueryId=r["QueryId"],
                               RelevanceFeedbackItems=[{"ResultId": item["Id"], "RelevanceValue": "NOT_RELEVANT"}])
    wait_for(lambda: ids_of(client.query(IndexId=index_id, QueryText="expense report"))[0] != first, 15,
             "voted-down result no longer first")


def test_learning_can_be_turned_off(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_CLICK_LEARNING": "false"}).start()
    try:
        c = make_client(srv.url)
        index_id = corpus(c)
        before = ids_of(c.query(IndexId=index_id, QueryText="expense report"))
        for _ in range(5):
            click(c, index_id, "expense report", before[2])
        wait_for(lambda: db_rows(tmp_path, "SELECT COUNT(*) FROM clicks WHERE orphaned = 0") == [(5,)], 10,
                 "clicks stored")
        assert ids_of(c.query(IndexId=index_id, QueryText="expense report")) == before
    finally:
        srv.stop()


def test_feedback_decays_and_the_multiplier_is_bounded(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    settings = Settings(data_dir=tmp_path, click_learning_half_life_days=10, click_learning_max_boost=1.0)
    learning = ClickLearning(settings, AnalyticsStore(tmp_path / "a.sqlite3"), lambda: now)
    fresh = learning._table([("q", "d", now, 1)])["q"]["d"]
    old = learning._table([("q", "d", now - 10 * 86_400, 1)])["q"]["d"]
    assert fresh - 1 == pytest.approx(2 * (old - 1), rel=0.05)
    assert learning.multiplier(1e9) == pytest.approx(2.0) and learning.multiplier(-1e9) == pytest.approx(0.5)
    assert learning.multiplier(0) == 1.0
    many = learning._table([("q", f"d{n}", now, n + 1) for n in range(6)] + [("q", "bad", now, -2)])["q"]
    assert sorted(many) == ["bad", "d3", "d4", "d5"]  # at most three lifted; every lowered one kept
