"""10,000 queries from several threads while documents are being indexed: no query event is lost.

Latency with analytics on vs off is measured by ``bench/analytics.py``, not asserted here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import ROLE, Server, make_client, put_and_wait, text_doc, wait_active
from tests.test_analytics import db_rows

THREADS = 8
QUERIES = 10_000
WORDS = ["alpha", "beta", "gamma", "delta", "report", "policy", "travel", "budget"]


def test_ten_thousand_concurrent_queries_while_indexing_lose_no_event(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()
    errors: list[BaseException] = []
    try:
        client = make_client(srv.url, check_responses=False)
        index_id = client.create_index(Name="load", RoleArn=ROLE)["Id"]
        wait_active(client, index_id)
        put_and_wait(client, index_id, [text_doc(f"seed{n}", f"{WORDS[n % 8]} seed document {n}") for n in range(20)])
        stop = threading.Event()
        returned = [0] * THREADS

        def index() -> None:
            c = make_client(srv.url, check_responses=False)
            n = 0
            while not stop.is_set():
                docs = [text_doc(f"d{n + i}", f"{WORDS[(n + i) % 8]} {WORDS[(n + i * 3) % 8]} body {n + i}")
                        for i in range(10)]
                c.batch_put_document(IndexId=index_id, Documents=docs)
                n += 10

        def search(worker: int) -> None:
            try:
                c = make_client(srv.url, check_responses=False)
                for n in range(QUERIES // THREADS):
                    r = c.query(IndexId=index_id, QueryText=f"{WORDS[(worker + n) % 8]} q{worker}-{n}", PageSize=3)
                    returned[worker] += len(r["ResultItems"])
            except BaseException as error:  # reported below
                errors.append(error)

        indexer = threading.Thread(target=index)
        indexer.start()
        threads = [threading.Thread(target=search, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        indexer.join()
    finally:
        srv.stop()  # shutdown writes every queued event
    assert errors == []
    assert db_rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT query_id) FROM queries") == [(QUERIES, QUERIES)]
    # Every query had its own text: all 10,000 are distinct, each with its results recorded.
    assert db_rows(tmp_path, "SELECT COUNT(DISTINCT query_text) FROM queries") == [(QUERIES,)]
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM queries WHERE total_results > 0") == [(QUERIES,)]
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM results") == [(sum(returned),)]
