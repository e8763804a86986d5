"""``kensaku move-index`` (issue 15, item 5): an index moved from the embedded engine to OpenSearch and back
answers every query as before (the same documents in the same order, the same ScoreConfidence, the same
facets), hybrid questions included (the vectors are copied, not embedded again), and takes new documents.
The move refuses while a server holds the data folder, and when it looks the wrong way round."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import (
    JA,
    REPO,
    ROLE,
    Server,
    drop_opensearch_indexes,
    ids_of,
    make_client,
    opensearch_url,
    put_and_wait,
    text_doc,
    wait_active,
)

ACL_ENG = [{"Name": "eng", "Type": "GROUP", "Access": "ALLOW"}]


def _attrs(dept: str, year: int) -> list[dict[str, Any]]:
    return [{"Key": "dept", "Value": {"StringValue": dept}},
            {"Key": "_created_at", "Value": {"DateValue": datetime(year, 4, 1, tzinfo=UTC)}}]


DOCS = [
    text_doc("tokyo", "東京都は日本の首都であり、人口は約1400万人です。多くの企業の本社があります。", title="東京都",
             lang="ja", attributes=_attrs("GEO", 2021)),
    text_doc("kyoto", "京都府の府庁所在地は京都市です。寺院と神社が多く、観光客に人気があります。", lang="ja",
             attributes=_attrs("GEO", 2022)),
    text_doc("osaka", "大阪府は日本の西部にあり、京都府と隣接しています。食べ物がおいしく、観光客にも人気があります。",
             title="大阪府", lang="ja", attributes=_attrs("GEO", 2020)),
    text_doc("keihi", "経費精算の手順: 領収書を添付し、申請書を上長に提出してください。承認後に振り込まれます。",
             title="経費精算", lang="ja", attributes=_attrs("HR", 2023)),
    text_doc("shucchou", "出張の経費は出張後二週間以内に精算してください。交通費と宿泊費の領収書が必要です。",
             title="出張旅費", lang="ja", attributes=_attrs("HR", 2024)),
    text_doc("tokyo-en", "Tokyo is the capital of Japan and its largest city.", title="Tokyo",
             attributes=_attrs("GEO", 2020)),
    text_doc("osaka-en", "Osaka is a large city in western Japan, known for its food and its castle.",
             attributes=_attrs("GEO", 2021)),
    text_doc("expense", "How to file an expense report: fill in the form, attach the receipts, and send it to your"
             " manager for approval. Payment follows within two weeks.", title="Expense reports",
             attributes=_attrs("HR", 2023)),
    text_doc("travel", "Travel expenses must be claimed within two weeks of the trip. Keep the hotel and train"
             " receipts.", title="Travel policy", attributes=_attrs("HR", 2022)),
    text_doc("vacation", "Employees get twenty days of paid vacation per year. Request leave in the HR portal at"
             " least two weeks ahead.", title="Vacation policy", attributes=_attrs("HR", 2024)),
    text_doc("laptop", "Engineers may order a new laptop every three years through the IT service desk.",
             title="Hardware", attributes=_attrs("IT", 2022)),
    text_doc("launch", "The launch plan for the new product is confidential until the announcement in May.",
             title="Launch plan", attributes=_attrs("ENG", 2024), AccessControlList=ACL_ENG),
    text_doc("roadmap", "The product roadmap and the launch dates are reviewed every quarter.", title="Roadmap",
             attributes=_attrs("ENG", 2023), AccessControlList=[
                 *ACL_ENG, {"Name": "sam", "Type": "USER", "Access": "DENY"}]),
    text_doc("office", "The office move plan: the new office in Osaka opens in May, after the launch party.",
             title="Office move", attributes=_attrs("GA", 2024)),
]
FACETS = [{"DocumentAttributeKey": "dept"}]
HR = {"EqualsTo": {"Key": "dept", "Value": {"StringValue": "HR"}}}
QUERIES: list[dict[str, Any]] = [
    {"QueryText": "Japan"},
    {"QueryText": "京都", "AttributeFilter": JA},
    {"QueryText": "観光客", "AttributeFilter": JA, "Facets": FACETS},
    {"QueryText": "経費精算の方法は？", "AttributeFilter": JA},  # questions: hybrid, with the vectors
    {"QueryText": "how do I get reimbursed for my travel costs?"},
    {"QueryText": "two weeks"},
    {"QueryText": "policy", "Facets": FACETS},
    {"QueryText": "expense", "AttributeFilter": HR},
    {"QueryText": "launch plan", "UserContext": {"UserId": "kim", "Groups": ["eng"]}},
    {"QueryText": "launch plan", "UserContext": {"UserId": "lee", "Groups": ["sales"]}},
    {"QueryText": "launch plan", "UserContext": {"UserId": "sam", "Groups": ["eng"]}},
]


def _answers(kendra: Any, index_id: str) -> list[dict[str, Any]]:
    """What each query answers: the items (type, document, ScoreConfidence) in order, the total, the facets."""
    out = []
    for query in QUERIES:
        r = kendra.query(IndexId=index_id, **query)
        out.append({
            "items": [(i["Type"], i["DocumentId"], i["ScoreAttributes"]["ScoreConfidence"]) for i in r["ResultItems"]],
            "total": r["TotalNumberOfResults"],
            "facets": [(f["DocumentAttributeKey"], [(c["DocumentAttributeValue"]["StringValue"], c["Count"])
                                                    for c in f["DocumentAttributeValueCountPairs"]])
                       for f in r.get("FacetResults", [])],
        })
    return out


def _counts(kendra: Any, index_id: str) -> tuple[str, dict[str, Any]]:
    described = kendra.describe_index(Id=index_id)
    return described["Status"], described["IndexStatistics"]["TextDocumentStatistics"]


def _move(data_dir: Path, to: str, env: dict[str, str],
          index_ids: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    named = ["--index-id", *index_ids] if index_ids else []
    return subprocess.run([sys.executable, "-m", "kensaku.cli", "move-index", "--to", to, "--data-dir", str(data_dir),
                           *named], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def _moved(data_dir: Path, to: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = _move(data_dir, to, env)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert " ok" in done.stdout and f"KENSAKU_ENGINE={to} kensaku serve" in done.stdout, done.stdout
    assert "skipping index doomed" in done.stdout or to == "embedded", done.stdout  # gone once a server started
    print(f"move --to {to}: {seconds:.1f} s\n{done.stdout}")
    return seconds


def _serve(data_dir: Path, env: dict[str, str]) -> Server:
    return Server(data_dir, {"KENSAKU_ANALYSIS_WORKERS": "0", **env}).start()


def test_an_index_moves_to_opensearch_and_back_and_answers_as_before(tmp_path: Path) -> None:
    url = opensearch_url()
    prefix = f"kensaku-move-test-{uuid.uuid4().hex[:8]}-"
    cluster = {"KENSAKU_OPENSEARCH_URL": url, "KENSAKU_OPENSEARCH_INDEX_PREFIX": prefix}
    data = tmp_path / "data"
    server = _serve(data, {"KENSAKU_INDEX_DELETING_SECONDS": "600"})  # "doomed" stays DELETING
    try:
        kendra = make_client(server.url)
        index_id = kendra.create_index(Name="moving", RoleArn=ROLE)["Id"]
        wait_active(kendra, index_id)
        doomed = kendra.create_index(Name="doomed", RoleArn=ROLE)["Id"]
        wait_active(kendra, doomed)
        kendra.delete_index(Id=doomed)
        kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
            {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Facetable": True, "Displayable": True}}])
        wait_active(kendra, index_id)
        put_and_wait(kendra, index_id, DOCS)
        before = _answers(kendra, index_id)
        counts = _counts(kendra, index_id)
        seen = [{d for _, d, _ in answer["items"]} for answer in before]
        assert {"launch", "roadmap", "office"} <= seen[8] and seen[9] == {"office"} and "roadmap" not in seen[10]
        assert sum(len(items) > 1 for items in seen) >= 6  # orders to compare, not single documents

        refused = _move(data, "opensearch", cluster)  # the server holds the data folder
        assert refused.returncode == 2 and "Stop the server" in refused.stderr, refused.stderr
    finally:
        server.stop()

    try:
        backwards = _move(data, "embedded", cluster)  # OpenSearch holds nothing of the index yet
        assert backwards.returncode == 2 and "is the direction right" in backwards.stderr, backwards.stderr
        for named, reason in ((["nope"], "No index nope"), ([doomed], f"{doomed} is DELETING")):
            refused = _move(data, "opensearch", cluster, named)
            assert refused.returncode == 2 and reason in refused.stderr, refused.stderr
        assert httpx.get(f"{url}/_cat/indices/{prefix}*", params={"format": "json"}).json() == []

        _moved(data, "opensearch", cluster)
        names = {row["index"] for row in httpx.get(f"{url}/_cat/indices/{prefix}*", params={"format": "json"}).json()}
        assert names == {f"{prefix}{index_id}-g1", f"{prefix}{index_id}-v-use-m3"}, names
        copied = httpx.get(f"{url}/{prefix}{index_id}-v-use-m3/_count").json()["count"]
        assert copied == 14 + 12  # a passage per (short) document, a title vector per titled one: nothing to embed
        _moved(data, "opensearch", cluster)  # again: starts clean, same result

        server = _serve(data, {"KENSAKU_ENGINE": "opensearch", **cluster})
        try:
            kendra = make_client(server.url)
            assert _answers(kendra, index_id) == before
            assert _counts(kendra, index_id) == counts
            put_and_wait(kendra, index_id, [text_doc("parking", "Parking permits for the office garage are issued"
                                                     " by the facilities team.", title="Parking")])
            assert ids_of(kendra.query(IndexId=index_id, QueryText="parking permits")) == ["parking"]
            on_opensearch = _answers(kendra, index_id)
            counts = _counts(kendra, index_id)
        finally:
            server.stop()

        _moved(data, "embedded", cluster)  # into the same folder: its stale engine data is replaced
        server = _serve(data, {})
        try:
            kendra = make_client(server.url)
            assert _answers(kendra, index_id) == on_opensearch
            assert _counts(kendra, index_id) == counts
            assert ids_of(kendra.query(IndexId=index_id, QueryText="parking permits")) == ["parking"]
        finally:
            server.stop()
    finally:
        drop_opensearch_indexes(url, prefix)
