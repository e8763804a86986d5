"""The dispatch table: every Kendra operation name mapped to the handler that serves it."""

from __future__ import annotations

from analytics.service import AnalyticsService
from kernel.handlers import Handler, NotBuilt
from kernel.model import operation_names
from services.datasources.service import DataSourceService
from services.index.service import IndexService
from services.query.service import QueryService

EXPERIENCES = "Kendra experiences (a cloud-hosted search app)"
# Operations not built yet, by a part of their name, and the feature each belongs to (named in the refusal).
_PREFIX_FEATURES = (
    ("Experience", EXPERIENCES),
    ("Personas", EXPERIENCES),
    ("Entit", EXPERIENCES),
)
# Experiences provision AWS's hosted search app; Kensaku serves its own, so they are never built.
NO_EXPERIENCES = "Kensaku has no Kendra Experiences; its search page is served at / (see README 'Web pages')"


def feature_of(operation: str) -> str:
    """The feature an operation belongs to, as named in a not-built refusal."""
    return next((feature for part, feature in _PREFIX_FEATURES if part in operation), "this operation")


def refusal(operation: str) -> NotBuilt:
    """The handler of an operation not built: what it lacks, or for an Experience where to look instead."""
    feature = feature_of(operation)
    return NotBuilt(operation, feature, f"{operation}: {NO_EXPERIENCES}." if feature == EXPERIENCES else None)


def extensions(analytics: AnalyticsService, more: dict[str, Handler] | None = None) -> dict[str, Handler]:
    """Kensaku's own operations on the same protocol (not in botocore's model; they validate their input):
    KensakuGetTrends (analytics/trends.py), and those ``more`` holds: KensakuTestDataSourceConnection
    (services/datasources/probe.py), KensakuListDocumentFailures (services/index/failures.py); KensakuLoadDemo
    (services/demo/operation.py) is added by the app, as it runs the other handlers."""
    return {"KensakuGetTrends": analytics.get_trends, **(more or {})}


def operations(indexes: IndexService, queries: QueryService, analytics: AnalyticsService,
               sources: DataSourceService, more: dict[str, Handler] | None = None,
               own: dict[str, Handler] | None = None) -> dict[str, Handler]:
    """Every Kendra operation name -> its handler (a named refusal for those not built yet).

    ``more``: handlers of further services (Retrieve, FAQs), by operation name; ``own``: further
    extension operations (see :func:`extensions`).
    """
    built: dict[str, Handler] = {
        "CreateIndex": indexes.create_index,
        "DescribeIndex": indexes.describe_index,
        "ListIndices": indexes.list_indices,
        "UpdateIndex": indexes.update_index,
        "DeleteIndex": indexes.delete_index,
        "BatchPutDocument": indexes.batch_put_document,
        "BatchDeleteDocument": indexes.batch_delete_document,
        "BatchGetDocumentStatus": indexes.batch_get_document_status,
        "Query": queries.query,
        "SubmitFeedback": analytics.submit_feedback,
        "GetSnapshots": analytics.get_snapshots,
        "GetQuerySuggestions": analytics.suggestions.get_suggestions,
        "DescribeQuerySuggestionsConfig": analytics.suggestions.describe_config,
        "UpdateQuerySuggestionsConfig": analytics.suggestions.update_config,
        "ClearQuerySuggestions": analytics.suggestions.clear,
        "CreateQuerySuggestionsBlockList": analytics.suggestions.create_block_list,
        "DescribeQuerySuggestionsBlockList": analytics.suggestions.describe_block_list,
        "ListQuerySuggestionsBlockLists": analytics.suggestions.list_block_lists,
        "UpdateQuerySuggestionsBlockList": analytics.suggestions.update_block_list,
        "DeleteQuerySuggestionsBlockList": analytics.suggestions.delete_block_list,
        "CreateDataSource": sources.create_data_source,
        "DescribeDataSource": sources.describe_data_source,
        "ListDataSources": sources.list_data_sources,
        "UpdateDataSource": sources.update_data_source,
        "DeleteDataSource": sources.delete_data_source,
        "StartDataSourceSyncJob": sources.start_data_source_sync_job,
        "StopDataSourceSyncJob": sources.stop_data_source_sync_job,
        "ListDataSourceSyncJobs": sources.list_data_source_sync_jobs,
    }
    table: dict[str, Handler] = {name: refusal(name) for name in operation_names()}
    table.update(built)
    table.update(more or {})
    table.update(extensions(analytics, own))
    return table
