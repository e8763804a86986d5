"""Assemble the data source service with the runner of the configured sync mode: the connectors'
runner, launchers and Celery tasks get what they need from the settings here (a RunnerConfig, a
QueueConfig, the job tables as a :class:`records.SyncLedger`), never the settings themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from connectors.outbound import OutboundPolicy
from connectors.registry import ConnectorOptions
from connectors.runner import RunnerConfig, SyncRunner
from connectors.sink import SinkCredentials
from services.datasources.records import SyncLedger
from services.datasources.service import DataSourceService, Launcher
from services.datasources.supervisor import Supervisor
from services.index.service import IndexService
from services.index.store import Store, open_store
from services.settings import Settings

if TYPE_CHECKING:  # connectors.distributed imports Celery: only distributed mode loads it
    from connectors.distributed import QueueConfig

# What connectors sign with when this server ignores signatures (auth_mode "off").
_PLACEHOLDER = SinkCredentials("kensaku", "kensaku")


def is_amazon_endpoint(url: str | None) -> bool:
    """Whether ``url`` is an AWS endpoint (Amazon Kendra itself), not a Kensaku server."""
    host = (urlparse(url).hostname or "") if url else ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def sink_credentials(settings: Settings) -> SinkCredentials | None:
    """The keys connector syncs sign with; None: the standard AWS credential chain.

    KENSAKU_CONNECTOR_ACCESS_KEY_ID / _SECRET_ACCESS_KEY when set. Otherwise Amazon Kendra
    (``*.amazonaws.com``) gets the AWS chain, and a Kensaku endpoint (this server, or one sharing its
    settings, as in docker-compose) the first of KENSAKU_ACCESS_KEYS when SigV4 is on (the server holds
    them anyway), else a placeholder key that a server with auth off ignores.
    """
    if settings.connector_access_key_id and settings.connector_secret_access_key is not None:
        return SinkCredentials(settings.connector_access_key_id,
                               settings.connector_secret_access_key.get_secret_value())
    if is_amazon_endpoint(settings.connector_endpoint):
        return None
    if settings.auth_mode == "sigv4" and settings.access_keys:
        key_id, secret = next(iter(settings.access_keys.items()))
        return SinkCredentials(key_id, secret)
    return _PLACEHOLDER


def outbound_policy(settings: Settings) -> OutboundPolicy:
    """The connectors' outbound policy; the API (CreateDataSource) and every sync worker build it alike."""
    return OutboundPolicy.parse(settings.connector_allowed_networks, settings.connector_local_roots)


def runner_config(settings: Settings) -> RunnerConfig:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    amazon = is_amazon_endpoint(settings.connector_endpoint)
    return RunnerConfig(
        endpoint_url=settings.connector_endpoint or f"http://{host}:{settings.port}",
        credentials=sink_credentials(settings),
        region=settings.connector_region or (None if amazon else settings.region),
        batch_size=settings.sync_batch_size,
        max_text_chars=settings.max_text_bytes,
        retries=settings.sync_retries,
        backoff_seconds=settings.sync_retry_backoff_seconds,
        options=ConnectorOptions(max_document_bytes=settings.max_document_bytes,
                                 s3_endpoint_url=settings.s3_endpoint_url,
                                 cache_dir=settings.data_dir / "connector-cache",
                                 outbound=outbound_policy(settings)),
    )


def queue_config(settings: Settings) -> QueueConfig:
    """How the sync tasks use the Celery broker (distributed mode)."""
    from connectors.distributed import QueueConfig

    return QueueConfig(broker_url=settings.sync_broker_url, visibility_timeout=settings.sync_visibility_timeout,
                       retries=settings.sync_retries, source_concurrency=settings.sync_source_concurrency,
                       log_level=settings.log_level)


def worker_runner(settings: Settings) -> Callable[[], SyncRunner]:
    """A runner factory for Celery worker processes: each call opens its own store (called once per process)."""

    def make() -> SyncRunner:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SyncRunner(SyncLedger(open_store(settings)), runner_config(settings))

    return make


def sync_components(settings: Settings, indexes: IndexService,
                    store: Store) -> tuple[DataSourceService, Supervisor, Callable[[], None]]:
    """(the API's data source service, its supervisor thread, a close function)."""
    launcher: Launcher
    if settings.sync_mode == "celery":
        from connectors.distributed import CeleryLauncher

        celery_launcher = CeleryLauncher(queue_config(settings), worker_runner(settings))
        launcher, close = celery_launcher, celery_launcher.close
    else:
        from connectors.embedded import EmbeddedLauncher

        embedded = EmbeddedLauncher(SyncRunner(SyncLedger(store), runner_config(settings)), settings.sync_threads)
        launcher, close = embedded, embedded.close
    service = DataSourceService(indexes, store, launcher, outbound_policy(settings))
    supervisor = Supervisor(service, launcher, settings.sync_supervisor_interval_seconds,
                            resume=settings.sync_mode == "embedded",
                            stall_seconds=2 * settings.sync_visibility_timeout if settings.sync_mode == "celery"
                            else None)
    return service, supervisor, close
