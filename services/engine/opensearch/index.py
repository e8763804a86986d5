"""One Kendra index's documents in an OpenSearch index: the ``SearchIndex`` and ``Reader`` of the
OpenSearch engine (services/engine/base.py; docs/engine.md has the mapping of every query node).

Text arrives analysed (SudachiPy / the English analyzer in Python), so both engines index the same
terms at the same positions. A field's text is sent as its token *groups*, one group per position
joined by U+001F, the terms of a group (a compound and its parts) joined by U+001E. The index's
analyzer splits the groups (``pattern`` tokenizer, one position each), a ``pattern_capture`` filter
emits each term of a group at the group's position (``unique`` keeps one of a term repeated there), and
a ``stop`` filter drops the NUL placeholders of skipped positions. So 東京都庁 and its parts 東京 / 東京都 /
都庁 share one position, as in tantivy, and phrase proximity sees the same adjacency. (Indexes made
before used a ``multiplexer`` of 16 ``pattern_replace`` chains: the same tokens, indexed 8 times slower.)

Scores: BM25 with k1 1.2, b 0.75, every token counted in a field's length (``discount_overlaps``
off, as tantivy counts them): the same documents score the same on both engines (to the precision of
the one-byte length norms; tests/test_engine_reader.py), which keeps ScoreConfidence's calibration
(services/query/confidence.json) valid for both.

Writes are buffered and sent in bulk at ``commit``, which then refreshes the index: a document the
indexer reports INDEXED is searchable, and ``rollback`` only drops the buffer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, assert_never

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

from services.engine.base import Bucket, DocRef, EngineUnavailable, Facet, Found, Hit, SortKey, Stored
from services.engine.document import LONG, STRING, STRING_LIST, FieldSpec, LexicalDocument, TokenRow
from services.engine.opensearch.client import DocumentRefused, complete, shards_missing, unavailable
from services.engine.query import (
    Attribute,
    Bool,
    Boost,
    MatchAll,
    MatchNone,
    NoScore,
    Phrase,
    Query,
    Range,
    Term,
    Terms,
    TextField,
    date_micros,
)

GROUPS, PARTS, GAP = "\u001f", "\u001e", "\u0000"
MAX_PARTS = 16  # terms at one position (a compound and its parts); Sudachi's longest groups hold under 10
BULK_BYTES = 5_000_000
_CONTROL = str.maketrans("", "", GROUPS + PARTS + GAP)
TEXT_FIELDS: tuple[TextField, ...] = ("title", "body", "meta")
PREFETCH_TERMS = 64  # body terms a search counts in passing, at most (a long question has about 30)
MAX_PREFIX_TERMS = 1000  # terms one wildcard expands to, at most (under Lucene's 1,024 boolean clauses)


def attr_field(name: str) -> str:
    return f"a_{name}"


def document_key(doc_id: str) -> str:
    """The ``_id`` of a document: its Kendra id, unless OpenSearch cannot take it (over 512 bytes, or
    starting with ``_``): then a digest of it. The ``id`` field always holds the Kendra id."""
    if 0 < len(doc_id.encode("utf-8")) <= 512 and not doc_id.startswith("_"):
        return doc_id
    return "~" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def index_body(fields: Sequence[FieldSpec], shards: int, replicas: int) -> dict[str, Any]:
    """Settings and mapping of a documents index with these attribute fields."""
    filters: dict[str, Any] = {
        # every term of a group at the group's position (a group of one term: the term itself), each once
        "kensaku_parts": {"type": "pattern_capture", "preserve_original": False, "patterns": [f"([^{PARTS}]+)"]},
        "kensaku_once": {"type": "unique", "only_on_same_position": True},
        "kensaku_nonempty": {"type": "length", "min": 1},
        "kensaku_gap": {"type": "stop", "stopwords": [GAP]},
    }
    text = {"type": "text", "analyzer": "kensaku_terms", "similarity": "kensaku_bm25"}
    properties: dict[str, Any] = {"id": {"type": "keyword"}, "acl_allow": {"type": "keyword"},
                                  "acl_deny": {"type": "keyword"}, **dict.fromkeys(TEXT_FIELDS, text)}
    for spec in fields:
        kind = "keyword" if spec.kind in (STRING, STRING_LIST) else "long"
        properties[attr_field(spec.name)] = {"type": kind}
    return {
        "settings": {
            "index": {
                "number_of_shards": shards, "number_of_replicas": replicas, "refresh_interval": "-1",
                # the query layer may ask for every match among a set of ids (click learning, suggestions)
                "max_result_window": 200_000,
                "similarity": {"kensaku_bm25": {"type": "BM25", "k1": 1.2, "b": 0.75, "discount_overlaps": False}},
            },
            "analysis": {
                "tokenizer": {"kensaku_groups": {"type": "pattern", "pattern": GROUPS}},
                "filter": filters,
                "analyzer": {"kensaku_terms": {"type": "custom", "tokenizer": "kensaku_groups",
                                               "filter": ["kensaku_parts", "kensaku_once", "kensaku_nonempty",
                                                          "kensaku_gap"]}},
            },
        },
        "mappings": {"dynamic": "strict", "_source": {"excludes": list(TEXT_FIELDS)}, "properties": properties},
    }


def grouped(rows: Sequence[TokenRow]) -> str:
    """Token rows as the index's analyzer reads them (see the module's docstring)."""
    groups: list[list[str]] = []
    last = -1
    for term, position, _, _ in sorted(rows, key=lambda row: row[1]):
        clean = term.translate(_CONTROL)
        if not clean:
            continue
        if position == last:
            if len(groups[-1]) < MAX_PARTS:
                groups[-1].append(clean)
            continue
        groups.extend([[GAP]] * (position - last - 1 if last >= 0 else position))
        groups.append([clean])
        last = position
    return GROUPS.join(PARTS.join(group) for group in groups)


class OpenSearchIndex:
    """The documents of one schema generation of one Kendra index, in OpenSearch index ``name``."""

    def __init__(self, client: OpenSearch, name: str, fields: Sequence[FieldSpec], shards: int, replicas: int) -> None:
        self.client = client
        self.name = name
        self.fields = {f.name: f for f in fields}
        self._dfs = shards > 1
        self._pending: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        with unavailable(f"opening index {name}"):
            if not client.indices.exists(index=name):
                try:
                    client.indices.create(index=name, body=index_body(fields, shards, replicas))
                except RequestError as error:
                    if error.error != "resource_already_exists_exception":  # another process made it
                        raise
        self._reader = self._new_reader()

    def _new_reader(self) -> OpenSearchReader:
        return OpenSearchReader(self.client, self.name, self.fields, self._dfs)

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, docs: Iterable[LexicalDocument]) -> None:
        for doc in docs:
            self._pending.append(({"index": {"_id": document_key(doc.doc_id)}}, self._source(doc)))

    def delete(self, doc_ids: Iterable[str]) -> None:
        self._pending.extend(({"delete": {"_id": document_key(doc_id)}}, None) for doc_id in doc_ids)

    def commit(self) -> None:
        pending, self._pending = self._pending, []
        with unavailable(f"writing to index {self.name}"):
            lines: list[str] = []
            size = 0
            for action, source in pending:
                lines.append(json.dumps(action))
                if source is not None:
                    lines.append(json.dumps(source, ensure_ascii=False))
                size += len(lines[-1])
                if size >= BULK_BYTES:
                    self._bulk(lines)
                    lines, size = [], 0
            if lines:
                self._bulk(lines)
            self.client.indices.refresh(index=self.name)
        self._reader = self._new_reader()

    def _bulk(self, lines: list[str]) -> None:
        result = self.client.bulk(index=self.name, body="\n".join(lines) + "\n")
        if not result.get("errors"):
            return
        for item in result["items"]:
            (op, outcome), = item.items()
            status = int(outcome.get("status", 500))
            if status < 300 or (op == "delete" and status == 404):
                continue
            reason = outcome.get("error", {})
            if status == 429 or status >= 500:
                raise EngineUnavailable(f"OpenSearch refused a write ({status}): {reason}")
            raise DocumentRefused(f"OpenSearch refused document {outcome.get('_id')}: {reason}")

    def rollback(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        self._pending.clear()

    def destroy(self) -> None:
        self.close()
        with unavailable(f"deleting index {self.name}"):
            self.client.indices.delete(index=self.name, ignore_unavailable=True)

    def _source(self, doc: LexicalDocument) -> dict[str, Any]:
        title = grouped(doc.title_tokens)
        source: dict[str, Any] = {
            "id": doc.doc_id,
            "title": title,
            # "title, then text" as one text (two values), as the embedded engine scores its body field
            "body": [title, grouped(doc.body_tokens)] if doc.title_tokens else grouped(doc.body_tokens),
            "acl_allow": doc.acl_allow,
            "acl_deny": doc.acl_deny,
        }
        if doc.meta_tokens:
            source["meta"] = grouped(doc.meta_tokens)
        for name, value in doc.attributes.items():
            spec = self.fields.get(name)
            if spec is None:
                continue
            if spec.kind in (STRING, STRING_LIST):
                source[attr_field(name)] = value
            elif spec.kind == LONG:
                source[attr_field(name)] = int(value)
            else:
                source[attr_field(name)] = date_micros(value)
        return source

    # -- reading -----------------------------------------------------------------------------

    def reader(self) -> OpenSearchReader:
        return self._reader


def compile_query(query: Query) -> dict[str, Any]:
    """The OpenSearch query of a neutral one (services/engine/query.py)."""
    if isinstance(query, Term):
        if isinstance(query.field, Attribute):
            return {"term": {attr_field(query.field.name): query.value}}
        return {"term": {query.field: query.value}}
    if isinstance(query, Bool):
        if not query.must and not query.should:
            return {"match_none": {}}  # Lucene's rule: nothing to match (OpenSearch would match all)
        out: dict[str, Any] = {}
        for key, clauses in (("must", query.must), ("should", query.should), ("must_not", query.must_not)):
            if clauses:
                out[key] = [compile_query(q) for q in clauses]
        return {"bool": out}
    if isinstance(query, Boost):
        return {"bool": {"must": [compile_query(query.query)], "boost": query.factor}}
    if isinstance(query, NoScore):
        return {"constant_score": {"filter": compile_query(query.query), "boost": 0.0}}
    if isinstance(query, Terms):
        name = attr_field(query.field.name) if isinstance(query.field, Attribute) else query.field
        return {"terms": {name: list(query.values)}}
    if isinstance(query, Phrase):
        # The field's analyzer splits groups at U+001F: one term per position, Lucene's PhraseQuery.
        text = GROUPS.join(term.translate(_CONTROL) for term in query.terms)
        return {"match_phrase": {query.field: {"query": text, "slop": query.slop}}}
    if isinstance(query, Range):
        bounds: dict[str, int] = {}
        if query.lower is not None:
            bounds["gte" if query.include_lower else "gt"] = query.lower
        if query.upper is not None:
            bounds["lte" if query.include_upper else "lt"] = query.upper
        return {"range": {attr_field(query.field.name): bounds}}
    if isinstance(query, MatchAll):
        return {"match_all": {}}
    if isinstance(query, MatchNone):
        return {"match_none": {}}
    assert_never(query)


def scored_terms(query: Query, field: TextField) -> list[str]:
    """The terms of ``field`` that ``query`` scores with (its ``Term`` nodes outside filters), in order."""
    if isinstance(query, Term):
        return [str(query.value)] if query.field == field else []
    if isinstance(query, Bool):
        return [term for clause in (*query.must, *query.should) for term in scored_terms(clause, field)]
    if isinstance(query, Boost):
        return scored_terms(query.query, field)
    return []


class OpenSearchReader:
    """The engine's reader (services/engine/base.py) over one OpenSearch index. Each search sees the
    index as of its last refresh; statistics are cached for the reader's life (one commit). A search
    scoring ``body`` terms whose document frequency is not cached yet counts them in the same request
    (``_msearch``: what ``_count`` would answer), so that the ``num_docs`` and ``doc_freq`` calls of
    ScoreConfidence that follow need no request of their own."""

    def __init__(self, client: OpenSearch, name: str, fields: Mapping[str, FieldSpec], dfs: bool) -> None:
        self._client = client
        self._name = name
        self._fields = fields
        self._params = {"search_type": "dfs_query_then_fetch"} if dfs else {}
        self._strings = [attr_field(n) for n, spec in fields.items() if spec.kind == STRING]
        self._sources: dict[str, dict[str, Any]] = {}  # _id -> id and STRING attributes, from searches
        self._num_docs: int | None = None
        self._doc_freq: dict[tuple[str, str], int] = {}

    def _search(self, body: dict[str, Any], what: str) -> dict[str, Any]:
        with unavailable(what):
            return complete(self._client.search(index=self._name, body=body, params=self._params), what)

    def _search_counting(self, body: dict[str, Any], terms: list[str]) -> dict[str, Any]:
        """The search ``body`` and, in the same ``_msearch`` (the cluster runs its searches side by side),
        a count of the documents holding each of ``terms`` in ``body`` and of all documents: the
        ``doc_freq`` and ``num_docs`` that ScoreConfidence asks next, cached. A count that failed is
        left to ``count``; a search that failed is sent again alone, to fail as a search does."""
        counted: list[tuple[str, Query]] = [(term, Term("body", term)) for term in terms]
        if self._num_docs is None:
            counted.append(("", MatchAll()))
        lines: list[dict[str, Any]] = [dict(self._params), body]
        for _, query in counted:
            lines += [{}, {"query": compile_query(query), "size": 0, "track_total_hits": True}]
        with unavailable("searching"):
            answers = self._client.msearch(index=self._name, body=lines)["responses"]
        for (term, _), answer in zip(counted, answers[1:], strict=True):
            if "error" in answer or shards_missing(answer) is not None:
                continue
            total = int(answer["hits"]["total"]["value"])
            if term:
                self._doc_freq[("body", term)] = total
            else:
                self._num_docs = total
        if "error" in answers[0]:
            return self._search(body, "searching")
        return complete(answers[0], "searching")

    def _keep(self, hits: list[dict[str, Any]]) -> None:
        if len(self._sources) > 50_000:
            self._sources.clear()
        for hit in hits:
            self._sources[hit["_id"]] = hit.get("_source", {})

    def search(self, query: Query, limit: int, sort: Sequence[SortKey] = ()) -> Found:
        body: dict[str, Any] = {"query": compile_query(query), "size": limit, "track_total_hits": True,
                                "_source": ["id", *self._strings]}
        if sort:
            body["sort"] = [{attr_field(k.name): {"order": "desc" if k.descending else "asc", "missing": "_last"}}
                            for k in sort] + [{"_score": "desc"}, {"id": "asc"}]
            body["track_scores"] = True
        terms = dict.fromkeys(scored_terms(query, "body"))
        prefetch = [term for term in terms if ("body", term) not in self._doc_freq][:PREFETCH_TERMS]
        result = self._search_counting(body, prefetch) if prefetch else self._search(body, "searching")
        hits = result["hits"]["hits"]
        self._keep(hits)
        return Found([Hit(float(h["_score"] or 0.0), h["_id"]) for h in hits], int(result["hits"]["total"]["value"]))

    def count(self, query: Query) -> int:
        with unavailable("counting"):
            found = self._client.count(index=self._name, body={"query": compile_query(query)})
        return int(complete(found, "counting")["count"])

    def facets(self, query: Query, facets: Sequence[Facet]) -> list[list[Bucket]]:
        def agg(facet: Facet) -> dict[str, Any]:
            spec: dict[str, Any] = {"terms": {"field": attr_field(facet.name), "size": facet.size}}
            if facet.nested is not None:
                spec["aggs"] = {"nested": agg(facet.nested)}
            return spec

        def buckets(result: dict[str, Any]) -> list[Bucket]:
            return [Bucket(key if isinstance(key := b["key"], str) else int(key), int(b["doc_count"]),
                           buckets(b["nested"]) if "nested" in b else []) for b in result.get("buckets", [])]

        body = {"query": compile_query(query), "size": 0,
                "aggs": {f"f{i}": agg(f) for i, f in enumerate(facets)}}
        result = self._search(body, "counting facets").get("aggregations", {})
        return [buckets(result.get(f"f{i}", {})) for i in range(len(facets))]

    def stored(self, refs: Sequence[DocRef], attributes: Sequence[str] = ()) -> list[Stored]:
        missing = [ref for ref in refs if ref not in self._sources]
        if missing:
            with unavailable("reading documents"):
                found = self._client.mget(index=self._name, body={"ids": missing},
                                          params={"_source_includes": ",".join(["id", *self._strings])})
            self._keep([doc for doc in found["docs"] if doc.get("found")])
        out = []
        for ref in refs:
            source = self._sources.get(str(ref), {})
            values = {name: value for name in attributes if isinstance(value := source.get(attr_field(name)), str)}
            out.append(Stored(str(source.get("id", ref)), values))
        return out

    def terms_held(self, docs: Mapping[str, DocRef], fields: Sequence[TextField],
                   terms: Sequence[str]) -> dict[str, set[str]]:
        held: dict[str, set[str]] = {doc_id: set() for doc_id in docs}
        if not docs or not terms:
            return held
        by_ref = {str(ref): doc_id for doc_id, ref in docs.items()}
        named = [{"bool": {"should": [{"term": {f: term}} for f in fields], "_name": str(i)}}
                 for i, term in enumerate(terms)]
        body = {"query": {"bool": {"filter": [{"ids": {"values": list(by_ref)}}], "should": named,
                                   "minimum_should_match": 1}},
                "size": len(docs), "_source": False}
        for hit in self._search(body, "reading matched terms")["hits"]["hits"]:
            doc_id = by_ref.get(hit["_id"])
            if doc_id is not None:
                held[doc_id].update(terms[int(name)] for name in hit.get("matched_queries", []))
        return held

    def num_docs(self) -> int:
        if self._num_docs is None:
            self._num_docs = self.count(MatchAll())
        return self._num_docs

    def doc_freq(self, field: TextField, term: str) -> int:
        key = (field, term)
        found = self._doc_freq.get(key)
        if found is None:
            found = self._doc_freq[key] = self.count(Term(field, term))
        return found

    def terms_with_prefix(self, field: TextField, prefix: str, limit: int) -> list[tuple[str, int]]:
        # OpenSearch has no API that lists a text field's terms (no terms enum, and aggregations need
        # fielddata). Validating a prefix query with ``rewrite`` shows the query Lucene rewrites it to:
        # with ``top_terms_N`` a boolean query of the first N matching terms in dictionary order
        # ("body:prod body:product"), per shard. One search then counts each term's live documents.
        limit = max(1, min(limit, MAX_PREFIX_TERMS))
        body = {"query": {"prefix": {field: {"value": prefix, "rewrite": f"top_terms_{limit}"}}}}
        with unavailable("expanding a wildcard"):
            result = self._client.indices.validate_query(index=self._name, body=body,
                                                         params={"rewrite": "true", "all_shards": "true"})
        terms: set[str] = set()
        for shard in result.get("explanations", []):
            if not shard.get("valid", False):
                raise EngineUnavailable(f"OpenSearch could not expand {prefix}*: {shard.get('error')}")
            terms.update(explained_terms(str(shard.get("explanation", "")), field, prefix))
        ordered = sorted(terms)[:limit]
        if not ordered:
            return []
        filters = {str(i): {"term": {field: term}} for i, term in enumerate(ordered)}
        counted = self._search({"size": 0, "track_total_hits": False,
                                "aggs": {"terms": {"filters": {"filters": filters}}}}, "counting a wildcard's terms")
        buckets = counted["aggregations"]["terms"]["buckets"]
        counts = [(term, int(buckets[str(i)]["doc_count"])) for i, term in enumerate(ordered)]
        return [(term, count) for term, count in counts if count > 0]


def explained_terms(explanation: str, field: str, prefix: str) -> list[str]:
    """The terms of the rewritten prefix query a validation explains: ``body:a body:b``, split only where
    a space precedes the field's label (a term may hold a space); ``body:prefix*`` is the prefix query
    left as it was: no term matched."""
    label = f"{field}:"
    if not explanation.startswith(label) or explanation == f"{label}{prefix}*":
        return []
    return [term for term in explanation[len(label):].split(f" {label}") if term.startswith(prefix)]


def index_exists(client: OpenSearch, name: str) -> bool:
    with unavailable(f"looking for index {name}"):
        return bool(client.indices.exists(index=name))


def delete_indexes(client: OpenSearch, pattern: str) -> None:
    """Delete every index whose name matches ``pattern`` (named one by one: clusters may refuse
    wildcard deletes)."""
    with unavailable(f"deleting {pattern}"):
        try:
            names = list(client.indices.get(index=pattern, params={"expand_wildcards": "open,closed"}))
        except NotFoundError:
            return
        for name in names:
            client.indices.delete(index=name, ignore_unavailable=True)

