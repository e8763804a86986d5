"""The OpenSearch engine (``KENSAKU_ENGINE=opensearch``): every index in an OpenSearch cluster or an
Amazon OpenSearch Service domain, so that documents and queries outgrow one machine.

    <prefix><index id>-g<generation>   the documents of a schema generation (index.py)
    <prefix><index id>-v-<model>       passages and title vectors of one embedding model (passages.py)

Analysis, fusion, confidence and answers stay in Python above the interface; OpenSearch matches,
scores with BM25, counts, sorts, aggregates and finds nearest vectors (lucene HNSW, no plugin files
beyond the k-NN plugin every managed domain has).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from services.engine.document import FieldSpec
from services.engine.embedded import model_slug
from services.engine.opensearch.client import POOL_SIZE, connect
from services.engine.opensearch.index import OpenSearchIndex, delete_indexes, index_exists
from services.engine.opensearch.passages import OpenSearchPassages
from services.settings import Settings


class OpenSearchEngine:
    name = "opensearch"

    def __init__(self, settings: Settings) -> None:
        self.client = connect(settings)
        self.prefix = settings.opensearch_index_prefix
        self.shards = settings.opensearch_shards
        self.replicas = settings.opensearch_replicas
        # As many as the client's connection pool: a query's reads wait on the cluster side by side.
        self.reads: Executor | None = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="opensearch-read")

    def documents_index(self, index_id: str, generation: int) -> str:
        return f"{self.prefix}{index_id.lower()}-g{generation}"

    def passages_index(self, index_id: str, model: str) -> str:
        return f"{self.prefix}{index_id.lower()}-v-{model_slug(model).lower()}"

    def open_index(self, index_id: str, generation: int, fields: Sequence[FieldSpec]) -> OpenSearchIndex:
        return OpenSearchIndex(self.client, self.documents_index(index_id, generation), fields, self.shards,
                               self.replicas)

    def drop_generation(self, index_id: str, generation: int) -> None:
        delete_indexes(self.client, self.documents_index(index_id, generation))

    def passages(self, index_id: str, model: str, dim: int) -> OpenSearchPassages:
        return OpenSearchPassages(self.client, self.passages_index(index_id, model), dim, model, self.shards,
                                  self.replicas)

    def has_passages(self, index_id: str, model: str) -> bool:
        return index_exists(self.client, self.passages_index(index_id, model))

    def drop_index(self, index_id: str) -> None:
        delete_indexes(self.client, f"{self.prefix}{index_id.lower()}-*")

    def close(self) -> None:
        if self.reads is not None:
            self.reads.shutdown(wait=True)
        self.client.close()
