"""Browser fixtures: Playwright for Python driving Debian's chromium (never a downloaded browser build).

One browser for the whole session; each test gets a fresh context (cookies, storage) and page.
Tests that need the browser are skipped, saying why, only when /usr/bin/chromium is missing on a
developer's machine; CI installs it (.ci/run), and there a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KENSAKU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCUMENT_SITE = "http://docs.kensaku.test"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def launch(playwright: Any) -> Any:
    """Debian's chromium with the project's flags."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: Playwright's waits evaluate strings, which the pages' policy forbids; it also makes
    # the XSS test prove the first wall (text nodes) without the second (Content-Security-Policy).
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="ja-JP", bypass_csp=True)
    context.set_default_timeout(15_000)
    # The documents' own server (their _source_uri) is not part of Kensaku: a one-line page stands in.
    context.route(f"{DOCUMENT_SITE}/**", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body="<!doctype html><title>document</title>"))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(tab: Any, name: str, full_page: bool = True) -> None:
    """Save a screenshot for the README (docs/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
