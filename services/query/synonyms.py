"""Synonym rules: Kendra's thesaurus files (Solr's synonym format) and the built-in Japanese variants,
compiled for an analyzer and matched against a query's words.

The format, as Kendra documents it and Solr's ``SolrSynonymParser`` reads it:

- one rule a line; blank lines, and lines whose first non-blank character is ``#``, are ignored;
- ``a, b, c``: equivalent terms (both ways): a query holding any of them also searches the others;
- ``a, b => c, d``: an explicit mapping (one way): a query holding ``a`` or ``b`` also searches ``c``
  and ``d``; a query holding ``c`` searches nothing more;
- a term may be several words (``machine learning``, ``立替金の精算``);
- ``\\`` escapes the next character (``\\,`` is a comma inside a term, ``\\=>`` an arrow, ``\\\\`` a
  backslash), as in Solr;
- rules of the same term merge; a term mapped only to itself (``a => a``, ``a, A``) is no rule and is
  not counted (Kendra's documented behaviour).

Malformed (the thesaurus fails with the line): a second ``=>`` on a line, a side of ``=>`` without a
term, a term without a letter or digit. Kendra's quotas: at most 10,000 rules, and at most 10
synonyms for a term (all its rules together); the file's 5 MB is checked by the reader.

Kensaku keeps the query's own words and *adds* the other terms (Kendra: "all the terms in the list
are used to search documents, which includes the original queried term"), also for one-way rules.
A term is matched and searched as the query's analyzer sees it (:func:`compile_rules`): a term of one
word is a term, a term of several words a phrase of them, so "notebook computer" never matches a
page that only says "notebook" somewhere and "computer" elsewhere. A term made only of function words
(``the``, ``の``) is never matched nor added: a synonym must not let a stop word find documents.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.engine.analysis import Analyzer, QueryWord, normalize

MAX_RULES = 10_000  # Kendra's quota: synonym rules a thesaurus
MAX_SYNONYMS_PER_TERM = 10  # Kendra's quota
MAX_ALTERNATIVES = 50  # alternatives one query takes in (10 synonyms for each of a few words)
BUILTIN_VARIANTS = Path(__file__).with_name("variants_ja.txt")
_ARROW = "=>"
_SHOWN = 80  # characters of a line quoted in an error


class SynonymFileError(Exception):
    """The file cannot be used; the message names the line (shown as the thesaurus's ErrorMessage)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of a synonym file: ``inputs`` map to ``outputs`` (one way), or, when ``outputs`` is
    None, each of ``inputs`` to every other (equivalent terms)."""

    line: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] | None = None

    def pairs(self) -> Iterable[tuple[str, str]]:
        """(term, what it also searches), by the terms' keys, a term never paired with itself."""
        targets = self.inputs if self.outputs is None else self.outputs
        for a in self.inputs:
            for b in targets:
                if key(a) != key(b):
                    yield a, b


@dataclass(frozen=True, slots=True)
class Parsed:
    rules: tuple[Rule, ...]
    term_count: int  # distinct terms in the file (Kendra's TermCount)


def key(term: str) -> str:
    """A term as written, compared: NFKC, lower case, runs of white space as one space."""
    return " ".join(normalize(term).split())


def _shown(line: str) -> str:
    """A line as quoted in an error message: no control characters (ErrorMessage's pattern), short."""
    clean = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in line.strip())
    return clean if len(clean) <= _SHOWN else clean[: _SHOWN - 1] + "…"


def _split(text: str, separator: str) -> list[str]:
    """Solr's split: ``separator`` outside escapes; a backslash keeps the next character (escape and all)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if text.startswith(separator, i):
            parts.append("".join(current))
            current = []
            i += len(separator)
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _terms(side: str, number: int, line: str) -> tuple[str, ...]:
    """The terms of one side of a rule (empty items, as Solr, are skipped)."""
    terms = []
    for item in _split(side, ","):
        term = _unescape(item).strip()
        if not term:
            continue
        if not any(ch.isalnum() for ch in term):
            raise SynonymFileError(f"Line {number}: the term {term!r} has no letter or digit: {_shown(line)}")
        terms.append(term)
    return tuple(dict.fromkeys(terms))


def parse_synonyms(data: bytes, *, max_rules: int = MAX_RULES,
                   max_synonyms: int = MAX_SYNONYMS_PER_TERM) -> Parsed:
    """The rules of a synonym file (UTF-8, a BOM allowed).

    Raises:
        SynonymFileError: not UTF-8, a malformed line, or over a quota; the message names the line.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = data[: error.start].count(b"\n") + 1
        raise SynonymFileError(f"Line {where}: the file is not UTF-8 text") from None
    rules: list[Rule] = []
    terms: set[str] = set()
    synonyms: dict[str, set[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        sides = _split(stripped, _ARROW)
        if len(sides) > 2:
            raise SynonymFileError(f"Line {number}: more than one => on a line: {_shown(line)}")
        inputs = _terms(sides[0], number, line)
        outputs = _terms(sides[1], number, line) if len(sides) == 2 else None
        if outputs is not None and (not inputs or not outputs):
            side = "left" if not inputs else "right"
            raise SynonymFileError(f"Line {number}: no term on the {side} of =>: {_shown(line)}")
        rule = Rule(number, inputs, outputs)
        pairs = list(rule.pairs())
        if not pairs:  # a term mapped only to itself: ignored, not counted
            continue
        terms.update(key(t) for t in (*inputs, *(outputs or ())))
        for a, b in pairs:
            found = synonyms.setdefault(key(a), set())
            found.add(key(b))
            if len(found) > max_synonyms:
                raise SynonymFileError(f"Line {number}: {a!r} has more than {max_synonyms} synonyms"
                                       f" (Kendra's quota a term, all its rules together)")
        rules.append(rule)
        if len(rules) > max_rules:
            raise SynonymFileError(f"Line {number}: more than {max_rules} synonym rules (Kendra's quota)")
    return Parsed(tuple(rules), len(terms))


# -- matching ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """A term as an analyzer sees it."""

    terms: tuple[str, ...]  # one per position: one term, or a phrase
    content: tuple[str, ...]  # those that are content words
    surface: str  # as written, normalised: a hint for excerpts


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another way to say a run of the query's words, which the query also searches."""

    stands_for: tuple[str, ...]  # the query's content terms it stands for
    terms: tuple[str, ...]  # its own terms: one, or a phrase
    content: tuple[str, ...]  # its content terms (what a document holds when it matches)
    surface: str


def positions(analyzer: Analyzer, text: str) -> tuple[str, ...]:
    """The terms of ``text`` one per position, as a query reads it (a compound, not its parts)."""
    out: list[str] = []
    last = -1
    for token in analyzer.tokens(text):
        if token.position != last:
            out.append(token.term)
            last = token.position
    return tuple(out)


class Compiled:
    """Rules as one analyzer sees them: the terms of each matchable side -> the sides it also searches."""

    def __init__(self, rules: Iterable[Rule], analyzer: Analyzer) -> None:
        sides: dict[str, Side | None] = {}

        def side(term: str) -> Side | None:
            if term not in sides:
                words = {w.term: w.content for w in analyzer.query_words(term)}
                found = positions(analyzer, term)
                content = tuple(t for t in found if words.get(t, True))
                sides[term] = Side(found, content, key(term)) if content else None
            return sides[term]

        targets: dict[tuple[str, ...], dict[tuple[str, ...], Side]] = {}
        for rule in rules:
            for a, b in rule.pairs():
                source, target = side(a), side(b)
                if source is None or target is None or source.terms == target.terms:
                    continue  # a stop word on its own, or a variant the analyzer already folds
                targets.setdefault(source.terms, {}).setdefault(target.terms, target)
        self.targets = {k: tuple(v.values()) for k, v in targets.items()}
        self.longest = max((len(k) for k in targets), default=0)

    def __bool__(self) -> bool:
        return bool(self.targets)

    def expand(self, sequence: tuple[str, ...], words: list[QueryWord]) -> list[Alternative]:
        """The alternatives of a query: for each run of adjacent query words that is a rule's term,
        the terms it maps to (those the query does not hold already).

        Args:
            sequence: the query's terms one per position (:func:`positions`).
            words: the query's words (:meth:`Analyzer.query_words`, possibly cut short): only runs of
                them match, and only a run with a content word.
        """
        held = {w.term for w in words}
        content = {w.term for w in words if w.content}
        out: list[Alternative] = []
        for i in range(len(sequence)):
            for j in range(i + 1, min(len(sequence), i + self.longest) + 1):
                run = sequence[i:j]
                found = self.targets.get(run)
                if found is None or not all(t in held for t in run):
                    continue
                stands = tuple(dict.fromkeys(t for t in run if t in content))
                if not stands:
                    continue
                out += [Alternative(stands, s.terms, s.content, s.surface) for s in found
                        if not all(t in held for t in s.terms)]
        return out


def merge(*groups: list[Alternative]) -> list[Alternative]:
    """Alternatives of several rule sets, each once, at most :data:`MAX_ALTERNATIVES`."""
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    out = []
    for group in groups:
        for alt in group:
            if (alt.stands_for, alt.terms) not in seen:
                seen.add((alt.stands_for, alt.terms))
                out.append(alt)
    return out[:MAX_ALTERNATIVES]


@functools.cache
def builtin_variants() -> tuple[Rule, ...]:
    """The built-in Japanese orthographic variants (``variants_ja.txt``, Solr format)."""
    return parse_synonyms(BUILTIN_VARIANTS.read_bytes()).rules
