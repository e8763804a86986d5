"""Excerpt windows and highlight offsets, without a server."""

from __future__ import annotations

from services.engine.analysis import analyzer_for
from services.query.excerpts import Synonyms, excerpt, highlight, shown


def spans_text(h: object) -> list[str]:
    return [h.text[s:e] for s, e in h.spans]  # type: ignore[attr-defined]


def test_highlights_land_on_words_in_each_of_several_texts() -> None:
    ja = analyzer_for("ja")
    terms = frozenset(ja.query_terms("東京都 人口"))
    title, empty, body = highlight(["東京都の人口", "", "京都府と東京都。人口は多い"], ja, terms)
    assert spans_text(title) == ["東京都", "人口"]
    assert empty.spans == []
    assert spans_text(body) == ["東京都", "人口"]
    assert body.matched == terms


def test_compound_part_is_highlighted_inside_the_compound() -> None:
    ja = analyzer_for("ja")
    (h,) = highlight(["有給休暇の申請"], ja, frozenset(ja.query_terms("休暇")))
    assert spans_text(h) == ["休暇"]


def test_width_variants_highlight_the_original_characters() -> None:
    ja = analyzer_for("ja")
    (h,) = highlight(["ＶＰＮの設定とｻｰﾊﾞｰ"], ja, frozenset(ja.query_terms("vpn サーバー")))
    assert spans_text(h) == ["ＶＰＮ", "ｻｰﾊﾞｰ"]


def test_synonym_highlights_are_apart_and_phrases_stay_within_one_text() -> None:
    en = analyzer_for("en")
    synonyms = Synonyms(frozenset({"pc"}), (("notebook", "comput"),))
    title, body = highlight(["Laptop or PC", "Notebook computers; a notebook, then a computer."], en,
                            frozenset({"laptop", "comput"}), synonyms)
    assert spans_text(title) == ["Laptop"] and [title.text[s:e] for s, e in title.synonym_spans] == ["PC"]
    # Never over a query word's highlight.
    assert spans_text(body) == ["computers", "computer"] and body.synonym_spans == []
    # A phrase is highlighted whole where its words stand together, and only inside one text.
    (only,) = highlight(["Notebook computers; a notebook, then a computer."], en, frozenset({"laptop"}), synonyms)
    assert [only.text[s:e] for s, e in only.synonym_spans] == ["Notebook computers"]
    first, second = highlight(["a notebook", "computers"], en, frozenset({"laptop"}), synonyms)
    assert first.synonym_spans == second.synonym_spans == []


def test_excerpt_picks_the_window_with_the_query_words() -> None:
    text = "前置きの文章です。" * 40 + "経費精算の締め日は毎月二十五日です。" + "後書きの文章です。" * 40
    window = excerpt(text, ["経費", "精算", "締め日"], 160)
    assert "経費精算の締め日" in window
    assert len(window) <= 160


def test_english_excerpt_is_whitespace_collapsed() -> None:
    en = analyzer_for("en")
    window = excerpt("Intro.\n\n  The   expense\treport is due.", ["expens"], 300)
    assert window == shown(window) == "Intro. The expense report is due."
    (h,) = highlight([window], en, frozenset(en.query_terms("expenses")))
    assert spans_text(h) == ["expense"]
