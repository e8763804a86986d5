"""The dispatch table: every Kendra operation name mapped to the handler that serves it."""

from __future__ import annotations

from analytics.service import AnalyticsService
from services.api.model import operation_names
from services.api.wire import Handler, not_built
from services.index.service import IndexService
from services.query.service import QueryService

# Operations not built yet, and the feature each belongs to (named in the refusal).
_FEATURES = {
    "GetQuerySuggestions": "query suggestions",
    "DescribeQuerySuggestionsConfig": "query suggestions",
    "UpdateQuerySuggestionsConfig": "query suggestions",
    "ClearQuerySuggestions": "query suggestions",
}
_PREFIX_FEATURES = (
    ("QuerySuggestionsBlockList", "query suggestion block lists"),
    ("DataSource", "data sources and connectors"),
    ("Faq", "FAQs"),
    ("Thesaur", "thesauri (synonyms)"),
    ("FeaturedResults", "featured results"),
    ("AccessControlConfiguration", "access control configurations"),
    ("PrincipalMapping", "principal mapping"),
    ("GroupsOlderThan", "principal mapping"),
    ("Experience", "Kendra experiences (a cloud-hosted search app)"),
    ("Personas", "Kendra experiences (a cloud-hosted search app)"),
    ("Entit", "Kendra experiences (a cloud-hosted search app)"),
    ("Tag", "resource tags"),
)


def feature_of(operation: str) -> str:
    """The feature an operation belongs to, as named in a not-built refusal."""
    if operation in _FEATURES:
        return _FEATURES[operation]
    return next((feature for part, feature in _PREFIX_FEATURES if part in operation), "this operation")


def operations(indexes: IndexService, queries: QueryService, analytics: AnalyticsService,
               more: dict[str, Handler] | None = None) -> dict[str, Handler]:
    """Every Kendra operation name -> its handler (a named refusal for those not built yet).

    ``more``: handlers of further services (Retrieve, FAQs), by operation name.
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
    }
    table = {name: not_built(name, feature_of(name)) for name in operation_names()}
    table.update(built)
    table.update(more or {})
    return table
