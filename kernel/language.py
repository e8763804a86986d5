"""Japanese or not: the character classes, defined once, and the few questions asked of them.

The classes are regular-expression character-class bodies (put them inside ``[...]``):

* ``KANA``: ``HIRAGANA`` and ``KATAKANA`` with the long-vowel mark ー and the iteration marks
  (U+3040-U+30FF), ``KATAKANA_EXTENSIONS`` (U+31F0-U+31FF) and ``HALF_WIDTH_KATAKANA`` (U+FF66-U+FF9F);
* ``KANJI``: CJK unified ideographs (U+4E00-U+9FFF, extension A U+3400-U+4DBF and the supplementary
  extensions U+20000-U+323AF, where the kanji of names such as 𠮷 live) and the compatibility
  ideographs (U+F900-U+FAFF);
* ``JAPANESE``: both.

Hangul and the CJK punctuation are not Japanese here: a text of ``「」`` alone is in no language.
"""

from __future__ import annotations

import re
from typing import Final, Literal

HIRAGANA: Final = "\u3040-\u309f"
KATAKANA: Final = "\u30a0-\u30ff"  # with ー and ヽヾ
KATAKANA_EXTENSIONS: Final = "\u31f0-\u31ff"  # small ㇰ..ㇿ (Ainu)
HALF_WIDTH_KATAKANA: Final = "\uff66-\uff9f"  # ｦ..ﾟ, with ｰ and the sound marks
KANA: Final = HIRAGANA + KATAKANA + KATAKANA_EXTENSIONS + HALF_WIDTH_KATAKANA
KANJI: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
JAPANESE: Final = KANA + KANJI
# The letters alone, without the marks and the unassigned code points of the blocks: ぁ..ゖ, and ァ..ヺ
# with the long-vowel mark ー (a katakana word is a run of these).
HIRAGANA_LETTERS: Final = "\u3041-\u3096"
KATAKANA_LETTERS: Final = "\u30a1-\u30fa\u30fc"

JAPANESE_CHAR: Final = re.compile(f"[{JAPANESE}]")
# Two or more Japanese characters in a row: a Japanese word, as opposed to a stray kanji.
JAPANESE_RUN: Final = re.compile(f"[{JAPANESE}]{{2,}}")
_LETTER = re.compile(r"[^\W\d_]")

# Full-width kana only: a Latin-1 text misread as cp932 turns its accented letters into half-width
# katakana, so those would make a wrong decoding look Japanese.
_FULL_WIDTH_KANA = re.compile(f"[{HIRAGANA}{KATAKANA}]")
# A document is Japanese when kana or kanji make up a tenth of the letters in its opening
# ``DOCUMENT_SAMPLE`` characters (English pages quote Japanese names; Japanese pages mix in English).
DOCUMENT_SAMPLE: Final = 4000


def is_japanese(ch: str) -> bool:
    """Whether the character ``ch`` is kana or kanji."""
    return JAPANESE_CHAR.match(ch) is not None


def has_japanese(text: str) -> bool:
    """Whether ``text`` holds any kana or kanji."""
    return JAPANESE_CHAR.search(text) is not None


def detect_language(text: str) -> Literal["ja", "en"]:
    """"ja" when the text holds any kana or kanji (Japanese questions mix in Latin words), else "en"."""
    return "ja" if has_japanese(text) else "en"


def script_language(text: str) -> Literal["ja", "en"] | None:
    """"ja" if the text is written in Japanese, "en" if in Latin letters, None if it has no letters
    (a number or a code is in no language: "12" searched in Japanese pages is not cross-language)."""
    if has_japanese(text):
        return "ja"
    return "en" if _LETTER.search(text) else None


def document_language(text: str) -> Literal["ja", "en"]:
    """"ja" when kana or kanji make up a tenth of the letters in the first 4,000 characters, else "en"."""
    letters = japanese = 0
    for ch in text[:DOCUMENT_SAMPLE]:
        if ch.isalpha():
            letters += 1
            japanese += is_japanese(ch)
    return "ja" if letters and japanese * 10 >= letters else "en"


def full_width_kana_count(text: str) -> int:
    """How many full-width kana ``text`` holds (a decoding that gives them is likely the right one)."""
    return len(_FULL_WIDTH_KANA.findall(text))
