"""kernel.language: which characters are Japanese, and the language questions asked of a text."""

from __future__ import annotations

import pytest

from kernel.language import (
    JAPANESE_RUN,
    detect_language,
    document_language,
    full_width_kana_count,
    has_japanese,
    is_japanese,
    script_language,
)


@pytest.mark.parametrize("ch", ["あ", "ゟ", "ア", "ー", "ヿ", "ㇰ", "ｶ", "ﾟ", "東", "㐀", "鿿", "﨑", "𠮷"])
def test_kana_and_kanji_are_japanese(ch: str) -> None:
    assert is_japanese(ch) and has_japanese(f"abc {ch} def")


@pytest.mark.parametrize("ch", ["a", "1", "。", "「", "、", "한", "䷀", "Ω", " ", "ａ"])
def test_latin_punctuation_hangul_and_hexagrams_are_not(ch: str) -> None:
    assert not is_japanese(ch) and not has_japanese(ch)


def test_detect_language_is_ja_for_any_kana_or_kanji() -> None:
    assert detect_language("What is 経費精算?") == "ja"
    assert detect_language("ｶﾀｶﾅ") == "ja"
    assert detect_language("expense report 2024") == "en"
    assert detect_language("") == "en"


def test_script_language_has_no_language_without_letters() -> None:
    assert script_language("東京 tokyo") == "ja"
    assert script_language("tokyo") == "en"
    assert script_language("12-34") is None
    assert script_language("「」") is None


def test_document_language_needs_a_tenth_of_the_letters() -> None:
    assert document_language("東京都は日本の首都です。Tokyo.") == "ja"
    assert document_language("The capital of Japan is Tokyo (東京).") == "en"
    assert document_language("東" + "a" * 9) == "ja"  # exactly a tenth
    assert document_language("東" + "a" * 10) == "en"
    assert document_language("1234 !!") == "en"


def test_document_language_reads_only_the_opening() -> None:
    assert document_language("a" * 4000 + "日本語" * 1000) == "en"


def test_a_japanese_run_is_two_characters() -> None:
    assert JAPANESE_RUN.search("ab 東京 cd")
    assert not JAPANESE_RUN.search("ab 東 cd 京")


def test_half_width_katakana_is_not_counted_when_sniffing_an_encoding() -> None:
    assert full_width_kana_count("ｱｲｳ あいう アー") == 5
