"""GetSnapshots: Kendra's intervals and metric types, computed from the analytics store.

Intervals are whole days in the configured zone (``analytics_timezone``); today is never included:

    THIS_WEEK        Sunday of this week .. yesterday (empty on a Sunday)
    ONE_WEEK_AGO     the previous Sunday .. Saturday;  TWO_WEEKS_AGO the one before
    THIS_MONTH       the 1st of this month .. yesterday (empty on the 1st)
    ONE_MONTH_AGO    the previous calendar month;      TWO_MONTHS_AGO the one before

``SnapShotTimeFilter`` echoes the window: StartTime is the first day's midnight, EndTime the last
day's 23:59:59.999 (an empty window has StartTime == EndTime == today's midnight).

Headers (``SnapshotsDataHeader``) and cells (``SnapshotsData``, all strings). Query metrics group
queries by their normalised text (NFKC, lower case, whitespace collapsed) and show that form;
queries without QueryText (index browsing) count only in the aggregates. Rates are decimals in
[0, 1] rounded to 4 places ("0.0" when nothing was counted); a click is a non-orphaned
ClickFeedbackItem for a result the query returned, clicks count towards the window of their query.

    QUERIES_BY_COUNT             query_content, count, click_through_rate, zero_click_rate,
                                 average_click_depth, instant_answer_rate
    QUERIES_BY_ZERO_CLICK_RATE   query_content, count, zero_click_count, zero_click_rate, instant_answer_rate
    QUERIES_BY_ZERO_RESULT_RATE  query_content, count, zero_result_count, zero_result_rate, share_of_all_queries
    DOCS_BY_CLICK_COUNT          document_id, count (clicks), relevant_count, not_relevant_count
    AGG_QUERY_DOC_METRICS        click_through_rate, zero_click_rate, zero_result_rate, instant_answer_rate,
                                 total_queries, total_documents (documents in the index now)
    TREND_QUERY_DOC_METRICS      date (YYYY-MM-DD), click_through_rate, zero_click_rate, zero_result_rate,
                                 instant_answer_rate, total_queries; one row per day of the window

``count`` is how often the query was searched; ``average_click_depth`` is the mean 1-based rank of
the clicked results ("0.0" without clicks). Rows are ordered by their headline number (descending),
then by text; query and document metrics keep the top 100 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from analytics.store import AnalyticsStore
from kernel.errors import InvalidRequestException

INTERVALS = ("THIS_WEEK", "ONE_WEEK_AGO", "TWO_WEEKS_AGO", "THIS_MONTH", "ONE_MONTH_AGO", "TWO_MONTHS_AGO")
METRICS = (
    "QUERIES_BY_COUNT", "QUERIES_BY_ZERO_CLICK_RATE", "QUERIES_BY_ZERO_RESULT_RATE",
    "DOCS_BY_CLICK_COUNT", "AGG_QUERY_DOC_METRICS", "TREND_QUERY_DOC_METRICS",
)
HEADERS: dict[str, tuple[str, ...]] = {
    "QUERIES_BY_COUNT": ("query_content", "count", "click_through_rate", "zero_click_rate",
                         "average_click_depth", "instant_answer_rate"),
    "QUERIES_BY_ZERO_CLICK_RATE": ("query_content", "count", "zero_click_count", "zero_click_rate",
                                   "instant_answer_rate"),
    "QUERIES_BY_ZERO_RESULT_RATE": ("query_content", "count", "zero_result_count", "zero_result_rate",
                                    "share_of_all_queries"),
    "DOCS_BY_CLICK_COUNT": ("document_id", "count", "relevant_count", "not_relevant_count"),
    "AGG_QUERY_DOC_METRICS": ("click_through_rate", "zero_click_rate", "zero_result_rate", "instant_answer_rate",
                              "total_queries", "total_documents"),
    "TREND_QUERY_DOC_METRICS": ("date", "click_through_rate", "zero_click_rate", "zero_result_rate",
                                "instant_answer_rate", "total_queries"),
}
TOP = 100


@dataclass(frozen=True, slots=True)
class Window:
    """Whole days ``[start, end)`` in the index's zone."""

    start: date
    end: date

    def days(self) -> list[date]:
        """Every day of the window, in order."""
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    def epochs(self, zone: tzinfo) -> tuple[float, float]:
        """The window as epoch seconds ``[start, end)``."""
        return _midnight(self.start, zone), _midnight(self.end, zone)


def _midnight(day: date, zone: tzinfo) -> float:
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + (day.month - 1) - months_back
    return date(index // 12, index % 12 + 1, 1)


def window(interval: str, today: date) -> Window:
    """The days an interval covers, ``today`` being the current day in the index's zone.

    Raises:
        InvalidRequestException: ``interval`` is not one of Kendra's six.
    """
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)  # weekday(): Monday 0 .. Sunday 6
    if interval == "THIS_WEEK":
        return Window(sunday, today)
    if interval == "ONE_WEEK_AGO":
        return Window(sunday - timedelta(days=7), sunday)
    if interval == "TWO_WEEKS_AGO":
        return Window(sunday - timedelta(days=14), sunday - timedelta(days=7))
    if interval == "THIS_MONTH":
        return Window(today.replace(day=1), today)
    if interval == "ONE_MONTH_AGO":
        return Window(_month_start(today, 1), _month_start(today, 0))
    if interval == "TWO_MONTHS_AGO":
        return Window(_month_start(today, 2), _month_start(today, 1))
    raise InvalidRequestException(f"Interval must be one of {', '.join(INTERVALS)}")


def time_filter(w: Window, zone: tzinfo) -> dict[str, datetime]:
    """The ``SnapShotTimeFilter`` echoing a window."""
    start, end = (datetime.combine(d, time(0), tzinfo=zone) for d in (w.start, w.end))
    if w.end > w.start:
        end -= timedelta(milliseconds=1)
    else:
        start = end
    return {"StartTime": start, "EndTime": end}


def snapshot(store: AnalyticsStore, metric: str, index_id: str, w: Window, zone: tzinfo,
             total_documents: int) -> tuple[list[str], list[list[str]]]:
    """The header and every row of ``metric`` for one index over one window.

    Raises:
        InvalidRequestException: ``metric`` is not one of Kendra's six.
    """
    if metric not in HEADERS:
        raise InvalidRequestException(f"MetricType must be one of {', '.join(METRICS)}")
    start, end = w.epochs(zone)
    if metric == "DOCS_BY_CLICK_COUNT":
        rows = _documents(store, index_id, start, end)
    elif metric == "AGG_QUERY_DOC_METRICS":
        rows = [_kpis(store, index_id, start, end) + [str(total_documents)]]
    elif metric == "TREND_QUERY_DOC_METRICS":
        rows = []
        for day in w.days():
            rows.append([day.isoformat()] + _kpis(store, index_id, _midnight(day, zone),
                                                  _midnight(day + timedelta(days=1), zone)))
    else:
        rows = _queries(store, metric, index_id, start, end)
    return list(HEADERS[metric]), rows


def _rate(part: int | float, whole: int | float) -> str:
    return str(round(part / whole, 4)) if whole else "0.0"


def _kpis(store: AnalyticsStore, index_id: str, start: float, end: float) -> list[str]:
    """click_through_rate, zero_click_rate, zero_result_rate, instant_answer_rate, total_queries."""
    total, clicked, zero, instant = store.query_totals(index_id, start, end)
    return [_rate(clicked, total), _rate(total - clicked, total), _rate(zero, total), _rate(instant, total),
            str(total)]


def _queries(store: AnalyticsStore, metric: str, index_id: str, start: float, end: float) -> list[list[str]]:
    groups = store.query_text_totals(index_id, start, end)
    rows: list[tuple[int, str, list[str]]] = []
    if metric == "QUERIES_BY_COUNT":
        depth = store.mean_click_ranks(index_id, start, end)
        for text, n, clicked, _, instant in groups:
            rows.append((n, text, [text, str(n), _rate(clicked, n), _rate(n - clicked, n),
                                   str(round(depth.get(text, 0.0), 4)), _rate(instant, n)]))
    elif metric == "QUERIES_BY_ZERO_CLICK_RATE":
        for text, n, clicked, _, instant in groups:
            if n - clicked:
                rows.append((n - clicked, text, [text, str(n), str(n - clicked), _rate(n - clicked, n),
                                                 _rate(instant, n)]))
    else:  # QUERIES_BY_ZERO_RESULT_RATE
        total = sum(g[1] for g in groups)
        for text, n, _, zero, _ in groups:
            if zero:
                rows.append((zero, text, [text, str(n), str(zero), _rate(zero, n), _rate(zero, total)]))
    rows.sort(key=lambda r: (-r[0], r[1]))
    return [r[2] for r in rows[:TOP]]


def _documents(store: AnalyticsStore, index_id: str, start: float, end: float) -> list[list[str]]:
    counts: dict[str, list[int]] = {}
    for doc, n in store.document_clicks(index_id, start, end):
        counts.setdefault(doc, [0, 0, 0])[0] = n
    for doc, relevance, n in store.document_votes(index_id, start, end):
        counts.setdefault(doc, [0, 0, 0])[1 if relevance == "RELEVANT" else 2] += n
    ordered = sorted(counts.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return [[doc, *(str(v) for v in values)] for doc, values in ordered[:TOP]]
