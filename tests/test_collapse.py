"""Query's CollapseConfiguration through boto3 (services/query/collapse.py), on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import attr, ids_of, put_and_wait, text_doc, wait_active

pytestmark = pytest.mark.engines


@pytest.fixture
def shirts(kendra: Any, new_index: Any) -> str:
    index_id = new_index()
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "product", "Type": "STRING_VALUE", "Search": {"Sortable": True}},
        {"Name": "price", "Type": "LONG_VALUE", "Search": {"Sortable": True}},
        {"Name": "colors", "Type": "STRING_LIST_VALUE"},
    ])
    wait_active(kendra, index_id)

    def shirt(doc_id: str, text: str, product: str | None, price: int) -> dict[str, Any]:
        attributes = [attr("price", {"LongValue": price})]
        if product is not None:
            attributes.append(attr("product", {"StringValue": product}))
        return text_doc(doc_id, text, attributes=attributes)

    put_and_wait(kendra, index_id, [
        shirt("tiger-1", "animal print shirt tiger stripes animal print", "tiger", 30),
        shirt("tiger-2", "animal print shirt, tiger", "tiger", 20),
        shirt("tiger-3", "shirt with a tiger animal print pattern and more words here", "tiger", 25),
        shirt("zebra-1", "animal print shirt zebra animal print", "zebra", 40),
        shirt("zebra-2", "zebra shirt with animal print", "zebra", 35),
        shirt("plain-1", "animal print shirt without a product name", None, 10),
        shirt("plain-2", "another animal print shirt, nameless", None, 15),
    ])
    return index_id


def _query(kendra: Any, index_id: str, **collapse: Any) -> dict[str, Any]:
    config = {"DocumentAttributeKey": "product", **collapse}
    response: dict[str, Any] = kendra.query(IndexId=index_id, QueryText="animal print shirt",
                                            CollapseConfiguration=config, PageSize=100)
    return response


def test_results_collapse_to_the_best_of_each_value(kendra: Any, shirts: str) -> None:
    plain = ids_of(kendra.query(IndexId=shirts, QueryText="animal print shirt", PageSize=100))
    assert len(plain) == 7
    r = _query(kendra, shirts)
    ids = ids_of(r)
    best = {p: next(d for d in plain if d.startswith(p)) for p in ("tiger", "zebra")}
    assert set(ids) == {best["tiger"], best["zebra"], next(d for d in plain if d.startswith("plain"))}
    assert ids == [d for d in plain if d in ids]  # each group stands where its best document stood
    assert r["TotalNumberOfResults"] == 3
    details = {i["DocumentId"]: i["CollapsedResultDetail"] for i in r["ResultItems"]}
    assert details[best["tiger"]] == {"DocumentAttribute": {"Key": "product", "Value": {"StringValue": "tiger"}}}
    missing = next(d for d in ids if d.startswith("plain"))
    assert details[missing]["DocumentAttribute"] == {"Key": "product", "Value": {}}


def test_sorting_configurations_choose_each_group_s_primary(kendra: Any, shirts: str) -> None:
    r = _query(kendra, shirts, SortingConfigurations=[{"DocumentAttributeKey": "price", "SortOrder": "ASC"}])
    assert set(ids_of(r)) == {"tiger-2", "zebra-2", "plain-1"}
    r = _query(kendra, shirts, SortingConfigurations=[{"DocumentAttributeKey": "price", "SortOrder": "DESC"}])
    assert set(ids_of(r)) == {"tiger-1", "zebra-1", "plain-2"}


def test_expand_shows_the_other_documents_within_its_limits(kendra: Any, shirts: str) -> None:
    r = _query(kendra, shirts, Expand=True, SortingConfigurations=[{"DocumentAttributeKey": "price",
                                                                    "SortOrder": "ASC"}])
    by_id = {i["DocumentId"]: i["CollapsedResultDetail"] for i in r["ResultItems"]}
    assert {e["DocumentId"] for e in by_id["tiger-2"]["ExpandedResults"]} == {"tiger-1", "tiger-3"}
    assert [e["DocumentId"] for e in by_id["zebra-2"]["ExpandedResults"]] == ["zebra-1"]
    expanded = by_id["tiger-2"]["ExpandedResults"][0]
    assert expanded["Id"] and expanded["DocumentExcerpt"]["Text"] and "ScoreAttributes" not in expanded
    limited = _query(kendra, shirts, Expand=True, ExpandConfiguration={
        "MaxResultItemsToExpand": 1, "MaxExpandedResultsPerItem": 1})
    details = [i["CollapsedResultDetail"] for i in limited["ResultItems"]]
    assert len(details[0]["ExpandedResults"]) == 1
    assert all("ExpandedResults" not in d for d in details[1:])


def test_documents_without_a_value_collapse_are_ignored_or_stand_alone(kendra: Any, shirts: str) -> None:
    ignored = ids_of(_query(kendra, shirts, MissingAttributeKeyStrategy="IGNORE"))
    assert len(ignored) == 2 and not any(d.startswith("plain") for d in ignored)
    alone = _query(kendra, shirts, MissingAttributeKeyStrategy="EXPAND")
    assert {d for d in ids_of(alone) if d.startswith("plain")} == {"plain-1", "plain-2"}
    assert all("CollapsedResultDetail" not in i for i in alone["ResultItems"] if i["DocumentId"].startswith("plain"))


def test_collapsing_needs_a_sortable_field_that_is_not_a_list(kendra: Any, shirts: str) -> None:
    for key in ("colors", "nosuch", "_source_uri"):
        with pytest.raises(kendra.exceptions.ValidationException):
            kendra.query(IndexId=shirts, QueryText="shirt", CollapseConfiguration={"DocumentAttributeKey": key})
    r = kendra.query(IndexId=shirts, QueryText="shirt", CollapseConfiguration={"DocumentAttributeKey": "price"},
                     SortingConfiguration={"DocumentAttributeKey": "price", "SortOrder": "ASC"})
    assert ids_of(r)[:2] == ["plain-1", "plain-2"] and r["TotalNumberOfResults"] == 7
