"""Query suggestions through the Kendra API with a real boto3 client (scenario 20, in English and Japanese).

The server rebuilds suggestions on every call here (KENSAKU_SUGGESTIONS_REFRESH_SECONDS=0) except in
the refresh test; query events reach the store asynchronously, so tests wait for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JA, ROLE, Server, make_client, put_and_wait, text_doc, wait_active, wait_for
from tests.test_analytics import db_rows


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blocklists")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, files: Path) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("data"), env={
        "KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0", "KENSAKU_LOCAL_FILES_ROOT": str(files)}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(srv: Server) -> Any:
    return make_client(srv.url)


def new_index(client: Any, docs: list[dict[str, Any]]) -> str:
    index_id: str = client.create_index(Name="suggest", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    if docs:
        put_and_wait(client, index_id, docs)
    return index_id


def texts(r: dict[str, Any]) -> list[str]:
    return [s["Value"]["Text"]["Text"] for s in r["Suggestions"]]


def suggested(client: Any, index_id: str, prefix: str, expected: str, **kwargs: Any) -> dict[str, Any]:
    """Wait until ``expected`` is among the suggestions for ``prefix`` (query events land asynchronously)."""
    result: dict[str, Any] = wait_for(
        lambda: (r := client.get_query_suggestions(IndexId=index_id, QueryText=prefix, **kwargs))
        and expected in texts(r) and r, 15, f"suggestion {expected!r} for {prefix!r}")
    return result


def test_english_query_suggestions_scenario(client: Any) -> None:
    index_id = new_index(client, [text_doc("v1", "Our vacation policy 2024 gives 20 days.", title="Leave")])
    client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
    for visitor in ("u1", "u2", "u3"):
        assert client.query(IndexId=index_id, QueryText="vacation policy 2024", VisitorId=visitor)["ResultItems"]
        client.query(IndexId=index_id, QueryText="zzqx nothing", VisitorId=visitor)
    r = suggested(client, index_id, "Vaca", "vacation policy 2024")
    first = r["Suggestions"][0]
    assert first["Value"]["Text"]["Text"] == "vacation policy 2024"
    assert first["Value"]["Text"]["Highlights"] == [{"BeginOffset": 0, "EndOffset": 4}]
    assert len(r["QuerySuggestionsId"]) <= 36 and len(first["Id"]) <= 73
    assert client.get_query_suggestions(IndexId=index_id, QueryText="v")["Suggestions"] == []
    assert client.get_query_suggestions(IndexId=index_id, QueryText="")["Suggestions"] == []
    assert client.get_query_suggestions(IndexId=index_id, QueryText="zzqx")["Suggestions"] == []

    described = client.describe_query_suggestions_config(IndexId=index_id)
    assert described["Status"] == "ACTIVE" and described["TotalSuggestionsCount"] == 1
    assert described["MinimumQueryCount"] == 1 and described["Mode"] == "ENABLED"

    client.update_query_suggestions_config(IndexId=index_id, Mode="LEARN_ONLY")
    assert client.get_query_suggestions(IndexId=index_id, QueryText="vaca")["Suggestions"] == []
    client.update_query_suggestions_config(IndexId=index_id, Mode="ENABLED")
    assert texts(client.get_query_suggestions(IndexId=index_id, QueryText="vaca")) == ["vacation policy 2024"]

    client.clear_query_suggestions(IndexId=index_id)
    assert client.get_query_suggestions(IndexId=index_id, QueryText="vaca")["Suggestions"] == []
    described = client.describe_query_suggestions_config(IndexId=index_id)
    assert described["TotalSuggestionsCount"] == 0 and described["LastClearTime"].year >= 2024
    # Queries after the clear count again.
    client.query(IndexId=index_id, QueryText="vacation policy 2024", VisitorId="u4")
    suggested(client, index_id, "vaca", "vacation policy 2024")


def test_japanese_prefix_matches_by_kanji_reading_and_romaji(client: Any) -> None:
    index_id = new_index(client, [text_doc("k1", "経費精算の締め日は毎月25日です。", title="経費精算", lang="ja")])
    client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
    for visitor in ("u1", "u2", "u3"):
        assert client.query(IndexId=index_id, QueryText="経費精算", AttributeFilter=JA,
                            VisitorId=visitor)["ResultItems"]
    for prefix in ("けいひ", "keihi", "ケイヒ", "経費", "ＫＥＩＨＩ"):
        r = suggested(client, index_id, prefix, "経費精算")
        assert r["Suggestions"][0]["Value"]["Text"] == {
            "Text": "経費精算", "Highlights": [{"BeginOffset": 0, "EndOffset": 2}]}, prefix
    assert client.get_query_suggestions(IndexId=index_id, QueryText="しめび")["Suggestions"] == []


def test_minimum_users_counts_only_queries_with_user_information(srv: Server, client: Any) -> None:
    index_id = new_index(client, [text_doc("b1", "Quarterly budget planning guide")])
    client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=2, MinimumNumberOfQueryingUsers=2,
                                           IncludeQueriesWithoutUserInformation=False)
    for _ in range(3):
        client.query(IndexId=index_id, QueryText="budget planning")  # anonymous: never counts
    client.query(IndexId=index_id, QueryText="budget planning", VisitorId="a")
    client.query(IndexId=index_id, QueryText="budget planning", VisitorId="a")
    wait_for(lambda: db_rows(srv.data_dir, "SELECT COUNT(*) FROM queries WHERE index_id = ?", (index_id,))
             == [(5,)], 10, "queries stored")
    assert client.get_query_suggestions(IndexId=index_id, QueryText="budg")["Suggestions"] == []
    client.query(IndexId=index_id, QueryText="budget planning", VisitorId="b")
    suggested(client, index_id, "budg", "budget planning")


def test_block_list_from_a_local_file_removes_suggestions(client: Any, files: Path) -> None:
    index_id = new_index(client, [text_doc("s1", "salary review process and salary bands")])
    client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
    for q in ("salary review", "salary bands"):
        client.query(IndexId=index_id, QueryText=q)
    suggested(client, index_id, "sala", "salary bands")
    (files / "block.txt").write_text("Bands\n\n禁止語\n", encoding="utf-8")
    source = {"Bucket": "local", "Key": f"file://{files / 'block.txt'}"}
    list_id = client.create_query_suggestions_block_list(IndexId=index_id, Name="hr", SourceS3Path=source,
                                                         RoleArn=ROLE)["Id"]
    described = client.describe_query_suggestions_block_list(IndexId=index_id, Id=list_id)
    assert described["Status"] == "ACTIVE" and described["ItemCount"] == 2 and described["FileSizeBytes"] > 0
    assert texts(client.get_query_suggestions(IndexId=index_id, QueryText="sala")) == ["salary review"]
    listed = client.list_query_suggestions_block_lists(IndexId=index_id)["BlockListSummaryItems"]
    assert [(i["Id"], i["Name"], i["ItemCount"]) for i in listed] == [(list_id, "hr", 2)]

    (files / "block.txt").write_text("review\n", encoding="utf-8")
    client.update_query_suggestions_block_list(IndexId=index_id, Id=list_id, Name="hr2")
    assert texts(client.get_query_suggestions(IndexId=index_id, QueryText="sala")) == ["salary bands"]
    client.delete_query_suggestions_block_list(IndexId=index_id, Id=list_id)
    assert sorted(texts(client.get_query_suggestions(IndexId=index_id, QueryText="sala"))) == [
        "salary bands", "salary review"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_query_suggestions_block_list(IndexId=index_id, Id=list_id)

    outside = client.create_query_suggestions_block_list(
        IndexId=index_id, Name="bad", SourceS3Path={"Bucket": "local", "Key": "file:///etc/hostname"},
        RoleArn=ROLE)["Id"]
    failed = client.describe_query_suggestions_block_list(IndexId=index_id, Id=outside)
    assert failed["Status"] == "FAILED" and "outside" in failed["ErrorMessage"]


def test_document_title_suggestions_respect_filters(client: Any) -> None:
    dept = [{"Key": "dept", "Value": {"StringValue": "HR"}}]
    index_id = new_index(client, [])
    client.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Displayable": True, "Facetable": True}}])
    wait_active(client, index_id)
    put_and_wait(client, index_id, [
        text_doc("t1", "body", title="Travel expense rules", attributes=dept),
        text_doc("t2", "body", title="Travel booking"),
        text_doc("t3", "本文", title="旅費規程", lang="ja"),
    ])
    r = client.get_query_suggestions(IndexId=index_id, QueryText="trav", SuggestionTypes=["DOCUMENT_ATTRIBUTES"])
    assert sorted(texts(r)) == ["Travel booking", "Travel expense rules"]
    assert {s["SourceDocuments"][0]["DocumentId"] for s in r["Suggestions"]} == {"t1", "t2"}
    assert r["Suggestions"][0]["SourceDocuments"][0]["SuggestionAttributes"] == ["_document_title"]
    r = client.get_query_suggestions(
        IndexId=index_id, QueryText="trav", SuggestionTypes=["DOCUMENT_ATTRIBUTES"],
        AttributeSuggestionsConfig={"AttributeFilter": {"EqualsTo": {"Key": "dept", "Value": {"StringValue": "HR"}}},
                                    "AdditionalResponseAttributes": ["dept"]})
    assert texts(r) == ["Travel expense rules"]
    assert r["Suggestions"][0]["SourceDocuments"][0]["AdditionalAttributes"] == [
        {"Key": "dept", "Value": {"StringValue": "HR"}}]
    r = client.get_query_suggestions(IndexId=index_id, QueryText="りょひ", SuggestionTypes=["DOCUMENT_ATTRIBUTES"])
    assert texts(r) == ["旅費規程"]
    client.update_query_suggestions_config(IndexId=index_id, AttributeSuggestionsConfig={
        "AttributeSuggestionsMode": "INACTIVE"})
    assert client.get_query_suggestions(IndexId=index_id, QueryText="trav",
                                        SuggestionTypes=["DOCUMENT_ATTRIBUTES"])["Suggestions"] == []


def test_bad_suggestion_input_gets_typed_errors(client: Any) -> None:
    index_id = new_index(client, [])
    with pytest.raises(client.exceptions.ValidationException):
        client.get_query_suggestions(IndexId=index_id, QueryText="abc", MaxSuggestionsCount=0)
    with pytest.raises(client.exceptions.ValidationException):
        client.get_query_suggestions(IndexId=index_id, QueryText="abc", SuggestionTypes=["BOGUS"])
    with pytest.raises(client.exceptions.ValidationException):
        client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=10001)
    with pytest.raises(client.exceptions.ValidationException):
        client.update_query_suggestions_config(IndexId=index_id, AttributeSuggestionsConfig={
            "SuggestableConfigList": [{"AttributeName": "nope", "Suggestable": True}]})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_query_suggestions(IndexId="f" * 36, QueryText="abc")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_query_suggestions_block_list(IndexId=index_id, Id="e" * 36)
    failed = client.create_query_suggestions_block_list(
        IndexId=index_id, Name="x", SourceS3Path={"Bucket": "local", "Key": "file:///no/such/file"}, RoleArn=ROLE)
    assert client.describe_query_suggestions_block_list(IndexId=index_id, Id=failed["Id"])["Status"] == "FAILED"


def test_new_queries_show_up_after_the_background_refresh(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "1"}).start()
    try:
        c = make_client(srv.url)
        index_id = new_index(c, [text_doc("r1", "onboarding checklist for engineers")])
        c.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
        assert c.get_query_suggestions(IndexId=index_id, QueryText="onbo")["Suggestions"] == []  # builds now
        c.query(IndexId=index_id, QueryText="onboarding checklist")
        suggested(c, index_id, "onbo", "onboarding checklist")
        put_and_wait(c, index_id, [text_doc("r2", "how to onboard", title="Onboarding for managers")])
        suggested(c, index_id, "onbo", "Onboarding for managers", SuggestionTypes=["DOCUMENT_ATTRIBUTES"])
    finally:
        srv.stop()


def test_block_list_is_read_from_an_s3_compatible_store(tmp_path: Path, s3_url: str) -> None:
    """moto's S3 server stands in for S3 (a real S3 API server on a free port)."""
    import boto3
    from botocore.config import Config

    endpoint = s3_url
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    srv = Server(tmp_path, env={"KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0", "KENSAKU_S3_ENDPOINT_URL": endpoint,
                                **creds}).start()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="lists")
        s3.put_object(Bucket="lists", Key="ja/block.txt", Body="社外秘\n".encode())
        c = make_client(srv.url)
        index_id = new_index(c, [text_doc("j1", "社外秘の資料と公開資料", lang="ja")])
        c.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1, MinimumNumberOfQueryingUsers=1)
        for q in ("社外秘資料", "公開資料"):
            c.query(IndexId=index_id, QueryText=q, AttributeFilter=JA)
        suggested(c, index_id, "しゃがい", "社外秘資料")
        list_id = c.create_query_suggestions_block_list(
            IndexId=index_id, Name="secret", SourceS3Path={"Bucket": "lists", "Key": "ja/block.txt"},
            RoleArn=ROLE)["Id"]
        assert c.describe_query_suggestions_block_list(IndexId=index_id, Id=list_id)["ItemCount"] == 1
        assert c.get_query_suggestions(IndexId=index_id, QueryText="しゃがい")["Suggestions"] == []
        missing = c.create_query_suggestions_block_list(
            IndexId=index_id, Name="missing", SourceS3Path={"Bucket": "lists", "Key": "nope.txt"}, RoleArn=ROLE)["Id"]
        failed = c.describe_query_suggestions_block_list(IndexId=index_id, Id=missing)
        assert failed["Status"] == "FAILED" and "NoSuchKey" in failed["ErrorMessage"]
    finally:
        srv.stop()
