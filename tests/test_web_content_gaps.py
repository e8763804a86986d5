"""Content gaps in the browser: a search whose results are all weak (every ScoreConfidence below MEDIUM)
says plainly that nothing relevant was found, keeps the weak matches behind a button, and shows up on
the dashboard next to the zero-result queries.

The end-to-end test runs its own server ranking by BM25 alone with a test calibration that judges by
the share of the query's words (conftest.WORDS_ONLY), where a query with two words of four in the index
is LOW; it checks that precondition through boto3 before it looks at the page. The page's own rules (later pages
and date-sorted results are never judged, the spelling suggestion is offered) are checked on the shared
site with a stub of the buckets only: Playwright's route interception of POST / lets the real server
answer each Query and rewrites every item's ScoreConfidence to LOW on the way back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from services.relevance import nothing_relevant
from tests.browser import DOCUMENT_SITE, screenshot
from tests.conftest import ROLE, WORDS_ONLY, make_client, put_and_wait, text_doc, wait_active
from tests.test_web_dashboard import bar_values, card
from tests.test_web_search import query_of, result_ids
from tests.web_site import ADMIN_TOKEN, DayServer, Site

WEAK = "VPN client quantum telescope"
BOTH = {"OrAllFilters": [{"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}
                         for lang in ("ja", "en")]}


class Gaps(DayServer):
    """A server of its own (BM25 ranking, admin pages on, a fixed analytics day) with a tiny index."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        client = make_client(self.server.url)
        self.index_id = client.create_index(Name="gaps", RoleArn=ROLE)["Id"]
        wait_active(client, self.index_id)
        put_and_wait(client, self.index_id, [
            text_doc("vpn", "How to connect to the office VPN. Install the client and sign in.", title="VPN setup",
                     attributes=[{"Key": "_source_uri", "Value": {"StringValue": f"{DOCUMENT_SITE}/doc/vpn"}}]),
            text_doc("expenses", "Submit expense reports by the 25th with receipts attached.", title="Expenses"),
            text_doc("keihi", "経費精算の締め日は毎月25日です。領収書を添付してください。", title="経費精算ガイド",
                     lang="ja")])
        r = client.query(IndexId=self.index_id, QueryText=WEAK, AttributeFilter=BOTH)  # the page's request
        assert r["ResultItems"] and nothing_relevant(r), f"precondition: {WEAK!r} finds LOW results only"

    def env(self) -> dict[str, str]:
        return WORDS_ONLY


@pytest.fixture
def gaps(tmp_path: Path) -> Iterator[Gaps]:
    served = Gaps(tmp_path)
    try:
        yield served
    finally:
        served.server.stop()


def open_search(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#result-list .result, #empty:not([hidden]), #weak:not([hidden])")


def test_nothing_relevant_is_said_plainly_and_the_weak_matches_wait_behind_a_button(page: Any, gaps: Gaps) -> None:
    open_search(page, f"{gaps.url}/?q={quote(WEAK)}&lang=all&ui=en")
    weak = page.locator("#weak")
    assert weak.is_visible()
    assert f"Nothing relevant was found for “{WEAK}”." in weak.inner_text()
    assert "Use fewer words." in weak.inner_text() and "Check the spelling." in weak.inner_text()
    assert "Search both Japanese and English." not in weak.inner_text()  # it already did
    assert page.locator("#result-list").is_hidden() and page.locator("#empty").is_hidden()
    assert page.inner_text("#status") == "" and page.locator("#pager a").count() == 0
    screenshot(page, "search-nothing-relevant", full_page=False)
    page.get_by_role("button", name="Show 1 weak match").click()
    assert page.locator("#result-list").is_visible() and result_ids(page) == ["vpn"]
    assert page.locator("#show-weak").count() == 0
    assert page.evaluate("document.activeElement.closest('.result')?.dataset.documentId") == "vpn"
    assert page.inner_text("#status").startswith("1–1 of about 1 result")

    open_search(page, f"{gaps.url}/?q={quote(WEAK)}&lang=en&ui=ja")
    assert f"「{WEAK}」に関連する文書は見つかりませんでした。" in page.inner_text("#weak")
    assert "言葉を減らしてください。" in page.inner_text("#weak")
    assert "日本語と英語の両方を検索してください。" in page.inner_text("#weak")
    assert page.get_by_role("button", name="関連の低い結果 1 件を表示").is_visible()
    page.locator("#weak").get_by_role("link", name="両方の言語で検索").click()
    page.wait_for_function("new URLSearchParams(location.search).get('lang') === 'all'")
    page.wait_for_selector("#weak:not([hidden])")

    open_search(page, f"{gaps.url}/?q=VPN&lang=all&ui=en")  # a relevant result: listed as always
    assert result_ids(page) == ["vpn"] and page.locator("#weak").is_hidden()

    gaps.next_day()
    # The web channel only: the precondition's boto3 queries above count under api.
    page.goto(f"{gaps.url}/dashboard?ui=en&interval=THIS_MONTH&channel=web")
    page.fill("#token", ADMIN_TOKEN)
    with page.expect_navigation():
        page.click("#sign-in")
    page.wait_for_selector("body[data-ready=true]")
    gaps_shown = bar_values(page, "low-confidence")
    assert gaps_shown == {WEAK.lower(): 3}  # both languages, English, then both again
    assert bar_values(page, "zero-result") == {}
    assert card(page, "low-confidence") == "75.0%"  # 3 of the page's 4 queries
    assert page.inner_text("#panel-low-confidence h2") == "Low-confidence queries (nothing relevant found)"
    page.goto(f"{gaps.url}/dashboard?ui=ja&interval=THIS_MONTH")
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#panel-low-confidence h2").startswith("関連する結果がなかった検索")


def weak_buckets(route: Any) -> None:
    """The real server answers; every Query item's ScoreConfidence comes back as LOW."""
    request = route.request
    if request.method != "POST" or not request.headers.get("x-amz-target", "").endswith(".Query"):
        route.continue_()
        return
    response = route.fetch()
    body = response.json()
    for item in body.get("ResultItems", []):
        item["ScoreAttributes"] = {"ScoreConfidence": "LOW"}
    route.fulfill(response=response, body=json.dumps(body))


def test_later_pages_and_date_sorted_results_are_never_hidden(page: Any, site: Site) -> None:
    page.route(f"{site.url}/", weak_buckets)
    open_search(page, f"{site.url}/?q=経費精算&lang=all&ui=ja")
    button = page.locator("#show-weak")
    assert re.fullmatch(r"関連の低い結果 [\d,]+ 件を表示", button.inner_text())
    assert page.locator("#result-list").is_hidden()
    open_search(page, f"{site.url}/?q=経費精算&lang=all&page=2&ui=ja")
    assert page.locator("#weak").is_hidden() and len(result_ids(page)) == 10
    open_search(page, f"{site.url}/?q=経費精算&lang=all&sort=date&ui=ja")
    assert page.locator("#weak").is_hidden() and len(result_ids(page)) == 10


def test_a_spelling_suggestion_is_offered_as_the_way_out(page: Any, site: Site) -> None:
    page.route(f"{site.url}/", weak_buckets)
    open_search(page, f"{site.url}/?q=install%20the%20VPN%20clent&lang=en&ui=en")
    suggestion = page.inner_text("#did-you-mean-link")
    link = page.locator("#weak").get_by_role("link", name=f"Search for “{suggestion}”")
    answered = page.evaluate("document.body.dataset.queryId")
    link.click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('q') === {suggestion!r}")
    assert query_of(page)["lang"] == ["en"]
    page.wait_for_function(f"document.body.dataset.queryId !== {answered!r}")  # answered before the page closes
