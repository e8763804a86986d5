"""The BM25 clauses a query's words become (neutral queries, services/engine/query.py), shared by plain
queries (services/query/service.py ``text_query``) and the advanced syntax (services/query/structured.py).

A term scores in the title (boosted by ``_document_title``'s Importance), the body (which holds the
title too) and the searchable string fields (``meta``). Plain words: only a content word makes a
document match; function words (の, ですか, the) and adjacent pairs found adjacent add to its score; a
synonym matches like the words it stands for, at a lower weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.engine.analysis import QueryWord
from services.engine.base import Reader
from services.engine.query import Boost, Phrase, Query, Term, TextField
from services.query.confidence import idf
from services.query.synonyms import Alternative

# The body field already holds the title; the title field adds this much per point of the title's
# Relevance.Importance above 1 (Kendra's default importance is 2). Tuned on the shared sets.
TITLE_WEIGHT = 0.5
# Proximity: each pair of adjacent query words found adjacent in the text adds a phrase score with
# this weight (jsquad-valid R@1 0.899 -> 0.909, xquad-en unchanged; bench/relevance.py).
PAIR_WEIGHT = 0.3
PAIR_SLOP = 0
# A synonym (services/query/synonyms.py) scores at most this share of what the words it stands for
# would score at the same frequency (their IDF, not its own: a rare synonym of a common word must not
# outrank the word), so documents with the query's own words come first.
SYNONYM_WEIGHT = 0.5
DEFAULT_TITLE_IMPORTANCE = 2
MAX_QUERY_TERMS = 30  # Kendra truncates query text after 30 tokens


def title_boost(fields: dict[str, dict[str, Any]]) -> float:
    """The title field's boost from ``_document_title``'s Relevance.Importance."""
    importance = float(fields["_document_title"].get("Relevance", {}).get("Importance", DEFAULT_TITLE_IMPORTANCE))
    return TITLE_WEIGHT * (importance - 1)


@dataclass(frozen=True, slots=True)
class Clauses:
    """Builds the clauses of terms, phrases and words (``reader``: the IDFs that weigh synonyms)."""

    title_boost: float
    reader: Reader | None = None

    def scored(self, term: str, field: TextField | None = None) -> list[Query]:
        """A term in every text field (or only in ``field``)."""
        if field is not None:
            return [Term(field, term)]
        return [Boost(Term("title", term), self.title_boost), Term("body", term), Term("meta", term)]

    def phrase(self, terms: tuple[str, ...], field: TextField | None = None) -> list[Query]:
        """Terms at consecutive positions, in every text field (or only in ``field``)."""
        if field is not None:
            return [Phrase(field, terms)]
        return [Boost(Phrase("title", terms), self.title_boost), Phrase("body", terms), Phrase("meta", terms)]

    def weight(self, alt: Alternative) -> float:
        if self.reader is None:
            return SYNONYM_WEIGHT
        own, other = sum(idf(self.reader, t) for t in alt.stands_for), sum(idf(self.reader, t) for t in alt.terms)
        return SYNONYM_WEIGHT * min(1.0, own / other) if other > 0 else SYNONYM_WEIGHT

    def words(self, words: Sequence[QueryWord], alternatives: Sequence[Alternative] = (),
              field: TextField | None = None) -> tuple[list[Query], list[Query]]:
        """The clauses of plain words: those that find a document (content words and their synonyms)
        and those that only add to its score (function words, adjacent pairs). None that find: no content
        word. Only in ``field``: the words alone, no synonyms nor proximity."""
        content = [q for w in words if w.content for q in self.scored(w.term, field)]
        if not content or field is not None:
            return content, []
        for alt in alternatives:
            clauses = self.scored(alt.terms[0]) if len(alt.terms) == 1 else self.phrase(alt.terms)
            content += [Boost(q, self.weight(alt)) for q in clauses]
        # Function words keep their (small) share of the score: with it a question's BM25 scores stay
        # as flat as the fusion was tuned for (vue-nlq-dev nDCG@10 0.597 without it, 0.622 with).
        extra = [q for w in words if not w.content for q in self.scored(w.term)]
        extra += [Boost(Phrase("body", (a.term, b.term), PAIR_SLOP), PAIR_WEIGHT)
                  for a, b in zip(words, words[1:], strict=False)]
        return content, extra
