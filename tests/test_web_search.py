"""The search page in a real browser (Debian's chromium through Playwright) against a real server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import screenshot
from tests.conftest import wait_for
from tests.web_data import HOSTILE_TITLE
from tests.web_site import Site, clicks, recorded, sign_in


def search(page: Any, site: Site, query: str, ui: str = "ja") -> None:
    page.goto(f"{site.url}/?ui={ui}")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#q").press_sequentially(query)
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-list .result, #empty:not([hidden])")


def result_ids(page: Any) -> list[str]:
    ids: list[str] = page.locator("#result-list .result").evaluate_all(
        "nodes => nodes.map(n => n.dataset.documentId)")
    return ids


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_japanese_query_highlights_pages_filters_and_records_a_click(page: Any, site: Site) -> None:
    search(page, site, "経費精算")
    marks = page.locator("#result-list .result h2 mark").all_text_contents()
    assert marks and all(m == "経費精算" for m in marks)
    assert page.locator("#result-list .result .excerpt mark").count() > 0
    assert query_of(page)["q"] == ["経費精算"] and query_of(page)["lang"] == ["all"]
    first_page = result_ids(page)
    assert len(first_page) == 10
    screenshot(page, "search-ja")

    page.locator("#pager a[aria-label='2 ページ']").click()
    page.wait_for_function("document.querySelector('#result-list').start === 11")
    second_page = result_ids(page)
    assert len(second_page) == 10 and not set(second_page) & set(first_page)
    assert query_of(page)["page"] == ["2"]

    page.locator("fieldset[data-facet=_category] label", has_text="経理").locator("input").check()
    page.wait_for_function("new URLSearchParams(location.search).get('f._category') === '経理'")
    page.wait_for_function("document.querySelector('#result-list').start === 1")
    page.wait_for_function("!document.body.classList.contains('busy')")
    filtered = result_ids(page)
    assert len(filtered) == 8 and all(int(d.split("-")[1]) % 3 == 0 for d in filtered)
    assert page.locator("#pager a").count() == 0

    before = clicks(site)
    with page.expect_navigation():
        page.locator("#result-list .result h2 a").first.click()
    assert urlparse(page.url).path == f"/doc/{filtered[0]}"
    assert recorded(site, before) == {filtered[0]: 1}


def test_a_result_page_url_can_be_shared(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/?q=VPN&lang=en&page=1&ui=en")
    page.wait_for_selector("#result-list .result")
    assert all(d.startswith("vpn-") for d in result_ids(page))
    assert page.locator("#langs a[aria-current=true]").get_attribute("data-lang") == "en"
    assert page.input_value("#q") == "VPN"
    assert page.locator("#status").inner_text().startswith("1–6 of about 6 results")
    screenshot(page, "search-en")
    page.goto(f"{site.url}/?q=VPN&lang=ja&ui=en")  # no Japanese VPN pages: help, and a way out
    page.wait_for_selector("#empty:not([hidden])")
    assert "No documents match “VPN”." in page.inner_text("#empty")
    page.get_by_role("link", name="Search both languages").click()
    page.wait_for_selector("#result-list .result")
    assert query_of(page)["lang"] == ["all"] and len(result_ids(page)) == 6
    page.go_back()  # history follows the URL state
    page.wait_for_selector("#empty:not([hidden])")


def test_html_in_a_document_is_shown_as_text_and_never_runs(page: Any, site: Site) -> None:
    search(page, site, "経費精算の罠")
    hostile = page.locator(".result[data-document-id=hostile]")
    assert "<script>window.__xss=2</script>" in hostile.locator("h2").inner_text()
    assert "<script>window.__xss=3</script>" in hostile.locator(".excerpt").inner_text()
    assert hostile.locator("script, img, b").count() == 0
    page.wait_for_timeout(200)  # an injected onerror would have fired by now
    assert page.evaluate("window.__xss") is None
    assert HOSTILE_TITLE.startswith("<img")


def test_keyboard_alone_searches_and_opens_a_result(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/?ui=ja")
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("document.activeElement.id") == "q"  # the box has the focus on arrival
    page.keyboard.type("交通費")
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-list .result")
    for _ in range(40):  # Tab until a result's title link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#result-list h2 a')"):
            break
    else:
        pytest.fail("no result link is reachable with Tab")
    document = page.evaluate("document.activeElement.closest('.result').dataset.documentId")
    before = clicks(site)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert recorded(site, before) == {document: 1}


def test_thumbs_up_is_submitted_as_relevance_feedback(page: Any, site: Site) -> None:
    search(page, site, "出張費")
    first = page.locator("#result-list .result").first
    document = first.get_attribute("data-document-id")
    before = clicks(site, metric_column=2)
    first.locator("button.vote.up").click()
    assert first.locator("button.vote.up").get_attribute("aria-pressed") == "true"
    page.wait_for_load_state("networkidle")
    assert recorded(site, before, metric_column=2) == {document: 1}


def test_suggestions_are_asked_once_then_off_when_the_server_has_none(page: Any, site: Site) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.headers.get("x-amz-target", "")) if r.method == "POST" else None)
    page.goto(f"{site.url}/?ui=ja")
    page.wait_for_selector("body[data-ready=true]")
    is_suggestions = lambda r: r.request.headers.get("x-amz-target", "").endswith(".GetQuerySuggestions")  # noqa: E731
    with page.expect_response(is_suggestions):  # the first answer (a refusal here) is in before typing on
        page.locator("#q").press_sequentially("けい", delay=60)
    page.locator("#q").press_sequentially("ひ", delay=60)
    page.wait_for_timeout(400)
    suggestion_calls = [t for t in asked if t.endswith(".GetQuerySuggestions")]
    supported = True
    try:
        site.client.get_query_suggestions(IndexId=site.index_id, QueryText="けい")
    except site.client.exceptions.ValidationException:
        supported = False
    if supported:
        assert len(suggestion_calls) >= 1
    else:  # the first refusal turns them off for the page; the list never opens
        assert len(suggestion_calls) == 1
        assert page.locator("#suggestions").is_hidden()
        assert page.get_attribute("#q", "aria-expanded") == "false"


def test_every_query_says_it_comes_from_the_web_channel(page: Any, site: Site) -> None:
    headers: list[dict[str, str]] = []
    page.on("request", lambda r: headers.append(r.headers) if r.method == "POST" else None)
    search(page, site, "領収書")
    assert headers and all(h.get("x-kensaku-channel") == "web" for h in headers)


def test_the_page_fits_a_phone_screen(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="ja-JP", is_mobile=True,
                                  has_touch=True)  # the pages' own Content-Security-Policy applies
    try:
        phone = context.new_page()
        blocked: list[str] = []
        phone.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        phone.goto(f"{site.url}/?q=経費精算&lang=ja")
        phone.wait_for_selector("#result-list .result")
        for path in ("/dashboard", "/admin"):  # the admin pages under the same policy
            sign_in(phone, site, path)
        assert blocked == []
        phone.goto(f"{site.url}/?q=経費精算&lang=ja")
        phone.wait_for_selector("#result-list .result")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        assert phone.locator("#filters-box").get_attribute("open") is None  # filters folded away
        box = phone.locator("#q").bounding_box()
        assert box is not None and box["width"] > 200
        assert re.match(r"約 25 件中 1–10 件", phone.inner_text("#status"))
        screenshot(phone, "search-phone", full_page=False)
    finally:
        context.close()


def test_a_query_typed_through_an_ime_is_searched_once_it_is_committed(page: Any, site: Site) -> None:
    """Kana composed with Chromium's IME events (CDP Input.imeSetComposition), then committed as kanji."""
    asked: list[str] = []

    def note(request: Any) -> None:
        if request.headers.get("x-amz-target", "").endswith(".GetQuerySuggestions"):
            asked.append(request.post_data_json["QueryText"])

    page.on("request", note)
    page.goto(f"{site.url}/?ui=ja")
    page.wait_for_selector("body[data-ready=true]")
    ime = page.context.new_cdp_session(page)
    for reading in ("け", "けい", "けいひ", "けいひせいさん"):
        ime.send("Input.imeSetComposition", {"text": reading, "selectionStart": len(reading),
                                             "selectionEnd": len(reading)})
        page.wait_for_timeout(150)  # longer than the suggestion delay: nothing may be asked mid-composition
    assert page.input_value("#q") == "けいひせいさん" and asked == []
    with page.expect_request(lambda r: r.headers.get("x-amz-target", "").endswith(".GetQuerySuggestions")):
        ime.send("Input.insertText", {"text": "経費精算"})  # the conversion is committed
    page.wait_for_timeout(300)  # and nothing more is asked
    assert page.input_value("#q") == "経費精算"
    assert asked == ["経費精算"]  # asked once, for the committed text
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-list .result")
    assert query_of(page)["q"] == ["経費精算"]


def test_newest_first_and_a_date_range_narrow_the_results(page: Any, site: Site) -> None:
    search(page, site, "経費精算")
    page.select_option("#sort", "date")
    page.wait_for_function("new URLSearchParams(location.search).get('sort') === 'date'")
    page.wait_for_function("!document.body.classList.contains('busy')")
    assert result_ids(page)[:4] == ["keihi-00", "hostile", "keihi-01", "keihi-02"]  # updated 0, 1, 3, 6 days ago
    page.select_option("#date-range", "week")
    page.wait_for_function("new URLSearchParams(location.search).get('date') === 'week'")
    page.wait_for_function("!document.body.classList.contains('busy')")
    assert result_ids(page) == ["keihi-00", "hostile", "keihi-01", "keihi-02"]
    page.reload()  # the URL alone brings the same page back
    page.wait_for_selector("#result-list .result")
    assert result_ids(page) == ["keihi-00", "hostile", "keihi-01", "keihi-02"]
    assert page.input_value("#sort") == "date" and page.input_value("#date-range") == "week"


def suggestions(site: Site, prefix: str) -> list[str]:
    answer = site.client.get_query_suggestions(IndexId=site.index_id, QueryText=prefix, MaxSuggestionsCount=8)
    return [s["Value"]["Text"]["Text"] for s in answer["Suggestions"]]


def test_kana_typed_in_the_box_suggests_a_past_query_and_the_keyboard_picks_it(page: Any, site: Site) -> None:
    """Queries people ran become suggestions (GetQuerySuggestions); typing the reading in kana (けいひ)
    offers 経費精算, and ArrowDown + Enter searches it."""
    site.client.update_query_suggestions_config(IndexId=site.index_id, MinimumQueryCount=1,
                                                MinimumNumberOfQueryingUsers=1)
    ja = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "ja"}}}
    for user in ("alice", "bob"):
        site.client.query(IndexId=site.index_id, QueryText="経費精算", AttributeFilter=ja, UserContext={"UserId": user})
    wait_for(lambda: "経費精算" in suggestions(site, "けいひ"), 20, "経費精算 among the suggestions for けいひ")
    expected = suggestions(site, "けいひ")
    page.goto(f"{site.url}/?ui=ja")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#q").press_sequentially("けいひ")
    page.wait_for_selector("#suggestions li")
    assert page.locator("#suggestions li").all_inner_texts() == expected
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#q", "aria-activedescendant") == "suggestion-0"
    page.keyboard.press("Enter")
    page.wait_for_function("new URLSearchParams(location.search).get('q') !== null")
    assert query_of(page)["q"] == [expected[0]]
    page.wait_for_selector("#result-list .result")


def test_did_you_mean_shows_the_servers_spelling_correction(page: Any, site: Site) -> None:
    """The page offers the server's SpellCorrectedQueries as "did you mean", and following it searches it."""
    misspelled = "instal the clent"
    response = site.client.query(
        IndexId=site.index_id, QueryText=misspelled, SpellCorrectionConfiguration={
            "IncludeQuerySpellCheckSuggestions": True})
    corrections = response["SpellCorrectedQueries"]
    assert corrections, "the index holds install and client: a correction is due"
    page.goto(f"{site.url}/?q={misspelled}&lang=en&ui=en")
    page.wait_for_selector("#result-list .result, #empty:not([hidden])")
    suggested = corrections[0]["SuggestedQueryText"]
    assert page.inner_text("#did-you-mean-link") == suggested
    page.click("#did-you-mean-link")
    page.wait_for_function(f"new URLSearchParams(location.search).get('q') === {suggested!r}")
