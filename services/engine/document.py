"""The document model both engines index (docs/engine.md): analysed text as token rows, principals,
typed attributes. Built by services/index/documents.py, written through an engine's ``SearchIndex``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.engine.analysis import Token
from services.engine.query import PUBLIC

STRING = "STRING_VALUE"
STRING_LIST = "STRING_LIST_VALUE"
LONG = "LONG_VALUE"
DATE = "DATE_VALUE"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # STRING_VALUE | STRING_LIST_VALUE | LONG_VALUE | DATE_VALUE
    sortable: bool = False


# (term, position, start, end): plain tuples pickle fast between the analysis processes and here.
TokenRow = tuple[str, int, int, int]


def token_rows(tokens: Iterable[Token]) -> list[TokenRow]:
    return [(t.term, t.position, t.start, t.end) for t in tokens]


@dataclass(slots=True)
class LexicalDocument:
    """A document as a search index takes it: analysed text, principals, typed attributes."""

    doc_id: str
    title: str
    title_tokens: list[TokenRow]
    body: str
    body_tokens: list[TokenRow]
    meta: str = ""
    meta_tokens: list[TokenRow] = field(default_factory=list)
    acl_allow: list[str] = field(default_factory=lambda: [PUBLIC])
    acl_deny: list[str] = field(default_factory=list)
    # field name -> str | list[str] | int | float (DATE as epoch seconds)
    attributes: dict[str, Any] = field(default_factory=dict)
