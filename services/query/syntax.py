"""Kendra's advanced query syntax: QueryText parsed into a small tree, or the reason it cannot be.

What Kendra documents (spec §4.9, the guide's "Searching with advanced query syntax"):

- ``AND``, ``OR``, ``NOT`` (upper case, between spaces) and parentheses. Words side by side with no
  operator are searched as a plain query is (ranked, at least one of them found); they bind tighter than
  ``AND`` and ``NOT``, which bind tighter than ``OR``: ``amazon sports NOT rainforest`` is
  ``(amazon sports) NOT rainforest``. ``A NOT B`` is A without B; a leading ``NOT B`` is every document
  without B. Kendra documents no ``+`` / ``-`` prefixes: they are ordinary characters here.
- ``"exact phrase"``: the words at consecutive positions, as the query's analyzer reads them.
- ``field:value`` and ``field:"a value"``: a STRING or STRING_LIST field holding exactly that value;
  ``_document_title:`` and ``_document_body:`` search the title's or the body's text instead.
- LONG and DATE fields: ``field:value``, ``field:>x`` (``>=``, ``<``, ``<=``), ``field:[a TO b]``
  (inclusive), ``field:{a TO b}`` (exclusive; the two may be mixed, ``*`` is unbounded). Dates as epoch
  seconds, ``YYYY``, ``YYYY-mm``, ``YYYY-mm-dd`` or ``YYYY-mm-dd'T'HH`` (UTC): a date is the whole
  period it names, so ``_created_at:2020`` is the year 2020 and ``_created_at:>2020-10`` starts in November.
- ``Cloud*``: a trailing wildcard on at least 3 characters (after the last character that is not a
  letter or digit: ``prod-1234*`` is ``prod`` and ``1234*``). A shorter or leading one (``pr*``, ``*prod``)
  is no wildcard: the word is searched as it is, as Kendra does.

Text without any of these (no operator, quote, field, wildcard; parentheses alone group nothing) is a
plain query and is never parsed: it is searched exactly as before. Broken syntax (an operator without
an operand, an unbalanced quote or parenthesis, an unknown field, a value the field cannot hold, a range
on a string field) is reported with Kendra's ``QUERY_LANGUAGE_INVALID_SYNTAX`` warning, and the text is
searched as plain words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.index.fields import DATE, LONG, STRING, STRING_LIST, default_fields

CODE = "QUERY_LANGUAGE_INVALID_SYNTAX"
OPERATORS = frozenset({"AND", "OR", "NOT"})
MIN_WILDCARD_CHARS = 3  # Kendra: a wildcard needs at least three characters before it
TEXT_FIELDS = {"_document_title": "title", "_document_body": "body"}  # field names that search text
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(.*)", re.DOTALL)
_VALUE_START = re.compile(r"[\w<>\[{]")
_LONG = re.compile(r"[+-]?\d{1,19}")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}))?)?)?")
_SPECIAL = re.compile(r"[^\w]")


class SyntaxProblem(Exception):
    """Why a query's syntax is invalid (the warning's message)."""


# -- the tree -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Words:
    """Plain words, as written: searched as a plain query is (``field``: only the title or body text)."""

    text: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Quoted:
    """An exact phrase."""

    text: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Wildcard:
    """Index terms that begin with ``prefix`` (as written; ``word`` is the whole word before the ``*``)."""

    prefix: str
    word: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class FieldValue:
    """A STRING or STRING_LIST attribute holding exactly ``value``."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class FieldRange:
    """A LONG or DATE attribute between bounds (DATE in microseconds since the epoch; None: unbounded)."""

    name: str
    lower: int | None
    upper: int | None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True, slots=True)
class Seq:
    """Operands side by side: at least one found, every one found scores (a plain query's rule)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Words | Quoted | Wildcard | FieldValue | FieldRange | Seq | And | Or | Not


@dataclass(frozen=True, slots=True)
class Parsed:
    """The outcome: ``tree`` when the text uses the syntax validly, ``problem`` when it is broken;
    neither for a plain query (searched as it always was)."""

    tree: Node | None = None
    problem: str | None = None


# -- tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "op", "quoted", "field", "wildcard", "(", ")"
    text: str
    start: int
    end: int
    name: str = ""  # a field's name
    value: str = ""  # a field's value as written (quoted: without its quotes)
    quoted: bool = False


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Token(ch, ch, i, i + 1))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise SyntaxProblem("The query has an unbalanced double quote")
            out.append(_Token("quoted", text[i + 1:end], i, end + 1))
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            word = text[i:j]
            field = _FIELD.fullmatch(word)
            if field is not None and j < n and text[j] == '"' and not field.group(2):  # name:"a value"
                end = text.find('"', j + 1)
                if end < 0:
                    raise SyntaxProblem("The query has an unbalanced double quote")
                out.append(_Token("field", text[i:end + 1], i, end + 1, field.group(1), text[j + 1:end], True))
                i = end + 1
                continue
            if field is not None and field.group(2)[:1] in ("[", "{"):  # name:[a TO b]: up to the bracket
                close = min((k for k in (text.find("]", i), text.find("}", i)) if k >= 0), default=-1)
                if close < 0:
                    raise SyntaxProblem(f"The range of {field.group(1)} has no closing bracket")
                out.append(_Token("field", text[i:close + 1], i, close + 1, field.group(1),
                                  text[i + len(field.group(1)) + 1:close + 1]))
                i = close + 1
                continue
            if field is not None and _VALUE_START.match(field.group(2)):
                out.append(_Token("field", word, i, j, field.group(1), field.group(2)))
            elif word in OPERATORS:
                out.append(_Token("op", word, i, j))
            elif _wildcard(word) is not None:
                out.append(_Token("wildcard", word, i, j))
            else:
                out.append(_Token("word", word, i, j))
            i = j
    return out


def _wildcard(word: str) -> tuple[str, str] | None:
    """(what comes before the wildcard's prefix, the prefix) of a valid trailing wildcard, else None."""
    if not word.endswith("*"):
        return None
    stem = word.rstrip("*")
    cut = max((m.end() for m in _SPECIAL.finditer(stem)), default=0)
    prefix = stem[cut:]
    if len(prefix) < MIN_WILDCARD_CHARS:
        return None
    return stem[:cut], prefix


def is_syntax(tokens: list[_Token]) -> bool:
    """Whether the tokens use the syntax at all (parentheses count only beside an operator)."""
    return any(t.kind in ("op", "quoted", "field", "wildcard") for t in tokens)


# -- parsing --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token], fields: Mapping[str, Mapping[str, Any]]) -> None:
        self.tokens = tokens
        self.fields = fields
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.any_of()
        extra = self.peek()
        if extra is not None:
            if extra.kind == ")":
                raise SyntaxProblem("The query has unbalanced parentheses")
            raise SyntaxProblem(f"Unexpected {extra.text} in the query")
        return node

    def _is_op(self, token: _Token | None, *names: str) -> bool:
        return token is not None and token.kind == "op" and token.text in names

    def any_of(self) -> Node:
        items = [self.all_of()]
        while self._is_op(self.peek(), "OR"):
            self.take()
            items.append(self.all_of("OR"))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def all_of(self, after: str | None = None) -> Node:
        items = [self.sequence(after)]
        while self._is_op(self.peek(), "AND", "NOT"):
            op = self.take().text
            operand = self.sequence(op)
            items.append(Not(operand) if op == "NOT" else operand)
        return items[0] if len(items) == 1 else And(tuple(items))

    def sequence(self, after: str | None) -> Node:
        items: list[Node] = []
        while (token := self.peek()) is not None:
            if self._is_op(token, "NOT") and not items:  # a leading NOT negates the operand after it
                self.take()
                operand = self.primary("NOT")
                items.append(operand.item if isinstance(operand, Not) else Not(operand))
            elif token.kind in ("word", "quoted", "field", "wildcard", "("):
                items.append(self.primary(after))
            else:
                break
        if not items:
            token = self.peek()
            if after is not None:
                raise SyntaxProblem(f"The operator {after} has nothing after it")
            if token is not None and token.kind == "op":
                raise SyntaxProblem(f"The query starts with the operator {token.text}")
            if token is not None and token.kind == ")":
                raise SyntaxProblem("The query has unbalanced parentheses")
            raise SyntaxProblem("The query has an empty group")
        merged: list[Node] = []
        for item in items:  # words side by side are one plain query
            if isinstance(item, Words) and item.field is None and merged and isinstance(merged[-1], Words) \
                    and merged[-1].field is None:
                merged[-1] = Words(f"{merged[-1].text} {item.text}")
            else:
                merged.append(item)
        return merged[0] if len(merged) == 1 else Seq(tuple(merged))

    def primary(self, after: str | None) -> Node:
        token = self.peek()
        if token is None or token.kind in ("op", ")"):
            if token is not None and token.kind == "op" and after is None:
                raise SyntaxProblem(f"The query starts with the operator {token.text}")
            raise SyntaxProblem(f"The operator {after} has nothing after it" if after
                                else "The query has unbalanced parentheses")
        self.take()
        if token.kind == "(":
            node = self.any_of()
            close = self.peek()
            if close is None or close.kind != ")":
                raise SyntaxProblem("The query has unbalanced parentheses")
            self.take()
            return node
        if token.kind == "quoted":
            if not token.text.strip():
                raise SyntaxProblem("The query has empty quotes")
            return Quoted(token.text)
        if token.kind == "wildcard":
            return _wildcard_node(token.text, None)
        if token.kind == "field":
            return self.field(token)
        return Words(token.text)

    def field(self, token: _Token) -> Node:
        name, value = token.name, token.value
        if name in TEXT_FIELDS:
            target = TEXT_FIELDS[name]
            if token.quoted:
                return Quoted(value, target)
            if value[:1] in "[{<>":
                raise SyntaxProblem(f"{name} is text: it has no ranges")
            return _wildcard_node(value, target) if _wildcard(value) else Words(value, target)
        spec = self.fields.get(name)
        if spec is None:
            raise SyntaxProblem(f"{name} is not a field of this index")
        kind = spec["Type"]
        if kind in (STRING, STRING_LIST):
            if not token.quoted and value[:1] in "[{<>":
                raise SyntaxProblem(f"{name} is a string field: it has no ranges")
            if not value:
                raise SyntaxProblem(f"{name}: has no value")
            return FieldValue(name, value)
        if kind not in (LONG, DATE):
            raise SyntaxProblem(f"{name} cannot be searched")
        return _range(name, kind, value)


def _wildcard_node(word: str, field: str | None) -> Node:
    found = _wildcard(word)
    assert found is not None
    before, prefix = found
    node = Wildcard(prefix, word.rstrip("*"), field)
    return Seq((Words(before, field), node)) if any(ch.isalnum() for ch in before) else node


def _range(name: str, kind: str, value: str) -> FieldRange:
    """A LONG or DATE field's condition: a value, a comparison or a bracketed range."""
    if value[:1] in "[{":
        close = value[-1:]
        parts = value[1:-1].split()
        if close not in ("]", "}") or len(parts) != 3 or parts[1] != "TO":
            raise SyntaxProblem(f"The range of {name} is not [a TO b] or {{a TO b}}")
        low = None if parts[0] == "*" else _bounds(name, kind, parts[0])
        high = None if parts[2] == "*" else _bounds(name, kind, parts[2])
        inclusive_low, inclusive_high = value[0] == "[", close == "]"
        return FieldRange(name, None if low is None else (low[0] if inclusive_low else low[1]),
                          None if high is None else (high[1] if inclusive_high else high[0]),
                          True, False)
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            start, end = _bounds(name, kind, value[len(op):])
            if op == ">=":
                return FieldRange(name, start, None)
            if op == ">":
                return FieldRange(name, end, None)
            if op == "<":
                return FieldRange(name, None, start, True, False)
            return FieldRange(name, None, end, True, False)
    start, end = _bounds(name, kind, value)
    return FieldRange(name, start, end, True, False)


def _bounds(name: str, kind: str, value: str) -> tuple[int, int]:
    """The half-open interval [start, end) a LONG or DATE value names (a date: the period it names)."""
    if kind == LONG:
        if not _LONG.fullmatch(value):
            raise SyntaxProblem(f"{name} holds whole numbers, not {value!r}")
        number = int(value)
        return number, number + 1
    if value.isdigit() and len(value) != 4:  # epoch seconds (four digits are a year)
        seconds = int(value)
        return seconds * 1_000_000, (seconds + 1) * 1_000_000
    match = _DATE.fullmatch(value)
    if match is None:
        raise SyntaxProblem(f"{name} holds dates (epoch seconds, YYYY, YYYY-mm, YYYY-mm-dd or YYYY-mm-ddTHH),"
                            f" not {value!r}")
    year, month, day, hour = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        if month is None:
            start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        elif day is None:
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        else:
            start = datetime(year, month, day, hour or 0, tzinfo=UTC)
            length = 3600 if hour is not None else 86400
            end = datetime.fromtimestamp(start.timestamp() + length, tz=UTC)
    except ValueError:
        raise SyntaxProblem(f"{value!r} is not a date") from None
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def parse(text: str, fields: Mapping[str, Mapping[str, Any]] | None = None) -> Parsed:
    """Parse a QueryText against an index's fields (None: a new index's built-in fields)."""
    if fields is None:
        fields = {f["Name"]: f for f in default_fields()}
    try:
        tokens = _tokens(text)
        if not is_syntax(tokens):
            _check_plain(text, tokens)
            return Parsed()
        return Parsed(tree=_Parser(tokens, fields).parse())
    except SyntaxProblem as problem:
        return Parsed(problem=str(problem))


def _check_plain(text: str, tokens: list[_Token]) -> None:
    """A plain query's parentheses must still balance (Kendra reads them as grouping)."""
    depth = 0
    for token in tokens:
        depth += (token.kind == "(") - (token.kind == ")")
        if depth < 0:
            break
    if depth:
        raise SyntaxProblem("The query has unbalanced parentheses")


def syntax_problem(text: str, fields: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
    """What is wrong with the query syntax of ``text``, or None."""
    return parse(text, fields).problem


def warnings_for(problem: str | None) -> list[dict[str, Any]]:
    """Kendra's ``Warnings`` for a syntax problem: one item, or none."""
    if problem is None:
        return []
    return [{"Code": CODE, "Message": f"{problem}; its words were searched as plain terms."}]
