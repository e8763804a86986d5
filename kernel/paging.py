"""NextToken for list operations: the offset of the next page in the list's stable order.

A token is ``o<offset>``, followed by ``.<context>`` (URL-safe base64) for a list whose pages also
depend on the request (GetSnapshots' metric and interval): a token handed out for one such list is
refused by another. Tokens are not signed: a forged offset only pages a list the caller may read anyway.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from kernel.errors import ValidationException

T = TypeVar("T")


def page_token(offset: int, context: str = "") -> str:
    """The NextToken of the page that starts at ``offset`` of the list ``context`` names."""
    if not context:
        return f"o{offset}"
    return f"o{offset}." + base64.urlsafe_b64encode(context.encode()).decode("ascii")


def page_offset(token: str | None, context: str = "") -> int:
    """Where the page a NextToken names starts (0 without one); a token not issued here for the list
    ``context`` names raises ValidationException."""
    if token is None:
        return 0
    offset = token.partition(".")[0][1:]
    # (a length bound: int() refuses a string of thousands of digits with a ValueError)
    if not offset.isdigit() or len(offset) > 18 or token != page_token(int(offset), context):
        raise ValidationException("NextToken is not a token this server issued")
    return int(offset)


def page(items: Sequence[T], request: Mapping[str, Any], default_size: int = 100,
         context: str = "") -> tuple[Sequence[T], dict[str, str]]:
    """The page of ``items`` a list request names (its NextToken; MaxResults of them at most, Kendra's
    ``default_size`` without one), and the response members that name the next page:
    ``{"NextToken": ...}``, or nothing on the last page."""
    start, size = page_offset(request.get("NextToken"), context), request.get("MaxResults", default_size)
    following = {"NextToken": page_token(start + size, context)} if start + size < len(items) else {}
    return items[start : start + size], following
