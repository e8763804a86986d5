"""S3 sources against moto's S3 server (a real local S3-compatible HTTP server; see
../shared/docs/test-servers.md), synced by a real server's embedded runner (spec scenario 23)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.conftest import JA, ROLE, free_port, ids_of, wait_for
from tests.sync_helpers import OFFICE, metrics, sync, template


def _s3(url: str, key: str = "testing") -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=key, config=Config(s3={"addressing_style": "path"}))



def _source(kendra: Any, index: str, name: str, url: str, bucket: str, **extra: Any) -> str:
    ds: str = kendra.create_data_source(
        IndexId=index, Name=name, Type="TEMPLATE", RoleArn=ROLE,
        Configuration=template("S3", bucketName=bucket, endpointUrl=url, accessKeyId=extra.pop("key", "testing"),
                               secretAccessKey="testing", **extra))["Id"]
    return ds


def test_s3_source_syncs_and_follows_changes(kendra: Any, new_index: Any, s3_url: str) -> None:
    s3 = _s3(s3_url)
    s3.create_bucket(Bucket="handbook")
    leave = "# 休暇\n\n年次有給休暇は入社半年後に付与されます。"
    s3.put_object(Bucket="handbook", Key="docs/人事/休暇.md", Body=leave.encode(), Metadata={"author": "yamada"})
    s3.put_object(Bucket="handbook", Key="docs/it/vpn.txt", Body=b"Connect to the VPN with the okapi client.")
    s3.put_object(Bucket="handbook", Key="docs/guide.docx",
                  Body=(OFFICE / "authored" / "情報システム" / "新入社員向けVPN設定ガイド.docx").read_bytes())
    s3.put_object(Bucket="handbook", Key="docs/logo.png", Body=b"\x89PNG not a document")
    s3.put_object(Bucket="handbook", Key="other/skip.txt", Body=b"outside the prefix okapi")
    index = new_index()
    ds = _source(kendra, index, "handbook", s3_url, "handbook", prefix="docs/")
    job = sync(kendra, index, ds)
    assert job["Status"] == "SUCCEEDED", job
    assert metrics(job) == {"Added": 3, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 3}
    r = kendra.query(IndexId=index, QueryText="有給休暇", AttributeFilter=JA,
                     RequestedDocumentAttributes=["_source_uri", "_authors", "_category"])
    item = r["ResultItems"][0]
    assert item["DocumentId"] == "s3://handbook/docs/人事/休暇.md"
    assert item["DocumentURI"].startswith(f"{s3_url}/handbook/docs/")
    attrs = {a["Key"]: a["Value"] for a in item["DocumentAttributes"]}
    assert attrs["_authors"] == {"StringListValue": ["yamada"]} and attrs["_category"] == {"StringValue": "人事"}
    assert ids_of(kendra.query(IndexId=index, QueryText="okapi")) == ["s3://handbook/docs/it/vpn.txt"]

    s3.delete_object(Bucket="handbook", Key="docs/it/vpn.txt")
    s3.put_object(Bucket="handbook", Key="docs/guide.docx", Body=b"")  # now an empty, unreadable Word file
    s3.put_object(Bucket="handbook", Key="docs/new.md", Body=b"# New\n\nthe gerenuk page")
    job = sync(kendra, index, ds)
    assert metrics(job) == {"Added": 1, "Modified": 0, "Deleted": 1, "Failed": 1, "Scanned": 3}, job
    assert "guide.docx" in job["ErrorMessage"]
    assert ids_of(kendra.query(IndexId=index, QueryText="okapi")) == []
    assert ids_of(kendra.query(IndexId=index, QueryText="gerenuk")) == ["s3://handbook/docs/new.md"]


def test_unreachable_s3_fails_the_job_after_retries(kendra: Any, new_index: Any) -> None:
    index = new_index()
    ds = _source(kendra, index, "down", f"http://127.0.0.1:{free_port()}", "nobucket")
    job = sync(kendra, index, ds)
    assert job["Status"] == "FAILED"
    assert job["DataSourceErrorCode"] == "SourceUnavailable" and "cannot reach" in job["ErrorMessage"]


def test_missing_bucket_fails_the_job(kendra: Any, new_index: Any, s3_url: str) -> None:
    index = new_index()
    job = sync(kendra, index, _source(kendra, index, "nobucket", s3_url, "no-such-bucket"))
    assert (job["Status"], job["DataSourceErrorCode"]) == ("FAILED", "SourceMisconfigured")


def test_bad_s3_credentials_fail_the_job(kendra: Any, new_index: Any, tmp_path: Any) -> None:
    """moto's server with authentication on (INITIAL_NO_AUTH_ACTION_COUNT=0): unknown keys are refused."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url), 30, "moto server")
        index = new_index()
        job = sync(kendra, index, _source(kendra, index, "badkeys", url, "secured", key="AKIANOTAREALKEY00000"))
        assert (job["Status"], job["DataSourceErrorCode"]) == ("FAILED", "CredentialsRejected"), job
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/moto-api/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_native_s3_type_uses_the_servers_s3_endpoint(s3_url: str, tmp_path: Any) -> None:
    """Kendra's own S3 type (S3Configuration), with the endpoint and credentials from the server's environment."""
    from tests.conftest import Server, make_client

    s3 = _s3(s3_url)
    s3.create_bucket(Bucket="native")
    s3.put_object(Bucket="native", Key="a/one.md", Body=b"# One\n\nthe dugong page")
    s3.put_object(Bucket="native", Key="a/two.txt", Body=b"the manatee page")
    s3.put_object(Bucket="native", Key="b/three.txt", Body=b"excluded by prefix")
    server = Server(tmp_path / "data", env={"KENSAKU_S3_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "testing",
                                            "AWS_SECRET_ACCESS_KEY": "testing"}).start()
    try:
        c = make_client(server.url)
        index = c.create_index(Name="native", RoleArn=ROLE)["Id"]
        wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
        ds = c.create_data_source(IndexId=index, Name="native", Type="S3", RoleArn=ROLE, Configuration={
            "S3Configuration": {"BucketName": "native", "InclusionPrefixes": ["a/"],
                                "ExclusionPatterns": ["*.txt"]}})["Id"]
        job = sync(c, index, ds)
        assert metrics(job) == {"Added": 1, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 1}, job
        assert ids_of(c.query(IndexId=index, QueryText="dugong")) == ["s3://native/a/one.md"]
    finally:
        server.stop()


def test_s3_metadata_side_files_give_title_and_acl(kendra: Any, new_index: Any, s3_url: str) -> None:
    import json

    s3 = _s3(s3_url)
    s3.create_bucket(Bucket="private")
    s3.put_object(Bucket="private", Key="salaries.txt", Body=b"the salary table for the jerboa team")
    side = {"Title": "Salaries 2025", "AccessControlList": [{"Name": "hr", "Type": "GROUP", "Access": "ALLOW"}],
            "Attributes": {"_category": "confidential"}}
    s3.put_object(Bucket="private", Key="salaries.txt.metadata.json", Body=json.dumps(side).encode())
    s3.put_object(Bucket="private", Key="open.txt", Body=b"the public jerboa page")
    index = new_index()
    ds = _source(kendra, index, "private", s3_url, "private")
    assert metrics(sync(kendra, index, ds))["Added"] == 2

    def visible(groups: list[str]) -> list[str]:
        return ids_of(kendra.query(IndexId=index, QueryText="jerboa",
                                   UserContext={"UserId": "u", "Groups": groups}))

    assert sorted(visible(["hr"])) == ["s3://private/open.txt", "s3://private/salaries.txt"]
    assert visible(["eng"]) == ["s3://private/open.txt"]
    hit = kendra.query(IndexId=index, QueryText="salary", UserContext={"UserId": "u", "Groups": ["hr"]},
                       RequestedDocumentAttributes=["_category"])["ResultItems"][0]
    assert hit["DocumentTitle"]["Text"] == "Salaries 2025"
    assert hit["DocumentAttributes"] == [{"Key": "_category", "Value": {"StringValue": "confidential"}}]
    # Opening the document to everyone is a change of its side file only.
    side["AccessControlList"] = []
    s3.put_object(Bucket="private", Key="salaries.txt.metadata.json", Body=json.dumps(side).encode())
    assert metrics(sync(kendra, index, ds))["Modified"] == 1
    assert sorted(visible(["eng"])) == ["s3://private/open.txt", "s3://private/salaries.txt"]
