"""Dense and hybrid ranking: passage vectors joined with BM25, aware of the query's form.

Fusion is calibrated score fusion (measured against RRF in bench/relevance.py): over the union of
the BM25 top-N and the documents of the nearest passages and titles, BM25 scores are divided by the
best one and cosines min-max normalised, then ``w·bm25 + (1−w)·cosine``. Every candidate gets both
scores: a dense-only document its BM25 score from a second engine search restricted to the
candidates, a lexical-only document its cosines from the stored vectors. A document's cosine is the
better of its best passage's and its title's (a heading-like query matches the title it paraphrases
or translates: vue-xling R@1 0.46 -> 0.76). The weight ``w`` depends on the query's form: a bare
keyword trusts BM25, a question as much as BM25 is sure of its best match, a query in another
language than the documents searched (cross-language) trusts the vectors. A bare keyword or two only
re-ranks its BM25 matches (in another language, also the pages whose titles it translates);
questions and longer phrases also take in documents found by the vectors alone.
Filters, languages and ACLs are the engine's: dense candidates are kept only if the same restrictions
select them in the lexical index.
With a re-scoring model (``Rescoring``), the top documents of a question or phrase in the documents'
own language are fused again, that model's cosines taking a share of the vectors' weight.
Given an executor (an engine whose reads wait on the network), the reads that do not depend on each
other are sent at once: BM25 beside embedding the query and the nearest passages, the two searches of
the dense-only candidates together, their passages' cosines beside their titles'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from kernel.language import script_language
from services.engine.base import DocRef, Found, PassageStore, Reader, StoredPassage
from services.engine.embedder import Embedder, Vectors
from services.engine.passages import estimate_tokens
from services.engine.query import NoScore, Query, Terms, all_of
from services.engine.rescore import RescoreVectors

A = TypeVar("A")
B = TypeVar("B")
QueryForm = Literal["keyword", "question", "cross-language"]
Fusion = Literal["cc", "rrf"]
RRF_K = 60
LEXICAL_CANDIDATES = 100
# Passages asked of the vector index: enough that filters (language, ACL) still leave plenty.
DENSE_PASSAGES = 150
# Weight of BM25 in the fusion, by query form (tuned on the shared sets, bench/relevance.py).
# A query in another language than the documents is matched by meaning; BM25 only adds its loan
# words (vue-xling headings R@1 0.76 at 0.45, 0.88 at 0.1; bodies 0.976 / 0.978).
LEXICAL_WEIGHT: dict[str, float] = {"keyword": 0.7, "question": 0.65, "cross-language": 0.1}
# A question's BM25 weight follows how sure BM25 is of its best match: the best score far above the
# tenth best (the question's rare words single out one page, as in JSQuAD) moves it up to 0.9; flat
# scores (a paraphrase sharing only common words, as in vue-nlq) down to 0.45. With fewer than ten
# BM25 matches there is nothing to judge by: the fixed weight. (jsquad-test R@1 0.904 -> 0.910,
# vue-nlq-dev nDCG@10 0.616 -> 0.622; the other sets unchanged.)
QUESTION_WEIGHT_FLAT = 0.45
QUESTION_WEIGHT_SLOPE = 0.5
QUESTION_WEIGHT_MAX = 0.9
# A title's cosine counts at this fraction: short texts score higher against a short query than
# passages do, more so in the query's own language (0.8: vue-xling R@1 0.76, the others unchanged).
TITLE_FACTOR = 0.8

_QUESTION_END = re.compile(r"(\?|？|か[。．]?|の[。．]?|ですか|ますか|ない)$")
_QUESTION_WORDS = re.compile(
    r"^(how|what|why|when|where|which|who|whom|whose|can|could|should|do|does|did|is|are|was|were|will|would)\b"
    r"|(どう|なぜ|何|なに|どこ|いつ|だれ|誰|どれ|どの|どちら|どんな|いくら|いくつ)",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """Worded as a question (a question mark, a question word, a Japanese question ending)."""
    stripped = text.strip()
    return bool(_QUESTION_END.search(stripped) or _QUESTION_WORDS.search(stripped))


def query_form(text: str, languages: list[str]) -> QueryForm:
    """Cross-language when the query's language is not among those the caller asked for, or when a
    question is asked of both languages (its answer may be in the other one). Keywords searched in both
    languages (the web page's default) keep their words' weight: pages in their own language match
    them. A caller that names no language gets Kendra's English default, not a cross-language search."""
    question = is_question(text) or estimate_tokens(text) >= 5
    own = script_language(text)
    if own is not None and languages and (
            own not in languages or (question and any(lang != own for lang in languages))):
        return "cross-language"
    return "question" if question else "keyword"


def lexical_weight(form: QueryForm, lexical_scores: Iterable[float] = ()) -> float:
    """The weight of BM25 in the fusion for this query, given its candidates' BM25 scores."""
    if form == "question":
        matched = sorted((s for s in lexical_scores if s > 0), reverse=True)
        if len(matched) >= 10:
            gap = (matched[0] - matched[9]) / matched[0]
            return min(QUESTION_WEIGHT_MAX, QUESTION_WEIGHT_FLAT + QUESTION_WEIGHT_SLOPE * gap)
    return LEXICAL_WEIGHT[form]


def natural_language(text: str, form: QueryForm) -> bool:
    """A question or a phrase, not a bare keyword or two: documents found by meaning alone may join.

    Keyword queries keep their precision (東京都 must not bring 京都府 in through its vector). Words
    are counted as passages count tokens (a Japanese character is half a word).
    """
    words = estimate_tokens(text)
    return is_question(text) or words >= 4 or (form == "cross-language" and words >= 3)


@dataclass(frozen=True, slots=True)
class Rescoring:
    """A stronger model's passage vectors, to re-score the ``top`` documents of a question or phrase."""

    embedder: Embedder
    vectors: RescoreVectors
    top: int
    share: float  # of the vectors' weight in the fusion


@dataclass(slots=True)
class Candidate:
    doc_id: str
    ref: DocRef | None = None
    lexical: float = 0.0
    dense: float | None = None
    passage: StoredPassage | None = None  # the passage nearest the query
    score: float = 0.0


@dataclass(slots=True)
class Ranked:
    candidates: list[Candidate]  # best first
    total: int
    form: QueryForm
    query_vector: Vectors | None = None
    passages: dict[str, StoredPassage] = field(default_factory=dict)
    natural: bool = False  # a question or phrase (not a bare keyword)
    agreeing: frozenset[str] = frozenset()  # among the first few of both BM25 and the vectors


def lexical_candidates(reader: Reader, found: Found) -> list[Candidate]:
    """The hits of a lexical search as candidates, with their BM25 scores."""
    stored = reader.stored([hit.ref for hit in found.hits])
    return [Candidate(s.doc_id, hit.ref, lexical=hit.score) for hit, s in zip(found.hits, stored, strict=True)]


def both(parallel: Executor | None, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``first()`` and ``second()``: the second on ``parallel`` while this thread does the first, if given."""
    if parallel is None:
        return first(), second()
    later = parallel.submit(second)
    return first(), later.result()


def rank(mode: str, reader: Reader, restrictions: list[Query], text_query: Query | None, text: str,
         languages: list[str], embedder: Embedder, vectors: PassageStore, limit: int = 100, fusion: Fusion = "cc",
         learned: Mapping[str, float] | None = None, rescoring: Rescoring | None = None,
         related: float | None = None, parallel: Executor | None = None) -> Ranked:
    """The documents for a dense or hybrid query, best first (at most ``limit``).

    ``related``: the cosine a document found by the vectors alone must reach to join (the model's
    measured "related" level; a nonsense query is near everything at a low cosine, and finds nothing).

    ``learned``: multipliers from click feedback by document id. Fused scores are normalised, so a
    multiplier m moves a document by (m − 1) × the query's best score: at m = 1 + max boost a clicked
    document can reach the top, and nothing without feedback falls more than that.
    """
    form = query_form(text, languages)
    restrict = [NoScore(r) for r in restrictions]
    hybrid = mode == "hybrid" and text_query is not None

    def lexical() -> tuple[dict[str, Candidate], int]:
        if not hybrid or text_query is None:
            return {}, 0
        result = reader.search(all_of([*restrict, text_query]), limit=max(limit, LEXICAL_CANDIDATES))
        return {c.doc_id: c for c in lexical_candidates(reader, result)}, result.total

    def dense() -> tuple[Vectors, list[tuple[int, float]], dict[int, StoredPassage], dict[int, str]]:
        qv = embedder.embed_queries([text])[0]
        # Below the model's floor a passage or title is unrelated: a nonsense query must still find nothing.
        nearest = [(k, sim) for k, sim in vectors.search(qv, DENSE_PASSAGES) if sim >= embedder.min_similarity]
        keys = [k for k, _ in nearest]
        return qv, nearest, vectors.passages(keys), vectors.title_documents(keys)

    (found, lexical_total), (qv, nearest, rows, titled) = both(parallel, lexical, dense)
    best: dict[str, tuple[float, StoredPassage]] = {}  # doc id -> its passage nearest the query
    title_sim: dict[str, float] = {}
    for key, sim in nearest:
        if (p := rows.get(key)) is not None:
            if p.doc_id not in best or sim > best[p.doc_id][0]:
                best[p.doc_id] = (sim, p)
        elif (owner := titled.get(key)) is not None:
            title_sim[owner] = sim
    # The same restrictions as the lexical side: only allowed documents stay. A bare keyword query in
    # hybrid mode only re-ranks what matched its words (a nonsense word must still find nothing); one
    # in another language names a page, which joins by its title (the heading the keyword
    # translates), not by its passages, where a short word's cosine is noise.
    if mode == "dense" or natural_language(text, form):
        joining = [*best, *title_sim]
    else:
        joining = list(title_sim) if form == "cross-language" else []
    floor = embedder.min_similarity if related is None else related

    def near(doc_id: str) -> bool:
        return max(best[doc_id][0] if doc_id in best else -1.0, TITLE_FACTOR * title_sim.get(doc_id, -1.0)) >= floor

    dense_ids = [d for d in dict.fromkeys(joining) if d not in found and near(d)]
    if dense_ids:
        among = Terms("id", tuple(dense_ids))
        allowed, scored = both(
            parallel, lambda: lexical_candidates(reader, reader.search(all_of([*restrict, among]), len(dense_ids))),
            lambda: lexical_candidates(reader, reader.search(all_of([text_query, NoScore(among)]), len(dense_ids)))
            if hybrid and text_query is not None else [])
        for c in allowed:
            found[c.doc_id] = Candidate(c.doc_id, c.ref)
        for c in scored:
            if c.doc_id in found:
                found[c.doc_id].lexical = c.lexical
    # Candidates beyond the nearest keys: their best passage and their title, exactly.
    passages_of, titles_of = [d for d in found if d not in best], [d for d in found if d not in title_sim]
    scored_passages, title_sims = both(parallel, lambda: vectors.scored_passages(passages_of, qv),
                                       lambda: vectors.title_similarities(titles_of, qv))
    for doc_id, pairs in scored_passages.items():
        best[doc_id] = max(pairs, key=lambda pair: pair[0])  # the first of equals, as before
    title_sim.update(title_sims)
    for c in found.values():
        title = title_sim.get(c.doc_id)
        sims = [s for s in (best[c.doc_id][0] if c.doc_id in best else None,
                            None if title is None else TITLE_FACTOR * title) if s is not None]
        c.dense = max(sims) if sims else None
        c.passage = best[c.doc_id][1] if c.doc_id in best else None

    candidates = list(found.values())
    if mode == "dense":
        candidates = [c for c in candidates if c.dense is not None]
        for c in candidates:
            c.score = float(c.dense or 0.0)
    else:
        weight = lexical_weight(form, (c.lexical for c in candidates))
        _fuse(candidates, weight, fusion, embedder.min_similarity)
        # Not across languages: there the index's title vectors do the work, and the stronger model's
        # passages alone pulled headings down (vue-xling headings nDCG@10 0.946 -> 0.932).
        if rescoring is not None and fusion == "cc" and form != "cross-language" and natural_language(text, form):
            _rescore(candidates, weight, embedder.min_similarity, text, vectors, rescoring)
    if learned and candidates:
        top = max(c.score for c in candidates)
        for c in candidates:
            c.score += (learned.get(c.doc_id, 1.0) - 1.0) * top
    candidates.sort(key=lambda c: -c.score)
    dense_only = sum(1 for c in candidates if c.lexical == 0.0)
    total = len(candidates) if mode == "dense" else lexical_total + dense_only
    passages = {c.doc_id: c.passage for c in candidates if c.passage is not None}
    return Ranked(candidates[:limit], total, form, qv, passages, natural_language(text, form), _agreeing(candidates))


def _agreeing(candidates: list[Candidate], first: int = 3) -> frozenset[str]:
    """The documents that both BM25 and the vectors put among their ``first`` candidates."""
    lexical = sorted((c for c in candidates if c.lexical > 0), key=lambda c: -c.lexical)[:first]
    dense = sorted((c for c in candidates if c.dense is not None), key=lambda c: -(c.dense or 0.0))[:first]
    return frozenset(c.doc_id for c in lexical) & frozenset(c.doc_id for c in dense)


def _fuse(candidates: list[Candidate], weight: float, fusion: Fusion, floor: float) -> None:
    """Fused scores in place: BM25 divided by the best, cosines min-max normalised over the candidates."""
    if not candidates:
        return
    if fusion == "rrf":
        for key in ("lexical", "dense"):
            order = sorted(candidates, key=lambda c: -(getattr(c, key) or 0.0))
            for n, c in enumerate(order):
                if getattr(c, key):
                    c.score += 1.0 / (RRF_K + n + 1)
        return
    lexical, dense = _lexical_scale(candidates), _cosine_scale([c.dense for c in candidates], floor)
    for c, lex, sim in zip(candidates, lexical, dense, strict=True):
        c.score = weight * lex + (1.0 - weight) * sim


def _lexical_scale(candidates: list[Candidate]) -> list[float]:
    """BM25 scores divided by the best one."""
    top = max(c.lexical for c in candidates)
    return [c.lexical / top if top > 0 else 0.0 for c in candidates]


def _cosine_scale(cosines: list[float | None], floor: float) -> list[float]:
    """Cosines min-max normalised, from no lower than ``floor`` (the model's "unrelated"): an unrelated
    document gets no credit from the vectors, however few candidates there are. None (no vector): 0."""
    sims = [s for s in cosines if s is not None]
    lo, hi = (min(sims), max(sims)) if sims else (0.0, 0.0)
    if hi > floor:
        lo = max(lo, floor)
    span = hi - lo
    return [(max(s - lo, 0.0) / span if span > 0 else 1.0) if s is not None else 0.0 for s in cosines]


def _rescore(candidates: list[Candidate], weight: float, floor: float, text: str, vectors: PassageStore,
             rescoring: Rescoring) -> None:
    """Fuse the top documents again, the stronger model's best-passage cosine taking ``share`` of the
    vectors' weight; their new scores are spread over the span of their old ones, so the documents
    below keep their places. Only when every one of them has the stronger model's vectors (the filler
    may still be behind): a ranking never mixes documents scored by different models."""
    top = sorted(candidates, key=lambda c: -c.score)[: rescoring.top]
    if len(top) < 2:
        return
    passages = vectors.passage_keys([c.doc_id for c in top])
    keys = [key for ks in passages.values() for key in ks]
    stored = rescoring.vectors.get(keys)
    if len(stored) < len(keys):
        return
    qv = rescoring.embedder.embed_queries([text])[0]
    strong = [max((float(stored[key] @ qv) for key in passages[c.doc_id]), default=None)
              if c.doc_id in passages else None for c in top]
    lexical, dense = _lexical_scale(top), _cosine_scale([c.dense for c in top], floor)
    stronger = _cosine_scale(strong, rescoring.embedder.min_similarity)
    share = rescoring.share
    fused = [weight * lex + (1.0 - weight) * ((1.0 - share) * sim + share * s)
             for lex, sim, s in zip(lexical, dense, stronger, strict=True)]
    old_hi, old_lo = top[0].score, top[-1].score
    new_hi, new_lo = max(fused), min(fused)
    for c, f in zip(top, fused, strict=True):
        c.score = old_lo + (f - new_lo) / (new_hi - new_lo) * (old_hi - old_lo) if new_hi > new_lo else c.score
