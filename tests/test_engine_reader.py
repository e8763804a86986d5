"""The engine interface's promises (services/engine/base.py, docs/engine.md), checked on the embedded
engine directly: what an OpenSearch reader must also keep (issue 15, item 1)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from services.engine.base import Facet, Reader, SortKey
from services.engine.document import DATE, LONG, STRING, STRING_LIST, FieldSpec, LexicalDocument
from services.engine.lexical import LexicalIndex
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


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Reader]:
    index = LexicalIndex(tmp_path / "lexical", FIELDS)
    index.upsert([
        _doc("a", "tokyo meeting room booking", dept=LONG_B, tags=["howto", "faq"], year=2020,
             _created_at=1.6e9),
        _doc("b", "kyoto meeting", dept=LONG_A, tags=["faq"], year=2021, _created_at=1.7e9),
        _doc("c", "tokyo tokyo tokyo station", dept="営業部", year=2021),
        _doc("d", "room booking rules", tags=["policy"]),
    ])
    index.commit()
    yield index.reader()
    index.close()


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
    assert [round(h.score, 6) for h in boosted.hits] == [round(2 * h.score, 6) for h in plain.hits]
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


def test_a_commit_gives_a_new_reader_and_the_old_one_keeps_its_view(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical", FIELDS)
    try:
        before = index.reader()
        assert index.reader() is before
        index.upsert([_doc("a", "tokyo")])
        index.commit()
        after = index.reader()
        assert after is not before and after.count(MatchAll()) == 1 and before.count(MatchAll()) == 0
    finally:
        index.close()
