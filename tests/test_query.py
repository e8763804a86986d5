"""Keyword Query through boto3: language rules, paging, filters, facets, sorting, browse, ACLs, shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import JA, S, attr, ids_of, put_and_wait, text_doc, wait_active

pytestmark = pytest.mark.engines


@pytest.fixture
def cities(kendra: Any, new_index: Any) -> str:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("tokyo", "東京都は日本の首都であり、人口は約1400万人です。", lang="ja",
                 attributes=[attr("_source_uri", S("https://example.com/tokyo"))]),
        text_doc("kyoto", "京都府の府庁所在地は京都市です。", lang="ja"),
        text_doc("tokyo-en", "Tokyo is the capital of Japan.", title="Tokyo"),
    ])
    return index_id


def test_tokyo_to_query_finds_tokyo_and_not_kyoto(kendra: Any, cities: str) -> None:
    r = kendra.query(IndexId=cities, QueryText="東京都", AttributeFilter=JA)
    assert ids_of(r) == ["tokyo"]
    assert r["TotalNumberOfResults"] == 1
    excerpt = r["ResultItems"][0]["DocumentExcerpt"]
    spans = [excerpt["Text"][h["BeginOffset"]:h["EndOffset"]] for h in excerpt["Highlights"]]
    assert spans == ["東京都"]


def test_query_without_language_filter_searches_english_only(kendra: Any, cities: str) -> None:
    assert ids_of(kendra.query(IndexId=cities, QueryText="東京都")) == []
    assert ids_of(kendra.query(IndexId=cities, QueryText="capital of Japan")) == ["tokyo-en"]


def test_both_languages_when_the_filter_asks_for_both(kendra: Any, cities: str) -> None:
    both = {"OrAllFilters": [JA, {"EqualsTo": {"Key": "_language_code", "Value": S("en")}}]}
    assert set(ids_of(kendra.query(IndexId=cities, QueryText="東京都 Tokyo", AttributeFilter=both))) == {
        "tokyo", "tokyo-en"}


def test_paging_reaches_one_hundred_results_and_no_more(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc(f"a{i:03d}", f"alpha document {i} " + "filler " * (i % 7))
                                    for i in range(120)])
    pages = [ids_of(kendra.query(IndexId=index_id, QueryText="alpha", PageSize=10, PageNumber=n)) for n in (1, 2, 3)]
    assert all(len(p) == 10 for p in pages)
    assert len({d for p in pages for d in p}) == 30
    r = kendra.query(IndexId=index_id, QueryText="alpha", PageSize=10, PageNumber=1)
    assert r["TotalNumberOfResults"] == 120
    assert len(kendra.query(IndexId=index_id, QueryText="alpha", PageSize=150)["ResultItems"]) == 100
    assert kendra.query(IndexId=index_id, QueryText="alpha", PageSize=10, PageNumber=11)["ResultItems"] == []
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=index_id, QueryText="alpha", PageNumber=0)


@pytest.fixture
def hr(kendra: Any, new_index: Any) -> str:
    index_id = new_index()
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Facetable": True, "Sortable": True, "Displayable": True}},
        {"Name": "team", "Type": "STRING_VALUE", "Search": {"Facetable": True}},
        {"Name": "tags", "Type": "STRING_LIST_VALUE", "Search": {"Facetable": True}},
        {"Name": "year", "Type": "LONG_VALUE", "Search": {"Facetable": True, "Sortable": True}},
        {"Name": "published", "Type": "DATE_VALUE", "Search": {"Sortable": True}},
        {"Name": "plain", "Type": "STRING_VALUE", "Search": {"Sortable": False}},
    ])
    wait_active(kendra, index_id)

    def doc(i: str, dept: str, team: str, tags: list[str], year: int, published: datetime) -> dict[str, Any]:
        return text_doc(i, f"policy document {i}", title=f"Policy {i}", attributes=[
            attr("dept", S(dept)), attr("team", S(team)), attr("tags", {"StringListValue": tags}),
            attr("year", {"LongValue": year}), attr("published", {"DateValue": published}),
            attr("_created_at", {"DateValue": published}),
        ])

    put_and_wait(kendra, index_id, [
        doc("d1", "HR", "pay", ["a", "b"], 2019, datetime(2023, 5, 1, tzinfo=UTC)),
        doc("d2", "HR", "hiring", ["a"], 2020, datetime(2024, 2, 1, tzinfo=UTC)),
        doc("d3", "HR", "pay", ["x"], 2021, datetime(2022, 1, 1, tzinfo=UTC)),
        doc("d4", "ENG", "infra", ["b"], 2022, datetime(2024, 6, 1, tzinfo=UTC)),
        doc("d5", "ENG", "web", ["a", "b", "x"], 2018, datetime(2021, 3, 1, tzinfo=UTC)),
        doc("d6", "SALES", "emea", [], 2023, datetime(2023, 12, 31, tzinfo=UTC)),
    ])
    return index_id


def _filtered(kendra: Any, index_id: str, f: dict[str, Any]) -> set[str]:
    return set(ids_of(kendra.query(IndexId=index_id, QueryText="policy", AttributeFilter=f, PageSize=100)))


def test_attribute_filters_select_exactly(kendra: Any, hr: str) -> None:
    assert _filtered(kendra, hr, {"EqualsTo": attr("dept", S("HR"))}) == {"d1", "d2", "d3"}
    assert _filtered(kendra, hr, {"ContainsAny": attr("tags", {"StringListValue": ["a", "b"]})}) == {
        "d1", "d2", "d4", "d5"}
    assert _filtered(kendra, hr, {"ContainsAll": attr("tags", {"StringListValue": ["a", "b"]})}) == {"d1", "d5"}
    assert _filtered(kendra, hr, {"GreaterThanOrEquals": attr("year", {"LongValue": 2020})}) == {
        "d2", "d3", "d4", "d6"}
    assert _filtered(kendra, hr, {"GreaterThan": attr("year", {"LongValue": 2020})}) == {"d3", "d4", "d6"}
    assert _filtered(kendra, hr, {"LessThanOrEquals": attr("year", {"LongValue": 2019})}) == {"d1", "d5"}
    assert _filtered(kendra, hr, {"LessThan": attr("published", {
        "DateValue": datetime(2024, 1, 1, tzinfo=UTC)})}) == {"d1", "d3", "d5", "d6"}
    assert _filtered(kendra, hr, {"AndAllFilters": [
        {"EqualsTo": attr("dept", S("HR"))}, {"NotFilter": {"ContainsAny": attr("tags", {"StringListValue": ["x"]})}},
    ]}) == {"d1", "d2"}
    assert _filtered(kendra, hr, {"OrAllFilters": [
        {"EqualsTo": attr("dept", S("SALES"))}, {"EqualsTo": attr("year", {"LongValue": 2018})}]}) == {"d5", "d6"}


def test_filter_limits_and_type_errors_are_validation_errors(kendra: Any, hr: str) -> None:
    leaf = {"EqualsTo": attr("dept", S("HR"))}
    for bad in (
        {"AndAllFilters": [{"OrAllFilters": [{"AndAllFilters": [leaf]}]}]},
        {"OrAllFilters": [leaf] * 11},
        {"GreaterThan": attr("dept", S("HR"))},
        {"EqualsTo": attr("year", S("2020"))},
        {"EqualsTo": attr("nosuchfield", S("x"))},
        {"EqualsTo": attr("dept", S("HR")), "NotFilter": leaf},
    ):
        with pytest.raises(kendra.exceptions.ValidationException):
            kendra.query(IndexId=hr, QueryText="policy", AttributeFilter=bad)


def test_facets_count_the_whole_result_set_with_one_nested_level(kendra: Any, hr: str) -> None:
    r = kendra.query(IndexId=hr, QueryText="policy", PageSize=1, Facets=[
        {"DocumentAttributeKey": "dept", "Facets": [{"DocumentAttributeKey": "team"}]}])
    facet = r["FacetResults"][0]
    assert facet["DocumentAttributeKey"] == "dept"
    assert facet["DocumentAttributeValueType"] == "STRING_VALUE"
    counts = {p["DocumentAttributeValue"]["StringValue"]: p["Count"] for p in facet["DocumentAttributeValueCountPairs"]}
    assert counts == {"HR": 3, "ENG": 2, "SALES": 1}
    hr_pair = next(p for p in facet["DocumentAttributeValueCountPairs"] if p["DocumentAttributeValue"]["StringValue"]
                   == "HR")
    nested = {p["DocumentAttributeValue"]["StringValue"]: p["Count"]
              for p in hr_pair["FacetResults"][0]["DocumentAttributeValueCountPairs"]}
    assert nested == {"pay": 2, "hiring": 1}
    one = kendra.query(IndexId=hr, QueryText="policy", Facets=[{"DocumentAttributeKey": "dept", "MaxResults": 1}])
    assert len(one["FacetResults"][0]["DocumentAttributeValueCountPairs"]) == 1
    tags = kendra.query(IndexId=hr, QueryText="policy", Facets=[{"DocumentAttributeKey": "tags"}])["FacetResults"][0]
    assert {p["DocumentAttributeValue"]["StringValue"]: p["Count"] for p in tags["DocumentAttributeValueCountPairs"]} \
        == {"a": 3, "b": 3, "x": 2}
    years = kendra.query(IndexId=hr, QueryText="policy", Facets=[{"DocumentAttributeKey": "year"}])["FacetResults"][0]
    assert years["DocumentAttributeValueType"] == "LONG_VALUE"
    assert sum(p["Count"] for p in years["DocumentAttributeValueCountPairs"]) == 6
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=hr, QueryText="policy", Facets=[{"DocumentAttributeKey": "plain"}])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=hr, QueryText="policy", Facets=[{"DocumentAttributeKey": "dept", "Facets": [
            {"DocumentAttributeKey": "team", "Facets": [{"DocumentAttributeKey": "tags"}]}]}])


def test_sorting_by_one_and_several_keys(kendra: Any, hr: str) -> None:
    r = kendra.query(IndexId=hr, QueryText="policy",
                     SortingConfiguration={"DocumentAttributeKey": "_created_at", "SortOrder": "DESC"})
    assert ids_of(r) == ["d4", "d2", "d6", "d1", "d3", "d5"]
    r = kendra.query(IndexId=hr, QueryText="policy", SortingConfigurations=[
        {"DocumentAttributeKey": "dept", "SortOrder": "ASC"},
        {"DocumentAttributeKey": "_created_at", "SortOrder": "DESC"}])
    assert ids_of(r) == ["d4", "d5", "d2", "d1", "d3", "d6"]
    r = kendra.query(IndexId=hr, QueryText="policy", SortingConfigurations=[
        {"DocumentAttributeKey": "dept", "SortOrder": "DESC"}, {"DocumentAttributeKey": "year", "SortOrder": "ASC"}])
    assert ids_of(r) == ["d6", "d1", "d2", "d3", "d5", "d4"]
    for bad in ("plain", "tags", "nosuch"):
        with pytest.raises(kendra.exceptions.ValidationException):
            kendra.query(IndexId=hr, QueryText="policy",
                         SortingConfiguration={"DocumentAttributeKey": bad, "SortOrder": "ASC"})


def test_browse_without_query_text_needs_a_filter_and_a_sort(kendra: Any, hr: str) -> None:
    r = kendra.query(IndexId=hr, AttributeFilter={"EqualsTo": attr("dept", S("HR"))},
                     SortingConfiguration={"DocumentAttributeKey": "_created_at", "SortOrder": "DESC"})
    assert ids_of(r) == ["d2", "d1", "d3"]
    assert r["TotalNumberOfResults"] == 3
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=hr)


def test_acl_filtering_deny_wins_and_no_context_sees_all(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("pub", "secret plans"),
        text_doc("eng", "secret plans", AccessControlList=[{"Name": "eng", "Type": "GROUP", "Access": "ALLOW"}]),
        text_doc("mixed", "secret plans", AccessControlList=[
            {"Name": "all", "Type": "GROUP", "Access": "ALLOW"}, {"Name": "bob", "Type": "USER", "Access": "DENY"}]),
    ])

    def visible(**kwargs: Any) -> set[str]:
        return set(ids_of(kendra.query(IndexId=index_id, QueryText="secret", **kwargs)))

    assert visible(UserContext={"UserId": "alice", "Groups": ["eng", "all"]}) == {"pub", "eng", "mixed"}
    assert visible(UserContext={"UserId": "bob", "Groups": ["all"]}) == {"pub"}
    assert visible() == {"pub", "eng", "mixed"}
    assert visible(UserContext={"UserId": "carol"}) == {"pub"}
    assert visible(AttributeFilter={"AndAllFilters": [
        {"EqualsTo": attr("_user_id", S("alice"))},
        {"ContainsAny": attr("_group_ids", {"StringListValue": ["eng", "all"]})}]}) == {"pub", "eng", "mixed"}
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.query(IndexId=index_id, QueryText="secret", UserContext={"Token": "t", "UserId": "alice"})


def test_result_items_have_kendra_shape(kendra: Any, cities: str) -> None:
    a = kendra.query(IndexId=cities, QueryText="東京都", AttributeFilter=JA)
    b = kendra.query(IndexId=cities, QueryText="東京都", AttributeFilter=JA)
    item, again = a["ResultItems"][0], b["ResultItems"][0]
    assert item["Type"] == "DOCUMENT"
    assert len(item["Id"]) <= 73 and item["Id"] != again["Id"]
    assert item["DocumentURI"] == "https://example.com/tokyo"
    assert item["ScoreAttributes"]["ScoreConfidence"] in ("VERY_HIGH", "HIGH", "MEDIUM", "LOW", "NOT_AVAILABLE")
    assert item["FeedbackToken"]
    for block in ("DocumentExcerpt", "DocumentTitle"):
        if block in item:
            for h in item[block]["Highlights"]:
                assert 0 <= h["BeginOffset"] < h["EndOffset"] <= len(item[block]["Text"])
    only = kendra.query(IndexId=cities, QueryText="東京都", AttributeFilter=JA,
                        RequestedDocumentAttributes=["_source_uri"])
    assert [a["Key"] for a in only["ResultItems"][0]["DocumentAttributes"]] == ["_source_uri"]
    assert kendra.query(IndexId=cities, QueryText="東京都", AttributeFilter=JA,
                        QueryResultTypeFilter="QUESTION_ANSWER")["ResultItems"] == []


def test_title_matches_rank_above_body_matches(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("body", "the expense report process is described in the wiki", title="Wiki"),
        text_doc("title", "how to file one, step by step", title="Expense report"),
    ])
    r = kendra.query(IndexId=index_id, QueryText="expense report")
    assert ids_of(r)[0] == "title"
    title = r["ResultItems"][0]["DocumentTitle"]
    assert [title["Text"][h["BeginOffset"]:h["EndOffset"]] for h in title["Highlights"]] == ["Expense", "report"]


def test_declaring_a_field_on_a_filled_index_keeps_every_document_searchable(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [text_doc(f"r{i}", f"rebuild topic {i}") for i in range(30)])
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "owner", "Type": "STRING_VALUE", "Search": {"Facetable": True}}])
    wait_active(kendra, index_id)
    assert kendra.query(IndexId=index_id, QueryText="rebuild", PageSize=100)["TotalNumberOfResults"] == 30
    put_and_wait(kendra, index_id, [text_doc("owned", "rebuild topic owned", attributes=[attr("owner", S("kim"))])])
    r = kendra.query(IndexId=index_id, QueryText="rebuild", AttributeFilter={"EqualsTo": attr("owner", S("kim"))},
                     Facets=[{"DocumentAttributeKey": "owner"}])
    assert ids_of(r) == ["owned"]
    assert r["FacetResults"][0]["DocumentAttributeValueCountPairs"][0]["Count"] == 1


@pytest.mark.parametrize("sorts", [
    [("year", "DESC"), ("dept", "ASC")],
    [("dept", "DESC")],
    [("year", "ASC")],
    [("dept", "ASC"), ("year", "DESC")],
], ids=lambda s: ",".join(f"{k} {o}" for k, o in s))
def test_sorted_pages_follow_the_keys_across_ties_and_missing_values(kendra: Any, new_index: Any,
                                                                     sorts: list[tuple[str, str]]) -> None:
    import random

    index_id = new_index()
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Sortable": True}},
        {"Name": "year", "Type": "LONG_VALUE", "Search": {"Sortable": True}}])
    wait_active(kendra, index_id)
    rng = random.Random(7)
    values: dict[str, tuple[str | None, int | None]] = {}
    docs = []
    for i in range(60):
        dept = rng.choice(["administration-east", "administration-west", "HR", "ENG", None])
        year = rng.choice([2000, 2001, 2002, None])
        values[f"s{i}"] = (dept, year)
        attrs = ([attr("dept", S(dept))] if dept else []) + ([attr("year", {"LongValue": year})] if year else [])
        docs.append(text_doc(f"s{i}", f"sortable entry {'extra ' * (i % 5)}", attributes=attrs))
    put_and_wait(kendra, index_id, docs)

    def key(doc_id: str) -> tuple[Any, ...]:
        dept, year = values[doc_id]
        return tuple(dept if name == "dept" else year for name, _ in sorts)

    def expected_order(items: list[str]) -> list[tuple[Any, ...]]:
        def cmp_key(doc_id: str) -> tuple[Any, ...]:
            out: list[Any] = []
            for (_, order), v in zip(sorts, key(doc_id), strict=True):
                if v is None:
                    out.append((1, 0))
                elif isinstance(v, int):
                    out.append((0, -v if order == "DESC" else v))
                else:
                    out.append((0, tuple(-b for b in v.encode()) + (1,) if order == "DESC" else v))
            return tuple(out)
        return [key(d) for d in sorted(items, key=cmp_key)]

    configs = [{"DocumentAttributeKey": k, "SortOrder": o} for k, o in sorts]
    seen: list[str] = []
    for page in range(1, 10):
        r = kendra.query(IndexId=index_id, QueryText="sortable", SortingConfigurations=configs,
                         PageSize=7, PageNumber=page)
        assert r["TotalNumberOfResults"] == 60
        seen.extend(ids_of(r))
    assert len(seen) == len(set(seen)) == 60
    assert [key(d) for d in seen] == expected_order(list(values))
