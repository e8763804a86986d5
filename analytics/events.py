"""The events analytics records: one per query answered, one per feedback item.

Times are epoch seconds (UTC). Events are plain frozen values: cheap to build on the query path and
safe to hand to the capture thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from services.engine.analysis import normalize

Clock = Callable[[], float]
"""Returns "now" as epoch seconds; ``time.time`` unless a fixed time is configured."""

Channel = Literal["web", "chat", "api"]
CHANNELS: tuple[Channel, ...] = ("web", "chat", "api")


def channel_of(value: str) -> Channel:
    """A known channel name as itself; anything else as "api"."""
    for channel in CHANNELS:
        if value == channel:
            return channel
    return "api"


@dataclass(frozen=True, slots=True)
class ReturnedResult:
    """One result item a query returned: its ResultItems ``Id``, DocumentId and 1-based rank."""

    result_id: str
    document_id: str
    rank: int


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """One answered Query."""

    query_id: str
    index_id: str
    time: float
    query_text: str
    normalized_text: str
    languages: tuple[str, ...]
    channel: Channel
    user_key: str | None
    filters_json: str | None
    total_results: int
    latency_ms: float
    results: tuple[ReturnedResult, ...]
    instant_answer: bool = False  # the response held an ANSWER or QUESTION_ANSWER item
    # The best ScoreConfidence among the items (services.relevance.BUCKETS); None when not judged:
    # no item carries one, no QueryText, sorted by an attribute, or a page after the first.
    best_confidence: str | None = None

    @staticmethod
    def normalized(text: str) -> str:
        """The form queries are grouped by: the engine's normalisation, whitespace collapsed."""
        return " ".join(normalize(text).split())


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One SubmitFeedback item: a click (``click_time`` set) or a relevance vote (``relevance`` set)."""

    index_id: str
    query_id: str
    result_id: str
    time: float  # when the feedback was received
    click_time: float | None = None
    relevance: Literal["RELEVANT", "NOT_RELEVANT"] | None = None

    def __post_init__(self) -> None:
        if (self.click_time is None) == (self.relevance is None):
            raise ValueError("a feedback event is either a click or a relevance vote")


Event = QueryEvent | FeedbackEvent
