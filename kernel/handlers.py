"""What serves an operation: a handler taking the validated input and returning the output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.errors import ValidationException

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


class NotBuilt:
    """The handler of an operation that exists in Kendra but not (yet) here: a typed refusal saying why
    (by default, naming its feature), given before the body is validated (a caller learns first that
    the call cannot work)."""

    def __init__(self, operation: str, feature: str, reason: str | None = None) -> None:
        self.message = reason or f"{operation} is not supported by this Kensaku server yet ({feature})."

    def refuse(self) -> ValidationException:
        return ValidationException(self.message)

    def __call__(self, _: dict[str, Any]) -> None:
        raise self.refuse()
