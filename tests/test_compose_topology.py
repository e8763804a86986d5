"""The distributed topology of docker-compose.yml, run as local processes (tests/compose_topology.py) and
driven with boto3 through both API processes: index lifecycle, documents, a FILESYSTEM sync on the Celery
worker, Query / Retrieve, analytics in GetSnapshots; then the faults: kill -9 of an API process, of an
indexer in the middle of a batch and of the Celery worker during a sync, and Redis down. Nothing
acknowledged may be lost or doubled: every check counts documents in the engine itself.

The topology starts once for the module; the tests run in order and share one index.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import compose_topology
from tests.compose_topology import Topology
from tests.conftest import (
    ROLE,
    drop_opensearch_indexes,
    make_client,
    opensearch_url,
    text_doc,
    wait_active,
    wait_for,
    wait_indexed,
)
from tests.sync_helpers import create_source, metrics, sync, wait_job
from tests.test_analytics import LAST_TUESDAY, NEXT_TUESDAY

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or not (compose_topology.PG_BIN / "initdb").exists(),
    reason="needs Debian's redis-server and PostgreSQL 15 (apt-get install redis-server postgresql-15)")

PREFIX = f"kensaku-topo{os.getpid()}-"
LEASE_SECONDS = 3.0
VISIBILITY_SECONDS = 5.0
# Test tunings on top of the compose file's settings: quicker clocks, small batches (so that a kill lands
# in the middle of work), an index prefix of this module's own on the shared test cluster.
TUNINGS = {
    "KENSAKU_OPENSEARCH_INDEX_PREFIX": PREFIX,
    "KENSAKU_LOG_LEVEL": "info",
    "KENSAKU_INDEX_CREATING_SECONDS": "0.05",
    "KENSAKU_INDEX_DELETING_SECONDS": "0.3",
    "KENSAKU_COMMIT_INTERVAL_SECONDS": "0.05",
    "KENSAKU_SHARED_REFRESH_SECONDS": "0.3",
    "KENSAKU_INDEXER_LEASE_SECONDS": str(LEASE_SECONDS),
    "KENSAKU_INDEXER_BATCH_SIZE": "10",
    "KENSAKU_ANALYSIS_WORKERS": "0",  # 2 cores for 7 processes: analysis in each indexer's own thread
    "KENSAKU_SYNC_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
    "KENSAKU_SYNC_BATCH_SIZE": "5",
    "KENSAKU_SYNC_SUPERVISOR_INTERVAL_SECONDS": "0.2",
    # GetSnapshots never counts today: queries are recorded on a Tuesday of 2024 and read a week later.
    "KENSAKU_ANALYTICS_NOW": LAST_TUESDAY,
}


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    url = opensearch_url()
    work = tmp_path_factory.mktemp("topology")
    # file:// FAQ and thesaurus files are read from here (instead of S3).
    topology = Topology(work, url, {**TUNINGS, "KENSAKU_LOCAL_FILES_ROOT": str(work / "files")})
    try:
        topology.start()
        yield topology
    except BaseException:
        print(topology.logs())
        raise
    finally:
        topology.stop()
        drop_opensearch_indexes(url, PREFIX)


@pytest.fixture(scope="module")
def api1(topo: Topology) -> Any:
    return make_client(topo.processes["api-1"].url)


@pytest.fixture(scope="module")
def api2(topo: Topology) -> Any:
    return make_client(topo.processes["api-2"].url)


@pytest.fixture(scope="module")
def shared() -> dict[str, Any]:
    """What the tests of the module pass on (the index, the data source)."""
    return {}


def _put(client: Any, index: str, docs: list[dict[str, Any]]) -> None:
    for i in range(0, len(docs), 10):
        assert client.batch_put_document(IndexId=index, Documents=docs[i : i + 10])["FailedDocuments"] == []


def _all_indexed(client: Any, index: str, ids: list[str], timeout: float = 120) -> None:
    statuses = wait_indexed(client, index, ids, timeout)
    assert {s["DocumentStatus"] for s in statuses} == {"INDEXED"}, statuses


def _indexed_count(client: Any, index: str) -> int:
    stats = client.describe_index(Id=index)["IndexStatistics"]["TextDocumentStatistics"]
    return int(stats["IndexedTextDocumentsCount"])


def _engine(topo: Topology, index: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A search straight on the engine: the documents (kind "g") or passages ("v") indexes of ``index``."""
    found = httpx.post(f"{topo.opensearch_url}/{PREFIX}{index.lower()}-{kind}*/_search", json=body, timeout=30)
    found.raise_for_status()
    result: dict[str, Any] = found.json()
    return result


def _exactly_once(topo: Topology, index: str, ids: list[str]) -> None:
    """Each of ``ids`` is one document in the engine and has one title vector and one set of passages."""
    docs = _engine(topo, index, "g", {"size": 0, "track_total_hits": True,
                                      "query": {"terms": {"id": ids}},
                                      "aggs": {"twice": {"terms": {"field": "id", "min_doc_count": 2}}}})
    assert docs["hits"]["total"]["value"] == len(ids)
    assert docs["aggregations"]["twice"]["buckets"] == []
    titles = _engine(topo, index, "v", {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": [
        {"terms": {"doc_id": ids}}, {"term": {"kind": "title"}}]}}})
    assert titles["hits"]["total"]["value"] == len(ids)
    passages = _engine(topo, index, "v", {"size": 0, "query": {"bool": {"filter": [
        {"terms": {"doc_id": ids}}, {"term": {"kind": "passage"}}]}},
        "aggs": {"per_doc": {"terms": {"field": "doc_id", "size": len(ids)},
                             "aggs": {"numbers": {"cardinality": {"field": "number"}}}}}})
    buckets = passages["aggregations"]["per_doc"]["buckets"]
    assert len(buckets) == len(ids)
    assert all(b["doc_count"] == b["numbers"]["value"] for b in buckets)  # no passage number twice


def test_a_document_put_through_one_api_is_found_through_the_other(
        topo: Topology, api1: Any, api2: Any, shared: dict[str, Any]) -> None:
    index = api1.create_index(Name="topology", RoleArn=ROLE)["Id"]
    wait_active(api2, index)
    assert index in {i["Id"] for i in api2.list_indices()["IndexConfigurationSummaryItems"]}
    docs = [text_doc(f"okapi-{i}", f"Page {i} of the okapi handbook. Okapis live in the Ituri rainforest.",
                     title=f"Okapi handbook page {i}", lang="en") for i in range(20)]
    _put(api1, index, docs)
    _all_indexed(api2, index, [d["Id"] for d in docs])
    assert api2.query(IndexId=index, QueryText="okapi")["TotalNumberOfResults"] == 20
    retrieved = api2.retrieve(IndexId=index, QueryText="Where do okapis live?")["ResultItems"]
    assert retrieved and retrieved[0]["DocumentId"].startswith("okapi-")
    assert _indexed_count(api2, index) == 20

    # An update through api-2 is read through api-1, whose engine reader follows the indexers' commits.
    assert api1.query(IndexId=index, QueryText="tapir")["TotalNumberOfResults"] == 0
    assert "okapi-0" in [i["DocumentId"] for i in api1.query(IndexId=index, QueryText="okapi handbook page 0",
                                                               PageSize=20)["ResultItems"]]  # cached by api-1
    _put(api2, index, [text_doc("okapi-0", "This page is now about the tapir.", title="Tapir", lang="en")])
    wait_for(lambda: api1.query(IndexId=index, QueryText="tapir")["TotalNumberOfResults"] == 1, 30, "the update")
    (item,) = [i for i in api1.query(IndexId=index, QueryText="tapir")["ResultItems"] if i["DocumentId"] == "okapi-0"]
    assert "tapir" in item["DocumentExcerpt"]["Text"] and item["DocumentTitle"]["Text"] == "Tapir"
    assert api1.query(IndexId=index, QueryText="okapi")["TotalNumberOfResults"] == 19
    api1.batch_delete_document(IndexId=index, DocumentIdList=["okapi-19"])
    wait_for(lambda: api2.query(IndexId=index, QueryText="okapi")["TotalNumberOfResults"] == 18, 30, "the delete")
    _exactly_once(topo, index, [f"okapi-{i}" for i in range(19)])

    # Index lifecycle across the processes: created through one, deleted through the other.
    other = api2.create_index(Name="short-lived", RoleArn=ROLE)["Id"]
    wait_active(api1, other)
    _put(api1, other, [text_doc("x", "short-lived words")])
    _all_indexed(api2, other, ["x"])
    api1.delete_index(Id=other)
    wait_for(lambda: other not in {i["Id"] for i in api2.list_indices()["IndexConfigurationSummaryItems"]},
             30, "the deleted index gone")
    wait_for(lambda: httpx.get(f"{topo.opensearch_url}/_cat/indices/{PREFIX}{other.lower()}-*",
                               params={"format": "json"}, timeout=10).json() == [], 30, "its engine indexes gone")
    shared["index"] = index


def test_a_filesystem_sync_runs_on_the_celery_worker(
        topo: Topology, api1: Any, api2: Any, shared: dict[str, Any]) -> None:
    index = shared["index"]
    folder = topo.work / "shares" / "lemurs"  # the compose file's ./shares, mounted at /shares
    folder.mkdir(parents=True)
    for i in range(12):
        (folder / f"lemur{i:02}.txt").write_text(f"Page {i} of the lemur guide: lemurs live on Madagascar.\n")
    ds = create_source(api2, index, "lemurs", "FILESYSTEM", path=str(folder))
    job = sync(api1, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": 12, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 12}
    assert api2.query(IndexId=index, QueryText="madagascar")["TotalNumberOfResults"] == 12
    assert "kensaku.sync.batch" in topo.processes["worker"].log.read_text(errors="replace")
    shared["source"], shared["folder"] = ds, folder


def test_queries_through_both_apis_reach_get_snapshots(topo: Topology, api1: Any, api2: Any,
                                                       shared: dict[str, Any]) -> None:
    index = shared["index"]
    for client in (api1, api1, api1, api2, api2):
        assert client.query(IndexId=index, QueryText="ituri rainforest")["TotalNumberOfResults"] > 0
    topo.restart("api-2", {"KENSAKU_ANALYTICS_NOW": NEXT_TUESDAY})  # a week later (today never counts)
    try:
        def counted() -> bool:
            snap = api2.get_snapshots(IndexId=index, Interval="ONE_WEEK_AGO", MetricType="QUERIES_BY_COUNT")
            return ["ituri rainforest", "5"] in [row[:2] for row in snap["SnapshotsData"]]

        wait_for(counted, 30, "the five queries in GetSnapshots (written by the analytics consumer)")
    finally:
        topo.restart("api-2")


def _synonym_marked(client: Any, index: str, text: str) -> bool:
    """Whether a result of ``text`` highlights a THESAURUS_SYNONYM."""
    items = client.query(IndexId=index, QueryText=text)["ResultItems"]
    return any(h["Type"] == "THESAURUS_SYNONYM" for item in items
               for part in ("DocumentTitle", "DocumentExcerpt") for h in (item.get(part) or {}).get("Highlights", []))


def test_a_faq_and_a_thesaurus_made_through_one_api_act_through_the_other(
        topo: Topology, api1: Any, api2: Any, shared: dict[str, Any]) -> None:
    index = shared["index"]
    files = topo.work / "files"
    files.mkdir(exist_ok=True)
    question = "how long do okapis live"
    # api-2 answers first: it holds the index's FAQ entries (none) and thesaurus rules (none) from then on.
    assert not [i for i in api2.query(IndexId=index, QueryText=question)["ResultItems"]
                if i["Type"] == "QUESTION_ANSWER"]
    assert not _synonym_marked(api2, index, "qwzx")
    faq_file = files / "okapi.csv"
    faq_file.write_text('"How long do okapis live?","About 30 years in zoos."\n', encoding="utf-8")
    faq = api1.create_faq(IndexId=index, Name="okapi", S3Path={"Bucket": "local", "Key": faq_file.as_uri()},
                          RoleArn=ROLE, FileFormat="CSV")["Id"]
    wait_for(lambda: api2.describe_faq(IndexId=index, Id=faq)["Status"] == "ACTIVE", 60, "the FAQ loaded")
    wait_for(lambda: [i for i in api2.query(IndexId=index, QueryText=question)["ResultItems"]
                      if i["Type"] == "QUESTION_ANSWER"], 30, "the FAQ answering through api-2")
    thesaurus_file = files / "synonyms.txt"
    thesaurus_file.write_text("qwzx, okapi\n", encoding="utf-8")
    thesaurus = api1.create_thesaurus(IndexId=index, Name="words", RoleArn=ROLE,
                                      SourceS3Path={"Bucket": "local", "Key": thesaurus_file.as_uri()})["Id"]
    wait_for(lambda: api2.describe_thesaurus(IndexId=index, Id=thesaurus)["Status"] == "ACTIVE", 60,
             "the thesaurus read")
    wait_for(lambda: _synonym_marked(api2, index, "qwzx"), 30, "the synonym applied through api-2")
    api1.delete_faq(IndexId=index, Id=faq)
    api1.delete_thesaurus(IndexId=index, Id=thesaurus)


def test_kill_9_of_an_api_process_the_other_answers(topo: Topology, api1: Any, api2: Any,
                                                    shared: dict[str, Any]) -> None:
    index = shared["index"]
    acknowledged = [f"before-kill-{i}" for i in range(10)]
    _put(api1, index, [text_doc(d, f"{d}: acknowledged by api-1 just before it was killed.") for d in acknowledged])
    topo.processes["api-1"].kill()
    _all_indexed(api2, index, acknowledged)
    for _ in range(5):
        assert api2.query(IndexId=index, QueryText="okapi")["TotalNumberOfResults"] == 18
    _put(api2, index, [text_doc("after-kill", "Written while api-1 was down: a quokka.", lang="en")])
    _all_indexed(api2, index, ["after-kill"])
    topo.restart("api-1")
    assert api1.query(IndexId=index, QueryText="quokka")["TotalNumberOfResults"] == 1


def _lease_holder(topo: Topology, index: str) -> str:
    """The indexer service that took ``index`` last (it holds it: a lease is taken only when free)."""
    taken: list[tuple[str, str]] = []
    for name in ("indexer-1", "indexer-2"):
        for line in topo.processes[name].log.read_text(errors="replace").splitlines():
            if line.endswith(f"took index {index}"):
                taken.append((line[:23], name))  # the log line's time stamp
    assert taken, "no indexer took the index"
    return max(taken)[1]


def test_kill_9_of_an_indexer_mid_batch_loses_and_doubles_nothing(
        topo: Topology, api2: Any, shared: dict[str, Any]) -> None:
    index = shared["index"]
    before = _indexed_count(api2, index)
    ids = [f"pangolin-{i:03}" for i in range(120)]
    text = " ".join(f"Sentence {n} about pangolins and their scales." for n in range(60))
    _put(api2, index, [text_doc(d, f"{d}. {text}", title=f"Pangolin {d}", lang="en") for d in ids])
    wait_for(lambda: _indexed_count(api2, index) > before, 60, "the first batch indexed")
    holder = _lease_holder(topo, index)
    assert _indexed_count(api2, index) < before + len(ids), "indexing ended before the kill; make it longer"
    topo.processes[holder].kill()  # in the middle of its batches; the other indexer takes over the lease
    _all_indexed(api2, index, ids, timeout=180)
    assert _indexed_count(api2, index) == before + len(ids)
    assert api2.query(IndexId=index, QueryText="pangolins")["TotalNumberOfResults"] == len(ids)
    _exactly_once(topo, index, ids)
    survivor = "indexer-2" if holder == "indexer-1" else "indexer-1"
    assert _lease_holder(topo, index) == survivor
    topo.restart(holder)


def test_kill_9_of_the_celery_worker_during_a_sync_loses_and_doubles_nothing(
        topo: Topology, api1: Any, api2: Any, shared: dict[str, Any]) -> None:
    index = shared["index"]
    folder = topo.work / "shares" / "aardvarks"
    folder.mkdir(parents=True)
    for i in range(60):
        (folder / f"aardvark{i:02}.txt").write_text(f"Page {i} of the aardvark notes: aardvarks dig burrows.\n")
    ds = create_source(api1, index, "aardvarks", "FILESYSTEM", path=str(folder))
    before = _indexed_count(api2, index)
    ex = api1.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
    wait_for(lambda: _indexed_count(api2, index) > before, 60, "the sync's first documents")
    topo.processes["worker"].kill()  # the worker and its pool: the batches it held go back to Redis
    status = {j["ExecutionId"]: j["Status"] for j in api2.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]}
    assert status[ex] == "SYNCING", "the sync ended before the kill; give it more files"
    assert _indexed_count(api2, index) < before + 60
    time.sleep(1)
    topo.restart("worker")
    job = wait_job(api2, index, ds, ex, timeout=180)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": 60, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 60}
    wait_for(lambda: api2.query(IndexId=index, QueryText="aardvarks")["TotalNumberOfResults"] == 60, 60,
             "60 aardvark documents")
    found = _engine(topo, index, "g", {"size": 0, "track_total_hits": True,
                                       "query": {"wildcard": {"id": {"value": f"*{folder.name}*"}}},
                                       "aggs": {"twice": {"terms": {"field": "id", "min_doc_count": 2}}}})
    assert found["hits"]["total"]["value"] == 60
    assert found["aggregations"]["twice"]["buckets"] == []


def test_redis_down_syncs_wait_and_queries_go_on(topo: Topology, api1: Any, api2: Any,
                                                 shared: dict[str, Any]) -> None:
    index, ds, folder = shared["index"], shared["source"], shared["folder"]
    (folder / "lemur99.txt").write_text("A new page of the lemur guide about the aye-aye.\n")
    topo.stop_redis()
    try:
        started = time.monotonic()
        for client in (api1, api2):
            for _ in range(3):
                assert client.query(IndexId=index, QueryText="okapi")["TotalNumberOfResults"] == 18
        ex = api1.start_data_source_sync_job(Id=ds, IndexId=index)["ExecutionId"]
        _put(api2, index, [text_doc("no-redis", "Indexed while Redis was down: a numbat.", lang="en")])
        _all_indexed(api1, index, ["no-redis"])
        assert time.monotonic() - started < 60  # nothing waited on Redis (a generous bound)
        time.sleep(2)
        jobs = api2.list_data_source_sync_jobs(Id=ds, IndexId=index)["History"]
        assert {j["ExecutionId"]: j["Status"] for j in jobs}[ex] == "SYNCING"  # waiting for the broker
    finally:
        topo.start_redis()  # the same port; its append-only file kept what was queued before
    # The beat's supervisor queues the waiting job again after 2 x the visibility timeout without progress.
    job = wait_job(api2, index, ds, ex, timeout=120)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job)["Added"] == 1
    assert f"sync job {ex} waits for the broker" in topo.processes["api-1"].log.read_text(errors="replace")
    assert f"sync job {ex} made no progress" in topo.processes["beat"].log.read_text(errors="replace")
    assert api1.query(IndexId=index, QueryText="aye-aye")["TotalNumberOfResults"] >= 1


@pytest.mark.skipif(compose_topology.DATABASE != "postgresql",
                    reason="the kensaku services share a SQLite store (compose_topology.DATABASE)")
def test_postgresql_restarted_the_services_reconnect(topo: Topology, api1: Any, api2: Any,
                                                     shared: dict[str, Any]) -> None:
    index = shared["index"]
    topo.restart_postgres()
    doc = f"after-pg-{uuid.uuid4().hex[:6]}"
    wait_for(lambda: _try_put(api1, index, doc), 60, "a put accepted after the restart")
    _all_indexed(api2, index, [doc])
    assert api2.query(IndexId=index, QueryText="wombat")["TotalNumberOfResults"] >= 1


def _try_put(client: Any, index: str, doc: str) -> bool:
    try:
        _put(client, index, [text_doc(doc, "Written after PostgreSQL restarted: a wombat.", lang="en")])
        return True
    except Exception:  # the API's pool may fail a request or two while PostgreSQL comes back
        return False


def test_the_compose_file_is_what_was_run(topo: Topology) -> None:
    """Every service of docker-compose.yml ran here, and nothing else did."""
    kensaku = {name for name, kind in topo.kinds.items() if kind == "kensaku"}
    assert kensaku == set(topo.processes) == {"api-1", "api-2", "indexer-1", "indexer-2", "worker", "beat",
                                              "analytics-consumer"}
    assert all(p.running for p in topo.processes.values()), topo.logs()
    assert re.fullmatch(r"kensaku serve.*", " ".join(compose_topology._command(topo.services["api-1"])))
    assert Path(topo.processes["api-1"].env["KENSAKU_DATA_DIR"]).is_dir()
