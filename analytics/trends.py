"""KensakuGetTrends: the dashboard's numbers, a Kensaku extension operation on the Kendra protocol.

Request and response are fixed by the contract in docs/api.md ("KensakuGetTrends"). Intervals mean
what they mean for GetSnapshots (whole days in the analytics zone; the current day never counts). Definitions:

- ClickThroughRate: share of queries with at least one (non-orphaned) click;
- MeanReciprocalRank: mean of 1 / (best clicked rank) over the queries that had a click;
- RisingQueries: normalised queries with at least ``RISING_MIN_COUNT`` queries in the interval and more
  than in the same-length period just before; Growth = (Count - PreviousCount) / max(PreviousCount, 1);
- ZeroResultQueries: zero-result queries grouped by normalised form, with up to 3 texts as typed;
- LowConfidenceQueries: queries with text that had results, none of them relevant enough (the best
  ScoreConfidence of the first page below MEDIUM: LOW or NOT_AVAILABLE), grouped the same way; events
  recorded before the confidence was (data folders from before, sorted queries, later pages) never count;
- ZeroClickQueries: queries that had results but no click, by how many went unclicked.

The operation is not in botocore's model, so this module validates its own input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from analytics.events import CHANNELS
from analytics.snapshots import INTERVALS, window
from analytics.store import AnalyticsStore
from kernel.errors import ValidationException
from kernel.model import JSON_NULL
from services.relevance import is_weak

GRANULARITIES = ("HOUR", "DAY")
HOURLY_BY_DEFAULT = ("THIS_WEEK", "ONE_WEEK_AGO", "TWO_WEEKS_AGO")
DEFAULT_MAX_RESULTS = 10
RISING_MIN_COUNT = 3
MAX_EXAMPLES = 3
_INDEX_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]{35}")
_MEMBERS = {"IndexId", "Interval", "Granularity", "MaxResults", "Channel"}

Titles = Callable[[str, list[str]], dict[str, str | None]]
"""Document titles of an index by document id (absent or None: untitled or deleted)."""


def parse_request(p: Any) -> dict[str, Any]:
    """The validated request with defaults filled in.

    Raises:
        ValidationException: a member is missing, unknown, of the wrong type or out of range.
    """
    if not isinstance(p, dict):
        raise ValidationException("The request body must be a JSON object")
    unknown = sorted(set(p) - _MEMBERS)
    if unknown:
        raise ValidationException(f"Unknown member(s): {', '.join(unknown)}")
    index_id = p.get("IndexId")
    if not isinstance(index_id, str) or not _INDEX_ID.fullmatch(index_id):
        raise ValidationException("IndexId is required: 36 characters, [a-zA-Z0-9][a-zA-Z0-9-]*")
    interval = p.get("Interval")
    if interval not in INTERVALS:
        raise ValidationException(f"Interval is required, one of {', '.join(INTERVALS)}")
    granularity = p.get("Granularity", "HOUR" if interval in HOURLY_BY_DEFAULT else "DAY")
    if granularity not in GRANULARITIES:
        raise ValidationException(f"Granularity must be one of {', '.join(GRANULARITIES)}")
    size = p.get("MaxResults", DEFAULT_MAX_RESULTS)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
        raise ValidationException("MaxResults must be an integer from 1 to 100")
    channel = p.get("Channel")
    if channel is not None and channel not in CHANNELS:
        raise ValidationException(f"Channel must be one of {', '.join(CHANNELS)}")
    return {"IndexId": index_id, "Interval": interval, "Granularity": granularity, "MaxResults": size,
            "Channel": channel}


@dataclass(slots=True)
class _Bucket:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    n: int = 0
    clicked: int = 0
    rr: float = 0.0


def _buckets(start: float, end: float, granularity: str, zone: tzinfo) -> list[float]:
    """Bucket start times covering ``[start, end)``: local hours or local midnights."""
    out: list[float] = []
    if granularity == "HOUR":
        t = start
        while t < end:
            out.append(t)
            t += 3600.0
        return out
    day = datetime.fromtimestamp(start, zone)
    while day.timestamp() < end:
        out.append(day.timestamp())
        day = (day + timedelta(days=1, hours=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    return out


def _bucket_of(t: float, buckets: list[float]) -> int:
    lo, hi = 0, len(buckets) - 1
    while lo < hi:  # the last bucket starting at or before t
        mid = (lo + hi + 1) // 2
        if buckets[mid] <= t:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _add_example(groups: dict[str, list[Any]], normalized: str, text: str) -> None:
    """Count one query in its group, keeping up to MAX_EXAMPLES distinct texts as typed."""
    group = groups.setdefault(normalized, [0, []])
    group[0] += 1
    if text not in group[1] and len(group[1]) < MAX_EXAMPLES:
        group[1].append(text)


def _groups(groups: dict[str, list[Any]], size: int) -> list[dict[str, Any]]:
    """The most frequent groups first: ``{"NormalizedQuery", "Count", "Examples"}``."""
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))[:size]
    return [{"NormalizedQuery": t, "Count": g[0], "Examples": g[1]} for t, g in ordered]


def trends(store: AnalyticsStore, request: dict[str, Any], today: datetime, zone: tzinfo,
           titles: Titles) -> dict[str, Any]:
    """The KensakuGetTrends response for a validated ``request``; ``today`` is now in the analytics zone."""
    index_id, size, channel = request["IndexId"], request["MaxResults"], request["Channel"]
    start, end = window(request["Interval"], today.date()).epochs(zone)
    rows = store.queries_with_clicks(index_id, start, end, channel)
    buckets = _buckets(start, end, request["Granularity"], zone)
    per_bucket = [_Bucket() for _ in buckets]
    counts: dict[str, int] = {}
    zero_results: dict[str, list[Any]] = {}
    low_confidence: dict[str, list[Any]] = {}
    unclicked: dict[str, list[int]] = {}  # normalised -> [queries with results, of them unclicked]
    total_clicks = clicked_queries = zero = weak = 0
    rr_sum = 0.0
    for at, ch, normalized, text, results, best, best_rank, clicks in rows:
        b = per_bucket[_bucket_of(at, buckets)] if buckets else None
        if b is not None:
            b.counts[ch if ch in CHANNELS else "api"] += 1
            b.n += 1
        total_clicks += clicks
        if best_rank is not None:
            clicked_queries += 1
            rr_sum += 1.0 / best_rank
            if b is not None:
                b.clicked += 1
                b.rr += 1.0 / best_rank
        if normalized:
            counts[normalized] = counts.get(normalized, 0) + 1
            if results == 0:
                _add_example(zero_results, normalized, text)
            else:
                if is_weak(best):
                    _add_example(low_confidence, normalized, text)
                    weak += 1
                u = unclicked.setdefault(normalized, [0, 0])
                u[0] += 1
                u[1] += best_rank is None
        if results == 0:
            zero += 1
    total = len(rows)

    previous = store.query_counts(index_id, start - (end - start), start, channel) if end > start else {}
    growing: list[tuple[float, int, int, str]] = []
    for text, n in counts.items():
        before = previous.get(text, 0)
        if n >= RISING_MIN_COUNT and n > before:
            growing.append((round((n - before) / max(before, 1), 4), n, before, text))
    growing.sort(key=lambda r: (-r[0], -r[1], r[3]))
    rising = [{"Query": t, "Count": n, "PreviousCount": b, "Growth": g} for g, n, b, t in growing]

    docs = store.most_clicked_documents(index_id, start, end, channel, size)
    names = titles(index_id, [d for d, _ in docs]) if docs else {}

    def rate(part: float, whole: float) -> float:
        return round(part / whole, 4) if whole else 0.0

    return {
        "Interval": {"StartTime": start, "EndTime": end},
        "Totals": {"Queries": total, "Clicks": total_clicks, "ClickThroughRate": rate(clicked_queries, total),
                   "ZeroResultRate": rate(zero, total), "LowConfidenceRate": rate(weak, total),
                   "MeanReciprocalRank": rate(rr_sum, clicked_queries)},
        "QueriesOverTime": [{"Time": t, "Counts": b.counts} for t, b in zip(buckets, per_bucket, strict=True)],
        "ClickThroughOverTime": [{"Time": t, "ClickThroughRate": rate(b.clicked, b.n),
                                  "MeanReciprocalRank": rate(b.rr, b.clicked)}
                                 for t, b in zip(buckets, per_bucket, strict=True)],
        "TopQueries": [{"Query": t, "Count": n}
                       for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]],
        "RisingQueries": rising[:size],
        "ZeroResultQueries": _groups(zero_results, size),
        "LowConfidenceQueries": _groups(low_confidence, size),
        "ZeroClickQueries": [{"Query": t, "Count": u[0], "ZeroClickRate": rate(u[1], u[0])}
                             for t, u in sorted(unclicked.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
                             if u[1]][:size],
        "TopDocuments": [{"DocumentId": d, "DocumentTitle": names.get(d) or JSON_NULL, "Clicks": int(n)}
                         for d, n in docs],
    }
