"""The analytics dashboard in a real browser: sign-in with the admin token, charts that follow clicks."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import screenshot
from tests.web_site import ADMIN_TOKEN, Site, sign_in


def bar_values(page: Any, panel: str) -> dict[str, int]:
    """What a bar chart shows: its rows' ids (document ids; queries, case-folded) -> values."""
    values: dict[str, int] = page.locator(f"#panel-{panel} g.bar").evaluate_all(
        "bars => Object.fromEntries(bars.map(b => [b.dataset.id.toLowerCase(), Number(b.dataset.value)]))")
    return values


def card(page: Any, name: str) -> str:
    text: str = page.locator(f"#card-{name} .value").inner_text()
    return text


def test_dashboard_and_admin_pages_need_the_admin_token(page: Any, site: Site) -> None:
    for path in ("/dashboard", "/admin"):
        r = httpx.get(f"{site.url}{path}")
        assert r.status_code == 200 and 'id="login"' in r.text  # the sign-in form, not the page
    assert httpx.post(f"{site.url}/admin/session", json={"token": "wrong"}).status_code == 403
    page.goto(f"{site.url}/dashboard")
    page.fill("#token", "wrong")
    page.click("#sign-in")
    page.wait_for_selector("#login-error:has-text('wrong')")
    page.fill("#token", ADMIN_TOKEN)
    with page.expect_navigation():
        page.click("#sign-in")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#cards .card").count() >= 4


def test_dashboard_charts_follow_searches_and_clicks(page: Any, site: Site) -> None:
    site.next_day()  # what other tests recorded today becomes part of "before"
    sign_in(page, site, "/dashboard?ui=en&interval=THIS_MONTH")
    queries_before = int(card(page, "queries").replace(",", ""))
    docs_before = bar_values(page, "top-documents")
    top_before = bar_values(page, "top")

    page.goto(f"{site.url}/?q=VPN&lang=en")
    page.wait_for_selector(".result[data-document-id=vpn-3]")
    with page.expect_navigation():
        page.locator(".result[data-document-id=vpn-3] h2 a").click()
    page.goto(f"{site.url}/?q=量子コンピュータ&lang=all")
    page.wait_for_selector("#empty:not([hidden])")
    site.await_feedback()
    site.next_day()

    sign_in(page, site, "/dashboard?ui=en&interval=THIS_MONTH")
    assert int(card(page, "queries").replace(",", "")) == queries_before + 2
    assert bar_values(page, "top-documents").get("vpn-3", 0) == docs_before.get("vpn-3", 0) + 1
    assert bar_values(page, "top").get("vpn", 0) == top_before.get("vpn", 0) + 1
    assert "量子コンピュータ" in bar_values(page, "zero-result")
    days = page.locator("#panel-over-time g.column").evaluate_all("cs => cs.map(c => Number(c.dataset.value))")
    assert sum(days) == int(card(page, "queries").replace(",", ""))
    assert page.locator("#panel-ctr-over-time circle.point").count() == len(days)
    screenshot(page, "dashboard")
    page.select_option("#interval", "TWO_MONTHS_AGO")  # an empty interval: charts empty, no error
    page.wait_for_selector("body[data-ready=true]")
    assert card(page, "queries") == "0"
    assert "interval=TWO_MONTHS_AGO" in page.url
