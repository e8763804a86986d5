"""Relevance tuning through boto3 (services/query/tuning.py): the index fields' Freshness, Importance per
searchable field, ValueImportanceMap and RankOrder, and a Query's DocumentRelevanceOverrideConfigurations,
on both engines."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from services.query.tuning import adjusted, effective_fields, rules
from tests.conftest import JA, S, attr, ids_of, put_and_wait, text_doc, wait_active

DAY = 86_400


def _tune(kendra: Any, index_id: str, *updates: dict[str, Any]) -> None:
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=list(updates))
    wait_active(kendra, index_id)


def _order(kendra: Any, index_id: str, text: str, **kwargs: Any) -> list[str]:
    return ids_of(kendra.query(IndexId=index_id, QueryText=text, **kwargs))


@pytest.mark.engines
def test_freshness_moves_a_newer_document_up(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    now = time.time()

    def dated(doc_id: str, text: str, age_days: float) -> dict[str, Any]:
        when = datetime.fromtimestamp(now - age_days * DAY, tz=UTC)
        return text_doc(doc_id, text, attributes=[attr("_last_updated_at", {"DateValue": when})])

    put_and_wait(kendra, index_id, [
        dated("old", "budget budget budget report for the travel budget", 900),
        dated("new", "a travel report, with the budget", 2),
        dated("other", "nothing about money here", 1),
    ])
    assert _order(kendra, index_id, "budget") == ["old", "new"]
    _tune(kendra, index_id, {"Name": "_last_updated_at", "Type": "DATE_VALUE",
                             "Relevance": {"Freshness": True, "Importance": 8, "Duration": "2592000s"}})
    assert _order(kendra, index_id, "budget") == ["new", "old"]
    # the same with the advanced syntax
    assert _order(kendra, index_id, "budget AND report") == ["new", "old"]
    # a query can switch it off: fields it does not name are at their defaults
    off = [{"Name": "_created_at", "Relevance": {"Importance": 1}}]
    assert _order(kendra, index_id, "budget", DocumentRelevanceOverrideConfigurations=off) == ["old", "new"]


@pytest.mark.engines
def test_importance_is_per_searchable_field_in_english_and_japanese(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    _tune(kendra, index_id, {"Name": "summary", "Type": "STRING_VALUE", "Search": {"Searchable": True}},
          {"Name": "notes", "Type": "STRING_VALUE", "Search": {"Searchable": True}})
    put_and_wait(kendra, index_id, [
        text_doc("in-summary", "quarterly figures", attributes=[attr("summary", S("invoice approval")),
                                                                attr("notes", S("misc"))]),
        text_doc("in-notes", "quarterly figures", attributes=[attr("summary", S("misc")),
                                                              attr("notes", S("invoice approval"))]),
        text_doc("ja-summary", "四半期の数字", lang="ja", attributes=[attr("summary", S("請求書の承認")),
                                                                      attr("notes", S("その他"))]),
        text_doc("ja-notes", "四半期の数字", lang="ja", attributes=[attr("summary", S("その他")),
                                                                    attr("notes", S("請求書の承認"))]),
    ])
    _tune(kendra, index_id, {"Name": "summary", "Type": "STRING_VALUE", "Relevance": {"Importance": 10}})
    assert _order(kendra, index_id, "invoice") == ["in-summary", "in-notes"]
    assert _order(kendra, index_id, "請求書", AttributeFilter=JA) == ["ja-summary", "ja-notes"]
    _tune(kendra, index_id, {"Name": "summary", "Type": "STRING_VALUE", "Relevance": {"Importance": 1}},
          {"Name": "notes", "Type": "STRING_VALUE", "Relevance": {"Importance": 10}})
    assert _order(kendra, index_id, "invoice") == ["in-notes", "in-summary"]
    assert _order(kendra, index_id, "請求書", AttributeFilter=JA) == ["ja-notes", "ja-summary"]
    # a query's override: summary matters, notes falls back to its default
    override = [{"Name": "summary", "Relevance": {"Importance": 10}}]
    assert _order(kendra, index_id, "invoice", DocumentRelevanceOverrideConfigurations=override) == [
        "in-summary", "in-notes"]


@pytest.fixture
def departments(kendra: Any, new_index: Any) -> str:
    index_id = new_index()
    _tune(kendra, index_id, {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Facetable": True}},
          {"Name": "priority", "Type": "LONG_VALUE"})
    put_and_wait(kendra, index_id, [
        text_doc(f"{dept.lower()}-{priority}", "expense policy and travel rules",
                 attributes=[attr("dept", S(dept)), attr("priority", {"LongValue": priority})])
        for dept, priority in (("HR", 2), ("Legal", 3), ("Sales", 1), ("IT", 4))
    ])
    return index_id


@pytest.mark.engines
def test_value_importance_map_weighs_documents_by_their_value(kendra: Any, departments: str) -> None:
    _tune(kendra, departments, {"Name": "dept", "Type": "STRING_VALUE",
                                "Relevance": {"ValueImportanceMap": {"Legal": 10, "HR": 6}}})
    assert _order(kendra, departments, "expense policy")[:2] == ["legal-3", "hr-2"]
    assert _order(kendra, departments, '"expense policy"')[:2] == ["legal-3", "hr-2"]
    # overridden for one query: another map, and every other field at its default
    override = [{"Name": "dept", "Relevance": {"ValueImportanceMap": {"Sales": 10}}}]
    assert _order(kendra, departments, "expense policy", DocumentRelevanceOverrideConfigurations=override)[0] == \
        "sales-1"
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=departments, QueryText="expense", DocumentRelevanceOverrideConfigurations=[
            {"Name": "nosuchfield", "Relevance": {"Importance": 2}}])


@pytest.mark.engines
def test_rank_order_puts_the_best_numbers_first(kendra: Any, departments: str) -> None:
    _tune(kendra, departments, {"Name": "priority", "Type": "LONG_VALUE",
                                "Relevance": {"Importance": 10, "RankOrder": "DESCENDING"}})
    assert _order(kendra, departments, "expense policy") == ["sales-1", "hr-2", "legal-3", "it-4"]
    _tune(kendra, departments, {"Name": "priority", "Type": "LONG_VALUE",
                                "Relevance": {"Importance": 10, "RankOrder": "ASCENDING"}})
    assert _order(kendra, departments, "expense policy") == ["it-4", "legal-3", "hr-2", "sales-1"]
    descending = [{"Name": "priority", "Relevance": {"Importance": 10, "RankOrder": "DESCENDING"}}]
    assert _order(kendra, departments, "expense policy", DocumentRelevanceOverrideConfigurations=descending) == [
        "sales-1", "hr-2", "legal-3", "it-4"]


def test_an_untuned_index_has_no_rules_and_scores_stay_as_ranked() -> None:
    from services.index.fields import default_fields

    fields = {f["Name"]: f for f in default_fields()}
    assert rules(fields) == []
    assert rules(effective_fields(fields, [{"Name": "_view_count", "Relevance": {"RankOrder": "ASCENDING"}}])) == []
    scores = {"a": 2.0, "b": 1.0}
    assert adjusted(scores, {}, [], {}) == scores
    fresh = {"Freshness": True, "Duration": "864000s"}
    tuned = rules(effective_fields(fields, [{"Name": "_created_at", "Relevance": fresh}]))
    assert [r.name for r in tuned] == ["_created_at"]
    now = 1_700_000_000.0
    moved = adjusted(scores, {"b": {"_created_at": now}, "a": {"_created_at": now - 400 * DAY}}, tuned, {}, now)
    assert moved["b"] == pytest.approx(1.0 + 2.0 * 0.1) and moved["a"] == pytest.approx(2.0, rel=0.01)
