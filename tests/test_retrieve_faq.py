"""Retrieve (scenario 18) and FAQs (scenario 17) through boto3 against a real server.

FAQ files come from a local S3-compatible server: moto's ``moto_server`` (the S3 API, run as its
own process on a free port) stands in for S3/MinIO, which cannot run here; and from ``file://``
keys, Kensaku's extension for local files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from tests.conftest import ROLE, Server, make_client, put_and_wait, text_doc, wait_for

pytestmark = [pytest.mark.engines, pytest.mark.databases]  # PostgreSQL: with OpenSearch

TOPICS = [
    "Expense reports must be filed within thirty days of the purchase, with a scanned receipt attached.",
    "Travel to client sites is booked through the travel desk, which compares at least three fares.",
    "The security team reviews every new laptop before it is handed to an employee.",
    "Passwords expire every ninety days and must contain at least twelve characters.",
    "Parental leave can be taken in up to three blocks during the first two years.",
    "The office is closed on national holidays and during the new year break.",
    "Visitors sign in at the reception desk and wear a badge at all times.",
    "Backups of shared drives run every night and are kept for ninety days.",
]


def _long_document() -> str:
    """About 2,000 words: each topic told at length, so passages differ in what they are about."""
    paragraphs = []
    for n, topic in enumerate(TOPICS):
        filler = " ".join(f"Section {n} clause {k} explains the details of this rule for every team and office."
                          for k in range(20))
        paragraphs.append(f"{topic} {filler} {topic}")
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="module")
def faq_server(s3_url: str, tmp_path_factory: pytest.TempPathFactory, engine_env: dict[str, str],
               database_env: dict[str, str]) -> Iterator[Server]:
    env = {**engine_env, **database_env, "KENSAKU_S3_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           # the tests' tmp_path folders, where their file:// FAQ files are
           "KENSAKU_LOCAL_FILES_ROOT": str(tmp_path_factory.getbasetemp())}
    srv = Server(tmp_path_factory.mktemp("faq"), env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(faq_server: Server) -> Any:
    return make_client(faq_server.url)


@pytest.fixture(scope="module")
def index_id(client: Any) -> str:
    found: str = client.create_index(Name="nl", RoleArn=ROLE)["Id"]
    wait_for(lambda: client.describe_index(Id=found)["Status"] == "ACTIVE", what="ACTIVE")
    acl = [{"Name": "hr", "Type": "GROUP", "Access": "ALLOW"}]
    put_and_wait(client, found, [
        text_doc("handbook", _long_document(), title="Employee handbook",
                 attributes=[{"Key": "_source_uri", "Value": {"StringValue": "https://intra.example.com/handbook"}}]),
        text_doc("payroll", "Salaries are paid on the 25th of every month by bank transfer.", title="Payroll",
                 AccessControlList=acl),
    ])
    return found


def _wait_faq(client: Any, index_id: str, faq_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        d: dict[str, Any] = client.describe_faq(IndexId=index_id, Id=faq_id)
        return d if d["Status"] != "CREATING" else None

    result: dict[str, Any] = wait_for(done, 60, "FAQ loaded")
    return result


def test_retrieve_returns_passages_of_the_long_document(client: Any, index_id: str) -> None:
    r = client.retrieve(IndexId=index_id, QueryText="how long are backups of the shared drives kept?")
    assert r["QueryId"] and 1 <= len(r["ResultItems"]) <= 10
    first = r["ResultItems"][0]
    assert first["DocumentId"] == "handbook" and first["DocumentTitle"] == "Employee handbook"
    assert first["DocumentURI"] == "https://intra.example.com/handbook"
    assert "Backups of shared drives" in first["Content"]
    assert first["ScoreAttributes"]["ScoreConfidence"] in ("VERY_HIGH", "HIGH", "MEDIUM", "LOW")
    for item in r["ResultItems"]:
        assert len(item["Content"].split()) <= 220  # ~200 tokens
    several = client.retrieve(IndexId=index_id, QueryText="rules for employees", PageSize=100)
    assert len(several["ResultItems"]) > 10
    assert len({i["Content"] for i in several["ResultItems"]}) == len(several["ResultItems"])
    assert len(client.retrieve(IndexId=index_id, QueryText="rules", PageSize=150)["ResultItems"]) <= 100
    with pytest.raises(ParamValidationError):
        client.retrieve(IndexId=index_id)  # QueryText is required: refused by boto3 itself
    with pytest.raises(client.exceptions.ValidationException):
        client.retrieve(IndexId=index_id, QueryText="   ")


def test_retrieve_honours_attribute_filter_and_user_context(client: Any, index_id: str) -> None:
    query = "when are salaries paid?"
    assert "payroll" in [i["DocumentId"] for i in client.retrieve(IndexId=index_id, QueryText=query)["ResultItems"]]
    hr = client.retrieve(IndexId=index_id, QueryText=query, UserContext={"UserId": "ann", "Groups": ["hr"]})
    assert hr["ResultItems"][0]["DocumentId"] == "payroll"
    other = client.retrieve(IndexId=index_id, QueryText=query, UserContext={"UserId": "bob", "Groups": ["sales"]})
    assert "payroll" not in [i["DocumentId"] for i in other["ResultItems"]]
    only = {"EqualsTo": {"Key": "_source_uri", "Value": {"StringValue": "https://intra.example.com/handbook"}}}
    filtered = client.retrieve(IndexId=index_id, QueryText=query, AttributeFilter=only)
    assert {i["DocumentId"] for i in filtered["ResultItems"]} <= {"handbook"}
    ja = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "ja"}}}
    assert client.retrieve(IndexId=index_id, QueryText=query, AttributeFilter=ja)["ResultItems"] == []


def test_faq_from_s3_answers_questions_in_other_words(client: Any, index_id: str, s3_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket="hr-faqs")
    rows = [
        ("How many vacation days do employees get per year?", "Every employee gets 20 paid vacation days a year.",
         "https://intra.example.com/vacation"),
        ("Where do I park my bicycle?", "Bicycles go in the basement rack.", "https://intra.example.com/bikes"),
    ]
    body = "_question,_answer,_source_uri\n" + "".join(f'"{q}","{a}",{u}\n' for q, a, u in rows)
    s3.put_object(Bucket="hr-faqs", Key="faq.csv", Body=body.encode())
    faq_id = client.create_faq(IndexId=index_id, Name="hr", S3Path={"Bucket": "hr-faqs", "Key": "faq.csv"},
                               RoleArn=ROLE, FileFormat="CSV_WITH_HEADER")["Id"]
    described = _wait_faq(client, index_id, faq_id)
    assert described["Status"] == "ACTIVE" and described["FileFormat"] == "CSV_WITH_HEADER"
    stats = client.describe_index(Id=index_id)["IndexStatistics"]["FaqStatistics"]
    assert stats["IndexedQuestionAnswersCount"] == 2
    assert [f["Id"] for f in client.list_faqs(IndexId=index_id)["FaqSummaryItems"]] == [faq_id]

    r = client.query(IndexId=index_id, QueryText="how many vacation days do I get")
    qa = [i for i in r["ResultItems"] if i["Type"] == "QUESTION_ANSWER"]
    assert len(qa) == 1
    attrs = {a["Key"]: a for a in qa[0]["AdditionalAttributes"]}
    assert set(attrs) == {"QuestionText", "AnswerText"}
    assert {a["ValueType"] for a in attrs.values()} == {"TEXT_WITH_HIGHLIGHTS_VALUE"}
    assert "20 paid vacation days" in attrs["AnswerText"]["Value"]["TextWithHighlightsValue"]["Text"]
    assert qa[0]["DocumentURI"] == "https://intra.example.com/vacation"
    # In other words, sharing almost none of the question's words:
    reworded = client.query(IndexId=index_id, QueryText="what is my annual holiday allowance?")
    assert [i["Type"] for i in reworded["ResultItems"]][:1] == ["QUESTION_ANSWER"]
    docs_only = client.query(IndexId=index_id, QueryText="how many vacation days do I get",
                             QueryResultTypeFilter="DOCUMENT")
    assert "QUESTION_ANSWER" not in {i["Type"] for i in docs_only["ResultItems"]}
    # An FAQ-only match gives Retrieve nothing from the FAQ.
    assert all(not i["DocumentId"].startswith("faq-") for i in
               client.retrieve(IndexId=index_id, QueryText="where do I park my bicycle?")["ResultItems"])

    client.delete_faq(IndexId=index_id, Id=faq_id)
    after = client.query(IndexId=index_id, QueryText="how many vacation days do I get")
    assert "QUESTION_ANSWER" not in {i["Type"] for i in after["ResultItems"]}
    assert client.describe_index(Id=index_id)["IndexStatistics"]["FaqStatistics"]["IndexedQuestionAnswersCount"] == 0
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_faq(IndexId=index_id, Id=faq_id)


def test_faq_files_from_local_paths_in_json_and_csv(client: Any, index_id: str, tmp_path: Path) -> None:
    faq_json = tmp_path / "faq.json"
    faq_json.write_text(json.dumps({"SchemaVersion": 1, "FaqDocuments": [
        {"Question": "経費精算の締め日はいつですか？", "Answer": "毎月25日です。", "Attributes": {}},
    ]}, ensure_ascii=False), encoding="utf-8")
    json_id = client.create_faq(IndexId=index_id, Name="ja", S3Path={"Bucket": "local", "Key": faq_json.as_uri()},
                                RoleArn=ROLE, FileFormat="JSON", LanguageCode="ja")["Id"]
    assert _wait_faq(client, index_id, json_id)["Status"] == "ACTIVE"
    ja = {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": "ja"}}}
    r = client.query(IndexId=index_id, QueryText="経費精算はいつまでに出せばいい？", AttributeFilter=ja)
    assert r["ResultItems"][0]["Type"] == "QUESTION_ANSWER"
    # An English query (English only, Kendra's default) does not see the Japanese FAQ.
    assert "QUESTION_ANSWER" not in {i["Type"] for i in
                                     client.query(IndexId=index_id, QueryText="経費精算の締め日")["ResultItems"]}

    bad = tmp_path / "bad.csv"
    bad.write_text("only one column\n", encoding="utf-8")
    bad_id = client.create_faq(IndexId=index_id, Name="bad", S3Path={"Bucket": "local", "Key": bad.as_uri()},
                               RoleArn=ROLE)["Id"]
    failed = _wait_faq(client, index_id, bad_id)
    assert failed["Status"] == "FAILED" and "question, answer" in failed["ErrorMessage"]
    missing_id = client.create_faq(IndexId=index_id, Name="gone", RoleArn=ROLE,
                                   S3Path={"Bucket": "local", "Key": (tmp_path / "none.csv").as_uri()})["Id"]
    assert _wait_faq(client, index_id, missing_id)["Status"] == "FAILED"
    for faq_id in (json_id, bad_id, missing_id):
        client.delete_faq(IndexId=index_id, Id=faq_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_faq(IndexId=index_id, Id="0" * 36)


def test_faq_attributes_are_typed_by_the_index_and_returned(client: Any, tmp_path: Path) -> None:
    """CSV_WITH_HEADER columns and JSON Attributes become the results' DocumentAttributes, typed by the
    index's fields; a column the index does not declare, or a value of the wrong type, fails the FAQ."""
    index_id: str = client.create_index(Name="faq-attrs", RoleArn=ROLE)["Id"]
    wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE")
    client.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "team", "Type": "STRING_VALUE", "Search": {"Displayable": True, "Facetable": True}}])
    wait_for(lambda: client.describe_index(Id=index_id)["Status"] == "ACTIVE", what="ACTIVE after UpdateIndex")

    csv_file = tmp_path / "it.csv"
    csv_file.write_text("_question,_answer,_category,team,_view_count,_authors\n"
                        '"How do I reset my password?","Use the self-service portal.",Accounts,IT,42,"ann, bob"\n',
                        encoding="utf-8")
    faq_id = client.create_faq(IndexId=index_id, Name="it", S3Path={"Bucket": "local", "Key": csv_file.as_uri()},
                               RoleArn=ROLE, FileFormat="CSV_WITH_HEADER")["Id"]
    assert _wait_faq(client, index_id, faq_id)["Status"] == "ACTIVE"
    question = "how can I reset my password"
    (qa,) = [i for i in client.query(IndexId=index_id, QueryText=question)["ResultItems"]
             if i["Type"] == "QUESTION_ANSWER"]
    # Displayable by default: team (declared so) and _faq_id; _category is not displayable by default.
    assert {a["Key"]: a["Value"] for a in qa["DocumentAttributes"]} == {
        "_faq_id": {"StringValue": faq_id}, "team": {"StringValue": "IT"}}
    (qa,) = [i for i in client.query(IndexId=index_id, QueryText=question, RequestedDocumentAttributes=[
        "_category", "_view_count", "_authors"])["ResultItems"] if i["Type"] == "QUESTION_ANSWER"]
    assert {a["Key"]: a["Value"] for a in qa["DocumentAttributes"]} == {
        "_faq_id": {"StringValue": faq_id}, "_category": {"StringValue": "Accounts"},
        "_view_count": {"LongValue": 42}, "_authors": {"StringListValue": ["ann", "bob"]}}

    json_file = tmp_path / "hr.json"
    json_file.write_text(json.dumps({"SchemaVersion": 1, "FaqDocuments": [
        {"Question": "When is payday?", "Answer": "On the 25th.",
         "Attributes": {"_created_at": "2024-05-01T09:00:00Z", "team": "HR"}}]}), encoding="utf-8")
    json_id = client.create_faq(IndexId=index_id, Name="hr", S3Path={"Bucket": "local", "Key": json_file.as_uri()},
                                RoleArn=ROLE, FileFormat="JSON")["Id"]
    assert _wait_faq(client, index_id, json_id)["Status"] == "ACTIVE"
    (qa,) = [i for i in client.query(IndexId=index_id, QueryText="when is payday",
                                     RequestedDocumentAttributes=["_created_at", "team"])["ResultItems"]
             if i["Type"] == "QUESTION_ANSWER"]
    values = {a["Key"]: a["Value"] for a in qa["DocumentAttributes"]}
    assert values["team"] == {"StringValue": "HR"}
    assert values["_created_at"]["DateValue"].isoformat() == "2024-05-01T09:00:00+00:00"

    def faq_ids(question: str, attribute_filter: dict[str, Any]) -> list[str]:
        r = client.query(IndexId=index_id, QueryText=question, AttributeFilter=attribute_filter)
        return [a["Value"]["StringValue"] for i in r["ResultItems"] if i["Type"] == "QUESTION_ANSWER"
                for a in i["DocumentAttributes"] if a["Key"] == "_faq_id"]

    def team(name: str) -> dict[str, Any]:
        return {"EqualsTo": {"Key": "team", "Value": {"StringValue": name}}}

    # The query's AttributeFilter applies to FAQ entries as to documents.
    assert faq_ids(question, team("IT")) == [faq_id]
    assert faq_ids(question, team("HR")) == []
    assert faq_ids("when is payday", {"AndAllFilters": [
        team("HR"), {"GreaterThan": {"Key": "_created_at", "Value": {"DateValue": datetime(2024, 1, 1, tzinfo=UTC)}}}]}
    ) == [json_id]
    assert faq_ids("when is payday", {"LessThan": {"Key": "_created_at", "Value": {
        "DateValue": datetime(2024, 1, 1, tzinfo=UTC)}}}) == []
    assert faq_ids(question, {"ContainsAny": {"Key": "_authors", "Value": {"StringListValue": ["bob", "eve"]}}}) == [
        faq_id]
    assert faq_ids(question, {"NotFilter": team("IT")}) == []

    for name, body, why in (
        ("undeclared", "_question,_answer,room\nWhere is the lab?,Floor 3,301\n", "room is not a field of the index"),
        ("wrong-type", "_question,_answer,_view_count\nWhere is the lab?,Floor 3,many\n", "must be a LONG_VALUE"),
    ):
        bad = tmp_path / f"{name}.csv"
        bad.write_text(body, encoding="utf-8")
        bad_id = client.create_faq(IndexId=index_id, Name=name, S3Path={"Bucket": "local", "Key": bad.as_uri()},
                                   RoleArn=ROLE, FileFormat="CSV_WITH_HEADER")["Id"]
        failed = _wait_faq(client, index_id, bad_id)
        assert failed["Status"] == "FAILED" and why in failed["ErrorMessage"] and "Line 2" in failed["ErrorMessage"]
