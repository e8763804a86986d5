"""The passage vectors of every index in this process, and the embedding model that makes them.

Each index keeps its vectors in the engine's passage store of the model (services/engine/base.py); a
server started with another model builds a fresh store (the indexer fills it from the stored
documents). With a re-scoring model on the embedded engine, its vectors of the same passages live in
the passage store's folder (services/engine/rescore.py).
"""

from __future__ import annotations

import threading

from services.engine.base import Engine, PassageStore
from services.engine.embedded import EmbeddedEngine
from services.engine.embedder import Embedder, make_embedder
from services.engine.rescore import RescoreVectors
from services.settings import Settings


class VectorStores:
    """index id -> its passage store (opened on first use); None everywhere without an embedder."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder: Embedder | None = make_embedder(
            settings.embedder, settings.embedder_model, settings.embed_batch_size, settings.embed_threads)
        # Re-scoring vectors are kept beside the embedded engine's passages (not built for OpenSearch).
        self.rescorer: Embedder | None = None if self.embedder is None or not isinstance(engine, EmbeddedEngine) \
            else make_embedder(settings.rescore_embedder, settings.rescore_model, settings.embed_batch_size,
                               settings.embed_threads)
        self._open: dict[str, PassageStore] = {}
        self._rescore: dict[str, RescoreVectors] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.embedder is not None

    def exists(self, index_id: str) -> bool:
        return self.embedder is not None and self.engine.has_passages(index_id, self.embedder.name)

    def get(self, index_id: str) -> PassageStore | None:
        if self.embedder is None:
            return None
        with self._lock:
            found = self._open.get(index_id)
            if found is None:
                found = self.engine.passages(index_id, self.embedder.name, self.embedder.dim)
                self._open[index_id] = found
            return found

    def rescore(self, index_id: str) -> RescoreVectors | None:
        """The re-scoring model's vectors of this index (None without a re-scoring model, or before the
        index has passages)."""
        if self.rescorer is None or not self.exists(index_id):
            return None
        assert isinstance(self.engine, EmbeddedEngine) and self.embedder is not None
        with self._lock:
            found = self._rescore.get(index_id)
            if found is None:
                found = RescoreVectors(self.engine.vectors_dir(index_id, self.embedder.name), self.rescorer.name)
                self._rescore[index_id] = found
            return found

    def forget(self, index_id: str) -> None:
        """Close what is open of a deleted index (the engine deletes its data)."""
        with self._lock:
            found = self._open.pop(index_id, None)
            rescore = self._rescore.pop(index_id, None)
        if rescore is not None:
            rescore.close()
        if found is not None:
            found.close()

    def close(self) -> None:
        with self._lock:
            for rescore in self._rescore.values():
                rescore.close()
            for found in self._open.values():
                found.close()
            self._rescore.clear()
            self._open.clear()
