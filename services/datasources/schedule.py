"""Data source schedules: Kendra's ``Schedule`` is a cron expression, or "" for on demand.

Accepted forms: five fields ``m h dom mon dow`` (Unix cron) and AWS's ``cron(m h dom mon dow year)``
(``?`` means "any"; the year field must be ``*`` or a number). Fields take ``*``, numbers, ranges
``a-b``, lists ``a,b`` and steps ``*/n`` / ``a-b/n``; day of week 0-7 (0 and 7 are Sunday) or
SUN-SAT; months 1-12 or JAN-DEC. As in cron, when both day fields are restricted either may match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_NAMES = {
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10,
    "NOV": 11, "DEC": 12, "SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MAX_LOOKBACK_MINUTES = 24 * 60


class ScheduleError(ValueError):
    """A schedule that is not a cron expression this server understands."""


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, t: datetime) -> bool:
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        day_ok = t.day in self.days
        weekday_ok = (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def _field(text: str, low: int, high: int) -> tuple[frozenset[int], bool]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1)), True
    values: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?", part)
        if m is None:
            raise ScheduleError(f"bad cron field {text!r}")
        span, step_text = m.group(1), m.group(2)
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"bad step in {text!r}")
        if span == "*":
            start, end = low, high
        else:
            ends = [_value(v) for v in span.split("-")]
            start, end = ends[0], ends[-1]
            if len(ends) == 1 and step_text:
                end = high
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ScheduleError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), False


def _value(text: str) -> int:
    upper = text.upper()
    if upper in _NAMES:
        return _NAMES[upper]
    if not text.isdigit():
        raise ScheduleError(f"bad cron value {text!r}")
    return int(text)


def parse(expression: str) -> Cron:
    """Parse a schedule. Raises ScheduleError with a message naming the problem."""
    text = expression.strip()
    aws = re.fullmatch(r"cron\((.*)\)", text)
    parts = (aws.group(1) if aws else text).split()
    if aws:
        if len(parts) != 6:
            raise ScheduleError("cron(...) needs six fields: minutes hours day-of-month month day-of-week year")
        year = parts.pop()
        if year != "*" and not re.fullmatch(r"[0-9]{4}(-[0-9]{4})?", year):
            raise ScheduleError(f"bad year field {year!r}")
    elif len(parts) != 5:
        raise ScheduleError("a schedule needs five cron fields (minute hour day-of-month month day-of-week)")
    fields = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True)]
    weekdays = frozenset(d % 7 for d in fields[4][0])
    return Cron(fields[0][0], fields[1][0], fields[2][0], fields[3][0], weekdays, fields[2][1], fields[4][1])


def due(expression: str, since: float, now: float) -> bool:
    """Whether the schedule fires at a minute in (since, now] (UTC); looks back at most one day."""
    cron = parse(expression)
    start = max(since, now - _MAX_LOOKBACK_MINUTES * 60)
    t = datetime.fromtimestamp(start, tz=UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = datetime.fromtimestamp(now, tz=UTC)
    while t <= end:
        if cron.matches(t):
            return True
        t += timedelta(minutes=1)
    return False
