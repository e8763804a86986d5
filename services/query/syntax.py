"""Warnings about query syntax (Kendra's ``Warnings`` with ``QUERY_LANGUAGE_INVALID_SYNTAX``).

Kensaku searches the words of a query as plain terms; it still tells the caller, as Kendra does,
when the text looks like broken query language: a boolean operator (AND, OR, NOT) at either end or
twice in a row, an unbalanced double quote or unbalanced parentheses. The query is answered anyway.
"""

from __future__ import annotations

from typing import Any

_OPERATORS = {"AND", "OR", "NOT"}
CODE = "QUERY_LANGUAGE_INVALID_SYNTAX"


def syntax_problem(text: str) -> str | None:
    """What is wrong with the query syntax of ``text``, or None."""
    words = text.replace("(", " ").replace(")", " ").split()
    if words and words[0] in _OPERATORS - {"NOT"}:
        return f"The query starts with the operator {words[0]}"
    if words and words[-1] in _OPERATORS:
        return f"The query ends with the operator {words[-1]}"
    for a, b in zip(words, words[1:], strict=False):
        if a in _OPERATORS and b in _OPERATORS - {"NOT"}:
            return f"The operators {a} and {b} follow each other"
    if text.count('"') % 2:
        return "The query has an unbalanced double quote"
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            break
    if depth:
        return "The query has unbalanced parentheses"
    return None


def syntax_warnings(text: str) -> list[dict[str, Any]]:
    """Kendra's ``Warnings`` for ``text``: one item when its syntax is invalid, else empty."""
    problem = syntax_problem(text)
    if problem is None:
        return []
    return [{"Code": CODE, "Message": f"{problem}; its words were searched as plain terms."}]
