"""Text analysis: text -> tokens, shared by indexing and querying.

tantivy-py only offers its built-in tokenizers, so every field is analysed here and handed to the
lexical index pre-split; the *same* analyzer analyses the query. Three analyzers exist:

* ``ja`` (:func:`analyzer_for` ``"ja"``): SudachiPy + sudachidict-core. Split mode C morphemes, their
  ``normalized_form`` (申込み -> 申し込み, 子ども -> 子供, server -> サーバー), lower-cased, and a final
  katakana long-vowel rule (スケジューラー -> スケジューラ). Documents also carry the parts of each
  compound: its split-mode-A words, the runs of them (年次有給休暇 -> 有給休暇), its split-mode-B
  words, and a dictionary word made of whole A words and the head of the next one (東京都庁, A words
  東京/都庁, carries 東京都, whose own A words are 東京/都), so a compound is found by its real
  constituent words, never by a character fragment that straddles a word boundary (東京都 never
  yields 京都, 外国人参政権 never yields 人参). Queries use mode-C words only.
  Words of scripts Sudachi does not know (hangul, Thai...) are kept whole, like Latin words.
* ``en``: ``\\w+`` words stemmed with the Snowball English stemmer (running -> run).
* ``standard`` (every other language): ``\\w+`` words, no stemming; runs of CJK ideographs, kana
  and hangul become overlapping character bigrams so zh/ko text stays searchable.

Queries tell content words from function words (:meth:`Analyzer.query_words`): Japanese particles,
auxiliary verbs, conjunctions, pronouns, demonstratives, fillers and auxiliary-capable verbs and
adjectives (する, ある, できる, ない...), a few formal nouns (こと, ため...), Lucene's English stop
words with English pronouns, auxiliaries and question words. Only content words match on their own
(a query of function words finds nothing); documents index every word, so function words still
serve phrase proximity.

All three start with the same character normalisation, :func:`normalize` (NFKC, then lower case),
applied through an offset map so every :class:`Token` points back into the *original* text even
where NFKC changes the length (``㍿`` -> ``株式会社``, ``ﾊﾟ`` -> ``パ``).

Nothing heavy happens at import: the Sudachi dictionary loads on first use (once per process,
under a lock); tokenizers and stemmers are kept one per thread, as neither may be shared.
Bump ``_REVISION`` whenever token output changes; :data:`ANALYZER_VERSION` combines it with the
Unicode, SudachiPy, dictionary and stemmer versions and is recorded with each index.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import regex  # type: ignore[import-untyped, unused-ignore]

from kernel.language import HIRAGANA_LETTERS, KATAKANA_LETTERS
from services.engine import sudachi

if TYPE_CHECKING:
    import sudachipy  # type: ignore[import-untyped, unused-ignore]

__all__ = ["ANALYZER_VERSION", "Analyzer", "QueryWord", "Token", "analyzer_for", "normalize"]

# Bump when the token output of any analyzer changes (rules below, not library versions).
_REVISION = "2"

if TYPE_CHECKING:
    ANALYZER_VERSION: str
    """Identifies the token output; stored with each index (computed lazily, see ``__getattr__``)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One indexed term and where it came from.

    Attributes:
        term: the indexed form (normalised, lemmatised or stemmed).
        start: code-point offset of the first character of the surface in the *original* text.
        end: exclusive end offset; ``original[start:end]`` is the surface that produced ``term``.
        position: token position. Compound parts share the position of their compound; character
            bigrams take one position each.
    """

    term: str
    start: int
    end: int
    position: int


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One distinct term of a query; ``content`` is False for a function word (particle, stop word)."""

    term: str
    content: bool
    surface: str  # as written (normalised): the term of "setup" in Japanese is セットアップ


# The generated __init__ of a frozen dataclass goes through object.__setattr__ four times; analysers
# create a token per word, so they fill the slots directly (about twice as fast, same object).
_new_object = object.__new__
_set_term, _set_start, _set_end, _set_position = (
    Token.__dict__[field].__set__ for field in ("term", "start", "end", "position")
)


def _token(term: str, start: int, end: int, position: int) -> Token:
    token: Token = _new_object(Token)
    _set_term(token, term)
    _set_start(token, start)
    _set_end(token, end)
    _set_position(token, position)
    return token


class Analyzer(Protocol):
    """Turns text into terms, the same way for documents and for queries."""

    name: str
    """``"ja"``, ``"en"`` or ``"standard"``."""

    def tokens(self, text: str) -> list[Token]:
        """Analyse document text.

        Args:
            text: the original text of one field.

        Returns:
            Tokens in text order, with offsets into ``text``.
        """
        ...

    def query_words(self, text: str) -> list[QueryWord]:
        """Analyse query text.

        Args:
            text: the user's keywords.

        Returns:
            Distinct terms in order of first occurrence, each marked content or function word.
        """
        ...

    def query_terms(self, text: str) -> list[str]:
        """The content terms of :meth:`query_words`, in order (function words never match alone)."""
        ...


def normalize(text: str) -> str:
    """The shared character normalisation: NFKC, then lower case.

    Args:
        text: any text.

    Returns:
        The normalised text (its length may differ from ``text``).
    """
    return unicodedata.normalize("NFKC", text).lower()


def analyzer_for(language_code: str) -> Analyzer:
    """The analyzer for a document or query language.

    Args:
        language_code: a Kendra ``_language_code`` such as ``"ja"``, ``"en"``, ``"zh-TW"``. Only the
            primary subtag counts, case-insensitively (``"ja-JP"`` is Japanese).

    Returns:
        The Japanese analyzer for ``ja``, the English one for ``en``, the standard one otherwise.
        Analyzers are shared process-wide and are safe to use from several threads.
    """
    primary = language_code.strip().lower().replace("_", "-").split("-", 1)[0]
    if primary == "ja":
        return _JAPANESE
    if primary == "en":
        return _ENGLISH
    return _STANDARD


def __getattr__(name: str) -> str:
    # PEP 562: ANALYZER_VERSION reads package metadata, so it is computed on first access, not at import.
    if name == "ANALYZER_VERSION":
        return _analyzer_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _analyzer_version() -> str:
    import importlib.metadata  # about 30 ms to import: only when the version is asked for

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "none"

    return (
        f"kensaku-analysis-{_REVISION}"
        f";unicode={unicodedata.unidata_version}"
        f";sudachipy={version('sudachipy')}"
        f";sudachidict-core={version('sudachidict-core')}"
        f";pystemmer={version('PyStemmer')}"
    )


# --------------------------------------------------------------------------------------------------
# Character normalisation with an offset map
# --------------------------------------------------------------------------------------------------

# Characters whose NFKC + lower-case form is exactly one character and which never compose with a
# neighbour: ASCII, common Japanese punctuation, kana, CJK unified ideographs, the ideographic space,
# full-width ASCII and half-width katakana. A run of these normalises as a whole, one-to-one.
_ONE_TO_ONE = (
    "\x00-\x7f\u3000-\u3003\u3005-\u3011\u3014-\u301f\u3041-\u3096\u30a1-\u30fa\u30fc-\u30fe"
    "\u4e00-\u9fff\uff01-\uff5e\uff61-\uff9d"
)
# Characters that may compose with, or reorder against, the character before them: combining marks,
# the half-width voiced sound marks and Hangul medial/final jamo.
_MARKS = r"\p{M}\uff9e\uff9f\u1160-\u11ff"
# A character outside the one-to-one set with its marks, or a one-to-one character that has marks.
_SPECIAL_CLUSTER = regex.compile(rf"[^{_ONE_TO_ONE}][{_MARKS}]*|.[{_MARKS}]+", regex.DOTALL)


@dataclass(slots=True)
class _Mapped:
    """Normalised text plus, per normalised character, the original span it came from."""

    text: str
    starts: list[int] | None  # None: identity (every character maps to itself)
    ends: list[int] | None

    def span(self, begin: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` of the normalised span ``[begin, end)`` (``end > begin``)."""
        if self.starts is None or self.ends is None:
            return begin, end
        return self.starts[begin], self.ends[end - 1]


@functools.lru_cache(maxsize=4096)
def _nfkc(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster)


def _map_normalize(text: str) -> _Mapped:
    """Normalise ``text`` like :func:`normalize` and keep the way back to the original offsets."""
    starts: list[int] | None
    ends: list[int] | None
    if unicodedata.is_normalized("NFKC", text):
        nfkc, starts, ends = text, None, None
    else:
        # Only clusters outside the one-to-one set are normalised one by one; everything between them
        # normalises as a block (C speed) and keeps its length.
        pieces: list[str] = []
        starts, ends = [], []
        pos = 0
        for match in _SPECIAL_CLUSTER.finditer(text):
            s, e = match.span()
            if s > pos:
                _append_run(text, pos, s, pieces, starts, ends)
            piece = _nfkc(match.group())
            pieces.append(piece)
            starts.extend([s] * len(piece))
            ends.extend([e] * len(piece))
            pos = e
        if pos < len(text):
            _append_run(text, pos, len(text), pieces, starts, ends)
        nfkc = "".join(pieces)

    lowered = nfkc.lower()
    if len(lowered) == len(nfkc):
        return _Mapped(lowered, starts, ends)
    # Rare: a character whose lower case is longer (U+0130 İ -> i + U+0307). Lengths are context-free
    # (only final sigma depends on context, and σ/ς are both one character), so the map follows
    # per-character lengths while the text stays the whole-string lower case.
    if starts is None or ends is None:
        starts, ends = list(range(len(nfkc))), list(range(1, len(nfkc) + 1))
    new_starts: list[int] = []
    new_ends: list[int] = []
    for i, ch in enumerate(nfkc):
        width = len(ch.lower())
        new_starts.extend([starts[i]] * width)
        new_ends.extend([ends[i]] * width)
    return _Mapped(lowered, new_starts, new_ends)


def _append_run(
    text: str, start: int, end: int, pieces: list[str], starts: list[int], ends: list[int]
) -> None:
    run = text[start:end]
    normalised = unicodedata.normalize("NFKC", run)
    if len(normalised) == len(run):
        pieces.append(normalised)
        starts.extend(range(start, end))
        ends.extend(range(start + 1, end + 1))
        return
    for i, ch in enumerate(run):  # defensive: the one-to-one set should make this unreachable
        piece = _nfkc(ch)
        pieces.append(piece)
        starts.extend([start + i] * len(piece))
        ends.extend([start + i + 1] * len(piece))


# --------------------------------------------------------------------------------------------------
# Japanese
# --------------------------------------------------------------------------------------------------

_WORD_CHAR = re.compile(r"\w")
_KATAKANA_WORD = re.compile(f"[{KATAKANA_LETTERS}]+")
_LONG_VOWEL = "\u30fc"  # ー
_MIN_KATAKANA_STEM = 4  # like Lucene's JapaneseKatakanaStemFilter: ビール (3) keeps its ー
_SYMBOL_POS = "補助記号"
_DROPPED_POS = frozenset({_SYMBOL_POS, "空白"})
# Function words (kuromoji's part-of-speech stop tags, in UniDic's terms): never matched on their own.
_FUNCTION_POS = frozenset({"助詞", "助動詞", "接続詞", "代名詞", "連体詞", "記号"})
# Verbs and adjectives that also serve as auxiliaries (する, ある, いる, なる, できる, ない, いい...)
# carry UniDic's 非自立可能; fillers (えー, あの) are 感動詞-フィラー.
_FUNCTION_SUBTYPES = frozenset({("動詞", "非自立可能"), ("形容詞", "非自立可能"), ("感動詞", "フィラー")})
# Formal nouns and the honorific prefix, by normalized form (kuromoji's ja_stop words of this kind).
_FUNCTION_FORMS = frozenset({"こと", "事", "物", "為", "時", "所", "方", "よう", "様", "御"})
# Lucene's English stop words (Elasticsearch's ``_english_``), and the pronouns, auxiliaries and question
# words that the Japanese side drops by part of speech (代名詞, 助動詞, 非自立可能): "how do I" is no topic.
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there"
    " these they this to was will with"
    " i me my we our us you your he him his she her its them am been being do does did have has had"
    " can could should would may might must shall what which who whom whose when where why how".split()
)
# Sudachi refuses inputs over 49,149 UTF-8 bytes; 8,000 code points stay under it at 4 bytes each.
_MAX_CHUNK = 8000
_CHUNK_BREAKS = ("\n", "。", "!", "?", ". ", " ")
_MAX_COMPOUND_PARTS = 8  # runs of A parts are emitted for compounds of up to this many parts
# Word ids carry the dictionary in their top 4 bits; 0xF marks out-of-vocabulary morphemes, which
# share ids across different surfaces and so cannot be cached by id.
_OOV_WORD_ID = 0xF000_0000
_WORD_CACHE_LIMIT = 200_000


@functools.lru_cache(maxsize=65536)
def _ja_term(normalized_form: str) -> str | None:
    """Index term for a Sudachi normalized form, or None when it has no word character."""
    term = unicodedata.normalize("NFKC", normalized_form).lower()
    if not _WORD_CHAR.search(term):
        return None
    if any(ch.isspace() for ch in term):  # terms are whitespace-free ("New York" style entries)
        term = "".join(term.split())
    if len(term) >= _MIN_KATAKANA_STEM and term[-1] == _LONG_VOWEL and _KATAKANA_WORD.fullmatch(term):
        term = term[:-1]
    return term


class _Sudachi:
    """The shared Sudachi dictionary's part-of-speech classes (found once, lazily), one tokenizer per
    thread, and a cache of what each dictionary word contributes (its term, whether it is a compound)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dictionary: sudachipy.Dictionary | None = None
        self._dropped_pos_ids: frozenset[int] = frozenset()
        self._symbol_pos_ids: frozenset[int] = frozenset()
        self._function_pos_ids: frozenset[int] = frozenset()
        self._local = threading.local()
        # word id -> (term or None when the word is not indexed, splits into 2+ A parts, content word)
        self.words: dict[int, tuple[str | None, bool, bool]] = {}
        # word id of a compound -> its extra parts made with the head of a longer A word (東京都庁: 東京都)
        self.heads: dict[int, list[tuple[str, int, int]]] = {}

    def _load(self) -> sudachipy.Dictionary:
        with self._lock:
            if self._dictionary is None:
                dictionary = sudachi.dictionary()
                dropped: set[int] = set()
                symbols: set[int] = set()
                function: set[int] = set()
                pos_id = 0
                while (pos := dictionary.pos_of(pos_id)) is not None:
                    if pos[0] in _DROPPED_POS:
                        dropped.add(pos_id)
                    if pos[0] == _SYMBOL_POS:
                        symbols.add(pos_id)
                    if pos[0] in _FUNCTION_POS or (pos[0], pos[1]) in _FUNCTION_SUBTYPES:
                        function.add(pos_id)
                    pos_id += 1
                self._dropped_pos_ids = frozenset(dropped)
                self._symbol_pos_ids = frozenset(symbols)
                self._function_pos_ids = frozenset(function)
                self._dictionary = dictionary
            return self._dictionary

    def tokenizer(self, slot: str = "tokenizer") -> sudachipy.Tokenizer:
        """This thread's split-mode-C tokenizer (a Tokenizer must not be shared between threads); another
        ``slot`` is a second one, for looking words up while the first one's output is in use."""
        if self._dictionary is None:
            self._load()
        return sudachi.tokenizer("C", slot)

    def describe(self, morpheme: sudachipy.Morpheme) -> tuple[str | None, bool, bool]:
        """``(term, is_compound, is_content)`` of a morpheme; term is None for symbols, blanks and the like.

        Dictionary words are cached by word id (dict reads and writes are atomic, so threads may
        share the cache; the worst race computes an entry twice).
        """
        pos_id = morpheme.part_of_speech_id()
        # Sudachi tags runs of scripts it does not know (hangul, Thai, Devanagari...) as out-of-
        # vocabulary 補助記号; those are words, kept whole like Latin words. _ja_term still drops
        # true symbols (no word character).
        if pos_id in self._dropped_pos_ids and not (pos_id in self._symbol_pos_ids and morpheme.is_oov()):
            info: tuple[str | None, bool, bool] = (None, False, False)
        else:
            term = _ja_term(morpheme.normalized_form())
            compound = (
                term is not None
                and len(morpheme) > 1
                and len(morpheme.split(_split_a(), add_single=False)) > 1
            )
            content = (
                term is not None
                and pos_id not in self._function_pos_ids
                and morpheme.normalized_form() not in _FUNCTION_FORMS
                and morpheme.surface() not in ENGLISH_STOP_WORDS  # "the" is normalised to ザ
            )
            info = (term, compound, content)
        word_id = morpheme.word_id()
        if word_id < _OOV_WORD_ID:
            if len(self.words) >= _WORD_CACHE_LIMIT:
                self.words.clear()
            self.words[word_id] = info
        return info

    def _word(self, surface: str) -> sudachipy.Morpheme | None:
        """The dictionary word that ``surface`` is as a whole (None: several words, or unknown)."""
        found = self.tokenizer("probe").tokenize(surface)
        if len(found) != 1 or found[0].is_oov():
            return None
        return found[0]

    def head_parts(self, compound: sudachipy.Morpheme, surfaces: list[str]) -> list[tuple[str, int, int]]:
        """Dictionary words made of whole A words of ``compound`` and the head (or tail) of the next
        (previous) A word, with offsets relative to the compound: 東京都庁 (東京/都庁) -> 東京都, because
        東京都's own A words are 東京/都 and 都庁 is 都 + 庁, both words. 外国人参政権 (外国/人/参政/権)
        yields no 人参: 人参 is one A word, not 人 + 参. Cached by word id (OOV compounds: not at all)."""
        word_id = compound.word_id()
        if word_id < _OOV_WORD_ID and (cached := self.heads.get(word_id)) is not None:
            return cached
        starts = [0]
        for surface in surfaces:
            starts.append(starts[-1] + len(surface))
        found: list[tuple[str, int, int]] = []
        for k, unit in enumerate(surfaces):
            for cut in range(1, len(unit)):
                head, tail = unit[:cut], unit[cut:]
                if k > 0 and self._word(tail) is not None:  # whole words before, the head of this one
                    for i in range(k - 1, max(-1, k - _MAX_COMPOUND_PARTS), -1):
                        self._add_head([*surfaces[i:k], head], starts[i], starts[k] + cut, found)
                if k + 1 < len(surfaces) and self._word(head) is not None:  # this one's tail, whole words after
                    for j in range(k + 2, min(len(surfaces), k + _MAX_COMPOUND_PARTS) + 1):
                        self._add_head([tail, *surfaces[k + 1 : j]], starts[k] + cut, starts[j], found)
        if word_id < _OOV_WORD_ID:
            if len(self.heads) >= _WORD_CACHE_LIMIT:
                self.heads.clear()
            self.heads[word_id] = found
        return found

    def _add_head(self, pieces: list[str], begin: int, end: int, found: list[tuple[str, int, int]]) -> None:
        word = self._word("".join(pieces))
        if word is None or [m.surface() for m in word.split(_split_a())] != pieces:
            return
        if (term := _ja_term(word.normalized_form())) is not None:
            found.append((term, begin, end))

    def part_term(self, morpheme: sudachipy.Morpheme) -> str | None:
        """Normalized form of a compound part, or None when the part is a symbol or blank."""
        if morpheme.part_of_speech_id() in self._dropped_pos_ids:
            return None
        form: str = morpheme.normalized_form()
        return form


@functools.cache
def _split_a() -> sudachipy.SplitMode:
    import sudachipy  # type: ignore[import-untyped, unused-ignore]

    return sudachipy.SplitMode.A


@functools.cache
def _split_b() -> sudachipy.SplitMode:
    import sudachipy  # type: ignore[import-untyped, unused-ignore]

    return sudachipy.SplitMode.B


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split text into pieces Sudachi accepts, at line, sentence or word breaks where possible."""
    if len(text) <= _MAX_CHUNK:
        yield 0, text
        return
    pos = 0
    while pos < len(text):
        end = min(pos + _MAX_CHUNK, len(text))
        if end < len(text):
            for brk in _CHUNK_BREAKS:
                cut = text.rfind(brk, pos + _MAX_CHUNK // 2, end)
                if cut >= 0:
                    end = cut + len(brk)
                    break
        yield pos, text[pos:end]
        pos = end


class _QueryTerms:
    """``query_terms`` from ``query_words``, shared by the three analyzers."""

    def query_words(self, text: str) -> list[QueryWord]:
        raise NotImplementedError

    def query_terms(self, text: str) -> list[str]:
        """The content terms of :meth:`query_words` (function words never match alone)."""
        return [w.term for w in self.query_words(text) if w.content]


class _JapaneseAnalyzer(_QueryTerms):
    """SudachiPy split mode C with normalised forms; documents add the parts of compounds."""

    name = "ja"

    def __init__(self) -> None:
        self._sudachi = _Sudachi()

    def tokens(self, text: str) -> list[Token]:
        """Mode-C tokens, each followed by its compound parts at the same position.

        The parts of a mode-C token with two or more split-mode-A parts are: the A parts, every
        contiguous run of them shorter than the whole (so the query 有給休暇 finds 年次有給休暇, and
        参政権 finds 外国人参政権), and the split-mode-B parts. All are whole words put together, so
        外国人参政権 (外国/人/参政/権) never yields 人参 and 東京都 (東京/都) never yields 京都.
        """
        mapped = _map_normalize(text)
        starts, ends = mapped.starts, mapped.ends
        sudachi = self._sudachi
        tokenizer = sudachi.tokenizer()
        words = sudachi.words
        describe = sudachi.describe
        out: list[Token] = []
        position = 0
        for base, chunk in _chunks(mapped.text):
            for morpheme in tokenizer.tokenize(chunk):
                info = words.get(morpheme.word_id()) or describe(morpheme)
                term = info[0]
                if term is None:
                    continue
                begin, end = base + morpheme.begin(), base + morpheme.end()
                if end <= begin:
                    continue
                if starts is None or ends is None:
                    out.append(_token(term, begin, end, position))
                else:
                    out.append(_token(term, starts[begin], ends[end - 1], position))
                if info[1]:
                    self._compound_parts(mapped, base, morpheme, term, begin, end, position, out)
                position += 1
        return out

    def _compound_parts(
        self,
        mapped: _Mapped,
        base: int,
        compound: sudachipy.Morpheme,
        whole: str,
        begin: int,
        end: int,
        position: int,
        out: list[Token],
    ) -> None:
        part_term = self._sudachi.part_term
        # (normalized form, or None for a symbol part; begin; end) per A part, in text coordinates
        units: list[tuple[str | None, int, int]] = []
        surfaces: list[str] = []
        for part in compound.split(_split_a()):
            b, e = base + part.begin(), base + part.end()
            if e <= b:  # a part Sudachi could not place: fall back to the whole compound's span
                b, e = begin, end
            units.append((part_term(part), b, e))
            surfaces.append(part.surface())
        candidates: list[tuple[str, int, int]] = []
        count = len(units)
        longest = count - 1 if count <= _MAX_COMPOUND_PARTS else 1
        for i in range(count):
            for j in range(i + 1, min(i + longest, count) + 1):
                forms = [form for form, _, _ in units[i:j] if form is not None]
                if len(forms) < j - i:  # runs never bridge a symbol
                    break
                candidates.append(("".join(forms), units[i][1], units[j - 1][2]))
        for part in compound.split(_split_b(), add_single=False):
            b, e = base + part.begin(), base + part.end()
            form = part_term(part)
            if e > b and form is not None:
                candidates.append((form, b, e))
        if "".join(surfaces) == mapped.text[begin:end]:  # offsets inside the compound are exact
            for form, b, e in self._sudachi.head_parts(compound, surfaces):
                candidates.append((form, begin + b, begin + e))
        seen = {(whole, begin, end)}
        for form, b, e in sorted(candidates, key=lambda c: (c[1], c[2])):
            term = _ja_term(form)
            if term is None or (term, b, e) in seen:
                continue
            seen.add((term, b, e))
            start, stop = mapped.span(b, e)
            out.append(_token(term, start, stop, position))

    def query_words(self, text: str) -> list[QueryWord]:
        """Distinct mode-C terms (no compound parts), in order of first occurrence; a term is content
        if any of its occurrences is a content word."""
        mapped = _map_normalize(text)
        sudachi = self._sudachi
        tokenizer = sudachi.tokenizer()
        words = sudachi.words
        terms: dict[str, tuple[bool, str]] = {}
        for _, chunk in _chunks(mapped.text):
            for morpheme in tokenizer.tokenize(chunk):
                term, _, content = words.get(morpheme.word_id()) or sudachi.describe(morpheme)
                if term is not None:
                    seen, surface = terms.get(term, (False, morpheme.surface()))
                    terms[term] = seen or content, surface
        return [QueryWord(term, content, surface) for term, (content, surface) in terms.items()]



# --------------------------------------------------------------------------------------------------
# English and standard
# --------------------------------------------------------------------------------------------------

# Characters that become bigrams: CJK ideographs (with 々 〇 and the radicals), kana with ー, hangul.
# Only NFKC output is ever matched, so compatibility forms (half-width kana, circled hangul) need not
# be listed.
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3041-\u3096\u309d-\u309f"
    "\u30a1-\u30fa\u30fc-\u30ff\u3131-\u318e\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7ff\uf900-\ufaff\U0001b000-\U0001b16f\U00020000-\U0003ffff"
)
# A run of CJK characters (group 1) or a word without CJK characters. Words start with a letter,
# digit or _ and may hold combining marks and joiners, so हिन्दी and i + U+0307 (from İ) stay one word
# while a lone mark or an emoji's zero-width joiner is none. That needs the regex module's \w; the
# standard library's engine is faster and agrees on text without marks or joiners, the usual case.
_WORD_OR_CJK = re.compile(rf"([{_CJK}]+)|[^\W{_CJK}]+")
_WORD_OR_CJK_WITH_MARKS = regex.compile(rf"([{_CJK}]+)|[^\W{_CJK}\p{{M}}\p{{Join_Control}}][^\W{_CJK}]*")
_MARK_OR_JOINER = regex.compile(r"[\p{M}\p{Join_Control}]")
_LONE_KANA = re.compile(f"[{HIRAGANA_LETTERS}{KATAKANA_LETTERS}]")  # a particle seen by a bigram analyzer


def _words(text: str, stem: Callable[[str], str] | None = None) -> list[Token]:
    """Word tokens (stemmed with ``stem`` when given) and CJK bigrams, in text order."""
    mapped = _map_normalize(text)
    normalised, starts, ends = mapped.text, mapped.starts, mapped.ends
    out: list[Token] = []
    position = 0
    if normalised.isascii() or not _MARK_OR_JOINER.search(normalised):
        pattern: re.Pattern[str] | regex.Pattern[str] = _WORD_OR_CJK
    else:
        pattern = _WORD_OR_CJK_WITH_MARKS
    for match in pattern.finditer(normalised):
        b, e = match.span()
        if match.lastindex is None or e - b == 1:  # a word, or a lone CJK character (unigram)
            term = match.group()
            if stem is not None and match.lastindex is None:
                term = stem(term)
            if starts is None or ends is None:
                out.append(_token(term, b, e, position))
            else:
                out.append(_token(term, starts[b], ends[e - 1], position))
            position += 1
            continue
        for i in range(b, e - 1):
            if starts is None or ends is None:
                out.append(_token(normalised[i : i + 2], i, i + 2, position))
            else:
                out.append(_token(normalised[i : i + 2], starts[i], ends[i + 1], position))
            position += 1
    return out


class _StandardAnalyzer(_QueryTerms):
    """NFKC + lower-case ``\\w+`` words, no stemming; CJK runs become overlapping bigrams."""

    name = "standard"

    def tokens(self, text: str) -> list[Token]:
        """Words and CJK bigrams in text order (a lone CJK character is a unigram)."""
        return _words(text)

    def query_words(self, text: str) -> list[QueryWord]:
        """Distinct terms of :meth:`tokens`; English stop words and lone kana are function words."""
        return _query_words(_words(text))


def _query_words(unstemmed: list[Token], stemmed: list[Token] | None = None) -> list[QueryWord]:
    """Distinct terms (``stemmed``'s when given: the same tokens, as documents are stemmed), each a
    function word when its unstemmed word is a stop word or a lone kana."""
    terms: dict[str, tuple[bool, str]] = {}
    for token, indexed in zip(unstemmed, stemmed or unstemmed, strict=True):
        word, term = token.term, indexed.term
        content = word not in ENGLISH_STOP_WORDS and not _LONE_KANA.fullmatch(word)
        seen, surface = terms.get(term, (False, word))
        terms[term] = seen or content, surface
    return [QueryWord(term, content, surface) for term, (content, surface) in terms.items()]


class _EnglishAnalyzer(_QueryTerms):
    """NFKC + lower-case ``\\w+`` words, Snowball English stems; CJK runs as in standard."""

    name = "en"

    def __init__(self) -> None:
        self._local = threading.local()

    def _stem(self) -> Callable[[str], str]:
        stem: Callable[[str], str] | None = getattr(self._local, "stem", None)
        if stem is None:  # a PyStemmer object is not thread-safe: one per thread
            import Stemmer  # type: ignore[import-not-found, unused-ignore]

            stem = Stemmer.Stemmer("english").stemWord
            self._local.stem = stem
        return stem

    def tokens(self, text: str) -> list[Token]:
        """Stemmed words (running, runs -> run) and CJK bigrams, in text order."""
        return _words(text, self._stem())

    def query_words(self, text: str) -> list[QueryWord]:
        """Distinct stemmed terms; stop words (checked before stemming) and lone kana are function words."""
        return _query_words(_words(text), _words(text, self._stem()))


_JAPANESE = _JapaneseAnalyzer()
_ENGLISH = _EnglishAnalyzer()
_STANDARD = _StandardAnalyzer()
