"""The query service: Kendra's Query for keyword search (BM25 on title, body and searchable fields)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kernel.errors import ValidationException
from kernel.language import script_language
from services.engine.analysis import QueryWord, analyzer_for, normalize
from services.engine.base import Bucket, DocRef, Facet, Hit, Reader, SortKey
from services.engine.query import Attribute, Bool, NoScore, Query, Term, all_of, any_of
from services.index.fields import DATE, STRING, STRING_LIST, displayed_attributes, displayed_uri, wire_value
from services.index.service import IndexService
from services.query import collapse as collapsing
from services.query import hybrid, tuning
from services.query.answers import answer_items
from services.query.clauses import MAX_QUERY_TERMS, Clauses, title_boost
from services.query.confidence import CALIBRATION, Calibration, Evidence, calibration, foreign_terms, gather
from services.query.excerpts import NO_SYNONYMS, Synonyms, excerpt, highlight, shown
from services.query.featured import FeaturedResults
from services.query.filters import (
    LANGUAGE_KEY,
    Principals,
    acl_query,
    asker,
    compile_filter,
    languages,
)
from services.query.hybrid import Ranked
from services.query.spelling import SpellChecker, term_frequency
from services.query.structured import Structured, SynonymsOf, compile_tree
from services.query.synonyms import Alternative
from services.query.syntax import Parsed, parse, warnings_for

MAX_REACHABLE = 100          # Kendra returns only the first 100 results of a query
DEFAULT_PAGE_SIZE = 10
MAX_QUERY_CHARS = 1000       # Kendra's quota; a longer text would be analysed and embedded whole
DEFAULT_FACET_VALUES = 10
MAX_SORT_KEYS = 3
DEFAULT_LANGUAGE = "en"
EXCERPT_CHARS = {"ja": 160, "zh": 160, "ko": 160}
DEFAULT_EXCERPT_CHARS = 300


def check_query_text(text: str) -> None:
    """Refuse a QueryText longer than Kendra's 1,000-character quota (the model sets no maximum)."""
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationException(
            f"QueryText is {len(text)} characters long; at most {MAX_QUERY_CHARS} are allowed"
        )


@dataclass(slots=True)
class _Hit:
    score: float
    ref: DocRef
    doc_id: str = ""  # read from the engine only for the hits that need it


class QueryRecorder(Protocol):
    """Where answered queries are reported (the analytics service); must not raise or block."""

    def record_query(self, request: dict[str, Any], response: dict[str, Any], *, languages: list[str],
                     first_rank: int, latency_ms: float) -> None: ...


class Reranker(Protocol):
    """Reorders a query's matches (learning from clicks: analytics/learning.py)."""

    def rerank(self, index_id: str, text: str, reader: Reader, query: Query, hits: list[Hit]) -> list[Hit]: ...

    def multipliers(self, index_id: str, text: str) -> Mapping[str, float]: ...


class FaqMatcher(Protocol):
    """QUESTION_ANSWER results for a query (the FAQ service)."""

    def match(self, index_id: str, text: str, languages: list[str], principals: Principals,
              query_id: str, requested: list[str] | None = None,
              attribute_filter: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


class SynonymSource(Protocol):
    """What a query also searches through synonym rules (the thesauri service)."""

    def alternatives(self, index_id: str, text: str,
                     words_by_lang: dict[str, list[QueryWord]]) -> dict[str, list[Alternative]]: ...


@dataclass(frozen=True, slots=True)
class Searched:
    """What a QueryText searches (services/query/service.py ``QueryService.searched``)."""

    query: Query | None  # the text's BM25 query (None: no text)
    terms: dict[str, list[str]]  # per language, the terms results are highlighted by
    alternatives: dict[str, list[Alternative]]  # per language, the synonyms it also searches
    text: str  # its words as written, operators left out (excerpts, FAQ matching)
    structured: Structured | None = None  # its advanced syntax, compiled
    problem: str | None = None  # its broken syntax (searched as plain words)
    nothing: bool = False  # only function words: nothing to find


@dataclass(frozen=True, slots=True)
class Scope:
    """What a Query or Retrieve request may see, from its AttributeFilter and UserContext."""

    restrictions: list[Query]  # filter, language and ACL, as engine queries
    languages: list[str]  # searched: those the filter names, else Kendra's English default
    asked: list[str]  # those the filter names (none: no query is cross-language)
    principals: Principals
    user_filter: dict[str, Any] | None  # the AttributeFilter without its user-context part


class QueryService:
    """Answers Query; a reader of the lexical indexes the index service writes."""

    def __init__(self, indexes: IndexService, recorder: QueryRecorder | None = None,
                 faqs: FaqMatcher | None = None, reranker: Reranker | None = None,
                 spelling: SpellChecker | None = None, featured: FeaturedResults | None = None,
                 synonyms: SynonymSource | None = None) -> None:
        self.indexes = indexes
        self.featured = featured
        self.synonyms = synonyms
        self.recorder = recorder
        self.faqs = faqs
        self.reranker = reranker
        self.spelling = spelling or SpellChecker(indexes.store, indexes.settings.spelling_refresh_seconds)
        self.mode = indexes.settings.search_mode

    def query(self, p: dict[str, Any]) -> dict[str, Any]:
        """Kendra's Query; each answered query is reported to the recorder after its response is built."""
        started = time.perf_counter()
        response, languages, first_rank = self._query(p)
        if self.recorder is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            self.recorder.record_query(p, response, languages=languages, first_rank=first_rank,
                                       latency_ms=latency_ms)
        return response

    def _query(self, p: dict[str, Any]) -> tuple[dict[str, Any], list[str], int]:
        """The response, the languages searched and the 1-based rank of the page's first item."""
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        fields = self.indexes.fields(index_id)
        config = self.indexes.config(index_id)
        reader = self.indexes.lexical(index_id).reader()

        text = (p.get("QueryText") or "").strip()
        check_query_text(text)
        sort_keys = self._sort_keys(p, fields)
        facets = self._facets(p.get("Facets", []), fields)
        if not text and not ((p.get("AttributeFilter") or facets) and sort_keys):
            raise ValidationException(
                "QueryText is required, unless the query browses the index with an AttributeFilter or Facets"
                " and a SortingConfiguration"
            )
        collapse = collapsing.checked(p.get("CollapseConfiguration"), fields)
        page_size = min(max(p.get("PageSize", DEFAULT_PAGE_SIZE), 1), MAX_REACHABLE)
        page_number = p.get("PageNumber", 1)
        if page_number < 1:
            raise ValidationException("PageNumber must be 1 or more")

        scope = self.scope(p, fields, config)
        restrictions, query_langs = scope.restrictions, scope.languages
        words_by_lang = query_words(text, query_langs)
        ranking = tuning.effective_fields(fields, p.get("DocumentRelevanceOverrideConfigurations"))
        searched = self.searched(index_id, text, ranking, words_by_lang, reader)
        warnings = warnings_for(searched.problem)
        if searched.nothing:  # only particles or stop words: nothing to find
            return {"QueryId": str(uuid.uuid4()), "ResultItems": [], "FacetResults": [],
                    "TotalNumberOfResults": 0, **({"Warnings": warnings} if warnings else {})}, query_langs, 1
        structured, alternatives, terms_by_lang = searched.structured, searched.alternatives, searched.terms
        text_query = searched.query
        query = all_of([*(NoScore(r) for r in restrictions), *([text_query] if text_query is not None else [])])

        type_filter = p.get("QueryResultTypeFilter")
        query_id = str(uuid.uuid4())
        response: dict[str, Any] = {"QueryId": query_id, "ResultItems": [], "FacetResults": []}
        window_end = min(page_number * page_size, MAX_REACHABLE)
        window_start = (page_number - 1) * page_size
        ranked = None
        if sort_keys:  # collapsed: groups are made of every reachable result
            result = reader.search(query, MAX_REACHABLE if collapse else window_end, sort_keys)
            hits, total = [_Hit(h.score, h.ref) for h in result.hits], result.total
        elif text and structured is None and (ranked := self._ranked(index_id, reader, restrictions, text_query,
                                                                      text, scope.asked)) is not None:
            hits = [_Hit(c.score, c.ref, c.doc_id) for c in ranked.candidates if c.ref is not None]
            total = ranked.total
        else:
            # With words to match, every reachable match is judged: if none is above the noise floor, none is shown.
            result = reader.search(query, limit=max(MAX_REACHABLE if text or collapse else window_end, 1))
            found = result.hits
            if self.reranker is not None and text:
                found = self.reranker.rerank(index_id, text, reader, query, found)
            hits = [_Hit(h.score, h.ref) for h in found]
            total = result.total
        if not sort_keys and (tuned := tuning.rules(ranking)):
            hits = self._tuned(index_id, reader, hits, tuned,
                               structured.terms if structured is not None else searched.terms)
        grouped: list[collapsing.Group] = []
        if collapse is not None:
            hits, grouped = self._collapsed(index_id, reader, hits, collapse)
            total = len(hits)
        evidence: dict[str, Evidence] = {}
        if structured is not None:  # exact conditions: every match stands; judged by its positive words
            evidence = self.structured_evidence(reader, hits[:window_end], structured) if structured.scored else {}
        elif text:  # the results up to this page are judged; the rest only while none is above the noise floor
            evidence = self.evidence(reader, hits[:window_end], text, scope.asked, words_by_lang, ranked,
                                     alternatives)
            judge = self.calibration(ranked is not None)
            if not sort_keys and not any(judge.found(e) for e in evidence.values()):
                rest = self.evidence(reader, hits[window_end:], text, scope.asked, words_by_lang, ranked,
                                     alternatives)
                if not any(judge.found(e) for e in rest.values()):  # only noise: nothing found
                    total, hits = 0, []
        page = hits[window_start:window_end] if window_start < window_end else []
        unread = [hit for hit in page if not hit.doc_id]
        for hit, stored in zip(unread, reader.stored([hit.ref for hit in unread]), strict=True):
            hit.doc_id = stored.doc_id
        items: list[dict[str, Any]] = []
        if searched.text and page_number == 1 and type_filter in (None, "QUESTION_ANSWER") and self.faqs is not None:
            items += self.faqs.match(index_id, searched.text, query_langs, scope.principals, query_id,
                                     p.get("RequestedDocumentAttributes"), scope.user_filter)
        if ranked is not None and hits and page_number == 1 and type_filter in (None, "ANSWER"):
            judge = self.calibration(True)
            best = evidence.get(hits[0].doc_id)
            items += answer_items(self.indexes, index_id, ranked, hits[0].doc_id, text, terms_by_lang, fields,
                                  p.get("RequestedDocumentAttributes"), query_id, displayed_attributes,
                                  judge.bucket(best) if best else "NOT_AVAILABLE", judge.related_cosine)
        if type_filter in (None, "DOCUMENT"):
            response["TotalNumberOfResults"] = total
            items += self._items(
                index_id, page, fields, terms_by_lang, searched.text, p.get("RequestedDocumentAttributes"),
                query_id, ranked, evidence, alternatives,
            )
            if collapse is not None:
                self._collapse_details(index_id, items, grouped, collapse, fields, terms_by_lang, searched,
                                       p.get("RequestedDocumentAttributes"), query_id, ranked, alternatives)
        else:
            response["TotalNumberOfResults"] = len(items)
        response["ResultItems"] = items
        if text and page_number == 1 and self.featured is not None:
            response["FeaturedResultsItems"] = self.featured.match(
                index_id, text, scope.principals, query_id, fields, p.get("RequestedDocumentAttributes"))
        if warnings:
            response["Warnings"] = warnings
        if text and (p.get("SpellCorrectionConfiguration") or {}).get("IncludeQuerySpellCheckSuggestions"):
            def count(other: str) -> int:
                words = query_words(other, query_langs)
                found = self.text_query(fields, words, self.alternatives(index_id, other, words))
                return reader.count(all_of([NoScore(r) for r in restrictions] + [found]))
            # Words come only from documents this asker may see; and spelling is about words: compare
            # with the original's word matches, not its hybrid total.
            visible = acl_query(scope.principals) if scope.principals.present else None
            response["SpellCorrectedQueries"] = self.spelling.corrections(
                index_id, text, query_langs, term_frequency(reader, visible), count,
                total if ranked is None else count(text))
        if facets:
            response["FacetResults"] = self._facet_results(reader, query, facets, fields)
        return response, query_langs, window_start + 1

    def searched(self, index_id: str, text: str, fields: dict[str, dict[str, Any]],
                 words_by_lang: dict[str, list[QueryWord]], reader: Reader) -> Searched:
        """What a QueryText searches (:func:`searched`), with the index's synonyms."""
        return searched(text, fields, words_by_lang, reader,
                        lambda part, words: self.alternatives(index_id, part, words))

    def scope(self, p: dict[str, Any], fields: dict[str, dict[str, Any]], config: dict[str, Any]) -> Scope:
        """The AttributeFilter, language and user-context restrictions of a Query or Retrieve request
        (the user's groups include those the index's principal mappings give them)."""
        index_id = p["IndexId"]
        user_filter, principals = asker(index_id, p.get("UserContext"), p.get("AttributeFilter"), config,
                                        self.indexes.expand_principals, self.indexes.acl_levels(index_id))
        named = languages(user_filter)
        asked = sorted(named or [])
        restrictions: list[Query] = []
        if user_filter is not None:
            restrictions.append(compile_filter(user_filter, fields))
        if named is None:  # Kendra: without a language filter, only English documents are searched
            restrictions.append(Term(Attribute(LANGUAGE_KEY), DEFAULT_LANGUAGE))
        if principals.present:
            restrictions.append(acl_query(principals))
        return Scope(restrictions, asked or [DEFAULT_LANGUAGE], asked, principals, user_filter)

    def alternatives(self, index_id: str, text: str,
                     words_by_lang: dict[str, list[QueryWord]]) -> dict[str, list[Alternative]]:
        """What the query also searches through synonyms, per language (none without a synonym source)."""
        if not text or self.synonyms is None:
            return {}
        return self.synonyms.alternatives(index_id, text, words_by_lang)

    def evidence(self, reader: Reader, hits: list[_Hit], text: str, asked: list[str],
                 words_by_lang: dict[str, list[QueryWord]], ranked: Ranked | None,
                 alternatives: Mapping[str, list[Alternative]] | None = None) -> dict[str, Evidence]:
        """What is known about each result, for its ScoreConfidence (fills in the hits' document ids). A
        synonym found counts for the query words it stands for."""
        terms_by_lang, foreign = content_terms(words_by_lang), foreign_terms(words_by_lang)
        synonyms = stands_for(alternatives or {})
        docs = self._languages(reader, hits)
        if ranked is None:  # BM25 alone: the scores are raw BM25
            form = hybrid.query_form(text, asked)
            return gather(reader, docs, terms_by_lang, {h.doc_id: h.score for h in hits}, {},
                          question=form == "question", cross_language=form == "cross-language", foreign=foreign,
                          alternatives=synonyms)
        by_id = {c.doc_id: c for c in ranked.candidates}
        return gather(reader, docs, terms_by_lang,
                      {d: c.lexical for d, c in by_id.items()}, {d: c.dense for d, c in by_id.items()},
                      ranked.agreeing, ranked.form == "question" or ranked.natural,
                      ranked.form == "cross-language", foreign, synonyms)

    def _tuned(self, index_id: str, reader: Reader, hits: list[_Hit], tuned: list[tuning.Rule],
               terms_by_lang: Mapping[str, list[str]]) -> list[_Hit]:
        """The hits in the order of their scores adjusted by the relevance tuning (services/query/tuning.py);
        their own scores stay as ranked (ScoreConfidence judges the match, not the tuning)."""
        unread = [hit for hit in hits if not hit.doc_id]
        for hit, stored in zip(unread, reader.stored([hit.ref for hit in unread]), strict=True):
            hit.doc_id = stored.doc_id
        attributes = self.indexes.store.attributes(index_id, [hit.doc_id for hit in hits])
        scores = tuning.adjusted({hit.doc_id: hit.score for hit in hits}, attributes, tuned, terms_by_lang)
        return sorted(hits, key=lambda hit: -scores[hit.doc_id])

    def _collapsed(self, index_id: str, reader: Reader, hits: list[_Hit],
                   collapse: collapsing.Collapse) -> tuple[list[_Hit], list[collapsing.Group]]:
        """The hits grouped by the collapse attribute: one hit (its primary) per group, and the groups."""
        unread = [hit for hit in hits if not hit.doc_id]
        for hit, stored in zip(unread, reader.stored([hit.ref for hit in unread]), strict=True):
            hit.doc_id = stored.doc_id
        attributes = self.indexes.store.attributes(index_id, [hit.doc_id for hit in hits])
        groups = collapsing.groups([hit.doc_id for hit in hits], attributes, collapse)
        by_id = {hit.doc_id: hit for hit in hits}
        return [by_id[g.primary] for g in groups], groups

    def _collapse_details(self, index_id: str, items: list[dict[str, Any]], groups: list[collapsing.Group],
                          collapse: collapsing.Collapse, fields: dict[str, dict[str, Any]],
                          terms_by_lang: dict[str, list[str]], searched: Searched, requested: list[str] | None,
                          query_id: str, ranked: Ranked | None, alternatives: dict[str, list[Alternative]]) -> None:
        """Each collapsed result's CollapsedResultDetail: the group's value and, expanded, its other documents."""
        order = {g.primary: (n, g) for n, g in enumerate(groups)}
        limit = collapse.groups_expanded if collapse.groups_expanded is not None else len(groups)
        shown = [(item, *order[item["DocumentId"]]) for item in items
                 if item.get("Type") == "DOCUMENT" and item.get("DocumentId") in order]
        expanded: dict[str, list[str]] = {}
        if collapse.expand:
            for _, n, group in shown:
                if n < limit and group.collapsed:
                    expanded[group.primary] = group.others[:collapse.per_group]
        members = [_Hit(0.0, None, doc_id) for ids in expanded.values() for doc_id in ids]
        rendered = {item["DocumentId"]: item for item in self._items(
            index_id, members, fields, terms_by_lang, searched.text, requested, query_id, ranked, {}, alternatives)}
        kind = fields[collapse.key]["Type"]
        for item, _, group in shown:
            if not group.collapsed:
                continue
            value = {} if group.value is None else wire_value(kind, group.value)
            others = [collapsing.expanded_item(rendered[d]) for d in expanded.get(group.primary, []) if d in rendered]
            item["CollapsedResultDetail"] = collapsing.detail(collapse.key, value,
                                                              others if group.primary in expanded else None)

    def structured_evidence(self, reader: Reader, hits: list[_Hit], structured: Structured) -> dict[str, Evidence]:
        """ScoreConfidence's evidence for the results of a query in the advanced syntax (BM25 alone): its
        positive terms, those under an OR or side by side counted only where found, a wildcard by its most
        frequent expansion (any of them found stands for it)."""
        synonyms = stands_for(structured.alternatives)
        for lang, expansions in structured.expansions.items():
            for term, others in expansions.items():
                synonyms.setdefault(lang, {}).setdefault(term, []).extend(others)
        optional = {lang: frozenset(terms) for lang, terms in structured.optional.items()}
        return gather(reader, self._languages(reader, hits), structured.terms, {h.doc_id: h.score for h in hits}, {},
                      foreign=optional, alternatives=synonyms)

    @staticmethod
    def _languages(reader: Reader, hits: list[_Hit]) -> dict[str, tuple[DocRef, str]]:
        """Document id -> its ref and language, for the hits (fills in their document ids)."""
        docs: dict[str, tuple[DocRef, str]] = {}
        for hit, stored in zip(hits, reader.stored([hit.ref for hit in hits], [LANGUAGE_KEY]), strict=True):
            hit.doc_id = hit.doc_id or stored.doc_id
            docs[hit.doc_id] = hit.ref, str(stored.attributes.get(LANGUAGE_KEY) or DEFAULT_LANGUAGE)
        return docs

    def calibration(self, vectors: bool) -> Calibration:
        """How results are judged: by the embedding model's calibration when ranked with vectors."""
        embedder = self.indexes.vectors.embedder
        path = self.indexes.settings.confidence_calibration or CALIBRATION
        if not vectors or embedder is None:
            return calibration(None, path=path)
        return calibration(embedder.name, embedder.min_similarity, path)

    def bucket(self, evidence: Evidence | None, vectors: bool) -> str:
        """The calibrated ScoreConfidence of a result with this evidence (``vectors``: ranked with them)."""
        return "NOT_AVAILABLE" if evidence is None else self.calibration(vectors).bucket(evidence)

    def _ranked(self, index_id: str, reader: Reader, restrictions: list[Query], text_query: Query | None,
                text: str, langs: list[str]) -> Ranked | None:
        """Dense or hybrid ranking when the mode asks for it and the index has vectors (else None: BM25)."""
        embedder, vectors = self.indexes.vectors.embedder, self.indexes.vectors.get(index_id)
        if self.mode == "lexical" or embedder is None or vectors is None or len(vectors) == 0:
            return None
        learned = self.reranker.multipliers(index_id, text) if self.reranker is not None else {}
        return hybrid.rank(self.mode, reader, restrictions, text_query, text, langs, embedder,
                           vectors, MAX_REACHABLE, self.indexes.settings.hybrid_fusion, learned,
                           self.rescoring(index_id), self.calibration(True).related_cosine,
                           self.indexes.engine.reads)

    def rescoring(self, index_id: str) -> hybrid.Rescoring | None:
        """The re-scoring model and its vectors of this index, when one is configured."""
        stores, settings = self.indexes.vectors, self.indexes.settings
        vectors = stores.rescore(index_id)
        if stores.rescorer is None or vectors is None:
            return None
        return hybrid.Rescoring(stores.rescorer, vectors, settings.rescore_top, settings.rescore_share)

    # -- query construction -----------------------------------------------------------------------

    def text_query(self, fields: dict[str, dict[str, Any]], words_by_lang: dict[str, list[QueryWord]],
                   alternatives: Mapping[str, list[Alternative]] | None = None, reader: Reader | None = None) -> Query:
        """A plain query's BM25 query (:func:`text_query`)."""
        return text_query(fields, words_by_lang, alternatives, reader)

    # -- sorting ----------------------------------------------------------------------------------

    def _sort_keys(self, p: dict[str, Any], fields: dict[str, dict[str, Any]]) -> list[SortKey]:
        if "SortingConfiguration" in p and "SortingConfigurations" in p:
            raise ValidationException("Use either SortingConfiguration or SortingConfigurations, not both")
        configs = p.get("SortingConfigurations") or ([p["SortingConfiguration"]] if "SortingConfiguration" in p else [])
        if len(configs) > MAX_SORT_KEYS:
            raise ValidationException(f"At most {MAX_SORT_KEYS} SortingConfigurations")
        keys = []
        for c in configs:
            name = c["DocumentAttributeKey"]
            if name == "_score":  # Kendra's name for relevance order
                continue
            f = fields.get(name)
            if f is None:
                raise ValidationException(f"Cannot sort on {name}: it is not a field of this index")
            if f["Type"] == STRING_LIST or not f["Search"].get("Sortable"):
                raise ValidationException(f"Cannot sort on {name}: the field is not sortable")
            keys.append(SortKey(name, c["SortOrder"] == "DESC"))
        return keys

    # -- facets -----------------------------------------------------------------------------------

    def _facets(self, facets: list[dict[str, Any]], fields: dict[str, dict[str, Any]]) -> list[Facet]:
        def check(facet: dict[str, Any], nested: bool) -> Facet:
            name = facet.get("DocumentAttributeKey")
            if not name:
                raise ValidationException("A Facet needs a DocumentAttributeKey")
            f = fields.get(name)
            if f is None or not f["Search"].get("Facetable"):
                raise ValidationException(f"Cannot facet on {name}: it is not a facetable field of this index")
            children = facet.get("Facets", [])
            if children and nested:
                raise ValidationException("Facets can be nested only one level deep")
            if len(children) > 1:
                raise ValidationException("A Facet can have only one nested Facet")
            size = facet.get("MaxResults") or DEFAULT_FACET_VALUES
            return Facet(name, size, check(children[0], True) if children else None)

        return [check(f, False) for f in facets]

    def _facet_results(self, reader: Reader, query: Query, facets: list[Facet],
                       fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        def render(facet: Facet, buckets: list[Bucket]) -> dict[str, Any]:
            kind = fields[facet.name]["Type"]
            value_kind = STRING if kind == STRING_LIST else kind
            pairs = []
            for bucket in buckets:
                value = int(bucket.value) / 1_000_000 if kind == DATE else bucket.value
                pair: dict[str, Any] = {"DocumentAttributeValue": wire_value(value_kind, value),
                                        "Count": bucket.count}
                if facet.nested is not None:
                    pair["FacetResults"] = [render(facet.nested, bucket.nested)]
                pairs.append(pair)
            return {"DocumentAttributeKey": facet.name, "DocumentAttributeValueType": kind,
                    "DocumentAttributeValueCountPairs": pairs}

        return [render(f, buckets) for f, buckets in zip(facets, reader.facets(query, facets), strict=True)]

    # -- result items -----------------------------------------------------------------------------

    def _items(self, index_id: str, page: list[_Hit],
               fields: dict[str, dict[str, Any]], terms_by_lang: dict[str, list[str]], text: str,
               requested: list[str] | None, query_id: str, ranked: Ranked | None,
               evidence: dict[str, Evidence],
               alternatives: Mapping[str, list[Alternative]] | None = None) -> list[dict[str, Any]]:
        # A question or phrase: the excerpt comes from the passage nearest the query (keywords: their words).
        nearest = ranked.passages if ranked is not None and ranked.natural else {}
        stored = self.indexes.store.documents(index_id, [h.doc_id for h in page])
        per_lang: dict[str, tuple[frozenset[str], list[str], Synonyms]] = {}

        def query_view(lang: str) -> tuple[frozenset[str], list[str], Synonyms]:
            """The query's terms in ``lang``, the normalised surfaces that locate them cheaply, and its synonyms."""
            if lang not in per_lang:
                terms = terms_by_lang.get(lang) or analyzer_for(lang).query_terms(text)[:MAX_QUERY_TERMS]
                surfaces = {normalize(text[t.start:t.end]) for t in analyzer_for(lang).tokens(text)}
                alts = (alternatives or {}).get(lang, [])
                synonyms = Synonyms(frozenset(a.terms[0] for a in alts if len(a.terms) == 1),
                                    tuple(dict.fromkeys(a.terms for a in alts if len(a.terms) > 1)))
                hints = sorted(surfaces | set(terms) | {a.surface for a in alts})
                per_lang[lang] = frozenset(terms), hints, synonyms
            return per_lang[lang]

        items = []
        for hit in page:
            doc = stored.get(hit.doc_id)
            if doc is None:  # deleted between search and render
                continue
            lang = str(doc.attributes.get(LANGUAGE_KEY) or DEFAULT_LANGUAGE)
            analyzer = analyzer_for(lang)
            term_set, hints, synonyms = query_view(lang) if text else (frozenset(), [], NO_SYNONYMS)
            size = EXCERPT_CHARS.get(lang, DEFAULT_EXCERPT_CHARS)
            passage = nearest.get(hit.doc_id)
            source = passage.text_in(doc.body) if passage is not None else doc.body
            title, body = highlight(
                [shown(doc.title or ""), excerpt(source, hints, size)], analyzer, term_set, synonyms
            )
            bucket = self.bucket(evidence.get(hit.doc_id), ranked is not None)
            item: dict[str, Any] = {
                "Id": f"{query_id}-{uuid.uuid4()}"[:73],
                "Type": "DOCUMENT",
                "Format": "TEXT",
                "AdditionalAttributes": [],
                "DocumentId": hit.doc_id,
                "DocumentAttributes": displayed_attributes(doc.attributes, fields, requested),
                "ScoreAttributes": {"ScoreConfidence": bucket},
                "FeedbackToken": f"{query_id}.{uuid.uuid4().hex}",
            }
            if title.text:
                item["DocumentTitle"] = _with_highlights(title.text, title.spans, title.synonym_spans)
            if body.text:
                item["DocumentExcerpt"] = _with_highlights(body.text, body.spans, body.synonym_spans)
            if uri := displayed_uri(doc.attributes.get("_source_uri")):
                item["DocumentURI"] = uri
            items.append(item)
        return items


def searched(text: str, fields: dict[str, dict[str, Any]], words_by_lang: dict[str, list[QueryWord]],
             reader: Reader | None, synonyms: SynonymsOf) -> Searched:
    """What a QueryText searches: its advanced syntax compiled (services/query/structured.py), or, for a
    plain query and for broken syntax (``problem``), its words exactly as a plain query's always were
    (tests/test_query_syntax.py holds the plain query's builder as it was before the syntax existed)."""
    parsed = parse(text, fields) if text else Parsed()
    if parsed.tree is not None:
        compiled = compile_tree(parsed.tree, list(words_by_lang), Clauses(title_boost(fields), reader), reader,
                                synonyms)
        return Searched(compiled.query, compiled.highlights, compiled.alternatives, compiled.text, compiled,
                        nothing=compiled.query is None)
    if text and not has_content(text, words_by_lang):
        return Searched(None, {}, {}, text, problem=parsed.problem, nothing=True)
    alternatives = synonyms(text, words_by_lang) if text else {}
    query = text_query(fields, words_by_lang, alternatives, reader) if text else None
    return Searched(query, content_terms(words_by_lang), alternatives, text, problem=parsed.problem)


def text_query(fields: dict[str, dict[str, Any]], words_by_lang: dict[str, list[QueryWord]],
               alternatives: Mapping[str, list[Alternative]] | None = None, reader: Reader | None = None) -> Query:
    """BM25 over a plain query's words in each language; adjacent query words found adjacent add a
    proximity score. Only a content word makes a document match: function words (の, ですか, the)
    add their score to a document that matches, never find one on their own. A synonym of the query's
    words (``alternatives``: a term, or a phrase of several) matches like them at a lower weight
    (services/query/clauses.py ``SYNONYM_WEIGHT``, scaled by the IDFs ``reader`` knows)."""
    clauses = Clauses(title_boost(fields), reader)
    per_lang = []
    for lang, words in words_by_lang.items():
        content, extra = clauses.words(words, (alternatives or {}).get(lang, []))
        if not content:
            continue
        lang_filter = NoScore(Term(Attribute(LANGUAGE_KEY), lang))
        per_lang.append(Bool(must=(lang_filter, any_of(content)), should=tuple(extra)))
    return any_of(per_lang)


def query_words(text: str, languages: list[str]) -> dict[str, list[QueryWord]]:
    """The query's words as each language's analyzer sees them (Kendra reads at most 30 terms)."""
    return {lang: analyzer_for(lang).query_words(text)[:MAX_QUERY_TERMS] for lang in languages}


def has_content(text: str, words_by_lang: dict[str, list[QueryWord]]) -> bool:
    """Whether the query has a content word, in its own language when it is searched in it (ですか has
    none, though a bigram analyzer sees "です" in it)."""
    own = script_language(text)
    langs = [own] if own in words_by_lang else list(words_by_lang)
    return any(w.content for lang in langs for w in words_by_lang[lang])


def content_terms(words_by_lang: dict[str, list[QueryWord]]) -> dict[str, list[str]]:
    """The content words' terms, per language: what a document must contain to match."""
    return {lang: [w.term for w in words if w.content] for lang, words in words_by_lang.items()}


def stands_for(alternatives: Mapping[str, list[Alternative]]) -> dict[str, dict[str, list[tuple[str, ...]]]]:
    """Per language, each query term's synonyms as the content terms a document holds where one matches."""
    out: dict[str, dict[str, list[tuple[str, ...]]]] = {}
    for lang, alts in alternatives.items():
        for alt in alts:
            for term in alt.stands_for:
                out.setdefault(lang, {}).setdefault(term, []).append(alt.content)
    return out


def _with_highlights(text: str, spans: list[tuple[int, int]],
                     synonyms: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    typed = [(s, e, "STANDARD") for s, e in spans] + [(s, e, "THESAURUS_SYNONYM") for s, e in synonyms or []]
    return {
        "Text": text,
        "Highlights": [{"BeginOffset": s, "EndOffset": e, "TopAnswer": False, "Type": kind}
                       for s, e, kind in sorted(typed)],
    }
