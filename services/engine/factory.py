"""The engine the settings choose (``KENSAKU_ENGINE``)."""

from __future__ import annotations

from services.engine.base import Engine
from services.settings import Settings


def make_engine(settings: Settings) -> Engine:
    if settings.engine == "opensearch":
        from services.engine.opensearch import OpenSearchEngine  # opensearch-py only when chosen

        return OpenSearchEngine(settings)
    from services.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.data_dir / "indexes", settings.writer_heap_bytes)
