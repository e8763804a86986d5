"""The engine-neutral query model: what the query layer asks a search engine to match and score.

Queries are small immutable trees. Text terms arrive analysed (services/engine/analysis.py made them;
an engine never analyses query text), so both engines match exactly the same terms. Scoring is BM25 on
the text fields, summed over the clauses that match, with Lucene's boolean rules (what tantivy and
OpenSearch share): a ``Bool`` with a ``must`` clause treats its ``should`` clauses as optional scoring;
without one, at least one ``should`` clause must match. docs/engine.md says what each engine makes of
each node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

TextField = Literal["title", "body", "meta"]
"""BM25 fields over pre-tokenised terms (``meta``: the searchable string attributes)."""

KeywordField = Literal["id", "acl_allow", "acl_deny"]
"""Whole-value fields: the Kendra document id and the ACL principals (services/index/documents.py)."""

PUBLIC = "*"  # the principal every reader holds: a document open to everyone allows it


@dataclass(frozen=True, slots=True)
class Attribute:
    """An index field (a Kendra document attribute), by name. String values match whole; LONG and DATE
    values are integers, a DATE in microseconds since the epoch (:func:`date_micros`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Term:
    """Documents holding ``value`` in ``field``."""

    field: TextField | KeywordField | Attribute
    value: str


@dataclass(frozen=True, slots=True)
class Terms:
    """Documents holding any of ``values`` in ``field``; no score."""

    field: KeywordField | Attribute
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """Documents whose integer attribute lies between the bounds (None: unbounded on that side)."""

    field: Attribute
    lower: int | None = None
    upper: int | None = None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True, slots=True)
class Phrase:
    """Documents holding ``terms`` in this order, at most ``slop`` positions apart."""

    field: TextField
    terms: tuple[str, ...]
    slop: int = 0


@dataclass(frozen=True, slots=True)
class Boost:
    """``query`` with its score multiplied by ``factor``."""

    query: Query
    factor: float


@dataclass(frozen=True, slots=True)
class NoScore:
    """``query`` as a filter: it selects documents and adds nothing to their score."""

    query: Query


@dataclass(frozen=True, slots=True)
class Bool:
    """Clauses combined by Lucene's boolean rules; clauses keep their order (scores are summed in it)."""

    must: tuple[Query, ...] = ()
    should: tuple[Query, ...] = ()
    must_not: tuple[Query, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchAll:
    """Every document, with a constant score."""


@dataclass(frozen=True, slots=True)
class MatchNone:
    """No document."""


Query = Term | Terms | Range | Phrase | Boost | NoScore | Bool | MatchAll | MatchNone


def all_of(queries: Iterable[Query]) -> Query:
    """Documents that every query matches (every document when there is none)."""
    must = tuple(queries)
    return Bool(must=must) if must else MatchAll()


def any_of(queries: Iterable[Query]) -> Query:
    """Documents that at least one query matches (none when there is none)."""
    should = tuple(queries)
    return Bool(should=should) if should else MatchNone()


def date_micros(seconds: float) -> int:
    """A DATE value as the query model and the engines hold it."""
    return int(round(seconds * 1_000_000))
