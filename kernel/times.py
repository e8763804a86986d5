"""Times on the wire: stored epoch seconds to the timezone-aware UTC datetimes the API returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def from_epoch(epoch: float) -> datetime: ...
@overload
def from_epoch(epoch: None) -> None: ...
@overload
def from_epoch(epoch: float | None) -> datetime | None: ...
def from_epoch(epoch: float | None) -> datetime | None:
    """The UTC datetime of ``epoch`` seconds (None stays None: a time not set yet)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)
