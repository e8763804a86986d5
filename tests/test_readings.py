"""Readings (hiragana, Hepburn romaji) and the suggestion prefix index that matches by them."""

from __future__ import annotations

from analytics.suggestions import PrefixIndex, blocked, is_suggestible, suggestion_form
from services.engine.readings import plain_romaji, reading_of, romaji, to_hiragana


def test_kana_convert_to_hepburn_romaji() -> None:
    assert romaji("けいひせいさん") == "keihiseisan"
    assert romaji("ちょっと") == "chotto" and romaji("マッチ") == "matchi"
    assert romaji("コンピューター") == "konpyuutaa" and romaji("しんぶん") == "shinbun"
    assert plain_romaji(romaji("とうきょう")) == "tokyo"
    assert to_hiragana("ケイヒ") == "けいひ"


def test_reading_keeps_morpheme_spans_for_highlights() -> None:
    r = reading_of("経費精算の締め日")
    assert r.hiragana == "けいひせいさんのしめび" and r.romaji.startswith("keihiseisan")
    assert r.text_end_for(3) == 2  # けいひ covers 経費
    assert r.text_end_for(6, reading=1) == 4  # keihis covers 経費精算
    english = reading_of("Vacation Policy")
    assert english.hiragana == english.romaji == "vacation policy"


def test_prefix_index_matches_text_kana_and_romaji_most_popular_first() -> None:
    index = PrefixIndex()
    for text, n in (("経費精算", 5), ("経費精算の締め日", 3), ("東京都庁", 1), ("vacation policy 2024", 2),
                    ("vacancies", 9)):
        index.add(text, n)
    index.freeze()
    assert [m.text for m in index.lookup("けいひ", 10)] == ["経費精算", "経費精算の締め日"]
    assert [m.text for m in index.lookup("KEIHI", 1)] == ["経費精算"]
    assert [(m.text, m.highlight) for m in index.lookup("tokyo", 10)] == [("東京都庁", (0, 2))]
    assert [(m.text, m.highlight) for m in index.lookup("Vaca", 10)] == [("vacancies", (0, 4)),
                                                                        ("vacation policy 2024", (0, 4))]
    assert index.lookup("zz", 10) == []


def test_suggestion_rules() -> None:
    assert suggestion_form(' "Vacation"   Policy ') == "vacation policy"
    assert is_suggestible("vacation") and not is_suggestible("hr faq") and is_suggestible("経費")
    assert not is_suggestible("a b c 2024")
    assert blocked("salary bands", ["bands"]) and not blocked("salary bandsaw", ["bands"])
    assert blocked("社外秘資料", ["社外秘"])
