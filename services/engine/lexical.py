"""The lexical index: one tantivy index per Kendra index, fed with pre-analysed tokens.

Schema (fixed per *generation*; a new generation is built when UpdateIndex declares new fields):

    id                 raw, stored         the Kendra document id (deletes by term)
    title/body/meta    pre-tokenised text  BM25 fields; meta holds searchable string attributes
    acl_allow/deny     raw, multi-valued   "*" (public), "u:<user>", "g:<group>", "g@<data source>:<group>"
    a_<field>          raw text or i64     every index field, indexed and fast (filters, facets, sort)
    s_<field>          u64                 sortable string fields: first 8 UTF-8 bytes, big-endian

Dates are stored as i64 microseconds since the epoch. One writer per index; commit makes
changes visible to searchers of this process (``reload``).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from services.engine.analysis import Token

STRING = "STRING_VALUE"
STRING_LIST = "STRING_LIST_VALUE"
LONG = "LONG_VALUE"
DATE = "DATE_VALUE"
PUBLIC = "*"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # STRING_VALUE | STRING_LIST_VALUE | LONG_VALUE | DATE_VALUE
    sortable: bool = False


# (term, position, start, end): plain tuples pickle fast between the analysis processes and here.
TokenRow = tuple[str, int, int, int]


def token_rows(tokens: Iterable[Token]) -> list[TokenRow]:
    return [(t.term, t.position, t.start, t.end) for t in tokens]


@dataclass(slots=True)
class LexicalDocument:
    """A document as the lexical index takes it: analysed text, principals, typed attributes."""

    doc_id: str
    title: str
    title_tokens: list[TokenRow]
    body: str
    body_tokens: list[TokenRow]
    meta: str = ""
    meta_tokens: list[TokenRow] = field(default_factory=list)
    acl_allow: list[str] = field(default_factory=lambda: [PUBLIC])
    acl_deny: list[str] = field(default_factory=list)
    # field name -> str | list[str] | int | float (DATE as epoch seconds)
    attributes: dict[str, Any] = field(default_factory=dict)


def attr_field(name: str) -> str:
    return f"a_{name}"


def sort_field(name: str) -> str:
    return f"s_{name}"


def date_micros(seconds: float) -> int:
    return int(round(seconds * 1_000_000))


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
        self._searcher = self._index.searcher()

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
        self._searcher = self._index.searcher()

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

    def searcher(self) -> tantivy.Searcher:
        """The searcher of the last commit (cheap; the object is replaced, never mutated)."""
        return self._searcher

    def num_docs(self) -> int:
        return int(self._searcher.num_docs)
