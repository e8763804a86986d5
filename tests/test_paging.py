"""kernel.paging (NextToken) and kernel.times (epoch seconds on the wire)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kernel.errors import ValidationException
from kernel.paging import page, page_offset, page_token
from kernel.times import from_epoch


def test_a_token_names_the_offset_of_the_next_page() -> None:
    assert page_offset(None) == 0
    assert page_offset(page_token(40)) == 40
    assert page_offset(page_token(3, "QUERIES_BY_COUNT:THIS_WEEK"), "QUERIES_BY_COUNT:THIS_WEEK") == 3


@pytest.mark.parametrize("token", ["", "o", "o-1", "40", "garbage", "o4.%%%", "o4.\u00e9", "o4.", "o04",
                                   "o" + "9" * 5000])
def test_a_token_not_issued_here_is_refused(token: str) -> None:
    with pytest.raises(ValidationException, match="NextToken"):
        page_offset(token)


def test_a_token_of_one_list_is_refused_by_another() -> None:
    token = page_token(3, "QUERIES_BY_COUNT:THIS_WEEK")
    for context in ("", "QUERIES_BY_COUNT:ONE_WEEK_AGO", "DOCS_BY_CLICK_COUNT:THIS_WEEK"):
        with pytest.raises(ValidationException):
            page_offset(token, context)
    with pytest.raises(ValidationException):
        page_offset(page_token(3), "QUERIES_BY_COUNT:THIS_WEEK")


def test_page_slices_and_names_the_next_page_until_the_last() -> None:
    items = list(range(5))
    first, following = page(items, {"MaxResults": 2})
    assert first == [0, 1] and following == {"NextToken": page_token(2)}
    second, following = page(items, {"MaxResults": 2, **following})
    assert second == [2, 3]
    last, following = page(items, {"MaxResults": 2, **following})
    assert last == [4] and following == {}
    assert page(items, {}) == ([0, 1, 2, 3, 4], {})  # Kendra's default page size
    assert page(items, {}, default_size=3) == ([0, 1, 2], {"NextToken": page_token(3)})
    with pytest.raises(ValidationException):
        page(items, {"NextToken": page_token(2), "MaxResults": 2}, context="QUERIES_BY_COUNT:THIS_WEEK")


def test_from_epoch_is_utc_and_keeps_none() -> None:
    assert from_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_epoch(1.5).tzinfo is UTC
    assert from_epoch(None) is None
