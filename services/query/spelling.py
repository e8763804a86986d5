"""Spell correction for Query (``SpellCorrectionConfiguration.IncludeQuerySpellCheckSuggestions``).

English (Kendra's rules, ``docs/kendra-api.md`` §4.12): a query word of 3-30 letters (no digits) found
in fewer than ``MIN_FREQUENCY`` documents is corrected to the index word within edit distance 2
(Damerau) that is in the most documents, at least ``MIN_FREQUENCY``; hyphenated words are corrected
part by part. Corrections come only from the index's own words: a per-index vocabulary of surface
words read from its stored documents (new documents are added on the next refresh) and checked against
the live lexical index (documents holding the analysed term), so a deleted document's words stop
counting at once. Only documents the asker may see count (the query's UserContext and ``_user_id`` /
``_group_ids``): a word of documents a user cannot see is never suggested to them. Candidates are found
with SymSpell-style single deletions on both sides.

Japanese (a Kensaku extension): orthographic variants of each word (katakana long vowels, ヴ-row /
バ-row, okurigana by Sudachi's normalised form, full/half width) are tried where the original query
has fewer than ``FEW_RESULTS`` results; the variant with the most results is suggested when it has
more than the original. Results are always those of the original query.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kernel.language import KATAKANA_LETTERS, has_japanese
from services.engine import sudachi
from services.engine.analysis import analyzer_for
from services.engine.base import Reader
from services.engine.query import Query, Term, all_of
from services.index.store import Store

MIN_FREQUENCY = 2
FEW_RESULTS = 3
MAX_DISTANCE = 2
REFRESH_SECONDS = 10.0  # how often a vocabulary looks for new documents (0: every call)
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_QUERY_WORD = re.compile(r"[^\s\-]+")
_LETTERS = re.compile(r"[a-z]{3,30}")


@dataclass(slots=True)
class _Vocabulary:
    """Surface words of one index's documents and their single-deletion index."""

    words: set[str] = field(default_factory=set)
    deletes: dict[str, list[str]] = field(default_factory=dict)
    watermark: float = -1.0
    checked_at: float = -1e9
    ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, word: str) -> None:
        if word in self.words:
            return
        self.words.add(word)
        for key in _deletions(word):
            self.deletes.setdefault(key, []).append(word)

    def candidates(self, word: str) -> set[str]:
        found: set[str] = set()
        for key in _deletions(word):
            found.update(self.deletes.get(key, ()))
        return found


def _deletions(word: str) -> Iterator[str]:
    yield word
    for i in range(len(word)):
        yield word[:i] + word[i + 1:]


def damerau(a: str, b: str) -> int:
    """Optimal-string-alignment edit distance (a transposition counts as one edit)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


ResultCounter = Callable[[str], int]
"""Number of results the query would have with the given text (same filters and languages)."""

TermFrequency = Callable[[str], int]
"""Number of documents the asker may see that hold an analysed body term."""


def term_frequency(reader: Reader, visible: Query | None) -> TermFrequency:
    """Frequencies among the documents ``visible`` selects (the query's ACL; None: every document)."""
    if visible is None:  # nothing hidden: the index's own statistic is the cheap count
        return lambda term: reader.doc_freq("body", term)

    def frequency(term: str) -> int:
        return reader.count(all_of([Term("body", term), visible]))

    return frequency


class SpellChecker:
    """Builds SpellCorrectedQueries; one per process, vocabularies per index."""

    def __init__(self, store: Store, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._vocabularies: dict[str, _Vocabulary] = {}
        self._lock = threading.Lock()

    def _vocabulary(self, index_id: str) -> _Vocabulary | None:
        """The index's vocabulary; None while its first reading runs in the background.

        With a refresh of 0 new documents are read on the calling thread, every call (tests);
        otherwise at most every ``refresh_seconds``, on a background thread.
        """
        with self._lock:
            vocab = self._vocabularies.setdefault(index_id, _Vocabulary())
        if self.refresh_seconds == 0:
            self._take_in(index_id, vocab)
            return vocab
        now = time.monotonic()
        if now - vocab.checked_at >= self.refresh_seconds and not vocab.lock.locked():
            vocab.checked_at = now
            threading.Thread(target=self._take_in, args=(index_id, vocab), name="kensaku-spelling",
                             daemon=True).start()
        return vocab if vocab.ready else None

    def _take_in(self, index_id: str, vocab: _Vocabulary) -> None:
        """Add the words of documents indexed since the vocabulary's watermark."""
        with vocab.lock:
            for title, body, attributes, updated in self.store.texts_indexed_since(index_id, vocab.watermark):
                vocab.watermark = max(vocab.watermark, updated)
                if '"_language_code": "ja"' in (attributes or ""):  # cheaper than parsing every document
                    continue
                for text in (title or "", body or ""):
                    for word in _WORD.findall(text):
                        lowered = word.lower()
                        if _LETTERS.fullmatch(lowered):
                            vocab.add(lowered)
            vocab.ready = True

    def corrections(self, index_id: str, text: str, languages: list[str], frequency: TermFrequency,
                    count: ResultCounter, total: int) -> list[dict[str, Any]]:
        """``SpellCorrectedQueries`` for ``text`` (empty when nothing needs correcting).

        Args:
            index_id: the index searched.
            text: the query text as sent.
            languages: the languages the query searched.
            frequency: document frequencies of terms among the documents the asker may see.
            count: results the same query would have with another text.
            total: results of the original query.
        """
        out: list[dict[str, Any]] = []
        if "en" in languages:
            english = self._english(index_id, text, frequency)
            if english:
                out.append(english)
        if "ja" in languages and has_japanese(text) and total < FEW_RESULTS:
            japanese = _japanese(text, count, total)
            if japanese:
                out.append(japanese)
        return out

    def _english(self, index_id: str, text: str, term_frequency: TermFrequency) -> dict[str, Any] | None:
        analyzer = analyzer_for("en")

        def frequency(word: str) -> int:
            return min((term_frequency(t) for t in analyzer.query_terms(word)), default=0)

        vocab: _Vocabulary | None = None
        corrections = []
        for match in _QUERY_WORD.finditer(text):  # hyphens split: each part is corrected alone
            word = match.group()
            lowered = word.lower()
            if not _LETTERS.fullmatch(lowered) or frequency(lowered) >= MIN_FREQUENCY:
                continue
            vocab = vocab or self._vocabulary(index_id)
            if vocab is None:
                return None
            best: tuple[int, int, str] | None = None
            for candidate in vocab.candidates(lowered):
                if candidate == lowered:
                    continue
                distance = damerau(lowered, candidate)
                if distance > MAX_DISTANCE:
                    continue
                freq = frequency(candidate)
                if freq < MIN_FREQUENCY:
                    continue
                key = (distance, -freq, candidate)
                if best is None or key < best:
                    best = key
            if best is not None:
                corrected = best[2]
                if word[:1].isupper():
                    corrected = corrected.upper() if word.isupper() and len(word) > 1 else corrected.capitalize()
                corrections.append((match.start(), match.end(), word, corrected))
        return _spell_corrected(text, corrections) if corrections else None


def _spell_corrected(text: str, corrections: list[tuple[int, int, str, str]]) -> dict[str, Any]:
    suggested, last = [], 0
    for begin, end, _, corrected in corrections:
        suggested.append(text[last:begin] + corrected)
        last = end
    suggested.append(text[last:])
    return {
        "SuggestedQueryText": "".join(suggested),
        "Corrections": [{"BeginOffset": b, "EndOffset": e, "Term": t, "CorrectedTerm": c}
                        for b, e, t, c in corrections],
    }


# -- Japanese orthographic variants ---------------------------------------------------------------

_VU = str.maketrans({"ヴ": "ブ"})
_VU_SYLLABLES = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ"}
_E_ROW = set("エケセテネヘメレゲゼデベペ")
_O_ROW = set("オコソトノホモヨロゴゾドボポョ")
_KATAKANA_WORD = re.compile(f"[{KATAKANA_LETTERS}]{{2,}}")


def _katakana_variants(word: str) -> set[str]:
    out = {word + "ー"} if not word.endswith("ー") else {word[:-1]}
    for long_form, vowel_rows in (("イ", _E_ROW), ("ウ", _O_ROW)):
        for i in range(1, len(word)):
            if word[i - 1] in vowel_rows:
                if word[i] == "ー":
                    out.add(word[:i] + long_form + word[i + 1:])
                elif word[i] == long_form:
                    out.add(word[:i] + "ー" + word[i + 1:])
    vu = word
    for old, new in _VU_SYLLABLES.items():
        vu = vu.replace(old, new)
    out.add(vu.translate(_VU))
    out.discard(word)
    return out


def _variants(text: str) -> Iterator[tuple[int, int, str]]:
    """``(begin, end, replacement)`` spans of ``text`` that have an orthographic variant."""
    width = unicodedata.normalize("NFKC", text)
    if width != text and len(width) == len(text):
        for i, (a, b) in enumerate(zip(text, width, strict=True)):
            if a != b:
                yield i, i + 1, b
    for m in _KATAKANA_WORD.finditer(width):
        for variant in _katakana_variants(m.group()):
            yield m.start(), m.end(), variant
    for morpheme in sudachi.tokenizer("A").tokenize(width):  # short units, as readings
        surface, normal = morpheme.surface(), morpheme.normalized_form()
        if normal != surface and has_japanese(surface) and not _KATAKANA_WORD.fullmatch(surface):
            yield morpheme.begin(), morpheme.end(), normal


def _japanese(text: str, count: ResultCounter, total: int) -> dict[str, Any] | None:
    width = unicodedata.normalize("NFKC", text)
    base = width if len(width) == len(text) else text  # offsets must stay those of ``text``
    best: tuple[int, int, int, str, str] | None = None
    seen: set[str] = set()
    for begin, end, replacement in _variants(text):
        candidate = base[:begin] + replacement + base[end:]
        if candidate in seen or candidate == text:
            continue
        seen.add(candidate)
        n = count(candidate)
        if n > total and (best is None or n > best[0]):
            best = (n, begin, end, replacement, candidate)
    if best is None:
        return None
    _, begin, end, replacement, candidate = best
    return {
        "SuggestedQueryText": candidate,
        "Corrections": [{"BeginOffset": begin, "EndOffset": end, "Term": text[begin:end],
                         "CorrectedTerm": replacement}],
    }
