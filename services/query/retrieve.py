"""Kendra's Retrieve: the passages (≤ 200 tokens) most relevant to a query, for retrieval-augmented generation.

Documents are found as Query finds them (hybrid ranking under the same AttributeFilter, language
and UserContext rules); their passages are then scored one by one:
``w·(document BM25 share × share of query words in the passage) + (1−w)·cosine (min-max)``.
Several passages of one document may be returned. Without vectors (KENSAKU_EMBEDDER=none) the
passages are cut on the fly and scored by words alone. FAQ answers are never returned here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from kernel.errors import ValidationException
from services.engine.analysis import normalize
from services.engine.passages import split_passages
from services.engine.query import NoScore, all_of
from services.index.fields import displayed_attributes, displayed_uri
from services.query import hybrid
from services.query.confidence import Evidence, foreign_terms, idf
from services.query.hybrid import Candidate
from services.query.service import (
    DEFAULT_PAGE_SIZE,
    MAX_REACHABLE,
    QueryService,
    check_query_text,
    content_terms,
    has_content,
    query_words,
    stands_for,
)

# Documents whose passages are scored.
DOCUMENTS_SCORED = 40


@dataclass(slots=True)
class _Scored:
    doc_id: str
    text: str
    score: float
    evidence: Evidence


class RetrieveService:
    """Answers Retrieve; shares the query service's indexes, filters and analytics recorder."""

    def __init__(self, queries: QueryService) -> None:
        self.queries = queries
        self.indexes = queries.indexes

    def retrieve(self, p: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        response, langs = self._retrieve(p)
        recorder = self.queries.recorder
        if recorder is not None:  # reported like a Query (its passages as the results)
            first = (p.get("PageNumber", 1) - 1) * p.get("PageSize", DEFAULT_PAGE_SIZE) + 1
            recorder.record_query(p, {**response, "TotalNumberOfResults": len(response["ResultItems"])},
                                  languages=langs, first_rank=first,
                                  latency_ms=(time.perf_counter() - started) * 1000)
        return response

    def _retrieve(self, p: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        text = (p.get("QueryText") or "").strip()
        if not text:
            raise ValidationException("QueryText must not be empty")
        check_query_text(text)
        page_size = min(max(p.get("PageSize", DEFAULT_PAGE_SIZE), 1), MAX_REACHABLE)
        page_number = p.get("PageNumber", 1)
        if page_number < 1:
            raise ValidationException("PageNumber must be 1 or more")
        fields = self.indexes.fields(index_id)
        config = self.indexes.config(index_id)
        reader = self.indexes.lexical(index_id).reader()
        scope = self.queries.scope(p, fields, config)
        restrictions, langs = scope.restrictions, scope.languages
        words_by_lang = query_words(text, langs)
        if not has_content(text, words_by_lang):  # only particles or stop words: nothing to find
            return {"QueryId": str(uuid.uuid4()), "ResultItems": []}, langs
        terms = sorted({t for ts in content_terms(words_by_lang).values() for t in ts})
        alternatives = self.queries.alternatives(index_id, text, words_by_lang)
        text_query = self.queries.text_query(fields, words_by_lang, alternatives, reader)
        synonyms = {t: alts for per in stands_for(alternatives).values() for t, alts in per.items()}

        embedder, vectors = self.indexes.vectors.embedder, self.indexes.vectors.get(index_id)
        form = hybrid.query_form(text, scope.asked)
        if embedder is not None and vectors is not None and len(vectors) > 0:
            mode = "dense" if self.queries.mode == "dense" else "hybrid"
            ranked = hybrid.rank(mode, reader, restrictions, text_query, text, scope.asked, embedder,
                                 vectors, DOCUMENTS_SCORED, self.indexes.settings.hybrid_fusion,
                                 rescoring=self.queries.rescoring(index_id),
                                 related=self.queries.calibration(True).related_cosine)
            candidates, qv = ranked.candidates, ranked.query_vector
        else:
            matched = reader.search(all_of([*map(NoScore, restrictions), text_query]), limit=DOCUMENTS_SCORED)
            candidates = hybrid.lexical_candidates(reader, matched)
            qv = None
        weight = hybrid.lexical_weight(form, (c.lexical for c in candidates))
        weights = {t: idf(reader, t) for t in terms}
        foreign = {t for ts in foreign_terms(words_by_lang).values() for t in ts}
        judge = self.queries.calibration(qv is not None)
        scored = self._passages(index_id, candidates, weights, qv, weight, foreign, synonyms)
        if not any(judge.found(s.evidence) for s in scored):  # only noise: nothing found
            scored = []
        start = (page_number - 1) * page_size
        page = scored[start : min(start + page_size, MAX_REACHABLE)] if start < MAX_REACHABLE else []

        query_id = str(uuid.uuid4())
        stored = self.indexes.store.documents(index_id, sorted({s.doc_id for s in page}))
        requested = p.get("RequestedDocumentAttributes")
        items = []
        for s in page:
            doc = stored.get(s.doc_id)
            if doc is None:
                continue
            item: dict[str, Any] = {
                "Id": f"{query_id}-{uuid.uuid4()}"[:73],
                "DocumentId": s.doc_id,
                "DocumentTitle": doc.title or "",
                "Content": s.text,
                "DocumentAttributes": displayed_attributes(doc.attributes, fields, requested),
                "ScoreAttributes": {"ScoreConfidence": judge.bucket(s.evidence)},
            }
            if uri := displayed_uri(doc.attributes.get("_source_uri")):
                item["DocumentURI"] = uri
            items.append(item)
        return {"QueryId": query_id, "ResultItems": items}, langs

    def _passages(self, index_id: str, candidates: list[Candidate], weights: dict[str, float], qv: Any,
                  weight: float, foreign: set[str],
                  synonyms: dict[str, list[tuple[str, ...]]] | None = None) -> list[_Scored]:
        """Every passage of the candidate documents, scored and sorted, with its own evidence (the share
        of the query's word weight in the passage, its cosine; a ``foreign`` word, of another language
        searched at the same time, counts only where found, as in Query; a word counts where one of its
        ``synonyms`` is, as in Query)."""
        if not candidates:
            return []
        ids = [c.doc_id for c in candidates]
        top_lex = max(c.lexical for c in candidates) or 1.0
        lexical = {c.doc_id: c.lexical / top_lex for c in candidates}
        rows: list[tuple[str, str, float | None]] = []  # doc id, text, cosine
        vectors = self.indexes.vectors.get(index_id) if qv is not None else None
        if vectors is not None:
            for doc_id, scored in vectors.scored_passages(ids, qv).items():
                rows += [(doc_id, p.text, sim) for sim, p in scored if p.text is not None]  # read with their texts
        else:
            for doc_id, doc in self.indexes.store.documents(index_id, ids).items():
                rows += [(doc_id, p.text, None) for p in split_passages(doc.body)]
        sims = [r[2] for r in rows if r[2] is not None]
        lo, hi = (min(sims), max(sims)) if sims else (0.0, 0.0)
        raw = {c.doc_id: c.lexical for c in candidates}
        out = []
        for doc_id, text, sim in rows:
            norm = normalize(text)
            present = {t for t in weights if t in norm or any(all(x in norm for x in alt)
                                                              for alt in (synonyms or {}).get(t, ()))}
            total = sum(w for t, w in weights.items() if t in present or t not in foreign)
            share = len(present) / len(weights) if weights else 0.0
            lex = lexical.get(doc_id, 0.0) * share
            if sim is None:
                score = lex
            else:
                score = weight * lex + (1 - weight) * ((sim - lo) / (hi - lo) if hi > lo else 1.0)
            covered = sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0
            evidence = Evidence(covered, raw.get(doc_id, 0.0) / total if total > 0 else 0.0, sim, words=len(weights))
            out.append(_Scored(doc_id, text, score, evidence))
        out.sort(key=lambda s: -s.score)
        return out
