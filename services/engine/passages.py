"""Documents cut into passages of about 200 tokens, at sentence ends, for vectors and Retrieve.

Token counts are estimated without the analyzer (it is the slow part of indexing): a Latin word
counts one token, a CJK character half a token (Sudachi's Japanese words average about two
characters). A sentence longer than a whole passage is cut at the limit. Whatever the text looks like
(a 4 MB word, a script the estimate does not count), no passage is longer than ``MAX_CHARS``: a
passage is embedded whole, and its cost must not grow with the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kernel.language import JAPANESE_CHAR

MAX_TOKENS = 200
# About twice what 200 English tokens take; a model reads far less of a passage than this anyway.
MAX_CHARS = 2000
_WORD = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class Passage:
    number: int  # position within the document, from 0
    start: int  # character offsets in the body
    end: int
    text: str


def estimate_tokens(text: str) -> float:
    cjk = len(JAPANESE_CHAR.findall(text))
    latin = len(re.findall(r"[A-Za-z0-9_]+", text))
    return latin + 0.5 * cjk


_BOUNDARY = re.compile(r"[。！？!?]+[」』）)\"']*|\.(?=\s)|\n+")


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) covering the non-blank text."""
    spans = []
    pos = 0
    cuts = [m.end() for m in _BOUNDARY.finditer(text)] + [len(text)]
    for cut in cuts:
        s, e = pos, cut
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
        pos = cut
    return spans


def _cut_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence over the limit, cut into pieces of at most ``limit`` tokens."""
    pieces = []
    piece_start, count = start, 0.0
    for m in _WORD.finditer(text, start, end):
        token = m.group()
        weight = 0.5 if JAPANESE_CHAR.match(token) else (1.0 if token[0].isascii() and token[0].isalnum() else 0.0)
        count += weight
        if count > limit:
            pieces.append((piece_start, m.start()))
            piece_start, count = m.start(), weight
    if piece_start < end:
        pieces.append((piece_start, end))
    return pieces


def _cut_chars(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A span over ``limit`` characters, cut at the last space of each window, or in the word."""
    pieces = []
    while end - start > limit:
        space = text.rfind(" ", start + 1, start + limit + 1)
        cut = space if space > start else start + limit
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def split_passages(body: str, max_tokens: int = MAX_TOKENS, max_chars: int = MAX_CHARS) -> list[Passage]:
    """The body as consecutive passages of whole sentences, each at most ``max_tokens`` (estimated)
    and ``max_chars`` characters."""
    spans: list[tuple[int, int]] = []
    for s, e in sentences(body):
        pieces = _cut_long(body, s, e, max_tokens) if estimate_tokens(body[s:e]) > max_tokens else [(s, e)]
        for ps, pe in pieces:
            spans.extend(_cut_chars(body, ps, pe, max_chars))
    passages: list[Passage] = []
    cur_start: int | None = None
    cur_end = 0
    cur_tokens = 0.0
    for s, e in spans:
        tokens = estimate_tokens(body[s:e])
        if cur_start is not None and (cur_tokens + tokens > max_tokens or e - cur_start > max_chars):
            passages.append(Passage(len(passages), cur_start, cur_end, body[cur_start:cur_end]))
            cur_start, cur_tokens = None, 0.0
        if cur_start is None:
            cur_start = s
        cur_end = e
        cur_tokens += tokens
    if cur_start is not None:
        passages.append(Passage(len(passages), cur_start, cur_end, body[cur_start:cur_end]))
    return passages


def embedding_text(title: str | None, passage: str) -> str:
    """What is embedded for a passage: the document title carried along, then the passage."""
    return f"{title}\n{passage}" if title else passage
