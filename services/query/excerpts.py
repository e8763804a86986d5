"""Excerpts cut around the best passage, and highlights that land exactly on the matched words.

Offsets are code points into the returned text (Kendra's unit; identical to UTF-16 for BMP text).
Windows are ranked by a cheap substring count of the query's normalised surfaces and only the
best one is analysed, so long documents cost little.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.engine.analysis import Analyzer, normalize

MAX_TEXT = 2048  # TextWithHighlights.Text limit in the model
_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])|(?<=[.;:] )")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Highlighted:
    text: str
    spans: list[tuple[int, int]]
    matched: frozenset[str]  # query terms found in ``text``


def highlight(text: str, analyzer: Analyzer, terms: frozenset[str]) -> Highlighted:
    """Spans of ``text`` whose terms are query terms; a matched compound wins over its parts."""
    spans: list[tuple[int, int]] = []
    matched: set[str] = set()
    for tok in analyzer.tokens(text):
        if tok.term in terms:
            matched.add(tok.term)
            spans.append((tok.start, tok.end))
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:  # inside (or overlapping) the previous span
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return Highlighted(text, merged, frozenset(matched))


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


def excerpt(text: str, analyzer: Analyzer, terms: frozenset[str], hints: list[str], size: int) -> Highlighted:
    """The best window of ``text`` for the query, whitespace-collapsed, with highlights.

    Windows are ranked by how many distinct query surfaces they contain, then how often; only the
    winner is analysed (analysis is the expensive step).
    """
    if not text:
        return Highlighted("", [], frozenset())
    windows = _windows(text, size)
    best = 0
    if hints and len(windows) > 1:
        scores = []
        for s, e in windows:
            window = normalize(text[s:e])
            scores.append((sum(1 for h in hints if h in window), sum(window.count(h) for h in hints)))
        best = max(range(len(windows)), key=lambda i: (scores[i], -i))
    s, e = windows[best]
    return highlight(_SPACE.sub(" ", text[s:e]).strip()[:MAX_TEXT], analyzer, terms)
