"""Learning from clicks: feedback raises (or lowers) documents for the query it was given for.

For each (index, normalised query, document) the clicks and votes on results of that query add up,
each decayed by its age (half-life ``click_learning_half_life_days``): a click +1, RELEVANT +1,
NOT_RELEVANT -1. The sum becomes a score multiplier, bounded on both sides:

    multiplier = 1 + max_boost * tanh(sum / SATURATION)     (sum >= 0; at most 1 + max_boost)
    multiplier = 1 + MAX_PENALTY * tanh(sum / SATURATION)   (sum < 0; at least 1 - MAX_PENALTY)

and at most ``MAX_LIFTED`` documents per query are raised (those with the most feedback). So learning
reorders results of similar relevance, cannot lift a document above one more than (1 + max_boost)
times as relevant, and can push a fresh document nobody could click yet down by at most
``MAX_LIFTED`` places: it is never buried. Only the exact normalised query learns; other queries are
untouched. The query service asks ``rerank`` for the matches of a query; boosted documents that
match are found even below the page (one extra search for just their ids).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

from analytics.events import Clock, QueryEvent
from analytics.store import AnalyticsStore, FeedbackRow
from services.engine.base import Hit, Reader
from services.engine.query import NoScore, Query, Terms, all_of
from services.settings import Settings

log = logging.getLogger("kensaku.analytics")

DAY = 86_400.0
SATURATION = 3.0      # decayed feedback units at which ~76 % of the bound is reached
MAX_PENALTY = 0.5
MAX_LIFTED = 3

Boosts = dict[str, float]  # document id -> multiplier


class ClickLearning:
    """Per-query document multipliers from feedback, refreshed every ``click_learning_refresh_seconds``."""

    def __init__(self, settings: Settings, store: AnalyticsStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._tables: dict[str, tuple[float, dict[str, Boosts]]] = {}  # index -> (built at, query -> boosts)
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def multiplier(self, decayed_sum: float) -> float:
        """The bounded score multiplier for a decayed feedback sum."""
        bound = self.settings.click_learning_max_boost if decayed_sum >= 0 else MAX_PENALTY
        return 1.0 + bound * math.tanh(decayed_sum / SATURATION)

    def _table(self, rows: Sequence[FeedbackRow]) -> dict[str, Boosts]:
        now = self.clock()
        half_life = self.settings.click_learning_half_life_days * DAY
        sums: dict[str, dict[str, float]] = {}
        for text, doc_id, at, value in rows:
            decay = 0.5 ** (max(now - at, 0.0) / half_life)
            per_query = sums.setdefault(text, {})
            per_query[doc_id] = per_query.get(doc_id, 0.0) + value * decay
        table: dict[str, Boosts] = {}
        for text, docs in sums.items():
            lifted = sorted((d for d, s in docs.items() if s > 1e-6), key=lambda d: -docs[d])[:MAX_LIFTED]
            lowered = [d for d, s in docs.items() if s < -1e-6]
            table[text] = {d: self.multiplier(docs[d]) for d in lifted + lowered}
        return table

    def boosts(self, index_id: str, normalized: str) -> Boosts:
        """Multipliers for the documents with feedback for this normalised query (often none)."""
        refresh = self.settings.click_learning_refresh_seconds
        if refresh == 0:
            return self._table(self.store.query_feedback(index_id, normalized)).get(normalized, {})
        cached = self._tables.get(index_id)
        if cached is None or self.clock() - cached[0] >= refresh:
            self._refresh_in_background(index_id)
        return cached[1].get(normalized, {}) if cached else {}

    def _refresh_in_background(self, index_id: str) -> None:
        with self._lock:
            if index_id in self._refreshing:
                return
            self._refreshing.add(index_id)

        def run() -> None:
            try:
                self._tables[index_id] = (self.clock(), self._table(self.store.query_feedback(index_id)))
            except Exception:
                log.exception("click learning: refreshing %s failed", index_id)
            finally:
                with self._lock:
                    self._refreshing.discard(index_id)

        threading.Thread(target=run, name="kensaku-learning", daemon=True).start()

    def rerank(self, index_id: str, text: str, reader: Reader, query: Query, hits: list[Hit]) -> list[Hit]:
        """``hits`` (best first) with learned multipliers applied and re-sorted.

        Boosted documents that match ``query`` but are not among ``hits`` are fetched and compete too.
        Returns ``hits`` unchanged when this query has learned nothing.
        """
        boosts = self.boosts(index_id, QueryEvent.normalized(text))
        if not boosts:
            return hits
        only_boosted = NoScore(Terms("id", tuple(boosts)))  # adds no score
        found = reader.search(all_of([query, only_boosted]), limit=len(boosts)).hits
        adjusted = {hit.ref: hit for hit in hits}
        for hit, stored in zip(found, reader.stored([hit.ref for hit in found]), strict=True):
            adjusted[hit.ref] = Hit(hit.score * boosts.get(stored.doc_id, 1.0), hit.ref)
        ordered = sorted(adjusted.values(), key=lambda hit: -hit.score)
        return ordered[:len(hits)]

    def multipliers(self, index_id: str, text: str) -> Boosts:
        """Multipliers for the documents with feedback for this query text (often none)."""
        return self.boosts(index_id, QueryEvent.normalized(text))
