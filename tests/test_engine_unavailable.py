"""An OpenSearch cluster that cannot be reached, at start or in the middle of requests: queries fail
with Kendra's InternalServerException and the reason, quickly (never a hang); documents stay queued
(PROCESSING) and are indexed once the cluster answers again, none dropped.

Real components: a ``kensaku serve`` process on the OpenSearch engine, a real boto3 client, and the
test cluster (tests/conftest.py ``opensearch_url``), reached through a TCP relay in this test that
can refuse connections (a cluster down) or accept them and never answer (a cluster hung).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.config import Config

from tests.conftest import (
    JA,
    OPENSEARCH_PREFIX,
    ROLE,
    Server,
    drop_opensearch_indexes,
    make_client,
    opensearch_url,
    text_doc,
    wait_for,
)


class Relay:
    """Forwards TCP connections from a local port to the cluster while ``mode`` is "up"; "down" closes
    every connection at once (a cluster gone), "hung" accepts and never answers. A change of mode cuts
    the connections open so far, so that pooled keep-alive connections see it too."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "down"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            for conn in self._open:
                conn.close()
            self._open.clear()

    def close(self) -> None:
        self.set("down")
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self.mode == "down":
                    client.close()
                    continue
                self._open.append(client)
                if self.mode == "hung":
                    continue  # held open, never answered
                upstream = socket.create_connection(self.target)
                self._open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    url = urlsplit(opensearch_url())
    relay = Relay((url.hostname or "127.0.0.1", url.port or 9200))
    yield relay
    relay.close()
    drop_opensearch_indexes(opensearch_url(), f"{OPENSEARCH_PREFIX}unavailable-")


@pytest.fixture(scope="module")
def server(relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server started while the cluster is unreachable."""
    relay.set("down")
    srv = Server(tmp_path_factory.mktemp("unavailable"), {
        "KENSAKU_ENGINE": "opensearch", "KENSAKU_OPENSEARCH_URL": f"http://127.0.0.1:{relay.port}",
        "KENSAKU_OPENSEARCH_INDEX_PREFIX": f"{OPENSEARCH_PREFIX}unavailable-",
        "KENSAKU_OPENSEARCH_TIMEOUT_SECONDS": "2", "KENSAKU_EMBEDDER": "none",
    }).start()
    yield srv
    srv.stop()


def _no_retries(url: str) -> Any:
    return make_client(url, config=Config(retries={"max_attempts": 1}, read_timeout=30))


def _statuses(client: Any, index_id: str, ids: list[str]) -> list[str]:
    found = client.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": d} for d in ids])
    return [s["DocumentStatus"] for s in found["DocumentStatusList"]]


def test_unreachable_at_start_then_queries_fail_clearly_and_documents_wait(server: Server, relay: Relay,
                                                                             tmp_path: Path) -> None:
    client = _no_retries(server.url)
    index_id = client.create_index(Name="down", RoleArn=ROLE)["Id"]
    wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE index")
    docs = [text_doc(f"d{i}", f"精算の手順 その{i} unreachable", lang="ja") for i in range(5)]
    assert client.batch_put_document(IndexId=index_id, Documents=docs)["FailedDocuments"] == []

    started = time.monotonic()
    with pytest.raises(client.exceptions.InternalServerException, match="search engine is unavailable"):
        client.query(IndexId=index_id, QueryText="精算")
    assert time.monotonic() - started < 10
    time.sleep(2)  # the indexer has tried (and waited) meanwhile
    assert set(_statuses(client, index_id, [d["Id"] for d in docs])) == {"PROCESSING"}

    relay.set("up")
    wait_for(lambda: set(_statuses(client, index_id, [d["Id"] for d in docs])) == {"INDEXED"}, 60,
             "queued documents indexed once the cluster answers")
    found = client.query(IndexId=index_id, QueryText="精算", AttributeFilter=JA)
    assert sorted(item["DocumentId"] for item in found["ResultItems"]) == [d["Id"] for d in docs]


def test_a_hung_cluster_mid_request_times_out_with_the_reason_and_puts_are_not_lost(server: Server,
                                                                                      relay: Relay) -> None:
    relay.set("up")
    client = _no_retries(server.url)
    index_id = client.create_index(Name="hung", RoleArn=ROLE)["Id"]
    wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE index")
    first = [text_doc("before", "承認の流れ before", lang="ja")]
    client.batch_put_document(IndexId=index_id, Documents=first)
    wait_for(lambda: _statuses(client, index_id, ["before"]) == ["INDEXED"], 60, "first document indexed")

    relay.set("hung")
    started = time.monotonic()
    with pytest.raises(client.exceptions.InternalServerException, match="unavailable"):
        client.query(IndexId=index_id, QueryText="承認", AttributeFilter=JA)
    assert time.monotonic() - started < 15  # the engine's timeout (2 s here), not a hang
    later = [text_doc(f"later{i}", f"承認の流れ later{i}", lang="ja") for i in range(3)]
    assert client.batch_put_document(IndexId=index_id, Documents=later)["FailedDocuments"] == []
    time.sleep(3)
    assert set(_statuses(client, index_id, [d["Id"] for d in later])) == {"PROCESSING"}

    relay.set("up")
    wait_for(lambda: set(_statuses(client, index_id, [d["Id"] for d in later])) == {"INDEXED"}, 60,
             "documents put while the cluster hung are indexed after it recovers")
    assert client.query(IndexId=index_id, QueryText="承認", AttributeFilter=JA)["TotalNumberOfResults"] == 4
