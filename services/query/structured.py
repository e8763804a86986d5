"""The advanced syntax's tree (services/query/syntax.py) as one neutral query, per language searched.

Each language gets the whole tree compiled with its own analyzer, behind its language filter, as a
plain query's words are. Leaves:

- plain words: a plain query's clauses (services/query/clauses.py: content words find, function words
  and adjacent pairs score, synonyms of the thesaurus join);
- a quoted phrase: its terms one per position as documents are analysed (a Japanese compound is one
  term, not its parts: "東京都" is the term 東京都, which 京都's documents never hold), a ``Phrase`` of
  them; one term is that term;
- a wildcard: the index's own terms that begin with it (``Reader.terms_with_prefix``, over the body and
  searchable fields, or the field named), the :data:`MAX_EXPANSIONS` most frequent, and the word's own
  term; none: it matches nothing;
- ``field:value`` and ranges: filters on the attribute (they select, and add no score).

``AND`` is ``must``, ``OR`` and words side by side ``should`` (one at least), ``NOT`` ``must_not``.
Besides the query, the compilation says which terms a result is judged by (ScoreConfidence: the
positive terms; those under an OR or side by side count only where found) and which are highlighted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.engine.analysis import QueryWord, analyzer_for, normalize
from services.engine.base import Reader
from services.engine.query import (
    Attribute,
    Bool,
    MatchAll,
    MatchNone,
    NoScore,
    Query,
    Range,
    Term,
    TextField,
    any_of,
)
from services.query.clauses import MAX_QUERY_TERMS, Clauses
from services.query.filters import LANGUAGE_KEY
from services.query.synonyms import Alternative, positions
from services.query.syntax import And, FieldRange, FieldValue, Node, Not, Or, Quoted, Seq, Wildcard, Words

MAX_EXPANSIONS = 50  # index terms one wildcard searches: the most frequent of those it matches
MAX_PREFIX_SCAN = 1000  # index terms of a wildcard looked at (the first in dictionary order)

SynonymsOf = Callable[[str, dict[str, list[QueryWord]]], dict[str, list[Alternative]]]
"""A text's synonyms per language, given its words per language (the thesauri; none: ``{}``)."""


@dataclass(slots=True)
class Structured:
    """A compiled query and what its results are judged and highlighted by, per language."""

    query: Query | None  # None: nothing to search (only function words)
    terms: dict[str, list[str]] = field(default_factory=dict)  # judged: the positive content terms
    optional: dict[str, set[str]] = field(default_factory=dict)  # of those, the ones counted where found
    highlights: dict[str, list[str]] = field(default_factory=dict)  # with every wildcard expansion
    alternatives: dict[str, list[Alternative]] = field(default_factory=dict)  # synonyms of its words
    expansions: dict[str, dict[str, list[tuple[str, ...]]]] = field(default_factory=dict)  # wildcards
    words: list[str] = field(default_factory=list)  # its positive words as written

    @property
    def scored(self) -> bool:
        """Whether it has words to judge results by (a query of fields only has none)."""
        return any(self.terms.values())

    @property
    def text(self) -> str:
        """Its positive words, as written (excerpts are cut around them; FAQs are matched to them)."""
        return " ".join(self.words)


class _Compiler:
    def __init__(self, clauses: Clauses, reader: Reader | None, synonyms: SynonymsOf) -> None:
        self.clauses = clauses
        self.reader = reader
        self.synonyms = synonyms
        self.out = Structured(None)
        self._expanded: dict[tuple[str, str | None], list[tuple[str, int]]] = {}

    # -- what results are judged by ---------------------------------------------------------------

    def judged(self, lang: str, terms: Sequence[str], optional: bool, recorded: bool) -> None:
        if not recorded:
            return
        mine = self.out.terms.setdefault(lang, [])
        for term in terms:
            if term not in mine:
                mine.append(term)
            if optional:
                self.out.optional.setdefault(lang, set()).add(term)
        self.highlighted(lang, terms)

    def highlighted(self, lang: str, terms: Sequence[str]) -> None:
        mine = self.out.highlights.setdefault(lang, [])
        mine.extend(t for t in terms if t not in mine)

    def written(self, text: str, recorded: bool) -> None:
        if recorded and text not in self.out.words:
            self.out.words.append(text)

    # -- the tree ---------------------------------------------------------------------------------

    def node(self, n: Node, lang: str, optional: bool, recorded: bool) -> Query | None:
        """``n``'s query in ``lang`` (None: no condition, only function words); ``recorded``: its terms
        are positive (not under a NOT) and judge results."""
        if isinstance(n, Words):
            return self.words(n, lang, optional, recorded)
        if isinstance(n, Quoted):
            return self.quoted(n, lang, optional, recorded)
        if isinstance(n, Wildcard):
            return self.wildcard(n, lang, optional, recorded)
        if isinstance(n, FieldValue):
            return NoScore(Term(Attribute(n.name), n.value))
        if isinstance(n, FieldRange):
            return NoScore(Range(Attribute(n.name), n.lower, n.upper, n.include_lower, n.include_upper))
        if isinstance(n, Not):
            inner = self.node(n.item, lang, optional, False)
            return None if inner is None else Bool(must=(NoScore(MatchAll()),), must_not=(inner,))
        if isinstance(n, Or):
            found = [q for item in n.items if (q := self.node(item, lang, True, recorded)) is not None]
            return None if not found else found[0] if len(found) == 1 else Bool(should=tuple(found))
        # And, Seq: the negated items are taken out of the positive ones (a NOT beside words, or after AND)
        side_by_side = isinstance(n, Seq) and len(n.items) > 1
        positive, negative = [], []
        for item in n.items:
            if isinstance(item, Not):
                if (q := self.node(item.item, lang, optional, False)) is not None:
                    negative.append(q)
            elif (q := self.node(item, lang, optional or side_by_side, recorded)) is not None:
                positive.append(q)
        if not positive and not negative:
            return None
        if isinstance(n, And):
            return Bool(must=tuple(positive) or (NoScore(MatchAll()),), must_not=tuple(negative))
        core = positive[0] if len(positive) == 1 else Bool(should=tuple(positive)) if positive else NoScore(MatchAll())
        return Bool(must=(core,), must_not=tuple(negative)) if negative else core

    def words(self, n: Words, lang: str, optional: bool, recorded: bool) -> Query | None:
        words = analyzer_for(lang).query_words(n.text)[:MAX_QUERY_TERMS]
        alternatives: list[Alternative] = []
        if n.field is None and recorded:
            alternatives = self.synonyms(n.text, {lang: words}).get(lang, [])
            found = self.out.alternatives.setdefault(lang, [])
            found.extend(a for a in alternatives if a not in found)
        content, extra = self.clauses.words(words, alternatives, _text_field(n.field))
        if not content:
            return None
        self.judged(lang, [w.term for w in words if w.content], optional, recorded)
        self.written(n.text, recorded)
        return Bool(must=(any_of(content),), should=tuple(extra))

    def quoted(self, n: Quoted, lang: str, optional: bool, recorded: bool) -> Query | None:
        analyzer = analyzer_for(lang)
        terms = positions(analyzer, n.text)[:MAX_QUERY_TERMS]
        if not terms:
            return None
        content = {w.term for w in analyzer.query_words(n.text) if w.content}
        self.judged(lang, [t for t in terms if t in content], optional, recorded)
        if recorded:
            self.highlighted(lang, list(terms))
        self.written(n.text, recorded)
        target = _text_field(n.field)
        clauses = self.clauses.scored(terms[0], target) if len(terms) == 1 else self.clauses.phrase(terms, target)
        return any_of(clauses)

    def wildcard(self, n: Wildcard, lang: str, optional: bool, recorded: bool) -> Query:
        target = _text_field(n.field)
        expansions = self.expand(n, lang, target)
        if not expansions:
            return MatchNone()
        if recorded:  # judged by its most frequent expansion; the others count as that one found
            first, *others = expansions
            self.judged(lang, [first], optional, True)
            by_term = self.out.expansions.setdefault(lang, {})
            by_term.setdefault(first, []).extend((t,) for t in others)
            self.highlighted(lang, expansions)
            self.written(n.word, True)
        return any_of([q for term in expansions for q in self.clauses.scored(term, target)])

    def expand(self, n: Wildcard, lang: str, target: TextField | None) -> list[str]:
        """The terms a wildcard searches in ``lang``: the index's terms beginning with it, the most
        frequent first, and the word's own term (a stemmed index holds "cloud" for "clouds*")."""
        if self.reader is None:
            return []
        key = (n.prefix, target)
        if key not in self._expanded:
            prefix = normalize(n.prefix)
            counts: dict[str, int] = {}
            for name in (target,) if target is not None else ("body", "meta"):
                for term, count in self.reader.terms_with_prefix(name, prefix, MAX_PREFIX_SCAN):
                    counts[term] = max(counts.get(term, 0), count)
            self._expanded[key] = sorted(counts.items(), key=lambda tc: (-tc[1], tc[0]))[:MAX_EXPANSIONS]
        found = [term for term, _ in self._expanded[key]]
        for term in analyzer_for(lang).query_terms(n.word)[-1:]:
            if term not in found and self.reader.doc_freq(target or "body", term) > 0:
                found.append(term)
        return found


def _text_field(name: str | None) -> TextField | None:
    if name is None:
        return None
    if name not in ("title", "body"):
        raise ValueError(f"not a text field: {name}")
    return "title" if name == "title" else "body"


def compile_tree(tree: Node, languages: Sequence[str], clauses: Clauses, reader: Reader | None,
                 synonyms: SynonymsOf) -> Structured:
    """The query of a parsed QueryText in each of ``languages``, and what it is judged by."""
    compiler = _Compiler(clauses, reader, synonyms)
    per_lang = []
    for lang in languages:
        query = compiler.node(tree, lang, False, True)
        if query is not None:
            per_lang.append(Bool(must=(NoScore(Term(Attribute(LANGUAGE_KEY), lang)), query)))
    compiler.out.query = any_of(per_lang) if per_lang else None
    return compiler.out
