"""The passage vectors of every index in this process, and the embedding model that makes them.

Each index keeps its vectors in ``<index folder>/vectors-<model>/``; a server started with another
model builds a fresh folder (the indexer fills it from the stored documents). With a re-scoring model,
its vectors of the same passages live in that folder too (services/engine/rescore.py).
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from services.engine.embedder import Embedder, make_embedder
from services.engine.rescore import RescoreVectors
from services.engine.vectors import PassageVectors
from services.settings import Settings


class VectorStores:
    """index id -> its ``PassageVectors`` (opened on first use); None everywhere without an embedder."""

    def __init__(self, settings: Settings, index_dir: Path) -> None:
        self.settings = settings
        self.index_root = index_dir
        self.embedder: Embedder | None = make_embedder(
            settings.embedder, settings.embedder_model, settings.embed_batch_size, settings.embed_threads)
        self.rescorer: Embedder | None = None if self.embedder is None else make_embedder(
            settings.rescore_embedder, settings.rescore_model, settings.embed_batch_size, settings.embed_threads)
        self._open: dict[str, PassageVectors] = {}
        self._rescore: dict[str, RescoreVectors] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.embedder is not None

    def folder(self, index_id: str) -> Path:
        assert self.embedder is not None
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.embedder.name)[:80]
        return self.index_root / index_id / f"vectors-{slug}"

    def exists(self, index_id: str) -> bool:
        return self.enabled and (self.folder(index_id) / "passages.sqlite3").exists()

    def get(self, index_id: str) -> PassageVectors | None:
        if self.embedder is None:
            return None
        with self._lock:
            found = self._open.get(index_id)
            if found is None:
                found = PassageVectors(self.folder(index_id), self.embedder.dim, self.embedder.name)
                self._open[index_id] = found
            return found

    def rescore(self, index_id: str) -> RescoreVectors | None:
        """The re-scoring model's vectors of this index (None without a re-scoring model, or before the
        index has passages)."""
        if self.rescorer is None or not self.exists(index_id):
            return None
        with self._lock:
            found = self._rescore.get(index_id)
            if found is None:
                found = RescoreVectors(self.folder(index_id), self.rescorer.name)
                self._rescore[index_id] = found
            return found

    def drop(self, index_id: str) -> None:
        with self._lock:
            found = self._open.pop(index_id, None)
            rescore = self._rescore.pop(index_id, None)
        if rescore is not None:
            rescore.close()
        if found is not None:
            found.close()
        if self.enabled:
            shutil.rmtree(self.folder(index_id), ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for rescore in self._rescore.values():
                rescore.close()
            for found in self._open.values():
                found.close()
            self._rescore.clear()
            self._open.clear()
