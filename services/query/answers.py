"""ANSWER results: the sentence of the best passage that answers a question (Kendra's extractive answer).

Kendra returns an ANSWER item (AdditionalAttributes ``AnswerText`` with a ``TopAnswer`` highlight)
when it finds a passage that answers a question. Here: for a query worded as a question whose best
document is HIGH or VERY_HIGH, the passage nearest the query is split into sentences; the
sentence with most query words, then the nearest in meaning, is the top answer, shown inside up to
290 characters of its passage.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from services.engine.analysis import analyzer_for
from services.engine.passages import sentences
from services.index.fields import displayed_uri
from services.index.service import IndexService
from services.query.hybrid import Ranked, is_question

ANSWER_CHARS = 290
EARNED = ("VERY_HIGH", "HIGH")
# The share of the query's content words the answering passage must hold, unless its cosine is related.
MIN_PASSAGE_WORDS = 0.5


def _best_sentence(ranked: Ranked, passage_text: str, terms: list[str], lang: str,
                   embed: Callable[[list[str]], Any]) -> tuple[int, int] | None:
    spans = sentences(passage_text)
    if not spans:
        return None
    texts = [passage_text[s:e] for s, e in spans]
    analyzer, wanted = analyzer_for(lang), set(terms)
    hits = [len(wanted & set(analyzer.query_terms(x))) for x in texts]
    sims = np.zeros(len(spans))
    # Words decide when they can (cheap); meaning only when no sentence shares a word (cross-language).
    if ranked.query_vector is not None and len(spans) > 1 and max(hits) == 0:
        sims = embed(texts) @ ranked.query_vector
    best = max(range(len(spans)), key=lambda i: (hits[i], float(sims[i]), -i))
    return spans[best]


def _window(text: str, start: int, end: int, size: int) -> tuple[str, int, int]:
    """Up to ``size`` characters of ``text`` around [start, end); the span's offsets in the window."""
    if len(text) <= size:
        return text, start, end
    if end - start >= size:
        return text[start : start + size], 0, size
    before = min(start, (size - (end - start)) // 3)
    lo = start - before
    hi = min(len(text), lo + size)
    lo = max(0, hi - size)
    return text[lo:hi], start - lo, end - lo


def answer_items(indexes: IndexService, index_id: str, ranked: Ranked, best: str, text: str,
                 terms_by_lang: dict[str, list[str]],
                 fields: dict[str, dict[str, Any]], requested: list[str] | None, query_id: str,
                 attributes: Callable[[dict[str, Any], dict[str, dict[str, Any]], list[str] | None],
                                      list[dict[str, Any]]], bucket: str,
                 related: float | None) -> list[dict[str, Any]]:
    """At most one ANSWER item, from the best document (``best``) of a question, when that document is HIGH or
    VERY_HIGH (``bucket``) and its passage carries the query's content words or is ``related`` in meaning
    (the model's related cosine)."""
    if not is_question(text) or bucket not in EARNED:
        return []
    top = next((c for c in ranked.candidates if c.doc_id == best), None)
    if top is None or top.passage is None:
        return []
    doc = indexes.store.documents(index_id, [top.doc_id]).get(top.doc_id)
    embedder = indexes.vectors.embedder
    if doc is None or embedder is None:
        return []
    lang = str(doc.attributes.get("_language_code") or "en")
    terms = terms_by_lang.get(lang) or analyzer_for(lang).query_terms(text)
    passage = top.passage.text_in(doc.body)
    in_passage = {t.term for t in analyzer_for(lang).tokens(passage)} if terms else set()
    carries = bool(terms) and sum(t in in_passage for t in terms) / len(terms) >= MIN_PASSAGE_WORDS
    if not carries and (related is None or (top.dense or 0.0) < related):
        return []
    span = _best_sentence(ranked, passage, terms, lang, lambda xs: embedder.embed_queries(xs))
    if span is None:
        return []
    shown, begin, end = _window(passage, span[0], span[1], ANSWER_CHARS)
    answer = {"Text": shown, "Highlights": [{"BeginOffset": begin, "EndOffset": end, "TopAnswer": True,
                                             "Type": "STANDARD"}]}
    item: dict[str, Any] = {
        "Id": f"{query_id}-{uuid.uuid4()}"[:73],
        "Type": "ANSWER",
        "Format": "TEXT",
        "AdditionalAttributes": [
            {"Key": "AnswerText", "ValueType": "TEXT_WITH_HIGHLIGHTS_VALUE",
             "Value": {"TextWithHighlightsValue": answer}}
        ],
        "DocumentId": top.doc_id,
        "DocumentExcerpt": {"Text": shown, "Highlights": answer["Highlights"]},
        "DocumentAttributes": attributes(doc.attributes, fields, requested),
        "ScoreAttributes": {"ScoreConfidence": bucket},
        "FeedbackToken": f"{query_id}.{uuid.uuid4().hex}",
    }
    if doc.title:
        item["DocumentTitle"] = {"Text": doc.title[:2048], "Highlights": []}
    if uri := displayed_uri(doc.attributes.get("_source_uri")):
        item["DocumentURI"] = uri
    return [item]
