"""Relevance tuning: the index fields' ``Relevance`` (UpdateIndex) and a Query's
``DocumentRelevanceOverrideConfigurations``, applied to the ranked results above the engine.

Why above the engine: freshness, rank order and value weights are functions of a document's attribute
values, which the neutral query model (services/engine/query.py) cannot express (it has no function
score), and the searchable string fields share one text field (``meta``), so no engine query can tell
which field a word was found in. So the ranked candidates (the first 100, BM25 or hybrid, what Kendra
can show) are re-scored in Python from their stored attributes, the same on both engines. Each rule adds
up to ``STEP`` × its importance × the best score among the candidates (scale-free: BM25 scores and
fused scores alike; a field with importance 10 can lift a document to the top):

- DATE with ``Freshness``: by age, ``0.5 ** (age / Duration)`` (a document ``Duration`` old gets half;
  newer is always better; default Duration: Kendra's three months);
- LONG with ``RankOrder`` or ``Importance``: by value among the candidates, the highest first
  (``ASCENDING``: higher is better, Kendra's wording) or the lowest (``DESCENDING``);
- STRING / STRING_LIST with ``ValueImportanceMap``: by the importance of the document's value (its best
  one), values not in the map at the field's own Importance; importance 1 adds nothing;
- searchable STRING / STRING_LIST with ``Importance`` above 1: by the share of the query's words found in
  that field's value (the title's Importance stays a boost of the BM25 query: services/query/clauses.py).

Only fields whose Relevance differs from their default are tuned, so an index nobody tuned ranks as
before. Overrides replace the Relevance of the fields they name for that query; every other field is
taken at its default (Kendra: "for the fields you did not override, the importance is set to 1").
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernel.errors import ValidationException
from services.engine.analysis import analyzer_for
from services.index.fields import BUILTIN_FIELDS, DATE, LONG, STRING, STRING_LIST

STEP = 0.1  # share of the best score a point of importance is worth
DEFAULT_DURATION = 7_776_000.0  # seconds: Kendra's default of three months
_DEFAULTS = {f["Name"]: f["Relevance"] for f in BUILTIN_FIELDS}
_CUSTOM_DEFAULT: dict[str, Any] = {"Importance": 1}
# In the BM25 query (the title) or about an excerpt, not a document (Kendra: ANSWER results' page).
_NOT_RULES = frozenset({"_document_title", "_excerpt_page_number"})


def default_relevance(name: str) -> dict[str, Any]:
    """A field's Relevance as a new index (or a new custom field) has it."""
    return copy.deepcopy(_DEFAULTS.get(name, _CUSTOM_DEFAULT))


def effective_fields(fields: dict[str, dict[str, Any]],
                     overrides: Sequence[Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The index's fields with the Relevance a query ranks by: the index's, or, with overrides, the
    overrides' for the fields they name (over the field's defaults) and the defaults for the others.

    Raises:
        ValidationException: an override names no field of the index, or one field twice.
    """
    if not overrides:
        return fields
    named: dict[str, Mapping[str, Any]] = {}
    for item in overrides:
        name = item["Name"]
        if name not in fields:
            raise ValidationException(f"DocumentRelevanceOverrideConfigurations: {name} is not a field of this index")
        if name in named:
            raise ValidationException(f"DocumentRelevanceOverrideConfigurations: {name} is given twice")
        named[name] = item["Relevance"]
    out = {}
    for name, spec in fields.items():
        relevance = default_relevance(name)
        if name in named:
            relevance.update(copy.deepcopy(dict(named[name])))
        out[name] = {**spec, "Relevance": relevance}
    return out


@dataclass(frozen=True, slots=True)
class Rule:
    """One tuned field."""

    name: str
    kind: str
    importance: int
    freshness: bool = False
    duration: float = DEFAULT_DURATION
    descending: bool = False
    values: Mapping[str, int] = field(default_factory=dict)
    searchable: bool = False


def rules(fields: Mapping[str, Mapping[str, Any]]) -> list[Rule]:
    """The fields whose Relevance differs from their default and has an effect (see the module)."""
    out = []
    for name, spec in fields.items():
        relevance = spec.get("Relevance") or {}
        if name in _NOT_RULES or relevance == default_relevance(name):
            continue
        kind, importance = spec["Type"], int(relevance.get("Importance", 1))
        if kind == DATE and relevance.get("Freshness"):
            duration = str(relevance.get("Duration") or "").rstrip("s")
            seconds = float(duration) if duration.isdigit() and int(duration) > 0 else DEFAULT_DURATION
            out.append(Rule(name, kind, importance, freshness=True, duration=seconds))
        elif kind == LONG:
            out.append(Rule(name, kind, importance, descending=relevance.get("RankOrder") == "DESCENDING"))
        elif kind in (STRING, STRING_LIST):
            values = dict(relevance.get("ValueImportanceMap") or {})
            searchable = bool(spec.get("Search", {}).get("Searchable")) and importance > 1
            if values or searchable:
                out.append(Rule(name, kind, importance, values=values, searchable=searchable))
    return out


def adjusted(scores: Mapping[str, float], attributes: Mapping[str, Mapping[str, Any]], tuned: Sequence[Rule],
             terms_by_lang: Mapping[str, Sequence[str]], now: float | None = None) -> dict[str, float]:
    """Each candidate's score with the rules' bonuses (document id -> score; ``attributes``: each one's
    stored attribute values; ``terms_by_lang``: the query's content terms, per language)."""
    if not tuned or not scores:
        return dict(scores)
    now = time.time() if now is None else now
    top = max(scores.values())
    scale = top if top > 0 else 1.0
    bonus = dict.fromkeys(scores, 0.0)
    for rule in tuned:
        weight = STEP * rule.importance
        if rule.kind == DATE:
            for doc_id in scores:
                value = attributes.get(doc_id, {}).get(rule.name)
                if isinstance(value, int | float):
                    bonus[doc_id] += weight * 0.5 ** (max(now - float(value), 0.0) / rule.duration)
        elif rule.kind == LONG:
            values = {d: float(v) for d in scores if isinstance(v := attributes.get(d, {}).get(rule.name), int | float)}
            if values:
                lo, hi = min(values.values()), max(values.values())
                for doc_id, value in values.items():
                    share = (value - lo) / (hi - lo) if hi > lo else 0.0
                    bonus[doc_id] += weight * (1.0 - share if rule.descending else share)
        else:
            for doc_id in scores:
                held = attributes.get(doc_id, {})
                value = held.get(rule.name)
                if value is None:
                    continue
                items = [str(v) for v in value] if isinstance(value, list) else [str(value)]
                if rule.values:
                    best = max((rule.values.get(item, rule.importance) for item in items), default=1)
                    bonus[doc_id] += STEP * (best - 1)
                if rule.searchable:
                    lang = str(held.get("_language_code") or "en")
                    bonus[doc_id] += STEP * (rule.importance - 1) * _found_share(items, lang, terms_by_lang)
    return {doc_id: score + scale * bonus[doc_id] for doc_id, score in scores.items()}


def _found_share(values: Sequence[str], lang: str, terms_by_lang: Mapping[str, Sequence[str]]) -> float:
    """The share of the query's terms (in the document's language) that a field's values hold."""
    terms = terms_by_lang.get(lang) or []
    if not terms:
        return 0.0
    analyzer = analyzer_for(lang)
    held = {token.term for value in values for token in analyzer.tokens(value)}
    return sum(1 for t in terms if t in held) / len(terms)
