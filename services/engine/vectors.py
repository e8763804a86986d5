"""Passage vectors of one index: rows in SQLite (the record), an HNSW graph in usearch (the search).

    <folder>/passages.sqlite3   passages: key, doc_id, number, start, end, text, vector (float16 bytes);
                                titles: key, doc_id, vector (each document's title embedded alone)
    <folder>/hnsw.usearch       the usearch graph (cosine, float16), saved after commits
    <folder>/hnsw.json          the SQLite version the saved graph matches

A title has its own vector because a heading-like query ("Computed Properties > Basic Example")
matches a page's title far better than its body; titles share the graph with passages, under keys
offset by ``TITLE_KEYS``. A passage key is never used again once its passage is replaced or
deleted (``next_key`` in meta), so vectors kept elsewhere under it (services/engine/rescore.py) cannot
be taken for another passage's.
SQLite is the truth: a graph file whose version differs from the database's (a crash after a
commit, before the save) is rebuilt from the rows on open. Writes come from one thread (the
indexer); searches from any thread. A saved graph is opened memory-mapped (read-only, pages shared
through the OS cache); the first write loads it into memory (at 100k passages of 512-d float16,
about 100 MB plus links).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from usearch.index import Index

from services.engine.base import TITLE_KEYS, StoredPassage
from services.engine.embedder import Vectors
from services.engine.passages import Passage
from services.sqlite import connect, rows_where

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id);
CREATE TABLE IF NOT EXISTS titles (
    key INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Save the graph after every commit while it is small; above this, at most every SAVE_SECONDS.
SAVE_ALWAYS_BELOW = 20_000
SAVE_SECONDS = 60.0
# What a vectors folder holds: 1 = passages only, 2 = passages and titles. An older folder is filled
# again from the stored documents (the indexer's backfill), then marked current.
LAYOUT = 2


class PassageVectors:
    """The passages and vectors of one index, for one embedding model: the embedded engine's
    ``PassageStore`` (services/engine/base.py)."""

    def __init__(self, folder: Path, dim: int, model: str) -> None:
        self.folder = folder
        self.dim = dim
        folder.mkdir(parents=True, exist_ok=True)
        self._db = connect(folder / "passages.sqlite3")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        stored_model = self._meta("model")
        if stored_model is None:
            self._set_meta("model", model)
            self._set_meta("layout", str(LAYOUT))
        elif stored_model != model:
            raise ValueError(f"{folder} holds vectors of {stored_model}, not {model}")
        self._next_key = max(int(self._meta("next_key") or "1"),
                             int(self._db.execute("SELECT coalesce(max(key), 0) + 1 FROM passages").fetchone()[0]))
        self._dirty = False
        self._saved_at = time.monotonic()
        self._mapped = False  # the graph is a read-only view of hnsw.usearch
        self._graph = self._open_graph()
        self._db.execute("BEGIN")

    @property
    def layout(self) -> int:
        return int(self._meta("layout") or "1")

    def mark_layout_current(self) -> None:
        with self._lock:
            self._writable()  # the commit saves the graph with the new version
            self._set_meta("layout", str(LAYOUT))
            self._dirty = True

    # -- graph file ---------------------------------------------------------------------------

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def _new_graph(self) -> Index:
        return Index(ndim=self.dim, metric="cos", dtype="f16")

    def _open_graph(self) -> Index:
        version = self._meta("version") or "0"
        path, info = self.folder / "hnsw.usearch", self.folder / "hnsw.json"
        if path.exists() and info.exists():
            try:
                if json.loads(info.read_text())["version"] == version:
                    graph = self._new_graph()
                    graph.view(str(path))
                    self._mapped = True
                    return graph
            except (ValueError, KeyError, RuntimeError, OSError):
                pass  # unreadable or stale: rebuilt below
        graph = self._new_graph()
        keys: list[int] = []
        vectors: list[bytes] = []
        rows = self._db.execute(
            f"SELECT key, vector FROM passages UNION ALL SELECT key + {TITLE_KEYS}, vector FROM titles")
        for key, blob in rows:
            keys.append(key)
            vectors.append(blob)
            if len(keys) >= 10_000:
                self._add(graph, keys, vectors)
                keys, vectors = [], []
        self._add(graph, keys, vectors)
        return graph

    def _add(self, graph: Index, keys: list[int], blobs: list[bytes]) -> None:
        if keys:
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(keys), self.dim)
            graph.add(np.asarray(keys, dtype=np.uint64), matrix.astype(np.float32))

    def _save(self) -> None:
        path, info = self.folder / "hnsw.usearch", self.folder / "hnsw.json"
        tmp = path.with_suffix(".tmp")
        self._graph.save(str(tmp))
        tmp.replace(path)
        info.write_text(json.dumps({"version": self._meta("version") or "0"}))
        self._saved_at = time.monotonic()
        self._dirty = False

    # -- writing (one thread) -----------------------------------------------------------------

    def _writable(self) -> None:
        """Load the memory-mapped graph into memory before its first change."""
        if self._mapped:
            graph = self._new_graph()
            graph.load(str(self.folder / "hnsw.usearch"))
            self._graph, self._mapped = graph, False

    def upsert(self, doc_id: str, passages: Sequence[Passage], vectors: Vectors,
               title: Vectors | None = None) -> None:
        """Replace the passages (and title vector) of ``doc_id`` (durable at the next commit)."""
        with self._lock:
            self._writable()
            self._delete_one(doc_id)
            keys: list[int] = []
            blobs: list[bytes] = []
            for passage, vector in zip(passages, vectors, strict=True):
                blob = to_blob(vector)
                self._db.execute(
                    "INSERT INTO passages (key, doc_id, number, start, end, text, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self._next_key, doc_id, passage.number, passage.start, passage.end, passage.text, blob),
                )
                keys.append(self._next_key)
                blobs.append(blob)
                self._next_key += 1
            self._set_meta("next_key", str(self._next_key))
            if title is not None:
                blob = to_blob(title)
                cur = self._db.execute("INSERT INTO titles (doc_id, vector) VALUES (?, ?)", (doc_id, blob))
                keys.append(int(cur.lastrowid or 0) + TITLE_KEYS)
                blobs.append(blob)
            self._add(self._graph, keys, blobs)
            self._dirty = True

    def delete(self, doc_ids: Iterable[str]) -> None:
        with self._lock:
            self._writable()
            for doc_id in doc_ids:
                self._delete_one(doc_id)
            self._dirty = True

    def _delete_one(self, doc_id: str) -> None:
        keys = [k for (k,) in self._db.execute(
            f"SELECT key FROM passages WHERE doc_id = ?"
            f" UNION ALL SELECT key + {TITLE_KEYS} FROM titles WHERE doc_id = ?",
            (doc_id, doc_id))]
        if keys:
            self._db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            self._db.execute("DELETE FROM titles WHERE doc_id = ?", (doc_id,))
            self._graph.remove(np.asarray(keys, dtype=np.uint64))

    def commit(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            version = int(self._meta("version") or "0") + 1
            self._set_meta("version", str(version))
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            if len(self._graph) < SAVE_ALWAYS_BELOW or time.monotonic() - self._saved_at > SAVE_SECONDS:
                self._save()
            else:
                self._dirty = True  # saved on a later commit or at close

    def close(self) -> None:
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
            if self._dirty:
                self._save()
            self._db.close()

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._graph)

    def search(self, query: Vectors, count: int) -> list[tuple[int, float]]:
        """The ``count`` nearest passages and titles: (key, cosine similarity), best first."""
        with self._lock:
            if len(self._graph) == 0:
                return []
            found = self._graph.search(np.asarray(query, dtype=np.float32).reshape(-1), count)
        return [(int(k), 1.0 - float(d)) for k, d in zip(found.keys, found.distances, strict=True)]

    def passages(self, keys: Sequence[int]) -> dict[int, StoredPassage]:
        return self._select("key", [k for k in keys if k < TITLE_KEYS])

    def title_documents(self, keys: Sequence[int]) -> dict[int, str]:
        """Graph key -> document id, for the title keys among ``keys``."""
        wanted = [k - TITLE_KEYS for k in keys if k >= TITLE_KEYS]
        return {key + TITLE_KEYS: doc_id for key, doc_id, _ in self._titles("key", wanted)}

    def title_vectors(self, doc_ids: Sequence[str]) -> dict[str, Vectors]:
        return {doc_id: vector for _, doc_id, vector in self._titles("doc_id", doc_ids)}

    def _titles(self, column: str, values: Sequence[object]) -> list[tuple[int, str, Vectors]]:
        rows = self._rows_where("SELECT key, doc_id, vector FROM titles", column, values)
        return [(key, doc_id, from_blob(blob)) for key, doc_id, blob in rows]

    def scored_passages(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, list[tuple[float, StoredPassage]]]:
        out: dict[str, list[tuple[float, StoredPassage]]] = {}
        for doc_id, ps in self.passages_of(doc_ids).items():
            sims = np.stack([p.vector for p in ps if p.vector is not None]) @ query  # all read here
            out[doc_id] = [(float(sim), p) for sim, p in zip(sims, ps, strict=True)]
        return out

    def title_similarities(self, doc_ids: Sequence[str], query: Vectors) -> dict[str, float]:
        return {doc_id: float(vector @ query) for doc_id, vector in self.title_vectors(doc_ids).items()}

    def passage_keys(self, doc_ids: Sequence[str]) -> dict[str, list[int]]:
        """Document id -> the keys of its passages (no text or vectors read)."""
        out: dict[str, list[int]] = {}
        for key, doc_id in self._rows_where("SELECT key, doc_id FROM passages", "doc_id", doc_ids):
            out.setdefault(doc_id, []).append(key)
        return out

    def passages_of(self, doc_ids: Sequence[str]) -> dict[str, list[StoredPassage]]:
        out: dict[str, list[StoredPassage]] = {}
        for p in self._select("doc_id", doc_ids).values():
            out.setdefault(p.doc_id, []).append(p)
        for found in out.values():
            found.sort(key=lambda p: p.number)
        return out

    def _select(self, column: str, values: Sequence[object]) -> dict[int, StoredPassage]:
        rows = self._rows_where("SELECT key, doc_id, number, start, end, text, vector FROM passages", column, values)
        return {key: StoredPassage(key, doc_id, number, start, end, text, from_blob(blob))
                for key, doc_id, number, start, end, text, blob in rows}

    def _rows_where(self, select: str, column: str, values: Sequence[object]) -> list[Any]:
        with self._lock:
            return rows_where(self._db, select, column, values)


def to_blob(vector: Vectors) -> bytes:
    """A vector as stored: float16 bytes."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_blob(blob: bytes) -> Vectors:
    vector: Vectors = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    return vector
