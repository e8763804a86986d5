"""The store on SQLite and on PostgreSQL (services/database): one interface, migrations that upgrade older
data folders, and the pending queue shared by several indexers on PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from analytics.events import FeedbackEvent, QueryEvent, ReturnedResult
from analytics.store import AnalyticsStore, open_analytics_store
from services.database import INTEGRITY_ERRORS, DatabaseUnavailable, open_database
from services.database.migrations import STEPS, STORE, applied, migrate
from services.index.store import Store, open_store
from services.settings import Settings
from tests.conftest import REPO, ROLE, Server, free_port, make_client, wait_for
from tests.postgres import PostgresServer

STORE_VERSION = STORE[-1].version


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a data folder whose state is in SQLite files, or in a new PostgreSQL database."""
    url = request.getfixturevalue("postgres").new_database() if request.param == "postgresql" else None
    return Settings.model_validate({"data_dir": tmp_path, "database_url": url, "database_timeout_seconds": 3})


@pytest.fixture
def pg_settings(postgres: Any, tmp_path: Path) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": postgres.new_database(),
                                    "database_timeout_seconds": 3})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


def test_the_store_works_the_same_on_both_databases(store: Store) -> None:
    store.enqueue([("i", f"d{n}", "put", {"n": n}, b"x" * 100) for n in range(10)]
                  + [("i", "gone", "delete", None, None)])
    assert [c.doc_id for c in store.next_pending(100, 250)] == ["d0", "d1", "d2"]
    assert len(store.next_pending(100, 10**9)) == 11
    assert store.pending_ops("i", ["d3", "gone", "none"]) == {"d3": "put", "gone": "delete"}
    with store.claim(3, 10**9, "i") as claim:
        assert [(c.doc_id, c.payload, c.blob) for c in claim.changes] == [
            ("d0", {"n": 0}, b"x" * 100), ("d1", {"n": 1}, b"x" * 100), ("d2", {"n": 2}, b"x" * 100)]
        with claim.write() as conn:
            conn.execute("INSERT INTO documents (index_id, doc_id, status, attributes, text_bytes, updated_at)"
                         " VALUES (?, ?, 'INDEXED', ?, ?, ?)", ("i", "d0", '{"_data_source_id": "ds%1"}', 7, 1.5))
            conn.executemany("DELETE FROM pending WHERE seq = ?", [(c.seq,) for c in claim.changes])
    assert store.pending_count("i") == 8
    assert store.statistics("i") == (1, 7)
    rows = store.read().execute(
        f"SELECT doc_id, {store.json_text('attributes', '_data_source_id')} AS source FROM documents"
        " WHERE index_id = ? AND doc_id LIKE 'd%'", ("i",)).fetchall()
    assert [(r["doc_id"], r["source"], r[0]) for r in rows] == [("d0", "ds%1", "d0")]
    with pytest.raises(ZeroDivisionError), store.write() as conn:  # a block that raises writes nothing
        conn.execute("DELETE FROM pending")
        raise ZeroDivisionError
    assert store.pending_count() == 8
    assert store.db.has_table("sync_job_docs") and not store.db.has_table("nothing")
    assert {"acl_levels", "schema_gen"} <= store.db.columns("indexes")


def test_analytics_sums_and_averages_are_numbers_as_on_sqlite(settings: Settings) -> None:
    store = open_analytics_store(settings)
    try:
        store.write([QueryEvent(f"q{n}", "i", 100.0 + n, "vpn", "vpn", ("en",), "web", None, None, n, 1.5,
                                (ReturnedResult(f"r{n}", "d1", n + 1),)) for n in range(3)])
        assert store.rows("SELECT COUNT(*), SUM(total_results), AVG(total_results), SUM(latency_ms) FROM queries"
                          " WHERE index_id = ?", ("i",)) == [(3, 3, 1.0, 4.5)]
        assert store.rows("SELECT query_id FROM queries WHERE at >= ? ORDER BY at", (101,)) == [("q1",), ("q2",)]
        assert store.counts() == {"queries": 3, "results": 3, "clicks": 0, "votes": 0}
        with pytest.raises(INTEGRITY_ERRORS):  # a redelivered event (analytics/stream.py skips it)
            store.write([QueryEvent("q0", "i", 100.0, "vpn", "vpn", ("en",), "web", None, None, 0, 1.5, ())])
        assert store.counts()["queries"] == 3
    finally:
        store.close()


def test_the_analytics_reports_answer_the_same_on_both_databases(settings: Settings) -> None:
    """The report methods of the analytics store (GetSnapshots, KensakuGetTrends, suggestions, learning)."""
    store = open_analytics_store(settings)
    try:
        store.write([
            QueryEvent("q0", "i", 100.0, "VPN", "vpn", ("en",), "web", "u1", None, 2, 1.0,
                       (ReturnedResult("r0a", "d1", 1), ReturnedResult("r0b", "d2", 2)), instant_answer=True,
                       best_confidence="HIGH"),
            QueryEvent("q1", "i", 101.0, "vpn", "vpn", ("en",), "chat", None, None, 1, 1.0,
                       (ReturnedResult("r1", "d2", 1),)),
            QueryEvent("q2", "i", 102.0, "", "", ("en",), "web", None, None, 0, 1.0, ()),
            QueryEvent("q3", "i", 200.0, "printer", "printer", ("en",), "web", None, None, 1, 1.0,
                       (ReturnedResult("r3", "d3", 1),)),
            FeedbackEvent("i", "q0", "r0b", 110.0, click_time=110.0),
            FeedbackEvent("i", "q1", "r1", 111.0, click_time=111.0),
            FeedbackEvent("i", "q0", "r0a", 112.0, relevance="RELEVANT"),
            FeedbackEvent("i", "q1", "r1", 113.0, relevance="NOT_RELEVANT"),
            FeedbackEvent("i", "qx", "rx", 114.0, click_time=114.0),  # orphaned: counts nowhere
        ])
        assert store.query_totals("i", 100, 150) == (3, 2, 1, 1)
        assert store.query_text_totals("i", 100, 150) == [("vpn", 2, 2, 0, 1)]
        assert store.mean_click_ranks("i", 100, 150) == {"vpn": 1.5}
        assert store.document_clicks("i", 100, 150) == [("d2", 2)]
        assert sorted(store.document_votes("i", 100, 150)) == [("d1", "RELEVANT", 1), ("d2", "NOT_RELEVANT", 1)]
        assert sorted(store.queries_with_clicks("i", 100, 150), key=lambda q: q.at) == [
            (100.0, "web", "vpn", "VPN", 2, "HIGH", 2, 1), (101.0, "chat", "vpn", "vpn", 1, None, 1, 1),
            (102.0, "web", "", "", 0, None, None, 0)]
        assert [q.query_text for q in store.queries_with_clicks("i", 100, 150, "chat")] == ["vpn"]
        assert store.query_counts("i", 100, 150) == {"vpn": 2, "": 1}
        assert store.query_counts("i", 100, 150, "web") == {"vpn": 1, "": 1}
        assert store.most_clicked_documents("i", 100, 150, None, 10) == [("d2", 2)]
        assert store.most_clicked_documents("i", 100, 150, "chat", 10) == [("d2", 1)]
        assert store.latest_query("i") == (200.0, 4) and store.latest_query("none") == (None, 0)
        assert sorted(store.answered_query_texts("i", 0, False)) == [("printer", 1, 0), ("vpn", 2, 1)]
        assert store.answered_query_texts("i", 0, True) == [("vpn", 1, 1)]
        assert store.clicks_per_document("i", 0) == {"d2": 2} and store.clicks_per_document("i", 111) == {"d2": 1}
        assert sorted(store.query_feedback("i")) == [("vpn", "d1", 112.0, 1), ("vpn", "d2", 110.0, 1),
                                                    ("vpn", "d2", 111.0, 1), ("vpn", "d2", 113.0, -1)]
        assert store.query_feedback("i", "printer") == []
    finally:
        store.close()


# What a data folder of the first release held: the tables before any column was added.
_OLD_STORE = """
CREATE TABLE indexes (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, client_token TEXT UNIQUE, schema_gen INTEGER NOT NULL DEFAULT 0,
    analyzer TEXT NOT NULL DEFAULT '', config TEXT NOT NULL, fields TEXT NOT NULL);
CREATE TABLE documents (index_id TEXT NOT NULL, doc_id TEXT NOT NULL, status TEXT NOT NULL, title TEXT, body TEXT,
    attributes TEXT, acl TEXT, text_bytes INTEGER NOT NULL DEFAULT 0, failure_code TEXT, failure_reason TEXT,
    updated_at REAL NOT NULL, PRIMARY KEY (index_id, doc_id));
CREATE TABLE pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, index_id TEXT NOT NULL, doc_id TEXT NOT NULL,
    op TEXT NOT NULL, payload TEXT, blob BLOB);
INSERT INTO indexes VALUES ('old', 'Old', 'ACTIVE', 1.0, 1.0, NULL, 0, 'a', '{}', '[]');
INSERT INTO documents (index_id, doc_id, status, body, updated_at) VALUES ('old', 'doc', 'INDEXED', 'text', 1.0);
INSERT INTO pending (index_id, doc_id, op) VALUES ('old', 'doc', 'delete');
"""
_OLD_FAQS = """
CREATE TABLE faq_entries (faq_id TEXT NOT NULL, index_id TEXT NOT NULL, number INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, source_uri TEXT, allow TEXT NOT NULL, deny TEXT NOT NULL,
    vector BLOB, PRIMARY KEY (faq_id, number));
INSERT INTO faq_entries VALUES ('f', 'old', 0, 'q?', 'a.', NULL, '[]', '[]', NULL);
"""


@pytest.mark.parametrize("added", [False, True], ids=["first-release", "columns-added-before-migrations"])
def test_an_older_sqlite_data_folder_is_upgraded_in_place(tmp_path: Path, added: bool) -> None:
    with closing(sqlite3.connect(tmp_path / "kensaku.sqlite3")) as conn:
        conn.executescript(_OLD_STORE)
        if added:  # what the ad-hoc checks of the last release before migrations added on open
            conn.executescript("ALTER TABLE indexes ADD COLUMN acl_levels INTEGER NOT NULL DEFAULT 0;"
                               " ALTER TABLE documents ADD COLUMN hierarchy TEXT;"
                               " ALTER TABLE documents ADD COLUMN acl_config TEXT;")
    with closing(sqlite3.connect(tmp_path / "faqs.sqlite3")) as conn:
        conn.executescript(_OLD_FAQS)
    done = subprocess.run([sys.executable, "-m", "kensaku.cli", "migrate", "--data-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"store: applied 1-{STORE_VERSION}" in done.stdout and "faqs: applied 1-2" in done.stdout, done.stdout

    settings = Settings.model_validate({"data_dir": tmp_path})
    store = open_store(settings)
    try:
        assert applied(store.db) == [s.version for s in STEPS["store"]]
        assert store.index_row("old")["acl_levels"] == 0  # type: ignore[index]
        assert store.documents("old", ["doc"])["doc"].hierarchy == []
        assert store.pending_ops("old", ["doc"]) == {"doc": "delete"}
        assert migrate(store.db) == []  # nothing left to do, on every later start
    finally:
        store.close()
    faqs = open_database(settings, "faqs")
    try:
        migrate(faqs)
        assert [tuple(r) for r in faqs.read().execute("SELECT attributes FROM faq_entries")] == [("{}",)]
    finally:
        faqs.close()
    again = subprocess.run([sys.executable, "-m", "kensaku.cli", "migrate", "--data-dir", str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert f"store: up to date (version {STORE_VERSION})" in again.stdout, again.stdout


def test_processes_starting_at_once_on_postgres_apply_each_migration_once(pg_settings: Settings) -> None:
    assert pg_settings.database_url is not None
    url = pg_settings.database_url.get_secret_value()
    migrating = [subprocess.Popen([sys.executable, "-m", "kensaku.cli", "migrate"], cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, env={**os.environ, "KENSAKU_DATABASE_URL": url})
                 for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in migrating]
    assert [p.returncode for p in migrating] == [0, 0, 0]
    # one applied them, two found them done
    assert sum(f"store: applied 1-{STORE_VERSION}" in out for out in outputs) == 1, outputs
    stores = [open_store(pg_settings) for _ in range(2)]
    analytics = open_analytics_store(pg_settings)
    try:
        rows = stores[0].read().execute("SELECT component, COUNT(*), MAX(version) FROM kensaku_migrations"
                                        " GROUP BY component ORDER BY component").fetchall()
        assert [tuple(r) for r in rows] == [(c, len(STEPS[c]), len(STEPS[c])) for c in sorted(STEPS)]
    finally:
        for s in stores:
            s.close()
        analytics.close()


def test_two_stores_on_one_postgres_database_see_each_others_writes(pg_settings: Settings) -> None:
    first, second = open_store(pg_settings), open_store(pg_settings)  # as two processes would
    try:
        with first.write() as conn:
            conn.execute("INSERT INTO indexes (id, name, status, created_at, updated_at, config, fields)"
                         " VALUES ('i1', 'One', 'ACTIVE', 1, 1, '{}', '[]')")
        first.enqueue([("i1", "d", "put", {}, b"blob")])
        assert [r["name"] for r in second.index_rows()] == ["One"]
        assert second.pending_count("i1") == 1
        with second.write() as conn:
            conn.execute("UPDATE indexes SET name = 'Renamed' WHERE id = 'i1'")
        assert first.index_row("i1")["name"] == "Renamed"  # type: ignore[index]
    finally:
        first.close()
        second.close()


def test_concurrent_claimers_never_share_a_document_nor_reorder_its_changes(pg_settings: Settings) -> None:
    stores = [open_store(pg_settings) for _ in range(3)]
    docs, per_doc = 12, 4
    stores[0].enqueue([("i", f"d{d}", "put", {"n": n}, None) for n in range(per_doc) for d in range(docs)])
    held: set[str] = set()
    applied_changes: list[tuple[str, int]] = []
    lock = threading.Lock()
    errors: list[str] = []

    def indexer(store: Store) -> None:
        deadline = time.time() + 60
        while time.time() < deadline and store.pending_count() > 0:
            with store.claim(5, 10**9, "i") as claim:
                with lock:
                    mine = {c.doc_id for c in claim.changes}
                    if len(mine) < len(claim.changes) or mine & held:
                        errors.append(f"shared or repeated document in {[c.doc_id for c in claim.changes]}")
                    held.update(mine)
                time.sleep(0.02)  # applying the batch
                with claim.write() as conn:
                    conn.executemany("DELETE FROM pending WHERE seq = ?", [(c.seq,) for c in claim.changes])
                with lock:
                    applied_changes.extend((c.doc_id, c.payload["n"]) for c in claim.changes)
                    held.difference_update(mine)

    threads = [threading.Thread(target=indexer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    assert len(applied_changes) == docs * per_doc
    for d in range(docs):
        assert [n for doc, n in applied_changes if doc == f"d{d}"] == list(range(per_doc))


_CLAIMER = """
import sys, time
from services.index.store import open_store
from services.settings import Settings
store = open_store(Settings.model_validate({"data_dir": sys.argv[1], "database_url": sys.argv[2]}))
with store.claim(10, 10**9) as claim:
    print(",".join(sorted(c.doc_id for c in claim.changes)), flush=True)
    time.sleep(600)
"""


def test_the_claim_of_a_killed_indexer_is_released(pg_settings: Settings, tmp_path: Path) -> None:
    store = open_store(pg_settings)
    try:
        store.enqueue([("i", "a", "put", {}, None), ("i", "b", "put", {}, None), ("i", "a", "delete", None, None)])
        assert pg_settings.database_url is not None
        proc = subprocess.Popen([sys.executable, "-c", _CLAIMER, str(tmp_path),
                                 pg_settings.database_url.get_secret_value()],
                                cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "a,b"
            with store.claim(10, 10**9) as claim:
                assert claim.changes == []  # a's delete waits for a's put, held by the other indexer
        finally:
            proc.kill()  # SIGKILL: the server aborts its transaction when the connection drops
            proc.wait()

        def claimed() -> list[tuple[str, str]]:
            with store.claim(10, 10**9) as claim:
                return [(c.doc_id, c.op) for c in claim.changes]

        assert wait_for(lambda: claimed() or None, what="the killed claim released") == [("a", "put"), ("b", "put")]
    finally:
        store.close()


def test_a_restarted_postgres_fails_operations_clearly_then_serves_again(tmp_path: Path) -> None:
    server = PostgresServer(free_port()).start()
    api: Server | None = None
    try:
        url = server.new_database()
        settings = Settings.model_validate({"data_dir": tmp_path / "store", "database_url": url,
                                            "database_timeout_seconds": 2})
        store = open_store(settings)
        store.enqueue([("i", "d", "put", {}, None)])
        api = Server(tmp_path / "api", {"KENSAKU_DATABASE_URL": server.new_database(),  # its indexer: its own queue
                                        "KENSAKU_DATABASE_TIMEOUT_SECONDS": "2"}).start()
        client = make_client(api.url, config=Config(retries={"max_attempts": 1}))
        index_id = client.create_index(Name="survives", RoleArn=ROLE)["Id"]
        server.stop()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            store.pending_count()
        with pytest.raises(DatabaseUnavailable):
            store.enqueue([("i", "e", "put", {}, None)])
        with pytest.raises(ClientError) as refused:  # a retriable 5xx, not a crash nor a hang
            client.list_indices()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert refused.value.response["Error"]["Code"] == "InternalServerException"
        assert time.monotonic() - started < 20
        time.sleep(3)  # long enough for the pools' reconnection attempts to back off
        server.start()
        assert store.pending_count() == 1  # the pool's broken connections are replaced
        store.enqueue([("i", "e", "put", {}, None)])
        assert store.pending_count() == 2
        assert [i["Id"] for i in client.list_indices()["IndexConfigurationSummaryItems"]] == [index_id]
        store.close()
    finally:
        if api is not None:
            api.stop()
        server.remove()


def test_analytics_store_opened_on_a_path_stays_sqlite(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite3")  # as the tests and tools that open files directly do
    try:
        assert store.db.dialect == "sqlite" and (tmp_path / "a.sqlite3").exists()
    finally:
        store.close()


def test_analytics_events_wait_for_an_unavailable_database_instead_of_being_dropped() -> None:
    from analytics.capture import Capture

    written: list[str] = []
    failures = [DatabaseUnavailable("down"), DatabaseUnavailable("still down")]

    def write(events: Any) -> None:
        if failures:
            raise failures.pop(0)
        written.extend(e.query_id for e in events)

    capture = Capture(write, buffer_size=10)
    capture.start()
    try:
        capture.offer(QueryEvent("q", "i", 1.0, "x", "x", ("en",), "api", None, None, 0, 1.0, ()))
        assert capture.flush(timeout=10)
        assert written == ["q"] and capture.dropped == 0
    finally:
        capture.stop()
