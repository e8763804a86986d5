"""Vectors of a second, stronger model for the passages of one index, for re-scoring a query's top
documents (services/query/hybrid.py).

The stronger model (multilingual-e5-small: about 6 passages/s on 2 cores against USE's 150) is too slow
to run at BatchPutDocument time, so its vectors are filled in the background from the passages already
indexed (services/index/rescoring.py). They live beside the passages:

    <vectors folder>/rescore-<model>.sqlite3   vectors: key (the passage's), vector (float16 bytes)

Passage keys are never reused (services/engine/vectors.py), so a vector stored under a key belongs to
that passage's text for as long as the key exists; keys whose passage is gone are pruned.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

from services.engine.embedder import Vectors
from services.engine.vectors import from_blob, to_blob
from services.sqlite import connect, rows_where, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (key INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""
# Passages the filler reads and embeds at a time.
FILL_BATCH = 16


def rescore_path(vectors_folder: Path, model: str) -> Path:
    return vectors_folder / f"rescore-{re.sub(r'[^A-Za-z0-9_.-]+', '_', model)[:80]}.sqlite3"


class RescoreVectors:
    """The re-scoring model's vectors of one index's passages (read by queries, written by the filler)."""

    def __init__(self, vectors_folder: Path, model: str) -> None:
        self._db = connect(rescore_path(vectors_folder, model))
        self._db.executescript(_SCHEMA)
        self._db.execute("ATTACH DATABASE ? AS p", (str(vectors_folder / "passages.sqlite3"),))
        self._lock = threading.Lock()

    def passages_version(self) -> str:
        """The passages' committed version (services/engine/vectors.py bumps it on every commit)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM p.meta WHERE name = 'version'").fetchone()
        return "0" if row is None else str(row[0])

    def missing(self, limit: int = FILL_BATCH) -> list[tuple[int, str, str]]:
        """Passages (key, doc id, text) without a vector yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, doc_id, text FROM p.passages WHERE key NOT IN (SELECT key FROM main.vectors)"
                " ORDER BY key LIMIT ?", (limit,)).fetchall()
        return [(int(key), str(doc_id), str(text)) for key, doc_id, text in rows]

    def pending(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM p.passages WHERE key NOT IN (SELECT key FROM main.vectors)").fetchone()
        return int(row[0])

    def put(self, keys: Sequence[int], vectors: Vectors) -> None:
        rows = [(int(k), to_blob(v)) for k, v in zip(keys, vectors, strict=True)]
        with transaction(self._db, self._lock) as db:
            db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)

    def prune(self) -> int:
        """Forget the vectors of passages that were replaced or deleted."""
        with self._lock:
            cur = self._db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM p.passages)")
        return int(cur.rowcount)

    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        with self._lock:
            rows = rows_where(self._db, "SELECT key, vector FROM vectors", "key", [int(k) for k in keys])
        return {int(key): from_blob(blob) for key, blob in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
