"""NextToken for list operations: the offset of the next page in the list's stable order."""

from __future__ import annotations

from kernel.errors import ValidationException


def page_token(offset: int) -> str:
    """The NextToken of the page that starts at ``offset``."""
    return f"o{offset}"


def page_offset(token: str | None) -> int:
    """Where the page a NextToken names starts (0 without one); a token not issued here is refused."""
    if token is None:
        return 0
    if not token.startswith("o") or not token[1:].isdigit():
        raise ValidationException("NextToken is not a token this server issued")
    return int(token[1:])
