"""The first run as a new user clicks it, in a browser: the printed sign-in link, an index, a folder as a
FILESYSTEM data source, a sync to SUCCEEDED, a search that finds a word of a PowerPoint file.

Shared by tests/test_web_first_run.py and bench/clone_to_first_result.py (which runs it against a server
started by ``make serve`` in a fresh clone), so that both time the same clicks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LINK = re.compile(r"http://\S+/login\?token=\S+")
PPTX_WORD = "MFA疲労攻撃"  # only in 情報システム/情報セキュリティ研修.pptx


def walk_first_run(page: Any, url: str, link: str, folder: Path,
                   shot: Callable[[str], None] = lambda _: None) -> tuple[str, float]:
    """Click through the first run on the server at ``url``; returns the index id made and
    ``time.monotonic()`` when the first result showed. ``shot(step)`` is called at each step of the
    README's quick start ("admin", "synced", "result") with the page showing it."""
    page.goto(link)  # the sign-in link opens a session and lands on the admin page
    page.wait_for_url(f"{url}/admin**")
    page.goto(f"{url}/admin?ui=en")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_hidden("#index-panels")
    shot("admin")
    page.fill("#index-name", "documents")
    page.click("#create-index")
    row = page.locator("#indexes tr[data-index-id]")
    row.wait_for()
    index_id = str(row.get_attribute("data-index-id"))
    page.wait_for_selector("#index-panels:not([hidden])")
    page.wait_for_selector("body[data-ready=true]")

    page.click("#source-form-title")
    page.fill("#source-form [name=Name]", "team-share")
    page.fill("#source-form [name=path]", str(folder))
    page.click("#source-form button.save")
    source = page.locator("#data-sources tr[data-data-source-id]")
    source.wait_for()
    assert source.locator("td").nth(1).inner_text() == "FILESYSTEM"
    source.locator("button.start").click()
    source.locator(".sync", has_text="SUCCEEDED").wait_for(timeout=180_000)
    assert source.locator("progress").get_attribute("value") == "1"
    assert "added 8" in source.locator(".sync").inner_text()
    page.locator(f"#indexes tr[data-index-id='{index_id}'] td:nth-child(4)", has_text="8").wait_for()
    shot("synced")

    page.goto(f"{url}/?ui=en")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_hidden("#welcome")
    page.locator("#q").fill(PPTX_WORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-list .result")
    at = time.monotonic()
    first = page.locator("#result-list .result").first
    assert str(first.get_attribute("data-document-id")).endswith(".pptx")
    marks = first.locator("mark").all_inner_texts()
    assert {"MFA", "疲労", "攻撃"} <= set(marks), marks
    shot("result")
    return index_id, at
