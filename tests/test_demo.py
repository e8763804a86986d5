"""``kensaku demo`` against a real server: the bundled sample lands in an index through the Kendra API,
Japanese and English documents are found with boto3, a second run adds nothing, and the example queries
fill the query log that suggestions are made from."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import JA, REPO, Server, ids_of, make_client, wait_for

EN = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "en"}}}


@pytest.fixture(scope="module")
def demo_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="kensaku-demo-") as tmp:
        # the product's defaults (embedder and all), but suggestions rebuilt on every call
        server = Server(Path(tmp), {"KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0"}).start()
        try:
            yield server
        finally:
            server.stop()


def demo(server: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "demo", "--endpoint", server.url], cwd=REPO,
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

    done = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--endpoint",
                           f"http://127.0.0.1:{free_port()}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "kensaku demo: Could not connect to the endpoint URL" in done.stderr
