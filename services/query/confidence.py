"""Absolute ScoreConfidence: how likely a result is relevant, from evidence about that result alone.

Kendra's buckets promise something about the result, not about its place among the others, so no
score here is divided by the best of the same query (that made every top result VERY_HIGH, nonsense
included). The evidence for one document:

* ``coverage``: the share of the query's content-word weight (IDF) the document contains; a word no
  document contains weighs the most (an unknown word is the point of the query);
* ``bm25``: the raw BM25 score per unit of the query's weight (how well, not only whether, it matches);
* ``cosine``: the raw cosine of its passage or title nearest the query (the model's own scale);
* ``agree``: whether BM25 and the vectors both put it among their first three candidates;
* the query's form (question, cross-language).

A logistic model per embedding model turns them into the probability that the document is relevant;
its weights, the bucket thresholds and the noise floor (:func:`found`) live in ``confidence.json``
beside this file, fit by ``bench/fit_confidence.py`` on the shared dev sets (recorded in the file; the
script prints the precision each bucket reached). Buckets: VERY_HIGH relevant >= 90 % of the time,
HIGH >= 75 %, MEDIUM >= 40 %.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.language import script_language
from services.engine.analysis import QueryWord
from services.engine.base import DocRef, Reader

BUCKETS = ("VERY_HIGH", "HIGH", "MEDIUM")
LEXICAL_MODEL = "lexical"  # the model for rankings without vectors (or a model not fit here)
FEATURES = ("coverage", "bm25", "cosine", "agree", "question", "cross_language")
CALIBRATION = Path(__file__).with_name("confidence.json")  # the one fit on the shared dev sets


@dataclass(frozen=True, slots=True)
class Evidence:
    """What is known about one result, independent of the other results."""

    coverage: float
    bm25: float
    cosine: float | None = None
    agree: bool = False
    question: bool = False
    cross_language: bool = False
    words: int = 1  # the query's content words (in the document's language)

    def vector(self) -> list[float]:
        """The model's inputs, in the order of ``FEATURES``."""
        return [self.coverage, self.bm25, self.cosine if self.cosine is not None else 0.0, float(self.agree),
                float(self.question), float(self.cross_language)]


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted logistic model and the probability at which each bucket starts."""

    weights: Mapping[str, float]
    bias: float
    thresholds: Mapping[str, float]
    min_coverage: Mapping[str, float]  # the noise floor: a result holds this share of the query's word
    related_cosine: float | None = None  # weight ("short" / "long" queries), or is this near in meaning

    def found(self, evidence: Evidence) -> bool:
        """Whether a result is evidence that the query has an answer here at all."""
        return found(evidence, self.min_coverage, self.related_cosine)

    def probability(self, evidence: Evidence) -> float:
        z = self.bias + sum(self.weights.get(name, 0.0) * x for name, x in zip(FEATURES, evidence.vector(),
                                                                               strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def bucket(self, evidence: Evidence) -> str:
        p = self.probability(evidence)
        for name in BUCKETS:
            if p >= self.thresholds[name]:
                return name
        return "LOW"


@functools.cache
def _models(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    models: dict[str, Any] = data["models"]
    return models


def calibration(model: str | None, unrelated: float | None = None, path: Path = CALIBRATION) -> Calibration:
    """The calibration for an embedding model's name, from ``path`` (one written by
    bench/fit_confidence.py). A model not fit there (or None: no vectors) is judged by the lexical one,
    which knows no cosine: its results found by meaning alone are kept from the model's own
    ``unrelated`` floor and are LOW."""
    models = _models(path)
    if model in models:
        spec = models[model]
        return Calibration(spec["weights"], spec["bias"], spec["thresholds"], spec["min_coverage"],
                           spec.get("related_cosine"))
    spec = models[LEXICAL_MODEL]
    return Calibration(spec["weights"], spec["bias"], spec["thresholds"], spec["min_coverage"],
                       unrelated if model is not None else None)


# Like Elasticsearch's conditional minimum_should_match: a query of a few words should match most of
# them; a long question's words are diluted by its phrasing, so it needs a smaller share.
SHORT_QUERY_WORDS = 3


def found(evidence: Evidence, min_coverage: Mapping[str, float], related: float | None) -> bool:
    """Whether a result holds enough of the query's word weight, or is related in meaning. A query none
    of whose results does has found only noise (存在しないキーワードぽよ); bench/fit_confidence.py
    measures what each floor keeps."""
    share = min_coverage["short" if evidence.words <= SHORT_QUERY_WORDS else "long"]
    return evidence.coverage >= share or (
        related is not None and evidence.cosine is not None and evidence.cosine >= related)


def idf(reader: Reader, term: str) -> float:
    """BM25's inverse document frequency of a body term (a term no document has weighs the most)."""
    # doc_freq still counts replaced and deleted documents until their segment is merged: a term in
    # every document of a re-indexed set would weigh less than nothing and its query find nothing.
    n = reader.num_docs()
    df = min(reader.doc_freq("body", term), n)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def coverage(reader: Reader, docs: Mapping[str, DocRef], terms: list[str],
             optional: frozenset[str] = frozenset(),
             alternatives: Mapping[str, Sequence[tuple[str, ...]]] | None = None) -> dict[str, tuple[float, float]]:
    """Per document (id -> its ref), the IDF weight of the terms it contains (title, body or searchable
    fields) and the weight it is judged against: every term's but an ``optional`` one's, which counts only
    where found. A term also counts as contained where a document holds every content term of one of its
    ``alternatives`` (synonyms: a synonym match stands for the query word, and weighs what the word does)."""
    weights = {t: idf(reader, t) for t in terms}
    base = sum(w for t, w in weights.items() if t not in optional)
    others = {t: list(alternatives.get(t, ())) for t in weights} if alternatives else {}
    asked = list(dict.fromkeys([*weights, *(x for alts in others.values() for alt in alts for x in alt)]))
    held = reader.terms_held(docs, ("body", "meta"), asked)
    out = {}
    for doc_id in docs:
        has = held[doc_id]
        matched, total = 0.0, base
        for term, weight in weights.items():
            if term in has or any(all(x in has for x in alt) for alt in others.get(term, ())):
                matched += weight
                total += weight if term in optional else 0.0
        out[doc_id] = (matched, total)
    return out


def foreign_terms(words_by_lang: Mapping[str, list[QueryWord]]) -> dict[str, frozenset[str]]:
    """A query searched in several languages at once (setup 締め日 in Japanese and English pages) means
    each word for the pages of its own script: in a Japanese page its English words count only where
    they are found, and the other way round. Per language, those terms."""
    searched = set(words_by_lang)
    if len(searched) < 2:
        return {}
    return {lang: frozenset(w.term for w in words if w.content and (script := script_language(w.surface))
                            not in (None, lang) and script in searched)
            for lang, words in words_by_lang.items()}


def gather(reader: Reader, docs: Mapping[str, tuple[DocRef, str]],
           terms_by_lang: Mapping[str, list[str]], lexical: Mapping[str, float],
           dense: Mapping[str, float | None], agreeing: frozenset[str] = frozenset(), question: bool = False,
           cross_language: bool = False, foreign: Mapping[str, frozenset[str]] | None = None,
           alternatives: Mapping[str, Mapping[str, Sequence[tuple[str, ...]]]] | None = None) -> dict[str, Evidence]:
    """The evidence for each document (``docs``: document id -> its ref and language; ``foreign``: per
    language, the terms that count only where found, see :func:`foreign_terms`; ``alternatives``: per
    language, a query term's synonyms, see :func:`coverage`)."""
    out: dict[str, Evidence] = {}
    by_lang: dict[str, dict[str, DocRef]] = {}
    for doc_id, (ref, lang) in docs.items():
        by_lang.setdefault(lang, {})[doc_id] = ref
    for lang, refs in by_lang.items():
        terms = terms_by_lang.get(lang) or []
        optional = (foreign or {}).get(lang, frozenset())
        alts = (alternatives or {}).get(lang)
        for doc_id, (matched, total) in coverage(reader, refs, terms, optional, alts).items():
            share = matched / total if total > 0 else 0.0
            bm25 = lexical.get(doc_id, 0.0) / total if total > 0 else 0.0
            out[doc_id] = Evidence(share, bm25, dense.get(doc_id), doc_id in agreeing, question, cross_language,
                                   len(terms))
    return out
