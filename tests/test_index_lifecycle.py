"""Index lifecycle through boto3: create, describe, list, update, delete."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import ROLE, text_doc, wait_active, wait_for, wait_indexed

pytestmark = [pytest.mark.engines, pytest.mark.databases]  # PostgreSQL: with OpenSearch

BUILTINS = {
    "_authors": "STRING_LIST_VALUE", "_category": "STRING_VALUE", "_created_at": "DATE_VALUE",
    "_data_source_id": "STRING_VALUE", "_document_title": "STRING_VALUE", "_excerpt_page_number": "LONG_VALUE",
    "_faq_id": "STRING_VALUE", "_file_type": "STRING_VALUE", "_language_code": "STRING_VALUE",
    "_last_updated_at": "DATE_VALUE", "_source_uri": "STRING_VALUE", "_tenant_id": "STRING_VALUE",
    "_version": "STRING_VALUE", "_view_count": "LONG_VALUE",
}


def test_created_index_becomes_active_with_builtin_fields(kendra: Any) -> None:
    index_id = kendra.create_index(Name="docs", RoleArn=ROLE, Edition="DEVELOPER_EDITION")["Id"]
    try:
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9-]{35}", index_id)
        first = kendra.describe_index(Id=index_id)
        assert first["Status"] in ("CREATING", "ACTIVE")
        wait_active(kendra, index_id)
        d = kendra.describe_index(Id=index_id)
        assert isinstance(d["CreatedAt"], datetime)
        assert d["Edition"] == "DEVELOPER_EDITION"
        assert {c["Name"]: c["Type"] for c in d["DocumentMetadataConfigurations"]} == BUILTINS
        stats = d["IndexStatistics"]
        assert stats["TextDocumentStatistics"]["IndexedTextDocumentsCount"] == 0
        assert stats["FaqStatistics"]["IndexedQuestionAnswersCount"] == 0
    finally:
        kendra.delete_index(Id=index_id)


def test_edition_defaults_to_enterprise(kendra: Any, new_index: Any) -> None:
    assert kendra.describe_index(Id=new_index())["Edition"] == "ENTERPRISE_EDITION"


def test_create_with_the_same_client_token_is_idempotent(kendra: Any) -> None:
    token = f"tok-{uuid.uuid4()}"
    a = kendra.create_index(Name="x", RoleArn=ROLE, ClientToken=token)["Id"]
    b = kendra.create_index(Name="x", RoleArn=ROLE, ClientToken=token)["Id"]
    try:
        assert a == b
        listed = [i["Id"] for i in kendra.list_indices(MaxResults=100)["IndexConfigurationSummaryItems"]]
        assert listed.count(a) == 1
    finally:
        kendra.delete_index(Id=a)


def test_delete_twice_then_gone(kendra: Any) -> None:
    index_id = kendra.create_index(Name="gone", RoleArn=ROLE)["Id"]
    wait_active(kendra, index_id)
    r = kendra.delete_index(Id=index_id)
    assert set(r) == {"ResponseMetadata"}
    kendra.delete_index(Id=index_id)

    def gone() -> bool:
        try:
            kendra.describe_index(Id=index_id)
        except kendra.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_for(gone, what="index deleted")
    assert index_id not in [i["Id"] for i in kendra.list_indices(MaxResults=100)["IndexConfigurationSummaryItems"]]


def test_list_indices_pages_with_next_token(kendra: Any, new_index: Any) -> None:
    made = {new_index() for _ in range(3)}
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"MaxResults": 2, **({"NextToken": token} if token else {})}
        r = kendra.list_indices(**kwargs)
        assert len(r["IndexConfigurationSummaryItems"]) <= 2
        seen.extend(i["Id"] for i in r["IndexConfigurationSummaryItems"])
        token = r.get("NextToken")
        if not token:
            break
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.list_indices(NextToken="garbage")
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.list_indices(MaxResults=101)


def test_update_index_adds_custom_fields_with_flags(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    kendra.update_index(Id=index_id, Description="HR documents", DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Facetable": True, "Sortable": True}},
        {"Name": "year", "Type": "LONG_VALUE", "Relevance": {"Importance": 5}},
        {"Name": "_category", "Type": "STRING_VALUE", "Search": {"Facetable": True}},
    ])
    wait_active(kendra, index_id)
    d = kendra.describe_index(Id=index_id)
    fields = {c["Name"]: c for c in d["DocumentMetadataConfigurations"]}
    assert d["Description"] == "HR documents"
    assert fields["dept"]["Search"] == {"Facetable": True, "Searchable": True, "Displayable": True, "Sortable": True}
    assert fields["year"]["Relevance"]["Importance"] == 5
    assert fields["_category"]["Search"]["Facetable"] is True
    with pytest.raises(kendra.exceptions.ValidationException, match="cannot be changed"):
        kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[{"Name": "dept", "Type": "LONG_VALUE"}])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
            {"Name": "tags", "Type": "STRING_LIST_VALUE", "Search": {"Sortable": True}}])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
            {"Name": "_mine", "Type": "STRING_VALUE"}])


def test_a_field_name_documents_and_queries_could_not_use_is_refused(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    for name in ("dept name", "部署", "a.b", "-dept", "dept/2"):  # DocumentAttributeKey's pattern refuses them
        with pytest.raises(kendra.exceptions.ValidationException, match="pattern"):
            kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
                {"Name": name, "Type": "STRING_VALUE", "Search": {"Facetable": True}}])
    assert kendra.describe_index(Id=index_id)["Status"] == "ACTIVE"
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept-2", "Type": "STRING_VALUE", "Search": {"Facetable": True}}])
    wait_active(kendra, index_id)
    attributes = [{"Key": "dept-2", "Value": {"StringValue": "hr"}}]
    assert kendra.batch_put_document(IndexId=index_id, Documents=[
        text_doc("leave", "annual leave policy", attributes=attributes)])["FailedDocuments"] == []
    wait_indexed(kendra, index_id, ["leave"])
    hits = kendra.query(IndexId=index_id, QueryText="leave", Facets=[{"DocumentAttributeKey": "dept-2"}],
                        AttributeFilter={"EqualsTo": {"Key": "dept-2", "Value": {"StringValue": "hr"}}})
    assert [h["DocumentId"] for h in hits["ResultItems"]] == ["leave"]


def test_unknown_index_is_resource_not_found_everywhere(kendra: Any) -> None:
    missing = str(uuid.uuid4())
    for call in (
        lambda: kendra.query(IndexId=missing, QueryText="x"),
        lambda: kendra.batch_put_document(IndexId=missing, Documents=[{"Id": "a", "Blob": b"x"}]),
        lambda: kendra.update_index(Id=missing, Description="x"),
        lambda: kendra.delete_index(Id=missing),
        lambda: kendra.batch_get_document_status(IndexId=missing, DocumentInfoList=[{"DocumentId": "a"}]),
    ):
        with pytest.raises(kendra.exceptions.ResourceNotFoundException):
            call()
