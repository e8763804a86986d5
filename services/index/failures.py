"""KensakuListDocumentFailures: the documents of an index that failed, with their reasons.

A Kensaku extension operation on the Kendra protocol (docs/api.md, "Admin extensions"), for the admin
page. Kendra tells a document's failure only to whoever asks BatchGetDocumentStatus for its id, and
a sync job's ErrorMessage holds only its first failures; this lists them all, newest first, from
two places in the store:

- documents whose last put failed (``FAILED`` / ``UPDATE_FAILED``: extraction, analysis, a limit),
  whoever sent them (an upload, a connector, any client), with ``ErrorCode`` and ``ErrorMessage``;
- items the last sync job of each data source could not deliver (``NOT_SENT``: unreadable, too
  big, a link out of the root), which never reached the index.

Request: ``{"IndexId" (required), "DataSourceId" (only that source's failures), "MaxResults" 1..100
(default 20), "NextToken"}``. Response: ``{"Failures": [{"DocumentId", "Status", "ErrorCode"
(documents only), "ErrorMessage", "FailedAt" (epoch seconds), "DataSourceId", "ExecutionId" (sync
items only)}], "NextToken"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.errors import ValidationException
from kernel.paging import page_offset, page_token
from services.database import Row
from services.index.service import IndexService

# The data source side's undelivered sync items of an index (services/datasources/records.py
# ``failed_sync_items``): (index id, limit) -> rows of doc_id, reason, job, data_source_id, at.
SyncFailures = Callable[[str, int], list[Row]]

_MEMBERS = {"IndexId", "DataSourceId", "MaxResults", "NextToken"}
_LIMIT = 10_000  # failures read per call, newest first: a page past them is empty


def _request(p: Any) -> tuple[str, str | None, int, int]:
    if not isinstance(p, dict):
        raise ValidationException("The request body must be a JSON object")
    unknown = sorted(set(p) - _MEMBERS)
    if unknown:
        raise ValidationException(f"Unknown member(s): {', '.join(unknown)}")
    index_id, source = p.get("IndexId"), p.get("DataSourceId")
    if not isinstance(index_id, str) or not 36 <= len(index_id) <= 36:
        raise ValidationException("IndexId is required: 36 characters")
    if source is not None and (not isinstance(source, str) or not 1 <= len(source) <= 100):
        raise ValidationException("DataSourceId must be a string of 1 to 100 characters")
    size = p.get("MaxResults", 20)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
        raise ValidationException("MaxResults must be an integer from 1 to 100")
    token = p.get("NextToken")
    if token is not None and not isinstance(token, str):
        raise ValidationException("NextToken must be a string")
    return index_id, source, size, page_offset(token)


class DocumentFailures:
    """The handler of KensakuListDocumentFailures."""

    def __init__(self, indexes: IndexService, sync_failures: SyncFailures) -> None:
        self.indexes = indexes
        self.sync_failures = sync_failures

    def operations(self) -> dict[str, Any]:
        return {"KensakuListDocumentFailures": self.list_failures}

    def list_failures(self, p: dict[str, Any]) -> dict[str, Any]:
        """Failed documents and undelivered sync items of an index, newest first (module docstring).

        Raises:
            ValidationException: a malformed request.
            ResourceNotFoundException: no such index.
        """
        index_id, source, size, start = _request(p)
        self.indexes.row(index_id)
        failures: dict[str, dict[str, Any]] = {}
        for row in self.indexes.store.failed_documents(index_id, _LIMIT):
            if source is not None and row["source"] != source:
                continue
            item: dict[str, Any] = {"DocumentId": row["doc_id"], "Status": row["status"],
                                    "ErrorMessage": row["failure_reason"] or "", "FailedAt": row["updated_at"]}
            if row["failure_code"]:
                item["ErrorCode"] = row["failure_code"]
            if row["source"]:
                item["DataSourceId"] = str(row["source"])
            failures[row["doc_id"]] = item
        for row in self.sync_failures(index_id, _LIMIT):
            if (source is not None and row["data_source_id"] != source) or row["doc_id"] in failures:
                continue  # a document the indexer failed is listed with its own code, once
            failures[row["doc_id"]] = {"DocumentId": row["doc_id"], "Status": "NOT_SENT",
                                       "ErrorMessage": row["reason"] or "", "FailedAt": row["at"],
                                       "DataSourceId": row["data_source_id"], "ExecutionId": row["job"]}
        ordered = sorted(failures.values(), key=lambda f: (-f["FailedAt"], f["DocumentId"]))
        out: dict[str, Any] = {"Failures": ordered[start : start + size]}
        if start + size < len(ordered):
            out["NextToken"] = page_token(start + size)
        return out
