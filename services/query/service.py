"""The query service: Kendra's Query for keyword search (BM25 on title, body and searchable fields)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import tantivy
from tantivy import Occur, Query

from services.api.errors import ValidationException
from services.engine.analysis import analyzer_for, normalize
from services.engine.lexical import DATE, LONG, STRING, STRING_LIST, attr_field, sort_field
from services.index.fields import wire_value
from services.index.service import IndexService
from services.query.excerpts import excerpt, highlight, shown
from services.query.filters import (
    LANGUAGE_KEY,
    acl_query,
    all_of,
    any_of,
    compile_filter,
    languages,
    no_score,
    split_acl_filter,
    user_principals,
)

MAX_REACHABLE = 100          # Kendra returns only the first 100 results of a query
DEFAULT_PAGE_SIZE = 10
MAX_QUERY_TERMS = 30         # Kendra truncates query text after 30 tokens
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


@dataclass(slots=True)
class _Hit:
    score: float
    address: tantivy.DocAddress
    doc_id: str = ""


class QueryService:
    """Answers Query; a reader of the lexical indexes the index service writes."""

    def __init__(self, indexes: IndexService) -> None:
        self.indexes = indexes

    def query(self, p: dict[str, Any]) -> dict[str, Any]:
        index_id = p["IndexId"]
        self.indexes.require_active(index_id)
        fields = self.indexes.fields(index_id)
        config = self.indexes.config(index_id)
        lex = self.indexes.lexical(index_id)
        schema, searcher = lex.schema, lex.searcher()

        text = (p.get("QueryText") or "").strip()
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

        user_filter, filter_principals = split_acl_filter(p.get("AttributeFilter"))
        principals = user_principals(p.get("UserContext"), config)
        principals.terms.extend(filter_principals.terms)
        langs = languages(user_filter)

        restrictions: list[Query] = []
        if user_filter is not None:
            restrictions.append(compile_filter(user_filter, fields, schema))
        if langs is None:  # Kendra: without a language filter, only English documents are searched
            restrictions.append(Query.term_query(schema, attr_field(LANGUAGE_KEY), DEFAULT_LANGUAGE))
        if principals.present:
            restrictions.append(acl_query(schema, principals))
        query_langs = sorted(langs) if langs else [DEFAULT_LANGUAGE]
        terms_by_lang = {lang: analyzer_for(lang).query_terms(text)[:MAX_QUERY_TERMS] for lang in query_langs}

        parts = [no_score(r) for r in restrictions]
        if text:
            parts.append(self._text_query(schema, fields, terms_by_lang))
        query = all_of(parts)

        type_filter = p.get("QueryResultTypeFilter")
        query_id = str(uuid.uuid4())
        response: dict[str, Any] = {"QueryId": query_id, "ResultItems": [], "FacetResults": []}
        if type_filter not in (None, "DOCUMENT"):  # no ANSWER / QUESTION_ANSWER results from keyword search
            response["TotalNumberOfResults"] = 0
            return response

        window_end = min(page_number * page_size, MAX_REACHABLE)
        window_start = (page_number - 1) * page_size
        if sort_keys:
            hits, total = self._sorted_hits(searcher, query, sort_keys, fields, window_end)
        else:
            result = searcher.search(query, limit=max(window_end, 1), count=True)
            hits = [_Hit(score, address) for score, address in result.hits]
            total = result.count  # type: ignore[attr-defined]  # missing from tantivy's stub
        response["TotalNumberOfResults"] = total
        page = hits[window_start:window_end] if window_start < window_end else []
        top_score = hits[0].score if hits else 0.0
        response["ResultItems"] = self._items(
            index_id, searcher, page, fields, terms_by_lang, text, p.get("RequestedDocumentAttributes"),
            query_id, top_score, window_start,
        )
        if facets:
            response["FacetResults"] = self._facet_results(searcher, query, facets, fields)
        return response

    # -- query construction -----------------------------------------------------------------------

    def _text_query(self, schema: tantivy.Schema, fields: dict[str, dict[str, Any]],
                    terms_by_lang: dict[str, list[str]]) -> Query:
        importance = float(fields["_document_title"].get("Relevance", {}).get("Importance", 2))
        title_boost = TITLE_WEIGHT * (importance - 1)
        per_lang = []
        for lang, terms in terms_by_lang.items():
            if not terms:
                continue
            scoring = []
            for term in terms:
                scoring.append(Query.boost_query(Query.term_query(schema, "title", term), title_boost))
                scoring.append(Query.term_query(schema, "body", term))
                scoring.append(Query.term_query(schema, "meta", term))
            for a, b in zip(terms, terms[1:], strict=False):
                pair = Query.phrase_query(schema, "body", [a, b], slop=PAIR_SLOP)
                scoring.append(Query.boost_query(pair, PAIR_WEIGHT))
            lang_filter = no_score(Query.term_query(schema, attr_field(LANGUAGE_KEY), lang))
            per_lang.append(Query.boolean_query([(Occur.Must, lang_filter), (Occur.Must, any_of(scoring))]))
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

    def _sorted_hits(self, searcher: tantivy.Searcher, query: Query, keys: list[tuple[str, bool]],
                     fields: dict[str, dict[str, Any]], window_end: int) -> tuple[list[_Hit], int]:
        """Order every match by the sort keys (missing values last), ties by relevance."""
        result = searcher.search(query, limit=MAX_SORT_CANDIDATES, count=True)
        hits = [_Hit(score, address) for score, address in result.hits]
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
            return tuple(parts)

        order = sorted(range(len(hits)), key=key)
        # String keys are compared by an 8-byte prefix; refine the candidates that tie on it.
        if any(fields[name]["Type"] == STRING for name, _ in keys) and order:
            last = key(order[min(window_end, len(order)) - 1])[:-1]
            candidates = [i for i in order if key(i)[:-1] <= last]
            exact = {i: self._exact_key(searcher, hits[i], keys, fields) for i in candidates}
            order = sorted(candidates, key=lambda i: (exact[i], -hits[i].score))
        return [hits[i] for i in order[:window_end]], result.count  # type: ignore[attr-defined]

    def _exact_key(self, searcher: tantivy.Searcher, hit: _Hit, keys: list[tuple[str, bool]],
                   fields: dict[str, dict[str, Any]]) -> tuple[Any, ...]:
        doc = searcher.doc(hit.address)
        parts: list[Any] = []
        for name, desc in keys:
            values = doc.get_all(attr_field(name))
            if not values:
                parts.append((1, 0))
            elif fields[name]["Type"] == STRING:
                parts.append((0, _Desc(values[0]) if desc else values[0]))
            else:
                parts.append((0, -values[0] if desc else values[0]))
        return tuple(parts)

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
               requested: list[str] | None, query_id: str, top_score: float, offset: int) -> list[dict[str, Any]]:
        for hit in page:
            hit.doc_id = str(searcher.doc(hit.address).get_first("id"))
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
        for rank, hit in enumerate(page, start=offset):
            doc = stored.get(hit.doc_id)
            if doc is None:  # deleted between search and render
                continue
            lang = str(doc.attributes.get(LANGUAGE_KEY) or DEFAULT_LANGUAGE)
            analyzer = analyzer_for(lang)
            term_set, hints = query_view(lang) if text else (frozenset(), [])
            size = EXCERPT_CHARS.get(lang, DEFAULT_EXCERPT_CHARS)
            title, body = highlight(
                [shown(doc.title or ""), excerpt(doc.body, hints, size)], analyzer, term_set
            )
            item: dict[str, Any] = {
                "Id": f"{query_id}-{uuid.uuid4()}"[:73],
                "Type": "DOCUMENT",
                "Format": "TEXT",
                "AdditionalAttributes": [],
                "DocumentId": hit.doc_id,
                "DocumentAttributes": self._attributes(doc.attributes, fields, requested),
                "ScoreAttributes": {"ScoreConfidence": _confidence(
                    hit.score, top_score, rank, len(term_set),
                    len(body.matched | title.matched), bool(text))},
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

    @staticmethod
    def _attributes(attributes: dict[str, Any], fields: dict[str, dict[str, Any]],
                    requested: list[str] | None) -> list[dict[str, Any]]:
        out = []
        for name, value in attributes.items():
            f = fields.get(name)
            if f is None:
                continue
            wanted = name in requested if requested is not None else f["Search"].get("Displayable")
            if wanted:
                out.append({"Key": name, "Value": wire_value(f["Type"], value)})
        return out


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


def _confidence(score: float, top: float, rank: int, n_terms: int, n_matched: int, has_text: bool) -> str:
    """Kendra's buckets from the score relative to the best hit and the share of query terms shown."""
    if not has_text or top <= 0 or n_terms == 0:
        return "NOT_AVAILABLE"
    ratio, coverage = score / top, n_matched / n_terms
    if rank == 0 and coverage == 1.0 and ratio >= 0.999:
        return "VERY_HIGH"
    if coverage == 1.0 and ratio >= 0.7:
        return "HIGH"
    if coverage >= 0.5 and ratio >= 0.4:
        return "MEDIUM"
    return "LOW"
