"""The admin page in a real browser: index statistics, panels that follow what the server offers, and a
data source's sync started from the page and watched to its end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import ROLE, wait_active
from tests.sync_helpers import create_source, metrics
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
    assert texts[6] == "the user and groups of the query's UserContext"
    assert "A query that names no user sees every document" in page.inner_text("#indexes .body")


def test_admin_page_says_whose_principals_an_index_checks(page: Any, site: Site) -> None:
    """An index that takes JSON user tokens names the token's fields in its access column."""
    index_id = site.client.create_index(
        Name="token-index", RoleArn=ROLE, UserContextPolicy="USER_TOKEN",
        UserTokenConfigurations=[{"JsonTokenTypeConfiguration": {"UserNameAttributeField": "sub",
                                                                  "GroupAttributeField": "teams"}}])["Id"]
    try:
        wait_active(site.client, index_id)
        sign_in(page, site, f"/admin?ui=en&index={site.index_id}")
        cell = page.locator(f"#indexes tr[data-index-id='{index_id}'] td").nth(6)
        assert cell.inner_text() == "the query's JSON token (user: sub, groups: teams)"
    finally:
        site.client.delete_index(Id=index_id)


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_admin_panels_follow_what_the_server_offers(page: Any, site: Site, panel: str) -> None:
    sign_in(page, site, f"/admin?ui=en&index={site.index_id}")
    expected = available(site.client, PANELS[panel], site.index_id)
    assert page.get_attribute(f"#{panel}", "data-available") == ("true" if expected else "false")
    if not expected:
        assert page.inner_text(f"#{panel} .body") == "Not available on this server yet"


def test_a_sync_started_from_the_admin_page_runs_to_its_end(page: Any, site: Site, tmp_path: Path) -> None:
    """Start a FILESYSTEM source's sync with the page's button; the row's progress goes from running to
    SUCCEEDED by itself (the page polls), and the folder's pages are then searchable."""
    # Created after the site's index, so the search page's default index stays the site's.
    index_id = site.client.create_index(Name="admin-sync", RoleArn=ROLE)["Id"]
    wait_active(site.client, index_id)
    folder = tmp_path / "share"
    folder.mkdir()
    for n in range(3):
        (folder / f"wombat-{n}.md").write_text(f"# Wombat plan {n}\n\nHow the wombat cluster moves, part {n}.\n")
    source = create_source(site.client, index_id, "team-share", "FILESYSTEM", path=str(folder))
    try:
        sign_in(page, site, f"/admin?ui=en&index={index_id}")
        row = page.locator(f"#data-sources tr[data-data-source-id='{source}']")
        assert row.locator("td").first.inner_text() == "team-share"
        assert row.locator("button.stop").is_disabled()
        row.locator("button.start").click()
        row.locator(".sync", has_text="SUCCEEDED").wait_for(timeout=60_000)
        assert row.locator("progress").get_attribute("value") == "1"
        assert row.locator("button.start").is_enabled() and row.locator("button.stop").is_disabled()
        [job] = site.client.list_data_source_sync_jobs(Id=source, IndexId=index_id)["History"]
        assert job["Status"] == "SUCCEEDED" and metrics(job)["Added"] == 3
        assert site.client.query(IndexId=index_id, QueryText="wombat")["TotalNumberOfResults"] == 3
        # the index table is read again when the sync ends: its statistics count the new documents
        page.locator(f"#indexes tr[data-index-id='{index_id}'] td:nth-child(4)", has_text="3").wait_for()
        screenshot(page, "admin")
    finally:
        site.client.delete_index(Id=index_id)
