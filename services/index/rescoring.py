"""The background filler of re-scoring vectors (services/engine/rescore.py).

After the indexer has committed a document's passages, the re-scoring model embeds them here, oldest
first, a small batch at a time, on one thread of the server: indexing and queries keep their share of
the cores, and a query re-scores only once every one of its top documents has vectors.
"""

from __future__ import annotations

import logging
import threading

from services.engine.passages import embedding_text
from services.index.service import IndexService

log = logging.getLogger(__name__)

IDLE_SECONDS = 2.0


class RescoreFiller:
    def __init__(self, service: IndexService) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # index id -> the passages' version at which every passage had vectors and old ones were pruned:
        # an idle server does not scan the passages again until the indexer commits.
        self._complete: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self.service.vectors.rescorer is not None

    def start(self) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="rescore-filler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _index_ids(self) -> list[str]:
        return [row["id"] for row in self.service.store.index_rows()
                if row["status"] != "DELETING" and self.service.vectors.exists(row["id"])]

    def fill_once(self) -> bool:
        """Embed one batch of passages without vectors; False when every index is complete (its
        vectors of replaced or deleted passages pruned)."""
        embedder = self.service.vectors.rescorer
        assert embedder is not None
        for index_id in self._index_ids():
            vectors = self.service.vectors.rescore(index_id)
            if vectors is None or self._complete.get(index_id) == (version := vectors.passages_version()):
                continue
            rows = vectors.missing()
            if not rows:
                vectors.prune()
                self._complete[index_id] = version
                continue
            docs = self.service.store.documents(index_id, sorted({doc_id for _, doc_id, _ in rows}))
            texts = [embedding_text(docs[doc_id].title if doc_id in docs else None, text) for _, doc_id, text in rows]
            vectors.put([key for key, _, _ in rows], embedder.embed_passages(texts))
            return True
        return False

    def pending(self) -> int:
        """Passages still without re-scoring vectors, over all indexes."""
        found = (self.service.vectors.rescore(index_id) for index_id in self._index_ids())
        return sum(vectors.pending() for vectors in found if vectors is not None)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.fill_once():
                    continue
            except Exception:  # an index dropped under us, a model error: try again later
                log.exception("filling re-scoring vectors failed")
            self._stop.wait(IDLE_SECONDS)
