"""The processes of the distributed topology other than the API (docs/services.md).

``kensaku serve`` with KENSAKU_TOPOLOGY=distributed is the API (kensaku/app.py); these are
``kensaku indexer`` (queued document changes into the engine; any number, each index leased to one at a
time: services/index/shared.py) and ``kensaku beat`` (the one sync supervisor: data source schedules,
finishing sync jobs, queueing again the work of stalled ones). ``kensaku worker`` and
``kensaku analytics-consumer`` are the same in both topologies.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from services.settings import Settings

if TYPE_CHECKING:
    from services.index.service import IndexCompanions, IndexService


class RoleRefused(Exception):
    """These settings cannot run this role (the message says why and what to set)."""


def _until_signalled() -> None:
    """Block until SIGTERM or SIGINT (docker stop, Ctrl-C)."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()


def check_distributed(settings: Settings, role: str) -> None:
    """Raise RoleRefused unless ``settings`` are of the distributed topology."""
    if settings.topology != "distributed":
        raise RoleRefused(f"`kensaku {role}` is a role of the distributed topology (KENSAKU_TOPOLOGY=distributed,"
                          " with KENSAKU_ENGINE=opensearch); in embedded mode `kensaku serve` runs every role")


@contextmanager
def _indexes(settings: Settings, companions: IndexCompanions | None = None) -> Iterator[IndexService]:
    """The store and the index service of a role, closed when it ends."""
    from services.datasources.jobs import JobTracker
    from services.index.service import IndexService
    from services.index.store import open_store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    indexes = IndexService(settings, store, jobs=JobTracker(store), companions=companions)
    try:
        yield indexes
    finally:
        indexes.close()
        store.close()


def run_indexer(settings: Settings) -> None:
    """The indexer role until SIGTERM: takes queued changes of the indexes it leases, extracts, analyses,
    embeds and writes them to the engine, then marks them INDEXED."""
    from services.index.access_configs import AccessControlConfigurations
    from services.index.indexer import Indexer
    from services.index.service import IndexCompanions

    check_distributed(settings, "indexer")
    # Documents that take their ACL from a configuration read it here.
    access_configs: AccessControlConfigurations
    companions = IndexCompanions(access_lists=lambda index_id, config_id: access_configs.lists(index_id, config_id))
    with _indexes(settings, companions) as indexes:
        access_configs = AccessControlConfigurations(indexes)
        indexer = Indexer(indexes)
        indexer.start()
        print(f"Kensaku indexer: {settings.engine} at {settings.opensearch_url}", flush=True)
        try:
            _until_signalled()
        finally:
            indexer.stop()


def run_beat(settings: Settings) -> None:
    """The sync supervisor role until SIGTERM (one per installation: two would both start a scheduled
    sync, and the second would be refused as one is running)."""
    from services.datasources.launch import sync_components

    check_distributed(settings, "beat")
    if settings.sync_mode != "celery":
        raise RoleRefused("`kensaku beat` queues syncs for the Celery workers: set KENSAKU_SYNC_MODE=celery")
    # The supervisor embeds nothing: no model is loaded.
    settings = settings.model_copy(update={"embedder": "none", "rescore_embedder": "none"})
    with _indexes(settings) as indexes:
        _, supervisor, close_sync = sync_components(settings, indexes, indexes.store)
        supervisor.start()
        print(f"Kensaku beat: data source schedules, queueing on {settings.sync_broker_url}", flush=True)
        try:
            _until_signalled()
        finally:
            supervisor.stop()
            close_sync()
