"""Documents through boto3: ingest, statuses, real file formats, deletes, durability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    JA,
    ROLE,
    SHARED,
    Server,
    ids_of,
    make_client,
    put_and_wait,
    text_doc,
    wait_active,
    wait_for,
    wait_indexed,
)

pytestmark = pytest.mark.engines

OFFICE = SHARED / "data/corpora/office"


@pytest.mark.databases  # with PostgreSQL too (and OpenSearch)
def test_put_three_documents_then_statistics_and_updated(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    docs = [text_doc(f"doc{i}", f"document number {i} about kendra", title=f"Doc {i}") for i in range(3)]
    put_and_wait(kendra, index_id, docs)
    stats = kendra.describe_index(Id=index_id)["IndexStatistics"]["TextDocumentStatistics"]
    assert stats["IndexedTextDocumentsCount"] == 3
    assert stats["IndexedTextBytes"] > 0
    assert kendra.batch_put_document(IndexId=index_id, Documents=[docs[0]])["FailedDocuments"] == []
    assert wait_indexed(kendra, index_id, ["doc0"])[0]["DocumentStatus"] == "UPDATED"
    status = kendra.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "nope"}])
    assert status["DocumentStatusList"][0]["DocumentStatus"] == "NOT_FOUND"


@pytest.mark.databases  # with PostgreSQL too (and OpenSearch)
def test_status_is_processing_until_indexed(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    docs = [text_doc(f"p{i}", "processing " * 50) for i in range(10)]
    kendra.batch_put_document(IndexId=index_id, Documents=docs)
    first = kendra.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "p9"}])
    assert first["DocumentStatusList"][0]["DocumentStatus"] in ("PROCESSING", "INDEXED")
    wait_indexed(kendra, index_id, [d["Id"] for d in docs])


@pytest.mark.databases  # with PostgreSQL too (and OpenSearch)
def test_deleted_document_stops_matching(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc("a", "zebra crossing"), text_doc("b", "zebra stripes")])
    assert sorted(ids_of(kendra.query(IndexId=index_id, QueryText="zebra"))) == ["a", "b"]
    assert kendra.batch_delete_document(IndexId=index_id, DocumentIdList=["a"])["FailedDocuments"] == []

    def gone() -> bool:
        s = kendra.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "a"}])
        return s["DocumentStatusList"][0]["DocumentStatus"] == "NOT_FOUND"

    from tests.conftest import wait_for

    wait_for(gone, what="deletion")
    assert ids_of(kendra.query(IndexId=index_id, QueryText="zebra")) == ["b"]


@pytest.mark.databases  # with PostgreSQL too (and OpenSearch)
def test_per_document_failures_carry_kendra_error_codes(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    docs = [
        text_doc("undeclared", "x", attributes=[{"Key": "dept", "Value": {"StringValue": "HR"}}]),
        text_doc("wrongtype", "x", attributes=[{"Key": "_view_count", "Value": {"StringValue": "many"}}]),
        {"Id": "s3", "S3Path": {"Bucket": "bucket", "Key": "k"}},
        {"Id": "nothing"},
        text_doc("fine", "a good document"),
    ]
    r = kendra.batch_put_document(IndexId=index_id, Documents=docs)
    failed = {f["Id"]: f for f in r["FailedDocuments"]}
    assert set(failed) == {"undeclared", "wrongtype", "s3", "nothing"}
    assert {f["ErrorCode"] for f in failed.values()} == {"InvalidRequest"}
    assert "UpdateIndex" in failed["undeclared"]["ErrorMessage"]
    assert wait_indexed(kendra, index_id, ["fine"])[0]["DocumentStatus"] == "INDEXED"


@pytest.mark.databases  # with PostgreSQL too (and OpenSearch)
def test_unreadable_file_is_failed_with_a_reason(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    kendra.batch_put_document(IndexId=index_id, Documents=[{"Id": "bad", "Blob": b"%PDF-1.4 garbage",
                                                            "ContentType": "PDF"}])
    status = wait_indexed(kendra, index_id, ["bad"])[0]
    assert status["DocumentStatus"] == "FAILED"
    assert status["FailureCode"] == "InvalidRequest" and status["FailureReason"]


def _manifest() -> list[dict[str, Any]]:
    lines = (OFFICE / "MANIFEST.jsonl").read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e.get("must_contain")]


@pytest.mark.parametrize("entry", _manifest(), ids=lambda e: e["path"])
def test_real_files_are_searchable_by_their_content(kendra: Any, new_index: Any, entry: dict[str, Any]) -> None:
    index_id = new_index()
    blob = (OFFICE / entry["path"]).read_bytes()
    lang = entry.get("lang", "en")
    doc = {"Id": "file", "Blob": blob, "ContentType": entry["content_type"],
           "Attributes": [{"Key": "_language_code", "Value": {"StringValue": lang}}]}
    put_and_wait(kendra, index_id, [doc])
    phrase = entry["must_contain"][0]
    lang_filter = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": lang}}}
    r = kendra.query(IndexId=index_id, QueryText=phrase, AttributeFilter=lang_filter)
    assert ids_of(r) == ["file"], phrase


def _analysis_workers(srv: Server) -> list[str]:
    """Process ids of the server's analysis workers (its multiprocessing children)."""
    assert srv.proc is not None
    children = [pid for task in Path(f"/proc/{srv.proc.pid}/task").iterdir()
                for pid in (task / "children").read_text().split()]
    return [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_indexed_documents_survive_kill_9(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()
    client = make_client(srv.url)
    index_id = client.create_index(Name="durable", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    docs = [text_doc(f"k{i}", f"東京都の文書 その{i}", lang="ja") for i in range(25)]
    put_and_wait(client, index_id, docs)
    workers = _analysis_workers(srv)
    assert workers, "expected analysis worker processes"
    srv.kill()
    # The workers end with the server instead of lingering as orphans.
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10, "workers gone")
    srv2 = Server(tmp_path)
    srv2.port, srv2.url = srv.port, srv.url
    srv2.start()
    try:
        client = make_client(srv2.url)
        statuses = wait_indexed(client, index_id, [d["Id"] for d in docs])
        assert {s["DocumentStatus"] for s in statuses} == {"INDEXED"}
        r = client.query(IndexId=index_id, QueryText="東京都", AttributeFilter=JA, PageSize=100)
        assert r["TotalNumberOfResults"] == 25
    finally:
        srv2.stop()


def test_documents_queued_before_a_crash_are_indexed_after_restart(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_COMMIT_INTERVAL_SECONDS": "5"}).start()
    client = make_client(srv.url)
    index_id = client.create_index(Name="queued", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    docs = [text_doc(f"q{i}", f"queued document {i}") for i in range(10)]
    assert client.batch_put_document(IndexId=index_id, Documents=docs)["FailedDocuments"] == []
    srv.kill()
    srv2 = Server(tmp_path)
    srv2.start()
    try:
        client = make_client(srv2.url)
        statuses = wait_indexed(client, index_id, [d["Id"] for d in docs])
        assert {s["DocumentStatus"] for s in statuses} == {"INDEXED"}
        assert client.query(IndexId=index_id, QueryText="queued", PageSize=100)["TotalNumberOfResults"] == 10
    finally:
        srv2.stop()


def test_index_built_by_another_analyzer_version_is_rebuilt_on_start(tmp_path: Path) -> None:
    import sqlite3

    srv = Server(tmp_path).start()
    client = make_client(srv.url)
    index_id = client.create_index(Name="analyzer", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    put_and_wait(client, index_id, [text_doc("ja1", "有給休暇の申請方法", lang="ja")])
    srv.stop()
    with sqlite3.connect(tmp_path / "kensaku.sqlite3") as conn:
        conn.execute("UPDATE indexes SET analyzer = 'an-older-analyzer' WHERE id = ?", (index_id,))
    srv2 = Server(tmp_path).start()
    try:
        client = make_client(srv2.url)
        wait_active(client, index_id)
        assert ids_of(client.query(IndexId=index_id, QueryText="休暇", AttributeFilter=JA)) == ["ja1"]
        with sqlite3.connect(tmp_path / "kensaku.sqlite3") as conn:
            (version,) = conn.execute("SELECT analyzer FROM indexes WHERE id = ?", (index_id,)).fetchone()
        assert version != "an-older-analyzer"
    finally:
        srv2.stop()


def test_pending_batches_respect_the_byte_budget(tmp_path: Path) -> None:
    from services.index.store import Store

    store = Store(tmp_path / "k.sqlite3")
    store.enqueue([("i", f"d{n}", "put", {}, b"x" * 100) for n in range(10)] + [("i", "del", "delete", None, None)])
    assert [c.doc_id for c in store.next_pending(100, 250)] == ["d0", "d1", "d2"]
    assert [c.doc_id for c in store.next_pending(100, 1)] == ["d0"]
    assert len(store.next_pending(5, 10**9)) == 5
    assert len(store.next_pending(100, 10**9)) == 11


def test_indexing_goes_on_after_an_analysis_worker_is_killed(tmp_path: Path) -> None:
    import os
    import signal

    srv = Server(tmp_path).start()
    try:
        client = make_client(srv.url)
        index_id = client.create_index(Name="workers", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        put_and_wait(client, index_id, [text_doc(f"w{i}", f"before the crash {i}") for i in range(20)])
        workers = _analysis_workers(srv)
        assert workers, "expected analysis worker processes"
        for pid in workers:
            os.kill(int(pid), signal.SIGKILL)
        put_and_wait(client, index_id, [text_doc(f"x{i}", f"after the crash {i}") for i in range(20)])
        assert client.query(IndexId=index_id, QueryText="crash", PageSize=100)["TotalNumberOfResults"] == 40
    finally:
        srv.stop()


def test_a_document_that_stalls_its_worker_fails_alone(tmp_path: Path) -> None:
    """With KENSAKU_ANALYSIS_TIMEOUT_SECONDS=8, a 1.8 MB text (half a minute or more of analysis and embedding on
    two cores) stops the workers: the batch is applied again one document at a time, that document
    FAILS with the reason, the documents put with it are indexed, and the queue goes on."""
    srv = Server(tmp_path, {"KENSAKU_ANALYSIS_TIMEOUT_SECONDS": "8"}).start()
    try:
        client = make_client(srv.url)
        index_id = client.create_index(Name="stall", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        docs = [text_doc("before", "the meeting rooms are booked online"),
                text_doc("huge", "会議室は予約制です。" * 60_000, lang="ja"),
                text_doc("after", "the parking garage opens at seven")]
        assert not client.batch_put_document(IndexId=index_id, Documents=docs)["FailedDocuments"]
        statuses = {s["DocumentId"]: s for s in wait_indexed(client, index_id, ["before", "huge", "after"], 120)}
        assert statuses["before"]["DocumentStatus"] == statuses["after"]["DocumentStatus"] == "INDEXED"
        assert statuses["huge"]["DocumentStatus"] == "FAILED"
        assert statuses["huge"]["FailureCode"] == "InternalError"
        assert "longer than 8 s" in statuses["huge"]["FailureReason"]
        put_and_wait(client, index_id, [text_doc("later", "the canteen serves lunch at noon")])
        assert ids_of(client.query(IndexId=index_id, QueryText="canteen")) == ["later"]
        assert ids_of(client.query(IndexId=index_id, QueryText="parking")) == ["after"]
    finally:
        srv.stop()


def test_indexes_take_turns_at_the_pending_queue(tmp_path: Path) -> None:
    from services.index.store import Store

    store = Store(tmp_path / "k.sqlite3")
    store.enqueue([("b", f"b{n}", "put", {}, b"x") for n in range(5)] + [("a", "a0", "put", {}, b"x")])
    turns: list[str | None] = [None]
    for _ in range(4):
        turns.append(store.next_pending_index(after=turns[-1]))
    assert turns[1:] == ["a", "b", "a", "b"]
    assert [c.doc_id for c in store.next_pending(2, 10**9, "b")] == ["b0", "b1"]
    assert store.next_pending_index(after="c") == "a"
    assert Store(tmp_path / "empty.sqlite3").next_pending_index(after="a") is None
