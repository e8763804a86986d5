"""Featured results through boto3: sets pinned above the results of an exact query text, conflicts
as Kendra reports them, ACLs, status, update, batch delete and paging."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import put_and_wait, text_doc

pytestmark = pytest.mark.databases  # the tests on the shared server run with PostgreSQL too


def featured_ids(response: dict[str, Any]) -> list[str]:
    return [item["DocumentId"] for item in response.get("FeaturedResultsItems", [])]


@pytest.fixture
def index(kendra: Any, new_index: Any) -> str:
    index_id: str = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("policy", "The travel policy explains how to book trips and claim expenses.", title="Travel policy",
                 Attributes=[{"Key": "_source_uri", "Value": {"StringValue": "https://wiki.example/travel"}}]),
        text_doc("form", "Expense claim form for travel costs.", title="Expense form"),
        text_doc("hr-only", "Salary bands for travel staff.", title="Salary bands",
                 AccessControlList=[{"Name": "hr", "Type": "GROUP", "Access": "ALLOW"}]),
        text_doc("other", "Canteen menu of the week; travel mugs on sale.", title="Canteen"),
    ])
    return index_id


def test_a_featured_result_is_pinned_first_for_an_exact_query_text(kendra: Any, index: str) -> None:
    created = kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName="travel", Description="what people want for travel",
        QueryTexts=["travel", "出張 申請"], FeaturedDocuments=[{"Id": "form"}, {"Id": "policy"}],
    )["FeaturedResultsSet"]
    assert created["Status"] == "ACTIVE" and created["QueryTexts"] == ["travel", "出張 申請"]
    assert created["FeaturedDocuments"] == [{"Id": "form"}, {"Id": "policy"}]
    assert created["CreationTimestamp"] == created["LastUpdatedTimestamp"] > 1_600_000_000_000  # Unix ms

    r = kendra.query(IndexId=index, QueryText="travel")
    assert featured_ids(r) == ["form", "policy"]  # the set's order, whatever the ranking says
    item = r["FeaturedResultsItems"][1]
    assert item["Type"] == "DOCUMENT" and item["DocumentTitle"]["Text"] == "Travel policy"
    assert item["DocumentURI"] == "https://wiki.example/travel" and "book trips" in item["DocumentExcerpt"]["Text"]
    assert item["Id"].startswith(r["QueryId"]) and item["FeedbackToken"]
    assert "ScoreAttributes" not in item
    assert [i["DocumentId"] for i in r["ResultItems"]]  # the ordinary results are still there

    # Matching is on the whole text, after width, case and spacing are normalised.
    assert featured_ids(kendra.query(IndexId=index, QueryText="  TRAVEL ")) == ["form", "policy"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="ｔｒａｖｅｌ")) == ["form", "policy"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="出張　申請")) == ["form", "policy"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="travel policy")) == []
    # Only the first page carries them.
    assert featured_ids(kendra.query(IndexId=index, QueryText="travel", PageNumber=2, PageSize=1)) == []


def test_a_query_text_of_another_set_is_a_conflict_whatever_its_status(kendra: Any, index: str) -> None:
    first = kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName="first", Status="INACTIVE", QueryTexts=["expenses", "travel"],
        FeaturedDocuments=[{"Id": "form"}])["FeaturedResultsSet"]
    with pytest.raises(kendra.exceptions.FeaturedResultsConflictException) as raised:
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="second",
                                           QueryTexts=["Travel", "canteen"], FeaturedDocuments=[{"Id": "other"}])
    assert raised.value.response["ConflictingItems"] == [
        {"QueryText": "Travel", "SetName": "first", "SetId": first["FeaturedResultsSetId"]}]
    assert [s["FeaturedResultsSetName"] for s in
            kendra.list_featured_results_sets(IndexId=index)["FeaturedResultsSetSummaryItems"]] == ["first"]
    second = kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="second",
                                                QueryTexts=["canteen"])["FeaturedResultsSet"]
    with pytest.raises(kendra.exceptions.FeaturedResultsConflictException) as raised:
        kendra.update_featured_results_set(IndexId=index, FeaturedResultsSetId=second["FeaturedResultsSetId"],
                                           QueryTexts=["canteen", "EXPENSES"])
    assert raised.value.response["ConflictingItems"][0]["SetId"] == first["FeaturedResultsSetId"]
    # The failed update changed nothing.
    assert kendra.describe_featured_results_set(
        IndexId=index, FeaturedResultsSetId=second["FeaturedResultsSetId"])["QueryTexts"] == ["canteen"]


def test_inactive_sets_and_updates(kendra: Any, index: str) -> None:
    set_id = kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName="menu", Status="INACTIVE", QueryTexts=["lunch"],
        FeaturedDocuments=[{"Id": "other"}])["FeaturedResultsSet"]["FeaturedResultsSetId"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="lunch")) == []
    updated = kendra.update_featured_results_set(
        IndexId=index, FeaturedResultsSetId=set_id, Status="ACTIVE", QueryTexts=["lunch", "menu"],
        FeaturedDocuments=[{"Id": "policy"}, {"Id": "other"}])["FeaturedResultsSet"]
    assert updated["Status"] == "ACTIVE" and updated["FeaturedResultsSetName"] == "menu"
    assert updated["LastUpdatedTimestamp"] >= updated["CreationTimestamp"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="menu")) == ["policy", "other"]
    kendra.update_featured_results_set(IndexId=index, FeaturedResultsSetId=set_id, FeaturedResultsSetName="food",
                                       Status="INACTIVE")
    assert featured_ids(kendra.query(IndexId=index, QueryText="menu")) == []
    described = kendra.describe_featured_results_set(IndexId=index, FeaturedResultsSetId=set_id)
    assert described["FeaturedResultsSetName"] == "food" and described["QueryTexts"] == ["lunch", "menu"]


def test_only_documents_that_exist_and_the_asker_may_see(kendra: Any, index: str) -> None:
    set_id = kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName="pay", QueryTexts=["pay"],
        FeaturedDocuments=[{"Id": "hr-only"}, {"Id": "no-such-doc"}, {"Id": "policy"}],
    )["FeaturedResultsSet"]["FeaturedResultsSetId"]
    described = kendra.describe_featured_results_set(IndexId=index, FeaturedResultsSetId=set_id)
    assert described["FeaturedDocumentsWithMetadata"] == [
        {"Id": "hr-only", "Title": "Salary bands"},
        {"Id": "policy", "Title": "Travel policy", "URI": "https://wiki.example/travel"}]
    assert described["FeaturedDocumentsMissing"] == [{"Id": "no-such-doc"}]
    assert featured_ids(kendra.query(IndexId=index, QueryText="pay", UserContext={"UserId": "ann"})) == ["policy"]
    assert featured_ids(kendra.query(IndexId=index, QueryText="pay",
                                     UserContext={"UserId": "bo", "Groups": ["hr"]})) == ["hr-only", "policy"]
    kendra.batch_delete_document(IndexId=index, DocumentIdList=["policy"])
    put_and_wait(kendra, index, [text_doc("no-such-doc", "Now it exists.", title="Late")])
    assert featured_ids(kendra.query(IndexId=index, QueryText="pay", UserContext={"UserId": "ann"})) == [
        "no-such-doc"]


def test_limits_and_validation(kendra: Any, index: str) -> None:
    with pytest.raises(kendra.exceptions.ValidationException, match="at most 4"):
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="many", QueryTexts=["q"],
                                           FeaturedDocuments=[{"Id": f"d{i}"} for i in range(5)])
    with pytest.raises(kendra.exceptions.ValidationException, match="1000"):
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="long", QueryTexts=["x" * 1001])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="-bad name")
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="many-texts",
                                           QueryTexts=[f"q{i}" for i in range(50)])
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.describe_featured_results_set(IndexId=index, FeaturedResultsSetId="0" * 36)
    with pytest.raises(kendra.exceptions.ResourceNotFoundException):
        kendra.update_featured_results_set(IndexId=index, FeaturedResultsSetId="0" * 36, Status="ACTIVE")
    token_set = kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="once", ClientToken="t-1",
                                                   QueryTexts=["once"])["FeaturedResultsSet"]
    again = kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="once", ClientToken="t-1",
                                               QueryTexts=["once"])["FeaturedResultsSet"]
    assert again["FeaturedResultsSetId"] == token_set["FeaturedResultsSetId"]
    for i in range(49):  # Kendra's quota: 50 sets an index
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName=f"s{i}")
    with pytest.raises(kendra.exceptions.ServiceQuotaExceededException):
        kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="one-too-many")


def test_batch_delete_and_paging_walks_every_set(kendra: Any, index: str) -> None:
    ids = [kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName=f"set {n}",
                                              QueryTexts=[f"query {n}"])["FeaturedResultsSet"]["FeaturedResultsSetId"]
           for n in range(7)]
    # botocore's model has no paginator for it: a NextToken loop, as callers write it.
    seen: list[str] = []
    pages = 0
    request: dict[str, Any] = {"IndexId": index, "MaxResults": 3}
    while True:
        page = kendra.list_featured_results_sets(**request)
        pages += 1
        seen += [s["FeaturedResultsSetId"] for s in page["FeaturedResultsSetSummaryItems"]]
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    assert (seen, pages) == (ids, 3)

    missing = "1" * 36
    r = kendra.batch_delete_featured_results_set(IndexId=index, FeaturedResultsSetIds=[ids[0], missing, ids[1]])
    assert [(e["Id"], e["ErrorCode"]) for e in r["Errors"]] == [(missing, "InvalidRequest")]
    left = kendra.list_featured_results_sets(IndexId=index)["FeaturedResultsSetSummaryItems"]
    assert [s["FeaturedResultsSetId"] for s in left] == ids[2:]
    # A deleted set's query texts are free again.
    kendra.create_featured_results_set(IndexId=index, FeaturedResultsSetName="reuse", QueryTexts=["query 0"])
