"""Readings of Japanese text: hiragana and Hepburn romaji, from SudachiPy's ``reading_form``.

Used to match what people type before conversion (「けいひ」, "keihi") against suggestions and titles
written in kanji (「経費精算」). Each morpheme keeps its span in the original text, so a match on a
reading prefix can be highlighted on the original characters.

The dictionary loads on first use (never at import); one split-mode-A tokenizer per thread.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from kernel.language import has_japanese
from services.engine import sudachi

__all__ = ["Reading", "plain_romaji", "reading_of", "romaji", "to_hiragana"]

_KATAKANA_START, _KATAKANA_END = 0x30A1, 0x30F6
_KANA_SHIFT = 0x60

# Hepburn for each katakana mora (digraphs first when converting).
_DIGRAPHS = {
    "キャ": "kya", "キュ": "kyu", "キョ": "kyo", "シャ": "sha", "シュ": "shu", "ショ": "sho", "シェ": "she",
    "チャ": "cha", "チュ": "chu", "チョ": "cho", "チェ": "che", "ニャ": "nya", "ニュ": "nyu", "ニョ": "nyo",
    "ヒャ": "hya", "ヒュ": "hyu", "ヒョ": "hyo", "ミャ": "mya", "ミュ": "myu", "ミョ": "myo", "リャ": "rya",
    "リュ": "ryu", "リョ": "ryo", "ギャ": "gya", "ギュ": "gyu", "ギョ": "gyo", "ジャ": "ja", "ジュ": "ju",
    "ジョ": "jo", "ジェ": "je", "ビャ": "bya", "ビュ": "byu", "ビョ": "byo", "ピャ": "pya", "ピュ": "pyu",
    "ピョ": "pyo", "ファ": "fa", "フィ": "fi", "フェ": "fe", "フォ": "fo", "ティ": "ti", "ディ": "di",
    "ウィ": "wi", "ウェ": "we", "ウォ": "wo", "ヴァ": "va", "ヴィ": "vi", "ヴェ": "ve", "ヴォ": "vo",
    "デュ": "dyu", "トゥ": "tu", "ドゥ": "du",
}
_MONOGRAPHS = dict(zip(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴァィゥェォャュョヮ",
    "a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo "
    "ya yu yo ra ri ru re ro wa o n ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po "
    "vu a i u e o ya yu yo wa".split(), strict=True,
))


def to_hiragana(text: str) -> str:
    """Katakana letters as hiragana; everything else unchanged."""
    return "".join(chr(ord(c) - _KANA_SHIFT) if _KATAKANA_START <= ord(c) <= _KATAKANA_END else c for c in text)


def to_katakana(text: str) -> str:
    """Hiragana letters as katakana; everything else unchanged."""
    shifted = _KATAKANA_START - _KANA_SHIFT, _KATAKANA_END - _KANA_SHIFT
    return "".join(chr(ord(c) + _KANA_SHIFT) if shifted[0] <= ord(c) <= shifted[1] else c for c in text)


def romaji(kana: str) -> str:
    """Hepburn romaji of kana (long vowels as the vowel repeated: ケイヒ -> keihi, ポリシー -> porishii).

    Characters that are not kana pass through lower-cased.
    """
    text = to_katakana(kana)
    out: list[str] = []
    i = 0
    double_next = False
    while i < len(text):
        pair, ch = text[i:i + 2], text[i]
        if pair in _DIGRAPHS:
            syllable, i = _DIGRAPHS[pair], i + 2
        elif ch in _MONOGRAPHS:
            syllable, i = _MONOGRAPHS[ch], i + 1
        elif ch == "ッ":
            double_next, i = True, i + 1
            continue
        elif ch == "ー":
            syllable, i = (out[-1][-1] if out and out[-1][-1] in "aiueo" else ""), i + 1
        else:
            syllable, i = ch.lower(), i + 1
        if double_next and syllable and syllable[0] not in "aiueon":
            syllable = ("t" if syllable.startswith("ch") else syllable[0]) + syllable
        double_next = False
        out.append(syllable)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Reading:
    """The readings of a text, with where each morpheme's readings start.

    ``hiragana``, ``romaji`` (Hepburn, long vowels doubled: とうきょう -> toukyou) and ``plain``
    (romaji as usually typed, long vowels single: tokyo). ``parts`` holds, per morpheme, its start in
    each of the three readings and the offset just past it in the original text.
    """

    hiragana: str
    romaji: str
    plain: str
    parts: tuple[tuple[int, int, int, int], ...]

    def text_end_for(self, chars: int, *, reading: int = 0) -> int:
        """How much of the original text a prefix of ``chars`` characters of a reading covers (whole
        morphemes); ``reading`` is 0 for hiragana, 1 for romaji, 2 for plain romaji."""
        end = 0
        for part in self.parts:
            if part[reading] >= chars:
                break
            end = part[3]
        return end


_LONG_VOWELS = (("ou", "o"), ("oo", "o"), ("uu", "u"))


def plain_romaji(text: str) -> str:
    """Romaji with long vowels written once (toukyou -> tokyo), as people usually type it."""
    for long, short in _LONG_VOWELS:
        text = text.replace(long, short)
    return text


@functools.lru_cache(maxsize=200_000)
def reading_of(text: str) -> Reading:
    """The hiragana reading of ``text``: Japanese morphemes by their dictionary reading, other
    characters (Latin words, digits, spaces) as they are, NFKC-normalised and lower-cased.

    Args:
        text: any text; cheap for text without kana or kanji (no dictionary call).
    """
    if not has_japanese(text):
        folded = unicodedata.normalize("NFKC", text).lower()
        return Reading(folded, folded, folded, ((0, 0, 0, len(text)),))
    hira: list[str] = []
    roma: list[str] = []
    plain: list[str] = []
    parts: list[tuple[int, int, int, int]] = []
    hira_size = roma_size = plain_size = 0
    for m in sudachi.tokenizer("A").tokenize(text):
        surface = m.surface()
        piece = to_hiragana(m.reading_form()) if has_japanese(surface) else unicodedata.normalize(
            "NFKC", surface).lower()
        if surface.isspace():
            piece = " "
        latin = romaji(piece)
        short = plain_romaji(latin)
        parts.append((hira_size, roma_size, plain_size, m.end()))
        hira.append(piece)
        roma.append(latin)
        plain.append(short)
        hira_size += len(piece)
        roma_size += len(latin)
        plain_size += len(short)
    return Reading("".join(hira), "".join(roma), "".join(plain), tuple(parts))
