"""The query service: Kendra's Query for keyword search (BM25 on title, body and searchable fields)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import tantivy
from tantivy import FieldType, Occur, Order, Query

from services.api.errors import ValidationException
from services.engine.analysis import QueryWord, analyzer_for, normalize
from services.engine.lexical import DATE, LONG, STRING, STRING_LIST, attr_field, sort_field
from services.index.fields import displayed_attributes, wire_value
from services.index.service import IndexService
from services.query import hybrid
from services.query.answers import answer_items
from services.query.confidence import CALIBRATION, Calibration, Evidence, calibration, foreign_terms, gather
from services.query.excerpts import excerpt, highlight, shown
from services.query.featured import FeaturedResults
from services.query.filters import (
    LANGUAGE_KEY,
    Principals,
    acl_query,
    all_of,
    any_of,
    compile_filter,
    languages,
    no_score,
    split_acl_filter,
    user_principals,
)
from services.query.hybrid import Ranked, script_language
from services.query.spelling import SpellChecker, term_frequency
from services.query.syntax import syntax_warnings

MAX_REACHABLE = 100          # Kendra returns only the first 100 results of a query
DEFAULT_PAGE_SIZE = 10
MAX_QUERY_TERMS = 30         # Kendra truncates query text after 30 tokens
MAX_QUERY_CHARS = 1000       # Kendra's quota; a longer text would be analysed and embedded whole
DEFAULT_FACET_VALUES = 10
MAX_SORT_KEYS = 3
MAX_SORT_CANDIDATES = 200_000
DEFAULT_LANGUAGE = "en"
# The body field already holds the title; the title field adds this much per point of the title's
# Relevance.Importance above 1 (Kendra's default importance is 2). Tuned on the shared sets.
TITLE_WEIGHT = 0.5
# Proximity: each pair of adjacent query words found adjacent in the text adds a phrase score with
# this weight (jsquad-valid R@1 0.899 -> 0.909, xquad-en unchanged; bench/relevance.py).
PAIR_WEIGHT = 0.3
PAIR_SLOP = 0
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
    address: tantivy.DocAddress
    doc_id: str = ""
    rank: int = 0  # place in tantivy's relevance order: the last tie-breaker, stable across pages


class QueryRecorder(Protocol):
    """Where answered queries are reported (the analytics service); must not raise or block."""

    def record_query(self, request: dict[str, Any], response: dict[str, Any], *, languages: list[str],
                     first_rank: int, latency_ms: float) -> None: ...


class Reranker(Protocol):
    """Reorders a query's matches (learning from clicks: analytics/learning.py)."""

    def rerank(self, index_id: str, text: str, searcher: tantivy.Searcher, schema: tantivy.Schema, query: Query,
               hits: list[tuple[float, tantivy.DocAddress]]) -> list[tuple[float, tantivy.DocAddress]]: ...

    def multipliers(self, index_id: str, text: str) -> Mapping[str, float]: ...


class FaqMatcher(Protocol):
    """QUESTION_ANSWER results for a query (the FAQ service)."""

    def match(self, index_id: str, text: str, languages: list[str], principals: Principals,
              query_id: str, requested: list[str] | None = None,
              attribute_filter: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """What a Query or Retrieve request may see, from its AttributeFilter and UserContext."""

    restrictions: list[Query]  # filter, language and ACL, as tantivy queries
    languages: list[str]  # searched: those the filter names, else Kendra's English default
    asked: list[str]  # those the filter names (none: no query is cross-language)
    principals: Principals
    user_filter: dict[str, Any] | None  # the AttributeFilter without its user-context part


class QueryService:
    """Answers Query; a reader of the lexical indexes the index service writes."""

    def __init__(self, indexes: IndexService, recorder: QueryRecorder | None = None,
                 faqs: FaqMatcher | None = None, reranker: Reranker | None = None,
                 spelling: SpellChecker | None = None, featured: FeaturedResults | None = None) -> None:
        self.indexes = indexes
        self.featured = featured
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
        lex = self.indexes.lexical(index_id)
        schema, searcher = lex.schema, lex.searcher()

        text = (p.get("QueryText") or "").strip()
        check_query_text(text)
        sort_keys = self._sort_keys(p, fields)
        facets = self._facets(p.get("Facets", []), fields)
        if not text and not ((p.get("AttributeFilter") or facets) and sort_keys):
            raise ValidationException(
                "QueryText is required, unless the query browses the index with an AttributeFilter or Facets"
                " and a SortingConfiguration"
            )
        page_size = min(max(p.get("PageSize", DEFAULT_PAGE_SIZE), 1), MAX_REACHABLE)
        page_number = p.get("PageNumber", 1)
        if page_number < 1:
            raise ValidationException("PageNumber must be 1 or more")

        scope = self.scope(p, fields, config, schema)
        restrictions, query_langs = scope.restrictions, scope.languages
        words_by_lang = query_words(text, query_langs)
        terms_by_lang = content_terms(words_by_lang)

        if text and not has_content(text, words_by_lang):  # only particles or stop words: nothing to find
            return {"QueryId": str(uuid.uuid4()), "ResultItems": [], "FacetResults": [],
                    "TotalNumberOfResults": 0}, query_langs, 1
        text_query = self.text_query(schema, fields, words_by_lang) if text else None
        query = all_of([*(no_score(r) for r in restrictions), *([text_query] if text_query is not None else [])])

        type_filter = p.get("QueryResultTypeFilter")
        query_id = str(uuid.uuid4())
        response: dict[str, Any] = {"QueryId": query_id, "ResultItems": [], "FacetResults": []}
        window_end = min(page_number * page_size, MAX_REACHABLE)
        window_start = (page_number - 1) * page_size
        ranked = None
        if sort_keys:
            hits, total = self._sorted_hits(searcher, schema, query, sort_keys, fields, window_end)
        elif text and (ranked := self._ranked(index_id, searcher, schema, restrictions, text_query, text,
                                               scope.asked)) is not None:
            hits = [_Hit(c.score, c.address, c.doc_id) for c in ranked.candidates if c.address is not None]
            total = ranked.total
        else:
            # With words to match, every reachable match is judged: if none is above the noise floor, none is shown.
            result = searcher.search(query, limit=max(MAX_REACHABLE if text else window_end, 1), count=True)
            pairs = result.hits
            if self.reranker is not None and text:
                pairs = self.reranker.rerank(index_id, text, searcher, schema, query, pairs)
            hits = [_Hit(score, address) for score, address in pairs]
            total = result.count  # type: ignore[attr-defined]  # missing from tantivy's stub
        evidence: dict[str, Evidence] = {}
        if text:  # the results up to this page are judged; the rest only while none is above the noise floor
            evidence = self.evidence(searcher, schema, hits[:window_end], text, scope.asked, words_by_lang, ranked)
            judge = self.calibration(ranked is not None)
            if not sort_keys and not any(judge.found(e) for e in evidence.values()):
                rest = self.evidence(searcher, schema, hits[window_end:], text, scope.asked, words_by_lang, ranked)
                if not any(judge.found(e) for e in rest.values()):  # only noise: nothing found
                    total, hits = 0, []
        page = hits[window_start:window_end] if window_start < window_end else []
        for hit in page:
            if not hit.doc_id:
                hit.doc_id = _doc_id(searcher, hit.address)
        items: list[dict[str, Any]] = []
        if text and page_number == 1 and type_filter in (None, "QUESTION_ANSWER") and self.faqs is not None:
            items += self.faqs.match(index_id, text, query_langs, scope.principals, query_id,
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
                index_id, searcher, page, fields, terms_by_lang, text, p.get("RequestedDocumentAttributes"),
                query_id, ranked, evidence,
            )
        else:
            response["TotalNumberOfResults"] = len(items)
        response["ResultItems"] = items
        if text and page_number == 1 and self.featured is not None:
            response["FeaturedResultsItems"] = self.featured.match(
                index_id, text, scope.principals, query_id, fields, p.get("RequestedDocumentAttributes"))
        if warnings := syntax_warnings(text):
            response["Warnings"] = warnings
        if text and (p.get("SpellCorrectionConfiguration") or {}).get("IncludeQuerySpellCheckSuggestions"):
            def count(other: str) -> int:
                words = query_words(other, query_langs)
                variant = all_of([no_score(r) for r in restrictions] + [self.text_query(schema, fields, words)])
                return int(searcher.search(variant, limit=1, count=True).count)  # type: ignore[attr-defined]
            # Words come only from documents this asker may see; and spelling is about words: compare
            # with the original's word matches, not its hybrid total.
            visible = acl_query(schema, scope.principals) if scope.principals.present else None
            response["SpellCorrectedQueries"] = self.spelling.corrections(
                index_id, text, query_langs, term_frequency(searcher, schema, visible), count,
                total if ranked is None else count(text))
        if facets:
            response["FacetResults"] = self._facet_results(searcher, query, facets, fields)
        return response, query_langs, window_start + 1

    @staticmethod
    def scope(p: dict[str, Any], fields: dict[str, dict[str, Any]], config: dict[str, Any],
              schema: tantivy.Schema) -> Scope:
        """The AttributeFilter, language and user-context restrictions of a Query or Retrieve request."""
        user_filter, filter_principals = split_acl_filter(p.get("AttributeFilter"))
        principals = user_principals(p.get("UserContext"), config)
        principals.terms.extend(filter_principals.terms)
        named = languages(user_filter)
        asked = sorted(named or [])
        restrictions: list[Query] = []
        if user_filter is not None:
            restrictions.append(compile_filter(user_filter, fields, schema))
        if named is None:  # Kendra: without a language filter, only English documents are searched
            restrictions.append(Query.term_query(schema, attr_field(LANGUAGE_KEY), DEFAULT_LANGUAGE))
        if principals.present:
            restrictions.append(acl_query(schema, principals))
        return Scope(restrictions, asked or [DEFAULT_LANGUAGE], asked, principals, user_filter)

    def evidence(self, searcher: tantivy.Searcher, schema: tantivy.Schema, hits: list[_Hit], text: str,
                 asked: list[str], words_by_lang: dict[str, list[QueryWord]],
                 ranked: Ranked | None) -> dict[str, Evidence]:
        """What is known about each result, for its ScoreConfidence (fills in the hits' document ids)."""
        terms_by_lang, foreign = content_terms(words_by_lang), foreign_terms(words_by_lang)
        docs = {}
        for hit in hits:
            doc = searcher.doc(hit.address)
            hit.doc_id = hit.doc_id or str(doc.get_first("id"))
            docs[hit.doc_id] = hit.address, str(doc.get_first(attr_field(LANGUAGE_KEY)) or DEFAULT_LANGUAGE)
        if ranked is None:  # BM25 alone: the scores are raw BM25
            form = hybrid.query_form(text, asked)
            return gather(searcher, schema, docs, terms_by_lang, {h.doc_id: h.score for h in hits}, {},
                          question=form == "question", cross_language=form == "cross-language", foreign=foreign)
        by_id = {c.doc_id: c for c in ranked.candidates}
        return gather(searcher, schema, docs, terms_by_lang,
                      {d: c.lexical for d, c in by_id.items()}, {d: c.dense for d, c in by_id.items()},
                      ranked.agreeing, ranked.form == "question" or ranked.natural,
                      ranked.form == "cross-language", foreign)

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

    def _ranked(self, index_id: str, searcher: tantivy.Searcher, schema: tantivy.Schema, restrictions: list[Query],
                text_query: Query | None, text: str, langs: list[str]) -> Ranked | None:
        """Dense or hybrid ranking when the mode asks for it and the index has vectors (else None: BM25)."""
        embedder, vectors = self.indexes.vectors.embedder, self.indexes.vectors.get(index_id)
        if self.mode == "lexical" or embedder is None or vectors is None or len(vectors) == 0:
            return None
        learned = self.reranker.multipliers(index_id, text) if self.reranker is not None else {}
        return hybrid.rank(self.mode, searcher, schema, restrictions, text_query, text, langs, embedder,
                           vectors, MAX_REACHABLE, self.indexes.settings.hybrid_fusion, learned,
                           self.rescoring(index_id), self.calibration(True).related_cosine)

    def rescoring(self, index_id: str) -> hybrid.Rescoring | None:
        """The re-scoring model and its vectors of this index, when one is configured."""
        stores, settings = self.indexes.vectors, self.indexes.settings
        vectors = stores.rescore(index_id)
        if stores.rescorer is None or vectors is None:
            return None
        return hybrid.Rescoring(stores.rescorer, vectors, settings.rescore_top, settings.rescore_share)

    # -- query construction -----------------------------------------------------------------------

    def text_query(self, schema: tantivy.Schema, fields: dict[str, dict[str, Any]],
                   words_by_lang: dict[str, list[QueryWord]]) -> Query:
        """BM25 over the query's words in each language; adjacent query words found adjacent add a
        proximity score. Only a content word makes a document match: function words (の, ですか, the)
        add their score to a document that matches, never find one on their own."""
        importance = float(fields["_document_title"].get("Relevance", {}).get("Importance", 2))
        title_boost = TITLE_WEIGHT * (importance - 1)

        def scored(term: str) -> list[Query]:
            return [Query.boost_query(Query.term_query(schema, "title", term), title_boost),
                    Query.term_query(schema, "body", term), Query.term_query(schema, "meta", term)]

        per_lang = []
        for lang, words in words_by_lang.items():
            content = [q for w in words if w.content for q in scored(w.term)]
            if not content:
                continue
            # Function words keep their (small) share of the score: with it a question's BM25 scores stay
            # as flat as the fusion was tuned for (vue-nlq-dev nDCG@10 0.597 without it, 0.622 with).
            extra = [(Occur.Should, q) for w in words if not w.content for q in scored(w.term)]
            extra += [(Occur.Should, Query.boost_query(Query.phrase_query(schema, "body", [a.term, b.term],
                                                                         slop=PAIR_SLOP), PAIR_WEIGHT))
                      for a, b in zip(words, words[1:], strict=False)]
            lang_filter = no_score(Query.term_query(schema, attr_field(LANGUAGE_KEY), lang))
            per_lang.append(Query.boolean_query([(Occur.Must, lang_filter), (Occur.Must, any_of(content)), *extra]))
        return any_of(per_lang)

    # -- sorting ----------------------------------------------------------------------------------

    def _sort_keys(self, p: dict[str, Any], fields: dict[str, dict[str, Any]]) -> list[tuple[str, bool]]:
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
            keys.append((name, c["SortOrder"] == "DESC"))
        return keys

    def _candidates(self, searcher: tantivy.Searcher, schema: tantivy.Schema, query: Query,
                    keys: list[tuple[str, bool]], fields: dict[str, dict[str, Any]], window_end: int) -> list[_Hit]:
        """A few matches, with their relevance scores, that surely include the first ``window_end``.

        tantivy finds the primary sort value of the last document in the window; every match that
        sorts strictly before it, and every match that ties with it, is a candidate. Documents
        without a value sort last (Kendra's order) and are needed only when the window has room.
        """
        name, desc = keys[0]
        if fields[name]["Type"] == STRING:
            column, kind = sort_field(name), FieldType.Unsigned
        else:
            column, kind = attr_field(name), FieldType.Integer
        has_value = no_score(Query.exists_query(column))

        def scored(restriction: Query, limit: int) -> list[_Hit]:
            found = searcher.search(all_of([query, restriction]), limit=limit)
            return [_Hit(score, address, rank=n) for n, (score, address) in enumerate(found.hits)]

        order = Order.Desc if desc else Order.Asc
        top = searcher.search(all_of([query, has_value]), limit=window_end, order_by_field=column, order=order)
        if len(top.hits) < window_end:  # every match with a value fits: take them, then the rest by relevance
            hits = scored(has_value, window_end)
            lacking = Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, has_value)])
            # With further sort keys every such match competes; otherwise relevance alone orders them.
            room = MAX_SORT_CANDIDATES if len(keys) > 1 else window_end - len(hits)
            return hits + scored(no_score(lacking), room)
        boundary = int(top.hits[-1][0])
        before = Query.range_query(
            schema, column, kind,
            lower_bound=boundary if desc else None, upper_bound=None if desc else boundary,
            include_lower=not desc, include_upper=desc,
        )
        tied = Query.range_query(schema, column, kind, boundary, boundary)
        return scored(no_score(before), window_end) + scored(no_score(tied), MAX_SORT_CANDIDATES)

    def _sorted_hits(self, searcher: tantivy.Searcher, schema: tantivy.Schema, query: Query,
                     keys: list[tuple[str, bool]], fields: dict[str, dict[str, Any]],
                     window_end: int) -> tuple[list[_Hit], int]:
        """Order the matches by the sort keys (missing values last), ties by relevance."""
        total = searcher.search(query, limit=1, count=True).count  # type: ignore[attr-defined]
        hits = self._candidates(searcher, schema, query, keys, fields, window_end) if total else []
        addresses = [h.address for h in hits]
        columns = []
        for name, _ in keys:
            column = sort_field(name) if fields[name]["Type"] == STRING else attr_field(name)
            columns.append(searcher.fast_field_values(column, addresses) if addresses else [])

        def key(i: int) -> tuple[Any, ...]:
            parts: list[Any] = []
            for (_, desc), column in zip(keys, columns, strict=True):
                value = column[i]
                parts.append((1, 0) if value is None else (0, -value if desc else value))
            parts.append(-hits[i].score)
            parts.append(hits[i].rank)
            return tuple(parts)

        order = sorted(range(len(hits)), key=key)
        strings = [n for n, (name, _) in enumerate(keys) if fields[name]["Type"] == STRING]
        if strings and order:
            # String keys were compared by an 8-byte prefix. Up to the first string key that order is
            # exact; every hit not after the window's last hit there is re-sorted on exact values.
            cut = strings[0] + 1
            last = key(order[min(window_end, len(order)) - 1])[:cut]
            candidates = [i for i in order if key(i)[:cut] <= last]
            stored = {i: searcher.doc(hits[i].address) for i in candidates}

            def exact(i: int) -> tuple[Any, ...]:
                parts = list(key(i))
                for n in strings:
                    name, desc = keys[n]
                    values = stored[i].get_all(attr_field(name))
                    parts[n] = (1, 0) if not values else (0, _Desc(values[0]) if desc else values[0])
                return tuple(parts)

            order = sorted(candidates, key=exact)
        return [hits[i] for i in order[:window_end]], int(total)

    # -- facets -----------------------------------------------------------------------------------

    def _facets(self, facets: list[dict[str, Any]], fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        def check(facet: dict[str, Any], nested: bool) -> dict[str, Any]:
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
            return {"name": name, "size": size, "children": [check(c, True) for c in children]}

        return [check(f, False) for f in facets]

    def _facet_results(self, searcher: tantivy.Searcher, query: Query, facets: list[dict[str, Any]],
                       fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        def agg(facet: dict[str, Any]) -> dict[str, Any]:
            spec: dict[str, Any] = {"terms": {"field": attr_field(facet["name"]), "size": facet["size"]}}
            if facet["children"]:
                spec["aggs"] = {"nested": agg(facet["children"][0])}
            return spec

        def render(facet: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
            kind = fields[facet["name"]]["Type"]
            value_kind = STRING if kind == STRING_LIST else kind
            pairs = []
            for bucket in result.get("buckets", []):
                raw = bucket["key"]
                value = raw / 1_000_000 if kind == DATE else (int(raw) if kind == LONG else raw)
                pair: dict[str, Any] = {"DocumentAttributeValue": wire_value(value_kind, value),
                                        "Count": bucket["doc_count"]}
                if facet["children"]:
                    pair["FacetResults"] = [render(facet["children"][0], bucket["nested"])]
                pairs.append(pair)
            return {"DocumentAttributeKey": facet["name"], "DocumentAttributeValueType": kind,
                    "DocumentAttributeValueCountPairs": pairs}

        aggs = {f"f{i}": agg(f) for i, f in enumerate(facets)}
        result = searcher.aggregate(query, aggs)
        return [render(f, result.get(f"f{i}", {})) for i, f in enumerate(facets)]

    # -- result items -----------------------------------------------------------------------------

    def _items(self, index_id: str, searcher: tantivy.Searcher, page: list[_Hit],
               fields: dict[str, dict[str, Any]], terms_by_lang: dict[str, list[str]], text: str,
               requested: list[str] | None, query_id: str, ranked: Ranked | None,
               evidence: dict[str, Evidence]) -> list[dict[str, Any]]:
        # A question or phrase: the excerpt comes from the passage nearest the query (keywords: their words).
        nearest = ranked.passages if ranked is not None and ranked.natural else {}
        stored = self.indexes.store.documents(index_id, [h.doc_id for h in page])
        per_lang: dict[str, tuple[frozenset[str], list[str]]] = {}

        def query_view(lang: str) -> tuple[frozenset[str], list[str]]:
            """The query's terms in ``lang`` and the normalised surfaces that locate them cheaply."""
            if lang not in per_lang:
                terms = terms_by_lang.get(lang) or analyzer_for(lang).query_terms(text)[:MAX_QUERY_TERMS]
                surfaces = {normalize(text[t.start:t.end]) for t in analyzer_for(lang).tokens(text)}
                per_lang[lang] = frozenset(terms), sorted(surfaces | set(terms))
            return per_lang[lang]

        items = []
        for hit in page:
            doc = stored.get(hit.doc_id)
            if doc is None:  # deleted between search and render
                continue
            lang = str(doc.attributes.get(LANGUAGE_KEY) or DEFAULT_LANGUAGE)
            analyzer = analyzer_for(lang)
            term_set, hints = query_view(lang) if text else (frozenset(), [])
            size = EXCERPT_CHARS.get(lang, DEFAULT_EXCERPT_CHARS)
            passage = nearest.get(hit.doc_id)
            source = passage.text if passage is not None else doc.body
            title, body = highlight(
                [shown(doc.title or ""), excerpt(source, hints, size)], analyzer, term_set
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
                item["DocumentTitle"] = _with_highlights(title.text, title.spans)
            if body.text:
                item["DocumentExcerpt"] = _with_highlights(body.text, body.spans)
            uri = doc.attributes.get("_source_uri")
            if isinstance(uri, str) and uri.split("://", 1)[0] in ("http", "https", "ftp", "file"):
                item["DocumentURI"] = uri
            items.append(item)
        return items


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


def _doc_id(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> str:
    return str(searcher.doc(address).get_first("id"))


class _Desc:
    """Reverses the order of a string inside a sort key."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value


def _with_highlights(text: str, spans: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "Text": text,
        "Highlights": [{"BeginOffset": s, "EndOffset": e, "TopAnswer": False, "Type": "STANDARD"} for s, e in spans],
    }
