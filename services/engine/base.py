"""The search-engine interface the query layer reads through (services/query, analytics/learning.py).

An engine hands out a :class:`Reader`: a point-in-time view of one index, which answers queries of the
neutral model (services/engine/query.py). Today's implementation is tantivy's (services/engine/lexical.py);
docs/engine.md says what each method promises and what an OpenSearch implementation maps it to.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from services.engine.query import Query, TextField

DocRef = Hashable
"""A document as one reader's results name it (tantivy: its segment and ordinal; OpenSearch: its _id).
Meaningful only to the reader that returned it; turned into a document id by :meth:`Reader.stored`."""


@dataclass(slots=True)  # not frozen: a search makes one per hit, and frozen ones take three times as long
class Hit:
    score: float
    ref: DocRef


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit]  # best first (or in the sort's order)
    total: int  # every document the query matches


@dataclass(frozen=True, slots=True)
class SortKey:
    """Sort by an attribute (a STRING, LONG or DATE field of the index; missing values last)."""

    name: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Facet:
    """Count the values of an attribute among the matches: the ``size`` most frequent, each counted again
    by the values of ``nested`` (Kendra's one level of nesting)."""

    name: str
    size: int
    nested: Facet | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    value: str | int  # LONG and DATE values are integers (DATE in microseconds)
    count: int
    nested: list[Bucket] = field(default_factory=list)


@dataclass(slots=True)  # one per document read, as Hit
class Stored:
    """What an engine keeps of a document besides its index terms."""

    doc_id: str
    attributes: Mapping[str, str]  # the STRING attributes asked for that the document has


class Reader(Protocol):
    """One index as of its last commit. Every change committed before the reader was taken is visible
    to it, none after; a new commit gives a new reader object (callers compare them by identity)."""

    def search(self, query: Query, limit: int, sort: Sequence[SortKey] = ()) -> Found:
        """The first ``limit`` matches: by score, or by ``sort`` (ties by score, then by the score
        order), with their scores and how many documents match in all."""
        ...

    def count(self, query: Query) -> int:
        """How many documents match."""
        ...

    def facets(self, query: Query, facets: Sequence[Facet]) -> list[list[Bucket]]:
        """Per facet, its most frequent values among the matches, most frequent first."""
        ...

    def stored(self, refs: Sequence[DocRef], attributes: Sequence[str] = ()) -> list[Stored]:
        """The document id and the named stored attributes of each document, in the order of ``refs``."""
        ...

    def terms_held(self, docs: Mapping[str, DocRef], fields: Sequence[TextField],
                   terms: Sequence[str]) -> dict[str, set[str]]:
        """Per document (id -> its ref), which of ``terms`` it holds in any of ``fields``."""
        ...

    def num_docs(self) -> int:
        """Documents in the index: the N of BM25's inverse document frequency."""
        ...

    def doc_freq(self, field: TextField, term: str) -> int:
        """Documents holding ``term`` in ``field`` (BM25's df; may still count deleted documents)."""
        ...
