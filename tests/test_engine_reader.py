"""The engine interface's promises (services/engine/base.py, docs/engine.md), checked on both engines
directly: the embedded one (tantivy in a temporary folder) and OpenSearch (the cluster at
tests/conftest.py ``opensearch_url``), and that both
score the same documents the same."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from services.engine.analysis import analyzer_for
from services.engine.base import Facet, Reader, SearchIndex, SortKey
from services.engine.document import DATE, LONG, STRING, STRING_LIST, FieldSpec, LexicalDocument, token_rows
from services.engine.lexical import LexicalIndex
from services.engine.opensearch import OpenSearchEngine
from services.engine.opensearch.index import OpenSearchReader
from services.engine.query import (
    Attribute,
    Bool,
    Boost,
    MatchAll,
    MatchNone,
    NoScore,
    Phrase,
    Query,
    Range,
    Term,
    Terms,
    all_of,
    any_of,
    date_micros,
)
from services.settings import Settings
from tests.conftest import opensearch_url

FIELDS = [FieldSpec("dept", STRING, sortable=True), FieldSpec("tags", STRING_LIST), FieldSpec("year", LONG),
          FieldSpec("_created_at", DATE), FieldSpec("_language_code", STRING)]
# Departments sharing their first 8 UTF-8 bytes: the embedded engine's sort prefix cannot tell them apart.
LONG_A, LONG_B = "情報システム課", "情報システム部"


def _doc(doc_id: str, body: str, **attributes: object) -> LexicalDocument:
    rows, start = [], 0
    for position, word in enumerate(body.split()):
        start = body.index(word, start)
        rows.append((word, position, start, start + len(word)))
        start += len(word)
    return LexicalDocument(doc_id, "", [], body, rows, attributes={"_language_code": "en", **attributes})


Opener = Callable[[Sequence[FieldSpec]], SearchIndex]


@pytest.fixture(params=["embedded", "opensearch"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens empty search indexes of one engine (deleted after the test)."""
    opened: list[SearchIndex] = []
    if request.param == "embedded":
        def make(fields: Sequence[FieldSpec]) -> SearchIndex:
            opened.append(LexicalIndex(tmp_path / f"lexical-{len(opened)}", fields))
            return opened[-1]
    else:
        engine = opensearch_engine()

        def make(fields: Sequence[FieldSpec]) -> SearchIndex:
            opened.append(engine.open_index(f"reader-{uuid.uuid4().hex[:12]}", 0, fields))
            return opened[-1]
    yield make
    for index in opened:
        index.destroy()


@pytest.fixture
def reader(open_index: Opener) -> Iterator[Reader]:
    index = open_index(FIELDS)
    index.upsert([
        _doc("a", "tokyo meeting room booking", dept=LONG_B, tags=["howto", "faq"], year=2020,
             _created_at=1.6e9),
        _doc("b", "kyoto meeting", dept=LONG_A, tags=["faq"], year=2021, _created_at=1.7e9),
        _doc("c", "tokyo tokyo tokyo station", dept="営業部", year=2021),
        _doc("d", "room booking rules", tags=["policy"]),
    ])
    index.commit()
    yield index.reader()


def opensearch_engine() -> OpenSearchEngine:
    return OpenSearchEngine(Settings(opensearch_url=opensearch_url(), opensearch_index_prefix="kensaku-test-",
                                     opensearch_replicas=0))


def _ids(reader: Reader, query: Query, limit: int = 10, sort: Sequence[SortKey] = ()) -> list[str]:
    return [s.doc_id for s in reader.stored([h.ref for h in reader.search(query, limit, sort).hits])]


def test_bool_should_only_scores_beside_a_must_and_matches_alone(reader: Reader) -> None:
    assert sorted(_ids(reader, Bool(must=(Term("body", "meeting"),), should=(Term("body", "tokyo"),)))) == ["a", "b"]
    assert _ids(reader, Bool(must=(Term("body", "meeting"),), should=(Term("body", "tokyo"),)))[0] == "a"
    assert sorted(_ids(reader, any_of([Term("body", "kyoto"), Term("body", "station")]))) == ["b", "c"]
    assert _ids(reader, any_of([])) == [] and _ids(reader, MatchNone()) == []
    assert reader.count(all_of([])) == reader.count(MatchAll()) == 4
    assert sorted(_ids(reader, Bool(must=(MatchAll(),), must_not=(Term("body", "tokyo"),)))) == ["b", "d"]


def test_scores_are_bm25_boosted_and_filters_add_nothing(reader: Reader) -> None:
    plain = reader.search(Term("body", "tokyo"), 10)
    assert plain.total == 2 and [h.score > 0 for h in plain.hits] == [True, True]
    boosted = reader.search(Boost(Term("body", "tokyo"), 2.0), 10)
    assert [h.score for h in boosted.hits] == pytest.approx([2 * h.score for h in plain.hits], rel=1e-6)
    filtered = reader.search(all_of([Term("body", "tokyo"), NoScore(Term(Attribute("dept"), "営業部"))]), 10)
    assert [h.score for h in filtered.hits] == [plain.hits[0].score]  # c: three tokyos, the better match
    assert [h.score for h in reader.search(NoScore(Term("body", "tokyo")), 10).hits] == [0.0, 0.0]


def test_phrases_ranges_terms_and_acl_fields(reader: Reader) -> None:
    assert _ids(reader, Phrase("body", ("room", "booking"))) in (["a", "d"], ["d", "a"])
    assert _ids(reader, Phrase("body", ("booking", "room"))) == []
    assert sorted(_ids(reader, Range(Attribute("year"), lower=2021))) == ["b", "c"]
    assert _ids(reader, Range(Attribute("year"), upper=2021, include_upper=False)) == ["a"]
    assert _ids(reader, Range(Attribute("_created_at"), date_micros(1.65e9), None)) == ["b"]
    assert sorted(_ids(reader, Terms(Attribute("tags"), ("policy", "howto")))) == ["a", "d"]
    assert sorted(_ids(reader, Terms("id", ("b", "d", "zz")))) == ["b", "d"]
    assert reader.count(Terms("acl_allow", ("*",))) == 4


@pytest.mark.parametrize("descending", [False, True])
def test_sorting_is_exact_beyond_any_prefix_missing_values_last_ties_by_score(reader: Reader,
                                                                              descending: bool) -> None:
    by_value = ["c", "b", "a"] if not descending else ["a", "b", "c"]  # 営 < 情報システム課 < 情報システム部
    assert _ids(reader, MatchAll(), sort=[SortKey("dept", descending)]) == by_value + ["d"]
    assert reader.search(MatchAll(), 2, [SortKey("dept", descending)]).total == 4
    assert _ids(reader, Term("body", "tokyo"), sort=[SortKey("year", False), SortKey("dept", descending)]) == ["a", "c"]
    # b and c tie on year: the better BM25 match first, whatever the other keys' directions.
    assert _ids(reader, any_of([Term("body", "tokyo"), Term("body", "meeting")]), 2,
                [SortKey("year", True)]) == ["c", "b"]


def test_facets_count_values_among_the_matches_with_one_nested_level(reader: Reader) -> None:
    years, tags = reader.facets(MatchAll(), [Facet("year", 10, Facet("tags", 10)), Facet("tags", 1)])
    assert {(b.value, b.count) for b in years} == {(2020, 1), (2021, 2)}
    nested = {b.value: {(n.value, n.count) for n in b.nested} for b in years}
    assert nested == {2020: {("howto", 1), ("faq", 1)}, 2021: {("faq", 1)}}
    assert [(b.value, b.count) for b in tags] == [("faq", 2)]
    (dates,) = reader.facets(Term("body", "meeting"), [Facet("_created_at", 10)])
    assert {b.value for b in dates} == {date_micros(1.6e9), date_micros(1.7e9)}


def test_stored_fields_terms_held_and_statistics(reader: Reader) -> None:
    hits = reader.search(MatchAll(), 10).hits
    refs = {s.doc_id: h.ref for h, s in zip(hits, reader.stored([h.ref for h in hits]), strict=True)}
    (stored,) = reader.stored([refs["a"]], ["dept", "_language_code", "year"])
    assert stored.doc_id == "a" and stored.attributes == {"dept": LONG_B, "_language_code": "en"}
    held = reader.terms_held({"a": refs["a"], "c": refs["c"]}, ("body", "meta"), ["tokyo", "room", "kyoto"])
    assert held == {"a": {"tokyo", "room"}, "c": {"tokyo"}}
    assert reader.num_docs() == 4 and reader.doc_freq("body", "tokyo") == 2 and reader.doc_freq("body", "x") == 0


def test_statistics_counted_in_passing_by_a_search_equal_those_asked_alone(
        reader: Reader, monkeypatch: pytest.MonkeyPatch) -> None:
    terms = ["tokyo", "booking", "meeting", "absent"]
    expected = {term: reader.count(Term("body", term)) for term in terms}
    total = reader.count(MatchAll())
    fresh = reader
    if isinstance(reader, OpenSearchReader):  # a new reader of the index: nothing cached yet
        fresh = OpenSearchReader(reader._client, reader._name, reader._fields, False)
    fresh.search(Bool(must=(NoScore(Term(Attribute("_language_code"), "en")),),
                      should=(*(Term("body", t) for t in terms), Boost(Term("title", "tokyo"), 2.0))), 10)
    if isinstance(fresh, OpenSearchReader):  # the search counted them: no request of their own
        monkeypatch.setattr(fresh, "count", lambda query: pytest.fail(f"a request for {query}"))
    assert fresh.num_docs() == total == 4
    assert {term: fresh.doc_freq("body", term) for term in terms} == expected == {
        "tokyo": 2, "booking": 2, "meeting": 2, "absent": 0}


def test_a_commit_gives_a_new_reader_nothing_is_seen_before_it_and_rollback_drops_changes(
        open_index: Opener) -> None:
    index = open_index(FIELDS)
    before = index.reader()
    assert index.reader() is before
    index.upsert([_doc("a", "tokyo")])
    assert before.count(MatchAll()) == 0
    index.commit()
    after = index.reader()
    assert after is not before and after.count(MatchAll()) == 1
    if isinstance(index, LexicalIndex):  # tantivy's searcher keeps its view; OpenSearch's reader sees the last refresh
        assert before.count(MatchAll()) == 0
    index.upsert([_doc("b", "kyoto")])
    index.delete(["a"])
    index.rollback()
    index.commit()
    assert _ids(index.reader(), MatchAll()) == ["a"]


def test_terms_with_a_prefix_come_in_dictionary_order_with_live_document_counts(open_index: Opener) -> None:
    index = open_index(FIELDS)
    index.upsert([_doc("a", "product production prod"), _doc("b", "product proxy"), _doc("c", "products"),
                  _doc("d", "reproduce produce"), _doc("e", "production")])
    index.upsert([_ja_doc("j", JA_DOCS["tocho"])])
    index.commit()
    index.delete(["e"])  # "production" is still held by a; "products" was only c's, and c goes too
    index.delete(["c"])
    index.commit()
    reader = index.reader()
    assert reader.terms_with_prefix("body", "prod", 100) == [
        ("prod", 1), ("produce", 1), ("product", 2), ("production", 1)]
    assert reader.terms_with_prefix("body", "prod", 2) == [("prod", 1), ("produce", 1)]
    assert reader.terms_with_prefix("body", "zzz", 10) == [] and reader.terms_with_prefix("title", "prod", 10) == []
    # Japanese terms are the analyzer's, compounds and parts alike: 東京都庁 holds 東京 and 東京都, never 京都
    assert [t for t, _ in reader.terms_with_prefix("body", "東京", 10)] == ["東京", "東京都", "東京都庁"]
    assert reader.terms_with_prefix("body", "京都", 10) == []


JA_DOCS = {"tocho": "東京都庁への出張は有給休暇ではない", "kyoto": "京都の会議室を予約するシステム",
           "tokyo": "東京の会議室の予約は東京都の規則による", "long": "会議室 " * 40 + "東京"}


def _ja_doc(doc_id: str, text: str) -> LexicalDocument:
    rows = token_rows(analyzer_for("ja").tokens(text))
    return LexicalDocument(doc_id, "", [], text, rows, attributes={"_language_code": "ja"})


def test_both_engines_match_and_score_the_same_documents_the_same(tmp_path: Path) -> None:
    """Same analysed documents, same neutral queries: the same matches, and BM25 scores equal to the
    precision of the engines' length encodings (ScoreConfidence's calibration holds for both)."""
    embedded = LexicalIndex(tmp_path / "lexical", FIELDS)
    remote = opensearch_engine().open_index(f"scores-{uuid.uuid4().hex[:12]}", 0, FIELDS)
    try:
        for index in (embedded, remote):
            index.upsert([_ja_doc(doc_id, text) for doc_id, text in JA_DOCS.items()])
            index.upsert([_doc("a", "tokyo meeting room booking"), _doc("c", "tokyo tokyo tokyo station")])
            index.commit()
        queries: list[Query] = [
            Term("body", "東京都"), Term("body", "京都"), Term("body", "会議室"), Term("body", "有給"),
            Phrase("body", ("会議", "室")), Phrase("body", ("東京都庁", "へ")), Phrase("body", ("東京", "へ")),
            any_of([Term("body", "東京"), Boost(Term("title", "東京"), 2.0), Term("body", "予約")]),
            Bool(must=(NoScore(Term(Attribute("_language_code"), "ja")), Term("body", "会議室")),
                 should=(Boost(Phrase("body", ("会議室", "を")), 0.3),)),
            Term("body", "tokyo"), any_of([Term("body", "tokyo"), Term("body", "room")]),
        ]
        for query in queries:
            ours, theirs = embedded.reader(), remote.reader()
            a, b = ours.search(query, 10), theirs.search(query, 10)
            scores_a = {s.doc_id: h.score for h, s in zip(a.hits, ours.stored([h.ref for h in a.hits]), strict=True)}
            scores_b = {s.doc_id: h.score for h, s in zip(b.hits, theirs.stored([h.ref for h in b.hits]), strict=True)}
            assert a.total == b.total and scores_a.keys() == scores_b.keys(), query
            for doc_id, score in scores_a.items():
                assert scores_b[doc_id] == pytest.approx(score, rel=0.02), (query, doc_id)
        for index in (embedded, remote):  # 京都 never matches 東京都
            assert _ids(index.reader(), Term("body", "京都")) == ["kyoto"]
    finally:
        embedded.close()
        remote.destroy()
