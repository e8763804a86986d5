"""The first run in a real browser: from `kensaku serve` on a fresh data folder to a search result, with no
code. The sign-in link is read from the server's stdout; the index, its data source and its fields are made
on the admin page; files are dropped on it; failures, thesauri and featured results are shown there.

The server runs with the product's defaults (the default embedder too) but for the folders it may read, so
the time it prints from start to first result is what a new user waits (besides the clicks)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import REPO, free_port, make_client, put_and_wait, text_doc
from tests.first_run_flow import LINK, walk_first_run
from tests.sync_helpers import OFFICE, office_folder


@dataclass
class FirstRun:
    url: str
    link: str
    started: float  # time.monotonic() when `kensaku serve` was started
    root: Path  # the folder data sources and file:// keys may read
    index_id: str = ""


@pytest.fixture(scope="module")
def first_run() -> Iterator[FirstRun]:
    with tempfile.TemporaryDirectory(prefix="kensaku-first-run-") as tmp:
        root = Path(tmp).resolve()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KENSAKU_")}
        env.update({"KENSAKU_LOCAL_FILES_ROOT": str(root), "KENSAKU_LOG_LEVEL": "warning"})
        started = time.monotonic()
        # as the README's quick start: `make serve ARGS="--local-root ~/Documents"`
        proc = subprocess.Popen([sys.executable, "-m", "kensaku.cli", "serve", "--port", str(port), "--data-dir",
                                 str(root / "data"), "--local-root", str(root)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            link = None
            while link is None:
                line = proc.stdout.readline()
                assert line, "the server ended without printing a sign-in link"
                if found := LINK.search(line):
                    link = found.group(0)
            yield FirstRun(f"http://127.0.0.1:{port}", link, started, root)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def admin(page: Any, run: FirstRun) -> None:
    """Open the printed sign-in link (a session for this browser context) and wait for the admin page."""
    page.goto(run.link)
    page.wait_for_url(f"{run.url}/admin**")
    page.wait_for_selector("body[data-ready=true]")


# The README's quick start shows these steps (docs/screenshots/first-run-*.png; "synced" is admin-first-run).
SHOTS = {"admin": ("first-run-admin", False), "synced": ("admin-first-run", True),
         "result": ("first-run-result", False)}


def test_first_run_from_serve_to_a_search_result(page: Any, first_run: FirstRun) -> None:
    run = first_run
    folder = office_folder(run.root / "share")
    page.goto(f"{run.url}/?ui=en")  # nothing to search yet: the page says what to do, and where
    page.wait_for_selector("#welcome:not([hidden])")
    assert page.get_attribute("#welcome-admin", "href") == "/admin"
    assert "Create an index" in page.inner_text("#welcome")
    screenshot(page, "first-run-welcome", full_page=False)
    page.goto(f"{run.url}/?ui=ja")
    page.wait_for_selector("#welcome:not([hidden])")
    assert "インデックスを作成" in page.inner_text("#welcome")

    run.index_id, at = walk_first_run(page, run.url, run.link, folder,
                                      shot=lambda step: screenshot(page, *SHOTS[step]))
    print(f"\nfirst run: {at - run.started:.1f} s from `kensaku serve` to the first result in the browser")


def test_a_field_declared_on_the_admin_page_becomes_a_facet(page: Any, first_run: FirstRun) -> None:
    run = first_run
    assert run.index_id, "runs after the first-run test, on its index"
    admin(page, run)
    page.goto(f"{run.url}/admin?ui=en&index={run.index_id}")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#field-form-title")
    form = page.locator("#field-form")
    form.locator("[name=name]").fill("_dept")
    form.locator("button.save").click()
    assert "does not start with _" in form.locator(".form-error").inner_text()
    form.locator("[name=name]").fill("dept")
    form.locator("[name=type]").select_option("STRING_VALUE")
    form.locator("[name=Facetable]").check()
    form.locator("[name=Displayable]").check()
    form.locator("button.save").click()
    page.locator("#fields tr[data-field=dept]").wait_for()
    assert page.locator("#fields tr[data-field=dept] td").nth(2).inner_text() == "✓"
    client = make_client(run.url)
    declared = {f["Name"]: f for f in client.describe_index(Id=run.index_id)["DocumentMetadataConfigurations"]}
    assert declared["dept"]["Type"] == "STRING_VALUE" and declared["dept"]["Search"]["Facetable"] is True
    put_and_wait(client, run.index_id, [
        text_doc(f"dept-{n}", f"wombat budget note {n}", title=f"Wombat budget {n}", lang="en",
                 attributes=[{"Key": "dept", "Value": {"StringValue": name}}])
        for n, name in enumerate(["Finance", "Finance", "Research"])])
    page.goto(f"{run.url}/?ui=en&q=wombat")
    facet = page.locator("fieldset[data-facet=dept]")
    facet.wait_for()
    assert facet.locator("label", has_text="Finance").inner_text().replace("\n", " ").endswith("2")
    facet.locator("label", has_text="Research").locator("input").check()
    page.wait_for_function("new URLSearchParams(location.search).get('f.dept') === 'Research'")
    page.wait_for_function("document.querySelectorAll('#result-list .result').length === 1")


def test_the_data_source_form_refuses_bad_input_with_a_clear_message(page: Any, first_run: FirstRun) -> None:
    run = first_run
    admin(page, run)
    page.goto(f"{run.url}/admin?ui=en&index={run.index_id}")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#source-form-title")
    form = page.locator("#source-form")
    error = form.locator(".form-error")

    def refused(expected: str, invalid: str) -> None:
        form.locator("button.save").click()
        page.wait_for_function("document.querySelector('#source-form .form-error').textContent !== ''")
        assert expected in error.inner_text(), error.inner_text()
        assert form.locator(f"[name={invalid}]").get_attribute("aria-invalid") == "true"

    refused("Name is required.", "Name")
    form.locator("[name=Name]").fill("my share")
    refused("may hold only letters, digits", "Name")
    form.locator("[name=Name]").fill("bad-share")
    refused("Folder is required.", "path")
    form.locator("[name=path]").fill("share/docs")
    refused("Folder must be an absolute path", "path")
    form.locator("[name=path]").fill("/etc")  # refused by the server's outbound policy, which says why
    form.locator("button.save").click()
    page.wait_for_function("document.querySelector('#source-form .form-error').textContent.includes('KENSAKU')")
    assert "/etc is not below the allowed local roots" in error.inner_text()
    form.locator("[name=path]").fill(str(run.root / "missing"))
    form.locator("button.test").click()
    page.wait_for_selector("#source-form .test-result[data-status=FAILED]")
    assert "SourceMisconfigured" in form.locator(".test-result").inner_text()

    form.locator("[name=type]").select_option("WEBCRAWLER")
    refused("Give either Start URLs (one a line) or Sitemap URLs (one a line).", "seedUrls")
    form.locator("[name=seedUrls]").fill("https://example.com/\nftp://example.com/")
    refused("must be a URL starting with http:// or https://", "seedUrls")
    form.locator("[name=seedUrls]").fill("https://example.com/")
    form.locator("[name=crawlDepth]").fill("99")
    refused("Depth must be a whole number from 0 to 10.", "crawlDepth")

    def server_refused(expected: str) -> None:  # the page's checks pass; CreateDataSource says no, and why
        form.locator("button.save").click()
        page.wait_for_function("document.querySelector('#source-form .form-error').textContent.includes('KENSAKU')")
        assert expected in error.inner_text(), error.inner_text()

    # every other connector's form: what it needs, said in the words of its own fields
    form.locator("[name=type]").select_option("GITWIKI")
    refused("Repository is required.", "repositoryUrl")
    form.locator("[name=repositoryUrl]").fill("https://git.example.com/wiki.git")
    form.locator("[name=webUrl]").fill("git.example.com/wiki")
    refused("Web URL of the pages must be a URL starting with http:// or https://.", "webUrl")

    form.locator("[name=type]").select_option("S3")
    refused("Bucket is required.", "bucketName")
    form.locator("[name=bucketName]").fill("team-documents")
    form.locator("[name=endpointUrl]").fill("minio.internal:9000")
    refused("Endpoint URL must be a URL starting with http:// or https://.", "endpointUrl")
    form.locator("[name=endpointUrl]").fill("http://127.0.0.1:9000")  # the server's outbound policy
    server_refused("127.0.0.1 is a loopback address, not allowed by KENSAKU_CONNECTOR_ALLOWED_NETWORKS")

    form.locator("[name=type]").select_option("CONFLUENCE")
    refused("Site URL is required.", "baseUrl")
    form.locator("[name=baseUrl]").fill("example.atlassian.net/wiki")
    refused("Site URL must be a URL starting with http:// or https://.", "baseUrl")
    form.locator("[name=baseUrl]").fill("http://10.1.2.3/wiki")
    server_refused("10.1.2.3 is a private address, not allowed by KENSAKU_CONNECTOR_ALLOWED_NETWORKS")

    form.locator("[name=type]").select_option("MEDIAWIKI")
    refused("Give either API URL (api.php) or XML dump path.", "apiUrl")
    form.locator("[name=apiUrl]").fill("wiki.example.com/w/api.php")
    refused("API URL (api.php) must be a URL starting with http:// or https://.", "apiUrl")
    form.locator("[name=apiUrl]").fill("")
    form.locator("[name=namespaces]").fill("main")
    refused("Namespace numbers (one a line) must be a whole number from 0 to 9999.", "namespaces")
    form.locator("[name=namespaces]").fill("0")
    form.locator("[name=dumpPath]").fill("dumps/wiki.xml")
    refused("XML dump path must be an absolute path starting with /.", "dumpPath")
    form.locator("[name=dumpPath]").fill("/etc/wiki.xml")
    server_refused("/etc/wiki.xml is not below the allowed local roots")
    assert page.locator("#data-sources tr[data-data-source-id]").count() == 1  # nothing was created

    # editing the source made in the first test: the form holds its configuration; UpdateDataSource
    form.locator("button.cancel").click()
    source = page.locator("#data-sources tr[data-data-source-id]")
    source.locator("button.edit").click()
    page.wait_for_selector("#source-form:not([data-editing=''])")  # the page describes the source first
    assert form.locator("[name=type]").is_disabled()
    assert form.locator("[name=path]").input_value() == str(run.root / "share")
    form.locator("[name=exclusionPatterns]").fill("notes/**")
    form.locator("button.save").click()
    page.wait_for_function("document.querySelector('#status').textContent.includes('team-share')")
    described = make_client(run.url).describe_data_source(Id=source.get_attribute("data-data-source-id"),
                                                          IndexId=run.index_id)
    template = described["Configuration"]["TemplateConfiguration"]["Template"]
    assert template["additionalProperties"]["exclusionPatterns"] == ["notes/**"]
    assert template["connectionConfiguration"]["repositoryEndpointMetadata"]["path"] == str(run.root / "share")


def drop_files(page: Any, selector: str, files: dict[str, bytes]) -> None:
    """Drop files on an element as a user dragging them from the desktop would (a drop event whose
    DataTransfer holds File objects)."""
    encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
    page.evaluate("""([selector, files]) => {
        const transfer = new DataTransfer();
        for (const [name, b64] of Object.entries(files)) {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name));
        }
        const zone = document.querySelector(selector);
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [selector, encoded])


def test_files_dropped_on_the_admin_page_are_indexed_or_say_why_not(page: Any, first_run: FirstRun) -> None:
    run = first_run
    admin(page, run)
    page.goto(f"{run.url}/admin?ui=en&index={run.index_id}")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#upload-language", "ja")
    guide = OFFICE / "authored" / "人事" / "有給休暇の申請方法.docx"
    drop_files(page, "#drop-zone", {
        "休暇ガイド.docx": guide.read_bytes(),
        "zebrafish-notes.md": b"# Zebrafish\n\nThe zebrafish tank schedule.\n",
        "broken-report.pdf": b"%PDF-1.4 this is not really a PDF",
        "tool.exe": b"MZ",
    })
    items = page.locator("#upload-list li")
    for name, status in (("休暇ガイド.docx", "INDEXED"), ("zebrafish-notes.md", "INDEXED"),
                         ("broken-report.pdf", "FAILED"), ("tool.exe", "FAILED")):
        page.locator(f"#upload-list li[data-file='{name}'][data-status={status}]").wait_for(timeout=60_000)
    assert "cannot index this type" in items.filter(has_text="tool.exe").inner_text()
    broken = items.filter(has_text="broken-report.pdf").inner_text()
    assert "Failed:" in broken and len(broken) > len("broken-report.pdf Failed: ")
    client = make_client(run.url)
    statuses = client.batch_get_document_status(IndexId=run.index_id, DocumentInfoList=[
        {"DocumentId": "upload/休暇ガイド.docx"}, {"DocumentId": "upload/broken-report.pdf"}])["DocumentStatusList"]
    by_id = {s["DocumentId"]: s for s in statuses}
    assert by_id["upload/休暇ガイド.docx"]["DocumentStatus"] == "INDEXED"
    reason = by_id["upload/broken-report.pdf"]["FailureReason"]
    # the failed documents panel lists it with the server's reason
    failure = page.locator("#failures tr[data-document-id='upload/broken-report.pdf']")
    failure.wait_for()
    assert reason in failure.locator(".reason").inner_text()
    page.locator("#upload").scroll_into_view_if_needed()
    screenshot(page, "admin-upload", full_page=False)
    page.goto(f"{run.url}/?ui=en&q=zebrafish")
    page.wait_for_selector("#result-list .result[data-document-id='upload/zebrafish-notes.md']")


def test_thesauri_and_featured_results_are_listed_created_and_edited(page: Any, first_run: FirstRun) -> None:
    run = first_run
    synonyms = run.root / "synonyms.txt"
    synonyms.write_text("wombat, marsupial\nzebrafish => danio\n", encoding="utf-8")
    admin(page, run)
    page.goto(f"{run.url}/admin?ui=en&index={run.index_id}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#thesauri .body") == "None"
    page.click("#thesaurus-form-title")
    form = page.locator("#thesaurus-form")
    form.locator("[name=name]").fill("team synonyms")
    form.locator("button.save").click()
    assert "may hold only letters" in form.locator(".form-error").inner_text()
    form.locator("[name=name]").fill("team-synonyms")
    form.locator("[name=key]").fill(synonyms.as_uri())
    form.locator("button.save").click()
    row = page.locator("#thesauri tbody tr")
    row.wait_for()
    assert row.locator("td").first.inner_text() == "team-synonyms"
    client = make_client(run.url)
    [listed] = client.list_thesauri(IndexId=run.index_id)["ThesaurusSummaryItems"]
    assert listed["Name"] == "team-synonyms"
    for _ in range(50):  # CREATING -> ACTIVE; the list shows what the server says
        if client.describe_thesaurus(Id=listed["Id"], IndexId=run.index_id)["Status"] != "CREATING":
            break
        time.sleep(0.1)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    cells = page.locator("#thesauri tbody tr td").all_inner_texts()
    assert cells[1] == "ACTIVE" and cells[3] == "2", cells  # two rules

    # editing it: the form holds what DescribeThesaurus says; a new path is read again (UPDATING -> ACTIVE)
    more = run.root / "more-synonyms.txt"
    more.write_text("wombat, marsupial\nzebrafish => danio\nbudget, spending\n", encoding="utf-8")
    row.locator("button.edit").click()
    page.wait_for_selector("#thesaurus-form:not([data-editing=''])")  # the page describes it first
    assert form.locator("[name=name]").input_value() == "team-synonyms"
    assert form.locator("[name=key]").input_value() == synonyms.as_uri()
    form.locator("[name=name]").fill("team-synonyms-2")
    form.locator("[name=description]").fill("Synonyms of the team")
    form.locator("[name=key]").fill(more.as_uri())
    form.locator("button.save").click()
    page.locator("#thesauri tr[data-status=ACTIVE] td:nth-child(4)", has_text="3").wait_for()  # the panel follows
    assert page.locator("#thesauri tbody tr td").first.inner_text() == "team-synonyms-2"
    described = client.describe_thesaurus(Id=listed["Id"], IndexId=run.index_id)
    assert (described["Name"], described["Description"], described["SynonymRuleCount"]) == (
        "team-synonyms-2", "Synonyms of the team", 3)
    assert described["SourceS3Path"]["Key"] == more.as_uri()
    # a path that cannot be read keeps the rules in effect: ACTIVE_BUT_UPDATE_FAILED, with the reason
    row.locator("button.edit").click()
    page.wait_for_selector("#thesaurus-form:not([data-editing=''])")
    assert form.locator("[name=description]").input_value() == "Synonyms of the team"
    form.locator("[name=key]").fill((run.root / "missing-synonyms.txt").as_uri())
    form.locator("button.save").click()
    failed = page.locator("#thesauri tr[data-status=ACTIVE_BUT_UPDATE_FAILED]")
    failed.wait_for()
    described = client.describe_thesaurus(Id=listed["Id"], IndexId=run.index_id)
    assert described["Status"] == "ACTIVE_BUT_UPDATE_FAILED" and described["SynonymRuleCount"] == 3
    assert described["ErrorMessage"] in failed.locator(".error").inner_text()

    page.click("#featured-form-title")
    featured = page.locator("#featured-form")
    featured.locator("[name=name]").fill("Budget pins")
    featured.locator("[name=queries]").fill("budget")
    featured.locator("[name=documents]").fill("dept-2")
    featured.locator("button.save").click()
    pinned = page.locator("#featured tbody tr")
    pinned.wait_for()
    assert pinned.locator("td").nth(2).inner_text() == "budget"
    assert "Wombat budget 2" in pinned.locator("td").nth(3).inner_text()
    featured_id = pinned.get_attribute("data-featured-id")
    pinned = page.locator(f"#featured tr[data-featured-id='{featured_id}']")
    featured.locator("[name=name]").fill("Wombat pins")  # a second set, holding the query "wombat"
    featured.locator("[name=queries]").fill("wombat")
    featured.locator("[name=documents]").fill("dept-0")
    featured.locator("button.save").click()
    page.wait_for_function("document.querySelectorAll('#featured tbody tr').length === 2")

    # editing the first: the form holds what DescribeFeaturedResultsSet says; UpdateFeaturedResultsSet
    pinned.locator("button.edit").click()
    page.wait_for_selector("#featured-form:not([data-editing=''])")
    assert featured.locator("[name=name]").input_value() == "Budget pins"
    assert featured.locator("[name=queries]").input_value() == "budget"
    assert featured.locator("[name=documents]").input_value() == "dept-2"
    assert featured.locator("[name=active]").is_checked()
    featured.locator("[name=queries]").fill("budget\nwombat")  # "wombat" is the other set's
    featured.locator("button.save").click()
    page.wait_for_function("document.querySelector('#featured-form .form-error').textContent !== ''")
    assert "'wombat'" in featured.locator(".form-error").inner_text()
    featured.locator("[name=name]").fill("Budget pins 2")
    featured.locator("[name=description]").fill("Pinned for budget questions")
    featured.locator("[name=queries]").fill("budget\nbudget note")
    featured.locator("[name=documents]").fill("dept-2\ndept-1")
    featured.locator("[name=active]").uncheck()
    featured.locator("button.save").click()
    page.wait_for_selector(f"#featured tr[data-featured-id='{featured_id}'][data-status=INACTIVE]")
    assert pinned.locator("td").first.inner_text() == "Budget pins 2"
    assert pinned.locator("td").nth(1).inner_text() == "Inactive"
    assert page.get_attribute("#featured-form", "data-editing") == ""
    described_set = client.describe_featured_results_set(IndexId=run.index_id, FeaturedResultsSetId=featured_id)
    assert described_set["FeaturedResultsSetName"] == "Budget pins 2"
    assert described_set["Description"] == "Pinned for budget questions"
    assert described_set["Status"] == "INACTIVE"
    assert described_set["QueryTexts"] == ["budget", "budget note"]
    assert [d["Id"] for d in described_set["FeaturedDocumentsWithMetadata"]] == ["dept-2", "dept-1"]
    page.locator("#thesauri tbody tr button.delete").click()
    page.locator("#thesauri tbody tr button.delete.armed").click()  # a second click confirms
    page.wait_for_function("document.querySelector('#thesauri .body').textContent === 'None'")
    assert client.list_thesauri(IndexId=run.index_id)["ThesaurusSummaryItems"] == []

