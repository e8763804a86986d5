"""Reading Kendra's ScoreConfidence buckets off Query / Retrieve result items.

Shared by the clients of a response (analytics, the chat reply, ``kensaku search``); how the buckets
are computed belongs to the query service. The contract: VERY_HIGH, HIGH and MEDIUM mean a result is
likely relevant; LOW and NOT_AVAILABLE do not, so a response whose best item is below MEDIUM found
nothing relevant (a content gap, like a query with no results at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

# Weakest first.
BUCKETS: Final = ("NOT_AVAILABLE", "LOW", "MEDIUM", "HIGH", "VERY_HIGH")
RELEVANT_FROM: Final = "MEDIUM"
_RANK = {bucket: n for n, bucket in enumerate(BUCKETS)}


def confidence_of(item: Mapping[str, Any]) -> str | None:
    """A result item's ScoreConfidence; None when it has none, or one not in ``BUCKETS``."""
    bucket = (item.get("ScoreAttributes") or {}).get("ScoreConfidence")
    return bucket if bucket in _RANK else None


def best_confidence(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The highest ScoreConfidence among result items of any type; None when no item has one (no
    items, or a server that does not judge its results: such a response is never called weak)."""
    ranks = [_RANK[bucket] for bucket in map(confidence_of, items) if bucket is not None]
    return BUCKETS[max(ranks)] if ranks else None


def is_weak(bucket: str | None) -> bool:
    """Whether a bucket is below MEDIUM (LOW or NOT_AVAILABLE); None (not judged) is not weak."""
    return bucket is not None and _RANK.get(bucket, 0) < _RANK[RELEVANT_FROM]


def nothing_relevant(response: Mapping[str, Any]) -> bool:
    """A response with results, none of them MEDIUM or above (ranked by relevance: a response sorted
    by an attribute has no meaningful buckets and should not be asked)."""
    return is_weak(best_confidence(response.get("ResultItems") or []))
