"""The admin page in a real browser: index statistics, and panels that follow what the server offers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import screenshot
from tests.web_site import Site, sign_in

# Panel id -> the Kendra call that fills it.
PANELS = {
    "data-sources": lambda c, index_id: c.list_data_sources(IndexId=index_id),
    "faqs": lambda c, index_id: c.list_faqs(IndexId=index_id),
    "block-lists": lambda c, index_id: c.list_query_suggestions_block_lists(IndexId=index_id),
}


def available(client: Any, call: Any, index_id: str) -> bool:
    """Whether the server has built the operation (a refusal names the missing feature)."""
    try:
        call(client, index_id)
    except client.exceptions.ValidationException as error:
        if "is not supported by this Kensaku server" in str(error):
            return False
        raise
    return True


def test_admin_page_shows_index_statistics(page: Any, site: Site) -> None:
    sign_in(page, site, f"/admin?ui=en&index={site.index_id}")
    described = site.client.describe_index(Id=site.index_id)
    row = page.locator(f"#indexes tr[data-index-id='{site.index_id}'] td")
    texts = row.all_inner_texts()
    assert texts[0] == described["Name"] and texts[1] == "ACTIVE"
    assert texts[3] == str(described["IndexStatistics"]["TextDocumentStatistics"]["IndexedTextDocumentsCount"]) == "31"
    assert page.input_value("#index") == site.index_id
    screenshot(page, "admin")


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_admin_panels_follow_what_the_server_offers(page: Any, site: Site, panel: str) -> None:
    sign_in(page, site, f"/admin?ui=en&index={site.index_id}")
    expected = available(site.client, PANELS[panel], site.index_id)
    assert page.get_attribute(f"#{panel}", "data-available") == ("true" if expected else "false")
    if not expected:
        assert page.inner_text(f"#{panel} .body") == "Not available on this server yet"
