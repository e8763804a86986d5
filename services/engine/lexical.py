"""The lexical index: one tantivy index per Kendra index, fed with pre-analysed tokens; the embedded
engine's implementation of the reader interface (services/engine/base.py).

Schema (fixed per *generation*; a new generation is built when UpdateIndex declares new fields):

    id                 raw, stored         the Kendra document id (deletes by term)
    title/body/meta    pre-tokenised text  BM25 fields; meta holds searchable string attributes
    acl_allow/deny     raw, multi-valued   "*" (public), "u:<user>", "g:<group>", "g@<data source>:<group>";
                                           allow also "h<i>/" and "h<i>/<term>" (hierarchical ACL levels)
    a_<field>          raw text or i64     every index field, indexed and fast (filters, facets, sort)
    s_<field>          u64                 sortable string fields: first 8 UTF-8 bytes, big-endian

Dates are stored as i64 microseconds since the epoch. One writer per index; commit makes
changes visible to readers of this process (``reload``). Neutral queries (services/engine/query.py)
are compiled to tantivy queries here, and nowhere else.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, assert_never, cast

import tantivy
from tantivy import FieldType, Occur, Order

from services.engine.base import Bucket, DocRef, Facet, Found, Hit, SortKey, Stored
from services.engine.document import LONG, STRING, STRING_LIST, FieldSpec, LexicalDocument, TokenRow
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
    any_of,
    date_micros,
)

# Sorted searches take every match that ties with the window's last one: at most this many.
MAX_SORT_CANDIDATES = 200_000


def attr_field(name: str) -> str:
    return f"a_{name}"


def sort_field(name: str) -> str:
    return f"s_{name}"


def string_sort_key(value: str) -> int:
    """A u64 whose order agrees with the order of strings (exact for strings of ≤ 8 bytes)."""
    return int.from_bytes(value.encode("utf-8")[:8].ljust(8, b"\0"), "big")


def build_schema(fields: Sequence[FieldSpec]) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("title", "body", "meta"):
        sb.add_text_field(name, tokenizer_name="raw", index_option="position")
    sb.add_text_field("acl_allow", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("acl_deny", tokenizer_name="raw", index_option="basic")
    for spec in fields:
        if spec.kind in (STRING, STRING_LIST):
            # Stored too: exact values break ties of the 8-byte sort prefix.
            sb.add_text_field(attr_field(spec.name), stored=spec.kind == STRING, fast=True, tokenizer_name="raw",
                              index_option="basic")
            if spec.kind == STRING:
                sb.add_unsigned_field(sort_field(spec.name), fast=True)
        else:
            sb.add_integer_field(attr_field(spec.name), indexed=True, fast=True)
    return sb.build()


def _pre_tokenized(text: str, rows: list[TokenRow]) -> tantivy.PreTokenizedString:
    make = tantivy.Token
    return tantivy.PreTokenizedString(text, [make(*row) for row in rows])


class LexicalIndex:
    """A tantivy index in ``path`` for the given fields; safe to search while one thread writes."""

    def __init__(self, path: Path, fields: Sequence[FieldSpec], heap_bytes: int = 128_000_000) -> None:
        self.path = path
        self.fields = {f.name: f for f in fields}
        self.schema = build_schema(fields)
        path.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self._heap_bytes = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()
        self._reader = LexicalReader(self._index.searcher(), self.schema, self.fields)

    # -- writing (one writer thread) ----------------------------------------------------------

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=self._heap_bytes, num_threads=1)
        return self._writer

    def upsert(self, docs: Iterable[LexicalDocument]) -> None:
        with self._write_lock:
            writer = self._get_writer()
            for doc in docs:
                writer.delete_documents_by_term("id", doc.doc_id)
                writer.add_document(self._to_tantivy(doc))

    def delete(self, doc_ids: Iterable[str]) -> None:
        with self._write_lock:
            writer = self._get_writer()
            for doc_id in doc_ids:
                writer.delete_documents_by_term("id", doc_id)

    def commit(self) -> None:
        """Make every change so far durable and visible to new searchers."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.commit()
        self._index.reload()
        self._reader = LexicalReader(self._index.searcher(), self.schema, self.fields)

    def rollback(self) -> None:
        """Discard every change since the last commit."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.rollback()

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None

    def destroy(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def _to_tantivy(self, doc: LexicalDocument) -> tantivy.Document:
        out = tantivy.Document()
        out.add_text("id", doc.doc_id)
        title = _pre_tokenized(doc.title, doc.title_tokens)
        out.add_pre_tokenized_text("title", title)
        # The body field scores "title, then text" as one text (a second value of the field); the
        # title field adds its own boost on top. Separate fields alone measured worse on every
        # shared set (bench/relevance.py).
        if doc.title_tokens:
            out.add_pre_tokenized_text("body", title)
        out.add_pre_tokenized_text("body", _pre_tokenized(doc.body, doc.body_tokens))
        if doc.meta_tokens:
            out.add_pre_tokenized_text("meta", _pre_tokenized(doc.meta, doc.meta_tokens))
        for principal in doc.acl_allow:
            out.add_text("acl_allow", principal)
        for principal in doc.acl_deny:
            out.add_text("acl_deny", principal)
        for name, value in doc.attributes.items():
            spec = self.fields.get(name)
            if spec is None:
                continue
            target = attr_field(name)
            if spec.kind == STRING:
                out.add_text(target, value)
                out.add_unsigned(sort_field(name), string_sort_key(value))
            elif spec.kind == STRING_LIST:
                for item in value:
                    out.add_text(target, item)
            elif spec.kind == LONG:
                out.add_integer(target, int(value))
            else:
                out.add_integer(target, date_micros(value))
        return out

    # -- reading -----------------------------------------------------------------------------

    def reader(self) -> LexicalReader:
        """The reader of the last commit (cheap; the object is replaced, never mutated)."""
        return self._reader


def compile_query(query: Query, schema: tantivy.Schema) -> tantivy.Query:
    """The tantivy query of a neutral one (services/engine/query.py)."""
    # isinstance in the order of frequency: twice as fast as ``match`` with class patterns, and every
    # search compiles its query.
    make = tantivy.Query
    if isinstance(query, Term):
        return make.term_query(schema, _field_name(query.field), query.value)
    if isinstance(query, Bool):
        return make.boolean_query([(Occur.Must, compile_query(q, schema)) for q in query.must]
                                  + [(Occur.Should, compile_query(q, schema)) for q in query.should]
                                  + [(Occur.MustNot, compile_query(q, schema)) for q in query.must_not])
    if isinstance(query, Boost):
        return make.boost_query(compile_query(query.query, schema), query.factor)
    if isinstance(query, NoScore):
        return make.const_score_query(compile_query(query.query, schema), 0.0)
    if isinstance(query, Terms):
        return make.term_set_query(schema, _field_name(query.field), list(query.values))
    if isinstance(query, Phrase):
        return make.phrase_query(schema, query.field, list(query.terms), slop=query.slop)
    if isinstance(query, Range):
        return make.range_query(schema, attr_field(query.field.name), FieldType.Integer, lower_bound=query.lower,
                                upper_bound=query.upper, include_lower=query.include_lower,
                                include_upper=query.include_upper)
    if isinstance(query, MatchAll):
        return make.all_query()
    if isinstance(query, MatchNone):
        return make.empty_query()
    assert_never(query)


def _field_name(field: str | Attribute) -> str:
    return field if isinstance(field, str) else attr_field(field.name)


def _address(ref: DocRef) -> tantivy.DocAddress:
    segment, doc = cast(tuple[int, int], ref)
    return tantivy.DocAddress(segment, doc)


def _hits(result: tantivy.SearchResult) -> list[Hit]:
    # A ref is the address as a tuple: tantivy's DocAddress cannot be hashed or compared.
    return [Hit(float(score), (address.segment_ord, address.doc)) for score, address in result.hits]


class LexicalReader:
    """The engine's reader (services/engine/base.py) over one tantivy searcher."""

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema, fields: Mapping[str, FieldSpec]) -> None:
        self._searcher = searcher
        self._schema = schema
        self._fields = fields

    def _search(self, query: Query, limit: int) -> Found:
        result = self._searcher.search(compile_query(query, self._schema), limit=limit, count=True)
        return Found(_hits(result), int(result.count))  # type: ignore[attr-defined]  # missing from the stub

    def search(self, query: Query, limit: int, sort: Sequence[SortKey] = ()) -> Found:
        return self._sorted(query, sort, limit) if sort else self._search(query, limit)

    def count(self, query: Query) -> int:
        return self._search(query, 1).total

    def facets(self, query: Query, facets: Sequence[Facet]) -> list[list[Bucket]]:
        def agg(facet: Facet) -> dict[str, Any]:
            spec: dict[str, Any] = {"terms": {"field": attr_field(facet.name), "size": facet.size}}
            if facet.nested is not None:
                spec["aggs"] = {"nested": agg(facet.nested)}
            return spec

        def buckets(result: dict[str, Any]) -> list[Bucket]:
            return [Bucket(key if isinstance(key := b["key"], str) else int(key), b["doc_count"],
                           buckets(b["nested"]) if "nested" in b else []) for b in result.get("buckets", [])]

        result = self._searcher.aggregate(compile_query(query, self._schema),
                                          {f"f{i}": agg(f) for i, f in enumerate(facets)})
        return [buckets(result.get(f"f{i}", {})) for i in range(len(facets))]

    def stored(self, refs: Sequence[DocRef], attributes: Sequence[str] = ()) -> list[Stored]:
        out = []
        for ref in refs:
            doc = self._searcher.doc(_address(ref))
            values = {name: value for name in attributes if (value := doc.get_first(attr_field(name))) is not None}
            out.append(Stored(str(doc.get_first("id")), values))
        return out

    def terms_held(self, docs: Mapping[str, DocRef], fields: Sequence[TextField],
                   terms: Sequence[str]) -> dict[str, set[str]]:
        held: dict[str, set[str]] = {doc_id: set() for doc_id in docs}
        if not docs:
            return held
        by_ref = {ref: doc_id for doc_id, ref in docs.items()}
        among = compile_query(Terms("id", tuple(docs)), self._schema)  # once for every term
        for term in terms:
            has = compile_query(any_of(Term(f, term) for f in fields), self._schema)
            both = tantivy.Query.boolean_query([(Occur.Must, has), (Occur.Must, among)])
            for hit in _hits(self._searcher.search(both, limit=len(docs))):
                if (doc_id := by_ref.get(hit.ref)) is not None:
                    held[doc_id].add(term)
        return held

    def num_docs(self) -> int:
        return int(self._searcher.num_docs)

    def doc_freq(self, field: TextField, term: str) -> int:
        return int(self._searcher.doc_freq(field, term))

    def terms_with_prefix(self, field: TextField, prefix: str, limit: int) -> list[tuple[str, int]]:
        # The term dictionary's walk, counting live documents only (the filter skips deleted ones and
        # leaves out the terms only they held); tantivy orders by count: back to the dictionary's order.
        found = self._searcher.terms_with_prefix(field, prefix, filter_query=tantivy.Query.all_query())
        return sorted((str(term), int(count)) for term, count in found if count > 0)[:limit]

    # -- sorting -------------------------------------------------------------------------------
    # tantivy sorts by one fast column at a time, and a string column only by its 8-byte prefix
    # (``sort_field``): the first key picks a few candidates, Python orders them by every key.

    def _column(self, key: SortKey) -> tuple[str, FieldType]:
        if self._fields[key.name].kind == STRING:
            return sort_field(key.name), FieldType.Unsigned
        return attr_field(key.name), FieldType.Integer

    def _candidates(self, query: tantivy.Query, keys: Sequence[SortKey],
                    window_end: int) -> list[tuple[Hit, int]]:
        """A few matches, with their relevance scores, that surely include the first ``window_end``; each
        with its place in its search's relevance order (the last tie-breaker, stable across pages).

        tantivy finds the primary sort value of the last document in the window; every match that
        sorts strictly before it, and every match that ties with it, is a candidate. Documents
        without a value sort last (Kendra's order) and are needed only when the window has room.
        """
        column, kind = self._column(keys[0])
        desc = keys[0].descending
        has_value = tantivy.Query.const_score_query(tantivy.Query.exists_query(column), 0.0)

        def scored(restriction: tantivy.Query, limit: int) -> list[tuple[Hit, int]]:
            both = tantivy.Query.boolean_query([(Occur.Must, query), (Occur.Must, restriction)])
            return [(hit, rank) for rank, hit in enumerate(_hits(self._searcher.search(both, limit=limit)))]

        order = Order.Desc if desc else Order.Asc
        with_value = tantivy.Query.boolean_query([(Occur.Must, query), (Occur.Must, has_value)])
        top = self._searcher.search(with_value, limit=window_end, order_by_field=column, order=order)
        if len(top.hits) < window_end:  # every match with a value fits: take them, then the rest by relevance
            hits = scored(has_value, window_end)
            lacking = tantivy.Query.boolean_query([(Occur.Must, tantivy.Query.all_query()),
                                                   (Occur.MustNot, has_value)])
            # With further sort keys every such match competes; otherwise relevance alone orders them.
            room = MAX_SORT_CANDIDATES if len(keys) > 1 else window_end - len(hits)
            return hits + scored(tantivy.Query.const_score_query(lacking, 0.0), room)
        boundary = int(top.hits[-1][0])
        before = tantivy.Query.range_query(
            self._schema, column, kind,
            lower_bound=boundary if desc else None, upper_bound=None if desc else boundary,
            include_lower=not desc, include_upper=desc,
        )
        tied = tantivy.Query.range_query(self._schema, column, kind, boundary, boundary)
        return (scored(tantivy.Query.const_score_query(before, 0.0), window_end)
                + scored(tantivy.Query.const_score_query(tied, 0.0), MAX_SORT_CANDIDATES))

    def _sorted(self, neutral: Query, keys: Sequence[SortKey], window_end: int) -> Found:
        """The matches ordered by the sort keys (missing values last), ties by relevance."""
        query = compile_query(neutral, self._schema)
        total = int(self._searcher.search(query, limit=1, count=True).count)  # type: ignore[attr-defined]
        hits = self._candidates(query, keys, window_end) if total else []
        addresses = [_address(hit.ref) for hit, _ in hits]
        columns = [self._searcher.fast_field_values(self._column(key)[0], addresses) if addresses else []
                   for key in keys]

        def key(i: int) -> tuple[Any, ...]:
            parts: list[Any] = []
            for sort_key, column in zip(keys, columns, strict=True):
                value = column[i]
                parts.append((1, 0) if value is None else (0, -value if sort_key.descending else value))
            parts.append(-hits[i][0].score)
            parts.append(hits[i][1])
            return tuple(parts)

        order = sorted(range(len(hits)), key=key)
        strings = [n for n, k in enumerate(keys) if self._fields[k.name].kind == STRING]
        if strings and order:
            # String keys were compared by an 8-byte prefix. Up to the first string key that order is
            # exact; every hit not after the window's last hit there is re-sorted on exact values.
            cut = strings[0] + 1
            last = key(order[min(window_end, len(order)) - 1])[:cut]
            candidates = [i for i in order if key(i)[:cut] <= last]
            stored = {i: self._searcher.doc(addresses[i]) for i in candidates}

            def exact(i: int) -> tuple[Any, ...]:
                parts = list(key(i))
                for n in strings:
                    values = stored[i].get_all(attr_field(keys[n].name))
                    parts[n] = (1, 0) if not values else (0, _Desc(values[0]) if keys[n].descending else values[0])
                return tuple(parts)

            order = sorted(candidates, key=exact)
        return Found([hits[i][0] for i in order[:window_end]], total)


class _Desc:
    """Reverses the order of a string inside a sort key."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value
