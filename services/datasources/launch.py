"""Assemble the data source service with the runner of the configured sync mode."""

from __future__ import annotations

from collections.abc import Callable

from connectors.registry import ConnectorOptions
from connectors.runner import RunnerConfig, SyncRunner
from services.datasources.service import DataSourceService, Launcher
from services.datasources.supervisor import Supervisor
from services.index.service import IndexService
from services.index.store import Store
from services.settings import Settings


def runner_config(settings: Settings) -> RunnerConfig:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return RunnerConfig(
        endpoint_url=settings.connector_endpoint or f"http://{host}:{settings.port}",
        batch_size=settings.sync_batch_size,
        max_text_chars=settings.max_text_bytes,
        retries=settings.sync_retries,
        backoff_seconds=settings.sync_retry_backoff_seconds,
        options=ConnectorOptions(max_document_bytes=settings.max_document_bytes,
                                 s3_endpoint_url=settings.s3_endpoint_url,
                                 cache_dir=settings.data_dir / "connector-cache",
                                 allow_private_addresses=settings.webcrawler_allow_private_addresses),
    )


def sync_components(settings: Settings, indexes: IndexService,
                    store: Store) -> tuple[DataSourceService, Supervisor, Callable[[], None]]:
    """(the API's data source service, its supervisor thread, a close function)."""
    launcher: Launcher
    if settings.sync_mode == "celery":
        from connectors.distributed import CeleryLauncher

        celery_launcher = CeleryLauncher(settings)
        launcher, close = celery_launcher, celery_launcher.close
    else:
        from connectors.embedded import EmbeddedLauncher

        embedded = EmbeddedLauncher(SyncRunner(store, runner_config(settings)), settings.sync_threads)
        launcher, close = embedded, embedded.close
    service = DataSourceService(indexes, store, launcher)
    supervisor = Supervisor(service, launcher, settings.sync_supervisor_interval_seconds,
                            resume=settings.sync_mode == "embedded",
                            stall_seconds=2 * settings.sync_visibility_timeout if settings.sync_mode == "celery"
                            else None)
    return service, supervisor, close
