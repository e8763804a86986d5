"""The embedded engine: every index in the data folder, tantivy for the documents (lexical.py) and
usearch + SQLite for the passage vectors (vectors.py). No server to run; one process writes.

    <indexes>/<index id>/lexical-<generation>/   the tantivy index of a schema generation
    <indexes>/<index id>/vectors-<model>/        passages and vectors of one embedding model
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path

from services.engine.document import FieldSpec
from services.engine.lexical import LexicalIndex
from services.engine.vectors import PassageVectors


def model_slug(model: str) -> str:
    """A folder-name (and index-name) safe form of an embedding model's name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:80]


class EmbeddedEngine:
    name = "embedded"
    reads: Executor | None = None  # tantivy and usearch read on this process's cores: nothing to wait for side by side

    def __init__(self, root: Path, writer_heap_bytes: int) -> None:
        self.root = root
        self._heap = writer_heap_bytes

    def lexical_dir(self, index_id: str, generation: int) -> Path:
        return self.root / index_id / f"lexical-{generation}"

    def vectors_dir(self, index_id: str, model: str) -> Path:
        return self.root / index_id / f"vectors-{model_slug(model)}"

    def open_index(self, index_id: str, generation: int, fields: Sequence[FieldSpec]) -> LexicalIndex:
        return LexicalIndex(self.lexical_dir(index_id, generation), fields, self._heap)

    def drop_generation(self, index_id: str, generation: int) -> None:
        shutil.rmtree(self.lexical_dir(index_id, generation), ignore_errors=True)

    def passages(self, index_id: str, model: str, dim: int) -> PassageVectors:
        return PassageVectors(self.vectors_dir(index_id, model), dim, model)

    def has_passages(self, index_id: str, model: str) -> bool:
        return (self.vectors_dir(index_id, model) / "passages.sqlite3").exists()

    def drop_index(self, index_id: str) -> None:
        shutil.rmtree(self.root / index_id, ignore_errors=True)

    def close(self) -> None:
        pass
