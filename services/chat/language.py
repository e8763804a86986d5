"""The question's language, and the options a chat user can type after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from kernel.language import detect_language

Language = Literal["ja", "en", "all"]
LANGUAGES: tuple[Language, ...] = ("ja", "en", "all")

_OPTION = re.compile(r"(?:^|\s)(--all|--lang(?:=|\s+)(\S+))(?=\s|$)")


@dataclass(frozen=True)
class Question:
    """What the user asked, in which language(s) to search, and whether that was detected."""

    text: str
    language: Language
    detected: bool = True


def parse_question(raw: str) -> Question:
    """``経費精算の締め日 --all`` -> Question("経費精算の締め日", "all").

    Options: ``--all`` (Japanese and English) and ``--lang ja|en|all``; anything else is the question.
    Raises ValueError for an unknown ``--lang`` value.
    """
    language: Language | None = None
    for match in _OPTION.finditer(raw):
        if match.group(1) == "--all":
            language = "all"
        else:
            value = match.group(2).lower()
            if value not in LANGUAGES:
                raise ValueError(f"--lang takes ja, en or all, not {match.group(2)!r}")
            language = value
    text = " ".join(_OPTION.sub(" ", raw).split())
    if language is None:
        return Question(text, detect_language(text))
    return Question(text, language, detected=False)


def language_filter(language: Language) -> dict[str, Any]:
    """The Kendra AttributeFilter for one language, or for both Japanese and English."""
    def equals(code: str) -> dict[str, Any]:
        return {"EqualsTo": {"Key": "_language_code", "Value": {"StringValue": code}}}

    if language == "all":
        return {"OrAllFilters": [equals("ja"), equals("en")]}
    return equals(language)
