"""The search-engine interface: what the index service writes through and the query layer reads through.

An :class:`Engine` (``KENSAKU_ENGINE``: services/engine/embedded.py, services/engine/opensearch/) opens,
per Kendra index, a :class:`SearchIndex` (the analysed documents, BM25) and a :class:`PassageStore` (the
passages and title vectors of one embedding model). A search index hands out a :class:`Reader`: a
point-in-time view that answers queries of the neutral model (services/engine/query.py).
docs/engine.md says what each method promises and what each engine maps it to.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

from services.engine.document import FieldSpec, LexicalDocument
from services.engine.embedder import Vectors
from services.engine.passages import Passage
from services.engine.query import Query, TextField


class EngineUnavailable(Exception):
    """The engine could not be reached or answered with a server error (a cluster down, a timeout). Not
    the caller's fault: a query fails with InternalServerException, queued documents wait and are retried."""

DocRef = Hashable
"""A document as one reader's results name it (tantivy: its segment and ordinal; OpenSearch: its _id).
Meaningful only to the reader that returned it; turned into a document id by :meth:`Reader.stored`."""


@dataclass(slots=True)  # not frozen: a search makes one per hit, and frozen ones take three times as long
class Hit:
    score: float
    ref: DocRef


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit]  # best first (or in the sort's order)
    total: int  # every document the query matches


@dataclass(frozen=True, slots=True)
class SortKey:
    """Sort by an attribute (a STRING, LONG or DATE field of the index; missing values last)."""

    name: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Facet:
    """Count the values of an attribute among the matches: the ``size`` most frequent, each counted again
    by the values of ``nested`` (Kendra's one level of nesting)."""

    name: str
    size: int
    nested: Facet | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    value: str | int  # LONG and DATE values are integers (DATE in microseconds)
    count: int
    nested: list[Bucket] = field(default_factory=list)


@dataclass(slots=True)  # one per document read, as Hit
class Stored:
    """What an engine keeps of a document besides its index terms."""

    doc_id: str
    attributes: Mapping[str, str]  # the STRING attributes asked for that the document has


class Reader(Protocol):
    """One index as of its last commit. Every change committed before the reader was taken is visible
    to it, none after; a new commit gives a new reader object (callers compare them by identity)."""

    def search(self, query: Query, limit: int, sort: Sequence[SortKey] = ()) -> Found:
        """The first ``limit`` matches: by score, or by ``sort`` (ties by score, then by the score
        order), with their scores and how many documents match in all."""
        ...

    def count(self, query: Query) -> int:
        """How many documents match."""
        ...

    def facets(self, query: Query, facets: Sequence[Facet]) -> list[list[Bucket]]:
        """Per facet, its most frequent values among the matches, most frequent first."""
        ...

    def stored(self, refs: Sequence[DocRef], attributes: Sequence[str] = ()) -> list[Stored]:
        """The document id and the named stored attributes of each document, in the order of ``refs``."""
        ...

    def terms_held(self, docs: Mapping[str, DocRef], fields: Sequence[TextField],
                   terms: Sequence[str]) -> dict[str, set[str]]:
        """Per document (id -> its ref), which of ``terms`` it holds in any of ``fields``."""
        ...

    def num_docs(self) -> int:
        """Documents in the index: the N of BM25's inverse document frequency."""
        ...

    def terms_with_prefix(self, field: TextField, prefix: str, limit: int) -> list[tuple[str, int]]:
        """The index's terms of ``field`` that begin with ``prefix`` (a wildcard's expansions), each with
        the number of documents holding it; the first ``limit`` in the term dictionary's order (code
        points), in that order. Terms only deleted documents held are left out."""
        ...

    def doc_freq(self, field: TextField, term: str) -> int:
        """Documents holding ``term`` in ``field`` (BM25's df; may still count deleted documents)."""
        ...


class SearchIndex(Protocol):
    """The analysed documents of one Kendra index (one schema *generation*); written by one thread."""

    def upsert(self, docs: Iterable[LexicalDocument]) -> None:
        """Add or replace documents (visible after :meth:`commit`)."""
        ...

    def delete(self, doc_ids: Iterable[str]) -> None:
        ...

    def commit(self) -> None:
        """Make every change so far durable and searchable; then :meth:`reader` is a new reader."""
        ...

    def rollback(self) -> None:
        """Discard every change since the last commit."""
        ...

    def close(self) -> None:
        ...

    def destroy(self) -> None:
        """Close and delete everything this index holds."""
        ...

    def reader(self) -> Reader:
        """The reader of the last commit (cheap: the object is replaced, never mutated)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredPassage:
    key: int
    doc_id: str
    number: int
    start: int
    end: int
    text: str | None  # None where it was not read (OpenSearch's nearest passages): see ``text_in``
    vector: Vectors | None  # float32, L2-normalised; None where it was not read (search results)

    def text_in(self, body: str) -> str:
        """The passage's text: as read, or its span of ``body``, the document's text (a passage is a span of
        the body it was cut from; a body stored since may cut a passage read just before it oddly, once)."""
        return self.text if self.text is not None else body[self.start:self.end]


# Keys at and above this are titles (each document's title embedded alone); below, passages.
TITLE_KEYS = 1 << 62


class PassageStore(Protocol):
    """The passages of one index with their vectors (one embedding model), and each document's title
    vector; nearest-neighbour search over both. A key names one passage (or title) of one document."""

    @property
    def layout(self) -> int:
        """What the store holds (services/engine/vectors.py LAYOUT); an older one is filled again."""
        ...

    def mark_layout_current(self) -> None:
        ...

    def upsert(self, doc_id: str, passages: Sequence[Passage], vectors: Vectors, title: Vectors | None = None) -> None:
        """Replace the passages (and title vector) of ``doc_id`` (searchable after :meth:`commit`)."""
        ...

    def delete(self, doc_ids: Iterable[str]) -> None:
        ...

    def commit(self) -> None:
        ...

    def close(self) -> None:
        ...

    def __len__(self) -> int:
        """How many vectors (passages and titles) the store holds (0: rank without vectors)."""
        ...

    def search(self, query: Vectors, count: int) -> list[tuple[int, float]]:
        """The ``count`` nearest passages and titles: (key, cosine similarity), best first."""
        ...

    def passages(self, keys: Sequence[int]) -> dict[int, StoredPassage]:
        """The passages among ``keys`` (title keys are skipped); their texts may be left unread (None)."""
        ...

    def title_documents(self, keys: Sequence[int]) -> dict[int, str]:
        """Key -> document id, for the title keys among ``keys``."""
        ...

    def title_vectors(self, doc_ids: Sequence[str]) -> dict[str, Vectors]:
        ...

    def scored_passages(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, list[tuple[float, StoredPassage]]]:
        """Document id -> each of its passages, in order, with its text and its cosine to ``query`` (computed
        where the vectors are: an engine need not send them)."""
        ...

    def title_similarities(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, float]:
        """Document id -> the cosine of its title vector to ``query`` (documents with one)."""
        ...

    def passage_keys(self, doc_ids: Sequence[str]) -> dict[str, list[int]]:
        """Document id -> the keys of its passages."""
        ...

    def passages_of(self, doc_ids: Sequence[str]) -> dict[str, list[StoredPassage]]:
        """Document id -> its passages in order, with their texts and vectors."""
        ...


class Engine(Protocol):
    """Where indexes live: the embedded engine (a data folder) or an OpenSearch cluster."""

    name: str
    # Where the independent reads of one query are sent at once: an engine whose reads wait on the
    # network (OpenSearch) has a thread pool; None where reads are CPU work on the query's own cores.
    reads: Executor | None

    def open_index(self, index_id: str, generation: int, fields: Sequence[FieldSpec]) -> SearchIndex:
        """The search index of ``index_id``'s schema generation, created empty if it does not exist."""
        ...

    def drop_generation(self, index_id: str, generation: int) -> None:
        """Delete a generation's search index if it exists (a rebuild starts from nothing)."""
        ...

    def passages(self, index_id: str, model: str, dim: int) -> PassageStore:
        """The passage store of ``index_id`` for embedding model ``model``, created empty if needed."""
        ...

    def has_passages(self, index_id: str, model: str) -> bool:
        ...

    def drop_index(self, index_id: str) -> None:
        """Delete everything the engine holds of ``index_id`` (every generation, every model's passages)."""
        ...

    def close(self) -> None:
        ...
