"""The embedded application: every service in one process on one data folder."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from analytics.service import AnalyticsService
from kensaku.operations import operations
from services.api.wire import current_channel, kendra_router
from services.datasources import records
from services.datasources.jobs import JobTracker
from services.datasources.launch import runner_config, sync_components
from services.datasources.probe import ConnectionTester
from services.datasources.service import DataSourceService
from services.demo.operation import DemoLoads
from services.index.access_configs import AccessControlConfigurations
from services.index.failures import DocumentFailures
from services.index.indexer import Indexer
from services.index.principal_mapping import PrincipalMappings
from services.index.rescoring import RescoreFiller
from services.index.service import DeleteSweeper, IndexCompanions, IndexService
from services.index.store import open_store
from services.index.tags import Tags
from services.query.faqs import FaqService
from services.query.featured import FeaturedResults
from services.query.retrieve import RetrieveService
from services.query.service import QueryService
from services.query.suggestion_documents import SuggestionDocuments
from services.query.thesauri import Thesauri
from services.settings import Settings
from services.web.admin_token import AdminToken
from services.web.pages import is_admin, static_files, web_router
from services.web.sessions import Sessions

log = logging.getLogger("kensaku.api")


async def _client_left(request: Request, _: Exception) -> Response:
    """A client that hung up before its request was read is routine, not a server error."""
    log.info("client %s left before its %s %s was read", request.client.host if request.client else "?",
             request.method, request.url.path)
    return Response(status_code=400)  # nobody is listening; something must still be returned


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the store opens and the indexer starts when the server starts.

    With KENSAKU_TOPOLOGY=distributed the app is the API role only: no indexer (``kensaku indexer``),
    no sync supervisor (``kensaku beat``), and it follows what other processes commit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    distributed = settings.topology == "distributed"
    store = open_store(settings)
    # The services that keep things per index are made with the index service (they use it), and it
    # calls them back: FAQ counts, the ACLs of configurations, group expansion, and what goes with a
    # deleted index. The calls go through these names, bound just below.
    faqs: FaqService
    featured: FeaturedResults
    thesauri: Thesauri
    tags: Tags
    access_configs: AccessControlConfigurations
    mappings: PrincipalMappings
    sources: DataSourceService
    companions = IndexCompanions(
        faq_count=lambda index_id: faqs.count(index_id),
        access_lists=lambda index_id, config_id: access_configs.lists(index_id, config_id),
        expand_principals=lambda index_id, terms: mappings.expand(index_id, terms),
        on_delete=(lambda index_id: faqs.drop_index(index_id), lambda index_id: featured.drop_index(index_id),
                   lambda index_id: thesauri.drop_index(index_id), lambda index_id: tags.drop_index(index_id),
                   lambda index_id: access_configs.drop_index(index_id),
                   lambda index_id: mappings.drop_index(index_id), lambda index_id: sources.drop_index(index_id)),
    )
    indexes = IndexService(settings, store, jobs=JobTracker(store), companions=companions, follow_commits=distributed)
    analytics = AnalyticsService(
        settings, require_index=indexes.require_active,
        document_count=lambda index_id: store.statistics(index_id)[0], channel=current_channel,
        documents=SuggestionDocuments(indexes),
    )
    faqs = FaqService(settings, indexes)
    featured = FeaturedResults(indexes)
    thesauri = Thesauri(settings, indexes)
    tags = Tags(indexes)
    access_configs = AccessControlConfigurations(indexes)
    mappings = PrincipalMappings(settings, indexes)
    queries = QueryService(indexes, analytics if settings.analytics_capture != "off" else None, faqs=faqs,
                           reranker=analytics.learning if settings.click_learning else None, featured=featured,
                           synonyms=thesauri)
    retrieve = RetrieveService(queries)
    indexer = None if distributed else Indexer(indexes)
    sweeper = DeleteSweeper(indexes) if distributed else None
    rescore_filler = RescoreFiller(indexes)
    sources, supervisor, close_sync = sync_components(settings, indexes, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if indexer is not None:
            indexer.start()
        if sweeper is not None:
            sweeper.start()
        rescore_filler.start()
        analytics.start()
        if not distributed:  # distributed: `kensaku beat` runs the one supervisor
            supervisor.start()
        try:
            yield
        finally:
            if not distributed:
                supervisor.stop()
            close_sync()
            analytics.stop()
            faqs.close()
            rescore_filler.stop()
            if sweeper is not None:
                sweeper.stop()
            if indexer is not None:
                indexer.stop()
            indexes.close()
            store.close()

    app = FastAPI(title="Kensaku", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_exception_handler(ClientDisconnect, _client_left)
    more = {"Retrieve": retrieve.retrieve, **faqs.operations(), **featured.operations(), **thesauri.operations(),
            **access_configs.operations(), **mappings.operations()}
    own = {**ConnectionTester(sources, runner_config(settings).options).operations(),
           **DocumentFailures(indexes, partial(records.failed_sync_items, store)).operations()}
    table = operations(indexes, queries, analytics, sources, more, own)
    table.update(tags.operations(table))
    table.update(DemoLoads(table).operations())  # runs the handlers above in the server
    admin_token = AdminToken(settings)
    sessions = Sessions(settings.admin_session_idle_seconds, generation=admin_token.generation)
    app.include_router(kendra_router(settings, table, admin=lambda request: is_admin(sessions, request)))
    app.include_router(web_router(settings, sessions, admin_token))
    app.mount("/static", static_files(settings), name="static")
    if settings.slack_signing_secret is not None:  # otherwise POST /slack/events is a 404
        from services.chat.slack import slack_router

        app.include_router(slack_router(settings))

    @app.get("/health")
    def health() -> dict[str, Any]:
        status: dict[str, Any] = {"status": "ok"}
        if rescore_filler.enabled:  # passages the re-scoring model has still to embed
            status["rescore_pending"] = rescore_filler.pending()
        return status

    return app
