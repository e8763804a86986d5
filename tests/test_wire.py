"""The Kendra wire protocol: routing, typed errors, signing, and what boto3 lets through."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import botocore
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kensaku.operations import EXPERIENCES, NO_EXPERIENCES, feature_of
from kernel import errors
from kernel.model import operation_names
from tests.conftest import ROLE, TEST_MAX_DOCUMENT_BYTES, Server, make_client, text_doc, wait_indexed

TARGET = "AWSKendraFrontendService."


def raw_post(url: str, target: str, body: bytes | str) -> httpx.Response:
    return httpx.post(
        url + "/", content=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )


def test_list_indices_returns_request_id(kendra: Any) -> None:
    r = kendra.list_indices()
    assert isinstance(r["IndexConfigurationSummaryItems"], list)
    assert r["ResponseMetadata"]["RequestId"] == r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_unknown_target_is_unknown_operation_exception(server: Server) -> None:
    r = raw_post(server.url, TARGET + "Nope", "{}")
    assert r.status_code == 400
    assert r.json()["__type"] == "UnknownOperationException"
    assert r.headers["x-amzn-RequestId"]


def test_malformed_json_is_a_typed_400_and_the_server_keeps_serving(server: Server, kendra: Any) -> None:
    r = raw_post(server.url, TARGET + "ListIndices", b"{not json")
    assert r.status_code == 400
    assert r.json()["__type"] == "SerializationException"
    r = raw_post(server.url, TARGET + "DescribeIndex", "[1, 2]")
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException"
    assert "RequestId" in kendra.list_indices()["ResponseMetadata"]


def test_wrong_member_types_are_validation_errors(server: Server) -> None:
    for body in (
        {"IndexId": "a" * 36, "PageSize": "ten"},
        {"IndexId": 12},
        {"IndexId": "a" * 36, "QueryText": "x", "AttributeFilter": {"EqualsTo": "dept"}},
        {"IndexId": "a" * 36, "QueryText": "x", "PageSize": 2**40},
    ):
        r = raw_post(server.url, TARGET + "Query", json.dumps(body))
        assert r.status_code == 400, body
        assert r.json()["__type"] == "ValidationException", body


def test_client_mistakes_are_not_retried(kendra: Any) -> None:
    with pytest.raises(kendra.exceptions.ResourceNotFoundException) as info:
        kendra.describe_index(Id=str(uuid.uuid4()))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    with pytest.raises(kendra.exceptions.ValidationException) as info:
        kendra.describe_index(Id="!" * 36)
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0


def test_unknown_result_type_filter_is_refused(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=index_id, QueryText="x", QueryResultTypeFilter="FOO")


def test_server_enforces_what_boto3_lets_through(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    docs = [text_doc(f"d{i}", "hello") for i in range(11)]
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.batch_put_document(IndexId=index_id, Documents=docs)
    assert kendra.describe_index(Id=index_id)["IndexStatistics"]["TextDocumentStatistics"][
        "IndexedTextDocumentsCount"] == 0
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.describe_index(Id="a" * 37)
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=index_id, QueryText="x",
                     AttributeFilter={"EqualsTo": {"Key": "bad key!", "Value": {"StringValue": "v"}}})
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_index(Name="x" * 1001, RoleArn=ROLE)
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_index(Name="ok", RoleArn="not-an-arn")
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.batch_get_document_status(IndexId=index_id, DocumentInfoList=[{"DocumentId": "x"}] * 11)


def test_oversized_blob_fails_that_document_only(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    big = {"Id": "big", "Blob": b"a" * (TEST_MAX_DOCUMENT_BYTES + 1), "ContentType": "PLAIN_TEXT"}
    r = kendra.batch_put_document(IndexId=index_id, Documents=[big, text_doc("small", "fine")])
    assert [(f["Id"], f["ErrorCode"]) for f in r["FailedDocuments"]] == [("big", "InvalidRequest")]
    assert wait_indexed(kendra, index_id, ["small"])[0]["DocumentStatus"] == "INDEXED"


def test_every_kendra_operation_is_routed(server: Server) -> None:
    """Each of botocore's 66 operations reaches a handler of the running server: an empty body gets a
    200 or a typed 400 (a required member missing, or the feature not built yet, named) — never
    UnknownOperationException or a 5xx."""
    names = operation_names()
    assert len(names) == 66
    for name in names:
        r = raw_post(server.url, TARGET + name, "{}")
        kind = r.json().get("__type")
        assert r.status_code in (200, 400) and kind != "UnknownOperationException", (name, r.status_code, r.text)
        if "not supported by this Kensaku server yet" in r.text:
            assert kind == "ValidationException" and f"({feature_of(name)})" in r.text, (name, r.text)


def test_experience_operations_point_to_the_search_page(server: Server, kendra: Any, new_index: Any) -> None:
    """Kendra Experiences (AWS's hosted search app) are refused with where Kensaku's own page is."""
    experiences = [name for name in operation_names() if feature_of(name) == EXPERIENCES]
    assert len(experiences) == 11 and "ListEntityPersonas" in experiences
    for name in experiences:
        message = f"{name}: {NO_EXPERIENCES}."
        assert raw_post(server.url, TARGET + name, "{}").json() == {
            "__type": "ValidationException", "message": message, "Message": message}
    index_id = new_index()
    with pytest.raises(kendra.exceptions.ValidationException,
                       match="Kensaku has no Kendra Experiences; its search page is served at /"):
        kendra.create_experience(Name="portal", IndexId=index_id, RoleArn=ROLE)
    with pytest.raises(kendra.exceptions.ValidationException, match="README 'Web pages'"):
        kendra.list_entity_personas(Id="e" * 36, IndexId=index_id)


@pytest.mark.parametrize("error", errors.ALL_ERRORS, ids=lambda e: e.type_name)
def test_every_error_renders_the_canonical_body(error: type[errors.KendraError]) -> None:
    e = error("something is wrong")
    assert e.body() == {"__type": e.type_name, "message": "something is wrong", "Message": "something is wrong"}
    assert e.status == (500 if e.type_name == "InternalServerException" else 403 if "Signature" in e.type_name
                        or "Unrecognized" in e.type_name else 400)


def test_any_credentials_and_unsigned_requests_work_when_auth_is_off(server: Server) -> None:
    for client in (
        make_client(server.url, key=uuid.uuid4().hex, secret=uuid.uuid4().hex),
        make_client(server.url, aws_session_token="session-token"),
        make_client(server.url, config=Config(signature_version=botocore.UNSIGNED)),
    ):
        assert client.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_sigv4_auth_accepts_the_right_secret_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_AUTH_MODE": "sigv4", "KENSAKU_ACCESS_KEYS": '{"AKIDTEST": "s3cret"}'})
    srv.start()
    try:
        good = make_client(srv.url, key="AKIDTEST", secret="s3cret")
        assert good.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert make_client(srv.url, key="AKIDTEST", secret="s3cret", aws_session_token="tok").list_indices()
        for key, secret, code in (("AKIDTEST", "wrong", "InvalidSignatureException"),
                                  ("NOBODY", "s3cret", "UnrecognizedClientException")):
            with pytest.raises(ClientError) as info:
                make_client(srv.url, key=key, secret=secret).list_indices()
            assert info.value.response["Error"]["Code"] == code
            assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        with pytest.raises(ClientError):
            make_client(srv.url, config=Config(signature_version=botocore.UNSIGNED)).list_indices()
    finally:
        srv.stop()
