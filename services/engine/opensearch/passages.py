"""Passage vectors of one index in OpenSearch: the OpenSearch engine's ``PassageStore``.

One OpenSearch index (its name chosen by the engine) per Kendra index and embedding model holds a
document per passage and per title (``kind``), each with its vector in a lucene HNSW ``knn_vector``
(cosine); the model and the layout (services/engine/vectors.py LAYOUT) are in the mapping's ``_meta``.

A key is a hash of the document id and the passage number (a title: of the document id, offset by
``TITLE_KEYS``), and the document's ``_id`` is the key: a document written again overwrites its
passages in place and only a shorter version has passages left to delete. Keys may thus come back
for another version's passage, which only the embedded engine's re-scoring must avoid.
Vectors are rounded through float16 before they are stored, so that cosines equal the embedded
engine's (float16 rows). The indexed ``vector`` is left out of ``_source`` (every hit read would parse
its 384 numbers: 14 ms of a 34 ms knn search at 100k passages); ``vector16``, the same float16 values
in base64, is what reads the vector back (move-index, re-scoring). An index made before ``vector16``
keeps ``vector`` in its source and is read either way. Changes are buffered until
:meth:`OpenSearchPassages.commit`, which writes them in bulk and refreshes the index
(``refresh_interval`` is -1): nothing is visible before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from services.engine.base import TITLE_KEYS, EngineUnavailable, StoredPassage
from services.engine.embedder import Vectors
from services.engine.opensearch.client import complete, unavailable
from services.engine.passages import Passage
from services.engine.vectors import LAYOUT

_SOURCE = ["key", "doc_id", "kind", "number", "start", "end", "text"]  # what searches read (vectors stay there)
_DOCVALUES = _SOURCE[:-1]  # what the nearest passages are read with: no text
_VECTORS = ["vector16", "vector"]  # the vector as stored: base64 float16, or the numbers of an older index
_VECTOR16 = {"vector16": {"type": "binary"}}
_CACHE_LIMIT = 20_000  # sources kept from searches (cleared when full and at every commit)
_BULK_BYTES = 5 << 20
_IDS_PER_REQUEST = 1000
_PAGE = 10_000
_COUNT_SECONDS = 2.0
_PASSAGE_MASK = TITLE_KEYS - 1  # 62 bits
_TITLE_MASK = (1 << 61) - 1


def _hash(person: bytes, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, person=person).digest(), "big")


def passage_key(doc_id: str, number: int) -> int:
    return _hash(b"passage", f"{doc_id}\0{number}") & _PASSAGE_MASK


def title_key(doc_id: str) -> int:
    return TITLE_KEYS + (_hash(b"title", doc_id) & _TITLE_MASK)


def _with_vector(doc: dict[str, Any], vector: Vectors) -> dict[str, Any]:
    """``doc`` with ``vector`` rounded through float16 (exact in float32 and in JSON). A zero vector (a
    text without content) is left out: lucene refuses one under cosine; the document is read back
    with zeros, found by no search, as the embedded engine finds it only at cosine 0."""
    rounded = np.asarray(vector, dtype="<f2").reshape(-1)
    if rounded.any():
        doc["vector"] = [float(x) for x in rounded]
        doc["vector16"] = base64.b64encode(rounded.tobytes()).decode("ascii")
    return doc


def _vector(source: dict[str, Any], dim: int) -> Vectors:
    packed = source.get("vector16")
    if packed is not None:
        return np.frombuffer(base64.b64decode(packed), dtype="<f2").astype(np.float32)
    vector: Vectors = np.asarray(source.get("vector") or np.zeros(dim), dtype=np.float32)
    return vector


def _cosine(score: float) -> float:
    """Lucene's cosinesimil score, (1 + cos) / 2, as the cosine."""
    return 2.0 * float(score) - 1.0


class OpenSearchPassages:
    """The passages and title vectors of one index for one embedding model, in the OpenSearch index
    ``name``. Writes come from one thread (the indexer); searches from any thread."""

    def __init__(self, client: OpenSearch, name: str, dim: int, model: str, shards: int, replicas: int) -> None:
        self.client = client
        self.name = name
        self.dim = dim
        self.model = model
        self._pending: dict[str, list[dict[str, Any]] | None] = {}  # doc id -> its new documents, None: deleted
        self._interrupted = False  # a commit failed after writing: refresh before reading what exists
        self._cache: dict[int, dict[str, Any]] = {}
        self._commits = 0  # a search that spans a commit caches nothing (a key may name a new passage)
        self._lock = threading.Lock()
        self._count: tuple[float, int] | None = None
        with unavailable(f"opening {name}"):
            if not client.indices.exists(index=name):
                self._create(shards, replicas)
            mapping = self._mapping()
        stored = mapping.get("_meta", {}).get("model")
        if stored != model:
            raise ValueError(f"{name} holds vectors of {stored}, not {model}")
        if "vector16" not in mapping.get("properties", {}):  # made before it: add it (the mapping is strict)
            with unavailable(f"opening {name}"):
                client.indices.put_mapping(index=name, body={"properties": _VECTOR16})

    def _create(self, shards: int, replicas: int) -> None:
        vector = {"type": "knn_vector", "dimension": self.dim, "method": {
            "name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
            "parameters": {"ef_construction": 128, "m": 16}}}
        body = {
            "settings": {"index": {"knn": True, "number_of_shards": shards, "number_of_replicas": replicas,
                                   "refresh_interval": "-1"}},
            "mappings": {
                "dynamic": "strict",
                "_meta": {"model": self.model, "layout": LAYOUT},
                "_source": {"excludes": ["vector"]},
                "properties": {
                    "key": {"type": "long"}, "doc_id": {"type": "keyword"}, "kind": {"type": "keyword"},
                    "number": {"type": "integer"}, "start": {"type": "integer"}, "end": {"type": "integer"},
                    "text": {"type": "text", "index": False}, "vector": vector, **_VECTOR16,
                },
            },
        }
        try:
            self.client.indices.create(index=self.name, body=body)
        except RequestError as error:
            if error.error != "resource_already_exists_exception":
                raise

    def _mapping(self) -> dict[str, Any]:
        mapping: dict[str, Any] = next(iter(self.client.indices.get_mapping(index=self.name).values()))["mappings"]
        return mapping

    @property
    def layout(self) -> int:
        with unavailable(f"reading the layout of {self.name}"):
            return int(self._mapping().get("_meta", {}).get("layout", 1))

    def mark_layout_current(self) -> None:
        with unavailable(f"marking the layout of {self.name}"):
            self.client.indices.put_mapping(index=self.name, body={"_meta": {"model": self.model, "layout": LAYOUT}})

    # -- writing (one thread) -----------------------------------------------------------------

    def upsert(self, doc_id: str, passages: Sequence[Passage], vectors: Vectors, title: Vectors | None = None) -> None:
        """Replace the passages (and title vector) of ``doc_id`` (searchable after :meth:`commit`)."""
        docs = [_with_vector({"key": passage_key(doc_id, p.number), "doc_id": doc_id, "kind": "passage",
                              "number": p.number, "start": p.start, "end": p.end, "text": p.text}, v)
                for p, v in zip(passages, vectors, strict=True)]
        if title is not None:
            docs.append(_with_vector({"key": title_key(doc_id), "doc_id": doc_id, "kind": "title"}, title))
        self._pending[doc_id] = docs

    def delete(self, doc_ids: Iterable[str]) -> None:
        for doc_id in doc_ids:
            self._pending[doc_id] = None

    def commit(self) -> None:
        """Write the buffered changes and refresh. If the cluster fails (``EngineUnavailable``) they stay
        buffered for the next commit; documents it refuses (a ``ValueError`` after the rest is written
        and refreshed) are dropped, as writing them again would fail again."""
        if not self._pending:
            return
        with unavailable(f"committing passages to {self.name}"):
            if self._interrupted:
                self.client.indices.refresh(index=self.name)
            existing = {str(hit["_id"]) for hit in self._hits(list(self._pending), None, False)}
            actions: list[str] = []
            written: set[str] = set()
            for docs in self._pending.values():
                for doc in docs or ():
                    written.add(str(doc["key"]))
                    actions.append(json.dumps({"index": {"_id": str(doc["key"])}}) + "\n" + json.dumps(doc))
            actions += [json.dumps({"delete": {"_id": _id}}) for _id in sorted(existing - written)]
            self._interrupted = True
            refused = self._bulk(actions)
            self.client.indices.refresh(index=self.name)
        self._interrupted = False
        self._pending.clear()
        with self._lock:
            self._cache.clear()
            self._commits += 1
            self._count = None
        if refused:
            raise ValueError(f"{self.name} refused {len(refused)} passages: " + "; ".join(refused[:3]))

    def _bulk(self, actions: list[str]) -> list[str]:
        """Send the actions (each its lines: an action and its document) in requests of at most about
        ``_BULK_BYTES``. An item the cluster failed on (5xx, 429) raises ``EngineUnavailable``; those it
        refused (4xx) are returned."""
        refused: list[str] = []
        chunk: list[str] = []
        size = 0
        for i, action in enumerate(actions):
            chunk.append(action)
            size += len(action) + 1
            if i + 1 == len(actions) or size + len(actions[i + 1]) > _BULK_BYTES:
                refused += self._send(chunk)
                chunk, size = [], 0
        return refused

    def _send(self, chunk: list[str]) -> list[str]:
        answer = self.client.bulk(index=self.name, body="\n".join(chunk) + "\n")
        refused: list[str] = []
        for item in answer["items"] if answer.get("errors") else ():
            (action, result), = item.items()
            if "error" not in result:
                continue
            status = result.get("status", 500)
            message = f"{action} {result.get('_id')}: {status} {result['error']}"
            if status >= 500 or status == 429:
                raise EngineUnavailable(f"writing to {self.name}: {message}")
            refused.append(message)
        return refused

    def close(self) -> None:
        """Nothing to close: the client is the engine's."""

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            if self._count is not None and time.monotonic() - self._count[0] < _COUNT_SECONDS:
                return self._count[1]
        with unavailable(f"counting {self.name}"):
            count = int(complete(self.client.count(index=self.name), f"counting {self.name}")["count"])
        with self._lock:
            self._count = (time.monotonic(), count)
        return count

    def search(self, query: Vectors, count: int) -> list[tuple[int, float]]:
        """The ``count`` nearest passages and titles: (key, cosine similarity), best first."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if count <= 0 or not query.any():  # lucene refuses a zero vector; nothing is near one
            return []
        count = min(count, _PAGE)  # knn's k is at most 10,000
        vector = [float(x) for x in query]
        # What a hit names comes from doc values: reading 150 hits' sources (their text) took 20 ms of a
        # 42 ms knn search at 100k passages. Texts are read where the page shows them (StoredPassage.text).
        body = {"size": count, "query": {"knn": {"vector": {"vector": vector, "k": count}}}, "_source": False,
                "docvalue_fields": _DOCVALUES}
        commits = self._commits
        with unavailable(f"searching {self.name}"):
            hits = complete(self.client.search(index=self.name, body=body), f"searching {self.name}")["hits"]["hits"]
        named = [{name: values[0] for name, values in hit.get("fields", {}).items()} for hit in hits]
        # lucene's cosinesimil scores (1 + cos) / 2
        found = [(int(fields["key"]), _cosine(hit["_score"])) for hit, fields in zip(hits, named, strict=True)]
        with self._lock:
            if commits == self._commits:
                if len(self._cache) + len(hits) > _CACHE_LIMIT:
                    self._cache.clear()
                for fields in named:
                    self._cache[int(fields["key"])] = fields
        return found

    def passages(self, keys: Sequence[int]) -> dict[int, StoredPassage]:
        """The passages among ``keys`` (title keys are skipped)."""
        found = self._sources([k for k in keys if k < TITLE_KEYS])
        return {key: self._passage(source) for key, source in found.items()}

    def title_documents(self, keys: Sequence[int]) -> dict[int, str]:
        """Key -> document id, for the title keys among ``keys``."""
        found = self._sources([k for k in keys if k >= TITLE_KEYS])
        return {key: str(source["doc_id"]) for key, source in found.items()}

    def _sources(self, keys: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored sources of ``keys``: from the last searches' cache, the rest by ``mget``."""
        found: dict[int, dict[str, Any]] = {}
        missing: list[int] = []
        with self._lock:
            for key in keys:
                source = self._cache.get(key)
                if source is None:
                    missing.append(key)
                else:
                    found[key] = source
        with unavailable(f"reading passages of {self.name}"):
            for i in range(0, len(missing), _IDS_PER_REQUEST):
                ids = [str(k) for k in missing[i:i + _IDS_PER_REQUEST]]
                answer = self.client.mget(index=self.name, body={"ids": ids}, params={"_source": ",".join(_SOURCE)})
                for doc in answer["docs"]:
                    if doc.get("found"):
                        found[int(doc["_source"]["key"])] = doc["_source"]
        return found

    def title_vectors(self, doc_ids: Sequence[str]) -> dict[str, Vectors]:
        return {hit["_source"]["doc_id"]: _vector(hit["_source"], self.dim)
                for hit in self._hits(doc_ids, "title", ["doc_id", *_VECTORS])}

    def passage_keys(self, doc_ids: Sequence[str]) -> dict[str, list[int]]:
        """Document id -> the keys of its passages (no text or vectors read)."""
        out: dict[str, list[int]] = {}
        for hit in self._hits(doc_ids, "passage", ["key", "doc_id"]):
            out.setdefault(hit["_source"]["doc_id"], []).append(int(hit["_source"]["key"]))
        return out

    def passages_of(self, doc_ids: Sequence[str]) -> dict[str, list[StoredPassage]]:
        """Document id -> its passages in order."""
        out: dict[str, list[StoredPassage]] = {}
        for hit in self._hits(doc_ids, "passage", [*_SOURCE, *_VECTORS]):
            passage = self._passage(hit["_source"], with_vector=True)
            out.setdefault(passage.doc_id, []).append(passage)
        for found in out.values():
            found.sort(key=lambda p: p.number)
        return out

    def scored_passages(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, list[tuple[float, StoredPassage]]]:
        """Each passage's cosine from the vector where it is stored (the knn plugin's scoring script): no
        vector crosses the network."""
        out: dict[str, list[tuple[float, StoredPassage]]] = {}
        for hit in self._hits(doc_ids, "passage", _SOURCE, query):
            passage = self._passage(hit["_source"])
            out.setdefault(passage.doc_id, []).append((_cosine(hit["_score"]), passage))
        for found in out.values():
            found.sort(key=lambda pair: pair[1].number)
        return out

    def title_similarities(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, float]:
        # doc_id from doc values: reading it from _source parses each hit's stored vector (9 ms of 17 at 100k)
        hits = self._hits(doc_ids, "title", False, query, docvalues=["doc_id"])
        return {hit["fields"]["doc_id"][0]: _cosine(hit["_score"]) for hit in hits}

    def _passage(self, source: dict[str, Any], with_vector: bool = False) -> StoredPassage:
        return StoredPassage(int(source["key"]), source["doc_id"], source["number"], source["start"], source["end"],
                             source.get("text"), _vector(source, self.dim) if with_vector else None)

    def _hits(self, doc_ids: Sequence[str], kind: str | None, source: list[str] | bool,
              scored_by: Vectors | None = None, docvalues: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every hit of the documents ``doc_ids`` (of ``kind``, or both kinds): ``_IDS_PER_REQUEST`` ids a
        request, paged by ``search_after`` on the key. With ``scored_by``, each hit's score is its vector's
        lucene cosinesimil score for that query (hits without a vector, zero ones, are left out).
        ``docvalues``: fields read into each hit's ``fields`` from doc values."""
        with unavailable(f"reading passages of {self.name}"):
            for i in range(0, len(doc_ids), _IDS_PER_REQUEST):
                filters: list[dict[str, Any]] = [{"terms": {"doc_id": list(doc_ids[i:i + _IDS_PER_REQUEST])}}]
                if kind is not None:
                    filters.append({"term": {"kind": kind}})
                query: dict[str, Any] = {"bool": {"filter": filters}}
                if scored_by is not None:
                    filters.append({"exists": {"field": "vector"}})
                    vector = [float(x) for x in np.asarray(scored_by, dtype=np.float32).reshape(-1)]
                    query = {"script_score": {"query": query, "script": {
                        "source": "knn_score", "lang": "knn",
                        "params": {"field": "vector", "query_value": vector, "space_type": "cosinesimil"}}}}
                body: dict[str, Any] = {"size": _PAGE, "query": query, "_source": source, "sort": [{"key": "asc"}],
                                        "track_scores": scored_by is not None, "track_total_hits": False}
                if docvalues:
                    body["docvalue_fields"] = list(docvalues)
                while True:
                    found = complete(self.client.search(index=self.name, body=body), f"reading {self.name}")
                    hits = found["hits"]["hits"]
                    yield from hits
                    if len(hits) < _PAGE:
                        break
                    body["search_after"] = hits[-1]["sort"]
