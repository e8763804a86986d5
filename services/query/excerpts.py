"""Excerpts cut around the best passage, and highlights that land exactly on the matched words.

Offsets are code points into the returned text (Kendra's unit; identical to UTF-16 for BMP text).
Windows are ranked by a cheap substring count of the query's normalised surfaces and only the
best one is analysed, so long documents cost little.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from services.engine.analysis import Analyzer, Token, normalize

MAX_TEXT = 2048  # TextWithHighlights.Text limit in the model
_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])|(?<=[.;:] )")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Synonyms:
    """What a query also searches through synonym rules (services/query/synonyms.py): single terms and
    phrases; where they are found they are highlighted as THESAURUS_SYNONYM."""

    terms: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)


NO_SYNONYMS = Synonyms()


@dataclass(frozen=True, slots=True)
class Highlighted:
    text: str
    spans: list[tuple[int, int]]
    matched: frozenset[str]  # query terms found in ``text``
    synonym_spans: list[tuple[int, int]] = field(default_factory=list)  # where a synonym was found


def highlight(texts: list[str], analyzer: Analyzer, terms: frozenset[str],
              synonyms: Synonyms = NO_SYNONYMS) -> list[Highlighted]:
    """Spans of each text whose terms are query terms; a matched compound wins over its parts. Spans of
    ``synonyms`` (a phrase from its first word to its last) come apart, and only where no query term is.

    The texts are analysed in one call (joined by newlines, which no token spans): per-call
    overhead is a large part of analysing short texts such as a title and an excerpt.
    """
    joined = "\n".join(texts)
    starts = []
    start = 0
    for text in texts:
        starts.append(start)
        start += len(text) + 1
    found: list[list[tuple[int, int]]] = [[] for _ in texts]
    matched: list[set[str]] = [set() for _ in texts]
    alike: list[list[tuple[int, int]]] = [[] for _ in texts]
    tokens = analyzer.tokens(joined)
    for tok in tokens:
        if tok.term in terms:
            which = bisect_right(starts, tok.start) - 1
            matched[which].add(tok.term)
            found[which].append((tok.start - starts[which], tok.end - starts[which]))
        elif tok.term in synonyms.terms:
            which = bisect_right(starts, tok.start) - 1
            alike[which].append((tok.start - starts[which], tok.end - starts[which]))
    if synonyms.phrases:
        for begin, end in _phrase_spans(tokens, synonyms.phrases):
            which = bisect_right(starts, begin) - 1
            if end <= starts[which] + len(texts[which]):  # not across two texts
                alike[which].append((begin - starts[which], end - starts[which]))
    out = []
    for text, spans, m, other in zip(texts, found, matched, alike, strict=True):
        spans = _merge(spans)
        other = [s for s in _merge(other) if not any(a < s[1] and s[0] < b for a, b in spans)]
        out.append(Highlighted(text, spans, frozenset(m), other))
    return out


def _phrase_spans(tokens: list[Token], phrases: tuple[tuple[str, ...], ...]) -> list[tuple[int, int]]:
    """Where each phrase's terms stand at consecutive positions: from its first token's start to its last's end."""
    at: dict[int, dict[str, Token]] = {}
    for tok in tokens:
        at.setdefault(tok.position, {}).setdefault(tok.term, tok)
    out = []
    for position, here in at.items():
        for phrase in phrases:
            first = here.get(phrase[0])
            if first is None:
                continue
            last: Token | None = first
            for k, term in enumerate(phrase[1:], start=1):
                last = at.get(position + k, {}).get(term)
                if last is None:
                    break
            if last is not None:
                out.append((first.start, last.end))
    return out


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:  # inside (or overlapping) the previous span
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _windows(text: str, size: int) -> list[tuple[int, int]]:
    """Windows of about ``size`` characters that start at sentence starts."""
    starts = sorted({0, *(m.start() for m in _SENTENCE_END.finditer(text) if m.start() < len(text))})
    windows: list[tuple[int, int]] = []
    for s in starts:
        if windows and s < windows[-1][0] + size // 3:
            continue  # overlapping heavily with the previous window
        end = min(len(text), s + size)
        if end < len(text):  # end at the last sentence end inside the window, if any
            cut = max(text.rfind(c, s, end) for c in "。．！？!?\n.")
            if cut > s + size // 2:
                end = cut + 1
        windows.append((s, end))
    return windows


def excerpt(text: str, hints: list[str], size: int) -> str:
    """The best window of ``text`` for the query, whitespace-collapsed.

    Windows are ranked by how many distinct query surfaces they contain, then how often; only the
    winner is later analysed for highlights (analysis is the expensive step).
    """
    if not text:
        return ""
    windows = _windows(text, size)
    best = 0
    if hints and len(windows) > 1:
        scores = []
        for s, e in windows:
            window = normalize(text[s:e])
            scores.append((sum(1 for h in hints if h in window), sum(window.count(h) for h in hints)))
        best = max(range(len(windows)), key=lambda i: (scores[i], -i))
    s, e = windows[best]
    return shown(text[s:e])


def shown(text: str) -> str:
    """Text as a result shows it: whitespace collapsed, within the model's length limit."""
    return _SPACE.sub(" ", text).strip()[:MAX_TEXT]
