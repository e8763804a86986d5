"""SigV4 that cannot be replayed or re-aimed, and connector syncs that sign (issue 14, part 3; issue 20, 6).

A real server with KENSAKU_AUTH_MODE=sigv4: requests signed more than 5 minutes before (or after)
the server's clock are refused as AWS refuses them, a body that is not the one signed is refused,
presigned query strings are refused, a signature scoped to another service or region is refused, an
X-Amz-Target left out of the signed headers is refused (it could be swapped), and a FILESYSTEM sync
signs its BatchPutDocument calls with KENSAKU_CONNECTOR_ACCESS_KEY_ID / _SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import httpx
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from connectors.sink import SinkCredentials
from services.api.auth import verify_sigv4
from services.datasources.launch import sink_credentials
from services.settings import Settings
from tests.conftest import ROLE, Server, make_client, wait_active, wait_indexed
from tests.sync_helpers import create_source, sync

KEYS = {"ADMIN": "admin-secret", "SYNCER": "syncer-secret"}
TARGET = "AWSKendraFrontendService."


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("sigv4"), {
        "KENSAKU_AUTH_MODE": "sigv4", "KENSAKU_ACCESS_KEYS": json.dumps(KEYS), "KENSAKU_EMBEDDER": "none",
        "KENSAKU_CONNECTOR_ACCESS_KEY_ID": "SYNCER", "KENSAKU_CONNECTOR_SECRET_ACCESS_KEY": "syncer-secret",
    }).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(signed_server: Server) -> Any:
    return make_client(signed_server.url, key="ADMIN", secret="admin-secret")


_REAL_CLOCK = botocore.auth.get_current_datetime


def _signed_at(monkeypatch: pytest.MonkeyPatch, offset: dt.timedelta) -> None:
    """Make botocore sign as if its clock were ``offset`` away from now."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: _REAL_CLOCK() + offset)


def _code_and_message(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_request_signed_long_ago_is_refused(admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _signed_at(monkeypatch, dt.timedelta(minutes=-4))  # within AWS's 5 minutes: fine
    assert admin.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200
    _signed_at(monkeypatch, dt.timedelta(minutes=-10))
    with pytest.raises(ClientError) as info:
        admin.list_indices()
    code, message = _code_and_message(info)
    assert code == "InvalidSignatureException" and message.startswith("Signature expired:"), message
    _signed_at(monkeypatch, dt.timedelta(minutes=10))
    with pytest.raises(ClientError) as info:
        admin.list_indices()
    code, message = _code_and_message(info)
    assert code == "InvalidSignatureException" and message.startswith("Signature not yet current:"), message


def test_a_captured_request_cannot_carry_another_body(signed_server: Server, admin: Any) -> None:
    captured: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> None:
        captured["headers"] = dict(request.headers)
        captured["body"] = request.body

    admin.meta.events.register("before-send.kendra.ListIndices", capture)
    try:
        admin.list_indices(MaxResults=5)
    finally:
        admin.meta.events.unregister("before-send.kendra.ListIndices", capture)
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in captured["headers"].items()}
    replay = httpx.post(signed_server.url + "/", headers=headers, content=captured["body"])
    assert replay.status_code == 200  # a replay within the window is what AWS allows too
    tampered = httpx.post(signed_server.url + "/", headers=headers, content=b'{"MaxResults": 6}')
    assert tampered.status_code == 403 and tampered.json()["__type"] == "InvalidSignatureException"
    wrong_hash = httpx.post(signed_server.url + "/", content=captured["body"],
                            headers={**headers, "x-amz-content-sha256": "0" * 64})
    assert wrong_hash.status_code == 403
    assert "x-amz-content-sha256" in wrong_hash.json()["message"]
    presigned = httpx.post(signed_server.url + "/?X-Amz-Signature=00&X-Amz-Credential=ADMIN", headers=headers,
                           content=captured["body"])
    assert presigned.status_code == 403 and "presigned" in presigned.json()["message"]


def test_a_sync_signs_with_the_connector_keys(signed_server: Server, admin: Any, tmp_path: Path) -> None:
    index = admin.create_index(Name="signed", RoleArn=ROLE)["Id"]
    wait_active(admin, index)
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "plan.txt").write_text("Quarterly plan: retire the platypus cluster.\n", encoding="utf-8")
    ds = create_source(admin, index, "share", "FILESYSTEM", path=str(folder))
    job = sync(admin, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    (status,) = wait_indexed(admin, index, [(folder / "plan.txt").resolve().as_uri()])
    assert status["DocumentStatus"] == "INDEXED"
    assert admin.query(IndexId=index, QueryText="platypus")["ResultItems"]


def test_which_keys_a_sync_signs_with() -> None:
    def settings(**values: Any) -> Settings:
        return Settings.model_validate(values)

    keys = {"access_keys": KEYS, "auth_mode": "sigv4"}
    assert sink_credentials(settings(**keys, connector_access_key_id="SYNCER",
                                     connector_secret_access_key="syncer-secret")) == SinkCredentials(
        "SYNCER", "syncer-secret")
    assert sink_credentials(settings(**keys)) == SinkCredentials("ADMIN", "admin-secret")  # this server's own
    assert sink_credentials(settings()) == SinkCredentials("kensaku", "kensaku")  # auth off: any key
    # Amazon Kendra: the standard AWS credential chain; another Kensaku (docker-compose's api): as this one.
    assert sink_credentials(settings(connector_endpoint="https://kendra.us-east-1.amazonaws.com")) is None
    assert sink_credentials(settings(**keys, connector_endpoint="http://api:8000")) == SinkCredentials(
        "ADMIN", "admin-secret")
    assert "syncer-secret" not in repr(SinkCredentials("SYNCER", "syncer-secret"))
    with pytest.raises(ValueError):
        settings(connector_access_key_id="SYNCER")


def _sign(url: str, operation: str, body: bytes, *, service: str = "kendra", region: str = "us-east-1",
          sign_target: bool = True) -> dict[str, str]:
    """Headers of a ``POST /`` signed with ADMIN's key as botocore signs, for ``service`` and ``region``."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if sign_target:
        headers["X-Amz-Target"] = TARGET + operation
    request = AWSRequest("POST", url + "/", data=body, headers=headers)
    botocore.auth.SigV4Auth(Credentials("ADMIN", "admin-secret"), service, region).add_auth(request)
    signed = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    return signed if sign_target else {**signed, "X-Amz-Target": TARGET + operation}


def _refusal(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["__type"], body["message"]


def test_a_signature_for_another_service_or_region_is_refused(signed_server: Server) -> None:
    url, body = signed_server.url, b"{}"
    assert httpx.post(url + "/", content=body, headers=_sign(url, "ListIndices", body)).status_code == 200
    status, kind, message = _refusal(httpx.post(url + "/", content=body,
                                                headers=_sign(url, "ListIndices", body, service="s3")))
    assert (status, kind) == (403, "InvalidSignatureException") and "service: 'kendra'" in message
    status, kind, message = _refusal(httpx.post(url + "/", content=body,
                                                headers=_sign(url, "ListIndices", body, region="eu-west-1")))
    assert (status, kind) == (403, "InvalidSignatureException") and "'eu-west-1'" in message
    headers = _sign(url, "ListIndices", body)
    day = headers["X-Amz-Date"][:8]
    other_day = {**headers, "Authorization": headers["Authorization"].replace(f"/{day}/", "/20200101/")}
    status, kind, message = _refusal(httpx.post(url + "/", content=body, headers=other_day))
    assert (status, kind) == (403, "InvalidSignatureException") and "date" in message
    elsewhere = boto3.client("kendra", endpoint_url=url, region_name="ap-northeast-1",
                             aws_access_key_id="ADMIN", aws_secret_access_key="admin-secret")
    with pytest.raises(ClientError) as info:
        elsewhere.list_indices()
    assert _code_and_message(info)[0] == "InvalidSignatureException"


def test_the_operation_must_be_signed(signed_server: Server, admin: Any) -> None:
    url, body = signed_server.url, b"{}"
    unsigned_target = _sign(url, "ListIndices", body, sign_target=False)
    for operation in ("ListIndices", "ListFaqs"):  # the target a captured request could be re-aimed at
        status, kind, message = _refusal(httpx.post(
            url + "/", content=body, headers={**unsigned_target, "X-Amz-Target": TARGET + operation}))
        assert (status, kind) == (403, "IncompleteSignatureException") and "x-amz-target" in message
    swapped = {**_sign(url, "ListIndices", body), "X-Amz-Target": TARGET + "ListFaqs"}
    assert _refusal(httpx.post(url + "/", content=body, headers=swapped))[:2] == (403, "InvalidSignatureException")
    malformed = {**_sign(url, "ListIndices", body), "Authorization": "AWS4-HMAC-SHA256 Credential=ADMIN"}
    assert _refusal(httpx.post(url + "/", content=body, headers=malformed))[:2] == (
        403, "IncompleteSignatureException")
    assert admin.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200  # boto3 signs the target


def test_the_region_is_the_configured_one() -> None:
    body = b"{}"
    headers = httpx.Headers({**_sign("http://kensaku.test", "ListIndices", body, region="ap-northeast-1"),
                             "Host": "kensaku.test"})
    assert verify_sigv4("POST", "/", "", headers, body, KEYS, "ap-northeast-1") == "ADMIN"
    assert Settings.model_validate({"region": "ap-northeast-1"}).region == "ap-northeast-1"
