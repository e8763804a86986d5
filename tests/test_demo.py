"""``kensaku demo`` against a real server: the bundled sample lands in an index through the Kendra API,
Japanese and English documents are found with boto3, a second run adds nothing, and the example queries
fill the query log that suggestions are made from. The admin page's button does the same in the server
(KensakuLoadDemo), with its progress shown, in a real browser."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import JA, REPO, Server, ids_of, make_client, wait_for
from tests.test_wire import TARGET, raw_post

ADMIN_TOKEN = "demo-admin-token"

EN = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "en"}}}


def fresh_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="kensaku-demo-") as tmp:
        # the product's defaults (embedder and all), but suggestions rebuilt on every call
        server = Server(Path(tmp), {"KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0",
                                    "KENSAKU_ADMIN_TOKEN": ADMIN_TOKEN}).start()
        try:
            yield server
        finally:
            server.stop()


demo_server = pytest.fixture(scope="module")(fresh_server)  # for the command
button_server = pytest.fixture(scope="module")(fresh_server)  # for the admin page's button


def demo(server: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kensaku.cli", "demo", "--endpoint", server.url], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


def test_the_demo_loads_the_sample_once_and_both_languages_are_found(demo_server: Server) -> None:
    first = demo(demo_server)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "Created the index kensaku-demo" in out
    assert "Sent 100/380 documents." in out and "Sent 380/380 documents." in out  # progress
    assert "Indexed 380/380 documents." in out
    assert "380 of 380 sample documents in the index kensaku-demo" in out
    client = make_client(demo_server.url)
    [index] = [i for i in client.list_indices()["IndexConfigurationSummaryItems"] if i["Name"] == "kensaku-demo"]
    stats = client.describe_index(Id=index["Id"])["IndexStatistics"]["TextDocumentStatistics"]
    assert stats["IndexedTextDocumentsCount"] == 380

    ja = client.query(IndexId=index["Id"], QueryText="算出プロパティ", AttributeFilter=JA)
    assert ids_of(ja)[0].startswith("demo/vue/ja/guide/essentials/computed.md#"), ids_of(ja)[:3]
    wiki = client.query(IndexId=index["Id"], QueryText="梅雨", AttributeFilter=JA)
    assert ids_of(wiki)[0].startswith("demo/wikipedia/ja/"), ids_of(wiki)[:3]
    office = client.query(IndexId=index["Id"], QueryText="MFA疲労攻撃", AttributeFilter=JA)
    assert ids_of(office)[0] == "demo/files/情報システム/情報セキュリティ研修.pptx"
    en = client.query(IndexId=index["Id"], QueryText="Nikola Tesla alternating current", AttributeFilter=EN,
                      RequestedDocumentAttributes=["_source_uri", "_category"])
    top = en["ResultItems"][0]
    assert top["DocumentId"].startswith("demo/wikipedia/en/Nikola_Tesla_p"), ids_of(en)[:3]
    attributes = {a["Key"]: a["Value"]["StringValue"] for a in top["DocumentAttributes"]}
    assert attributes == {"_source_uri": "https://en.wikipedia.org/wiki/Nikola_Tesla", "_category": "Wikipedia"}

    # the example queries are in the query log: typed prefixes get suggestions at once
    def suggested() -> list[str] | None:
        found = client.get_query_suggestions(IndexId=index["Id"], QueryText="算出")["Suggestions"]
        texts = [s["Value"]["Text"]["Text"] for s in found]
        return texts or None

    assert "算出プロパティ" in wait_for(suggested, 30, "suggestions")

    second = demo(demo_server)  # idempotent: nothing sent, nothing doubled, no query counted twice
    assert second.returncode == 0, second.stderr
    assert "380 of 380 sample documents are already indexed; nothing to send." in second.stdout
    assert "Sent " not in second.stdout
    assert [i["Name"] for i in client.list_indices()["IndexConfigurationSummaryItems"]].count("kensaku-demo") == 1
    stats = client.describe_index(Id=index["Id"])["IndexStatistics"]["TextDocumentStatistics"]
    assert stats["IndexedTextDocumentsCount"] == 380


def test_the_demo_says_why_when_the_server_cannot_be_reached() -> None:
    from tests.conftest import free_port

    done = subprocess.run([sys.executable, "-m", "kensaku.cli", "demo", "--endpoint",
                           f"http://127.0.0.1:{free_port()}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "kensaku demo: Could not connect to the endpoint URL" in done.stderr


def load_demo_call(server: Server, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = raw_post(server.url, TARGET + "KensakuLoadDemo", json.dumps(body))
    return r.status_code, r.json()


def test_the_admin_page_button_loads_the_sample_with_progress(page: Any, button_server: Server) -> None:
    server = button_server
    assert load_demo_call(server, {"StatusOnly": True}) == (200, {
        "Status": "NONE", "IndexName": "kensaku-demo", "Total": 0, "AlreadyIndexed": 0, "Sent": 0, "Indexed": 0,
        "Failed": 0})
    status, refused = load_demo_call(server, {"Index": "x"})
    assert status == 400 and refused["message"] == "Unknown member(s): Index", refused
    page.goto(f"{server.url}/?ui=en")  # the empty search page points to the sample too
    page.wait_for_selector("#welcome:not([hidden])")
    assert "kensaku demo" in page.inner_text("#welcome-demo")

    page.goto(f"{server.url}/login?token={ADMIN_TOKEN}")
    page.wait_for_url(f"{server.url}/admin**")
    page.goto(f"{server.url}/admin?ui=en")
    page.wait_for_selector("body[data-ready=true]")
    assert "kensaku-demo" in page.inner_text("#demo-help")
    page.click("#load-demo")
    page.wait_for_selector("#demo-progress:not([hidden])")  # progress while it loads
    assert page.locator("#load-demo").is_disabled()
    assert "Loading the sample" in page.inner_text("#demo-status")
    page.wait_for_selector("#demo[data-status=SUCCEEDED]", timeout=180_000)
    assert page.inner_text("#demo-status").startswith("380 sample documents are in the index kensaku-demo.")
    client = make_client(server.url)
    [index] = client.list_indices()["IndexConfigurationSummaryItems"]
    page.locator(f"#indexes tr[data-index-id='{index['Id']}'] td:nth-child(4)", has_text="380").wait_for()
    screenshot(page, "admin-demo", full_page=False)

    page.click("#demo-search")  # to the search page, with a query that finds the sample
    page.wait_for_selector("#result-list .result")
    first = page.locator("#result-list .result").first
    assert str(first.get_attribute("data-document-id")).startswith("demo/vue/en/guide/essentials/computed.md#")
    screenshot(page, "search-demo", full_page=False)

    # again: nothing doubled, and the index keeps its 380 documents
    status, again = load_demo_call(server, {})
    assert status == 200 and again["Status"] == "LOADING"
    done = wait_for(lambda: (r := load_demo_call(server, {"StatusOnly": True})[1])["Status"] != "LOADING" and r,
                    60, "the second load")
    assert done["Status"] == "SUCCEEDED" and (done["AlreadyIndexed"], done["Sent"]) == (380, 0), done
    assert [i["Name"] for i in client.list_indices()["IndexConfigurationSummaryItems"]] == ["kensaku-demo"]
    stats = client.describe_index(Id=index["Id"])["IndexStatistics"]["TextDocumentStatistics"]
    assert stats["IndexedTextDocumentsCount"] == 380
