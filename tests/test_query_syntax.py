"""Kendra's advanced query syntax (services/query/syntax.py, structured.py): the parser alone; plain
queries building the very query they built before the syntax existed; and every form through boto3 on
real servers, in English and Japanese, on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from services.engine.analysis import QueryWord, analyzer_for
from services.engine.base import Reader
from services.engine.query import Attribute, Bool, Boost, NoScore, Phrase, Query, Term, any_of
from services.index.fields import default_fields
from services.query.service import query_words, searched
from services.query.synonyms import Alternative, Compiled, merge, parse_synonyms, positions
from services.query.syntax import (
    And,
    FieldRange,
    FieldValue,
    Not,
    Or,
    Parsed,
    Quoted,
    Seq,
    Wildcard,
    Words,
    parse,
    syntax_problem,
)
from tests.conftest import JA, S, attr, ids_of, put_and_wait, text_doc, wait_active

FIELDS = {f["Name"]: f for f in default_fields()}
DAY = 86_400 * 1_000_000  # microseconds

# -- the parser -----------------------------------------------------------------------------------


def test_operators_bind_words_side_by_side_first_then_and_not_then_or() -> None:
    assert parse("amazon sports NOT rainforest").tree == And((Words("amazon sports"), Not(Words("rainforest"))))
    assert parse("(amazon AND sports) NOT rainforest").tree == And(
        (And((Words("amazon"), Words("sports"))), Not(Words("rainforest"))))
    assert parse("a OR b AND c").tree == Or((Words("a"), And((Words("b"), Words("c")))))
    assert parse("a AND NOT b").tree == And((Words("a"), Not(Words("b"))))
    assert parse("NOT b").tree == Not(Words("b"))
    assert parse('"exact phrase" other').tree == Seq((Quoted("exact phrase"), Words("other")))


def test_fields_ranges_and_dates_name_the_period_they_write() -> None:
    fields = {**FIELDS, "dept": {"Name": "dept", "Type": "STRING_VALUE"}}
    assert parse('dept:"Human Resources"', fields).tree == FieldValue("dept", "Human Resources")
    assert parse("dept:HR", fields).tree == FieldValue("dept", "HR")
    assert parse("_view_count:[10 TO 20]").tree == FieldRange("_view_count", 10, 21, True, False)
    assert parse("_view_count:{10 TO 20}").tree == FieldRange("_view_count", 11, 20, True, False)
    assert parse("_view_count:[10 TO *]").tree == FieldRange("_view_count", 10, None, True, False)
    assert parse("_view_count:>=10").tree == FieldRange("_view_count", 10, None)
    assert parse("_view_count:<10").tree == FieldRange("_view_count", None, 10, True, False)
    jan_2021 = 1_609_459_200 * 1_000_000
    assert parse("_created_at:2021").tree == FieldRange("_created_at", jan_2021, jan_2021 + 365 * DAY, True, False)
    assert parse("_created_at:>2020-12").tree == FieldRange("_created_at", jan_2021, None)
    assert parse("_created_at:<=2021-01-01").tree == FieldRange("_created_at", None, jan_2021 + DAY, True, False)
    assert parse("_created_at:2021-01-01T05").tree == FieldRange(
        "_created_at", jan_2021 + 5 * 3_600_000_000, jan_2021 + 6 * 3_600_000_000, True, False)
    assert parse("_created_at:1609459200").tree == FieldRange("_created_at", jan_2021, jan_2021 + 1_000_000, True,
                                                              False)
    assert parse("_document_title:東京").tree == Words("東京", "title")
    assert parse('_document_body:"a b"').tree == Quoted("a b", "body")


def test_wildcards_need_three_characters_after_the_last_special_one() -> None:
    assert parse("Cloud*").tree == Wildcard("Cloud", "Cloud")
    assert parse("東京都*").tree == Wildcard("東京都", "東京都")
    assert parse("prod-1234*").tree == Seq((Words("prod-"), Wildcard("1234", "prod-1234")))
    for plain in ("pr*", "*prod", "*pr"):  # no wildcard: the word is searched as it is
        assert parse(plain).tree is None and parse(plain).problem is None


@pytest.mark.parametrize("text", [
    "OR Hello", "a AND", "a OR", "NOT", "a NOT", "(a b", "a b)", '"open quote', "a AND OR b", "a AND ()",
    "nosuch:value", "_view_count:ten", "_last_updated_at:<2021-12-32", "_category:[A TO D]",
    "_view_count:[1 TO]", "_created_at:2021-13", '""',
])
def test_broken_syntax_is_a_problem(text: str) -> None:
    assert syntax_problem(text)


@pytest.mark.parametrize("text", [
    "hello world", "How do I file an expense report?", "Windows (64-bit)", "pr*", "*prod", "C++ and C#",
    "https://example.com/a:b", "Note: bring the receipts", "and or not", "50% off", "東京都", "（株）東京の会議室",
    "経費精算の方法を教えてください", "10:30 meeting", "e-mail",
])
def test_plain_text_uses_no_syntax(text: str) -> None:
    assert parse(text) == Parsed()


# -- plain queries build the query they always built ----------------------------------------------

def _legacy_text_query(fields: dict[str, dict[str, Any]], words_by_lang: dict[str, list[QueryWord]],
                       alternatives: dict[str, list[Alternative]] | None = None,
                       reader: Reader | None = None) -> Query:
    """QueryService.text_query as it was before the advanced syntax (commit c795cf8), verbatim but for
    its constants, inlined: the shape the relevance benchmarks measured."""
    importance = float(fields["_document_title"].get("Relevance", {}).get("Importance", 2))
    title_boost = 0.5 * (importance - 1)

    def scored(term: str) -> list[Query]:
        return [Boost(Term("title", term), title_boost), Term("body", term), Term("meta", term)]

    def phrase(terms: tuple[str, ...]) -> list[Query]:
        return [Boost(Phrase("title", terms), title_boost), Phrase("body", terms), Phrase("meta", terms)]

    def weight(alt: Alternative) -> float:
        assert reader is None
        return 0.5

    per_lang = []
    for lang, words in words_by_lang.items():
        content = [q for w in words if w.content for q in scored(w.term)]
        if not content:
            continue
        for alt in (alternatives or {}).get(lang, []):
            clauses = scored(alt.terms[0]) if len(alt.terms) == 1 else phrase(alt.terms)
            content += [Boost(q, weight(alt)) for q in clauses]
        extra = [q for w in words if not w.content for q in scored(w.term)]
        extra += [Boost(Phrase("body", (a.term, b.term), 0), 0.3) for a, b in zip(words, words[1:], strict=False)]
        lang_filter = NoScore(Term(Attribute("_language_code"), lang))
        per_lang.append(Bool(must=(lang_filter, any_of(content)), should=tuple(extra)))
    return any_of(per_lang)


_RULES = parse_synonyms("expense, cost\nmachine learning, ML\n経費, 費用\n東京都, 都庁所在地\n".encode()).rules


def _synonyms(text: str, words_by_lang: dict[str, list[QueryWord]]) -> dict[str, list[Alternative]]:
    """Alternatives as the thesauri service finds them (services/query/thesauri.py)."""
    out = {}
    for lang, words in words_by_lang.items():
        analyzer = analyzer_for(lang)
        if found := merge(Compiled(_RULES, analyzer).expand(positions(analyzer, text), words)):
            out[lang] = found
    return out


@pytest.mark.parametrize("text", [
    "expense report", "How do I file an expense report?", "machine learning for the masses", "Windows (64-bit)",
    "pr*", "*prod", "C++ and C#", "https://example.com/path", "Note: bring the receipts", "and or not",
    "東京都", "経費精算の方法を教えてください", "（株）東京の会議室", "東京都 Tokyo expense", "10:30 meeting",
])
@pytest.mark.parametrize("languages", [["en"], ["ja"], ["en", "ja"]], ids="+".join)
def test_a_plain_query_builds_the_same_neutral_query_as_before(text: str, languages: list[str]) -> None:
    title = {**FIELDS["_document_title"], "Relevance": {"Importance": 5}}
    for fields in (FIELDS, {**FIELDS, "_document_title": title}):
        words = query_words(text, languages)
        found = searched(text, fields, words, None, _synonyms)
        assert found.structured is None and found.problem is None
        if found.nothing:
            assert not any(w.content for ws in words.values() for w in ws)
            continue
        assert found.query == _legacy_text_query(fields, words, _synonyms(text, words))
        assert found.query != _legacy_text_query(fields, words) or not _synonyms(text, words)


def test_broken_syntax_is_searched_as_the_plain_words_it_has() -> None:
    for text in ("OR expense report", "expense AND", '"expense report', "nosuch:x expense"):
        words = query_words(text, ["en"])
        found = searched(text, FIELDS, words, None, _synonyms)
        assert found.problem and found.structured is None
        assert found.query == _legacy_text_query(FIELDS, words, _synonyms(text, words))


# -- through boto3, on both engines ---------------------------------------------------------------

@pytest.fixture
def corpus(kendra: Any, new_index: Any) -> str:
    index_id = new_index()
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE", "Search": {"Facetable": True}},
        {"Name": "tags", "Type": "STRING_LIST_VALUE"},
        {"Name": "year", "Type": "LONG_VALUE"},
    ])
    wait_active(kendra, index_id)
    from datetime import UTC, datetime

    def doc(doc_id: str, text: str, dept: str, year: int, created: str, lang: str | None = None,
            tags: list[str] | None = None, title: str | None = None) -> dict[str, Any]:
        attributes = [attr("dept", S(dept)), attr("year", {"LongValue": year}),
                      attr("_created_at", {"DateValue": datetime.fromisoformat(created).replace(tzinfo=UTC)})]
        if tags:
            attributes.append(attr("tags", {"StringListValue": tags}))
        return text_doc(doc_id, text, title=title, lang=lang, attributes=attributes)

    put_and_wait(kendra, index_id, [
        doc("e1", "Amazon sports news from the rainforest league", "sports", 2020, "2020-03-01", tags=["news"]),
        doc("e2", "Amazon sports shop opens downtown", "retail", 2021, "2021-06-15", tags=["shop", "news"]),
        doc("e3", "Amazon rainforest conservation report", "science", 2022, "2022-01-10"),
        doc("e4", "Cloud computing with CloudFormation templates", "eng", 2023, "2023-02-01",
            title="Cloud templates"),
        doc("e5", "A cloudy weather report for the weekend", "news", 2023, "2023-07-01"),
        doc("e6", "Machine learning at scale", "eng", 2024, "2024-01-01"),
        doc("e7", "Learning to repair a sewing machine", "retail", 2024, "2024-03-01"),
        doc("j1", "東京都の観光案内です。", "総務", 2020, "2020-04-01", lang="ja", title="東京都の観光"),
        doc("j2", "京都の観光案内です。", "総務", 2021, "2021-04-01", lang="ja"),
        doc("j3", "東京都庁の見学ツアーについて。", "広報", 2022, "2022-04-01", lang="ja"),
        doc("j4", "大阪の観光案内と食べ歩き。", "広報", 2023, "2023-04-01", lang="ja"),
    ])
    return index_id


def _q(kendra: Any, index_id: str, text: str, ja: bool = False, **kwargs: Any) -> dict[str, Any]:
    if ja:
        kwargs["AttributeFilter"] = JA
    response: dict[str, Any] = kendra.query(IndexId=index_id, QueryText=text, PageSize=100, **kwargs)
    return response


def _found(kendra: Any, index_id: str, text: str, ja: bool = False) -> set[str]:
    r = _q(kendra, index_id, text, ja)
    assert "Warnings" not in r, r["Warnings"]
    return set(ids_of(r))


@pytest.mark.engines
def test_quoted_phrases_match_consecutive_words_in_english_and_japanese(kendra: Any, corpus: str) -> None:
    assert _found(kendra, corpus, "machine learning") == {"e6", "e7"}
    assert _found(kendra, corpus, '"machine learning"') == {"e6"}
    assert _found(kendra, corpus, '"learning machine"') == set()
    r = _q(kendra, corpus, '"machine learning"')
    excerpt = r["ResultItems"][0]["DocumentExcerpt"]
    assert [excerpt["Text"][h["BeginOffset"]:h["EndOffset"]] for h in excerpt["Highlights"]] == ["Machine", "learning"]
    # 東京都 is one term; its parts are 東京 and 都, never 京都: quoted, each finds only its own city
    assert _found(kendra, corpus, '"東京都"', ja=True) == {"j1", "j3"}
    assert _found(kendra, corpus, '"京都"', ja=True) == {"j2"}
    assert _found(kendra, corpus, '"東京都の観光"', ja=True) == {"j1"}
    assert _found(kendra, corpus, '"京都の観光"', ja=True) == {"j2"}


@pytest.mark.engines
def test_and_or_not_and_parentheses_in_english_and_japanese(kendra: Any, corpus: str) -> None:
    assert _found(kendra, corpus, "amazon AND sports") == {"e1", "e2"}
    assert _found(kendra, corpus, "amazon NOT rainforest") == {"e2"}
    assert _found(kendra, corpus, "sports OR conservation") == {"e1", "e2", "e3"}
    assert _found(kendra, corpus, "(amazon AND sports) NOT rainforest") == {"e2"}
    assert _found(kendra, corpus, "amazon sports NOT rainforest") == {"e2"}
    assert _found(kendra, corpus, "NOT amazon") == {"e4", "e5", "e6", "e7"}
    assert _found(kendra, corpus, "(cloud OR machine) AND NOT sewing") == {"e4", "e6"}
    assert _found(kendra, corpus, "観光 AND 東京都", ja=True) == {"j1"}
    assert _found(kendra, corpus, "観光 NOT 京都", ja=True) == {"j1", "j4"}  # 東京都 holds no 京都
    assert _found(kendra, corpus, "京都 OR 大阪", ja=True) == {"j2", "j4"}
    assert _found(kendra, corpus, "(東京都 OR 大阪) AND 観光", ja=True) == {"j1", "j4"}


@pytest.mark.engines
def test_field_values_and_ranges_in_english_and_japanese(kendra: Any, corpus: str) -> None:
    assert _found(kendra, corpus, "dept:sports") == {"e1"}
    assert _found(kendra, corpus, "amazon AND dept:retail") == {"e2"}
    assert _found(kendra, corpus, 'tags:news AND NOT dept:"sports"') == {"e2"}
    assert _found(kendra, corpus, "dept:総務", ja=True) == {"j1", "j2"}
    assert _found(kendra, corpus, "観光 AND dept:広報", ja=True) == {"j4"}
    assert _found(kendra, corpus, "_document_title:cloud") == {"e4"}
    assert _found(kendra, corpus, "_document_title:東京都", ja=True) == {"j1"}
    assert _found(kendra, corpus, "amazon AND year:[2021 TO 2022]") == {"e2", "e3"}
    assert _found(kendra, corpus, "amazon AND year:{2020 TO 2022}") == {"e2"}
    assert _found(kendra, corpus, "year:>=2024") == {"e6", "e7"}
    assert _found(kendra, corpus, "_created_at:2023") == {"e4", "e5"}
    assert _found(kendra, corpus, "_created_at:[2021-06 TO 2022-01-10]") == {"e2", "e3"}
    assert _found(kendra, corpus, "_created_at:<2021-06-15") == {"e1"}
    assert _found(kendra, corpus, "観光 AND year:<2022", ja=True) == {"j1", "j2"}
    assert _found(kendra, corpus, "観光 AND _created_at:>2021", ja=True) == {"j4"}


@pytest.mark.engines
def test_trailing_wildcards_expand_to_the_index_terms_in_english_and_japanese(kendra: Any, corpus: str) -> None:
    assert _found(kendra, corpus, "cloud") == {"e4"}
    assert _found(kendra, corpus, "cloud*") == {"e4", "e5"}  # cloud, cloudformation, cloudi (cloudy's stem)
    assert _found(kendra, corpus, "clouds*") == {"e4"}  # the word's own term: clouds is cloud
    assert _found(kendra, corpus, "cloud* NOT weather") == {"e4"}
    r = _q(kendra, corpus, "cloudform*")
    assert ids_of(r) == ["e4"]
    excerpt = r["ResultItems"][0]["DocumentExcerpt"]
    assert [excerpt["Text"][h["BeginOffset"]:h["EndOffset"]] for h in excerpt["Highlights"]] == ["CloudFormation"]
    assert _found(kendra, corpus, "東京都*", ja=True) == {"j1", "j3"}  # 東京都, 東京都庁; never 京都
    assert _found(kendra, corpus, "_document_title:東京都*", ja=True) == {"j1"}
    assert _found(kendra, corpus, "zzqxw*") == set()


@pytest.mark.engines
def test_invalid_syntax_warns_and_searches_the_plain_words(kendra: Any, corpus: str) -> None:
    for text, plain in (("OR amazon", "amazon"), ("amazon AND", "amazon"), ("year:ten amazon", "amazon"),
                        ("nosuch:x amazon", "amazon"), ("dept:[a TO d] amazon", "amazon"),
                        ('"amazon sports', "amazon sports")):
        r = _q(kendra, corpus, text)
        assert [w["Code"] for w in r["Warnings"]] == ["QUERY_LANGUAGE_INVALID_SYNTAX"], text
        assert set(ids_of(r)) == set(ids_of(_q(kendra, corpus, plain))), text
    r = _q(kendra, corpus, "AND 東京都", ja=True)
    assert r["Warnings"][0]["Code"] == "QUERY_LANGUAGE_INVALID_SYNTAX" and set(ids_of(r)) == {"j1", "j3"}


@pytest.mark.engines
def test_syntax_queries_are_judged_and_nonsense_still_finds_nothing(kendra: Any, corpus: str) -> None:
    for nonsense in ('"zzqxw plughy"', "zzqxw AND amazon", "zzqxw* OR plughy*", "dept:nosuchdept"):
        assert _q(kendra, corpus, nonsense)["ResultItems"] == [], nonsense
    r = _q(kendra, corpus, '"machine learning"')
    assert r["ResultItems"][0]["ScoreAttributes"]["ScoreConfidence"] in ("VERY_HIGH", "HIGH", "MEDIUM")
    fields_only = _q(kendra, corpus, "dept:sports")  # an exact condition, no words: nothing to judge by
    assert fields_only["ResultItems"][0]["ScoreAttributes"]["ScoreConfidence"] == "NOT_AVAILABLE"
