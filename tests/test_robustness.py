"""No request body a client can send gets a 5xx, hangs the server or stops the indexer (issue 14,
part 1; issue 20).

A real ``kensaku serve`` is fuzzed with bodies drawn from botocore's Kendra model (every operation;
valid, well-typed with extreme members, and mutated shapes) and hostile ones (deep nesting, huge
members, invalid UTF-8, lone surrogates, NaN, dates of year 1 or 10000 and beyond). The property: no
5xx, and the indexer keeps moving (every document accepted during the fuzz ends INDEXED or FAILED,
and a good document put afterwards is INDEXED). The budget is fixed and derandomised, so it runs the
same way, in seconds, every time.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from kernel.model import operation_names
from tests.conftest import ROLE, Server, make_client, text_doc, wait_active, wait_for, wait_indexed
from tests.kendra_fuzz import document_batches, request_bodies

TARGET = "AWSKendraFrontendService."
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Deleting the shared index would leave the other operations nothing to work on.
FUZZED = [op for op in operation_names() if op != "DeleteIndex"] + ["KensakuGetTrends"]


class Fuzzed:
    def __init__(self, server: Server, index_id: str) -> None:
        self.server = server
        self.index_id = index_id
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.accepted: set[str] = set()  # ids of fuzzed documents the server took

    def post(self, operation: str, body: bytes) -> httpx.Response:
        return self.http.post("/", content=body, headers={
            "X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    with tempfile.TemporaryDirectory(prefix="kensaku-fuzz-") as tmp:
        server = Server(Path(tmp), {"KENSAKU_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}).start()
        try:
            client = make_client(server.url)
            index_id = client.create_index(Name="fuzz", RoleArn=ROLE)["Id"]
            wait_active(client, index_id)
            client.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
                {"Name": "dept", "Type": "STRING_VALUE",
                 "Search": {"Facetable": True, "Sortable": True, "Searchable": True, "Displayable": True}}])
            docs = [text_doc("tokyo", "東京都は日本の首都です。経費精算の締め日は月末です。", "東京都", "ja",
                             [{"Key": "dept", "Value": {"StringValue": "総務"}}]),
                    text_doc("reset", "How do I reset my password? Open the settings page.", "Passwords", "en",
                             [{"Key": "dept", "Value": {"StringValue": "it"}}])]
            client.batch_put_document(IndexId=index_id, Documents=docs)
            wait_indexed(client, index_id, ["tokyo", "reset"])
            fuzz = Fuzzed(server, index_id)
            yield fuzz
            fuzz.http.close()
        finally:
            server.stop()


def _error_type(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["__type"])


@pytest.mark.parametrize("kind", ["list", "object", "filter"])
def test_a_body_nested_thousands_deep_is_a_validation_error(fuzzed: Fuzzed, kind: str) -> None:
    for depth in (100, 3000, 30_000):
        if kind == "list":
            body = b"[" * depth + b"]" * depth
        elif kind == "object":
            body = b'{"a":' * depth + b"1" + b"}" * depth
        else:
            body = (b'{"IndexId":"' + fuzzed.index_id.encode() + b'","QueryText":"x","AttributeFilter":'
                    + b'{"AndAllFilters":[' * depth + b"{}" + b"]}" * depth + b"}")
        for operation in ("Query", "Retrieve", "CreateQuerySuggestionsBlockList", "ListIndices"):
            r = fuzzed.post(operation, body)
            assert r.status_code == 400, (operation, depth, r.text)
            assert _error_type(r) == "ValidationException"
            assert "nested more than" in r.json()["message"]
    r = fuzzed.post("GetSnapshots", b"[" * 3000 + b"]" * 3000)  # its model's name for a bad input
    assert r.status_code == 400 and _error_type(r) == "InvalidRequestException"


def test_bodies_that_are_not_json_are_serialization_errors(fuzzed: Fuzzed) -> None:
    index = fuzzed.index_id.encode()
    for body in (
        b'{"IndexId":"' + index + b'","QueryText":"\xff\xfe"}',  # not UTF-8
        b'{"IndexId":"' + index + b'","QueryText":"\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
        b'{"IndexId":"' + index + b'","QueryText":"x","PageSize":NaN}',
        b'{"IndexId":"' + index + b'","QueryText":"x","PageSize":-Infinity}',
        b'{"IndexId":"' + index + b'","QueryText":"x","PageSize":' + b"9" * 5000 + b"}",
        b'{"IndexId":"' + index + b'"',
    ):
        r = fuzzed.post("Query", body)
        assert r.status_code == 400, (body[:80], r.text)
        assert _error_type(r) == "SerializationException", (body[:80], r.text)


def test_lone_surrogates_huge_bodies_and_numbers_out_of_range_are_validation_errors(fuzzed: Fuzzed) -> None:
    index = fuzzed.index_id
    cases: list[tuple[str, bytes]] = [
        ("Query", json.dumps({"IndexId": index, "QueryText": "t\ud800"}).encode()),
        ("UpdateIndex", json.dumps({"Id": index, "DocumentMetadataConfigurationUpdates": [
            {"Name": "f\udc00", "Type": "STRING_VALUE"}]}).encode()),
        ("Query", json.dumps({"IndexId": index, "QueryText": "x" * (MAX_REQUEST_BYTES + 1)}).encode()),
        ("Query", json.dumps({"IndexId": index, "QueryText": "x" * 1001}).encode()),
        ("Retrieve", json.dumps({"IndexId": index, "QueryText": "東京都" * 400}).encode()),
        ("Query", b'{"IndexId":"' + index.encode() + b'","PageSize":1e999}'),
        ("Query", b"[" + b",".join([b"1"] * 200_000) + b"]"),
        ("Query", json.dumps({"IndexId": index, "QueryText": "x", "AttributeFilter": {
            "GreaterThan": {"Key": "_created_at", "Value": {"DateValue": 1e20}}}}).encode()),
    ]
    for operation, body in cases:
        r = fuzzed.post(operation, body)
        assert r.status_code == 400, (operation, body[:80], r.text[:300])
        assert _error_type(r) == "ValidationException", (operation, body[:80], r.text[:300])


@pytest.mark.parametrize("operation", FUZZED)
def test_no_request_body_gets_a_5xx(fuzzed: Fuzzed, operation: str) -> None:
    @settings(max_examples=25, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(body=request_bodies(operation, [fuzzed.index_id]))
    def no_5xx(body: bytes) -> None:
        r = fuzzed.post(operation, body)
        assert r.status_code < 500, (operation, body[:300], r.text[:300])
        if r.status_code != 200:
            assert r.json()["__type"], r.text

    no_5xx()


def test_documents_with_extreme_members_are_refused_or_taken(fuzzed: Fuzzed) -> None:
    @settings(max_examples=25, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(request=document_batches(fuzzed.index_id))
    def refused_or_taken(request: dict[str, Any]) -> None:
        body = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
        r = fuzzed.post("BatchPutDocument", body)
        assert r.status_code < 500, (body[:300], r.text[:300])
        if r.status_code == 200:
            failed = {f["Id"] for f in r.json()["FailedDocuments"]}
            fuzzed.accepted.update(d["Id"] for d in request["Documents"] if d["Id"] not in failed)

    refused_or_taken()


def _statuses(client: Any, index_id: str, ids: list[str]) -> list[str]:
    return [s["DocumentStatus"] for i in range(0, len(ids), 10) for s in client.batch_get_document_status(
        IndexId=index_id, DocumentInfoList=[{"DocumentId": d} for d in ids[i : i + 10]])["DocumentStatusList"]]


def test_the_server_still_answers_and_indexes_after_the_fuzzing(fuzzed: Fuzzed) -> None:
    started = time.time()
    client = make_client(fuzzed.server.url)
    assert client.describe_index(Id=fuzzed.index_id)["Status"] == "ACTIVE"
    hits = client.query(IndexId=fuzzed.index_id, QueryText="password")["ResultItems"]
    assert "reset" in [h["DocumentId"] for h in hits]
    assert time.time() - started < 30
    accepted = sorted(fuzzed.accepted)
    assert accepted  # the fuzz did reach the indexer
    wait_for(lambda: "PROCESSING" not in _statuses(client, fuzzed.index_id, accepted), 120,
             "every fuzzed document INDEXED or FAILED")
    client.batch_put_document(IndexId=fuzzed.index_id, Documents=[
        text_doc("after-fuzz", "The indexer kept moving after the fuzz.", "After", "en")])
    (status,) = wait_indexed(client, fuzzed.index_id, ["after-fuzz"])
    assert status["DocumentStatus"] == "INDEXED", status
