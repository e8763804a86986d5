"""The OpenSearch engine against an Amazon OpenSearch Service domain: every request signed with SigV4
for the service ``es`` and the configured region, by the AWS credentials of the environment, and
refused credentials reported as the engine's unavailability (documents wait) rather than lost.

AWS cannot be reached from here: the domain is a stand-in in this test that checks each request's
signature with the server's own SigV4 verifier (services/api/auth.py, the same rules AWS applies:
scope, date, payload hash, signed headers) and forwards the valid ones to the real test cluster
(tests/conftest.py ``opensearch_url``); a request with a bad or missing signature gets AWS's 403.
The Kensaku server, the boto3 client and the cluster are real.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from requests.structures import CaseInsensitiveDict

from kernel.errors import KendraError
from services.api.auth import verify_sigv4
from tests.conftest import (
    JA,
    OPENSEARCH_PREFIX,
    ROLE,
    Server,
    drop_opensearch_indexes,
    make_client,
    opensearch_url,
    put_and_wait,
    text_doc,
    wait_for,
)

REGION = "ap-northeast-1"
KEYS = {"AKIDOMAIN": "domain-secret"}
PREFIX = f"{OPENSEARCH_PREFIX}sigv4-"


class Domain(ThreadingHTTPServer):
    """A stand-in for a domain endpoint: SigV4 ("es", REGION, KEYS) checked, then the cluster's answer."""

    daemon_threads = True

    def __init__(self, cluster: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster
        self.signed: list[str] = []  # the paths of the verified requests
        self.refused: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: Domain

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        path, _, query = self.path.partition("?")
        try:
            verify_sigv4(self.command, path, query, CaseInsensitiveDict(dict(self.headers)), body, KEYS, REGION,
                         service="es")
        except KendraError as error:
            self.server.refused.append(f"{self.command} {path}: {error.message}")
            self._answer(403, b'{"message": "The request signature we calculated does not match"}', {})
            return
        self.server.signed.append(path)
        forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-encoding")}
        answer = httpx.request(self.command, f"{self.server.cluster}{self.path}", content=body, headers=forwarded,
                               timeout=30)
        self._answer(answer.status_code, answer.content, {"content-type": answer.headers.get("content-type", "")})

    def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    found = Domain(opensearch_url())
    threading.Thread(target=found.serve_forever, daemon=True).start()
    yield found
    found.shutdown()
    drop_opensearch_indexes(opensearch_url(), PREFIX)


def _server(tmp: Any, domain: Domain, secret: str) -> Server:
    return Server(tmp, {
        "KENSAKU_ENGINE": "opensearch", "KENSAKU_OPENSEARCH_URL": f"http://127.0.0.1:{domain.server_port}",
        "KENSAKU_OPENSEARCH_SIGV4_SERVICE": "es", "KENSAKU_OPENSEARCH_REGION": REGION,
        "KENSAKU_OPENSEARCH_INDEX_PREFIX": PREFIX, "KENSAKU_OPENSEARCH_TIMEOUT_SECONDS": "5",
        "AWS_ACCESS_KEY_ID": "AKIDOMAIN", "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
        "KENSAKU_EMBEDDER": "none",
    }).start()


def test_every_request_to_a_managed_domain_is_signed_for_es(domain: Domain, tmp_path: Any) -> None:
    srv = _server(tmp_path, domain, KEYS["AKIDOMAIN"])
    try:
        client = make_client(srv.url)
        index_id = client.create_index(Name="signed", RoleArn=ROLE)["Id"]
        wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE index")
        put_and_wait(client, index_id, [text_doc("a", "東京都庁への出張の精算", lang="ja"),
                                         text_doc("b", "京都の会議室の予約", lang="ja")])
        found = client.query(IndexId=index_id, QueryText="東京都", AttributeFilter=JA)
        assert [item["DocumentId"] for item in found["ResultItems"]] == ["a"]
        assert domain.refused == [] and any(path.endswith("/_bulk") for path in domain.signed)
        assert any(path.endswith("/_search") for path in domain.signed)
    finally:
        srv.stop()


def test_refused_credentials_fail_queries_clearly_and_documents_wait(domain: Domain, tmp_path: Any) -> None:
    srv = _server(tmp_path, domain, "a-wrong-secret")
    try:
        client = make_client(srv.url, check_responses=False)
        index_id = client.create_index(Name="refused", RoleArn=ROLE)["Id"]
        wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE index")
        client.batch_put_document(IndexId=index_id, Documents=[text_doc("c", "承認の流れ", lang="ja")])
        with pytest.raises(client.exceptions.InternalServerException, match="403"):
            client.query(IndexId=index_id, QueryText="承認", AttributeFilter=JA)
        wait_for(lambda: len(domain.refused) >= 2, what="the indexer tried too")
        status = client.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "c"}])
        assert status["DocumentStatusList"][0]["DocumentStatus"] == "PROCESSING"
    finally:
        srv.stop()
